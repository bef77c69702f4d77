//! Every snippet in README.md, docs/*.md and the examples' READMEs is run or validated, so
//! the documentation cannot drift from the tool:
//!
//! - ```sh, ```bash and ```console blocks (in a console block, the `$ ` lines) are run
//!   against the binary cargo built for the tests (`rollcall …` and `cargo run -- …` alike)
//!   in a private copy of the repository's examples, `/tmp/` paths moved into a private
//!   directory; `sandbox serve` runs in the background on a free port until its block ends,
//!   and `curl` is sent to it. Commands that cannot run here are listed in `NOT_RUN` with
//!   the reason; any other command is an error, never silently skipped. After all of
//!   them the copied examples must be byte-identical: following the documentation never
//!   changes the repository.
//! - ```yaml blocks are read as what they are: a SCIM sandbox state (`kind: scim`), an
//!   Atlassian Cloud sandbox state (`kind: atlassian-cloud`), a Buildkite sandbox state
//!   (`kind: buildkite`), a
//!   Bitbucket Data Center sandbox state (it has a key only a state has), or else a
//!   manifest, checked against the JSON Schema, and, when it declares `targets`, with
//!   `rollcall validate`. A block marked ```yaml fragment is a piece of something larger
//!   and only has to parse.
//! - ```json blocks parse as JSON, or as JSON Lines; ```text blocks (and blocks without a
//!   language) are output or diagrams, not checked; a ````markdown block (a longer fence,
//!   as it holds fences of its own) is checked where it is documented
//!   (`docs_plan_comment.rs`). A shell block marked `fragment` is part of a larger script
//!   (a CI step) and is not run.
//!
//! Also the examples' own suggestions: the commented-out lines for a real service in an
//! example's targets must validate once uncommented.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use rollcall::sandbox::atlassian_cloud::CloudState;
use rollcall::sandbox::buildkite::BkState;
use rollcall::sandbox::scim::ScimState;
use rollcall::sandbox::state::{DcState, StateFile as _};

