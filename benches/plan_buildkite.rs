//! Benchmark: a Buildkite plan and apply against the Buildkite emulator over loopback HTTP,
//! for a large organization: 1,000 members, 250 teams (the vendor's limit), 5,000 team
//! memberships and 2,000 team-pipeline grants over 500 pipelines. Prints medians of
//! repeated runs, the requests and complexity points against figures derived from the
//! generated state, and the time Buildkite's complexity windows spread the read over; it
//! asserts nothing about time (the machine's noise is not a test failure), only counts:
//! that the read took exactly the requests and points its formula gives, and that a paced
//! run saw no 429.
//!
//! Run with `cargo bench --bench plan_buildkite -- [--latency MS] [--runs N] [--paced
//! [--window S]]`: `--latency` adds that much to every answer (20 ms unless told), `--runs`
//! repeats (3 unless told).
//!
//! The manifest declares every member, team (its description, maintainers and members)
//! and grant, with 31 changes of drift: 10 team memberships missing, 10 pipeline grants
//! at another level, 5 maintainers who should be plain members, 2 members to make admins
//! and one admin to demote, and one person to invite into two teams. One more person is
//! invited already and has not accepted: nothing to change there.
//!
//! Buildkite meters its GraphQL API in complexity points: a user may spend 5,000 in five
//! minutes, an organization 20,000, and a read of this organization costs over 17,000.
//! By default the emulator's windows are lifted (the read goes at full speed, and the
//! figures are the provider's formula's), and the bench computes the least time the
//! user's window spreads the read over. With `--paced` the emulator keeps the vendor's
//! points but its windows last `--window` seconds (5 unless told): the provider waits for
//! each reset as it would for five minutes, no 429 is seen, and the bench counts the waits
//! and scales the time back to 300 s windows. A paced run also reads once with the
//! operation's deadline scaled as the window is, to show whether the read fits in it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rollcall::http::{Auth, DEFAULT_DEADLINE, MAX_DEADLINE};
use rollcall::plan::Action;
use rollcall::provider::buildkite::{Buildkite, Settings, Tuning, BATCH_LIMIT};
use rollcall::provider::Provider;
use rollcall::sandbox::buildkite::state::{
    Access, Invitation, InvitedTeam, Limits, Member, OrgRole, Organization, Privacy, Sso, Team, TeamMember,
    TeamPipeline, TeamRole,
};
use rollcall::sandbox::buildkite::{serve, BkState, Shared};
use rollcall::sandbox::faults::FaultConfig;
use rollcall::sandbox::state::StateFile as _;
use tracing_subscriber::layer::SubscriberExt as _;

const TOKEN: &str = "bench-token";
const ORG: &str = "bench";

const PEOPLE: usize = 1_000;
const TEAMS: usize = 250;
const MEMBERS_PER_TEAM: usize = 20;
const PIPELINES: usize = 500;
const GRANTS_PER_TEAM: usize = 8;
/// Live admins: the first ten people, the operator (`p0000`) among them.
const ADMINS: usize = 10;
const RUNS: usize = 3;
const LATENCY_MS: u64 = 20;
const WINDOW_S: u64 = 5;

/// Buildkite's figures: the user's points per window, the window, the most one document
/// may request, the largest page.
const USER_POINTS: u64 = 5_000;
const VENDOR_WINDOW_S: u64 = 300;
const MAX_REQUESTED: u64 = 50_000;
const PAGE: u64 = 500;

/// The provider's documents (`provider/buildkite/documents.rs`): the requested points of
/// each query's fixed part and per element, and what a team's nested connections ask
/// for.
const ORGANIZATION_FIXED: u64 = 7;
const ORGANIZATION_EACH: u64 = 2;
const INVITATIONS_FIXED: u64 = 4;
const INVITATION_TEAMS_FIRST: u64 = 50;
const TEAMS_FIXED: u64 = 4;
const NESTED: u64 = 100;

/// The invitee the plan invites, and the person invited already.
const INVITEE: usize = PEOPLE;
const PENDING: usize = PEOPLE + 1;
const INVITEE_TEAMS: [usize; 2] = [3, 4];
const PENDING_TEAM: usize = 5;

