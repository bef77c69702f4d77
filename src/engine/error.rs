//! The library's one error type: what kind of failure, where (a manifest location, a
//! file, a target), what to do about it, and the underlying cause. The CLI maps kinds to
//! exit codes in one place (`cli::error`).

use crate::manifest::Diagnostic;

/// What went wrong, as far as a caller needs to decide what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The manifests are invalid: see `Error::diagnostics`, each with file, line and hint.
    Manifest,
    /// Something the caller passed is wrong: a path, a plan file, an argument.
    Input,
    /// A target could not be reached, read or set up.
    Target,
    /// A rule refuses to go on, nothing was changed: a safety rule, or a saved plan that
    /// is not what its manifests give against live state now. `Error::reasons` lists why.
    Refused,
    /// The plan cannot be made (its changes wait for each other in a cycle).
    Plan,
}

/// An engine error. Boxed, so that the `Result`s of every step stay small.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.message)]
pub struct Error(pub Box<Details>);

#[derive(Debug)]
pub struct Details {
    pub kind: ErrorKind,
    pub message: String,
    /// Where: a file, or the target the failure is on.
    pub location: Option<String>,
    /// For `Manifest`: every problem found, located.
    pub diagnostics: Vec<Diagnostic>,
    /// For `Refused`: each reason.
    pub reasons: Vec<String>,
    pub hints: Vec<String>,
    pub cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl std::ops::Deref for Error {
    type Target = Details;
    fn deref(&self) -> &Details {
        &self.0
    }
}

impl std::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut Details {
        &mut self.0
    }
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Details {
            kind,
            message: message.into(),
            location: None,
            diagnostics: Vec::new(),
            reasons: Vec::new(),
            hints: Vec::new(),
            cause: None,
        }))
    }

    pub fn manifest(diagnostics: Vec<Diagnostic>) -> Self {
        let n = diagnostics.len();
        let mut e = Error::new(ErrorKind::Manifest, format!("the manifests have {n} problem(s)"));
        e.diagnostics = diagnostics;
        e
    }

    pub fn refused(reasons: Vec<String>, hint: impl Into<String>) -> Self {
        let mut e = Error::new(ErrorKind::Refused, "refused; nothing was changed").hint(hint);
        e.reasons = reasons;
        e
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    pub fn at(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }

    pub fn caused_by(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.cause = Some(Box::new(cause));
        self
    }
}

impl From<crate::plan::graph::Cycle> for Error {
    fn from(e: crate::plan::graph::Cycle) -> Self {
        Error::new(ErrorKind::Plan, format!("cannot order the plan: {e}"))
            .hint("no order can run these changes; this is a defect in rollcall's ordering rules or in how the manifests' targets name each other: please report it with the plan")
            .caused_by(e)
    }
}

impl From<crate::connect::ConnectError> for Error {
    fn from(e: crate::connect::ConnectError) -> Self {
        let mut err = Error::new(ErrorKind::Target, e.to_string()).at(e.target.clone());
        err.hints.extend(e.hint.clone());
        err.caused_by(e)
    }
}
