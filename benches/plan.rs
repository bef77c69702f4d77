//! Benchmark: plan for a large organisation against the Bitbucket Data Center emulator
//! over loopback HTTP. Prints medians of repeated runs, the requests against the derived
//! minimum, the concurrency reached and rollcall's peak memory; it asserts nothing about
//! time (the machine's noise is not a test failure).
//!
//! `cargo bench --bench plan -- [S|M|L|XL] [--latency MS] [--faults] [--runs N]`
//!
//! - S: 1,000 people, 100 groups of 50, 50 projects of 10 repositories;
//! - M: 10,000 people, 1,000 groups of 50 (50,000 memberships), 500 projects of 10
//!   repositories (5,000), 50,000 grants;
//! - L: 100,000 people, 10,000 groups of 50 (500,000 memberships), as many projects as M;
//! - XL: 200,000 people, 20,000 groups of 50 (1,000,000 memberships), as many projects as
//!   M: 1.27 million live objects.
//!
//! The emulator runs in this process and holds the whole organisation; rollcall plans in
//! a child process (this benchmark again, with `--child DIR`), which loads the manifests,
//! reads the emulator, plans, checks the safety rules and renders JSON as `rollcall plan
//! --json` does. Its peak resident memory (`VmHWM`) is rollcall's alone: the emulator's
//! state, the generated manifests and the faults are all in the parent. The child reports
//! the peak after each phase too, which shows the phase that sets it.
//!
//! rollcall's peak memory, loopback, before and after live state stopped being copied per
//! stage and names became inline compact strings: M 211 → 92 MiB, L 930 → 366 MiB, XL
//! 1,738 → 681 MiB (set while loading the manifests; the emulator's own process holds
//! 740 MiB at XL). Diff and order at XL: 29 → 3.2 s.
//!
//! `--latency MS` adds that much to every answer; `--faults` answers 10% of requests 429,
//! 10% 503 and drops 5% of connections (half after acting), a new seed each run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use rollcall::sandbox::bitbucket_dc::{serve, Shared};
use rollcall::sandbox::state::{DcProject, DcRepo, DcState, DcUser};

const TOKEN: &str = "bench-token";
const RUNS: usize = 7;
const USERS_PER_FILE: usize = 20_000;
const GROUPS_PER_FILE: usize = 2_000;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn name(n: usize) -> String {
    format!("user{n:05}")
}

/// Live state: every user and group exists, memberships and grants are in place.
fn live_state(users: usize, groups: usize, per_group: usize, projects: usize, repos: usize) -> DcState {
    let mut s = DcState {
        operator: "admin".into(),
        ..DcState::default()
    };
    s.users.insert(
        "admin".into(),
        DcUser {
            display_name: "Admin".into(),
            email: "admin@example.com".into(),
            active: true,
        },
    );
    s.global.users.insert("admin".into(), "SYS_ADMIN".into());
    for n in 0..users {
        s.users.insert(
            name(n),
            DcUser {
                display_name: format!("User {n}"),
                email: format!("u{n}@example.com"),
                active: true,
            },
        );
    }
    for g in 0..groups {
        s.groups.insert(
            format!("team{g:03}"),
            (0..per_group).map(|i| name((g * 37 + i) % users)).collect(),
        );
        s.global.groups.insert(format!("team{g:03}"), "LICENSED_USER".into());
    }
    for p in 0..projects {
        let mut project = DcProject {
            name: format!("Project {p}"),
            ..DcProject::default()
        };
        // Ten group grants per project and nine per repository: 50,000 at M. The first
        // is PROJECT_WRITE where the manifest says admin, a change to plan.
        for k in 0..10 {
            let level = if k == 0 { "PROJECT_WRITE" } else { "PROJECT_ADMIN" };
            project
                .grants
                .groups
                .insert(format!("team{:03}", (p * 10 + k) % groups), level.into());
        }
        for r in 0..repos {
            let mut repo = DcRepo::default();
            for k in 0..9 {
                repo.grants
                    .groups
                    .insert(format!("team{:03}", (p + r * 7 + k * 3) % groups), "REPO_ADMIN".into());
            }
            project.repos.insert(format!("repo{r}"), repo);
        }
        s.projects.insert(format!("P{p:03}"), project);
    }
    s
}

