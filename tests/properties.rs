//! Properties of the two readers of untrusted text, the manifest loader and the plan
//! reader. Whatever they are given (arbitrary bytes, YAML token soup, generated YAML
//! documents, documents shaped like a manifest, several files at once, mutated copies of
//! the quickstart manifests and of a saved quickstart plan) they return an error or a
//! result and never panic. Every manifest problem names its file and a line inside it
//! (or is about the whole file), quotes that line as YAML counts lines, and renders; no
//! problem echoes a token pasted under a `token` key or a password in a URL; `cli::load`
//! reports exactly what the two stages found. A plan the reader accepts renders in every
//! format and survives being saved and read again unchanged, as does the plan of every
//! manifest that resolves. Manifests imported from generated live states plan to no
//! changes against them (`import.rs`).
//!
//! `in_memory` checks what applying a plan promises, over generated manifests and live
//! states, through the in-memory provider.
//!
//! Each property runs 256 cases (the in-memory apply 1024); set PROPTEST_CASES to run
//! more.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use rollcall::engine::ErrorKind;
use rollcall::manifest::diagnostic::{render_all, Diagnostic, Sources};
use rollcall::plan::file::{from_json, to_json};
use rollcall::render::{render, Format};
use serde_json::{json, Value};

#[path = "properties/generated.rs"]
mod generated;
#[path = "properties/import.rs"]
mod import;
#[path = "properties/in_memory.rs"]
mod in_memory;
#[path = "properties/sourced.rs"]
mod sourced;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

const FORMATS: [Format; 3] = [Format::Text, Format::Json, Format::Markdown];

// ---------------------------------------------------------------------------------------
// Checking a manifest directory
// ---------------------------------------------------------------------------------------

/// The lines of a file as YAML counts them: a line ends at `\n`, `\r\n` or a lone `\r`.
fn yaml_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['\n', '\r']) {
        lines.push(&rest[..i]);
        rest = &rest[i..];
        rest = rest.strip_prefix("\r\n").unwrap_or(&rest[1..]);
    }
    lines.push(rest);
    lines
}

fn check_diagnostic(d: &Diagnostic, sources: &Sources) {
    let shown = d.to_string();
    assert!(shown.starts_with("error: "), "{shown}");
    assert!(!d.file.is_empty(), "a problem without a file name: {d:?}");
    if d.line == 0 {
        // Only a problem about a whole file (or the directory) has no line.
        assert_eq!(d.column, 0, "{d:?}");
        assert!(d.snippet.is_none(), "{d:?}");
        assert!(
            d.message.starts_with("cannot read file")
                || d.message.starts_with("no manifest files")
                || d.message.starts_with("no target declared"),
            "a problem without a location: {d:?}"
        );
        return;
    }
    let file = sources
        .files
        .iter()
        .find(|f| f.name == d.file)
        .unwrap_or_else(|| panic!("a problem in a file that was not loaded: {d:?}"));
    assert!(d.column >= 1, "{d:?}");
    let lines = yaml_lines(&file.text);
    let line = lines
        .get(usize::try_from(d.line).unwrap() - 1)
        .unwrap_or_else(|| panic!("line {} of a file with {} lines: {d:?}", d.line, lines.len()));
    if let Some((snippet, width)) = &d.snippet {
        assert!(*width >= 1, "{d:?}");
        assert!(
            !snippet.contains(['\n', '\r']),
            "a snippet of more than one line: {d:?}"
        );
        if !snippet.contains("<redacted>") {
            // The line quoted is the line named, and the caret is on it (or just past
            // its end, for a problem at the end of the line).
            assert_eq!(snippet, line, "the snippet is not line {}: {d:?}", d.line);
            let column = usize::try_from(d.column).unwrap();
            assert!(column <= line.chars().count() + 1, "the caret is past the line: {d:?}");
        }
        assert!(shown.contains(&format!("{} | ", d.line)), "{shown}");
    }
}

/// Loads and resolves `dir` and checks every problem. Returns whether it resolved.
fn check_manifest_dir(dir: &Path) -> bool {
    let (loaded, problems) = rollcall::manifest::load_dir(dir).expect("the directory exists");
    let resolved = rollcall::resolve::resolve(&loaded);
    for d in &problems {
        check_diagnostic(d, &loaded.sources);
    }
    let mut all = problems.clone();
    match &resolved {
        Ok(_) => {}
        Err(more) => {
            assert!(!more.is_empty(), "resolve failed without saying why");
            for d in more {
                check_diagnostic(d, &loaded.sources);
                // Located, but for the one problem of the manifest as a whole.
                assert!(
                    d.line >= 1 || d.message.starts_with("no target declared"),
                    "resolve reports located problems only: {d:?}"
                );
            }
            all.extend(more.iter().cloned());
        }
    }
    let text = render_all(&all);
    assert!(text.ends_with(" found in the manifest\n"), "{text}");
    if loaded.sources.files.iter().all(|f| secrets_are_recognisable(&f.text)) {
        for secret in SECRETS {
            assert!(
                !text.contains(secret),
                "a secret written into the manifest is echoed:\n{text}"
            );
        }
    }
    // The engine's loader reports exactly what the two stages found.
    match rollcall::engine::load(dir) {
        Ok(_) => assert!(all.is_empty(), "engine::load succeeded despite {all:?}"),
        Err(e) if e.kind == ErrorKind::Manifest => assert_eq!(e.diagnostics, all),
        Err(other) => panic!("engine::load failed with something other than manifest problems: {other:?}"),
    }
    match resolved {
        Ok(desired) if problems.is_empty() => {
            // A manifest that resolves plans (against no live objects) into a plan that
            // saves and reads back unchanged.
            let plan = rollcall::plan::build(&desired, &BTreeMap::new()).unwrap();
            check_accepted_plan(&plan);
            true
        }
        _ => false,
    }
}

fn write_files(dir: &Path, files: &BTreeMap<String, Vec<u8>>) {
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

fn check_one_file(content: &[u8]) -> bool {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("manifest.yaml"), content).unwrap();
    check_manifest_dir(tmp.path())
}

// ---------------------------------------------------------------------------------------
// Generating YAML
// ---------------------------------------------------------------------------------------

