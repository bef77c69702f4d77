//! The audit log survives `kill -9`: `rollcall apply` runs as a child process against an
//! emulator served by the test over loopback (so the server outlives the client), slowed
//! by injected latency, and is killed with SIGKILL part-way. Which changes reached the
//! server is then read the way rollcall reads it, by planning again: every change that
//! is no longer planned landed, and each must have an intent line; no change may have two
//! outcome lines. The next `apply` with the same log settles every intent left open.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rollcall::sandbox::bitbucket_dc::{serve, Shared};
use rollcall::sandbox::faults::FaultConfig;
use rollcall::sandbox::state::DcState;

const TOKEN: &str = "kill-test-token";

const STATE: &str = r#"
operator: admin
users:
  admin: { display_name: Admin, email: admin@example.com }
global:
  users: { admin: SYS_ADMIN }
projects:
  PLAT: { name: Platform }
"#;

/// 96 people in 8 groups, every group granted on the project: some 220 changes.
fn manifest(dir: &Path, url: &str) {
    let mut text = format!(
        "targets:\n  bb:\n    kind: bitbucket-datacenter\n    url: {url}\n    notify_new_users: false\n    auth:\n      username: admin\n      token: ${{env:BB_TOKEN}}\nusers:\n"
    );
    for u in 0..96 {
        text.push_str(&format!(
            "  u{u:02}: {{ name: User {u}, email: u{u:02}@example.com }}\n"
        ));
    }
    text.push_str("groups:\n");
    for g in 0..8 {
        let members: Vec<String> = (0..12).map(|i| format!("u{:02}", g * 12 + i)).collect();
        text.push_str(&format!("  g{g}:\n    members: [{}]\n", members.join(", ")));
    }
    text.push_str("access:\n  bb:\n    projects:\n      PLAT:\n        groups:\n");
    for g in 0..8 {
        text.push_str(&format!("          g{g}: read\n"));
    }
    std::fs::write(dir.join("manifest.yaml"), text).unwrap();
}

fn rollcall(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rollcall"));
    cmd.env_clear()
        .env("BB_TOKEN", TOKEN)
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .stdin(Stdio::null());
    cmd
}

/// The addresses the manifests would change now, as `plan --json` lists them.
fn planned(dir: &Path) -> BTreeSet<String> {
    let out = rollcall(dir).args(["plan", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["address"].as_str().unwrap().to_owned())
        .collect()
}

fn audit_lines(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Lines by (run, change), with their events in the order written.
fn events(lines: &[serde_json::Value]) -> BTreeMap<(String, u64), Vec<String>> {
    let mut by_change: BTreeMap<(String, u64), Vec<String>> = BTreeMap::new();
    for l in lines {
        let key = (l["run"].as_str().unwrap().to_owned(), l["change"].as_u64().unwrap());
        by_change
            .entry(key)
            .or_default()
            .push(l["event"].as_str().unwrap().to_owned());
    }
    by_change
}

/// Runs `apply` and kills it with SIGKILL once `after` outcome lines are in the log.
fn apply_and_kill(dir: &Path, after: usize) {
    let mut child = rollcall(dir)
        .args(["apply", "--auto-approve", "--audit-log", "audit.jsonl"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let log = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap_or_default();
        if log.matches("\"event\":\"outcome\"").count() >= after {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "apply finished before it could be killed"
        );
        assert!(started.elapsed() < Duration::from_secs(60), "apply made no progress");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // A request already on its way is answered by the server all the same: let it land
    // before live state is read.
    std::thread::sleep(Duration::from_millis(200));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_change_that_reached_the_server_before_a_kill_has_an_intent_line() {
    for (seed, after) in [(1, 20), (2, 60), (3, 110)] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shared = Shared::new(DcState::parse(STATE).unwrap(), TOKEN.to_owned());
        // Slow enough that the kill lands with requests in flight.
        let faults = FaultConfig::parse_compact(&format!("seed={seed},latency_ms=15")).unwrap();
        shared.instruments().set_faults(faults).unwrap();
        let emulator = serve(shared, listener).await.unwrap();
        let tmp = tempfile::tempdir().unwrap();
        manifest(tmp.path(), &emulator.base_url);
        let dir = tmp.path().to_owned();

        let report = tokio::task::spawn_blocking(move || {
            let all = planned(&dir);
            apply_and_kill(&dir, after);
            let remaining = planned(&dir);
            assert!(remaining.is_subset(&all), "{remaining:?}");
            let landed: BTreeSet<&String> = all.difference(&remaining).collect();
            let lines = audit_lines(&dir);
            let intended: BTreeSet<&str> = lines
                .iter()
                .filter(|l| l["event"] == "intent")
                .map(|l| l["address"].as_str().unwrap())
                .collect();
            for address in &landed {
                assert!(
                    intended.contains(address.as_str()),
                    "{address} reached the server without an intent line"
                );
            }
            let by_change = events(&lines);
            for (key, evs) in &by_change {
                let outcomes = evs.iter().filter(|e| *e == "outcome").count();
                assert!(outcomes <= 1, "{key:?}: {evs:?}");
                assert!(evs.iter().filter(|e| *e == "intent").count() <= 1, "{key:?}: {evs:?}");
            }
            for l in lines.iter().filter(|l| l["outcome"] == "applied") {
                let address = l["address"].as_str().unwrap().to_owned();
                assert!(landed.contains(&address), "{address} logged applied but not live");
            }
            let open: Vec<&(String, u64)> = by_change
                .iter()
                .filter(|(_, evs)| evs.as_slice() == ["intent"])
                .map(|(k, _)| k)
                .collect();
            let logged_applied = lines.iter().filter(|l| l["outcome"] == "applied").count();

            // The next apply names the open intents, settles each with what it reads, and
            // applies the rest.
            let out = rollcall(&dir)
                .args(["apply", "--auto-approve", "--audit-log", "audit.jsonl"])
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{stderr}");
            if !open.is_empty() {
                assert!(
                    stderr.contains("an earlier apply sent without recording the outcome"),
                    "{stderr}"
                );
            }
            let lines = audit_lines(&dir);
            let by_change = events(&lines);
            for key in &open {
                assert_eq!(by_change[*key], ["intent", "reconciled"], "{key:?}");
            }
            for (key, evs) in &by_change {
                let closing = evs.iter().filter(|e| *e != "intent").count();
                assert_eq!(closing, 1, "{key:?}: {evs:?}");
            }
            let mut found = BTreeMap::new();
            for l in lines.iter().filter(|l| l["event"] == "reconciled") {
                let address = l["address"].as_str().unwrap().to_owned();
                let verdict = l["outcome"].as_str().unwrap();
                match verdict {
                    "found_applied" => assert!(landed.contains(&address), "{address}"),
                    "found_not_applied" => assert!(!landed.contains(&address), "{address}"),
                    other => panic!("{address}: {other}"),
                }
                *found.entry(verdict.to_owned()).or_insert(0) += 1;
            }
            assert!(planned(&dir).is_empty());
            format!(
                "killed after {after} outcomes: {} of {} changes reached the server, {logged_applied} logged applied, {} intents open ({found:?})",
                landed.len(),
                all.len(),
                open.len()
            )
        })
        .await
        .unwrap();
        eprintln!("{report}");
        emulator.shutdown().await;
    }
}
