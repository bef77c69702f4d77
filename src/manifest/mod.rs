//! Loading a manifest directory: every `*.yaml` file under it (following symlinked
//! directories, once each), read as a YAML tree, held to the manifest's shape with every
//! problem reported, and only then parsed into raw structs that keep locations. Problems
//! are collected across all files.

mod access;
pub mod diagnostic;
pub mod raw;
mod shape;
mod syntax;
mod tree;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_saphyr::Options;

pub use diagnostic::{Diagnostic, Origin, SourceFile, Sources};
pub use raw::RawFile;

/// The parsed files of a manifest directory, in path order, beside their sources.
#[derive(Debug)]
pub struct Loaded {
    pub dir: PathBuf,
    pub sources: Sources,
    /// `(index into sources, content)` for every file that parsed.
    pub files: Vec<(usize, RawFile)>,
    /// Some file could not be read or parsed, so `files` is not the whole manifest.
    pub incomplete: bool,
    /// What the identity sources provide, once read and merged into `files`
    /// (`resolve::inject_sourced`).
    pub sourced: Option<std::sync::Arc<crate::source::select::Sourced>>,
}

/// Parsing options: duplicate keys are errors (the parser's default); only `true` and
/// `false` are booleans (YAML 1.1's `no`, `off` would silently offboard a person); many
/// aliases to one anchor are fine (the node budget still stops alias bombs).
pub(crate) fn options() -> Options {
    let mut options = Options::default();
    options.strict_booleans = true;
    if let Some(budget) = options.budget.as_mut() {
        budget.enforce_alias_anchor_ratio = false;
    }
    options
}

/// Reads and parses every manifest file under `dir`. Returns the parsed files and every
/// problem found; a file that fails to parse is reported and left out.
pub fn load_dir(dir: &Path) -> Result<(Loaded, Vec<Diagnostic>), std::io::Error> {
    let mut paths = Vec::new();
    let mut problems = Vec::new();
    let mut visited = BTreeSet::new();
    collect_yaml(dir, dir, &mut visited, &mut paths, &mut problems)?;
    paths.sort();
    let mut loaded = Loaded {
        dir: dir.to_path_buf(),
        sources: Sources::default(),
        files: Vec::new(),
        incomplete: false,
        sourced: None,
    };
    if paths.is_empty() && problems.is_empty() {
        problems.push(Diagnostic {
            file: dir.display().to_string(),
            line: 0,
            column: 0,
            message: "no manifest files (*.yaml) in this directory".to_owned(),
            hint: Some("pass the directory that holds your manifests: rollcall plan path/to/manifests".to_owned()),
            snippet: None,
            note: None,
        });
    }
    for path in paths {
        let name = path.strip_prefix(dir).unwrap_or(&path).display().to_string();
        let index = loaded.sources.files.len();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                loaded.sources.files.push(SourceFile { name, text });
                match parse_file(&loaded.sources, index) {
                    Ok(raw) => loaded.files.push((index, raw)),
                    Err(found) => {
                        loaded.incomplete = true;
                        problems.extend(found);
                    }
                }
            }
            Err(e) => {
                loaded.sources.files.push(SourceFile {
                    name,
                    text: String::new(),
                });
                loaded.incomplete = true;
                problems.push(loaded.sources.file_diagnostic(index, format!("cannot read file: {e}")));
            }
        }
    }
    Ok((loaded, problems))
}

/// Parses manifest files given as (name, text), as `load_dir` parses the files it finds
/// under `dir`: `rollcall import` checks what it is about to write before writing it.
pub fn load_texts(dir: &Path, files: &[(String, String)]) -> (Loaded, Vec<Diagnostic>) {
    let mut loaded = Loaded {
        dir: dir.to_path_buf(),
        sources: Sources::default(),
        files: Vec::new(),
        incomplete: false,
        sourced: None,
    };
    let mut problems = Vec::new();
    for (name, text) in files {
        let index = loaded.sources.files.len();
        loaded.sources.files.push(SourceFile {
            name: name.clone(),
            text: text.clone(),
        });
        match parse_file(&loaded.sources, index) {
            Ok(raw) => loaded.files.push((index, raw)),
            Err(found) => {
                loaded.incomplete = true;
                problems.extend(found);
            }
        }
    }
    (loaded, problems)
}

