//! The CLI's one error type: a kind, a message and hints. `exit_code` is the only place
//! that maps kinds to exit codes, and `report` the only place that prints errors.

use crate::manifest::{diagnostic::render_all, Diagnostic};

/// Exit codes, as the README documents them.
pub const EXIT_OK: u8 = 0;
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_CHANGES: u8 = 2;

#[derive(Debug)]
pub enum CliError {
    /// The manifest has problems; every one is listed.
    Manifest(Vec<Diagnostic>),
    /// Something else went wrong: a target, a file, the user's input.
    Failed { message: String, hints: Vec<String> },
    /// An apply ran and some changes failed; the report is already printed.
    ApplyIncomplete,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        CliError::Failed {
            message: message.into(),
            hints: Vec::new(),
        }
    }

    pub fn hint(self, hint: impl Into<String>) -> Self {
        match self {
            CliError::Failed { message, mut hints } => {
                hints.push(hint.into());
                CliError::Failed { message, hints }
            }
            other => other,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Manifest(_) | CliError::Failed { .. } | CliError::ApplyIncomplete => EXIT_ERROR,
        }
    }

    /// Writes the error to stderr.
    pub fn report(&self) {
        match self {
            CliError::Manifest(diagnostics) => anstream::eprint!("{}", render_all(diagnostics)),
            CliError::Failed { message, hints } => {
                anstream::eprintln!("error: {message}");
                for h in hints {
                    anstream::eprintln!("  hint: {h}");
                }
            }
            CliError::ApplyIncomplete => {}
        }
    }
}

impl From<crate::connect::ConnectError> for CliError {
    fn from(e: crate::connect::ConnectError) -> Self {
        let hint = e.hint.clone();
        let err = CliError::new(e.to_string());
        match hint {
            Some(h) => err.hint(h),
            None => err,
        }
    }
}