fn person(p: usize) -> String {
    format!("p{p:04}")
}

fn email(p: usize) -> String {
    format!("{}@bench.example", person(p))
}

fn team(u: usize) -> String {
    format!("team-{u:03}")
}

fn pipeline(q: usize) -> String {
    format!("pipe-{q:03}")
}

/// A team's members: 20 people spread over the organization (4u + 53j mod 1,000), so
/// everyone is on exactly 5 teams; the first of each is its maintainer.
fn members(u: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..MEMBERS_PER_TEAM).map(move |j| (j, (u * 4 + 53 * j) % PEOPLE))
}

/// A team's pipelines: 8 of them (2u + 61k mod 500), so every pipeline is granted to
/// exactly 4 teams, at a level that turns with the team and the place.
fn pipelines(u: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    (0..GRANTS_PER_TEAM).map(move |k| (k, (u * 2 + 61 * k) % PIPELINES, (u + k) % 3))
}

const ACCESS: [Access; 3] = [Access::ReadOnly, Access::BuildAndRead, Access::ManageBuildAndRead];
const WORDS: [&str; 3] = ["read", "write", "admin"];

/// The drift. A team's last member is missing from every 25th team (10 creates).
fn member_missing(u: usize, j: usize) -> bool {
    u % 25 == 0 && j == MEMBERS_PER_TEAM - 1
}

/// A team's last pipeline is live a level up on every 25th team from the 12th (10
/// updates).
fn grant_drifted(u: usize, k: usize) -> bool {
    u % 25 == 12 && k == GRANTS_PER_TEAM - 1
}

/// A team's second member is live a maintainer on every 50th team from the 7th (5
/// updates).
fn role_drifted(u: usize, j: usize) -> bool {
    u % 50 == 7 && j == 1
}

/// The declared admins: the live ones but `p0009` (a demotion), and `p0010` and `p0011`
/// (two promotions).
fn declared_admins() -> Vec<usize> {
    (0..ADMINS - 1).chain([ADMINS, ADMINS + 1]).collect()
}

/// Live state: every member, the pending invitation, the pipelines, and the teams with
/// their members and grants as drifted. `paced`: the vendor's points in windows of
/// `window_s`; else the windows out of the way (a day long, a billion points).
fn live_state(latency_ms: u64, paced: bool, window_s: u64) -> BkState {
    let people = (0..PEOPLE)
        .map(|p| Member {
            email: email(p),
            name: format!("Person {p}"),
            role: if p < ADMINS { OrgRole::Admin } else { OrgRole::Member },
            uuid: None,
        })
        .collect();
    let teams = (0..TEAMS)
        .map(|u| Team {
            name: team(u),
            slug: None,
            description: Some(format!("Team {u}")),
            privacy: Privacy::Visible,
            default_member_role: TeamRole::Member,
            default_team: false,
            members_can_create_pipelines: true,
            members: members(u)
                .filter(|(j, _)| !member_missing(u, *j))
                .map(|(j, p)| TeamMember {
                    email: email(p),
                    role: if j == 0 || role_drifted(u, j) {
                        TeamRole::Maintainer
                    } else {
                        TeamRole::Member
                    },
                    uuid: None,
                })
                .collect(),
            pipelines: pipelines(u)
                .map(|(k, q, level)| TeamPipeline {
                    pipeline: pipeline(q),
                    access: ACCESS[if grant_drifted(u, k) { (level + 1) % 3 } else { level }],
                    uuid: None,
                })
                .collect(),
            uuid: None,
        })
        .collect();
    let limits = if paced {
        Limits {
            window_seconds: window_s,
            ..Limits::default()
        }
    } else {
        Limits {
            user_points: 1_000_000_000,
            org_points: 1_000_000_000,
            window_seconds: 86_400,
            ..Limits::default()
        }
    };
    let mut state = BkState {
        kind: "buildkite".to_owned(),
        organization: Organization {
            slug: ORG.to_owned(),
            name: "Bench".to_owned(),
            teams_enabled: true,
            teams_in_plan: true,
            sso: Sso { enabled: false },
        },
        operator: email(0),
        members: people,
        invitations: vec![Invitation {
            email: email(PENDING),
            role: OrgRole::Member,
            teams: vec![InvitedTeam {
                team: team(PENDING_TEAM),
                role: TeamRole::Member,
            }],
            uuid: None,
        }],
        pipelines: (0..PIPELINES).map(pipeline).collect(),
        teams,
        limits,
        serial: 0,
        faults: Some(FaultConfig {
            latency_ms,
            ..FaultConfig::default()
        }),
    };
    state.check().unwrap();
    state
}

