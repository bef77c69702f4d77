//! A large organisation on a bad network: 10% of requests answered 429, 10% 503 and 5%
//! dropped (half of those after the server acted), on eight seeds at once. Reading,
//! planning, saving the plan, checking it again (the saved-plan flow reads the target a
//! second time) and applying it succeed on every seed, and a second plan is empty.
//!
//! Each read sends about 800 requests; at a quarter failing, one request in 4,096 fails
//! six times in a row, so a client that gave every request six attempts would fail about
//! a third of these runs. Reads now keep going while the target answers others.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use rollcall::engine::{self, Tuning};
use rollcall::sandbox::faults::FaultConfig;
use rollcall::sandbox::state::{DcProject, DcRepo, DcState, DcUser, StateFile as _};

const USERS: usize = 1_500;
const GROUPS: usize = 150;
const PER_GROUP: usize = 10;
const PROJECTS: usize = 40;
const REPOS: usize = 5;
const SEEDS: u64 = 8;

fn user(n: usize) -> String {
    format!("u{n:05}")
}

fn group(g: usize) -> String {
    format!("team{g:03}")
}

fn members(g: usize) -> Vec<String> {
    (0..PER_GROUP).map(|k| user((g * 37 + k * 13) % USERS)).collect()
}

/// Live state: every fifth user missing, every group present with one member too many,
/// every grant in place but one per project.
fn live(seed: u64) -> DcState {
    let mut s = DcState {
        operator: "admin".into(),
        ..DcState::default()
    };
    let person = |n: &str| DcUser {
        display_name: format!("User {n}"),
        email: format!("{n}@example.com"),
        active: true,
    };
    s.users.insert("admin".into(), person("admin"));
    s.global.users.insert("admin".into(), "SYS_ADMIN".into());
    for n in (0..USERS).filter(|n| n % 5 != 0) {
        s.users.insert(user(n), person(&user(n)));
    }
    for g in 0..GROUPS {
        let mut m: std::collections::BTreeSet<String> =
            members(g).into_iter().filter(|u| s.users.contains_key(u)).collect();
        // One member the manifest does not list, where that user exists.
        let extra = user((g * 7 + 1) % USERS);
        if s.users.contains_key(&extra) {
            m.insert(extra);
        }
        s.groups.insert(group(g), m);
    }
    for p in 0..PROJECTS {
        let mut project = DcProject {
            name: format!("Project {p}"),
            ..DcProject::default()
        };
        if p % 2 == 0 {
            project.grants.groups.insert(group(p % GROUPS), "PROJECT_WRITE".into());
        }
        for r in 0..REPOS {
            let mut repo = DcRepo::default();
            repo.grants.groups.insert(group((p + r) % GROUPS), "REPO_ADMIN".into());
            project.repos.insert(format!("repo{r}"), repo);
        }
        s.projects.insert(format!("P{p:03}"), project);
    }
    s.faults = Some(FaultConfig {
        seed,
        rate_limited: 0.10,
        unavailable: 0.10,
        dropped: 0.05,
        retry_after_secs: 1,
        ..FaultConfig::default()
    });
    s
}

fn manifest() -> String {
    let mut m = String::from(
        "targets:\n  bb: { kind: bitbucket-datacenter, url: \"sandbox:../state.yaml\" }\nusers:\n  admin: { name: User admin, email: admin@example.com }\n",
    );
    for n in 0..USERS {
        let u = user(n);
        let _ = writeln!(m, "  {u}: {{ name: User {u}, email: {u}@example.com }}");
    }
    m.push_str("groups:\n");
    for g in 0..GROUPS {
        let _ = writeln!(m, "  {}: {{ members: [{}] }}", group(g), members(g).join(", "));
    }
    m.push_str("access:\n  bb:\n    global:\n      users: { admin: SYS_ADMIN }\n    projects:\n");
    for p in 0..PROJECTS {
        let _ = writeln!(
            m,
            "      P{p:03}:\n        groups: {{ {}: write }}\n        repos:",
            group(p % GROUPS)
        );
        for r in 0..REPOS {
            let _ = writeln!(
                m,
                "          repo{r}: {{ groups: {{ {}: admin }} }}",
                group((p + r) % GROUPS)
            );
        }
    }
    m.push_str("policy:\n  prune: { memberships: true }\n  limits: { max_delete_percent: 100 }\n");
    m
}