/// A manifest declaring the same organisation, with a few differences to plan.
/// The users go in files of `USERS_PER_FILE` and the groups in files of
/// `GROUPS_PER_FILE`, as a manifest of a large organisation must: one file holds at most
/// 250,000 YAML values.
fn manifest(state: &DcState, url: &str) -> (String, Vec<String>) {
    let mut m = format!("targets:\n  bb:\n    kind: bitbucket-datacenter\n    url: {url}\n    auth: {{ token: \"${{file:token}}\", account: admin }}\n");
    let mut people = Vec::new();
    for (n, (user, u)) in state.users.iter().filter(|(u, _)| *u != "admin").enumerate() {
        if n % USERS_PER_FILE == 0 {
            people.push(String::from("users:\n"));
        }
        let email = if n % 100 == 0 {
            format!("changed{n}@example.com")
        } else {
            u.email.clone()
        };
        if let Some(file) = people.last_mut() {
            let _ = writeln!(file, "  {user}: {{ name: {}, email: {email} }}", u.display_name);
        }
    }
    for (n, (g, members)) in state.groups.iter().enumerate() {
        if n % GROUPS_PER_FILE == 0 {
            people.push(String::from("groups:\n"));
        }
        let list: Vec<&str> = members.iter().map(String::as_str).collect();
        if let Some(file) = people.last_mut() {
            let _ = writeln!(file, "  {g}: {{ members: [{}] }}", list.join(", "));
        }
    }
    m.push_str("access:\n  bb:\n    global:\n      groups:\n");
    for g in state.global.groups.keys() {
        let _ = writeln!(m, "        {g}: read");
    }
    m.push_str("    projects:\n");
    for (key, p) in &state.projects {
        let _ = writeln!(m, "      {key}:\n        groups:");
        for g in p.grants.groups.keys() {
            let _ = writeln!(m, "          {g}: admin");
        }
        m.push_str("        repos:\n");
        for (slug, r) in &p.repos {
            let _ = writeln!(m, "          {slug}:\n            groups:");
            for g in r.grants.groups.keys() {
                let _ = writeln!(m, "              {g}: admin");
            }
        }
    }
    (m, people)
}

/// The fewest requests a plan of this organisation can read it with: the users and the
/// groups a page of 1,000 at a time, each group's members, the groups of the account
/// rollcall works as (for the safety rules), global permissions (the one user grant, the
/// admin's; a grant per group, a page of 1,000 at a time), and per project and per
/// repository its users and groups. No project's two all-users flags: the manifest
/// declares no `all_users` and prunes nothing, so no default is compared.
fn minimum_reads(users: usize, groups: usize, projects: usize, repos: usize) -> usize {
    let pages = |n: usize| n.div_ceil(1000).max(1);
    let global = pages(1) + pages(groups);
    pages(users + 1) + pages(groups) + groups + 1 + global + projects * 2 + projects * repos * 2
}

/// A figure of this process from /proc/self/status, in MiB: `VmHWM` is the peak resident
/// memory so far, `VmRSS` the resident memory now.
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok());
    kib.map_or(f64::NAN, |k| k / 1024.0)
}

/// The child: what `rollcall plan --json DIR` does, timed by phase, with the peak memory
/// after each phase. Prints one JSON line for the parent.
fn child(dir: &std::path::Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(async {
        let t = Instant::now();
        let desired = rollcall::engine::load(dir).unwrap();
        let load = t.elapsed();
        let peak_load = status_mib("VmHWM:");
        let t = Instant::now();
        let live = match rollcall::engine::read(&desired).await {
            Ok(live) => live,
            Err(e) => return serde_json::json!({ "error": e.to_string() }),
        };
        let read = t.elapsed();
        let peak_read = status_mib("VmHWM:");
        let provider = &live.connected.providers["bb"];
        let (requests, retries, reached) = (provider.request_count(), provider.retry_count(), provider.concurrency());
        let objects = live.states["bb"].len();
        let t = Instant::now();
        let plan = rollcall::engine::plan(&desired, &live).unwrap();
        let plan_t = t.elapsed();
        let t = Instant::now();
        let plan = match rollcall::engine::review(plan, &live, None) {
            Ok(reviewed) => reviewed.into_plan(),
            Err(refused) => *refused.0,
        };
        let review = t.elapsed();
        let peak_plan = status_mib("VmHWM:");
        live.shutdown().await;
        let t = Instant::now();
        let out = rollcall::render::render(&plan, rollcall::render::Format::Json);
        let render = t.elapsed();
        assert!(!out.is_empty());
        serde_json::json!({
            "load": load.as_secs_f64(),
            "read": read.as_secs_f64(),
            "plan": plan_t.as_secs_f64(),
            "review": review.as_secs_f64(),
            "render": render.as_secs_f64(),
            "requests": requests,
            "retries": retries,
            "peak": reached.peak,
            "limit": reached.limit,
            "cap": reached.cap,
            "objects": objects,
            "changes": plan.changes.len(),
            "peak_load": peak_load,
            "peak_read": peak_read,
            "peak_plan": peak_plan,
            "peak_end": status_mib("VmHWM:"),
        })
    });
    println!("{report}");
}

