//! Benchmark: a large identity source feeding one target. An Entra ID tenant (the
//! built-in Graph emulator, `url: sandbox:`) of 20,000 people in 2,000 groups nested
//! three deep feeds the groups of a Bitbucket Data Center emulator that already holds part
//! of them. Prints medians of repeated runs, the source's requests against the derived
//! minimum (asserted equal: a count, never a time) and rollcall's peak memory.
//!
//! `cargo bench --bench sources -- [--runs N] [--latency MS] [--tops]`: `--runs` repeats
//! (3 unless told), `--latency` adds that much to every answer of both emulators (0 unless
//! told), `--tops` follows only the 20 top groups instead of all 2,000.
//!
//! The tenant is a tree: 20 top groups (`div00`), each holding 9 mid groups
//! (`div00-t0`), each holding 10 leaf groups (`div00-t0-s0`) that hold the people
//! directly: 20 + 180 + 1,800 = 2,000 groups. Person `p` is in leaf `p % 1800` (11 or 12
//! a leaf), and one in ten also in the leaf 900 further on (another top group's), so
//! nesting and overlap both count; one leaf in a hundred also holds a device. 600 people
//! (3%, at most one a leaf) are disabled. Every manifest group follows the source group
//! of its name: all 2,000, since a manifest that grants access by team follows teams at
//! every level, and this is the most a read of this tenant can be asked (one
//! `transitiveMembers` list per group; `--tops` shows the other end).
//!
//! The target starts partly filled: 90% of the people have accounts, the groups of the
//! first 10 top groups exist with their members as of an earlier sync (one in twenty
//! active members not yet added, the disabled still in, and one stale member in each
//! top and mid group), the others do not.
//!
//! Each run plans in a child process (this bench again, with `--child DIR`), as `rollcall
//! plan` would: load the manifests, read the source (`engine::expand_sources`: the
//! sandbox started from its state file, the read, the selection), resolve with what it
//! gave (`resolve::inject_sourced`, `resolve::resolve`), read the target, plan and check
//! the safety rules. The Data Center emulator runs in this process; the Entra emulator is
//! the `sandbox:` source's, so it runs in the child, inside rollcall, as it does for a
//! user: the child's peak memory (`VmHWM`) includes it, the Data Center emulator's not.
//!
//! The safety rules, all 2,000 groups followed: 2.4 → 0.15 s, once the rule for groups
//! that follow a source counted live members and removals per target in one pass rather
//! than scanning every live object and change for each followed group.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use rollcall::model::ResourceId;
use rollcall::plan::Action;
use rollcall::sandbox::bitbucket_dc::{serve, Shared};
use rollcall::sandbox::entra::EntraState;
use rollcall::sandbox::state::{DcState, DcUser, StateFile as _};

const TOKEN: &str = "bench-token";
const TENANT: &str = "5f0c8e2a-3b1d-4c7e-9a6f-2d4b8c1e0a73";
const CLIENT: &str = "11111111-2222-4333-8444-555555555555";
const RUNS: usize = 3;

const PEOPLE: usize = 20_000;
const TOPS: usize = 20;
const MIDS_PER_TOP: usize = 9;
const LEAVES_PER_MID: usize = 10;
const MIDS: usize = TOPS * MIDS_PER_TOP;
const LEAVES: usize = MIDS * LEAVES_PER_MID;
const GROUPS: usize = TOPS + MIDS + LEAVES;
/// The top groups whose groups the target already has.
const EXISTING_TOPS: usize = 10;

/// Graph's largest page and the names or ids a group lookup takes
/// (`src/source/entra/wire.rs`).
const PAGE: usize = 999;
const FILTER_VALUES: usize = 15;

fn person(p: usize) -> String {
    format!("p{p:05}")
}

fn user_id(p: usize) -> String {
    format!("00000000-0000-4000-8000-{p:012x}")
}

fn group_id(g: usize) -> String {
    format!("00000000-0000-4000-9000-{g:012x}")
}

fn device_id(d: usize) -> String {
    format!("00000000-0000-4000-a000-{d:012x}")
}

