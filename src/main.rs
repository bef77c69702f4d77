//! The `rollcall` binary: parse arguments, run the command, print any error once, exit.

use std::process::ExitCode;

use clap::Parser;
use rollcall::cli::{error::EXIT_ERROR, error::EXIT_OK, log, run, Cli};

fn main() -> ExitCode {
    // A usage error must not exit 2, which `plan --detailed-exitcode` reserves for
    // "changes present": a mistyped flag in CI would read as a pending change.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
            let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
            if e.use_stderr() && log::asked_for_json(&args) {
                log::usage_error(&e.render().to_string(), code);
            } else {
                let _ = e.print();
            }
            return ExitCode::from(code);
        }
    };
    log::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let fields = log::fields([("exit_code", EXIT_ERROR.into())]);
            log::emit(
                log::Level::Error,
                "error: ",
                &format!("cannot start the async runtime: {e}"),
                fields,
            );
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
