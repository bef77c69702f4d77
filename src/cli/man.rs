//! `rollcall man`: the manual pages, rendered as roff from the argument definitions.

use std::path::{Path, PathBuf};

use clap::CommandFactory as _;
use clap_mangen::roff::{roman, Roff};
use clap_mangen::Man;

use super::error::{CliError, EXIT_CODES_HELP, EXIT_OK};

/// Print the manual page (roff)
///
/// Without --dir, prints rollcall(1), which lists the commands; with --dir, writes that
/// page and one per command (rollcall-plan.1, rollcall-sandbox-serve.1, …) into a
/// directory, for example ~/.local/share/man/man1.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write rollcall.1 and a page per command into this directory instead
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    // Help has no page of its own, so no page names one. Built, so each command knows
    // its full name (`rollcall-sandbox-serve`) and inherits the global flags.
    let mut command = super::Cli::command().disable_help_subcommand(true);
    command.build();
    match args.dir {
        Some(dir) => write_pages(&command, &dir)
            .map_err(|e| CliError::new(format!("cannot write the manual pages into {}: {e}", dir.display())))?,
        None => {
            let text = page(&command).map_err(|e| CliError::new(format!("cannot render the manual page: {e}")))?;
            super::write_stdout(&text)?;
        }
    }
    Ok(EXIT_OK)
}

/// The command's page and those of its commands, recursively, as `NAME.1` files.
fn write_pages(command: &clap::Command, dir: &Path) -> std::io::Result<()> {
    for sub in command.get_subcommands().filter(|c| !c.is_hide_set()) {
        write_pages(sub, dir)?;
    }
    let name = Man::new(command.clone()).get_filename();
    std::fs::write(dir.join(name), page(command)?)
}

/// One page. The exit codes every command's help ends with become an EXIT STATUS section
/// of tagged paragraphs: as help text, roff would refill its aligned columns into a jumble.
fn page(command: &clap::Command) -> std::io::Result<Vec<u8>> {
    let mut text = Vec::new();
    Man::new(command.clone().after_help(None::<&str>).after_long_help(None::<&str>)).render(&mut text)?;
    let mut extra = Roff::new();
    extra.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in exit_codes() {
        extra.control("TP", []);
        extra.text([roman(code)]);
        extra.text([roman(meaning)]);
    }
    extra.control("SH", ["SEE ALSO"]);
    extra.text([roman(
        "rollcall --help, and README.md and docs/ in the source tree, which document the manifest, \
         the sandbox and each platform.",
    )]);
    extra.to_writer(&mut text)?;
    Ok(text)
}

/// The exit code table of `--help` as (code, meaning) pairs: an entry's line starts with
/// its code, and more deeply indented lines continue it.
fn exit_codes() -> Vec<(String, String)> {
    let mut codes: Vec<(String, String)> = Vec::new();
    for line in EXIT_CODES_HELP.lines().skip(1) {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match (trimmed.split_once(char::is_whitespace), codes.last_mut()) {
            (Some((code, meaning)), _) if indent <= 2 && code.chars().all(|c| c.is_ascii_digit()) => {
                codes.push((code.to_owned(), meaning.trim().to_owned()));
            }
            (_, Some((_, meaning))) => {
                meaning.push(' ');
                meaning.push_str(trimmed);
            }
            (_, None) => {}
        }
    }
    codes
}
