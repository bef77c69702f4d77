//! Recovery from a misbehaving API and from a killed process, end to end with the binary.
//!
//! - With 20% of requests failing (429 with `Retry-After`, 503, and connections dropped
//!   before or after the server acted), one `apply --auto-approve` of a plan with more
//!   than 200 changes converges: the next plan is empty, and the emulator's final state
//!   is identical to that of the same apply without faults, so nothing outside the plan
//!   was touched and nothing in it was missed.
//! - An apply of a saved plan killed part-way (the process, with SIGKILL) against a
//!   separate sandbox server leaves a whole-line audit log; the saved plan is then
//!   refused as stale, and planning and applying again converges to the same state.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use rollcall::sandbox::state::{DcProject, DcRepo, DcState, DcUser, StateFile as _};

const FAULTS: &str = "seed=42,rate_limited=0.07,unavailable=0.07,dropped=0.06,retry_after_secs=1";
const TOKEN: &str = "resilience-token-0c1f2e";

fn person(name: &str, email: &str) -> DcUser {
    DcUser {
        display_name: name.to_owned(),
        email: email.to_owned(),
        active: true,
    }
}

/// A live instance that has drifted: 40 of the 100 people exist (every fifth with an old
/// email), 6 of the 12 groups with some members who should not be there, and hand-made
/// grants in one project.
fn live_state() -> DcState {
    let mut s = DcState {
        operator: "admin".into(),
        ..DcState::default()
    };
    s.users.insert("admin".into(), person("Admin", "admin@example.com"));
    s.global.users.insert("admin".into(), "SYS_ADMIN".into());
    for i in 0..40 {
        let email = if i % 5 == 0 {
            format!("p{i:03}@old.example")
        } else {
            format!("p{i:03}@example.com")
        };
        s.users
            .insert(format!("p{i:03}"), person(&format!("Person {i}"), &email));
    }
    for g in 0..6 {
        let members = (0..6).map(|k| format!("p{:03}", (g * 5 + k * 3) % 40)).collect();
        s.groups.insert(format!("team{g:02}"), members);
    }
    let mut plat = DcProject {
        name: "Platform".into(),
        ..DcProject::default()
    };
    plat.grants.users.insert("p001".into(), "PROJECT_ADMIN".into());
    plat.grants.groups.insert("team00".into(), "PROJECT_READ".into());
    for r in ["api", "web", "infra"] {
        plat.repos.insert(r.into(), DcRepo::default());
    }
    s.projects.insert("PLAT".into(), plat);
    s
}

/// 100 people, 12 groups of 8, grants for every group in PLAT and its repositories.
fn manifest(target: &str) -> String {
    let mut m = format!("targets:\n{target}users:\n  admin: {{ name: Admin, email: admin@example.com }}\n");
    for i in 0..100 {
        let _ = writeln!(m, "  p{i:03}: {{ name: Person {i}, email: p{i:03}@example.com }}");
    }
    m.push_str("groups:\n");
    for g in 0..12 {
        let members: Vec<String> = (0..8).map(|k| format!("p{:03}", (g * 7 + k * 11) % 100)).collect();
        let _ = writeln!(m, "  team{g:02}: {{ members: [{}] }}", members.join(", "));
    }
    m.push_str("access:\n  bb:\n    global:\n      users: { admin: SYS_ADMIN }\n      groups: {");
    let global: Vec<String> = (0..12).map(|g| format!(" team{g:02}: read")).collect();
    m.push_str(&global.join(","));
    m.push_str(" }\n    projects:\n      PLAT:\n        all_users: read\n        groups: {");
    let project: Vec<String> = (0..12).map(|g| format!(" team{g:02}: write")).collect();
    m.push_str(&project.join(","));
    m.push_str(" }\n        repos:\n");
    for r in ["api", "web", "infra"] {
        let grants: Vec<String> = (0..12).map(|g| format!(" team{g:02}: admin")).collect();
        let _ = writeln!(m, "          {r}: {{ groups: {{{} }} }}", grants.join(","));
    }
    // The drift is deliberately large: most live memberships go.
    m.push_str("policy:\n  prune: { memberships: true, permissions: true }\n  limits: { max_delete_percent: 100 }\n");
    m
}

const SANDBOX_TARGET: &str = "  bb: { kind: bitbucket-datacenter, url: \"sandbox:../state.yaml\" }\n";

/// A directory with `m/manifest.yaml` and `state.yaml`.
fn world(target: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_owned();
    std::fs::create_dir_all(root.join("m")).unwrap();
    std::fs::write(root.join("m/manifest.yaml"), manifest(target)).unwrap();
    live_state().save(&root.join("state.yaml")).unwrap();
    (tmp, root)
}

fn rollcall(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::cargo_bin("rollcall").unwrap();
    cmd.env_clear().env("NO_COLOR", "1").current_dir(dir);
    cmd
}

