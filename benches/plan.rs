//! Benchmark: plan and apply for a large organisation against the Bitbucket Data Center
//! emulator over loopback HTTP. Prints medians of repeated runs and the request counts;
//! it asserts nothing about time (the machine's noise is not a test failure).
//!
//! Run with `cargo bench --bench plan` (optionally `-- USERS GROUPS`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use rollcall::sandbox::bitbucket_dc::{serve, Shared};
use rollcall::sandbox::state::{DcProject, DcRepo, DcState, DcUser};

const TOKEN: &str = "bench-token";
const RUNS: usize = 7;

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
        project
            .grants
            .groups
            .insert(format!("team{:03}", p % groups), "PROJECT_WRITE".into());
        for r in 0..repos {
            let mut repo = DcRepo::default();
            repo.grants
                .groups
                .insert(format!("team{:03}", (p + r) % groups), "REPO_ADMIN".into());
            project.repos.insert(format!("repo{r}"), repo);
        }
        s.projects.insert(format!("P{p:02}"), project);
    }
    s
}

/// A manifest declaring the same organisation, with a few differences to plan.
fn manifest(state: &DcState, url: &str) -> String {
    let mut m = format!("targets:\n  bb:\n    kind: bitbucket-datacenter\n    url: {url}\n    auth: {{ token: \"${{file:token}}\", account: admin }}\nusers:\n");
    for (n, (user, u)) in state.users.iter().filter(|(u, _)| *u != "admin").enumerate() {
        let email = if n % 100 == 0 {
            format!("changed{n}@example.com")
        } else {
            u.email.clone()
        };
        let _ = writeln!(m, "  {user}: {{ name: {}, email: {email} }}", u.display_name);
    }
    m.push_str("groups:\n");
    for (g, members) in &state.groups {
        let list: Vec<&str> = members.iter().map(String::as_str).collect();
        let _ = writeln!(m, "  {g}: {{ members: [{}] }}", list.join(", "));
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
    m
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let users = args.first().copied().unwrap_or(10_000);
    let groups = args.get(1).copied().unwrap_or(300);
    let (per_group, projects, repos) = (60, 40, 5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let state = live_state(users, groups, per_group, projects, repos);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let emulator = serve(Shared::new(state.clone(), TOKEN.into()), listener).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), TOKEN).unwrap();
        std::fs::write(dir.path().join("org.yaml"), manifest(&state, &emulator.base_url)).unwrap();
        let size = std::fs::metadata(dir.path().join("org.yaml")).unwrap().len();

        let (mut load, mut read, mut plan_t, mut render_t) = (vec![], vec![], vec![], vec![]);
        let mut requests = 0;
        let mut objects = 0;
        let mut changes = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            let desired = rollcall::engine::load(dir.path()).unwrap();
            load.push(t.elapsed());
            let t = Instant::now();
            let rollcall::engine::Live {
                connected,
                states: live,
            } = rollcall::engine::read(&desired).await.unwrap();
            read.push(t.elapsed());
            requests = connected.providers["bb"].request_count();
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
        }
        println!(
            "organisation: {users} users, {groups} groups x {per_group} members, {projects} projects x {repos} repos"
        );
        println!("manifest: {size} bytes; live objects read: {objects}; changes planned: {changes}");
        println!("requests per plan: {requests} (one per page of 1000, per group and per named project/repo)");
        println!("median of {RUNS} runs:");
        println!("  load + resolve   {:>8.1} ms", median(load).as_secs_f64() * 1e3);
        println!("  read live (HTTP) {:>8.1} ms", median(read).as_secs_f64() * 1e3);
        println!("  diff + order     {:>8.1} ms", median(plan_t).as_secs_f64() * 1e3);
        println!("  render JSON      {:>8.1} ms", median(render_t).as_secs_f64() * 1e3);
        emulator.shutdown().await;
    });
}