/// Commands that are documented but not run here: (file, or "" for any; the command as
/// written, after joining continued lines; why).
const NOT_RUN: &[(&str, &str, &str)] = &[
    (
        "README.md",
        "cargo bench --bench access",
        "a benchmark: long, and it asserts nothing",
    ),
    (
        "README.md",
        "cargo bench --bench sources",
        "a benchmark: long, and it asserts only request counts",
    ),
    (
        "README.md",
        "cargo bench --bench sources -- --tops",
        "a benchmark: long, and it asserts only request counts",
    ),
    (
        "README.md",
        "cargo install --locked --path .",
        "builds a release binary into ~/.cargo/bin: minutes, and outside the test's directories; \
         the tests run the binary cargo built for them",
    ),
    ("README.md", "scripts/test", "the whole suite, this test included"),
    (
        "README.md",
        "rollcall completions bash > ~/.local/share/bash-completion/completions/rollcall",
        "writes into the home directory; tests/cli/cli_install.rs checks what it writes",
    ),
    (
        "README.md",
        "rollcall completions zsh > ~/.zfunc/_rollcall",
        "writes into the home directory; tests/cli/cli_install.rs checks what it writes",
    ),
    (
        "README.md",
        "rollcall completions fish > ~/.config/fish/completions/rollcall.fish",
        "writes into the home directory; tests/cli/cli_install.rs checks what it writes",
    ),
    (
        "README.md",
        "mkdir -p ~/.local/share/man/man1",
        "writes into the home directory; tests/cli/cli_install.rs checks what it writes",
    ),
    (
        "README.md",
        "rollcall man --dir ~/.local/share/man/man1",
        "writes into the home directory; tests/cli/cli_install.rs checks what it writes",
    ),
    (
        "README.md",
        "cargo bench --bench plan -- M",
        "a benchmark: long, and it asserts nothing",
    ),
    (
        "README.md",
        "cargo bench --bench plan -- M --latency 50",
        "a benchmark: long, and it asserts nothing",
    ),
    (
        "README.md",
        "cargo bench --bench plan -- M --faults",
        "a benchmark: long, and it asserts nothing",
    ),
    (
        "README.md",
        "cargo bench --bench plan_scim -- --latency 50",
        "a benchmark: long, and it asserts nothing",
    ),
    (
        "README.md",
        "cargo bench --bench plan_cloud",
        "a benchmark: long, and it asserts nothing",
    ),
    (
        "README.md",
        "cargo bench --bench plan_cloud -- --latency 0",
        "a benchmark: long, and it asserts nothing",
    ),
    (
        "README.md",
        "cargo bench --bench plan_buildkite",
        "a benchmark: long, and it asserts only the read's requests and complexity points",
    ),
    (
        "README.md",
        "cargo bench --bench plan_buildkite -- --latency 0",
        "a benchmark: long, and it asserts only the read's requests and complexity points",
    ),
    (
        "README.md",
        "cargo bench --bench plan_buildkite -- --paced",
        "a benchmark: over a minute of waiting for complexity windows, and it asserts only counts",
    ),
    (
        "docs/safety.md",
        "rollcall plan manifests --out plan.json",
        "a transcript of a worked example whose manifests (13 accounts, users pruned) are described, not shipped",
    ),
    ("docs/safety.md", "echo $?", "part of the transcript above"),
    (
        "examples/group-sync/README.md",
        "rollcall plan manifests --allow-source-shrink backend --out plan.json",
        "follows edits to the Okta sandbox made by hand, as the page describes",
    ),
    (
        "examples/group-sync/README.md",
        "rollcall apply plan.json --allow-source-shrink backend",
        "follows edits to the Okta sandbox made by hand, as the page describes",
    ),
    (
        "docs/ci/README.md",
        "rollcall apply plan.json --expect-digest sha256:… --manifests manifests",
        "the digest stands for the one the pull request showed; tests/cli/ci_recipes.rs runs the recipes that pass it",
    ),
    (
        "docs/saved-plans.md",
        "rollcall apply plan.json --expect-digest sha256:2a91746c…",
        "the digest stands for the one a reviewer saw; cli_saved_plans::expect_digest_pins_the_reviewed_plan_file runs it",
    ),
    (
        "docs/safety.md",
        "rollcall apply plan.json --allow-deletes 5",
        "part of the transcript above",
    ),
];

/// Keys only a Bitbucket Data Center sandbox state has, never a manifest.
const DC_STATE_KEYS: &[&str] = &["operator", "licence_limit", "global", "projects", "faults"];

/// The top-level keys of a manifest.
const MANIFEST_KEYS: &[&str] = &["sources", "targets", "users", "groups", "access", "policy"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// One fenced block of a Markdown file.
pub(crate) struct Block {
    /// `README.md`, `docs/sandbox.md`.
    pub(crate) file: String,
    /// The line of the opening fence, 1-based.
    pub(crate) line: usize,
    pub(crate) lang: String,
    /// Words after the language in the info string, such as `fragment`.
    marks: Vec<String>,
    pub(crate) body: String,
}

impl Block {
    fn at(&self) -> String {
        format!("{}:{} (```{})", self.file, self.line, self.lang)
    }
}

fn markdown_files() -> Vec<String> {
    let mut files = vec!["README.md".to_owned()];
    // docs/ and its folders (docs/sources/ holds a page per identity source).
    let mut docs: Vec<String> = Vec::new();
    for dir in ["docs", "docs/sources", "docs/ci"] {
        let Ok(entries) = std::fs::read_dir(root().join(dir)) else {
            continue;
        };
        docs.extend(
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".md"))
                .map(|name| format!("{dir}/{name}")),
        );
    }
    docs.sort();
    files.extend(docs);
    // Each example's README, whose commands run from the repository's root like the
    // README's.
    let mut examples: Vec<String> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .map(|name| format!("examples/{name}/README.md"))
        .filter(|readme| root().join(readme).is_file())
        .collect();
    examples.sort();
    files.extend(examples);
    files
}

