//! Benchmark: a Bitbucket Cloud plan and apply against the Atlassian Cloud emulator over
//! loopback HTTP, for a large organisation: 2,000 people, 200 groups, 50 projects of
//! 20 repositories (1,000). Prints medians of repeated runs and the request counts; it
//! asserts nothing about time (the machine's noise is not a test failure).
//!
//! Run with `cargo bench --bench plan_cloud -- [--latency MS] [--runs N]`: `--latency`
//! adds that much to every answer (20 ms unless told), `--runs` repeats (3 unless told).
//!
//! The manifest has two targets on the one emulator, as `examples/bitbucket-cloud` has:
//! `org` (`atlassian-organization`, the directory's people and groups) and `cloud`
//! (`bitbucket-cloud`, `principals_from: org`), declaring the same people and groups,
//! each project's 2 group grants and each repository's 1 group and 1 user grant (2,100
//! grants), with 21 of them drifted: 10 repository user grants at another level, 10
//! repository group grants missing, and one user grant on a project nobody declares.
//!
//! Per run it reads the directory, then the workspace, each timed on its own, with the
//! workspace's pacing lifted: at the vendor's 1,000 requests an hour a read of 1,000
//! repositories takes over two hours, so the bench reports what that pace would cost (the
//! share of the hourly budget and the time the pace spreads the read over, computed from
//! [`Tuning::vendor`]'s budget and burst) rather than waiting for it. Then it plans and
//! applies the drift. Requests are counted against minimums derived from the generated
//! state. The emulator's own rate limit is raised out of the way.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use rollcall::http::Auth;
use rollcall::model::ResourceId;
use rollcall::plan::Action;
use rollcall::provider::bitbucket_cloud::{BitbucketCloud, Tuning, BURST, HOURLY_QUOTA};
use rollcall::provider::Provider;
use rollcall::sandbox::atlassian_cloud::state::CloudState;
use rollcall::sandbox::atlassian_cloud::{serve, Shared};
use rollcall::sandbox::state::StateFile as _;

const TOKEN: &str = "bench-token";
const ORG_ID: &str = "4f2a9c1e-0b7d-4e8a-9c3f-5d6e7f8a9b0c";
const DIR_ID: &str = "9d8c7b6a-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const WORKSPACE: &str = "bench";
/// The workspace owner and the token's account: not one of the declared people.
const OPERATOR: &str = "557058:bench-operator";
const OPERATOR_EMAIL: &str = "operator@bench.example";

const PEOPLE: usize = 2_000;
const GROUPS: usize = 200;
const PROJECTS: usize = 50;
const REPOS_PER_PROJECT: usize = 20;
const REPOS: usize = PROJECTS * REPOS_PER_PROJECT;
const RUNS: usize = 3;
const LATENCY_MS: u64 = 20;

/// Bitbucket's and the directory's page: 100 entries.
const PAGE: usize = 100;
/// People per workspace members query (`user.email IN (…)`).
const EMAILS_PER_QUERY: usize = 90;
/// Names or emails per directory search.
const NAMES_PER_SEARCH: usize = 100;
/// Groups per directory members search.
const GROUPS_PER_SEARCH: usize = 10;
/// Requests in flight to the workspace, as the registry caps it.
const CLOUD_IN_FLIGHT: usize = 8;

fn person(p: usize) -> String {
    format!("p{p:04}")
}

fn account(p: usize) -> String {
    format!("557058:bench-{p:04}")
}

fn group(g: usize) -> String {
    format!("team-{g:03}")
}

fn project(k: usize) -> String {
    format!("P{k:02}")
}

fn repo(r: usize) -> String {
    format!("repo-{r:04}")
}

/// Each group's members: a block of 10 consecutive people and the 10 whose number is the
/// group's modulo 200, so everyone is in two groups (4,000 memberships, 20 a group).
fn members(g: usize) -> Vec<usize> {
    let mut m: BTreeSet<usize> = (g * 10..g * 10 + 10).collect();
    m.extend((0..PEOPLE).filter(|p| p % GROUPS == g));
    m.into_iter().collect()
}

