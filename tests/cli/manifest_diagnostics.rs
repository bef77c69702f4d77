//! Data tests for the manifest: every directory under `tests/fixtures/invalid` fails
//! `rollcall validate` with exit 1 and the located diagnostics in its snapshot; every
//! valid fixture and example validates, and matches the committed JSON Schema.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn rollcall() -> Command {
    let mut cmd = Command::cargo_bin("rollcall").unwrap();
    cmd.env_clear().env("NO_COLOR", "1");
    cmd
}

fn dirs(under: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(under);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

#[test]
fn every_invalid_fixture_fails_with_located_diagnostics() {
    let fixtures = dirs("tests/fixtures/invalid");
    assert!(
        fixtures.len() >= 10,
        "expected the invalid fixtures, found {}",
        fixtures.len()
    );
    for dir in fixtures {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let out = rollcall().current_dir(&dir).arg("validate").output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}: exit code");
        assert!(out.stdout.is_empty(), "{name}: nothing on stdout");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        // These are about the directory as a whole, not a place in a file.
        if !["empty-dir", "empty-file", "no-target"].contains(&name.as_str()) {
            assert!(stderr.contains(".yaml:"), "{name}: no file:line:column in {stderr}");
            assert!(stderr.contains("hint:"), "{name}: no hint in {stderr}");
        }
        insta::assert_snapshot!(format!("invalid_{name}"), stderr);
    }
}

#[test]
fn secrets_written_into_manifests_are_never_echoed() {
    for (fixture, secret) in [
        ("literal-token", "NzE0MjY3OTk4MzQ1OmQ2"),
        ("secret-on-a-broken-line", "ghp_Zx81kQ0pasted"),
        ("url-credentials", "hunter2"),
        ("secret-under-quoted-key", "ghp_Quoted55secret"),
        ("unparsable-url-with-credentials", "S3cretPW"),
    ] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/invalid")
            .join(fixture);
        let out = rollcall().arg("validate").arg(&dir).output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("error:"), "{fixture}: {stderr}");
        assert!(!stderr.contains(secret), "{fixture}: {stderr}");
    }
}

fn manifest_dirs() -> Vec<PathBuf> {
    let mut all = dirs("tests/fixtures/valid");
    all.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/manifests"));
    all
}

#[test]
fn valid_fixtures_and_examples_validate() {
    for dir in manifest_dirs() {
        let out = rollcall().arg("validate").arg(&dir).output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn committed_schema() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/manifest.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn committed_schema_is_current() {
    let out = rollcall().arg("schema").output().unwrap();
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        printed,
        committed_schema(),
        "schemas/manifest.schema.json is stale: run `cargo run -- schema > schemas/manifest.schema.json`"
    );
}

#[test]
fn valid_fixtures_and_examples_match_the_schema() {
    let validator = jsonschema::validator_for(&committed_schema()).unwrap();
    for dir in manifest_dirs() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let value: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
            let errors: Vec<String> = validator.iter_errors(&value).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        }
    }
}

#[test]
fn the_schema_rejects_what_validate_rejects() {
    let validator = jsonschema::validator_for(&committed_schema()).unwrap();
    let bad: serde_json::Value =
        serde_saphyr::from_str("users:\n  alice: { name: A, emial: a@example.com }\n").unwrap();
    assert!(!validator.is_valid(&bad));
}

fn validate(dir: &Path) -> (Option<i32>, String) {
    let out = rollcall().arg("validate").arg(dir).output().unwrap();
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

const USERS: &str = "users:\n  alice: { name: Alice Liddell, email: alice@example.com }\n";

/// A file past the parser's node budget gets one sentence: the limit, its number and
/// what to do, not the budget's internal name.
#[test]
fn a_file_past_the_size_budget_is_told_to_split() {
    let dir = tempfile::tempdir().unwrap();
    let items = vec!["a"; 250_001].join(", ");
    std::fs::write(
        dir.path().join("big.yaml"),
        format!("{USERS}groups:\n  devops: {{ members: [{items}] }}\n"),
    )
    .unwrap();
    let (code, stderr) = validate(dir.path());
    assert_eq!(code, Some(1));
    assert!(stderr.contains("more than 250000 YAML values"), "{stderr}");
    assert!(stderr.contains("split it into several files"), "{stderr}");
    assert!(!stderr.contains("Nodes {"), "{stderr}");
    assert!(stderr.len() < 2_000, "{} bytes of stderr", stderr.len());
}

/// One file of people stops at about 41 600 users (six values each): the error gives the
/// limit and says to split the people over several files, and how many fit in one.
#[test]
fn a_file_of_too_many_people_is_told_to_split() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("users:\n");
    for n in 0..42_000 {
        text.push_str(&format!(
            "  user{n}: {{ name: User {n}, email: user{n}@example.com }}\n"
        ));
    }
    std::fs::write(dir.path().join("people.yaml"), text).unwrap();
    let (code, stderr) = validate(dir.path());
    assert_eq!(code, Some(1));
    assert!(stderr.contains("more than 250000 YAML values"), "{stderr}");
    assert!(stderr.contains("the most one manifest file may hold"), "{stderr}");
    assert!(
        stderr.contains("split it into several files (about 40 000 users"),
        "{stderr}"
    );
}

/// A 100 000-deep line is reported in a few hundred bytes: the snippet is a window
/// around the column, not the whole line.
#[test]
fn a_very_long_line_is_quoted_in_a_window() {
    let dir = tempfile::tempdir().unwrap();
    let deep = "[".repeat(100_000);
    std::fs::write(dir.path().join("deep.yaml"), format!("{USERS}groups: {deep}\n")).unwrap();
    let (code, stderr) = validate(dir.path());
    assert_eq!(code, Some(1));
    assert!(
        stderr.len() < 2_000,
        "{} bytes of stderr:\n{}",
        stderr.len(),
        &stderr[..2_000.min(stderr.len())]
    );
    let widest = stderr.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest < 140, "a line of {widest} characters");
}

/// A symlinked subdirectory is read like any other, and a symlink loop ends.
#[cfg(unix)]
#[test]
fn symlinked_directories_are_followed_once() {
    let root = tempfile::tempdir().unwrap();
    let shared = root.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::write(shared.join("users.yaml"), USERS).unwrap();
    let manifests = root.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    std::fs::write(
        manifests.join("groups.yaml"),
        "targets:\n  bb: { kind: bitbucket-datacenter, url: \"sandbox:state.yaml\" }\ngroups:\n  devops: { members: [alice] }\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(&shared, manifests.join("people")).unwrap();
    // A loop: a link inside the directory to the directory itself.
    std::os::unix::fs::symlink(&manifests, manifests.join("again")).unwrap();
    let out = rollcall().arg("validate").arg(&manifests).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    // Without the linked directory, `alice` would be an undeclared member.
    assert!(out.status.success(), "{stderr}");
}

/// A symlink to nothing is reported, not skipped in silence.
#[cfg(unix)]
#[test]
fn a_dangling_symlink_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.yaml"), USERS).unwrap();
    std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("teams")).unwrap();
    let (code, stderr) = validate(dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("teams") && stderr.contains("cannot read file"),
        "{stderr}"
    );
}