/// Keys the manifest knows, at every level, and a few it does not.
const KEYS: &[&str] = &[
    "targets",
    "users",
    "groups",
    "access",
    "policy",
    "kind",
    "url",
    "auth",
    "token",
    "Token",
    "username",
    "account",
    "notify_new_users",
    "name",
    "email",
    "active",
    "ids",
    "description",
    "members",
    "global",
    "projects",
    "all_users",
    "repos",
    "prune",
    "protect",
    "limits",
    "max_deletes",
    "max_delete_percent",
    "min_existing",
    "min_admins",
    "memberships",
    "permissions",
    "bitbucket",
    "alice",
    "platform",
    "PLAT",
    "infra",
    "<<",
    "usernme",
];

/// Scalars that mean something to some check, or to YAML.
const SCALARS: &[&str] = &[
    "${env:X}",
    "${env:BITBUCKET_TOKEN}",
    "${env:}",
    "${env:A-B}",
    "${file:token}",
    "${file:../../etc/passwd}",
    "${file:}",
    "${nope:X}",
    "${env:X",
    "sandbox:x.yaml",
    "sandbox:",
    "sandbox:../sandbox/bitbucket.yaml",
    "https://h",
    "https://git.example.com/",
    "https://u:p@h",
    "https://:pw@h",
    "https://[::1",
    "http://h",
    "http://127.0.0.1:7990",
    "http://localhost",
    "http://[::1]",
    "ftp://h",
    "bitbucket-datacenter",
    "github",
    "bitbucket",
    "alice",
    "Alice",
    "bob",
    "platform",
    "Platform",
    "PLAT",
    "infra",
    "alice@example.com",
    "not-an-email",
    "@",
    "read",
    "write",
    "admin",
    "none",
    "SYS_ADMIN",
    "LICENSED_USER",
    "PROJECT_READ",
    "PROJECT_ADMIN",
    "REPO_WRITE",
    "yes",
    "no",
    "on",
    "off",
    "true",
    "false",
    "True",
    "~",
    "null",
    "",
    " ",
    "0",
    "-1",
    "100",
    "101",
    "4294967296",
    "18446744073709551616",
    "1e400",
    ".nan",
    "-.inf",
    "0x1F",
    "0o17",
    "ghp_LiteralToken123",
    "🦀",
    "👩‍👩‍👧",
    "é",
    "日本語",
    "\u{200b}",
    "\u{feff}",
    "tab\there",
    "nul\u{0}byte",
    "line\nbreak",
    "cr\rreturn",
    "crlf\r\nbreak",
    "# not a comment",
    "key: value",
    "- item",
    "{a: b}",
    "[1, 2]",
    "'",
    "\"",
    "&a",
    "*a",
    "!!str",
    "!!binary x",
    "%YAML 1.2",
    "---",
    "...",
];

/// Pieces of YAML syntax, for token soup.
const SOUP: &[&str] = &[
    "\n",
    "\r\n",
    "\r",
    " ",
    "  ",
    "    ",
    "\t",
    ":",
    ": ",
    "- ",
    "-",
    "? ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "'",
    "\"",
    "\\",
    "&a ",
    "*a",
    "&b ",
    "*b",
    "<<: *a",
    "!!str ",
    "!!map ",
    "!tag ",
    "#",
    "# comment",
    "---",
    "...",
    "|",
    "|-",
    ">",
    ">+",
    "%YAML 1.2",
    "%TAG ! tag:x,2000:",
    "\u{feff}",
    "\u{0}",
    "\u{85}",
    "\u{2028}",
    "é",
    "🦀",
    "targets:",
    "users:",
    "groups:",
    "access:",
    "policy:",
    "kind: bitbucket-datacenter",
    "url: sandbox:x.yaml",
    "url: https://h",
    "auth:",
    "token: ${env:X}",
    "token: ghp_secret",
    "account: admin",
    "name: A",
    "email: a@b.c",
    "members: [alice]",
    "global:",
    "projects:",
    "repos:",
    "alice:",
    "bitbucket:",
    "admin",
    "read",
    "yes",
    "true",
    "null",
    "~",
    "0",
    "99999999999999999999",
];

/// How a scalar is written. `Plain` is what a person would write: plain where YAML
/// allows it, quoted where it does not. `Raw` is written as is, wherever it lands.
#[derive(Debug, Clone, Copy)]
enum Style {
    Plain,
    Raw,
    Single,
    Double,
    Literal,
}