fn output(cmd: &mut std::process::Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The state as it would be compared: what the emulator holds, faults aside.
fn final_state(path: &Path) -> DcState {
    let mut s = DcState::load(path).unwrap();
    s.faults = None;
    s
}

/// The state after applying the plan on a fault-free sandbox, and how long it took.
fn reference() -> (DcState, Duration) {
    let (_g, root) = world(SANDBOX_TARGET);
    let start = Instant::now();
    let (code, out, err) = output(rollcall(&root).args(["apply", "m", "--auto-approve"]));
    let took = start.elapsed();
    assert_eq!(code, 0, "{out}\n{err}");
    (final_state(&root.join("state.yaml")), took)
}

#[test]
fn twenty_percent_faults_converge_in_one_apply_and_touch_nothing_else() {
    let (_g, root) = world(SANDBOX_TARGET);
    let (code, json, err) = output(rollcall(&root).args(["plan", "m", "--json"]));
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&json).unwrap();
    let changes = plan["changes"].as_array().unwrap().len();
    assert!(changes >= 200, "the plan has {changes} changes");

    let start = Instant::now();
    let (code, out, err) =
        output(
            rollcall(&root)
                .env("ROLLCALL_SANDBOX_FAULTS", FAULTS)
                .args(["apply", "m", "--auto-approve"]),
        );
    let took = start.elapsed();
    assert_eq!(code, 0, "one apply converges despite the faults:\n{out}\n{err}");
    let retries: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("Retried ")?.split(' ').next()?.parse().ok())
        .expect("the report says how many requests were retried");
    assert!(retries > 0, "{out}");

    let (code, out, err) = output(rollcall(&root).args(["plan", "m", "--detailed-exitcode"]));
    assert_eq!(code, 0, "the next plan is empty:\n{out}\n{err}");

    let (expected, clean) = reference();
    assert_eq!(
        final_state(&root.join("state.yaml")),
        expected,
        "the faulty run ends exactly where the fault-free run does"
    );
    eprintln!(
        "{changes} changes: without faults {:.2} s; with 20% faults {:.2} s and {retries} retries",
        clean.as_secs_f64(),
        took.as_secs_f64()
    );
}

/// A `rollcall sandbox serve` process and the URL it listens on.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(root: &Path, faults: &str) -> Server {
        let mut child = rollcall(root)
            .env("ROLLCALL_SANDBOX_TOKEN", TOKEN)
            .env("ROLLCALL_SANDBOX_FAULTS", faults)
            .args(["sandbox", "serve", "state.yaml", "--port", "0", "--save"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = lines
            .find_map(|l| {
                let l = l.unwrap();
                let at = l.find("http://")?;
                Some(l[at..].split_whitespace().next()?.trim_end_matches("/rest").to_owned())
            })
            .expect("the server prints its URL");
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Server { child, url }
    }

    /// SIGTERM: the server saves its state and exits.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        // The shell's built-in `kill`: no separate binary needed on a minimal machine.
        let status = std::process::Command::new("sh")
            .args(["-c", &format!("kill -TERM {pid}")])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "the server exits cleanly on SIGTERM");
    }
}

/// A failing test must not leave a server running.
impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn an_apply_killed_part_way_converges_when_run_again() {
    let (_g, root) = world("");
    // Every request takes 25 ms, so the apply is still running when it is killed.
    let server = Server::start(&root, "latency_ms=25");
    let target = format!(
        "  bb:\n    kind: bitbucket-datacenter\n    url: {}\n    auth: {{ username: admin, token: \"${{env:BB_TOKEN}}\" }}\n",
        server.url
    );
    std::fs::write(root.join("m/manifest.yaml"), manifest(&target)).unwrap();

    let (code, _, err) = output(
        rollcall(&root)
            .env("BB_TOKEN", TOKEN)
            .args(["plan", "m", "--out", "plan.json"]),
    );
    assert_eq!(code, 0, "{err}");
    let mut apply = rollcall(&root)
        .env("BB_TOKEN", TOKEN)
        .args(["apply", "plan.json", "--parallelism", "2", "--audit-log", "audit.jsonl"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut applied = 0;
    for line in BufReader::new(apply.stdout.take().unwrap()).lines() {
        if line.unwrap().starts_with("applied") {
            applied += 1;
            if applied == 60 {
                break;
            }
        }
    }
    if applied < 60 {
        let mut err = String::new();
        std::io::Read::read_to_string(&mut apply.stderr.take().unwrap(), &mut err).unwrap();
        panic!("the apply ended before it could be killed part-way: {err}");
    }
    apply.kill().unwrap();
    apply.wait().unwrap();

    // The audit log holds whole lines only, at least one per change reported applied.
    let log = std::fs::read_to_string(root.join("audit.jsonl")).unwrap();
    assert!(log.ends_with('\n'));
    let lines: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.len() >= 60, "{} audit lines", lines.len());

    // The saved plan no longer describes live state: it is refused, naming what is done.
    let (code, _, err) = output(rollcall(&root).env("BB_TOKEN", TOKEN).args(["apply", "plan.json"]));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("as the plan would leave it"), "{err}");

    let (code, out, err) = output(rollcall(&root).env("BB_TOKEN", TOKEN).args(["plan", "m"]));
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("No changes."), "work remains after the kill:\n{out}");

    let (code, out, err) = output(
        rollcall(&root)
            .env("BB_TOKEN", TOKEN)
            .args(["apply", "m", "--auto-approve"]),
    );
    assert_eq!(code, 0, "the second apply finishes the job:\n{out}\n{err}");
    let (code, out, err) = output(
        rollcall(&root)
            .env("BB_TOKEN", TOKEN)
            .args(["plan", "m", "--detailed-exitcode"]),
    );
    assert_eq!(code, 0, "and the next plan is empty:\n{out}\n{err}");
    server.stop();
    assert_eq!(
        final_state(&root.join("state.yaml")),
        reference().0,
        "nothing lost, nothing extra"
    );
}
