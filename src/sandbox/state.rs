//! Sandbox state files, whatever the emulator: a YAML file holding what the emulated
//! service knows, loaded when the emulator starts and written back after an apply (or by
//! `sandbox serve --save`). Each emulator has its own state type (`DcState`, `ScimState`)
//! and implements `StateFile` for it; reading, checking the `faults` section, the error
//! messages and the atomic save that keeps a file's opening comments are here, once.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::faults::FaultConfig;

// The Data Center state lives with its emulator; the manifest loader and the tests name it
// by this path.
pub use super::bitbucket_dc::state::{DcProject, DcRepo, DcState, DcUser, Grants};

/// An emulator's state, as its file holds it. The type derives serde's traits (with
/// `deny_unknown_fields`, so a typo in a hand-edited file is an error, not ignored) and has
/// an optional `faults: Option<FaultConfig>` field that `faults` returns.
pub trait StateFile: Serialize + DeserializeOwned + Clone + Send + 'static {
    /// The file's `faults` section: the faults the sandbox injects unless
    /// `ROLLCALL_SANDBOX_FAULTS` says otherwise.
    fn faults(&self) -> Option<&FaultConfig>;

    /// What serde cannot check (unique ids, references that resolve), and defaults that
    /// depend on other fields; run on every state read.
    fn check(&mut self) -> Result<(), String> {
        Ok(())
    }

    /// Reads a state from YAML: its shape, the `faults` rates, then `check`.
    fn parse(text: &str) -> Result<Self, String> {
        let mut state: Self = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        if let Some(faults) = state.faults() {
            faults.validate().map_err(|e| format!("faults: {e}"))?;
        }
        state.check()?;
        Ok(state)
    }

    fn load(path: &Path) -> Result<Self, StateError> {
        parse_at(path, &read_text(path)?, Self::parse)
    }

    fn to_yaml(&self) -> Result<String, String> {
        serde_saphyr::to_string(self).map_err(|e| e.to_string())
    }

    /// Writes the state atomically, keeping the comments at the top of the file it
    /// replaces (`save_yaml`).
    fn save(&self, path: &Path) -> Result<(), StateError> {
        save_yaml(path, self.to_yaml())
    }
}

/// A state file that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read sandbox state {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("sandbox state {path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error("cannot write sandbox state {path}: {message}")]
    Write { path: String, message: String },
}

/// A sandbox state file's text.
pub fn read_text(path: &Path) -> Result<String, StateError> {
    std::fs::read_to_string(path).map_err(|source| StateError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// A state parsed from the text of the file at `path`, which an error names.
pub fn parse_at<T>(path: &Path, text: &str, parse: fn(&str) -> Result<T, String>) -> Result<T, StateError> {
    parse(text).map_err(|message| StateError::Parse {
        path: path.display().to_string(),
        message,
    })
}

/// Writes a sandbox's state atomically (temp file, then rename) so an interrupted write
/// never leaves a half-written sandbox behind. The comment lines at the top of the file it
/// replaces are kept: they are a person's notes on what the sandbox is for. Comments
/// further down cannot be: the state is written from its structs, which hold none.
pub fn save_yaml(path: &Path, yaml: Result<String, String>) -> Result<(), StateError> {
    let write_err = |message: String| StateError::Write {
        path: path.display().to_string(),
        message,
    };
    let body = yaml.map_err(write_err)?;
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let text = format!("{}{body}", leading_comments(&old));
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, text).map_err(|e| write_err(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| write_err(e.to_string()))
}

/// The comment lines (and blank lines among them) a YAML text opens with, each with its
/// line ending.
fn leading_comments(text: &str) -> &str {
    let mut end = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if !(trimmed.is_empty() || trimmed.starts_with('#')) {
            break;
        }
        end += line.len();
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::leading_comments;

    #[test]
    fn keeps_only_the_comments_at_the_top() {
        assert_eq!(leading_comments("# a\n\n# b\nusers: {}\n# c\n"), "# a\n\n# b\n");
        assert_eq!(leading_comments("users: {} # a\n"), "");
        assert_eq!(leading_comments(""), "");
        assert_eq!(leading_comments("# only\n"), "# only\n");
    }
}