#[derive(Debug, Clone)]
enum Node {
    Scalar(String, Style),
    Seq(Vec<Node>, bool),
    Map(Vec<(String, Node)>, bool),
    Anchored(&'static str, Box<Node>),
    Alias(&'static str),
}

/// How a generated document is laid out.
#[derive(Debug, Clone)]
struct Layout {
    step: usize,
    newline: &'static str,
    final_newline: bool,
    header: &'static str,
}

fn layout() -> impl Strategy<Value = Layout> {
    (
        select(vec![1usize, 2, 2, 2, 4]),
        select(vec!["\n", "\n", "\n", "\r\n", "\r"]),
        any::<bool>(),
        select(vec![
            "",
            "",
            "",
            "---\n",
            "# manifest\n",
            "\u{feff}",
            "%YAML 1.2\n---\n",
        ]),
    )
        .prop_map(|(step, newline, final_newline, header)| Layout {
            step,
            newline,
            final_newline,
            header,
        })
}

fn escape_double(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Whether `s` reads back as the same string when written plain.
fn plain_is_safe(s: &str, in_flow: bool) -> bool {
    let special_start = s.starts_with([
        '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', '~',
    ]);
    let reserved = [
        "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE",
    ];
    let number = s.parse::<f64>().is_ok() || s.starts_with(['0', '.', '+']);
    !s.is_empty()
        && s.trim() == s
        && !special_start
        && !reserved.contains(&s)
        && !number
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && !s
            .chars()
            .any(|c| c.is_control() || c == '\u{feff}' || c == '\u{85}' || c == '\u{2028}' || c == '\u{2029}')
        && !(in_flow && s.contains(['{', '}', '[', ']', ',']))
}

/// A scalar on one line; a literal block cannot be written inline, so it is quoted.
fn inline_scalar(s: &str, style: Style, in_flow: bool) -> String {
    match style {
        Style::Plain if plain_is_safe(s, in_flow) => s.to_owned(),
        // Written as is, on purpose: some are not valid YAML where they land.
        Style::Raw => s.to_owned(),
        Style::Single => format!("'{}'", s.replace('\'', "''")),
        Style::Plain | Style::Double | Style::Literal => format!("\"{}\"", escape_double(s)),
    }
}

fn key_text(k: &str, in_flow: bool) -> String {
    inline_scalar(k, Style::Plain, in_flow)
}

/// A node in flow style: `[a, b]`, `{k: v}`.
fn flow(node: &Node) -> String {
    match node {
        Node::Scalar(s, style) => inline_scalar(s, *style, true),
        Node::Seq(items, _) => format!("[{}]", items.iter().map(flow).collect::<Vec<_>>().join(", ")),
        Node::Map(entries, _) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{}: {}", key_text(k, true), flow(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Node::Anchored(name, inner) => format!("&{name} {}", flow(inner)),
        Node::Alias(name) => format!("*{name}"),
    }
}

/// A literal block scalar's indicator and lines, exact for a string whose lines do not
/// start with a space.
fn literal_block(s: &str, pad: &str, l: &Layout) -> String {
    let (indicator, body) = match s.strip_suffix('\n') {
        Some(body) => ("|", body),
        None => ("|-", s),
    };
    let lines: Vec<String> = body.split('\n').map(|line| format!("{pad}{line}")).collect();
    format!("{indicator}{}{}", l.newline, lines.join(l.newline))
}

/// What follows `key:` or `-`: a value on the same line, or a block on the next lines.
fn after_indicator(node: &Node, indent: usize, l: &Layout) -> String {
    let inner = indent + l.step;
    match node {
        Node::Map(entries, false) if !entries.is_empty() => format!("{}{}", l.newline, block_map(entries, inner, l)),
        Node::Seq(items, false) if !items.is_empty() => format!("{}{}", l.newline, block_seq(items, inner, l)),
        Node::Scalar(s, Style::Literal) => format!(" {}", literal_block(s, &" ".repeat(inner), l)),
        Node::Scalar(s, style) => format!(" {}", inline_scalar(s, *style, false)),
        Node::Anchored(name, inner_node) => format!(" &{name}{}", after_indicator(inner_node, indent, l)),
        other => format!(" {}", flow(other)),
    }
}

fn block_map(entries: &[(String, Node)], indent: usize, l: &Layout) -> String {
    let pad = " ".repeat(indent);
    entries
        .iter()
        .map(|(k, v)| format!("{pad}{}:{}", key_text(k, false), after_indicator(v, indent, l)))
        .collect::<Vec<_>>()
        .join(l.newline)
}

fn block_seq(items: &[Node], indent: usize, l: &Layout) -> String {
    let pad = " ".repeat(indent);
    items
        .iter()
        .map(|v| format!("{pad}-{}", after_indicator(v, indent, l)))
        .collect::<Vec<_>>()
        .join(l.newline)
}

fn document(node: &Node, l: &Layout) -> String {
    let body = match node {
        Node::Map(entries, false) if !entries.is_empty() => block_map(entries, 0, l),
        Node::Seq(items, false) if !items.is_empty() => block_seq(items, 0, l),
        Node::Scalar(s, Style::Literal) => literal_block(s, "", l),
        Node::Scalar(s, style) => inline_scalar(s, *style, false),
        other => flow(other),
    };
    let end = if l.final_newline { l.newline } else { "" };
    format!("{}{body}{end}", l.header)
}

fn style() -> impl Strategy<Value = Style> {
    prop_oneof![
        6 => Just(Style::Plain),
        2 => Just(Style::Raw),
        2 => Just(Style::Single),
        2 => Just(Style::Double),
        1 => Just(Style::Literal),
    ]
}

fn scalar_text() -> BoxedStrategy<String> {
    prop_oneof![
        8 => select(SCALARS).prop_map(str::to_owned),
        3 => "[a-zA-Z0-9_.@-]{0,12}",
        2 => ".{0,16}",
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_map(|n| n.to_string()),
        1 => any::<u128>().prop_map(|n| n.to_string()),
        1 => (select(vec!["x", "é", "🦀", "ab\t"]), 500usize..5000).prop_map(|(s, n)| s.repeat(n)),
    ]
    .boxed()
}

fn key() -> BoxedStrategy<String> {
    prop_oneof![
        8 => select(KEYS).prop_map(str::to_owned),
        1 => "[a-zA-Z0-9_-]{1,10}",
        1 => scalar_text(),
    ]
    .boxed()
}

fn anchor() -> impl Strategy<Value = &'static str> {
    select(vec!["a", "b"])
}

fn scalar_node() -> BoxedStrategy<Node> {
    (scalar_text(), style()).prop_map(|(s, st)| Node::Scalar(s, st)).boxed()
}

/// Any YAML node: mappings, sequences, scalars, anchors and aliases, up to four deep.
fn node() -> BoxedStrategy<Node> {
    let leaf = prop_oneof![
        9 => scalar_node(),
        1 => anchor().prop_map(Node::Alias),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            3 => (vec(inner.clone(), 0..6), any::<bool>()).prop_map(|(v, f)| Node::Seq(v, f)),
            5 => (vec((key(), inner.clone()), 0..6), any::<bool>()).prop_map(|(e, f)| Node::Map(e, f)),
            1 => (anchor(), inner).prop_map(|(a, n)| Node::Anchored(a, Box::new(n))),
        ]
    })
    .boxed()
}

// Manifest-shaped documents: the right keys with mostly the right kinds of value, so
// that generated files get past the parser and exercise `resolve`.

type Field = BoxedStrategy<Option<(String, Node)>>;

/// One of `values`, mostly plain; now and then any node at all.
fn one_of(values: &'static [&'static str]) -> BoxedStrategy<Node> {
    let style = prop_oneof![
        30 => Just(Style::Plain),
        1 => Just(Style::Raw),
        3 => Just(Style::Single),
        3 => Just(Style::Double),
        1 => Just(Style::Literal),
    ];
    prop_oneof![
        150 => (select(values), style).prop_map(|(s, st)| Node::Scalar(s.to_owned(), st)),
        1 => node(),
    ]
    .boxed()
}