/// Groups by index: the tops first, then the mids, then the leaves.
fn group_name(g: usize) -> String {
    if g < TOPS {
        format!("div{g:02}")
    } else if g < TOPS + MIDS {
        let m = g - TOPS;
        format!("div{:02}-t{}", m / MIDS_PER_TOP, m % MIDS_PER_TOP)
    } else {
        let l = g - TOPS - MIDS;
        let m = l / LEAVES_PER_MID;
        format!(
            "div{:02}-t{}-s{}",
            m / MIDS_PER_TOP,
            m % MIDS_PER_TOP,
            l % LEAVES_PER_MID
        )
    }
}

/// The top group a group is under (itself for a top).
fn top_of(g: usize) -> usize {
    if g < TOPS {
        g
    } else if g < TOPS + MIDS {
        (g - TOPS) / MIDS_PER_TOP
    } else {
        (g - TOPS - MIDS) / LEAVES_PER_MID / MIDS_PER_TOP
    }
}

/// Disabled: the fourth person of every third leaf (600, 3%, at most one a leaf).
fn disabled(p: usize) -> bool {
    p / LEAVES == 3 && (p % LEAVES) % 3 == 0
}

/// Has an account on the target already: nine in ten.
fn has_account(p: usize) -> bool {
    p % 10 != 9
}

/// An active member the earlier sync had not added yet: one in twenty.
fn joiner(p: usize) -> bool {
    p % 20 == 1
}

/// A group's direct members, as `(kind, index)`: 'g' a group, 'p' a person, 'd' a device.
fn direct(g: usize) -> Vec<(char, usize)> {
    if g < TOPS {
        (0..MIDS_PER_TOP).map(|m| ('g', TOPS + g * MIDS_PER_TOP + m)).collect()
    } else if g < TOPS + MIDS {
        let m = g - TOPS;
        (0..LEAVES_PER_MID)
            .map(|l| ('g', TOPS + MIDS + m * LEAVES_PER_MID + l))
            .collect()
    } else {
        let leaf = g - TOPS - MIDS;
        let mut out: Vec<(char, usize)> = (leaf..PEOPLE).step_by(LEAVES).map(|p| ('p', p)).collect();
        // One in ten people also in the leaf 900 further on.
        let other = (leaf + LEAVES - LEAVES / 2) % LEAVES;
        out.extend(
            (other..PEOPLE)
                .step_by(LEAVES)
                .filter(|p| p % 10 == 7)
                .map(|p| ('p', p)),
        );
        if leaf % 100 == 0 {
            out.push(('d', leaf / 100));
        }
        out
    }
}

/// Everything under a group, each once, as `transitiveMembers` lists it: nested groups,
/// people and devices.
fn transitive(g: usize) -> BTreeSet<(char, usize)> {
    let mut seen = BTreeSet::new();
    let mut queue = direct(g);
    while let Some(m) = queue.pop() {
        if seen.insert(m) && m.0 == 'g' {
            queue.extend(direct(m.1));
        }
    }
    seen
}

/// The people under a group.
fn people_under(g: usize) -> BTreeSet<usize> {
    transitive(g).into_iter().filter(|m| m.0 == 'p').map(|m| m.1).collect()
}

/// The groups the manifest follows.
fn followed(tops_only: bool) -> Vec<usize> {
    (0..if tops_only { TOPS } else { GROUPS }).collect()
}