/// Plans, saves, checks the saved plan against a fresh read and applies it; returns the
/// number of changes applied and the requests and retries of both reads and the apply.
async fn run(root: &Path) -> Result<(usize, usize, usize), String> {
    let tuning = Tuning::default();
    let dir = root.join("m");
    let desired = engine::load(&dir).map_err(|e| e.to_string())?;
    let live = engine::read_with(&desired, tuning)
        .await
        .map_err(|e| format!("plan: {e}"))?;
    let plan = engine::plan(&desired, &live).map_err(|e| e.to_string())?;
    let mut plan = match engine::review(plan, &live, None) {
        Ok(reviewed) => reviewed.into_plan(),
        Err(refused) => return Err(format!("refused: {:?}", refused.0.refusals)),
    };
    live.shutdown().await;
    // As `plan --out` does: paths in the file are relative to the file.
    plan.base = root.to_owned();
    let file = root.join("plan.json");
    std::fs::write(&file, rollcall::plan::file::to_json(&plan)).map_err(|e| e.to_string())?;

    let saved = engine::saved::read(&file, None).await.map_err(|e| e.to_string())?;
    let checked = engine::saved::check(&saved, None, None, &Default::default(), tuning)
        .await
        .map_err(|e| format!("apply FILE: {e}"))?;
    let reviewed = checked.plan.map_err(|r| format!("refused: {:?}", r.0.refusals))?;
    let stop = AtomicBool::new(false);
    let report = engine::apply(&reviewed, &checked.live, tuning.parallelism, &stop, |_| {}).await;
    let requests = checked
        .live
        .connected
        .providers
        .values()
        .map(|p| p.request_count())
        .sum();
    let retries = checked.live.connected.providers.values().map(|p| p.retry_count()).sum();
    checked.live.connected.save_sandboxes().map_err(|e| e.to_string())?;
    checked.live.shutdown().await;
    if report.failed() > 0 {
        let failed: Vec<String> = report
            .outcomes
            .iter()
            .filter(|(_, o)| matches!(o, rollcall::apply::Outcome::Failed(_)))
            .map(|(c, o)| format!("{}: {o:?}", c.address))
            .collect();
        return Err(format!("{} changes failed: {}", failed.len(), failed.join("; ")));
    }
    Ok((report.applied(), requests, retries))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_plan_and_its_saved_apply_survive_a_quarter_of_requests_failing_on_every_seed() {
    let manifest = manifest();
    let worlds: Vec<tempfile::TempDir> = (0..SEEDS)
        .map(|seed| {
            let tmp = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(tmp.path().join("m")).unwrap();
            std::fs::write(tmp.path().join("m/manifest.yaml"), &manifest).unwrap();
            live(seed).save(&tmp.path().join("state.yaml")).unwrap();
            tmp
        })
        .collect();
    let runs = futures_util::future::join_all(worlds.iter().map(|w| run(w.path()))).await;
    let mut retried = 0;
    for (seed, outcome) in runs.iter().enumerate() {
        match outcome {
            Ok((applied, requests, retries)) => {
                assert!(*applied > 300, "seed {seed}: only {applied} changes");
                assert!(*requests > 700, "seed {seed}: {requests} requests");
                retried += retries;
            }
            Err(e) => panic!("seed {seed} failed: {e}"),
        }
    }
    assert!(
        retried > 100 * SEEDS as usize,
        "the faults were injected: {retried} retries"
    );
    // Converged: planning again, without faults, finds nothing to do.
    for w in &worlds {
        let state = w.path().join("state.yaml");
        let mut s = DcState::load(&state).unwrap();
        s.faults = None;
        s.save(&state).unwrap();
        let desired = engine::load(&w.path().join("m")).unwrap();
        let live = engine::read(&desired).await.unwrap();
        let plan = engine::plan(&desired, &live).unwrap();
        live.shutdown().await;
        assert!(plan.is_empty(), "{} changes left", plan.changes.len());
    }
}