/// Mostly `good`, now and then any node at all.
fn or_junk(good: BoxedStrategy<Node>) -> BoxedStrategy<Node> {
    prop_oneof![150 => good, 1 => node()].boxed()
}

fn field(key: &'static str, presence: f64, value: BoxedStrategy<Node>) -> Field {
    proptest::option::weighted(presence, value.prop_map(move |v| (key.to_owned(), v))).boxed()
}

fn mapping(fields: Vec<Field>) -> BoxedStrategy<Node> {
    (fields, vec((key(), node()), 0..2), 0..12u8, any::<bool>())
        .prop_map(|(fields, extra, roll, flow)| {
            let mut entries: Vec<(String, Node)> = fields.into_iter().flatten().collect();
            // Now and then an unknown or repeated key.
            if roll == 0 {
                entries.extend(extra);
            }
            Node::Map(entries, flow && roll % 4 == 0)
        })
        .boxed()
}

fn named(names: &'static [&'static str], value: BoxedStrategy<Node>) -> BoxedStrategy<Node> {
    let name = prop_oneof![12 => select(names).prop_map(str::to_owned), 1 => key()];
    (vec((name, value), 0..4), 0..6u8)
        .prop_map(|(entries, roll)| {
            // Names are keys: a repeat is a duplicate key, which the parser refuses; keep
            // that rare so most files get through.
            let mut seen = std::collections::BTreeSet::new();
            let entries = entries
                .into_iter()
                .filter(|(k, _)| roll == 0 || seen.insert(k.clone()))
                .collect();
            Node::Map(entries, roll == 1)
        })
        .boxed()
}

fn list(names: &'static [&'static str]) -> BoxedStrategy<Node> {
    (vec(one_of(names), 0..4), any::<bool>())
        .prop_map(|(v, f)| Node::Seq(v, f))
        .boxed()
}

const TARGETS: &[&str] = &["bitbucket", "bitbucket", "bb", "other", "Bitbucket", "bad name"];
const USERS: &[&str] = &["alice", "bob", "carol", "Alice", "cdiaz", "judy", "admin", "x y", "🦀"];
const GROUPS: &[&str] = &["platform", "backend", "Platform", "stash-users", "bad/group"];
const PROJECTS: &[&str] = &["PLAT", "API", "plat", "~ME", "bad key"];
const REPOS: &[&str] = &["infra", "ci-templates", "payments", "Bad Repo"];
const KINDS: &[&str] = &["bitbucket-datacenter"];
const URLS: &[&str] = &[
    "sandbox:x.yaml",
    "sandbox:../sandbox/bitbucket.yaml",
    "sandbox:",
    "https://h",
    "https://git.example.com/bitbucket",
    "https://u:p@h",
    "https://user:Pw0rdS3cret@h",
    "https://user:Pw0rdS3cret@[::1",
    "https://[::1",
    "http://h",
    "http://127.0.0.1:7990",
    "ftp://h",
    "not a url",
];
const TOKENS: &[&str] = &["${env:X}", "${env:BITBUCKET_TOKEN}", "${file:token}", "${env:}", SECRET];
/// A token pasted into the manifest where a reference belongs, and a password in a URL:
/// never echoed.
const SECRET: &str = "ghp_S3cr3tT0kenValue";
const SECRETS: [&str; 2] = ["S3cr3tT0kenValue", "Pw0rdS3cret"];

/// Whether every secret in `text` is still where it can be recognised as one: the token
/// under a `token` key, the password in a URL. Random edits can make it something else
/// (`t oken: ghp_…` is an unknown key with a plain value); those files are not checked.
fn secrets_are_recognisable(text: &str) -> bool {
    let tokens = text.match_indices(SECRETS[0]).all(|(i, _)| {
        let Some(before) = text[..i].strip_suffix("ghp_") else {
            return false;
        };
        let before = before.trim_end_matches([' ', '"', '\'', '\n', '\r']);
        let before = before
            .strip_suffix("|-")
            .or_else(|| before.strip_suffix('|'))
            .unwrap_or(before);
        before.trim_end().strip_suffix(':').is_some_and(|key| {
            key.trim_end_matches([' ', '"', '\''])
                .to_ascii_lowercase()
                .ends_with("token")
        })
    });
    let passwords = text
        .match_indices(SECRETS[1])
        .all(|(i, _)| text[..i].ends_with("://user:") && text[i..].starts_with("Pw0rdS3cret@"));
    tokens && passwords
}
const ROLES: &[&str] = &[
    "read",
    "write",
    "admin",
    "none",
    "SYS_ADMIN",
    "LICENSED_USER",
    "PROJECT_READ",
    "PROJECT_WRITE",
    "PROJECT_ADMIN",
    "REPO_READ",
    "REPO_ADMIN",
    "owner",
];
const BOOLS: &[&str] = &["true", "false", "true", "false", "true", "false", "yes", "True"];
const NUMBERS: &[&str] = &["0", "1", "2", "30", "100", "101", "-1", "18446744073709551616", "x"];
const EMAILS: &[&str] = &["alice@example.com", "b@x.org", "not-an-email", "a@", " a@b.c "];
const PEOPLE: &[&str] = &["Alice Liddell", "Bob", "", " ", "Élodie 🦀", "tab\there"];

fn grants(principals: &'static [&'static str]) -> BoxedStrategy<Node> {
    or_junk(mapping(vec![
        field("users", 0.6, named(USERS, one_of(ROLES))),
        field("groups", 0.6, named(principals, one_of(ROLES))),
    ]))
}

fn target() -> BoxedStrategy<Node> {
    let auth = mapping(vec![
        field("token", 0.98, one_of(TOKENS)),
        field("account", 0.6, one_of(USERS)),
        field("username", 0.3, one_of(USERS)),
    ]);
    or_junk(mapping(vec![
        field("kind", 0.98, one_of(KINDS)),
        field("url", 0.98, one_of(URLS)),
        field("auth", 0.5, or_junk(auth)),
        field("notify_new_users", 0.2, one_of(BOOLS)),
    ]))
}

fn user() -> BoxedStrategy<Node> {
    or_junk(mapping(vec![
        field("name", 0.98, one_of(PEOPLE)),
        field("email", 0.98, one_of(EMAILS)),
        field("active", 0.3, one_of(BOOLS)),
        field("ids", 0.3, named(TARGETS, one_of(USERS))),
    ]))
}