/// The manifest: every member and both invited people, every team as declared (before
/// drift), the admins and every pipeline's grants; memberships and permissions pruned.
fn manifest(url: &str) -> String {
    let mut m = format!(
        "targets:\n  bk:\n    kind: buildkite\n    url: {url}\n    organization: {ORG}\n    auth: {{ token: \"${{file:token}}\", account: {} }}\n",
        person(0)
    );
    m.push_str("policy:\n  prune: { memberships: true, permissions: true }\nusers:\n");
    for p in 0..=PENDING {
        let _ = writeln!(m, "  {}: {{ name: Person {p}, email: {} }}", person(p), email(p));
    }
    m.push_str("groups:\n");
    for u in 0..TEAMS {
        let mut maintainers = Vec::new();
        let mut plain = Vec::new();
        for (j, p) in members(u) {
            let list = if j == 0 { &mut maintainers } else { &mut plain };
            list.push(person(p));
        }
        if INVITEE_TEAMS.contains(&u) {
            plain.push(person(INVITEE));
        }
        if u == PENDING_TEAM {
            plain.push(person(PENDING));
        }
        let _ = writeln!(
            m,
            "  {}: {{ description: Team {u}, maintainers: [{}], members: [{}] }}",
            team(u),
            maintainers.join(", "),
            plain.join(", ")
        );
    }
    let admins: Vec<String> = declared_admins()
        .into_iter()
        .map(|p| format!("{}: admin", person(p)))
        .collect();
    let _ = writeln!(
        m,
        "access:\n  bk:\n    organization:\n      users: {{ {} }}\n    pipelines:",
        admins.join(", ")
    );
    let mut grants: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for u in 0..TEAMS {
        for (_, q, level) in pipelines(u) {
            grants
                .entry(q)
                .or_default()
                .push(format!("{}: {}", team(u), WORDS[level]));
        }
    }
    for (q, groups) in grants {
        let _ = writeln!(m, "      {}: {{ groups: {{ {} }} }}", pipeline(q), groups.join(", "));
    }
    m
}

/// The read's requests and actual points with the windows' room to spare, from the live
/// state, as `provider/buildkite/read.rs` derives them: one query per page of each
/// connection (members 500 a page, invitations and teams as many as a document's 50,000
/// requested points allow), continuation pages for a team's members or pipelines past
/// 100 and for an invitation's teams past 50. A page's actual points are its fixed part
/// (the objects around the list, and `edges` when it holds any) plus its elements'; the
/// header's formula is this in one page each.
fn read_cost(state: &BkState) -> (u64, u64) {
    let any = |n: u64| u64::from(n > 0);
    // Elements per page, for a list of `n` in pages of `size`: one (empty) page at least.
    let pages = |n: u64, size: u64| -> Vec<u64> {
        let mut v: Vec<u64> = (0..n / size).map(|_| size).collect();
        if n % size > 0 || n == 0 {
            v.push(n % size);
        }
        v
    };
    let (mut requests, mut points) = (0, 0);
    let member_page = PAGE.min((MAX_REQUESTED - ORGANIZATION_FIXED) / ORGANIZATION_EACH);
    for n in pages(state.members.len() as u64, member_page) {
        requests += 1;
        points += 6 + any(n) + 2 * n;
    }
    let invitation_each = 3 + 2 * INVITATION_TEAMS_FIRST;
    let invitation_page = PAGE.min((MAX_REQUESTED - INVITATIONS_FIXED) / invitation_each);
    let invited: Vec<u64> = state.invitations.iter().map(|i| i.teams.len() as u64).collect();
    for chunk in pages(invited.len() as u64, invitation_page) {
        requests += 1;
        points += 3 + any(chunk);
    }
    points += invited.iter().map(|k| 2 + any(*k) + 2 * k).sum::<u64>();
    requests += invited.iter().filter(|k| **k > INVITATION_TEAMS_FIRST).count() as u64;
    if state.organization.teams_enabled {
        let team_each = 7 + 4 * NESTED;
        let team_page = PAGE.min((MAX_REQUESTED - TEAMS_FIXED) / team_each);
        for n in pages(state.teams.len() as u64, team_page) {
            requests += 1;
            points += 3 + any(n);
        }
        for t in &state.teams {
            let (m, p) = (t.members.len() as u64, t.pipelines.len() as u64);
            assert!(m <= NESTED && p <= NESTED, "continuation pages are not modelled here");
            points += 5 + any(m) + 2 * m + any(p) + 2 * p;
        }
    }
    (requests, points)
}