/// The tenant as the Entra emulator's state file, in JSON.
fn tenant_state(latency_ms: u64) -> String {
    let users: Vec<serde_json::Value> = (0..PEOPLE)
        .map(|p| {
            serde_json::json!({
                "id": user_id(p),
                "userPrincipalName": format!("{}@bench.example", person(p)),
                "displayName": format!("Person {p}"),
                "mail": format!("{}@bench.example", person(p)),
                "department": format!("Division {:02}", top_of(TOPS + MIDS + p % LEAVES)),
                "jobTitle": "Engineer",
                "employeeId": p.to_string(),
                "accountEnabled": !disabled(p),
            })
        })
        .collect();
    let groups: Vec<serde_json::Value> = (0..GROUPS)
        .map(|g| {
            let members: Vec<String> = direct(g)
                .into_iter()
                .map(|(kind, i)| match kind {
                    'g' => group_id(i),
                    'p' => user_id(i),
                    _ => device_id(i),
                })
                .collect();
            serde_json::json!({"id": group_id(g), "displayName": group_name(g), "members": members})
        })
        .collect();
    let devices: Vec<serde_json::Value> = (0..LEAVES.div_ceil(100))
        .map(
            |d| serde_json::json!({"id": device_id(d), "type": "device", "displayName": format!("build-agent-{d:02}")}),
        )
        .collect();
    let mut state = serde_json::json!({
        "kind": "entra-id",
        "tenant": {"id": TENANT, "domain": "bench.onmicrosoft.com"},
        "client_id": CLIENT,
        "users": users,
        "groups": groups,
        "objects": devices,
    });
    if latency_ms > 0 {
        state["faults"] = serde_json::json!({"latency_ms": latency_ms});
    }
    state.to_string()
}

/// The target's state: the operator, nine in ten people's accounts, and the groups of the
/// first ten top groups as an earlier sync left them.
fn target_state(latency_ms: u64) -> DcState {
    let mut s = DcState {
        operator: "admin".into(),
        ..DcState::default()
    };
    s.users.insert(
        "admin".into(),
        DcUser {
            display_name: "Admin".into(),
            email: "admin@bench.example".into(),
            active: true,
        },
    );
    s.global.users.insert("admin".into(), "SYS_ADMIN".into());
    for p in (0..PEOPLE).filter(|p| has_account(*p)) {
        s.users.insert(
            person(p),
            DcUser {
                display_name: format!("Person {p}"),
                email: format!("{}@bench.example", person(p)),
                active: true,
            },
        );
    }
    for g in (0..GROUPS).filter(|g| top_of(*g) < EXISTING_TOPS) {
        let under = people_under(g);
        let mut members: BTreeSet<String> = under
            .iter()
            .filter(|p| has_account(**p) && !joiner(**p))
            .map(|p| person(*p))
            .collect();
        if g < TOPS + MIDS {
            // Someone who moved to another division since.
            let stale = (g * 97..).find(|p| has_account(*p) && !under.contains(p)).unwrap();
            members.insert(person(stale % PEOPLE));
        }
        s.groups.insert(group_name(g), members);
    }
    if latency_ms > 0 {
        s.faults = Some(rollcall::sandbox::faults::FaultConfig {
            latency_ms,
            ..Default::default()
        });
    }
    s
}

/// The manifest: the target, the source (the built-in emulator over `entra.json`), and
/// one group per followed source group, named as it is.
fn manifest(url: &str, follow: &[usize]) -> String {
    let mut m = format!(
        "targets:\n  bb:\n    kind: bitbucket-datacenter\n    url: {url}\n    auth: {{ token: \"${{file:token}}\", account: admin }}\n"
    );
    let _ = writeln!(
        m,
        "sources:\n  entra:\n    kind: entra-id\n    url: sandbox:entra.json\n    tenant: \"{TENANT}\"\n    auth: {{ client_id: \"{CLIENT}\" }}"
    );
    m.push_str("groups:\n");
    for g in follow {
        let name = group_name(*g);
        let _ = writeln!(m, "  {name}: {{ members_from: [\"entra:{name}\"] }}");
    }
    m
}

/// The fewest requests of the source's read (the formula in `src/source/entra/mod.rs`):
/// the token, a group lookup per 15 names, and a page per 999 transitive members (of
/// every type, nested groups included) of each group. No `everyone`: the manifest selects
/// people by the groups it follows alone.
fn minimum_source_read(follow: &[usize]) -> usize {
    1 + follow.len().div_ceil(FILTER_VALUES)
        + follow
            .iter()
            .map(|g| transitive(*g).len().div_ceil(PAGE).max(1))
            .sum::<usize>()
}