fn group() -> BoxedStrategy<Node> {
    or_junk(mapping(vec![
        field("description", 0.5, one_of(PEOPLE)),
        field("members", 0.8, list(USERS)),
        field("targets", 0.3, list(TARGETS)),
    ]))
}

fn access() -> BoxedStrategy<Node> {
    let project = mapping(vec![
        field("all_users", 0.3, one_of(ROLES)),
        field("users", 0.5, named(USERS, one_of(ROLES))),
        field("groups", 0.5, named(GROUPS, one_of(ROLES))),
        field("repos", 0.5, named(REPOS, grants(GROUPS))),
    ]);
    or_junk(mapping(vec![
        field("global", 0.6, grants(GROUPS)),
        field("projects", 0.7, named(PROJECTS, or_junk(project))),
    ]))
}

fn policy() -> BoxedStrategy<Node> {
    let prune = mapping(vec![
        field("users", 0.4, one_of(BOOLS)),
        field("groups", 0.4, one_of(BOOLS)),
        field("memberships", 0.4, one_of(BOOLS)),
        field("permissions", 0.4, one_of(BOOLS)),
    ]);
    let limits = mapping(vec![
        field("max_deletes", 0.5, one_of(NUMBERS)),
        field("max_delete_percent", 0.5, one_of(NUMBERS)),
        field("min_existing", 0.5, one_of(NUMBERS)),
    ]);
    let protect = (vec(one_of(USERS), 0..4), vec(one_of(GROUPS), 0..2))
        .prop_map(|(mut a, b)| {
            a.extend(b);
            Node::Seq(a, false)
        })
        .boxed();
    or_junk(mapping(vec![
        field("prune", 0.5, or_junk(prune)),
        field("protect", 0.5, protect),
        field("limits", 0.4, or_junk(limits)),
        field("min_admins", 0.3, one_of(NUMBERS)),
    ]))
}

/// One manifest file: some of the five sections, each mostly well formed.
fn manifest() -> BoxedStrategy<Node> {
    mapping(vec![
        field("targets", 0.8, named(TARGETS, target())),
        field("users", 0.7, named(USERS, user())),
        field("groups", 0.6, named(GROUPS, group())),
        field("access", 0.6, named(TARGETS, access())),
        field("policy", 0.25, policy()),
    ])
}

/// A small valid manifest, to which the shaped documents add: without it most generated
/// manifests fail on their first problem, and the plan stage is rarely reached.
fn base_manifest() -> String {
    [
        "targets:",
        "  bitbucket:",
        "    kind: bitbucket-datacenter",
        "    url: sandbox:state.yaml",
        "users:",
        "  alice: { name: Alice, email: alice@example.com }",
        "groups:",
        "  platform: { members: [alice] }",
        "access:",
        "  bitbucket:",
        "    global: { groups: { platform: write }, users: { alice: admin } }",
        "",
    ]
    .join("\n")
}

/// Text edits: insert a piece of YAML syntax, delete a run of characters, cut the text.
#[derive(Debug, Clone)]
enum Edit {
    Insert(Index, &'static str),
    Delete(Index, usize),
    Truncate(Index),
    Tabify(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<Index>(), select(SOUP)).prop_map(|(i, s)| Edit::Insert(i, s)),
        3 => (any::<Index>(), 1usize..20).prop_map(|(i, n)| Edit::Delete(i, n)),
        1 => any::<Index>().prop_map(Edit::Truncate),
        1 => any::<Index>().prop_map(Edit::Tabify),
    ]
}

fn apply_edits(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let at = |i: &Index| i.index(chars.len() + 1);
        match e {
            Edit::Insert(i, s) => {
                let at = at(i);
                chars.splice(at..at, s.chars());
            }
            Edit::Delete(i, n) => {
                let at = at(i);
                let end = (at + n).min(chars.len());
                chars.drain(at..end);
            }
            Edit::Truncate(i) => chars.truncate(at(i)),
            Edit::Tabify(i) => {
                // Indentation with a tab, which YAML forbids.
                if let Some(p) = chars
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c == ' ')
                    .map(|(p, _)| p)
                    .nth(at(i))
                {
                    chars[p] = '\t';
                }
            }
        }
    }
    chars.into_iter().collect()
}

// ---------------------------------------------------------------------------------------
// Checking a plan document
// ---------------------------------------------------------------------------------------

/// A plan the reader accepted: it renders in every format, and saving it and reading the
/// file back gives the same file and the same renderings.
fn check_accepted_plan(plan: &rollcall::plan::Plan) {
    let saved = to_json(plan);
    let rendered: Vec<String> = FORMATS.iter().map(|f| render(plan, *f)).collect();
    assert_eq!(rendered[1], saved);
    let again =
        from_json(&saved, Path::new(".")).unwrap_or_else(|e| panic!("a saved plan does not read back: {e}\n{saved}"));
    assert_eq!(to_json(&again), saved, "a plan changed on a save and a read");
    for (f, before) in FORMATS.iter().zip(&rendered) {
        assert_eq!(&render(&again, *f), before, "{f:?} differs after a save and a read");
    }
}

/// Reads `text` as a plan: an error that says something, or a plan that renders and
/// round-trips. Returns whether it was accepted.
fn check_plan_text(text: &str) -> bool {
    match from_json(text, Path::new(".")) {
        Ok(plan) => {
            check_accepted_plan(&plan);
            true
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            false
        }
    }
}

