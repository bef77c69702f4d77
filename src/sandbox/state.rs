//! Sandbox state files, whatever the emulator: a YAML (or JSON) file holding what the
//! emulated service knows, loaded when the emulator starts and written back after an apply
//! (or by `sandbox serve --save`). Each emulator has its own state type (`DcState`,
//! `ScimState`) and implements `StateFile` for it; reading, checking the `faults` section,
//! the error messages and the atomic save that keeps a file's opening comments are here,
//! once.
//!
//! A state file says which emulator it is for with a `kind` key at its top (`kind: scim`),
//! read by `marker` alone, before the file is parsed as any emulator's: which emulator
//! reads a file never depends on whether another emulator's parse of it failed.
//!
//! State files are written by rollcall and hold a whole instance, so they are not held to
//! a manifest file's size limits: the YAML budget grows with the text (`yaml_options`), and
//! JSON is read with serde_json, which is faster on the largest states.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_saphyr::granit_parser::{Event, Parser};
use serde_saphyr::Options;

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

    /// Reads a state from YAML or JSON (`read_document`): its shape, the `faults` rates,
    /// then `check`.
    fn parse(text: &str) -> Result<Self, String> {
        let mut state: Self = read_document(text)?;
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

    /// Writes the state atomically: as JSON to a `.json` path, otherwise as YAML keeping
    /// the comments at the top of the file it replaces (`save_yaml`).
    fn save(&self, path: &Path) -> Result<(), StateError> {
        if is_json_path(path) {
            let json = serde_json::to_string_pretty(self)
                .map(|text| text + "\n")
                .map_err(|e| e.to_string());
            return save_text(path, json);
        }
        save_yaml(path, self.to_yaml())
    }
}

/// Whether a state at `path` is written as JSON: its name ends in `.json`.
pub fn is_json_path(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("json"))
}

/// A state document's contents as `T`. Text that opens with `{` is read as JSON first:
/// JSON is what a generator writes, and serde_json has no node budget and is several
/// times faster than the YAML reader on a state of a hundred thousand people. Text that
/// is not JSON after all (a YAML flow mapping) is read as YAML.
pub fn read_document<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    if text.trim_start().starts_with('{') {
        match serde_json::from_str(text) {
            Ok(value) => return Ok(value),
            // Well-formed JSON of the wrong shape: the JSON reader's account is the one.
            Err(e) if e.is_data() => return Err(e.to_string()),
            Err(_) => {}
        }
    }
    serde_saphyr::from_str_with_options(text, yaml_options(text.len())).map_err(|e| e.to_string())
}

/// The YAML reader's options for a state of `len` bytes. The budget is there to stop
/// aliases that expand a small text into a huge document; a state spells out what it
/// holds, so every limit on how much the document may hold grows by the text's length
/// (a value takes at least a byte to write, an event at most one more), and only what
/// aliases would add beyond the text is refused. A manifest file keeps the default
/// budget: it is written by hand, and past the limit it should be split.
fn yaml_options(len: usize) -> Options {
    let mut options = Options::default();
    if let Some(budget) = options.budget.as_mut() {
        budget.max_nodes = budget.max_nodes.saturating_add(len);
        budget.max_events = budget.max_events.saturating_add(len.saturating_mul(2));
        budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.saturating_add(len);
    }
    options
}

/// The `kind` a state file names at its top (`kind: scim`), or `None` if it names none,
/// without reading the rest of the file into anything. JSON is read with serde_json;
/// YAML event by event, stopping at the marker (which rollcall writes first), so telling
/// the kind of a large state costs next to nothing, and no budget can make it fail. An
/// error is the reason the file cannot be read at all.
pub fn marker(text: &str) -> Result<Option<String>, String> {
    /// The `kind` key alone; serde skips the others.
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        kind: Option<String>,
    }
    if text.trim_start().starts_with('{') {
        match serde_json::from_str::<Probe>(text) {
            Ok(probe) => return Ok(probe.kind),
            Err(e) if e.is_data() => return Err(format!("`kind` must be a name, as in \"kind\": \"scim\" ({e})")),
            Err(_) => {}
        }
    }
    yaml_marker(text)
}

/// `marker` for YAML: walks the parser's events through the top-level mapping, counting
/// its entries (even positions are keys, odd ones values) and skipping nested ones.
fn yaml_marker(text: &str) -> Result<Option<String>, String> {
    let not_a_name = || "`kind` must be a name, as in `kind: scim`".to_owned();
    // Collections open around the current event, and entries seen in the top mapping.
    let mut depth = 0usize;
    let mut entries = 0usize;
    let mut kind_next = false;
    for item in Parser::new_from_str(text) {
        let (event, _) = item.map_err(|e| e.to_string())?;
        let top_entry = depth == 1;
        match event {
            Event::Scalar(value, ..) if top_entry => {
                if kind_next {
                    return Ok(Some(value.into_owned()));
                }
                kind_next = entries % 2 == 0 && value == "kind";
                entries += 1;
            }
            Event::Alias(_) if top_entry => {
                if kind_next {
                    return Err(not_a_name());
                }
                entries += 1;
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if depth == 0 && matches!(event, Event::SequenceStart(..)) {
                    return Ok(None);
                }
                if top_entry {
                    if kind_next {
                        return Err(not_a_name());
                    }
                    entries += 1;
                }
                depth += 1;
            }
            Event::MappingEnd | Event::SequenceEnd => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Ok(None);
                }
            }
            Event::Scalar(..) | Event::DocumentEnd | Event::StreamEnd if depth == 0 => return Ok(None),
            _ => {}
        }
    }
    Ok(None)
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
    let text = yaml.map(|body| {
        let old = std::fs::read_to_string(path).unwrap_or_default();
        format!("{}{body}", leading_comments(&old))
    });
    save_text(path, text)
}

/// Writes `text` to `path` through a temporary file beside it, renamed over it.
fn save_text(path: &Path, text: Result<String, String>) -> Result<(), StateError> {
    let write_err = |message: String| StateError::Write {
        path: path.display().to_string(),
        message,
    };
    let text = text.map_err(write_err)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
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
