//! `rollcall man`: the manual page, rendered as roff from the argument definitions.

use std::path::PathBuf;

use clap::CommandFactory as _;

use super::error::{CliError, EXIT_OK};

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
    let command = super::Cli::command();
    match args.dir {
        Some(dir) => clap_mangen::generate_to(command, &dir)
            .map_err(|e| CliError::new(format!("cannot write the manual pages into {}: {e}", dir.display())))?,
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command.disable_help_subcommand(true))
                .render(&mut page)
                .map_err(|e| CliError::new(format!("cannot render the manual page: {e}")))?;
            super::write_stdout(&page)?;
        }
    }
    Ok(EXIT_OK)
}
