//! `--log-format json`: every line on stderr is one JSON object of the documented shape,
//! the last of a failed run carrying its exit code, stdout as it always was, and no
//! token anywhere, debug logging and retries included. Then the live progress on a
//! terminal, under a pseudo-terminal (`script` from util-linux), and its absence off one.

use std::path::Path;

use assert_cmd::Command;
use rollcall::sandbox::bitbucket_dc::{serve, Shared};
use rollcall::sandbox::faults::FaultConfig;
use rollcall::sandbox::state::DcState;
use serde_json::Value;

const TOKEN: &str = "tok-5a4b3c2d1e0f-never-logged";

const STATE: &str = r#"
operator: admin
licence_limit: 2
users:
  admin: { display_name: Admin, email: admin@example.com }
  ann: { display_name: Ann, email: ann@example.com }
global:
  users: { admin: SYS_ADMIN }
projects:
  PLAT: { name: Platform }
"#;

fn manifest(dir: &Path, url: &str) {
    let text = format!(
        "targets:\n  bb:\n    kind: bitbucket-datacenter\n    url: {url}\n    notify_new_users: false\n    auth:\n      username: admin\n      token: ${{env:BB_TOKEN}}\n\
         users:\n  ann: {{ name: Ann, email: ann@example.com }}\n  bo: {{ name: Bo, email: bo@example.com }}\n\
         access:\n  bb:\n    global:\n      users: {{ ann: read, bo: read }}\n    projects:\n      PLAT: {{ users: {{ ann: admin }} }}\n"
    );
    std::fs::write(dir.join("manifest.yaml"), text).unwrap();
}

/// A run's exit code, stdout and stderr, with JSON logs from the environment and every
/// debug event turned on.
fn run(dir: &Path, token: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let env = [
        ("BB_TOKEN", token),
        ("ROLLCALL_LOG", "debug"),
        ("ROLLCALL_LOG_FORMAT", "json"),
    ];
    crate::common::run_in_env(dir, &env, args)
}

/// Every line of `stderr` as the JSON object the documentation describes.
fn json_lines(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            let object = value.as_object().unwrap_or_else(|| panic!("not an object: {line}"));
            let keys: Vec<&str> = object.keys().map(String::as_str).collect();
            assert_eq!(keys.len(), 5, "{line}");
            for key in ["level", "message", "target", "timestamp"] {
                assert!(object[key].is_string(), "{key} in {line}");
            }
            assert!(object["fields"].is_object(), "{line}");
            assert!(
                ["error", "warn", "info", "debug", "trace"].contains(&object["level"].as_str().unwrap()),
                "{line}"
            );
            value
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_are_json_on_every_line_and_never_hold_the_token() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shared = Shared::new(DcState::parse(STATE).unwrap(), TOKEN.to_owned());
    // Faults make the client retry, and log each retry at debug level.
    let faults = FaultConfig::parse_compact("seed=4,rate_limited=0.1,unavailable=0.1,dropped=0.05,retry_after_secs=0");
    shared.instruments().set_faults(faults.unwrap()).unwrap();
    let emulator = serve(shared, listener).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    manifest(dir.path(), &emulator.base_url);
    let p = dir.path().to_path_buf();
    let outputs = tokio::task::spawn_blocking(move || {
        vec![
            run(&p, TOKEN, &["validate"]),
            run(&p, TOKEN, &["plan", "--json", "--verbose"]),
            run(&p, TOKEN, &["plan", "--out", "plan.json"]),
            run(&p, TOKEN, &["show", "plan.json"]),
            // The licence allows two users: granting bo one fails with 403.
            run(&p, TOKEN, &["apply", "plan.json", "--audit-log", "audit.jsonl"]),
            run(&p, "wrong-token-7777", &["plan"]),
            run(&p, TOKEN, &["plann"]),
        ]
    })
    .await
    .unwrap();
    let codes: Vec<Option<i32>> = outputs.iter().map(|(c, _, _)| *c).collect();
    assert_eq!(codes, [0, 0, 0, 0, 1, 1, 1].map(Some), "{outputs:#?}");

    let mut all = Vec::new();
    for (code, stdout, stderr) in &outputs {
        let lines = json_lines(stderr);
        // A failed run ends with its error, which carries the exit code.
        if *code != Some(0) {
            let last = lines.last().unwrap();
            assert_eq!(last["level"], "error", "{stderr}");
            assert_eq!(last["fields"]["exit_code"].as_i64(), code.map(i64::from), "{stderr}");
        }
        for text in [stdout, stderr] {
            assert!(!text.contains(TOKEN) && !text.contains("wrong-token-7777"), "{text}");
        }
        all.extend(lines);
    }
    // stdout is unchanged: the plan as JSON still parses.
    serde_json::from_str::<Value>(&outputs[1].1).unwrap();
    // The request log, the retries, --verbose, the notes, the errors: all JSON.
    let has = |target: &str, message: &str| {
        all.iter()
            .any(|l| l["target"] == target && l["message"].as_str().unwrap().contains(message))
    };
    assert!(has("rollcall::http", "response"), "request log");
    assert!(has("rollcall::http", "retrying"), "retries");
    assert!(has("rollcall", "requests so far"), "--verbose");
    assert!(has("rollcall", "Saved the plan to plan.json"), "a note");
    let unauthorised = json_lines(&outputs[5].2);
    let error = unauthorised.last().unwrap();
    assert!(error["message"].as_str().unwrap().contains("HTTP 401"), "{error}");
    assert!(!error["fields"]["hints"].as_array().unwrap().is_empty(), "{error}");
    let usage = json_lines(&outputs[6].2);
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0]["message"], "unrecognized subcommand 'plann'");
    for file in ["plan.json", "audit.jsonl"] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        assert!(!text.contains(TOKEN), "{text}");
    }
    emulator.shutdown().await;
}

