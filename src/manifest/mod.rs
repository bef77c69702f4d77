//! Loading a manifest directory: every `*.yaml` file under it, parsed into raw structs that
//! check shape and keep locations. Problems are collected across all files.

pub mod diagnostic;
pub mod raw;

use std::path::{Path, PathBuf};

use serde_saphyr::{Options, SnippetMode, UserMessageFormatter};

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
}

/// Parsing options: duplicate keys are errors (the parser's default); only `true` and
/// `false` are booleans (YAML 1.1's `no`, `off` would silently offboard a person); many
/// aliases to one anchor are fine (the node budget still stops alias bombs).
fn options() -> Options {
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
    collect_yaml(dir, &mut paths)?;
    paths.sort();
    let mut loaded = Loaded {
        dir: dir.to_path_buf(),
        sources: Sources::default(),
        files: Vec::new(),
        incomplete: false,
    };
    let mut problems = Vec::new();
    if paths.is_empty() {
        problems.push(Diagnostic {
            file: dir.display().to_string(),
            line: 0,
            column: 0,
            message: "no manifest files (*.yaml) in this directory".to_owned(),
            hint: Some("pass the directory that holds your manifests: rollcall plan path/to/manifests".to_owned()),
            snippet: None,
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
                    Err(d) => {
                        loaded.incomplete = true;
                        problems.push(d);
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

fn parse_file(sources: &Sources, index: usize) -> Result<RawFile, Diagnostic> {
    let text = sources.files.get(index).map(|f| f.text.as_str()).unwrap_or_default();
    if text.trim().is_empty() {
        return Ok(RawFile::default());
    }
    serde_saphyr::from_str_with_options::<RawFile>(text, options()).map_err(|err| {
        let message = err.render_with_options(serde_saphyr::render_options! {
            formatter: &UserMessageFormatter,
            snippets: SnippetMode::Off,
        });
        let message = strip_location_suffix(&message);
        let line_text = err.location().and_then(|l| diagnostic::source_line(text, l.line()));
        let hint = hint_for_parse_error(&message, line_text.unwrap_or_default());
        let diagnostic = match err.location() {
            Some(location) => sources.diagnostic(Origin { file: index, location }, message),
            None => sources.file_diagnostic(index, message),
        };
        match hint {
            Some(h) => diagnostic.with_hint(h),
            None => diagnostic,
        }
    })
}

/// The parser appends " at line L column C" to messages; the diagnostic shows the
/// location itself, so drop it.
fn strip_location_suffix(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message);
    match first.rfind(" at line ") {
        Some(i) => first[..i].to_owned(),
        None => first.to_owned(),
    }
}

fn hint_for_parse_error(message: &str, line: &str) -> Option<String> {
    let m = message.to_ascii_lowercase();
    if line.contains("${") && (m.contains("flow") || m.contains("bracket")) {
        Some("a `${...}` reference inside `{ }` must be quoted: token: \"${env:NAME}\"".to_owned())
    } else if m.contains("invalid boolean") {
        Some("write true or false; YAML 1.1 words such as yes, no, on and off are not booleans here".to_owned())
    } else if m.contains("duplicate") {
        Some("each key may appear once in a mapping; merge the two entries".to_owned())
    } else if m.contains("unknown field") {
        Some("check the spelling against the manifest reference (rollcall schema prints every field)".to_owned())
    } else if m.contains("unknown variant") {
        Some("use one of the values listed".to_owned())
    } else if m.contains("missing field") {
        Some("add the field; rollcall schema lists what each section needs".to_owned())
    } else if m.contains("while parsing") || m.contains("while scanning") || m.contains("bracket") {
        Some("this is a YAML syntax error: the cause is often just before this point (an unclosed `{`, `[` or quote, or wrong indentation)".to_owned())
    } else {
        None
    }
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), std::io::Error> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if hidden {
            continue;
        }
        if entry.file_type()?.is_dir() {
            collect_yaml(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}
