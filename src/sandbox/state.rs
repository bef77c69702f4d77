//! The Bitbucket Data Center sandbox's state file: what the emulator holds in memory and
//! writes back after an apply.
//!
//! The file is YAML, meant to be read and edited by a person trying rollcall out. It is the
//! emulator's own model of a Bitbucket instance and deliberately shares nothing with the
//! provider's wire types: the two are independent readings of the vendor's description.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::faults::FaultConfig;

/// Everything a sandboxed Bitbucket Data Center instance knows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcState {
    /// The account the sandbox's token authenticates as. It must exist in `users` and
    /// should hold `SYS_ADMIN`, as the account rollcall runs as would in production.
    #[serde(default = "default_operator")]
    pub operator: String,
    /// The licence's user tier: granting a licence to more users than this fails with
    /// 403, as on a real instance. Absent means unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence_limit: Option<usize>,
    #[serde(default)]
    pub users: BTreeMap<String, DcUser>,
    /// Group name to the names of its members.
    #[serde(default)]
    pub groups: BTreeMap<String, BTreeSet<String>>,
    #[serde(default)]
    pub global: Grants,
    #[serde(default)]
    pub projects: BTreeMap<String, DcProject>,
    /// Faults to inject (latency, 429, 503, dropped connections); absent means none. See
    /// `sandbox::faults`; `ROLLCALL_SANDBOX_FAULTS` overrides it without changing the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcUser {
    pub display_name: String,
    pub email: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub active: bool,
}

/// Permissions granted directly to users and to groups, by name, as the API's
/// permission names (`LICENSED_USER`, `PROJECT_WRITE`, `REPO_ADMIN`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub users: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcProject {
    #[serde(default)]
    pub name: String,
    /// The permissions every licensed user has on the project (`PROJECT_READ`,
    /// `PROJECT_WRITE`), as set with `POST .../permissions/{permission}/all`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub all_users: BTreeSet<String>,
    #[serde(default, flatten)]
    pub grants: Grants,
    #[serde(default)]
    pub repos: BTreeMap<String, DcRepo>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcRepo {
    #[serde(default, flatten)]
    pub grants: Grants,
}

fn default_operator() -> String {
    "admin".to_owned()
}
fn yes() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
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

impl DcState {
    pub fn load(path: &Path) -> Result<Self, StateError> {
        parse_at(path, &read_text(path)?, Self::parse)
    }

    /// Reads a state from YAML, checking the `faults` rates as well as the shape.
    pub fn parse(text: &str) -> Result<Self, String> {
        let state: DcState = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        if let Some(faults) = &state.faults {
            faults.validate().map_err(|e| format!("faults: {e}"))?;
        }
        Ok(state)
    }

    pub fn to_yaml(&self) -> Result<String, String> {
        serde_saphyr::to_string(self).map_err(|e| e.to_string())
    }

    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        save_yaml(path, self.to_yaml())
    }
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
