//! The exit codes CI relies on, for every command: usage errors are 1 (never 2, which
//! `plan --detailed-exitcode` reserves for "changes present"), help and version are 0, the
//! README and `--help` show the same table, and Ctrl-C is 130: at once while reading,
//! after the changes in flight while applying, with what was not started listed.

use crate::common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use rollcall::cli::error::EXIT_CODES_HELP;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rollcall"))
}

fn rollcall(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_usage_error_exits_1_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[&[&str]] = &[
        &[],
        &["frobnicate"],
        &["plan", "--detailled-exitcode"],
        &["plan", "--json", "--markdown"],
        &["apply", "--parallelism", "0"],
        &["apply", "--allow-deletes", "many"],
        &["validate", "--strict"],
        &["show"],
        &["show", "plan.json", "--offline", "--manifests", "m"],
        &["schema", "extra"],
        &["import"],
        &["import", "manifests", "--out"],
        &["import", "manifests", "--out", "o", "--target"],
        &["sandbox"],
        &["sandbox", "serve"],
        &["sandbox", "serve", "state.yaml", "--port", "99999"],
    ];
    for args in cases {
        let (code, stdout, stderr) = rollcall(dir.path(), args);
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains("error:") || stderr.contains("Usage:"),
            "{args:?}: {stderr}"
        );
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
    }
}

#[test]
fn help_and_version_exit_0_and_help_shows_the_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--help"][..],
        &["plan", "--help"],
        &["apply", "--help"],
        &["show", "--help"],
        &["validate", "--help"],
        &["schema", "--help"],
    ] {
        let (code, stdout, stderr) = rollcall(dir.path(), args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(stdout.contains(EXIT_CODES_HELP), "{args:?}: {stdout}");
    }
    for args in [&["--version"][..], &["help"], &["sandbox", "serve", "--help"]] {
        let (code, _, stderr) = rollcall(dir.path(), args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
    }
}

#[test]
fn the_readme_shows_the_exit_codes_of_help() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(
        readme.contains(EXIT_CODES_HELP),
        "README.md must show the table `--help` prints:\n{EXIT_CODES_HELP}"
    );
}

/// A private copy of the quickstart whose sandbox answers every request after `ms`.
fn slow_quickstart(ms: u64) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart"),
        tmp.path(),
    );
    let state = tmp.path().join("sandbox/bitbucket.yaml");
    let mut text = std::fs::read_to_string(&state).unwrap();
    text.push_str(&format!("faults:\n  latency_ms: {ms}\n"));
    std::fs::write(&state, text).unwrap();
    let root = tmp.path().to_owned();
    (tmp, root, state)
}

fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("NO_COLOR", "1")
        .env("ROLLCALL_LOG", "rollcall::http=debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn interrupt(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Reads lines from `from` until one contains `marker`; returns what was read.
fn read_until(from: &mut impl BufRead, marker: &str) -> String {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if from.read_line(&mut line).unwrap() == 0 {
            panic!("ended before {marker:?}:\n{seen}");
        }
        seen.push_str(&line);
        if line.contains(marker) {
            return seen;
        }
    }
}

#[test]
fn ctrl_c_while_planning_exits_130_at_once() {
    let (_g, root, _) = slow_quickstart(400);
    let mut child = spawn(&root, &["plan", "manifests"]);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    // The first answer shows the handler is installed and the plan is under way.
    read_until(&mut stderr, "response");
    interrupt(&child);
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("Interrupted."), "{rest}");
}

#[test]
fn ctrl_c_while_applying_finishes_what_is_in_flight_and_lists_the_rest() {
    let (_g, root, state) = slow_quickstart(150);
    let before = std::fs::read_to_string(&state).unwrap();
    let mut child = spawn(
        &root,
        &[
            "apply",
            "manifests",
            "--auto-approve",
            "--parallelism",
            "1",
            "--audit-log",
            "audit.jsonl",
        ],
    );
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    read_until(&mut stdout, "Applying plan");
    interrupt(&child);
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    let headline = rest
        .lines()
        .find(|l| l.starts_with("Apply interrupted: "))
        .unwrap_or_else(|| panic!("{rest}"));
    let applied: usize = headline["Apply interrupted: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(headline.ends_with(" not started."), "{headline}");
    assert!(applied < 29, "some changes were not started: {headline}");
    assert!(rest.contains("Not started because the apply was interrupted"), "{rest}");
    // The audit log has an outcome for every change and an intent for every change sent,
    // and the state what was applied.
    let audit = std::fs::read_to_string(root.join("audit.jsonl")).unwrap();
    assert_eq!(audit.matches("\"event\":\"outcome\"").count(), 29, "{audit}");
    let intents = audit.matches("\"event\":\"intent\"").count();
    assert!(intents >= applied && intents <= 29, "{audit}");
    assert_eq!(audit.lines().count(), 29 + intents, "{audit}");
    assert_eq!(audit.matches("\"outcome\":\"applied\"").count(), applied, "{audit}");
    assert_eq!(
        audit.matches("\"outcome\":\"interrupted\"").count(),
        29 - applied,
        "{audit}"
    );
    if applied == 0 {
        assert_eq!(before, std::fs::read_to_string(&state).unwrap());
    }
    // What remains is planned again, and applies.
    let (code, out, err) = rollcall(&root, &["apply", "manifests", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains(&format!("Apply complete: {} applied", 29 - applied)),
        "{out}"
    );
}
