//! The CLI's one error type: a kind, a message and hints. `exit_code` is the only place
//! that maps kinds to exit codes, and `report` the only place that prints errors.

use crate::manifest::{diagnostic::render_all, Diagnostic};

/// Exit codes, as the README documents them.
pub const EXIT_OK: u8 = 0;
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_CHANGES: u8 = 2;
pub const EXIT_REFUSED: u8 = 3;
pub const EXIT_INTERRUPTED: u8 = 130;

/// The table `--help` prints and the README repeats; a test checks the two agree.
pub const EXIT_CODES_HELP: &str = "\
Exit codes (every command):
  0    success; with plan --detailed-exitcode, no changes
  1    error: bad arguments, a manifest or plan file problem, a target that failed,
       an apply that did not complete or was cancelled at the prompt
  2    plan --detailed-exitcode only: changes present, or held until they can run
  3    refused by a safety rule, or a saved plan that no longer matches its manifests
       or live state; nothing was changed
  130  interrupted (Ctrl-C or SIGTERM); apply first finishes the changes in flight and
       lists the rest (sandbox serve stops on Ctrl-C as a server does: 0)";

#[derive(Debug)]
pub enum CliError {
    /// The manifest has problems; every one is listed.
    Manifest(Vec<Diagnostic>),
    /// Something else went wrong: a target, a file, the user's input.
    Failed { message: String, hints: Vec<String> },
    /// An apply ran and some changes failed; the report is already printed.
    ApplyIncomplete,
    /// The person at the prompt did not answer `yes`; nothing was changed.
    Cancelled,
    /// Ctrl-C or SIGTERM; what was and was not done is already printed.
    Interrupted,
    /// Nothing was applied: a safety rule objects to the plan, or a saved plan no longer
    /// matches live state. The reasons are listed.
    Refused { reasons: Vec<String>, hints: Vec<String> },
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
            CliError::Cancelled => EXIT_ERROR,
            CliError::Refused { .. } => EXIT_REFUSED,
            CliError::Interrupted => EXIT_INTERRUPTED,
        }
    }

    /// Writes the error to stderr: as text, or with `--log-format json` as JSON lines,
    /// the last of which carries the exit code.
    pub fn report(&self) {
        if super::log::json() {
            self.report_json();
            return;
        }
        match self {
            CliError::Manifest(diagnostics) => super::log::emit_text(&render_all(diagnostics)),
            CliError::Failed { message, hints } => super::progress::suspend(|| {
                anstream::eprintln!("error: {message}");
                for h in hints {
                    anstream::eprintln!("  hint: {h}");
                }
            }),
            CliError::ApplyIncomplete => {}
            CliError::Cancelled => super::log::emit_text("Apply cancelled. Nothing was changed.\n"),
            CliError::Interrupted => super::log::emit_text("Interrupted.\n"),
            CliError::Refused { reasons, hints } => super::progress::suspend(|| {
                anstream::eprintln!("error: refused; nothing was changed:");
                for r in reasons {
                    anstream::eprintln!("  - {r}");
                }
                for h in hints {
                    anstream::eprintln!("  hint: {h}");
                }
            }),
        }
    }

    /// The error as JSON lines: a manifest's problems one a line, then the error itself
    /// with its hints, reasons and exit code.
    fn report_json(&self) {
        use super::log::{emit, fields, Level};
        use serde_json::Value;
        let code = ("exit_code", Value::from(self.exit_code()));
        let list = |items: &[String]| Value::from(items.to_vec());
        match self {
            CliError::Manifest(diagnostics) => {
                for d in diagnostics {
                    emit(Level::Error, "", &d.message, diagnostic_fields(d));
                }
                let n = diagnostics.len();
                let message = format!("{n} problem{} found in the manifest", if n == 1 { "" } else { "s" });
                emit(Level::Error, "", &message, fields([code]));
            }
            CliError::Failed { message, hints } => {
                emit(Level::Error, "", message, fields([code, ("hints", list(hints))]))
            }
            CliError::ApplyIncomplete => emit(
                Level::Error,
                "",
                "the apply did not complete: some changes failed or were skipped (the report is on stdout)",
                fields([code]),
            ),
            CliError::Cancelled => emit(Level::Warn, "", "Apply cancelled. Nothing was changed.", fields([code])),
            CliError::Interrupted => emit(Level::Warn, "", "Interrupted.", fields([code])),
            CliError::Refused { reasons, hints } => emit(
                Level::Error,
                "",
                "refused; nothing was changed",
                fields([code, ("reasons", list(reasons)), ("hints", list(hints))]),
            ),
        }
    }
}

/// Where a manifest problem is, and what explains it, as JSON fields. Its source line
/// is left out: the file and line say where to look.
fn diagnostic_fields(d: &Diagnostic) -> serde_json::Map<String, serde_json::Value> {
    let mut out = super::log::fields([
        ("file", d.file.clone().into()),
        ("line", d.line.into()),
        ("column", d.column.into()),
    ]);
    if let Some(hint) = &d.hint {
        out.insert("hint".to_owned(), hint.clone().into());
    }
    if let Some(note) = &d.note {
        let note = super::log::fields([
            ("message", note.message.clone().into()),
            ("file", note.file.clone().into()),
            ("line", note.line.into()),
            ("column", note.column.into()),
        ]);
        out.insert("note".to_owned(), note.into());
    }
    out
}

impl CliError {
    /// The refusal for a plan that breaks safety rules.
    pub fn refused(refusals: &[crate::safety::Refusal]) -> Self {
        use crate::safety::Rule;
        let mut hints = Vec::new();
        if refusals
            .iter()
            .any(|r| matches!(r.rule, Rule::MaxDeletes | Rule::MaxDeletePercent))
        {
            hints.push("if every delete is intended, review them and run again with --allow-deletes N (N at least the number of deletes); or raise policy.limits".to_owned());
        }
        if refusals.iter().any(|r| r.rule == Rule::Protected && r.hint.is_none()) {
            hints.push(
                "if the manifest asks for the change, declare the protected user or group as it is live; or take it out of policy.protect"
                    .to_owned(),
            );
        }
        for h in refusals.iter().filter_map(|r| r.hint.as_ref()) {
            if !hints.contains(h) {
                hints.push(h.clone());
            }
        }
        if refusals.iter().any(|r| r.rule == Rule::OwnAccount) {
            hints.push(
                "keep the account rollcall works as declared and active; change it by hand, outside rollcall"
                    .to_owned(),
            );
        }
        if refusals.iter().any(|r| r.rule == Rule::MinAdmins) {
            hints.push("keep enough administrators in the manifest, or lower policy.min_admins".to_owned());
        }
        if refusals.iter().any(|r| r.rule == Rule::ForeignAccount) {
            hints.push("give the person another id on that target under `ids:`, or, if the account is theirs, clear its externalId on the service first".to_owned());
        }
        CliError::Refused {
            reasons: refusals.iter().map(|r| r.message.clone()).collect(),
            hints,
        }
    }
}

impl From<crate::engine::Error> for CliError {
    fn from(e: crate::engine::Error) -> Self {
        use crate::engine::ErrorKind;
        let e = *e.0;
        match e.kind {
            ErrorKind::Manifest => CliError::Manifest(e.diagnostics),
            ErrorKind::Refused => CliError::Refused {
                reasons: e.reasons,
                hints: e.hints,
            },
            ErrorKind::Input | ErrorKind::Target | ErrorKind::Plan => CliError::Failed {
                message: e.message,
                hints: e.hints,
            },
        }
    }
}
