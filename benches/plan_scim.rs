//! Benchmark: plan and apply for a large organisation against the SCIM emulator (rfc
//! profile) over loopback HTTP. Prints medians of repeated runs and the request counts;
//! it asserts nothing about time (the machine's noise is not a test failure).
//!
//! Run with `cargo bench --bench plan_scim` (optionally `-- USERS GROUPS [--latency MS]`,
//! the latency added to every answer).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use rollcall::sandbox::scim::{serve, ScimState, Shared};

const TOKEN: &str = "bench-token";
const RUNS: usize = 7;
const PER_GROUP: usize = 60;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn member(g: usize, i: usize, users: usize) -> usize {
    (g * 37 + i) % users
}

/// Live state: every user and group exists with its members. Built as JSON: a state this
/// large is beyond what the state file loader accepts from YAML.
fn live_state(users: usize, groups: usize) -> ScimState {
    let users_json: Vec<serde_json::Value> = (0..users)
        .map(|n| {
            serde_json::json!({"id": format!("u{n}"), "userName": format!("user{n:05}"),
                "externalId": format!("user{n:05}"), "displayName": format!("User {n}"),
                "emails": [{"value": format!("user{n}@example.com"), "type": "work", "primary": true}],
                "active": true})
        })
        .collect();
    let groups_json: Vec<serde_json::Value> = (0..groups)
        .map(|g| {
            let members: Vec<serde_json::Value> = (0..PER_GROUP)
                .map(|i| serde_json::json!({"value": format!("u{}", member(g, i, users))}))
                .collect();
            serde_json::json!({"id": format!("g{g}"), "displayName": format!("group{g:03}"), "members": members})
        })
        .collect();
    serde_json::from_value(
        serde_json::json!({"kind": "scim", "profile": "rfc", "serial": users + groups,
        "users": users_json, "groups": groups_json}),
    )
    .unwrap()
}

/// The manifest: the same organisation, with one email in a hundred changed.
fn manifest(users: usize, groups: usize, url: &str) -> String {
    let mut m = format!(
        "targets:\n  idp:\n    kind: scim\n    url: {url}\n    auth: {{ token: \"${{file:token}}\" }}\nusers:\n"
    );
    for n in 0..users {
        let email = if n % 100 == 0 {
            format!("changed{n}@example.com")
        } else {
            format!("user{n}@example.com")
        };
        let _ = writeln!(m, "  user{n:05}: {{ name: User {n}, email: {email} }}");
    }
    m.push_str("groups:\n");
    for g in 0..groups {
        let mut list: Vec<String> = (0..PER_GROUP)
            .map(|i| format!("user{:05}", member(g, i, users)))
            .collect();
        list.sort();
        list.dedup();
        let _ = writeln!(m, "  group{g:03}: {{ members: [{}] }}", list.join(", "));
    }
    m
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let latency_at = raw.iter().position(|a| a == "--latency");
    let latency_ms: u64 = latency_at
        .and_then(|i| raw.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let args: Vec<usize> = raw
        .iter()
        .enumerate()
        .filter(|(i, _)| latency_at.is_none_or(|at| *i != at + 1))
        .filter_map(|(_, a)| a.parse().ok())
        .collect();
    let users = args.first().copied().unwrap_or(10_000);
    let groups = args.get(1).copied().unwrap_or(300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut state = live_state(users, groups);
        if latency_ms > 0 {
            state.faults = Some(rollcall::sandbox::faults::FaultConfig {
                latency_ms,
                ..Default::default()
            });
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), TOKEN).unwrap();
        let (mut load, mut read, mut plan_t, mut apply_t) = (vec![], vec![], vec![], vec![]);
        let (mut requests, mut applied_requests, mut objects, mut changes) = (0, 0, 0, 0);
        for _ in 0..RUNS {
            // A fresh service each run, so every run applies the same changes.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let emulator = serve(Shared::new(state.clone(), TOKEN.into()), listener).await.unwrap();
            std::fs::write(dir.path().join("org.yaml"), manifest(users, groups, &emulator.api_url)).unwrap();
            let t = Instant::now();
            let desired = rollcall::engine::load(dir.path()).unwrap();
            load.push(t.elapsed());
            let t = Instant::now();
            let rollcall::engine::Live {
                connected,
                states: live,
            } = rollcall::engine::read(&desired).await.unwrap();
            read.push(t.elapsed());
            requests = connected.providers["idp"].request_count();
            objects = live["idp"].len();
            let t = Instant::now();
            let plan = rollcall::plan::build(&desired, &live).unwrap();
            let plan = plan.review(&connected.accounts, &live, None).unwrap();
            plan_t.push(t.elapsed());
            changes = plan.changes.len();
            let t = Instant::now();
            let report = rollcall::apply::execute(&plan, &connected.providers, 4, |_, _| {}).await;
            apply_t.push(t.elapsed());
            assert!(report.succeeded());
            applied_requests = connected.providers["idp"].request_count() - requests;
            connected.shutdown().await;
            emulator.shutdown().await;
        }
        println!("organisation: {users} users, {groups} groups x {PER_GROUP} members (SCIM, rfc profile)");
        println!("live objects read: {objects}; changes planned: {changes}");
        println!("requests per plan: {requests} (pages of 200, the emulator's cap); per apply: {applied_requests}");
        println!("median of {RUNS} runs:");
        println!("  load + resolve   {:>8.1} ms", median(load).as_secs_f64() * 1e3);
        println!("  read live (HTTP) {:>8.1} ms", median(read).as_secs_f64() * 1e3);
        println!("  diff + order     {:>8.1} ms", median(plan_t).as_secs_f64() * 1e3);
        println!("  apply (HTTP)     {:>8.1} ms", median(apply_t).as_secs_f64() * 1e3);
    });
}
