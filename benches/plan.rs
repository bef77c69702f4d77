//! Benchmark: plan (and optionally apply) for a large organisation against the Bitbucket
//! Data Center emulator over loopback HTTP. Prints medians of repeated runs, the requests
//! against the derived minimum, the concurrency reached and the process's peak memory; it
//! asserts nothing about time (the machine's noise is not a test failure).
//!
//! `cargo bench --bench plan -- [S|M|L] [--latency MS] [--faults] [--runs N]`
//!
//! - S: 1,000 people, 100 groups of 50, 50 projects of 10 repositories;
//! - M: 10,000 people, 1,000 groups of 50 (50,000 memberships), 500 projects of 10
//!   repositories (5,000), 50,000 grants;
//! - L: 100,000 people, 10,000 groups of 50 (500,000 memberships), as many projects as M.
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
/// rollcall works as (for the safety rules), global permissions (users, groups), and per
/// project and per repository its users and groups. No project's two all-users flags:
/// the manifest declares no `all_users` and prunes nothing, so no default is compared.
fn minimum_reads(users: usize, groups: usize, projects: usize, repos: usize) -> usize {
    let pages = |n: usize| n.div_ceil(1000).max(1);
    pages(users + 1) + pages(groups) + groups + 1 + 2 + projects * 2 + projects * repos * 2
}

/// The process's peak resident memory (emulator included), from /proc.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name);
    let value = |name: &str| {
        flag(name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let size = args
        .iter()
        .find(|a| ["S", "M", "L"].contains(&a.as_str()))
        .map_or("M", String::as_str);
    let (users, groups, per_group, projects, repos) = match size {
        "S" => (1_000, 100, 50, 50, 10),
        "L" => (100_000, 10_000, 50, 500, 10),
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

        let (mut load, mut read, mut plan_t, mut render_t) = (vec![], vec![], vec![], vec![]);
        let (mut requests, mut retries, mut objects, mut changes, mut size_bytes) = (0, 0, 0, 0, 0);
        let mut reached = rollcall::http::Reached::default();
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
            let t = Instant::now();
            let desired = rollcall::engine::load(dir.path()).unwrap();
            load.push(t.elapsed());
            let t = Instant::now();
            let rollcall::engine::Live {
                connected,
                states: live,
            } = match rollcall::engine::read(&desired).await {
                Ok(live) => live,
                Err(e) => {
                    failed += 1;
                    println!("run {run}: {e}");
                    emulator.shutdown().await;
                    continue;
                }
            };
            read.push(t.elapsed());
            let provider = &connected.providers["bb"];
            (requests, retries, reached) = (provider.request_count(), provider.retry_count(), provider.concurrency());
            objects = live["bb"].len();
            let t = Instant::now();
            let plan = rollcall::plan::build(&desired, &live).unwrap();
            plan_t.push(t.elapsed());
            changes = plan.changes.len();
            let t = Instant::now();
            let out = rollcall::render::render(&plan, rollcall::render::Format::Json);
            render_t.push(t.elapsed());
            assert!(!out.is_empty());
            connected.shutdown().await;
            emulator.shutdown().await;
        }
        println!(
            "organisation {size}: {users} users, {groups} groups x {per_group} members, {projects} projects x {repos} repos; latency {latency_ms} ms; faults {}",
            if faults { "10% 429, 10% 503, 5% dropped" } else { "none" }
        );
        println!("manifest: {size_bytes} bytes; live objects read: {objects}; changes planned: {changes}");
        println!(
            "requests per plan: {requests} ({retries} sent again); derived minimum {}",
            minimum_reads(users, groups, projects, repos)
        );
        println!(
            "in flight: up to {} (limit at the end {} of {})",
            reached.peak, reached.limit, reached.cap
        );
        println!("runs that failed: {failed} of {runs}");
        if read.is_empty() {
            return;
        }
        println!("median of {} runs:", read.len());
        println!("  load + resolve   {:>8.1} ms", median(load).as_secs_f64() * 1e3);
        println!("  read live (HTTP) {:>8.1} ms", median(read).as_secs_f64() * 1e3);
        println!("  diff + order     {:>8.1} ms", median(plan_t).as_secs_f64() * 1e3);
        println!("  render JSON      {:>8.1} ms", median(render_t).as_secs_f64() * 1e3);
        if let Some(mib) = peak_rss_mib() {
            println!("peak memory (emulator included): {mib:.0} MiB");
        }
    });
}
