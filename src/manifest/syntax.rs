//! Files that are not well-formed YAML, or too large to read: the parser's error kind
//! turned into one located sentence with the fix. Messages are chosen by the kind of
//! error and what the document holds around it, never by the parser's English.

use serde_saphyr::granit_parser::ErrorKind;
use serde_saphyr::{budget::BudgetBreach, Budget, Error, ExternalMessageSource};

use super::diagnostic::{Diagnostic, Origin, Sources};

/// The diagnostic for a file the YAML parser gave up on.
pub(crate) fn diagnostic(sources: &Sources, file: usize, err: &Error, budget: &Budget) -> Diagnostic {
    let err = innermost(err);
    let text = sources.files.get(file).map(|f| f.text.as_str()).unwrap_or_default();
    let at = |message: String| match err.location() {
        Some(location) => sources.diagnostic(Origin { file, location }, message),
        None => sources.file_diagnostic(file, message),
    };
    match err {
        Error::Budget { breach, .. } => {
            let (message, hint) = budget_sentence(breach, budget);
            at(message).with_hint(hint)
        }
        Error::MultipleDocuments { .. } => at(
            "this file holds more than one YAML document (`---` starts another)".into()
        )
        .with_hint("keep one document per file; every *.yaml file in the directory is read, and they are merged"),
        Error::ExternalMessage { source, msg, .. } => match source.as_ref() {
            ExternalMessageSource::Parser(scan) if matches!(scan.kind(), ErrorKind::RecursionLimitExceeded) => {
                at(format!(
                    "`[` and `{{` nest here more than {} levels deep, the most a manifest file may",
                    budget.flow_nesting_limit
                ))
                .with_hint(FLATTEN)
            }
            ExternalMessageSource::Parser(scan) => scan_error(
                sources,
                file,
                text,
                scan.kind(),
                at(format!("this is not valid YAML: {}", first_line(msg))),
            ),
            _ => at(first_line(msg)),
        },
        Error::UnknownAnchor { .. } => at("this alias (`*name`) refers to no anchor (`&name`) before it".into())
            .with_hint("define the anchor first, or write the value out"),
        other => at(format!(
            "this file cannot be read as YAML ({})",
            first_line(&other.to_string())
        ))
        .with_hint(SYNTAX_HINT),
    }
}

const FLATTEN: &str =
    "a manifest nests a few levels deep at most; this file looks generated or damaged, so check what wrote it";

const SYNTAX_HINT: &str =
    "the cause is often just before this point: an unclosed `{`, `[` or quote, or wrong indentation";

fn innermost(mut err: &Error) -> &Error {
    while let Error::AliasError { error, .. } | Error::WithSnippet { error, .. } = err {
        err = error;
    }
    err
}

fn first_line(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message);
    // The parser appends where it stopped; the diagnostic shows that itself.
    match first.rfind(" at line ") {
        Some(i) => first[..i].to_owned(),
        None => first.to_owned(),
    }
}

/// A scanner error: where the parser stopped, with the opener of an unclosed `[` or `{`
/// shown as well, since the parser only notices one on a later line.
fn scan_error(sources: &Sources, file: usize, text: &str, kind: &ErrorKind, stopped: Diagnostic) -> Diagnostic {
    let flow = matches!(
        kind,
        ErrorKind::UnclosedFlowCollection { .. }
            | ErrorKind::ExpectedFlowSequenceSeparator
            | ErrorKind::ExpectedFlowMappingSeparator
            | ErrorKind::UnexpectedEofFlowSequence
            | ErrorKind::UnexpectedEofFlowMapping
            | ErrorKind::UnexpectedEofImplicitFlowMapping
            | ErrorKind::MismatchedFlowCollectionEnd { .. }
            | ErrorKind::InvalidColonPlacement
            | ErrorKind::FlowMappingValueAdjacentCollection
    );
    let opener = match kind {
        // The parser names the opener itself when the file ends inside the collection.
        ErrorKind::UnclosedFlowCollection { open } => Some((stopped.line, stopped.column, *open)),
        _ if flow => unclosed_opener(text, stopped.line, stopped.column),
        _ => None,
    };
    let line_text = super::diagnostic::source_line(text, stopped.line).unwrap_or_default();
    if let Some((line, column, bracket)) = opener {
        let (noun, close) = if bracket == '[' {
            ("list", ']')
        } else {
            ("mapping", '}')
        };
        let unquoted_reference = super::diagnostic::source_line(text, line).is_some_and(|l| l.contains("${"));
        let hint = if unquoted_reference {
            "a `${...}` reference inside `[ ]` or `{ }` must be quoted: token: \"${env:NAME}\"".to_owned()
        } else {
            format!("close the {noun} with `{close}` (a flow {noun} may span lines, so the parser noticed only at line {}, column {})", stopped.line, stopped.column)
        };
        if (line, column) == (stopped.line, stopped.column) {
            let hint = if unquoted_reference {
                hint
            } else {
                format!("close the {noun} with `{close}`")
            };
            let message = format!("this `{bracket}` is never closed: the {noun} it opens runs to the end of the file");
            return sources.diagnostic_at(file, line, column, 1, message).with_hint(hint);
        }
        let opened = sources.diagnostic_at(
            file,
            line,
            column,
            1,
            format!(
                "this `{bracket}` is never closed: the {noun} it opens runs on to line {}",
                stopped.line
            ),
        );
        return opened
            .with_hint(hint)
            .with_note(stopped.message_only("the parser stopped here"));
    }
    let (message, hint) = scan_words(kind, line_text);
    let stopped = match message {
        Some(m) => stopped.message_only(m),
        None => stopped,
    };
    stopped.with_hint(hint)
}