/// The fewest documents an apply of `plan` takes: the core batches changes of equal
/// height, so each invitation (which carries its person's teams and admin role) goes
/// first in its own document; everything else is independent, 25 mutations a document.
fn apply_minimum(plan: &rollcall::plan::Plan) -> usize {
    use rollcall::model::{Principal, ResourceId};
    let invited: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Create)
        .filter_map(|c| match &c.address.id {
            ResourceId::User { name } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    // What rides with an invitation: the person's new memberships and admin role.
    let riders = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Create)
        .filter(|c| match &c.address.id {
            ResourceId::Membership { user, .. } => invited.contains(&user.as_str()),
            ResourceId::Grant {
                scope,
                principal: Principal::User(user),
            } => scope.is_root() && invited.contains(&user.as_str()),
            _ => false,
        })
        .count();
    let rest = plan.changes.len() - invited.len() - riders;
    invited.len() + rest.div_ceil(BATCH_LIMIT)
}

/// `(requests, points)` from the provider's usage remark ("took N requests and P
/// complexity points").
fn usage(findings: &rollcall::provider::Findings) -> (usize, u64) {
    let text = findings.usage.as_deref().unwrap_or_default();
    let words: Vec<&str> = text
        .split("took ")
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    match (words.first(), words.get(3)) {
        (Some(r), Some(p)) => (r.parse().unwrap(), p.parse().unwrap()),
        _ => panic!("no usage in the findings: {text:?}"),
    }
}

/// What the organization's window has left, and the probe's own actual points, as the
/// emulator's headers say after a query of two points (`viewer { user { id } }`).
async fn probe(http: &reqwest::Client, base: &str) -> (i64, i64) {
    let answer = http
        .post(format!("{}/v1", base.trim_end_matches('/')))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"query": "{ viewer { user { id } } }"}))
        .send()
        .await
        .unwrap();
    let header = |name: &str| -> i64 {
        answer
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    (header("ratelimit-remaining"), header("ratelimit-complexity-actual"))
}

/// Counts the provider's waits for a window's reset, from its debug event.
#[derive(Clone, Default)]
struct Waits {
    count: Arc<AtomicUsize>,
    seconds: Arc<AtomicU64>,
}

impl Waits {
    fn take(&self) -> (usize, u64) {
        (
            self.count.swap(0, Ordering::SeqCst),
            self.seconds.swap(0, Ordering::SeqCst),
        )
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Waits {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        #[derive(Default)]
        struct Fields {
            waiting: bool,
            seconds: u64,
        }
        impl tracing::field::Visit for Fields {
            fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
                if field.name() == "wait_s" {
                    self.seconds = value;
                }
            }
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" && format!("{value:?}").contains("complexity window to reset") {
                    self.waiting = true;
                }
            }
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        if fields.waiting {
            self.count.fetch_add(1, Ordering::SeqCst);
            self.seconds.fetch_add(fields.seconds, Ordering::SeqCst);
        }
    }
}

