//! `rollcall completions SHELL`: prints a shell completion script generated from the
//! argument definitions, so it cannot drift from the commands and flags.

use clap::CommandFactory as _;
use clap_complete::Shell;

use super::error::{CliError, EXIT_OK};

/// Print a completion script for a shell
///
/// Save it where the shell looks, for example:
///   bash: rollcall completions bash > ~/.local/share/bash-completion/completions/rollcall
///   zsh:  rollcall completions zsh > ~/.zfunc/_rollcall   (with ~/.zfunc in fpath)
///   fish: rollcall completions fish > ~/.config/fish/completions/rollcall.fish
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: Shell,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut super::Cli::command(), "rollcall", &mut script);
    super::write_stdout(&script)?;
    Ok(EXIT_OK)
}
