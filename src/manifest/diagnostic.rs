//! Located problems in manifest files, collected rather than thrown, and rendered like a
//! compiler's: message, `file:line:column`, the source line with a caret, and a hint.

use std::fmt;

use serde_saphyr::Location;

/// The text of one manifest file, kept so problems can quote it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as shown to the user: relative to the manifest directory.
    pub name: String,
    pub text: String,
}

/// Every file of a manifest directory, addressed by index.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub files: Vec<SourceFile>,
}

/// Where in which file a value was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub file: usize,
    pub location: Location,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
    pub hint: Option<String>,
    /// The source line and how many characters the caret covers. The whole line is
    /// kept; printing shows a window of it around the column.
    pub snippet: Option<(String, usize)>,
    /// A second place that explains the first (where the parser stopped, for an
    /// unclosed bracket reported at its opener).
    pub note: Option<Box<Diagnostic>>,
}

impl Sources {
    pub fn diagnostic(&self, origin: Origin, message: impl Into<String>) -> Diagnostic {
        let width = usize::try_from(origin.location.span().len()).unwrap_or(1);
        self.diagnostic_at(
            origin.file,
            origin.location.line(),
            origin.location.column(),
            width,
            message,
        )
    }

    /// A problem at `line` and `column` (from 1) of a file, the caret `width` characters
    /// wide.
    pub fn diagnostic_at(
        &self,
        file: usize,
        line: u64,
        column: u64,
        width: usize,
        message: impl Into<String>,
    ) -> Diagnostic {
        let file = self.files.get(file);
        let snippet = file.and_then(|f| {
            let text = source_line(&f.text, line)?;
            if may_hold_secret(text) {
                return None; // never quote a line that may hold a pasted secret
            }
            let start = usize::try_from(column).ok()?.saturating_sub(1);
            let rest = text.chars().count().saturating_sub(start).max(1);
            Some((text.to_owned(), width.clamp(1, rest)))
        });
        Diagnostic {
            file: file.map(|f| f.name.clone()).unwrap_or_default(),
            line,
            column,
            message: scrub(message.into()),
            hint: None,
            snippet,
            note: None,
        }
    }

    /// A problem about a whole file (it cannot be read, say).
    pub fn file_diagnostic(&self, file: usize, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: self.files.get(file).map(|f| f.name.clone()).unwrap_or_default(),
            line: 0,
            column: 0,
            message: scrub(message.into()),
            hint: None,
            snippet: None,
            note: None,
        }
    }
}

/// A message with every quoted part that may hold a secret hidden. Messages quote keys
/// and values (`unknown field `…``), and a typo such as `token:ghp_…` (no space after the
/// colon) makes a pasted token part of a key.
fn scrub(message: String) -> String {
    if !may_hold_secret(&message) {
        return message;
    }
    let scrubbed: Vec<&str> = message
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 && may_hold_secret(part) {
                REDACTED
            } else {
                part
            }
        })
        .collect();
    let scrubbed = scrubbed.join("`");
    if may_hold_secret(&scrubbed) {
        "a value here may hold a secret, so it is not shown".to_owned()
    } else {
        scrubbed
    }
}

impl Diagnostic {
    /// Shows the source line with the value at the caret hidden: for a value that may be
    /// a secret, where the line alone tells the reader which field is meant.
    pub fn redacted(mut self, sources: &Sources, origin: Origin) -> Self {
        if self.snippet.is_none() {
            let text = sources
                .files
                .get(origin.file)
                .and_then(|f| source_line(&f.text, self.line));
            let span = usize::try_from(origin.location.span().len()).unwrap_or(1).max(1);
            self.snippet = text.map(|t| (t.to_owned(), span));
        }
        if let Some((text, width)) = &mut self.snippet {
            let start = usize::try_from(self.column).unwrap_or(1).saturating_sub(1);
            let kept: String = text.chars().take(start).collect();
            let rest: String = text.chars().skip(start + *width).collect();
            *text = format!("{kept}{REDACTED}{rest}");
            *width = REDACTED.len();
        }
        // The line was fetched here, unscreened: another value on it (a pasted token
        // beside a URL, a second target's token) may be a secret too. Quote nothing then.
        if self.snippet.as_ref().is_some_and(|(text, _)| may_hold_secret(text)) {
            self.snippet = None;
        }
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_note(mut self, note: Diagnostic) -> Self {
        self.note = Some(Box::new(note));
        self
    }

    /// The same place with another message, as a note under a main problem.
    pub fn message_only(mut self, message: &str) -> Self {
        message.clone_into(&mut self.message);
        self.hint = None;
        self
    }

    /// `--> file:line:column` and the quoted line with its caret.
    fn fmt_place(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            writeln!(f, "  --> {}", self.file)?;
        } else {
            writeln!(f, "  --> {}:{}:{}", self.file, self.line, self.column)?;
        }
        if let Some((text, width)) = &self.snippet {
            let column = usize::try_from(self.column).unwrap_or(1).saturating_sub(1);
            let (shown, before, width) = window(text, column, *width);
            let number = self.line.to_string();
            let pad = " ".repeat(number.len());
            writeln!(f, "{pad} |")?;
            writeln!(f, "{number} | {shown}")?;
            let indent: String = shown
                .chars()
                .take(before)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            writeln!(f, "{pad} | {indent}{}", "^".repeat(width))?;
        }
        Ok(())
    }
}