/// The common scanner errors in the manifest's words, with their fix; others keep the
/// parser's description.
fn scan_words(kind: &ErrorKind, line_text: &str) -> (Option<&'static str>, &'static str) {
    const QUOTE_REFERENCE: &str = "a `${...}` reference inside `[ ]` or `{ }` must be quoted: token: \"${env:NAME}\"";
    match kind {
        ErrorKind::TabInIndentation | ErrorKind::TabInBlockIndentation | ErrorKind::TabNotAllowed => (
            Some("this line is indented with a tab"),
            "indent with spaces: YAML does not allow tabs for indentation",
        ),
        ErrorKind::UnclosedQuotedScalar => (
            Some("this quote is never closed"),
            "close the quote; a quoted value may span lines, so the cause may be earlier",
        ),
        ErrorKind::InvalidIndentation | ErrorKind::ExpectedBlockMappingKey | ErrorKind::ExpectedBlockSequenceEntry => (
            Some("this line's indentation does not fit the lines above it"),
            "indent each key under its parent by the same number of spaces as its siblings",
        ),
        ErrorKind::MappingValueNotAllowed => (
            Some("a `key: value` cannot start here"),
            "a value that contains `: ` must be quoted, and a new key starts on its own line",
        ),
        _ if line_text.contains("${") => (None, QUOTE_REFERENCE),
        _ => (None, SYNTAX_HINT),
    }
}

/// The line and column of the innermost `[` or `{` still open at (`line`, `column`), by
/// a small scan that knows flow collections, quotes and comments.
fn unclosed_opener(text: &str, line: u64, column: u64) -> Option<(u64, u64, char)> {
    let mut open: Vec<(u64, u64, char)> = Vec::new();
    let mut quote: Option<char> = None;
    for (index, row) in text.lines().flat_map(|l| l.split('\r')).enumerate() {
        let number = u64::try_from(index).ok()? + 1;
        if number > line {
            break;
        }
        let mut previous = ' ';
        for (i, c) in row.chars().enumerate() {
            let col = u64::try_from(i).ok()? + 1;
            if number == line && col >= column {
                break;
            }
            match quote {
                Some(q) => {
                    if c == q {
                        quote = None;
                    }
                }
                None => match c {
                    '#' if previous.is_whitespace() => break,
                    '"' | '\'' if starts_value(previous) => quote = Some(c),
                    '[' | '{' if starts_value(previous) || !open.is_empty() => open.push((number, col, c)),
                    ']' | '}' if !open.is_empty() => {
                        open.pop();
                    }
                    _ => {}
                },
            }
            if !c.is_whitespace() {
                previous = c;
            } else if previous != ' ' && !":,[{-?".contains(previous) {
                previous = 'x';
            }
        }
        // A quote inside `[ ]` or `{ }` may span lines; outside, a new line ends the
        // scan's guess.
        if open.is_empty() {
            quote = None;
        }
    }
    open.pop()
}

/// Whether a character before a `[`, `{` or quote makes it the start of a value.
fn starts_value(previous: char) -> bool {
    " :,[{-?".contains(previous)
}

/// Which limit a file broke, with the number, and what to do about it.
fn budget_sentence(breach: &BudgetBreach, budget: &Budget) -> (String, &'static str) {
    const SPLIT: &str = "split it into several files: every *.yaml file in the directory is read, and they are merged";
    // The limit people meet first: a user written `alice: { name: …, email: … }` is six
    // values, so one file holds about 41 000 of them.
    const SPLIT_VALUES: &str = "split it into several files (about 40 000 users of `{ name, email }` fit in one): every *.yaml file in the directory is read, and they are merged";
    match breach {
        BudgetBreach::Nodes { .. } => (
            format!(
                "this file holds more than {} YAML values (lists, mappings and single values), the most one manifest file may hold",
                budget.max_nodes
            ),
            SPLIT_VALUES,
        ),
        BudgetBreach::Events { .. } => (
            format!(
                "this file is longer than one manifest file may be (more than {} YAML parser events)",
                budget.max_events
            ),
            SPLIT,
        ),
        BudgetBreach::ScalarBytes { .. } => (
            format!(
                "the values in this file hold more than {} bytes of text, the most one manifest file may",
                budget.max_total_scalar_bytes
            ),
            SPLIT,
        ),
        BudgetBreach::Depth { .. } => (
            format!(
                "this file nests lists and mappings more than {} levels deep, the most a manifest file may",
                budget.max_depth
            ),
            FLATTEN,
        ),
        BudgetBreach::Aliases { .. } => (
            format!("this file uses more than {} aliases (`*name`), the most a manifest file may", budget.max_aliases),
            SPLIT,
        ),
        BudgetBreach::Anchors { .. } => (
            format!("this file defines more than {} anchors (`&name`), the most a manifest file may", budget.max_anchors),
            SPLIT,
        ),
        BudgetBreach::Documents { .. } => (
            format!("this file holds more than {} YAML documents, the most a manifest file may", budget.max_documents),
            "keep one document per file: every *.yaml file in the directory is read, and they are merged",
        ),
        BudgetBreach::MergeKeys { .. } => (
            format!("this file uses more than {} merge keys (`<<`), the most a manifest file may", budget.max_merge_keys),
            SPLIT,
        ),
        _ => ("this file is larger or more deeply nested than a manifest file may be".to_owned(), SPLIT),
    }
}