/// Reads one file: as YAML, then against the manifest's shape (every problem in the
/// file), then into the raw structs.
fn parse_file(sources: &Sources, index: usize) -> Result<RawFile, Vec<Diagnostic>> {
    let text = sources.files.get(index).map(|f| f.text.as_str()).unwrap_or_default();
    if text.trim().is_empty() {
        return Ok(RawFile::default());
    }
    let options = options();
    let budget = options.budget.clone().unwrap_or_default();
    let root = tree::parse(text, options).map_err(|e| vec![syntax::diagnostic(sources, index, &e, &budget)])?;
    let problems = shape::check(&root);
    if !problems.is_empty() {
        if let Some(d) = sandbox_state(sources, index, &root, text) {
            return Err(vec![d]);
        }
        return Err(problems
            .into_iter()
            .map(|p| {
                sources
                    .diagnostic(
                        Origin {
                            file: index,
                            location: p.at,
                        },
                        p.message,
                    )
                    .with_hint(p.hint)
            })
            .collect());
    }
    // The shape is right, so this only fails where the structs are stricter than the
    // schema says; the parser's own account is the best there is then.
    serde_saphyr::from_str_with_options::<RawFile>(text, self::options())
        .map_err(|e| vec![syntax::diagnostic(sources, index, &e, &budget)])
}

/// A sandbox state file (the live state an emulator starts from) put among the manifests
/// is named as what it is, rather than reported field by field as a broken manifest.
fn sandbox_state(sources: &Sources, index: usize, root: &tree::Node, text: &str) -> Option<Diagnostic> {
    let tree::Value::Map(entries) = &root.value else {
        return None;
    };
    // A key no manifest has (`operator`, `projects`), in a file the emulator its `kind`
    // names reads: a state, not a manifest that merely went wrong.
    let manifest_keys = shape::top_level_keys();
    let (key, _) = entries
        .iter()
        .find(|(k, _)| k.scalar_text().is_some_and(|k| !manifest_keys.contains(&k)))?;
    let sandbox = crate::provider::registry::sandbox_kind_of(text).ok()?;
    if !(sandbox.reads)(text) {
        return None;
    }
    let platform = sandbox.emulates;
    let name = sources
        .files
        .get(index)
        .map(|f| f.name.as_str())
        .unwrap_or("state.yaml");
    let base = Path::new(name).file_name().map_or(name.into(), |n| n.to_string_lossy());
    Some(
        sources
            .diagnostic(
                Origin { file: index, location: key.at },
                format!("this is a sandbox state file (the live state of {platform} that the sandbox emulates), not a manifest"),
            )
            .with_hint(format!(
                "every *.yaml file in the manifest directory is read as a manifest: move this one out (for example to ../sandbox/{base}) and point a target at it with `url: sandbox:../sandbox/{base}`"
            )),
    )
}

/// Finds the manifest files under `dir`, following symlinked directories. Each directory
/// is read once, by its canonical path, so a symlink loop ends instead of recursing; one
/// that cannot be followed is reported rather than skipped in silence.
fn collect_yaml(
    root: &Path,
    dir: &Path,
    visited: &mut BTreeSet<PathBuf>,
    out: &mut Vec<PathBuf>,
    problems: &mut Vec<Diagnostic>,
) -> Result<(), std::io::Error> {
    if !visited.insert(std::fs::canonicalize(dir)?) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if hidden {
            continue;
        }
        // `metadata` follows a symlink; a dangling one is reported, not skipped.
        let kind = match std::fs::metadata(&path) {
            Ok(meta) => meta.file_type(),
            Err(e) => {
                problems.push(whole_file(
                    root,
                    &path,
                    format!("cannot read file: {e} (a symlink to nothing?)"),
                ));
                continue;
            }
        };
        if kind.is_dir() {
            if let Err(e) = collect_yaml(root, &path, visited, out, problems) {
                problems.push(whole_file(
                    root,
                    &path,
                    format!("cannot read file: cannot read directory: {e}"),
                ));
            }
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

fn whole_file(root: &Path, path: &Path, message: String) -> Diagnostic {
    Diagnostic {
        file: path.strip_prefix(root).unwrap_or(path).display().to_string(),
        line: 0,
        column: 0,
        message,
        hint: None,
        snippet: None,
        note: None,
    }
}