/// The most characters of a source line a snippet shows: a generated file can have a
/// line of megabytes, and a problem should print as a few lines whatever its input.
const SNIPPET_WIDTH: usize = 120;

/// At most `SNIPPET_WIDTH` characters of `line` around the caret at `column` (from 0),
/// with `…` where the line was cut; returns the text, how many characters of it come
/// before the caret, and the caret's width within it.
fn window(line: &str, column: usize, width: usize) -> (String, usize, usize) {
    let length = line.chars().count();
    if length <= SNIPPET_WIDTH {
        return (line.to_owned(), column, width);
    }
    let width = width.clamp(1, SNIPPET_WIDTH / 2);
    let start = column
        .saturating_sub(SNIPPET_WIDTH / 3)
        .min(length.saturating_sub(SNIPPET_WIDTH));
    let end = (start + SNIPPET_WIDTH).min(length);
    let body: String = line.chars().skip(start).take(end - start).collect();
    let (lead, before) = if start > 0 {
        ("…", column - start + 1)
    } else {
        ("", column)
    };
    let tail = if end < length { "…" } else { "" };
    (format!("{lead}{body}{tail}"), before, width)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        self.fmt_place(f)?;
        if let Some(note) = &self.note {
            writeln!(f, "  = note: {}", note.message)?;
            note.fmt_place(f)?;
        }
        if let Some(hint) = &self.hint {
            writeln!(f, "  = hint: {hint}")?;
        }
        Ok(())
    }
}

/// Line `line` (counted from 1) of `text`, with line breaks as YAML counts them: `\n`,
/// `\r\n` and a lone `\r`. `str::lines` does not break at a lone `\r`, so in a file
/// with mixed line endings it would quote a line other than the one the parser named.
pub(crate) fn source_line(text: &str, line: u64) -> Option<&str> {
    let index = usize::try_from(line).ok()?.checked_sub(1)?;
    // `lines` has already taken off `\n` and `\r\n`; any `\r` left is a break of its own.
    text.lines().flat_map(|l| l.split('\r')).nth(index)
}

/// What a hidden value is shown as.
const REDACTED: &str = "<redacted>";

/// Whether a source line may hold a secret: a literal token, or a URL with a user or
/// password in it (`https://user:password@host`). A line with an `@` anywhere after a
/// `://` counts, so that a password with `/`, spaces or commas in it counts too.
fn may_hold_secret(line: &str) -> bool {
    has_literal_token(line) || line.find("://").is_some_and(|i| line[i..].contains('@'))
}

/// Whether a source line sets a `token` key (any case, quoted or not, spaces before the
/// colon allowed) to something other than a `${…}` reference (or a value already hidden).
fn has_literal_token(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.match_indices("token").any(|(i, _)| {
        let rest = lower[i + "token".len()..].trim_start_matches(['"', '\'']).trim_start();
        let Some(value) = rest.strip_prefix(':') else {
            return false;
        };
        let value = value.trim_start().trim_start_matches(['"', '\'']);
        !value.is_empty() && !value.starts_with("${") && !value.starts_with('#') && !value.starts_with(REDACTED)
    })
}