/// The fenced blocks of `file`; a fence may be indented (inside a list item), and its
/// content loses that indentation.
fn blocks(file: &str) -> Vec<Block> {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let mut found = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim_start();
        // A fence of three backticks or more, closed by a line of at least as many.
        let fence = trimmed.chars().take_while(|&c| c == '`').count();
        if fence < 3 {
            continue;
        }
        let info = &trimmed[fence..];
        let indent = line.len() - trimmed.len();
        let mut words = info.split_whitespace().map(str::to_owned);
        let lang = words.next().unwrap_or_default();
        let marks = words.collect();
        let mut body = String::new();
        for (_, inner) in lines.by_ref() {
            let inner_trimmed = inner.trim();
            if inner_trimmed.len() >= fence && inner_trimmed.chars().all(|c| c == '`') {
                break;
            }
            body.push_str(inner.get(indent..).unwrap_or(inner.trim_start()));
            body.push('\n');
        }
        found.push(Block {
            file: file.to_owned(),
            line: n + 1,
            lang,
            marks,
            body,
        });
    }
    found
}

pub(crate) fn all_blocks() -> Vec<Block> {
    markdown_files().iter().flat_map(|f| blocks(f)).collect()
}

#[test]
fn every_block_names_a_language_this_test_knows() {
    // No language: a diagram or other plain text, like ```text.
    let known = ["sh", "bash", "console", "yaml", "json", "text", "markdown", ""];
    let unknown: Vec<String> = all_blocks()
        .iter()
        .filter(|b| !known.contains(&b.lang.as_str()))
        .map(Block::at)
        .collect();
    assert!(
        unknown.is_empty(),
        "blocks this test cannot check (use one of {known:?}): {unknown:?}"
    );
    let marked: Vec<String> = all_blocks()
        .iter()
        .filter(|b| b.marks.iter().any(|m| m != "fragment"))
        .map(Block::at)
        .collect();
    assert!(marked.is_empty(), "unknown marks (only `fragment`): {marked:?}");
}

// ---------------------------------------------------------------------------------------
// YAML

#[test]
fn every_yaml_snippet_is_valid() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("schemas/manifest.schema.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut problems = Vec::new();
    let yaml = all_blocks().into_iter().filter(|b| b.lang == "yaml");
    for block in yaml {
        if let Err(problem) = check_yaml(&block, &validator) {
            problems.push(format!("{}: {problem}", block.at()));
        }
    }
    assert!(problems.is_empty(), "invalid YAML snippets:\n{}", problems.join("\n\n"));
}

fn check_yaml(block: &Block, schema: &jsonschema::Validator) -> Result<(), String> {
    let value: serde_json::Value = serde_saphyr::from_str(&block.body).map_err(|e| format!("not YAML: {e}"))?;
    if block.marks.iter().any(|m| m == "fragment") {
        return Ok(());
    }
    let keys: Vec<&str> = value
        .as_object()
        .ok_or("not a mapping: mark the block ```yaml fragment if it is part of one")?
        .keys()
        .map(String::as_str)
        .collect();
    if value.get("kind").and_then(|k| k.as_str()) == Some("scim") {
        return ScimState::parse(&block.body)
            .map(drop)
            .map_err(|e| format!("not a SCIM sandbox state: {e}"));
    }
    if value.get("kind").and_then(|k| k.as_str()) == Some("atlassian-cloud") {
        return CloudState::parse(&block.body)
            .map(drop)
            .map_err(|e| format!("not an Atlassian Cloud sandbox state: {e}"));
    }
    if value.get("kind").and_then(|k| k.as_str()) == Some("buildkite") {
        return BkState::parse(&block.body)
            .map(drop)
            .map_err(|e| format!("not a Buildkite sandbox state: {e}"));
    }
    // Any other emulator's state (an identity source's), by the kind it names.
    if let Ok(sandbox) = rollcall::provider::registry::sandbox_kind_of(&block.body) {
        if value.get("kind").is_some() {
            return if (sandbox.reads)(&block.body) {
                Ok(())
            } else {
                Err(format!("not {}", sandbox.describe))
            };
        }
    }
    if keys.iter().any(|k| DC_STATE_KEYS.contains(k)) {
        return DcState::parse(&block.body)
            .map(drop)
            .map_err(|e| format!("not a Bitbucket Data Center sandbox state: {e}"));
    }
    if let Some(stray) = keys.iter().find(|k| !MANIFEST_KEYS.contains(k)) {
        return Err(format!(
            "`{stray}` is no manifest's or state's key: mark the block ```yaml fragment if it is part of one"
        ));
    }
    let errors: Vec<String> = schema.iter_errors(&value).map(|e| e.to_string()).collect();
    if !errors.is_empty() {
        return Err(format!("does not match the manifest's JSON Schema: {errors:?}"));
    }
    if keys.contains(&"targets") {
        validate_manifest(&block.body)?;
    }
    Ok(())
}