/// The quickstart's plan as `rollcall plan examples/quickstart/manifests --json` prints
/// it from the repository root (22 creates, 4 updates, 3 deletes, 8 unmanaged).
fn quickstart_plan() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plans/quickstart.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        select(SCALARS).prop_map(Value::from),
        select(vec![
            "create",
            "update",
            "delete",
            "user",
            "group",
            "membership",
            "permission",
            "grant",
            "default",
            "project",
            "repo",
            "bitbucket",
            "bitbucket-datacenter",
            "protected",
            "users",
        ])
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        let field = prop_oneof![
            select(vec![
                "format_version",
                "type",
                "name",
                "kind",
                "principal",
                "group",
                "user",
                "project",
                "repo",
                "permission",
                "display_name",
                "email",
                "action",
                "before",
                "after",
                "target",
                "resource",
                "current",
                "rule",
                "message",
            ])
            .prop_map(str::to_owned),
            ".{0,8}",
        ];
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            vec((field, inner), 0..5).prop_map(|e| Value::Object(e.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A structural change to a plan document.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the value at some path with another (of any type).
    Replace(Index, Value),
    /// Remove the value at some path.
    Remove(Index),
    /// Duplicate an element of some array.
    Duplicate(Index),
    /// Wrap the value at some path in many arrays.
    Nest(Index, usize),
    SetAction(Index, &'static str),
    SwapBeforeAfter(Index),
    SetTarget(Index, String),
    /// Give a change a different resource id (and a value that fits or not).
    SetResource(Index, Value, Value),
    /// A second target, reached over https (or not) with a token reference (or not).
    AddTarget(String, &'static str, Value),
    AddRefusal(&'static str, String),
    AddUnmanaged(String, Value, Value),
    Reverse,
    SetNumber(Index, &'static str),
}

fn resource_id() -> impl Strategy<Value = Value> {
    let name = prop_oneof![4 => select(USERS).prop_map(str::to_owned), 1 => ".{0,10}"];
    let principal = (select(vec!["user", "group", "robot"]), name.clone())
        .prop_map(|(kind, name)| json!({ "kind": kind, "name": name }));
    prop_oneof![
        name.clone().prop_map(|n| json!({ "type": "user", "name": n })),
        name.clone().prop_map(|n| json!({ "type": "group", "name": n })),
        (name.clone(), name.clone()).prop_map(|(g, u)| json!({ "type": "membership", "group": g, "user": u })),
        (scope(name.clone()), principal).prop_map(|(s, p)| json!({ "type": "grant", "scope": s, "principal": p })),
        scope(name).prop_map(|s| json!({ "type": "default", "scope": s })),
        json_value(),
    ]
}

/// A scope path: mostly Bitbucket's (none, a project, a project's repository), sometimes
/// a segment of another kind or depth.
fn scope(name: impl Strategy<Value = String> + Clone) -> impl Strategy<Value = Value> {
    let kind = prop_oneof![3 => select(vec!["project", "repo"]).prop_map(str::to_owned), 1 => "[a-z]{0,8}"];
    proptest::collection::vec((kind, name), 0..4).prop_map(|segments| {
        Value::Array(
            segments
                .into_iter()
                .map(|(kind, name)| json!({ "kind": kind, "name": name }))
                .collect(),
        )
    })
}

fn resource_value() -> impl Strategy<Value = Value> {
    let text = prop_oneof![3 => select(PEOPLE).prop_map(str::to_owned), 1 => ".{0,10}"];
    prop_oneof![
        (text.clone(), text.clone()).prop_map(|(d, e)| json!({ "type": "user", "display_name": d, "email": e })),
        Just(json!({ "type": "group" })),
        Just(json!({ "type": "membership" })),
        text.clone()
            .prop_map(|p| json!({ "type": "permission", "permission": p })),
        proptest::option::of(text).prop_map(|p| json!({ "type": "default", "permission": p })),
        Just(json!({ "type": "group", "attributes": { "description": "x" } })),
        Just(json!({ "type": "membership", "attributes": { "role": "maintainer" } })),
        Just(Value::Null),
        json_value(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let name = prop_oneof![3 => select(TARGETS).prop_map(str::to_owned), 1 => ".{0,10}"];
    prop_oneof![
        3 => (any::<Index>(), json_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        3 => any::<Index>().prop_map(Mutation::Remove),
        2 => any::<Index>().prop_map(Mutation::Duplicate),
        1 => (any::<Index>(), 1usize..300).prop_map(|(i, n)| Mutation::Nest(i, n)),
        3 => (any::<Index>(), select(vec!["create", "update", "delete", "replace", "Create"]))
            .prop_map(|(i, a)| Mutation::SetAction(i, a)),
        3 => any::<Index>().prop_map(Mutation::SwapBeforeAfter),
        2 => (any::<Index>(), name.clone()).prop_map(|(i, t)| Mutation::SetTarget(i, t)),
        3 => (any::<Index>(), resource_id(), resource_value()).prop_map(|(i, r, v)| Mutation::SetResource(i, r, v)),
        2 => (name.clone(), select(URLS), prop_oneof![
                3 => select(TOKENS).prop_map(Value::from),
                1 => Just(Value::Null),
                1 => json_value(),
            ])
            .prop_map(|(n, u, t)| Mutation::AddTarget(n, u, t)),
        1 => (select(vec!["protected", "own_account", "min_admins", "max_deletes", "max_delete_percent", "other"]), ".{0,20}")
            .prop_map(|(r, m)| Mutation::AddRefusal(r, m)),
        1 => (name, resource_id(), resource_value()).prop_map(|(t, r, v)| Mutation::AddUnmanaged(t, r, v)),
        1 => Just(Mutation::Reverse),
        2 => (any::<Index>(), select(vec![
                "0", "1", "2", "-1", "1.0", "1e3", "18446744073709551615", "18446744073709551616",
                "340282366920938463463374607431768211456", "1e400", "-0", "\"1\"",
            ]))
            .prop_map(|(i, n)| Mutation::SetNumber(i, n)),
    ]
}

/// Every path in a JSON value, parents before children.
fn paths(v: &Value) -> Vec<Vec<PathSeg>> {
    fn walk(v: &Value, here: &mut Vec<PathSeg>, out: &mut Vec<Vec<PathSeg>>) {
        out.push(here.clone());
        match v {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    here.push(PathSeg::Item(i));
                    walk(item, here, out);
                    here.pop();
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    here.push(PathSeg::Key(k.clone()));
                    walk(item, here, out);
                    here.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

#[derive(Debug, Clone)]
enum PathSeg {
    Key(String),
    Item(usize),
}

fn at_path<'v>(v: &'v mut Value, path: &[PathSeg]) -> Option<&'v mut Value> {
    path.iter().try_fold(v, |v, seg| match seg {
        PathSeg::Key(k) => v.get_mut(k.as_str()),
        PathSeg::Item(i) => v.get_mut(*i),
    })
}

fn at_path_ref<'v>(v: &'v Value, path: &[PathSeg]) -> Option<&'v Value> {
    path.iter().try_fold(v, |v, seg| match seg {
        PathSeg::Key(k) => v.get(k.as_str()),
        PathSeg::Item(i) => v.get(*i),
    })
}

fn pick_path(v: &Value, i: &Index) -> Vec<PathSeg> {
    let all = paths(v);
    all[i.index(all.len())].clone()
}

/// The `i`th change of the document, if it has any.
fn some_change<'v>(doc: &'v mut Value, i: &Index) -> Option<&'v mut serde_json::Map<String, Value>> {
    let changes = doc.get_mut("changes")?.as_array_mut()?;
    if changes.is_empty() {
        return None;
    }
    let n = i.index(changes.len());
    changes[n].as_object_mut()
}

fn mutate(doc: &mut Value, m: &Mutation) {
    match m {
        Mutation::Replace(i, new) => {
            let path = pick_path(doc, i);
            if let Some(v) = at_path(doc, &path) {
                *v = new.clone();
            }
        }
        Mutation::Remove(i) => {
            let path = pick_path(doc, i);
            let Some((last, parent)) = path.split_last() else {
                return;
            };
            match (at_path(doc, parent), last) {
                (Some(Value::Object(map)), PathSeg::Key(k)) => {
                    map.remove(k);
                }
                (Some(Value::Array(items)), PathSeg::Item(n)) if *n < items.len() => {
                    items.remove(*n);
                }
                _ => {}
            }
        }
        Mutation::Duplicate(i) => {
            let arrays: Vec<Vec<PathSeg>> = paths(doc)
                .into_iter()
                .filter(|p| matches!(at_path_ref(doc, p), Some(Value::Array(a)) if !a.is_empty()))
                .collect();
            if arrays.is_empty() {
                return;
            }
            let path = &arrays[i.index(arrays.len())];
            if let Some(Value::Array(items)) = at_path(doc, path) {
                let n = i.index(items.len());
                let copy = items[n].clone();
                items.insert(n, copy);
            }
        }
        Mutation::Nest(i, depth) => {
            let path = pick_path(doc, i);
            if let Some(v) = at_path(doc, &path) {
                for _ in 0..*depth {
                    *v = Value::Array(vec![v.take()]);
                }
            }
        }
        Mutation::SetAction(i, action) => {
            if let Some(c) = some_change(doc, i) {
                c.insert("action".into(), Value::from(*action));
            }
        }
        Mutation::SwapBeforeAfter(i) => {
            if let Some(c) = some_change(doc, i) {
                let before = c.remove("before").unwrap_or(Value::Null);
                let after = c.remove("after").unwrap_or(Value::Null);
                c.insert("before".into(), after);
                c.insert("after".into(), before);
            }
        }
        Mutation::SetTarget(i, target) => {
            if let Some(c) = some_change(doc, i) {
                c.insert("target".into(), Value::from(target.as_str()));
            }
        }
        Mutation::SetResource(i, id, value) => {
            if let Some(c) = some_change(doc, i) {
                c.insert("resource".into(), id.clone());
                let slot = if c.get("after").is_some_and(|a| !a.is_null()) {
                    "after"
                } else {
                    "before"
                };
                c.insert(slot.into(), value.clone());
            }
        }
        Mutation::AddTarget(name, url, token) => {
            if let Some(targets) = doc.get_mut("targets").and_then(Value::as_array_mut) {
                // The first target, if an earlier mutation left it an object.
                let mut t = targets
                    .first()
                    .filter(|t| t.is_object())
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                t["name"] = Value::from(name.as_str());
                t["endpoint"] = Value::from(*url);
                t["connection"] = json!({
                    "url": url,
                    "username": null,
                    "token": token,
                    "notify_new_users": false,
                });
                targets.push(t);
            }
        }
        Mutation::AddRefusal(rule, message) => {
            if let Some(r) = doc.get_mut("refusals").and_then(Value::as_array_mut) {
                r.push(json!({ "rule": rule, "message": message }));
            }
        }
        Mutation::AddUnmanaged(target, id, current) => {
            if let Some(u) = doc.get_mut("unmanaged").and_then(Value::as_array_mut) {
                u.push(json!({ "address": "x", "target": target, "resource": id, "current": current }));
            }
        }
        Mutation::Reverse => {
            if let Some(c) = doc.get_mut("changes").and_then(Value::as_array_mut) {
                c.reverse();
            }
        }
        Mutation::SetNumber(i, number) => {
            // Numbers beyond what a Value holds are spliced into the text afterwards.
            let path = pick_path(doc, i);
            if let Some(v) = at_path(doc, &path) {
                *v = Value::from(format!("@@{number}@@"));
            }
        }
    }
}

/// The document as text: pretty or compact, with the number placeholders spliced in.
fn serialise(doc: &Value, pretty: bool) -> String {
    let text = if pretty {
        serde_json::to_string_pretty(doc).unwrap()
    } else {
        serde_json::to_string(doc).unwrap()
    };
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("\"@@") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        match after.find("@@\"") {
            Some(end) => {
                out.push_str(&after[..end].replace("\\\"", "\""));
                rest = &after[end + 3..];
            }
            None => {
                out.push_str("\"@@");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn quickstart_manifests() -> BTreeMap<String, Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/manifests");
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------

#[test]
fn the_fixtures_the_properties_start_from_are_valid() {
    let tmp = tempfile::tempdir().unwrap();
    write_files(tmp.path(), &quickstart_manifests());
    assert!(check_manifest_dir(tmp.path()), "the quickstart manifests resolve");
    assert!(check_one_file(base_manifest().as_bytes()), "the base manifest resolves");
    let text = serde_json::to_string_pretty(&quickstart_plan()).unwrap();
    assert!(check_plan_text(&text), "the saved quickstart plan reads");
    let plan = from_json(&text, Path::new(".")).unwrap();
    assert_eq!(plan.changes.len(), 29);
    assert_eq!(plan.unmanaged.len(), 8);
}

proptest! {
    #![proptest_config(config())]

    /// (1) Arbitrary bytes as a manifest file: any bytes (mostly not UTF-8), or ASCII
    /// with every control character.
    #[test]
    fn arbitrary_bytes_are_an_error_or_a_manifest(
        bytes in prop_oneof![vec(any::<u8>(), 0..1024), vec(0u8..0x80, 0..512)],
    ) {
        check_one_file(&bytes);
    }

    /// (1) Arbitrary text: YAML syntax soup mixed with any characters.
    #[test]
    fn arbitrary_text_is_an_error_or_a_manifest(
        pieces in vec(prop_oneof![4 => select(SOUP).prop_map(str::to_owned), 1 => ".{0,8}"], 0..80),
    ) {
        check_one_file(pieces.concat().as_bytes());
    }

    /// (2) Generated YAML documents of any shape, keys biased to the manifest's own.
    #[test]
    fn generated_yaml_is_an_error_or_a_manifest(
        doc in node(),
        sections in vec((select(&KEYS[..5]), node()), 0..5),
        top in any::<bool>(),
        layout in layout(),
    ) {
        // Half the time a top-level mapping of real section names.
        let doc = if top {
            Node::Map(sections.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(), false)
        } else {
            doc
        };
        check_one_file(document(&doc, &layout).as_bytes());
    }

    /// (2) Documents shaped like a manifest, added to a small valid one, so that most get
    /// past the parser and into `resolve`, and some resolve and plan.
    #[test]
    fn manifest_shaped_yaml_resolves_or_reports_located_problems(
        doc in manifest(),
        layout in layout(),
        edits in vec(edit(), 0..2),
        edited in 0..4u8,
        alone in any::<bool>(),
    ) {
        let text = document(&doc, &layout);
        let text = if edited == 0 { apply_edits(&text, &edits) } else { text };
        let tmp = tempfile::tempdir().unwrap();
        let mut files = BTreeMap::new();
        files.insert("generated.yaml".to_owned(), text.into_bytes());
        if !alone {
            files.insert("base.yaml".to_owned(), base_manifest().into_bytes());
        }
        write_files(tmp.path(), &files);
        check_manifest_dir(tmp.path());
    }

    /// (3) Several files at once, in subdirectories and with other extensions: each
    /// generated, soup, arbitrary bytes or empty.
    #[test]
    fn several_files_are_an_error_or_a_manifest(
        files in vec((
            select(vec![
                "a.yaml", "b.yml", "sub/c.yaml", "sub/deep/d.yaml", ".hidden.yaml", "notes.txt",
                "ü.yaml", "with space.yaml", "sub.yaml/e.yaml", "Z.YAML",
            ]),
            prop_oneof![
                4 => (manifest(), layout()).prop_map(|(d, l)| document(&d, &l).into_bytes()),
                1 => (node(), layout()).prop_map(|(d, l)| document(&d, &l).into_bytes()),
                1 => vec(select(SOUP), 0..40).prop_map(|p| p.concat().into_bytes()),
                1 => vec(any::<u8>(), 0..64),
                1 => Just(Vec::new()),
                1 => Just(base_manifest().into_bytes()),
            ],
        ), 0..5),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let files: BTreeMap<String, Vec<u8>> = files.into_iter().map(|(n, c)| (n.to_owned(), c)).collect();
        write_files(tmp.path(), &files);
        check_manifest_dir(tmp.path());
    }

    /// Mutated copies of the quickstart manifests: syntax inserted, text deleted, files cut
    /// short, tabs in the indentation, line endings changed.
    #[test]
    fn mutated_quickstart_manifests_are_an_error_or_a_manifest(
        which in any::<Index>(),
        edits in vec(edit(), 1..4),
        crlf in any::<bool>(),
    ) {
        let mut files = quickstart_manifests();
        let name = files.keys().nth(which.index(files.len())).unwrap().clone();
        let text = String::from_utf8(files[&name].clone()).unwrap();
        let text = if crlf { text.replace('\n', "\r\n") } else { text };
        files.insert(name, apply_edits(&text, &edits).into_bytes());
        let tmp = tempfile::tempdir().unwrap();
        write_files(tmp.path(), &files);
        check_manifest_dir(tmp.path());
    }

    /// (4) Arbitrary text as a plan file: JSON syntax soup and any characters.
    #[test]
    fn arbitrary_text_is_an_error_or_a_plan(
        pieces in vec(prop_oneof![
            3 => select(vec![
                "{", "}", "[", "]", ":", ",", "\"", "\\", "\\u0000", "\\ud800", "null", "true", "1",
                "-0", "1e999", "\"format_version\": 1", "\"changes\"", "\"targets\"", " ", "\n",
            ]).prop_map(str::to_owned),
            1 => ".{0,8}",
        ], 0..60),
    ) {
        check_plan_text(&pieces.concat());
    }

    /// (4) Arbitrary JSON as a plan file: any value, or an object with some of a plan's
    /// fields holding anything, most of it claiming the right format version.
    #[test]
    fn arbitrary_json_is_an_error_or_a_plan(
        value in json_value(),
        fields in vec((select(vec![
            "rollcall_version", "manifest_digest", "summary", "targets", "policy", "existing",
            "refusals", "changes", "unmanaged", "other",
        ]), json_value()), 0..10),
        shape in 0..4u8,
    ) {
        let value = match shape {
            0 => value,
            _ => {
                let mut doc = quickstart_plan();
                if shape == 1 {
                    doc = json!({ "format_version": 1 });
                }
                for (k, v) in fields {
                    doc[k] = v;
                }
                doc
            }
        };
        check_plan_text(&value.to_string());
    }

    /// (4) The saved quickstart plan, structurally mutated (fields dropped, duplicated and
    /// retyped, actions changed, before and after swapped, unknown targets, huge numbers,
    /// deep nesting) and sometimes cut or spliced as text. Whatever the reader accepts
    /// renders, and saves and reads back unchanged.
    #[test]
    fn mutated_plans_are_an_error_or_a_plan_that_round_trips(
        mutations in vec(mutation(), 0..4),
        pretty in any::<bool>(),
        edits in vec(edit(), 0..2),
        edit_text in 0..5u8,
    ) {
        let mut doc = quickstart_plan();
        for m in &mutations {
            mutate(&mut doc, m);
        }
        let text = serialise(&doc, pretty);
        let text = if edit_text == 0 { apply_edits(&text, &edits) } else { text };
        check_plan_text(&text);
    }
}