/// Renders a list of problems with a closing count, as `validate` and `plan` print it.
pub fn render_all(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&d.to_string());
        out.push('\n');
    }
    let n = diagnostics.len();
    out.push_str(&format!(
        "{n} problem{} found in the manifest\n",
        if n == 1 { "" } else { "s" }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::{has_literal_token, may_hold_secret, scrub, source_line, Origin, SourceFile, Sources};

    #[test]
    fn literal_tokens_are_recognised() {
        assert!(has_literal_token("    auth: { token: ghp_abc, username: x }"));
        assert!(has_literal_token("      token: 'abc'"));
        assert!(!has_literal_token("      token: ${env:X}"));
        assert!(!has_literal_token("    auth: { token: \"${file:t}\" }"));
        assert!(!has_literal_token("      token:"));
        assert!(has_literal_token("    auth: { \"token\": \"ghp_x\", usernme: x }"));
        assert!(has_literal_token("      Token : ghp_x"));
    }

    #[test]
    fn lines_break_where_yaml_breaks_them() {
        let text = "a\rb\r\nc\n\r\nd\r\r\ne";
        let lines: Vec<_> = (1..=8).map(|n| source_line(text, n)).collect();
        let expected = [
            Some("a"),
            Some("b"),
            Some("c"),
            Some(""),
            Some("d"),
            Some(""),
            Some("e"),
            None,
        ];
        assert_eq!(lines, expected);
        assert_eq!(source_line(text, 0), None);
    }

    /// A lone `\r` is a line break to the parser: the snippet is the line it names, and
    /// in a file with mixed line endings redaction hides the value on that line, never
    /// quoting another line (here one that holds a second password).
    #[test]
    fn snippets_of_files_with_lone_carriage_returns_quote_the_named_line() {
        let text = "targets:\r  a:\r    kind: bitbucket-datacenter\r    url: https://u:p@h\n  b:\n    url: https://user:longpassword@h\n";
        let sources = Sources {
            files: vec![SourceFile {
                name: "m.yaml".to_owned(),
                text: text.to_owned(),
            }],
        };
        #[derive(serde::Deserialize)]
        struct File {
            targets: std::collections::BTreeMap<String, Target>,
        }
        #[derive(serde::Deserialize)]
        struct Target {
            url: serde_saphyr::Spanned<String>,
        }
        let file: File = serde_saphyr::from_str(text).unwrap();
        let url = file.targets["a"].url.referenced;
        let origin = Origin { file: 0, location: url };
        let plain = sources.diagnostic(origin, "m");
        assert_eq!(plain.line, 4);
        let redacted = sources.diagnostic(origin, "m").redacted(&sources, origin);
        let shown = redacted.to_string();
        assert!(shown.contains("4 |     url: <redacted>\n"), "{shown}");
        assert!(!shown.contains("longpassword"), "{shown}");
    }

    /// Redaction hides the value it is about; when another value on the same line is a
    /// pasted token, the line is not quoted at all.
    #[test]
    fn redaction_never_quotes_a_line_with_another_literal_token() {
        let text = "targets: {bb: {kind: bitbucket-datacenter, url: https://u:p@h, auth: {token: ghp_pasted}}}\n";
        let sources = Sources {
            files: vec![SourceFile {
                name: "m.yaml".to_owned(),
                text: text.to_owned(),
            }],
        };
        #[derive(serde::Deserialize)]
        struct File {
            targets: std::collections::BTreeMap<String, Target>,
        }
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Target {
            kind: String,
            url: serde_saphyr::Spanned<String>,
            auth: serde_json::Value,
        }
        let file: File = serde_saphyr::from_str(text).unwrap();
        let origin = Origin {
            file: 0,
            location: file.targets["bb"].url.referenced,
        };
        let d = sources.diagnostic(origin, "m").redacted(&sources, origin);
        assert_eq!(d.snippet, None);
        assert!(!d.to_string().contains("ghp_pasted"));
        assert!(!has_literal_token("      token: <redacted>"));
        assert!(!has_literal_token("    auth: { token: \"<redacted>\", account: x }"));
    }

    /// A problem on a line with a URL that carries credentials (here a missing `kind`,
    /// reported at the mapping's first key) does not quote the line.
    #[test]
    fn lines_with_credentials_in_a_url_are_never_quoted() {
        assert!(may_hold_secret("    url: https://user:pw@git.example.com"));
        assert!(may_hold_secret("  bb: {url: \"https://u:p/w@h\", kind: x}"));
        assert!(!may_hold_secret("    url: https://git.example.com/scm"));
        assert!(!may_hold_secret("    email: alice@example.com"));
        assert!(!may_hold_secret("    url: <redacted>"));
        let text = "targets:\n  bb:\n    url: https://user:hunter2@git.example.com\n";
        let sources = Sources {
            files: vec![SourceFile {
                name: "m.yaml".to_owned(),
                text: text.to_owned(),
            }],
        };
        #[derive(Debug, serde::Deserialize)]
        struct File {
            #[allow(dead_code)]
            targets: std::collections::BTreeMap<String, Target>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Target {
            kind: String,
            url: String,
        }
        let err = serde_saphyr::from_str::<File>(text).unwrap_err();
        let location = err.location().unwrap();
        assert_eq!(location.line(), 3);
        let d = sources.diagnostic(Origin { file: 0, location }, "missing field `kind`");
        assert_eq!(d.snippet, None);
        assert!(!d.to_string().contains("hunter2"));
    }

    /// A token made part of a key by a missing space (`token:ghp_…`) is not echoed in
    /// the parser's message about the unknown key.
    #[test]
    fn messages_never_quote_a_secret() {
        let text = "targets:\n  bb:\n    kind: bitbucket-datacenter\n    url: https://h\n    auth: {account: a, token:ghp_pasted}\n";
        let sources = Sources {
            files: vec![SourceFile {
                name: "m.yaml".to_owned(),
                text: text.to_owned(),
            }],
        };
        let Err(found) = crate::manifest::parse_file(&sources, 0) else {
            panic!("the file parsed");
        };
        let d = &found[0];
        assert_eq!((d.line, d.snippet.clone()), (5, None));
        assert!(!d.to_string().contains("ghp_pasted"), "{d}");
        assert!(d.message.starts_with("unknown field `<redacted>`"), "{d}");
        let quoted = "unknown variant `https://u:pw@h`, expected one of bitbucket-datacenter".to_owned();
        assert_eq!(
            scrub(quoted),
            "unknown variant `<redacted>`, expected one of bitbucket-datacenter"
        );
        let plain = "unknown field `tokn`, expected one of username, account, token".to_owned();
        assert_eq!(scrub(plain.clone()), plain);
    }
}