/// Plans in a child process against the emulator at the manifests' URL; its report.
async fn plan_in_child(dir: &std::path::Path) -> serde_json::Value {
    let exe = std::env::current_exe().unwrap();
    let dir = dir.to_owned();
    let out = tokio::task::spawn_blocking(move || std::process::Command::new(exe).arg("--child").arg(dir).output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.lines().last().map(serde_json::from_str::<serde_json::Value>) {
        Some(Ok(report)) => report,
        _ => {
            serde_json::json!({ "error": format!("the child failed: {}{}", stdout, String::from_utf8_lossy(&out.stderr)) })
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name);
    if let Some(dir) = flag("--child").and_then(|i| args.get(i + 1)) {
        return child(std::path::Path::new(dir));
    }
    let value = |name: &str| {
        flag(name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let size = args
        .iter()
        .find(|a| ["S", "M", "L", "XL"].contains(&a.as_str()))
        .map_or("M", String::as_str);
    let (users, groups, per_group, projects, repos) = match size {
        "S" => (1_000, 100, 50, 50, 10),
        "L" => (100_000, 10_000, 50, 500, 10),
        "XL" => (200_000, 20_000, 50, 500, 10),
        _ => (10_000, 1_000, 50, 500, 10),
    };
    let latency_ms = value("--latency").unwrap_or(0);
    let faults = flag("--faults").is_some();
    let runs = value("--runs").map_or(if size == "S" { RUNS } else { 3 }, |n| n as usize);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let state = live_state(users, groups, per_group, projects, repos);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), TOKEN).unwrap();

        let mut reports = Vec::new();
        let mut size_bytes = 0;
        let mut failed = 0;
        for run in 0..runs {
            // A fresh emulator per run: a new seed for the faults.
            let mut live = state.clone();
            live.faults = Some(rollcall::sandbox::faults::FaultConfig {
                seed: run as u64 + 1,
                latency_ms,
                rate_limited: if faults { 0.10 } else { 0.0 },
                unavailable: if faults { 0.10 } else { 0.0 },
                dropped: if faults { 0.05 } else { 0.0 },
                ..Default::default()
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let emulator = serve(Shared::new(live, TOKEN.into()), listener).await.unwrap();
            let (org, people) = manifest(&state, &emulator.base_url);
            std::fs::write(dir.path().join("org.yaml"), &org).unwrap();
            size_bytes = org.len() as u64;
            for (i, file) in people.iter().enumerate() {
                std::fs::write(dir.path().join(format!("people-{i:03}.yaml")), file).unwrap();
                size_bytes += file.len() as u64;
            }
            drop((org, people));
            let report = plan_in_child(dir.path()).await;
            emulator.shutdown().await;
            if let Some(e) = report.get("error") {
                failed += 1;
                println!("run {run}: {}", e.as_str().unwrap_or_default());
                continue;
            }
            reports.push(report);
        }
        println!(
            "organisation {size}: {users} users, {groups} groups x {per_group} members, {projects} projects x {repos} repos; latency {latency_ms} ms; faults {}",
            if faults { "10% 429, 10% 503, 5% dropped" } else { "none" }
        );
        println!("runs that failed: {failed} of {runs}");
        let Some(last) = reports.last() else {
            return;
        };
        let n = |r: &serde_json::Value, k: &str| r[k].as_u64().unwrap_or_default();
        println!(
            "manifest: {size_bytes} bytes; live objects read: {}; changes planned: {}",
            n(last, "objects"),
            n(last, "changes")
        );
        println!(
            "requests per plan: {} ({} sent again); derived minimum {}",
            n(last, "requests"),
            n(last, "retries"),
            minimum_reads(users, groups, projects, repos)
        );
        println!(
            "in flight: up to {} (limit at the end {} of {})",
            n(last, "peak"),
            n(last, "limit"),
            n(last, "cap")
        );
        let median_of = |k: &str| {
            let v = reports
                .iter()
                .map(|r| Duration::from_secs_f64(r[k].as_f64().unwrap_or_default()))
                .collect();
            median(v).as_secs_f64() * 1e3
        };
        let mib = |k: &str| {
            let v: Vec<f64> = reports.iter().map(|r| r[k].as_f64().unwrap_or_default()).collect();
            v.into_iter().fold(0.0, f64::max)
        };
        println!("median of {} runs:", reports.len());
        println!("  load + resolve   {:>8.1} ms", median_of("load"));
        println!("  read live (HTTP) {:>8.1} ms", median_of("read"));
        println!("  diff + order     {:>8.1} ms", median_of("plan"));
        println!("  safety rules     {:>8.1} ms", median_of("review"));
        println!("  render JSON      {:>8.1} ms", median_of("render"));
        println!("rollcall's peak memory, the highest of the runs (emulator apart):");
        println!("  after load       {:>8.0} MiB", mib("peak_load"));
        println!("  after read       {:>8.0} MiB", mib("peak_read"));
        println!("  after plan       {:>8.0} MiB", mib("peak_plan"));
        println!("  at the end       {:>8.0} MiB", mib("peak_end"));
        println!("emulator's process, peak: {:.0} MiB", status_mib("VmHWM:"));
    });
}