/// `rollcall validate` on a directory holding `text` as its one manifest file.
fn validate_manifest(text: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("manifest.yaml"), text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .arg("validate")
        .arg(dir.path())
        .env_clear()
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`rollcall validate` refuses it:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// An example's targets file may suggest, in comments, the lines for a real service
/// (`#   url: …`, `#   auth: …`), or for each of several targets under its name
/// (`#   directory:` then `#     url: …`). Uncommented in place of the sandbox `url` (of
/// the target named, else of the last one), they must make a valid manifest.
#[test]
fn the_examples_suggested_target_lines_validate() {
    let mut checked = 0;
    for example in ["quickstart", "northwind"] {
        let dir = root().join("examples").join(example).join("manifests");
        let text = std::fs::read_to_string(dir.join("targets.yaml")).unwrap();
        let suggested: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("#   ")).collect();
        if suggested.is_empty() {
            continue;
        }
        // The lines by target: a line ending in `:` at the left names one.
        let mut by_target: Vec<(Option<&str>, Vec<&str>)> = Vec::new();
        for line in suggested {
            match line.strip_suffix(':').filter(|n| !n.starts_with(' ')) {
                Some(name) => by_target.push((Some(name), Vec::new())),
                None => match by_target.last_mut() {
                    Some((_, lines)) => lines.push(line.trim_start()),
                    None => by_target.push((None, vec![line])),
                },
            }
        }
        let mut edited = text.clone();
        for (target, lines) in by_target {
            // The target's own `url: sandbox:` line: the first after its name, or the last
            // of the file.
            let url_line = match target {
                Some(name) => edited
                    .lines()
                    .skip_while(|l| l.trim_end() != format!("  {name}:"))
                    .find(|l| l.trim_start().starts_with("url: sandbox:")),
                None => edited.lines().rfind(|l| l.trim_start().starts_with("url: sandbox:")),
            }
            .unwrap()
            .to_owned();
            let indent = &url_line[..url_line.len() - url_line.trim_start().len()];
            let replacement: String = lines.iter().map(|l| format!("{indent}{l}\n")).collect();
            edited = edited.replacen(&format!("{url_line}\n"), &replacement, 1);
        }
        let copy = tempfile::tempdir().unwrap();
        common::copy_dir(&dir, copy.path());
        std::fs::write(copy.path().join("targets.yaml"), &edited).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_rollcall"))
            .arg("validate")
            .arg(copy.path())
            .env_clear()
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "examples/{example}/manifests/targets.yaml: the suggested lines do not validate:\n{edited}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert!(checked > 0, "no example suggests lines for a real service any more");
}

// ---------------------------------------------------------------------------------------
// JSON

#[test]
fn every_json_snippet_parses() {
    let mut problems = Vec::new();
    for block in all_blocks().into_iter().filter(|b| b.lang == "json") {
        let whole = serde_json::from_str::<serde_json::Value>(&block.body);
        let lines = block
            .body
            .lines()
            .filter(|l| !l.trim().is_empty())
            .try_for_each(|l| serde_json::from_str::<serde_json::Value>(l).map(drop));
        if let (Err(e), Err(_)) = (whole, lines) {
            problems.push(format!("{}: neither JSON nor JSON Lines: {e}", block.at()));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

// ---------------------------------------------------------------------------------------
// Shell

#[test]
fn every_shell_snippet_runs_and_leaves_the_examples_unchanged() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    common::copy_dir(&root().join("examples"), &repo.join("examples"));
    let tmp = work.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut skipped = Vec::new();
    let mut ran = 0;
    for block in all_blocks() {
        if block.marks.iter().any(|m| m == "fragment") {
            continue;
        }
        let commands = match block.lang.as_str() {
            "sh" | "bash" => commands(&block.body, false),
            "console" => commands(&block.body, true),
            _ => continue,
        };
        let mut shell = Shell::new(&block, &repo, &tmp, work.path());
        for command in commands {
            if let Some((_, _, why)) = NOT_RUN
                .iter()
                .find(|(file, text, _)| (file.is_empty() || *file == block.file) && command.text == *text)
            {
                skipped.push((block.file.clone(), command.text.clone(), *why));
                continue;
            }
            shell.run(&command);
            ran += 1;
        }
        shell.finish();
    }
    eprintln!("ran {ran} documented commands; not run: {skipped:#?}");
    assert!(ran > 0);
    for (file, text, _) in NOT_RUN {
        assert!(
            skipped
                .iter()
                .any(|(f, t, _)| (file.is_empty() || f == file) && t == text),
            "NOT_RUN lists `{text}` in {file}, which no snippet has any more: remove the entry"
        );
    }
    assert_same_tree(&root().join("examples"), &repo.join("examples"));
}

/// One command of a snippet: the text as written (continued lines joined) and the exit
/// code a trailing comment promises (`# … exit 0`), else 0.
struct ShellCommand {
    text: String,
    expect_exit: i32,
    line: usize,
}

/// The commands of a shell block: every line, or in a console transcript only the `$ `
/// lines; `\` continues a line, `#` starts a comment.
fn commands(body: &str, console: bool) -> Vec<ShellCommand> {
    let mut found = Vec::new();
    let mut pending: Option<(String, usize)> = None;
    for (n, line) in body.lines().enumerate() {
        let line = match (&pending, console) {
            (Some(_), _) => line,
            (None, true) => match line.strip_prefix("$ ") {
                Some(command) => command,
                None => continue,
            },
            (None, false) => line,
        };
        let (mut text, start) = pending.take().unwrap_or_else(|| (String::new(), n + 1));
        if let Some(continued) = line.strip_suffix('\\') {
            text.push_str(continued);
            pending = Some((text, start));
            continue;
        }
        text.push_str(line);
        let (code, comment) = split_comment(&text);
        let code = code.split_whitespace().collect::<Vec<_>>().join(" ");
        if code.is_empty() {
            continue;
        }
        let expect_exit = comment
            .and_then(|c| c.split("exit ").nth(1))
            .and_then(|rest| rest.chars().next()?.to_digit(10))
            .map_or(0, |d| d as i32);
        found.push(ShellCommand {
            text: code,
            expect_exit,
            line: start,
        });
    }
    found
}

/// The code and the comment of a line: `#` at the start of a word, outside quotes.
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let mut quote = None;
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if previous.is_whitespace() => return (&line[..i], Some(&line[i..])),
            _ => {}
        }
        previous = c;
    }
    (line, None)
}