/// A figure of this process from /proc/self/status, in MiB (`VmHWM`: the peak resident
/// memory so far).
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok());
    kib.map_or(f64::NAN, |k| k / 1024.0)
}

/// The child: `rollcall plan DIR`'s steps, timed one by one, with the peak memory after
/// each. Prints one JSON line for the parent.
fn child(dir: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(async {
        let tuning = rollcall::engine::Tuning::default();
        let t = Instant::now();
        let (mut loaded, problems) = rollcall::manifest::load_dir(dir).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let first = rollcall::resolve::resolve(&loaded).unwrap();
        let load = t.elapsed();
        assert!(first.sourcing.is_some());
        let peak_load = status_mib("VmHWM:");

        let t = Instant::now();
        let (sourcing, sourced) = match rollcall::engine::expand_sources(dir, tuning).await {
            Ok(Some(read)) => read,
            Ok(None) => return serde_json::json!({ "error": "no source" }),
            Err(e) => return serde_json::json!({ "error": e.to_string() }),
        };
        let source = t.elapsed();
        let peak_source = status_mib("VmHWM:");
        let requests = sourced.requests.get("entra").copied().unwrap_or_default();
        let people = sourced.people.len();
        let active = sourced.people.values().filter(|p| p.active).count();
        let memberships: usize = sourced.members.values().map(BTreeMap::len).sum();

        let t = Instant::now();
        rollcall::resolve::inject_sourced(&mut loaded, &sourcing, sourced);
        let desired = rollcall::resolve::resolve(&loaded).unwrap();
        drop(loaded);
        let resolve = t.elapsed();
        let peak_resolve = status_mib("VmHWM:");

        let t = Instant::now();
        let live = match rollcall::engine::read(&desired).await {
            Ok(live) => live,
            Err(e) => return serde_json::json!({ "error": e.to_string() }),
        };
        let read = t.elapsed();
        let target_requests = live.connected.providers["bb"].request_count();
        let objects = live.states["bb"].len();
        let peak_read = status_mib("VmHWM:");

        let t = Instant::now();
        let plan = rollcall::engine::plan(&desired, &live).unwrap();
        let diff = t.elapsed();
        let plan = match rollcall::engine::review(plan, &live, None) {
            Ok(reviewed) => reviewed.into_plan(),
            Err(refused) => {
                return serde_json::json!({ "error": format!("refused: {:?}", refused.0.refusals) });
            }
        };
        let plan_t = t.elapsed();
        let peak_plan = status_mib("VmHWM:");
        live.shutdown().await;
        let count = |kind: fn(&ResourceId) -> bool, action: Action| {
            plan.changes
                .iter()
                .filter(|c| c.action == action && kind(&c.address.id))
                .count()
        };
        let user = |id: &ResourceId| matches!(id, ResourceId::User { .. });
        let group = |id: &ResourceId| matches!(id, ResourceId::Group { .. });
        let membership = |id: &ResourceId| matches!(id, ResourceId::Membership { .. });
        serde_json::json!({
            "load": load.as_secs_f64(),
            "source": source.as_secs_f64(),
            "resolve": resolve.as_secs_f64(),
            "read": read.as_secs_f64(),
            "plan": plan_t.as_secs_f64(),
            "diff": diff.as_secs_f64(),
            "requests": requests,
            "target_requests": target_requests,
            "people": people,
            "active": active,
            "memberships": memberships,
            "objects": objects,
            "changes": plan.changes.len(),
            "users_created": count(user, Action::Create),
            "groups_created": count(group, Action::Create),
            "memberships_created": count(membership, Action::Create),
            "memberships_deleted": count(membership, Action::Delete),
            "peak_load": peak_load,
            "peak_source": peak_source,
            "peak_resolve": peak_resolve,
            "peak_read": peak_read,
            "peak_plan": peak_plan,
        })
    });
    println!("{report}");
}