/// A project's grants: two groups, one `write` and one `read`.
fn project_groups(k: usize) -> [(usize, &'static str); 2] {
    [((k * 4) % GROUPS, "write"), ((k * 4 + 1) % GROUPS, "read")]
}

/// A repository's declared grants: one group and one person.
fn repo_group(r: usize) -> (usize, &'static str) {
    ((r * 7) % GROUPS, if r % 2 == 0 { "read" } else { "write" })
}

fn repo_user(r: usize) -> (usize, &'static str) {
    ((r * 13) % PEOPLE, if r % 3 == 0 { "admin" } else { "write" })
}

/// The drift, 21 of the 2,100 declared grants: the user grant of every hundredth
/// repository is live at `read` (an update), the group grant of every hundredth from the
/// 50th is missing (a create), and the first project has a user grant nobody declares
/// (a delete, permissions being pruned).
fn drifted_level(r: usize) -> bool {
    r % 100 == 0
}

fn group_missing(r: usize) -> bool {
    r % 100 == 50
}

const EXTRA_GRANT: usize = PEOPLE - 1;

/// Live state, built as JSON: the directory, every person a workspace member, the
/// projects, repositories and grants with the drift, the emulator's rate limit out of the
/// way and `latency_ms` on every answer.
fn live_state(latency_ms: u64) -> CloudState {
    let mut users: Vec<serde_json::Value> = (0..PEOPLE)
        .map(|p| {
            serde_json::json!({"account_id": account(p), "name": format!("Person {p}"),
                "email": format!("{}@bench.example", person(p))})
        })
        .collect();
    users.push(serde_json::json!({"account_id": OPERATOR, "name": "Operator", "email": OPERATOR_EMAIL}));
    let groups: Vec<serde_json::Value> = (0..GROUPS)
        .map(|g| {
            serde_json::json!({"id": format!("a1000000-0000-4000-8000-{g:012}"), "name": group(g),
                "members": members(g).into_iter().map(account).collect::<Vec<_>>()})
        })
        .collect();
    let projects: Vec<serde_json::Value> = (0..PROJECTS)
        .map(|k| {
            let groups: BTreeMap<String, &str> = project_groups(k).iter().map(|(g, l)| (group(*g), *l)).collect();
            let mut users = BTreeMap::new();
            if k == 0 {
                users.insert(account(EXTRA_GRANT), "admin");
            }
            let repos: Vec<serde_json::Value> = (k * REPOS_PER_PROJECT..(k + 1) * REPOS_PER_PROJECT)
                .map(|r| {
                    let (g, gl) = repo_group(r);
                    let (u, ul) = repo_user(r);
                    let groups: BTreeMap<String, &str> = if group_missing(r) {
                        BTreeMap::new()
                    } else {
                        BTreeMap::from([(group(g), gl)])
                    };
                    let ul = if drifted_level(r) { "read" } else { ul };
                    serde_json::json!({"slug": repo(r), "groups": groups, "users": {account(u): ul}})
                })
                .collect();
            serde_json::json!({"key": project(k), "name": format!("Project {k}"), "groups": groups,
                "users": users, "repos": repos})
        })
        .collect();
    let mut state: CloudState = serde_json::from_value(serde_json::json!({
        "kind": "atlassian-cloud",
        "organization": {"id": ORG_ID, "name": "Bench"},
        "directory": {"id": DIR_ID, "name": "Bench"},
        "operator": OPERATOR,
        "rate_limit": {"requests": 1_000_000, "per_seconds": 1},
        "users": users,
        "groups": groups,
        "workspace": {"slug": WORKSPACE, "name": "Bench", "uuid": "{5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d}",
            "owner": OPERATOR, "members": (0..PEOPLE).map(account).collect::<Vec<_>>(),
            "projects": projects},
        "faults": {"latency_ms": latency_ms},
    }))
    .unwrap();
    state.check().unwrap();
    state
}

/// The manifest: both targets on the emulator, the same people and groups as the
/// directory, and every project's and repository's grants as declared (before drift).
fn manifest(url: &str) -> String {
    let mut m = format!(
        "targets:\n  org:\n    kind: atlassian-organization\n    url: {url}\n    organization: \"{ORG_ID}\"\n    directory: \"{DIR_ID}\"\n    auth: {{ token: \"${{file:token}}\" }}\n  cloud:\n    kind: bitbucket-cloud\n    url: {url}\n    workspace: {WORKSPACE}\n    principals_from: org\n    auth: {{ username: {OPERATOR_EMAIL}, token: \"${{file:token}}\" }}\n"
    );
    m.push_str("policy:\n  prune: { memberships: true, permissions: true }\nusers:\n");
    for p in 0..PEOPLE {
        let _ = writeln!(
            m,
            "  {}: {{ name: Person {p}, email: {}@bench.example }}",
            person(p),
            person(p)
        );
    }
    m.push_str("groups:\n");
    for g in 0..GROUPS {
        let list: Vec<String> = members(g).into_iter().map(person).collect();
        let _ = writeln!(m, "  {}: {{ members: [{}] }}", group(g), list.join(", "));
    }
    let _ = writeln!(m, "access:\n  cloud:\n    projects:");
    for k in 0..PROJECTS {
        let groups: Vec<String> = project_groups(k)
            .iter()
            .map(|(g, l)| format!("{}: {l}", group(*g)))
            .collect();
        let _ = writeln!(
            m,
            "      {}:\n        groups: {{ {} }}\n        repos:",
            project(k),
            groups.join(", ")
        );
        for r in k * REPOS_PER_PROJECT..(k + 1) * REPOS_PER_PROJECT {
            let (g, gl) = repo_group(r);
            let (u, ul) = repo_user(r);
            let _ = writeln!(
                m,
                "          {}:\n            groups: {{ {}: {gl} }}\n            users: {{ {}: {ul} }}",
                repo(r),
                group(g),
                person(u)
            );
        }
    }
    m
}

/// Pages of a list of `n` entries: at least one.
fn pages(n: usize) -> usize {
    n.div_ceil(PAGE).max(1)
}

/// The fewest requests of the workspace read, from the live state: the token's account,
/// a members query per 90 people, the owner, and each named project's and repository's
/// two grant lists, a page per 100 grants.
fn minimum_cloud_read(state: &CloudState) -> usize {
    let mut n = 1 + PEOPLE.div_ceil(EMAILS_PER_QUERY) + 1;
    for p in &state.workspace.projects {
        n += pages(p.groups.len()) + pages(p.users.len());
        for r in &p.repos {
            n += pages(r.groups.len()) + pages(r.users.len());
        }
    }
    n
}

/// The fewest requests of the directory read (see `provider/atlassian_org/read.rs`): a
/// search per 100 group names, a search per 100 emails, and per 10 groups found one users
/// search, a page per 100 distinct members of the 10. Groups are found in name order,
/// which is the order they are generated in.
fn minimum_directory_read(state: &CloudState) -> usize {
    let searches = GROUPS.div_ceil(NAMES_PER_SEARCH) + PEOPLE.div_ceil(NAMES_PER_SEARCH);
    let members: usize = state
        .groups
        .chunks(GROUPS_PER_SEARCH)
        .map(|chunk| {
            let distinct: BTreeSet<&String> = chunk.iter().flat_map(|g| &g.members).collect();
            pages(distinct.len())
        })
        .sum();
    searches + members
}

/// What a read of `requests` takes at the vendor's pace: `burst` go at once, each of the
/// rest one interval after the one before.
fn vendor_pace(requests: usize) -> Duration {
    let budget = Tuning::vendor().budget.unwrap();
    let spaced = u32::try_from(requests.saturating_sub(BURST as usize)).unwrap();
    budget.interval() * spaced
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn hours(d: Duration) -> String {
    let m = (d.as_secs() + 30) / 60;
    format!("{} h {:02} min", m / 60, m % 60)
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        raw.iter()
            .position(|a| a == name)
            .and_then(|i| raw.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let latency_ms = value("--latency").unwrap_or(LATENCY_MS);
    let runs = value("--runs").map_or(RUNS, |n| n.max(1) as usize);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let t = Instant::now();
        let state = live_state(latency_ms);
        let built = t.elapsed();
        let cloud_minimum = minimum_cloud_read(&state);
        let directory_minimum = minimum_directory_read(&state);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), TOKEN).unwrap();

        let (mut load, mut org_read, mut cloud_read, mut plan_t, mut apply_t) = (vec![], vec![], vec![], vec![], vec![]);
        let (mut org_requests, mut cloud_requests, mut apply_requests, mut apply_minimum) = (0, 0, 0, 0);
        let (mut changes, mut failed, mut refusal) = (String::new(), 0, String::new());
        for run in 0..runs {
            // A fresh emulator each run, so every run applies the same drift.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let emulator = serve(Shared::new(state.clone(), TOKEN.into()), listener).await.unwrap();
            std::fs::write(dir.path().join("org.yaml"), manifest(&emulator.base_url)).unwrap();
            let t = Instant::now();
            let desired = match rollcall::engine::load(dir.path()) {
                Ok(d) => d,
                Err(e) => panic!("manifest did not load: {e:?}"),
            };
            load.push(t.elapsed());

            let base = url::Url::parse(&emulator.base_url).unwrap();
            let org_config = &desired.targets["org"];
            let org = rollcall::provider::registry::provider(
                org_config,
                base.clone(),
                Some(Auth::Bearer(TOKEN.into())),
                rollcall::engine::DEFAULT_PARALLELISM,
            )
            .unwrap();
            let cloud_config = &desired.targets["cloud"];
            let basic = || Auth::Basic {
                username: OPERATOR_EMAIL.to_owned(),
                token: TOKEN.into(),
            };
            // Pacing lifted, and the hour's quota too: the read's 2,000-odd requests are
            // more than the 1,000 an hour `vendor()` lets a read start with.
            let tuning = Tuning {
                budget: None,
                quota: u32::MAX,
                ..Tuning::vendor()
            };
            let cloud = BitbucketCloud::new(
                "cloud",
                base.clone(),
                Some(basic()),
                WORKSPACE,
                cloud_config.scope.clone(),
                CLOUD_IN_FLIGHT,
                tuning,
            )
            .unwrap();

            let t = Instant::now();
            let org_live = org.read().await.unwrap();
            org_read.push(t.elapsed());
            let t = Instant::now();
            let cloud_live = cloud.read().await.unwrap();
            cloud_read.push(t.elapsed());
            org_requests = org.request_count();
            cloud_requests = cloud.request_count();

            if run == 0 {
                // At the vendor's figures the same read is refused before its first
                // request: it cannot fit in the account's hour.
                let vendor = BitbucketCloud::new(
                    "cloud",
                    base,
                    Some(basic()),
                    WORKSPACE,
                    cloud_config.scope.clone(),
                    CLOUD_IN_FLIGHT,
                    Tuning::vendor(),
                )
                .unwrap();
                refusal = match vendor.read().await {
                    Ok(_) => "none: the read ran".to_owned(),
                    Err(e) => format!("{e} ({} requests sent)", vendor.request_count()),
                };
            }

            let t = Instant::now();
            let live = BTreeMap::from([("org".to_owned(), org_live), ("cloud".to_owned(), cloud_live)]);
            let findings = BTreeMap::from([("org".to_owned(), org.findings()), ("cloud".to_owned(), cloud.findings())]);
            let plan = rollcall::plan::build_with(&desired, &live, &findings).unwrap();
            let plan = match plan.review(&BTreeMap::new(), &live, None) {
                Ok(p) => p,
                Err(refused) => panic!("{:#?}", refused.0.refusals),
            };
            plan_t.push(t.elapsed());
            let counts = |action: Action| plan.changes.iter().filter(|c| c.action == action).count();
            changes = format!(
                "{} ({} create, {} update, {} delete; {} held)",
                plan.changes.len(),
                counts(Action::Create),
                counts(Action::Update),
                counts(Action::Delete),
                plan.held.len()
            );
            // One request per grant changed, and the preflight's scope check: one per kind
            // of scope (project, repository) and of change (revoke or not) among them.
            let grants: Vec<_> = plan
                .changes
                .iter()
                .filter(|c| c.address.target == "cloud" && matches!(c.address.id, ResourceId::Grant { .. }))
                .collect();
            let kinds: BTreeSet<(bool, bool)> = grants
                .iter()
                .filter_map(|c| match &c.address.id {
                    ResourceId::Grant { scope, .. } => Some((
                        scope.to_string().starts_with("repo["),
                        c.action == Action::Delete,
                    )),
                    _ => None,
                })
                .collect();
            apply_minimum = grants.len() + kinds.len();

            let providers: BTreeMap<String, Box<dyn Provider>> =
                BTreeMap::from([("org".to_owned(), org), ("cloud".to_owned(), Box::new(cloud) as Box<dyn Provider>)]);
            let t = Instant::now();
            let report = rollcall::apply::execute(&plan, &providers, 4, |_, _| {}).await;
            apply_t.push(t.elapsed());
            if !report.succeeded() {
                failed += 1;
                println!("run {run}: {} changes failed", report.failed());
            }
            apply_requests = providers["cloud"].request_count() - cloud_requests + providers["org"].request_count()
                - org_requests;
            emulator.shutdown().await;
        }

        let declared = PROJECTS * 2 + REPOS * 2;
        let budget = Tuning::vendor().budget.unwrap();
        println!(
            "organisation: {PEOPLE} people, {GROUPS} groups (4,000 memberships), {PROJECTS} projects of {REPOS_PER_PROJECT} repositories ({REPOS}), {declared} grants declared; latency {latency_ms} ms; state built in {}",
            secs(built)
        );
        println!("changes planned: {changes}; runs that failed: {failed} of {runs}");
        println!(
            "directory read: {org_requests} requests (derived minimum {directory_minimum})"
        );
        println!(
            "workspace read: {cloud_requests} requests (derived minimum {cloud_minimum}): {:.2} of the account's {HOURLY_QUOTA} an hour",
            cloud_requests as f64 / f64::from(HOURLY_QUOTA)
        );
        println!(
            "  at the vendor's pace ({BURST} at once, then one every {:.2} s) it would take {} ({:.0} s)",
            budget.interval().as_secs_f64(),
            hours(vendor_pace(cloud_requests)),
            vendor_pace(cloud_requests).as_secs_f64()
        );
        println!("  with the vendor's tuning: {refusal}");
        println!("apply: {apply_requests} requests (derived minimum {apply_minimum})");
        println!("median of {runs} runs:");
        println!("  load + resolve          {:>9}", secs(median(load)));
        println!("  directory read          {:>9}", secs(median(org_read)));
        println!("  workspace read, no pace {:>9}", secs(median(cloud_read)));
        println!("  plan + review           {:>9}", secs(median(plan_t)));
        println!("  apply                   {:>9}", secs(median(apply_t)));
    });
}