/// Words as a POSIX shell splits them: single and double quotes, backslash escapes.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                w.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => w.extend(chars.next()),
                        c => w.push(c),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// Runs one block's commands: in the copy of the repository when they name `examples/`,
/// else in a fresh copy of the quickstart (a manifest project: `manifests/`, `sandbox/`).
struct Shell {
    at: String,
    cwd: PathBuf,
    tmp: PathBuf,
    /// Documented port to the port a background server really got.
    ports: Vec<(String, String)>,
    servers: Vec<Child>,
}

impl Shell {
    fn new(block: &Block, repo: &Path, tmp: &Path, work: &Path) -> Shell {
        let cwd = if block.body.contains("examples/") {
            repo.to_owned()
        } else {
            let project = work.join(format!("project-{}-{}", block.file.replace('/', "-"), block.line));
            common::copy_dir(&root().join("examples/quickstart"), &project);
            project
        };
        Shell {
            at: block.at(),
            cwd,
            tmp: tmp.to_owned(),
            ports: Vec::new(),
            servers: Vec::new(),
        }
    }

    /// A word with `/tmp/` moved to the private directory and documented ports mapped.
    fn local(&self, word: &str) -> String {
        let mut word = word.replace("/tmp/", &format!("{}/", self.tmp.display()));
        for (documented, real) in &self.ports {
            word = word.replace(&format!("127.0.0.1:{documented}"), &format!("127.0.0.1:{real}"));
        }
        word
    }