/// Plans in a child process; its report.
async fn plan_in_child(dir: &Path) -> serde_json::Value {
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name);
    if let Some(dir) = flag("--child").and_then(|i| args.get(i + 1)) {
        return child(Path::new(dir));
    }
    let value = |name: &str| {
        flag(name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let latency_ms = value("--latency").unwrap_or(0);
    let runs = value("--runs").map_or(RUNS, |n| n.max(1) as usize);
    let tops_only = flag("--tops").is_some();
    let follow = followed(tops_only);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let t = Instant::now();
        let tenant = tenant_state(latency_ms);
        let target = target_state(latency_ms);
        let minimum = minimum_source_read(&follow);
        let built = t.elapsed();
        // What the sandbox does before its first answer, timed here on its own.
        let t = Instant::now();
        let parsed = EntraState::parse(&tenant).unwrap();
        let emulator_start = t.elapsed();
        drop(parsed);

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), TOKEN).unwrap();
        std::fs::write(dir.path().join("entra.json"), &tenant).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let emulator = serve(Shared::new(target, TOKEN.into()), listener).await.unwrap();
        std::fs::write(dir.path().join("org.yaml"), manifest(&emulator.base_url, &follow)).unwrap();

        let mut reports = Vec::new();
        for run in 0..runs {
            let report = plan_in_child(dir.path()).await;
            if let Some(e) = report.get("error") {
                panic!("run {run}: {}", e.as_str().unwrap_or_default());
            }
            reports.push(report);
        }
        emulator.shutdown().await;

        let last = reports.last().unwrap();
        let n = |k: &str| last[k].as_u64().unwrap_or_default();
        println!(
            "tenant: {PEOPLE} people ({} disabled) in {GROUPS} groups nested three deep ({TOPS} > {MIDS} > {LEAVES}); following {} of them; latency {latency_ms} ms; generated in {:.2} s",
            (0..PEOPLE).filter(|p| disabled(*p)).count(),
            follow.len(),
            built.as_secs_f64()
        );
        println!(
            "source gave {} people ({} active) and {} memberships",
            n("people"),
            n("active"),
            n("memberships")
        );
        println!("source read: {} requests (derived minimum {minimum})", n("requests"));
        for r in &reports {
            assert_eq!(r["requests"].as_u64(), Some(minimum as u64), "source requests");
        }
        let pace = Duration::from_secs(10) / 875 * u32::try_from(minimum - 1).unwrap();
        println!(
            "  the reader's pace (875 requests per 10 s) alone spreads them over {:.1} s; the emulator parses its state in {:.2} s",
            pace.as_secs_f64(),
            emulator_start.as_secs_f64()
        );
        println!(
            "target read: {} requests, {} live objects",
            n("target_requests"),
            n("objects")
        );
        println!(
            "changes planned: {} ({} users, {} groups, {} memberships created; {} memberships removed)",
            n("changes"),
            n("users_created"),
            n("groups_created"),
            n("memberships_created"),
            n("memberships_deleted")
        );
        let med = |k: &str| median(reports.iter().map(|r| r[k].as_f64().unwrap_or_default()).collect());
        let peak = |k: &str| {
            reports
                .iter()
                .map(|r| r[k].as_f64().unwrap_or_default())
                .fold(0.0, f64::max)
        };
        println!("median of {runs} runs:");
        println!("  load manifests            {:>7.2} s", med("load"));
        println!("  read the source + select  {:>7.2} s", med("source"));
        println!("  resolve with it           {:>7.2} s", med("resolve"));
        println!("  read the target           {:>7.2} s", med("read"));
        println!("  plan + safety rules       {:>7.2} s", med("plan"));
        println!("    of which diff + order   {:>7.2} s", med("diff"));
        println!("peak memory of the child (rollcall and the Entra emulator; highest of the runs):");
        println!("  after load                {:>7.0} MiB", peak("peak_load"));
        println!("  after the source          {:>7.0} MiB", peak("peak_source"));
        println!("  after resolve             {:>7.0} MiB", peak("peak_resolve"));
        println!("  after the target read     {:>7.0} MiB", peak("peak_read"));
        println!("  after plan                {:>7.0} MiB", peak("peak_plan"));
    });
}