/// A read at the vendor's windows, from one measured with windows of `window_s`: each
/// wait for a reset would be `300 − window_s` seconds longer, the work between the same.
fn scaled(wall: Duration, waits: usize, window_s: u64) -> Duration {
    wall + Duration::from_secs(VENDOR_WINDOW_S - window_s) * u32::try_from(waits).unwrap()
}

fn median<T: Ord + Copy>(mut v: Vec<T>) -> T {
    v.sort();
    v[v.len() / 2]
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn minutes(d: Duration) -> String {
    let s = d.as_secs_f64();
    format!("{} min {:04.1} s", d.as_secs() / 60, s % 60.0)
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
    let paced = raw.iter().any(|a| a == "--paced");
    let window_s = value("--window").unwrap_or(WINDOW_S).clamp(1, VENDOR_WINDOW_S);

    let waits = Waits::default();
    let filter = tracing_subscriber::filter::Targets::new().with_target("rollcall::http", tracing::Level::DEBUG);
    let subscriber = tracing_subscriber::registry().with(tracing_subscriber::Layer::with_filter(waits.clone(), filter));
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let t = Instant::now();
        let state = live_state(latency_ms, paced, window_s);
        let built = t.elapsed();
        let (read_requests_min, read_points_min) = read_cost(&state);
        let memberships: usize = state.teams.iter().map(|t| t.members.len()).sum();
        let grants: usize = state.teams.iter().map(|t| t.pipelines.len()).sum();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), TOKEN).unwrap();
        let http = reqwest::Client::new();

        let (mut load, mut read_t, mut read_scaled, mut plan_t, mut apply_t) = (vec![], vec![], vec![], vec![], vec![]);
        let (mut read_requests, mut read_points, mut read_waits) = (vec![], vec![], vec![]);
        let (mut apply_requests, mut apply_points, mut apply_waits, mut apply_min) = (0, None, 0, 0);
        let (mut changes, mut failed, mut retries, mut cut_off) = (String::new(), 0, 0, String::new());
        for run in 0..runs {
            // A fresh emulator each run, so every run applies the same drift and the
            // windows start empty.
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
            let config = &desired.targets["bk"];
            // As `rollcall plan` makes it: the vendor's tuning.
            let bk = rollcall::provider::registry::provider(
                config,
                base.clone(),
                Some(Auth::Bearer(TOKEN.into())),
                rollcall::engine::DEFAULT_PARALLELISM,
            )
            .unwrap();

            waits.take();
            let t = Instant::now();
            let live = bk.read().await.unwrap();
            let wall = t.elapsed();
            let (waited, _) = waits.take();
            read_t.push(wall);
            read_waits.push(waited);
            read_scaled.push(scaled(wall, waited, window_s));
            let findings = bk.findings();
            let (requests, points) = usage(&findings);
            assert_eq!(requests, bk.request_count(), "the usage remark counts every request");
            read_requests.push(requests);
            read_points.push(points);
            if !paced {
                // With room to spare the read is exactly its formula.
                assert_eq!(
                    (requests as u64, points),
                    (read_requests_min, read_points_min),
                    "read (requests, points) against the formula's"
                );
                assert_eq!(waited, 0, "no window to wait for");
            }

            if paced && run == 0 {
                // The same read with the operation's deadline (15 minutes, besides the
                // waits for the windows, up to 3 hours in all) scaled as the window is:
                // whether the read fits at the vendor's pace.
                let windows_fresh = Duration::from_secs(window_s + 1);
                tokio::time::sleep(windows_fresh).await;
                let scale = |d: Duration| d * u32::try_from(window_s).unwrap() / u32::try_from(VENDOR_WINDOW_S).unwrap();
                let tuning = Tuning {
                    deadline: scale(DEFAULT_DEADLINE),
                    max_deadline: scale(MAX_DEADLINE),
                    ..Tuning::vendor()
                };
                let settings = Settings {
                    target: "bk".to_owned(),
                    organization: ORG.to_owned(),
                    account: config.account.clone(),
                    sso_assigns: Vec::new(),
                    scope: config.scope.clone(),
                };
                let short = Buildkite::new(settings, base.clone(), Some(Auth::Bearer(TOKEN.into())), 4, tuning).unwrap();
                let t = Instant::now();
                cut_off = match short.read().await {
                    Ok(_) => format!("none: the read fit ({})", secs(t.elapsed())),
                    Err(e) => format!(
                        "after {} and {} requests: {e}",
                        secs(t.elapsed()),
                        short.request_count()
                    ),
                };
                waits.take();
                tokio::time::sleep(windows_fresh).await;
            }

            let t = Instant::now();
            let live = BTreeMap::from([("bk".to_owned(), live)]);
            let findings = BTreeMap::from([("bk".to_owned(), findings)]);
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
            apply_min = apply_minimum(&plan);

            let before = if paced { None } else { Some(probe(&http, &emulator.base_url).await) };
            let read_count = bk.request_count();
            let providers: BTreeMap<String, Box<dyn Provider>> = BTreeMap::from([("bk".to_owned(), bk)]);
            let t = Instant::now();
            let report = rollcall::apply::execute(&plan, &providers, 4, |_, _| {}).await;
            apply_t.push(t.elapsed());
            apply_waits = waits.take().0;
            if !report.succeeded() {
                failed += 1;
                println!("run {run}: {} changes failed", report.failed());
            }
            apply_requests = providers["bk"].request_count() - read_count;
            retries = retries.max(providers["bk"].retry_count());
            // Paced, the provider waits for each reset rather than running into a 429
            // (which the client would retry).
            assert!(!paced || retries == 0, "a paced run was refused with a 429");
            if let Some((remaining, _)) = before {
                let (after, probe_points) = probe(&http, &emulator.base_url).await;
                apply_points = Some(remaining - after - probe_points);
            }
            emulator.shutdown().await;
        }

        let (requests, points) = (median(read_requests.clone()), median(read_points.clone()));
        let windows = points.div_ceil(USER_POINTS);
        let floor = Duration::from_secs((windows - 1) * VENDOR_WINDOW_S);
        println!(
            "organization: {PEOPLE} members ({ADMINS} admins), 1 pending invitation, {TEAMS} teams, {memberships} team memberships, {grants} team-pipeline grants over {PIPELINES} pipelines; latency {latency_ms} ms; state built in {}",
            secs(built)
        );
        if paced {
            println!(
                "emulator: the vendor's points (user {USER_POINTS}, organization 20000) in windows of {window_s} s"
            );
        } else {
            println!("emulator: complexity windows lifted");
        }
        println!("changes planned: {changes}; runs that failed: {failed} of {runs}; requests retried (429s and the like): {retries}");
        println!(
            "read: {requests} requests and {points} complexity points (formula with room to spare: {read_requests_min} and {read_points_min}){}",
            if paced {
                format!("; {} waits for a window's reset", median(read_waits.clone()))
            } else {
                String::new()
            }
        );
        println!(
            "  at Buildkite's {USER_POINTS} points per user per {VENDOR_WINDOW_S} s, {points} points need {windows} windows: at least {} of waiting",
            minutes(floor)
        );
        if paced {
            println!(
                "  measured with {window_s} s windows and scaled to {VENDOR_WINDOW_S} s: {} (an operation may take {} besides its waits for the windows, {} in all)",
                minutes(median(read_scaled.clone())),
                minutes(DEFAULT_DEADLINE),
                minutes(MAX_DEADLINE)
            );
            println!("  with the deadlines scaled as the window is, the read is cut off: {cut_off}");
        }
        let points_text = apply_points.map_or_else(String::new, |p| format!(", {p} complexity points"));
        println!(
            "apply: {apply_requests} requests (derived minimum {apply_min}){points_text}{}",
            if paced {
                format!(", {apply_waits} waits")
            } else {
                String::new()
            }
        );
        println!("median of {runs} runs:");
        println!("  load + resolve          {:>12}", secs(median(load)));
        println!("  read                    {:>12}", secs(median(read_t)));
        if paced {
            println!("  read at 300 s windows   {:>12}", minutes(median(read_scaled)));
        }
        println!("  plan + review           {:>12}", secs(median(plan_t)));
        println!("  apply                   {:>12}", secs(median(apply_t)));
    });
}