    fn run(&mut self, command: &ShellCommand) {
        let at = format!("{} line {}: `{}`", self.at, command.line, command.text);
        let words = split_words(&command.text);
        if let Some(operator) = words
            .iter()
            .find(|w| ["|", "&&", "||", ";", ">", ">>", "<", "&"].contains(&w.as_str()))
        {
            panic!("{at}: `{operator}` is more shell than this test runs: split the command, or list it in NOT_RUN");
        }
        let mut env = Vec::new();
        let mut rest = words.as_slice();
        while let Some((first, tail)) = rest.split_first() {
            match first.split_once('=') {
                Some((name, value)) if name.chars().all(|c| c.is_ascii_uppercase() || c == '_') => {
                    env.push((name.to_owned(), value.to_owned()));
                    rest = tail;
                }
                _ => break,
            }
        }
        let args: Vec<String> = rest.iter().map(|w| self.local(w)).collect();
        match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
            ["rollcall", tail @ ..] | ["cargo", "run", "--", tail @ ..] => {
                if tail.starts_with(&["sandbox", "serve"]) {
                    self.serve(&at, tail, &env);
                } else {
                    self.rollcall(&at, tail, &env, command.expect_exit);
                }
            }
            ["cp", "-r", from, to] => common::copy_dir(&self.cwd.join(from), &self.cwd.join(to)),
            ["curl", tail @ ..] => curl(&at, tail),
            _ => panic!(
                "{at}: this test cannot run that: make the snippet runnable, or list it in NOT_RUN with the reason"
            ),
        }
    }

    fn rollcall(&self, at: &str, args: &[&str], env: &[(String, String)], expect: i32) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rollcall"))
            .args(args)
            .env_clear()
            .env("NO_COLOR", "1")
            .envs(env.iter().cloned())
            .current_dir(&self.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // `apply` asks before it changes anything; the reader of the docs answers yes.
        let _ = child.stdin.take().unwrap().write_all(b"yes\n");
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(expect),
            "{at}: exit code\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `sandbox serve` in the background on a free port, until the block ends.
    fn serve(&mut self, at: &str, args: &[&str], env: &[(String, String)]) {
        let mut args: Vec<&str> = args.to_vec();
        let documented = match args.iter().position(|a| *a == "--port") {
            Some(i) if i + 1 < args.len() => std::mem::replace(&mut args[i + 1], "0").to_owned(),
            _ => {
                args.extend(["--port", "0"]);
                "7990".to_owned()
            }
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_rollcall"))
            .args(&args)
            .env_clear()
            .env("NO_COLOR", "1")
            .envs(env.iter().cloned())
            .current_dir(&self.cwd)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let Some(Ok(first)) = lines.next() else {
            let mut stderr = String::new();
            child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
            panic!("{at}: the server did not start: {stderr}");
        };
        let port = first
            .split("127.0.0.1:")
            .nth(1)
            .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect::<String>())
            .unwrap_or_else(|| panic!("{at}: no address in {first:?}"));
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        self.ports.push((documented, port));
        self.servers.push(child);
    }

    /// Stops the block's servers as Ctrl-C would; each must exit cleanly.
    fn finish(self) {
        for mut server in self.servers {
            let pid = server.id();
            let status = Command::new("sh")
                .args(["-c", &format!("kill -INT {pid}")])
                .status()
                .unwrap();
            assert!(status.success());
            let exit = server.wait().unwrap();
            assert!(exit.success(), "{}: the server did not stop cleanly: {exit}", self.at);
        }
    }
}