/// A manifest's problems are a JSON line each, where they are and what to do, then the
/// error with the exit code; a secret written into the manifest is not in them.
#[test]
fn manifest_problems_are_json_lines_without_the_secrets_in_the_files() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    for (fixture, secret) in [
        ("literal-token", "NzE0MjY3OTk4MzQ1OmQ2"),
        ("url-credentials", "hunter2"),
    ] {
        let out = Command::cargo_bin("rollcall")
            .unwrap()
            .env_clear()
            .args(["--log-format", "json", "validate"])
            .arg(fixtures.join(fixture))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(!stderr.contains(secret), "{fixture}: {stderr}");
        let lines = json_lines(&stderr);
        let (last, problems) = lines.split_last().unwrap();
        assert!(!problems.is_empty(), "{stderr}");
        for p in problems {
            assert_eq!(p["level"], "error");
            assert!(p["fields"]["file"].as_str().unwrap().ends_with(".yaml"), "{p}");
            assert!(p["fields"]["line"].as_u64().unwrap() > 0, "{p}");
        }
        assert!(
            last["message"].as_str().unwrap().contains("found in the manifest"),
            "{last}"
        );
        assert_eq!(last["fields"]["exit_code"], 1);
    }
}

/// Under a pseudo-terminal, a read slow enough to see (the sandbox answers each request
/// 150 ms late) shows its live line, then the plan; with --quiet, or off a terminal,
/// none. Skipped where util-linux's `script` is not installed.
#[test]
fn a_terminal_sees_a_line_per_read_and_a_pipe_does_not() {
    if std::process::Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` (util-linux) to give the run a terminal");
        return;
    }
    let (_tmp, dir) = crate::common::example("quickstart");
    let bin = assert_cmd::cargo::cargo_bin("rollcall");
    let on_terminal = |extra: &str| {
        let out = std::process::Command::new("script")
            .args([
                "-qec",
                &format!("'{}' plan manifests {extra}", bin.display()),
                "/dev/null",
            ])
            .current_dir(dir.parent().unwrap())
            .env("ROLLCALL_SANDBOX_FAULTS", "latency_ms=150")
            .env("NO_COLOR", "1")
            .env_remove("ROLLCALL_LOG")
            .env_remove("ROLLCALL_LOG_FORMAT")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = on_terminal("");
    assert!(shown.contains("reading bitbucket · "), "{shown}");
    assert!(shown.contains(" requests · "), "{shown}");
    assert!(shown.contains("Plan: "), "{shown}");
    for quiet in [on_terminal("--quiet"), on_terminal("--log-format json")] {
        assert!(!quiet.contains("reading bitbucket"), "{quiet}");
        assert!(quiet.contains("Plan: "), "{quiet}");
    }
    // Off a terminal: nothing of it, whatever the pace.
    let out = Command::cargo_bin("rollcall")
        .unwrap()
        .env_clear()
        .env("ROLLCALL_SANDBOX_FAULTS", "latency_ms=150")
        .current_dir(dir.parent().unwrap())
        .args(["plan", "manifests"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}
