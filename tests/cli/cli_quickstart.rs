//! End-to-end runs of the binary on a copy of the quickstart: the plan in all three
//! formats (snapshotted, and byte-identical across runs), the exit codes, confirmation,
//! and the idempotence contract (apply, then plan is empty).

use crate::common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// A private copy of the quickstart; returns (tempdir guard, manifest dir, state file).
fn quickstart() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart"),
        tmp.path(),
    );
    let manifests = tmp.path().join("manifests");
    let state = tmp.path().join("sandbox/bitbucket.yaml");
    (tmp, manifests, state)
}

fn rollcall(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("rollcall").unwrap();
    cmd.env_clear().env("NO_COLOR", "1").current_dir(dir);
    cmd
}

fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = rollcall(dir).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn plan_shows_creations_changes_deletions_and_unmanaged() {
    let (_tmp, dir, _) = quickstart();
    let (code, text, stderr) = run(&dir, &["plan"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(text.contains("  + bitbucket.user[\"frank\"]"));
    assert!(text.contains("  ~ bitbucket.user[\"bob\"]"));
    assert!(text.contains("email: \"bob@old-domain.example\" -> \"bob.stone@northwind.example\""));
    assert!(text.contains("  - bitbucket.group[\"backend\"].member[\"judy\"]  (user `judy` is inactive)"));
    assert!(text.contains("? bitbucket.user[\"mallory\"]"));
    insta::assert_snapshot!("quickstart_plan_text", text);
}

#[test]
fn every_format_is_byte_identical_across_runs() {
    let (_tmp, dir, _) = quickstart();
    for format in [&[][..], &["--json"][..], &["--markdown"][..]] {
        let mut args = vec!["plan"];
        args.extend_from_slice(format);
        let first = run(&dir, &args);
        let second = run(&dir, &args);
        assert_eq!(first, second, "{format:?}");
    }
    let (_, json, _) = run(&dir, &["plan", "--json"]);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["format_version"], 3);
    assert_eq!(value["summary"]["create"], 22);
    insta::assert_snapshot!("quickstart_plan_json", json);
    let (_, md, _) = run(&dir, &["plan", "--markdown"]);
    insta::assert_snapshot!("quickstart_plan_markdown", md);
}

#[test]
fn apply_then_plan_is_empty() {
    let (_tmp, dir, state) = quickstart();
    assert_eq!(run(&dir, &["plan", "--detailed-exitcode"]).0, Some(2));
    let (code, out, err) = run(&dir, &["apply", "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains("Apply complete: 29 applied, 0 failed, 0 skipped."),
        "{out}"
    );
    let written = std::fs::read_to_string(&state).unwrap();
    assert!(written.contains("frank"), "the sandbox state was written back");
    let (code, out, _) = run(&dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("No changes."), "{out}");
}

#[test]
fn apply_asks_and_only_yes_goes_ahead() {
    let (_tmp, dir, state) = quickstart();
    let before = std::fs::read_to_string(&state).unwrap();
    // Anything but `yes` cancels, and a cancelled apply is not a success: exit 1.
    for answer in ["no\n", "y\n", "YES\n", "\n"] {
        let out = rollcall(&dir).args(["apply"]).write_stdin(answer).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{answer:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Apply cancelled. Nothing was changed."),
            "{answer:?}"
        );
        assert_eq!(std::fs::read_to_string(&state).unwrap(), before);
    }

    let out = rollcall(&dir).args(["apply"]).write_stdin("").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--auto-approve"));
    assert_eq!(std::fs::read_to_string(&state).unwrap(), before);

    let out = rollcall(&dir)
        .args(["apply", "--parallelism", "1"])
        .write_stdin("yes\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(run(&dir, &["plan", "--detailed-exitcode"]).0, Some(0));
}

#[test]
fn a_bad_manifest_stops_plan_with_exit_1() {
    let (_tmp, dir, _) = quickstart();
    std::fs::write(dir.join("extra.yaml"), "groups:\n  sre: { members: [nobody] }\n").unwrap();
    let (code, out, err) = run(&dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(1));
    assert!(out.is_empty());
    assert!(err.contains("extra.yaml:2:20"), "{err}");
}