/// `curl [-s] [-i] [-X METHOD] [-H HEADER]... [-d BODY] URL` as one HTTP/1.1 request; it
/// must succeed, and a JSON answer must hold no `errors` (GraphQL reports what failed
/// with HTTP 200).
fn curl(at: &str, args: &[&str]) {
    let (mut method, mut headers, mut body, mut url) = (None, Vec::new(), None, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match *arg {
            "-s" | "-S" | "-f" | "-sS" | "-i" | "--silent" | "--fail" | "--include" => {}
            "-X" | "--request" => method = Some(*args.next().unwrap()),
            "-H" | "--header" => headers.push(*args.next().unwrap()),
            "-d" | "--data" => body = Some(*args.next().unwrap()),
            a if a.starts_with('-') => panic!("{at}: this test's curl does not know {a}"),
            a => url = Some(a),
        }
    }
    // As curl: a body makes the request a POST, of form data unless a header says otherwise.
    let method = method.unwrap_or(if body.is_some() { "POST" } else { "GET" });
    if body.is_some()
        && !headers
            .iter()
            .any(|h| h.to_ascii_lowercase().starts_with("content-type:"))
    {
        headers.push("Content-Type: application/x-www-form-urlencoded");
    }
    let url = url.unwrap_or_else(|| panic!("{at}: no URL"));
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("{at}: only http://"));
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for header in headers {
        request.push_str(&format!("{header}\r\n"));
    }
    if let Some(body) = body {
        request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    } else {
        request.push_str("\r\n");
    }
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status: u16 = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!((200..300).contains(&status), "{at}: answered {status}:\n{answer}");
    let json = answer.split_once("\r\n\r\n").map(|(_, b)| b.trim()).unwrap_or_default();
    if let Ok(serde_json::Value::Object(reply)) = serde_json::from_str::<serde_json::Value>(json) {
        assert!(!reply.contains_key("errors"), "{at}: an answer with errors:\n{answer}");
    }
}

/// `copy` holds exactly the files of `original`, byte for byte.
fn assert_same_tree(original: &Path, copy: &Path) {
    let (a, b) = (files(original), files(copy));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "following the documentation added or removed files in examples/"
    );
    for (name, bytes) in &a {
        assert!(
            b[name] == *bytes,
            "following the documentation changed examples/{}",
            name.display()
        );
    }
}

fn files(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut found = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.insert(
                    path.strip_prefix(dir).unwrap().to_owned(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    found
}

#[test]
fn shell_words_and_comments_split_as_a_shell_would() {
    assert_eq!(
        split_words(r#"A='x y' rollcall "a b" c\ d -H 'K: v'"#),
        ["A=x y", "rollcall", "a b", "c d", "-H", "K: v"]
    );
    let found = commands("a b   # note, exit 2\n\nc \\\n  d 'e # f'\n", false);
    let texts: Vec<(&str, i32)> = found.iter().map(|c| (c.text.as_str(), c.expect_exit)).collect();
    assert_eq!(texts, [("a b", 2), ("c d 'e # f'", 0)]);
    let transcript = commands("$ rollcall plan\noutput\n$ echo $?\n3\n", true);
    assert_eq!(transcript.len(), 2);
}
