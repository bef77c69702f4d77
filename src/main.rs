//! The `rollcall` binary: parse arguments, run the command, print any error once, exit.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use rollcall::cli::{error::EXIT_ERROR, error::EXIT_OK, run, Cli};

fn main() -> ExitCode {
    // A usage error must not exit 2, which `plan --detailed-exitcode` reserves for
    // "changes present": a mistyped flag in CI would read as a pending change.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_ERROR } else { EXIT_OK });
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("ROLLCALL_LOG"))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let result = runtime.block_on(run(cli));
    // Not waiting for blocking work: after Ctrl-C at the apply prompt, its read of
    // standard input would otherwise hold the process open.
    runtime.shutdown_background();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            e.report();
            ExitCode::from(e.exit_code())
        }
    }
}
