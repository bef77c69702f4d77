//! Benchmark: plan and apply for a large organisation against the SCIM emulator (rfc
//! profile) over loopback HTTP. Prints medians of repeated runs and the request counts;
//! it asserts nothing about time (the machine's noise is not a test failure).
//!
//! Run with `cargo bench --bench plan_scim -- [USERS GROUPS] [--latency MS] [--faults]
//! [--runs N]`: 10,000 users and 1,000 groups of 50 unless told (the M
//! organisation). `--latency MS` adds that much to every answer; `--faults` answers 10%
//! of requests 429, 10% 503 and drops 5% of connections (half after acting), a new seed
//! each run. It prints the requests of a plan and of an apply against the minimum
//! derived from the organisation, the concurrency reached and the peak memory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use rollcall::sandbox::scim::{serve, ScimState, Shared};

const TOKEN: &str = "bench-token";
const RUNS: usize = 7;
const PER_GROUP: usize = 50;
/// The emulator's page cap under `rfc`.
const PAGE: usize = 200;

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

/// The fewest reads: `/Users` and `/Groups` in pages of [`PAGE`].
fn minimum_reads(users: usize, groups: usize) -> usize {
    users.div_ceil(PAGE).max(1) + groups.div_ceil(PAGE).max(1)
}

/// The fewest writes: one PATCH per user whose email changed (one in a hundred); the
/// groups and their members are as declared.
fn minimum_writes(users: usize) -> usize {
    users.div_ceil(100)
}

/// The process's peak resident memory (emulator included), from /proc.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| raw.iter().position(|a| a == name);
    let value = |name: &str| {
        flag(name)
            .and_then(|i| raw.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let latency_ms = value("--latency").unwrap_or(0);
    let faults = flag("--faults").is_some();
    let runs = value("--runs").map_or(RUNS, |n| n as usize);
    // The numbers not given as an option's value.
    let args: Vec<usize> = raw
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            !["--latency", "--runs"]
                .iter()
                .any(|o| flag(o).is_some_and(|at| *i == at + 1))
        })
        .filter_map(|(_, a)| a.parse().ok())
        .collect();
    let users = args.first().copied().unwrap_or(10_000);
    let groups = args.get(1).copied().unwrap_or(1_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let state = live_state(users, groups);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), TOKEN).unwrap();
        let (mut load, mut read, mut plan_t, mut apply_t) = (vec![], vec![], vec![], vec![]);
        let (mut requests, mut applied_requests, mut objects, mut changes) = (0, 0, 0, 0);
        let (mut retries, mut reached, mut failed) = (0, rollcall::http::Reached::default(), 0);
        for run in 0..runs {
            // A fresh service each run, so every run applies the same changes, with a new
            // seed for the faults.
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
            std::fs::write(dir.path().join("org.yaml"), manifest(users, groups, &emulator.api_url)).unwrap();
            let t = Instant::now();
            let desired = rollcall::engine::load(dir.path()).unwrap();
            load.push(t.elapsed());
            let t = Instant::now();
            let rollcall::engine::Live {
                connected,
                states: live,
                ..
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
            if !report.succeeded() {
                failed += 1;
                println!("run {run}: {} changes failed", report.failed());
            }
            let provider = &connected.providers["idp"];
            applied_requests = provider.request_count() - requests;
            (retries, reached) = (provider.retry_count(), provider.concurrency());
            connected.shutdown().await;
            emulator.shutdown().await;
        }
        println!(
            "organisation: {users} users, {groups} groups x {PER_GROUP} members (SCIM, rfc profile); latency {latency_ms} ms; faults {}",
            if faults { "10% 429, 10% 503, 5% dropped" } else { "none" }
        );
        println!("live objects read: {objects}; changes planned: {changes}");
        println!(
            "requests per plan: {requests} (derived minimum {}); per apply: {applied_requests} (derived minimum {}); {retries} sent again in all",
            minimum_reads(users, groups),
            minimum_writes(users)
        );
        println!(
            "in flight: up to {} (limit at the end {} of {})",
            reached.peak, reached.limit, reached.cap
        );
        println!("runs that failed: {failed} of {runs}");
        if read.is_empty() || apply_t.is_empty() {
            return;
        }
        println!("median of {} runs:", read.len());
        println!("  load + resolve   {:>8.1} ms", median(load).as_secs_f64() * 1e3);
        println!("  read live (HTTP) {:>8.1} ms", median(read).as_secs_f64() * 1e3);
        println!("  diff + order     {:>8.1} ms", median(plan_t).as_secs_f64() * 1e3);
        println!("  apply (HTTP)     {:>8.1} ms", median(apply_t).as_secs_f64() * 1e3);
        if let Some(mib) = peak_rss_mib() {
            println!("peak memory (emulator included): {mib:.0} MiB");
        }
    });
}
