//! Benchmark: effective access on a large Bitbucket Data Center organisation, in memory,
//! the shape of `cargo bench --bench plan -- M`: 10,000 people, 1,000 groups of 50, 500
//! projects of 10 repositories, 10 group grants per project and 9 per repository. Prints
//! medians of repeated runs; asserts nothing about time.
//!
//! - the plan's effect (`access::effect::of_plan`) of the plan bench's changes: 500 project
//!   grants raised from write to admin (each reaching a group of 50) and 100 people's
//!   emails; of one new "all users" default, which reaches everyone; and of one email,
//!   which is the cost of building the state before and after;
//! - the whole report `rollcall access` makes (`access::entries` for everyone).
//!
//! `cargo bench --bench access -- [--runs N]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rollcall::access::{effect, entries, Filter, TargetRef};
use rollcall::model::{Address, Principal, Resource, ResourceId, ResourceMap, Scope, UserAttrs};
use rollcall::plan::{Action, Change};
use rollcall::provider::bitbucket_dc::PLATFORM;

const USERS: usize = 10_000;
const GROUPS: usize = 1_000;
const PER_GROUP: usize = 50;
const PROJECTS: usize = 500;
const REPOS: usize = 10;

fn user(n: usize) -> String {
    format!("user{n:05}")
}

fn group(g: usize) -> String {
    format!("team{g:03}")
}

fn project(p: usize) -> Scope {
    Scope::root().child("project", &format!("P{p:03}"))
}

fn grant(scope: Scope, holder: Principal) -> ResourceId {
    ResourceId::Grant {
        scope,
        principal: holder,
    }
}

fn permission(native: &str) -> Resource {
    Resource::Permission {
        permission: native.to_owned(),
    }
}

fn live() -> ResourceMap {
    let mut m = ResourceMap::new();
    let mut put = |id: ResourceId, r: Resource| {
        m.insert(Address::new("bb", id), r);
    };
    for n in 0..USERS {
        let attrs = UserAttrs::new(format!("User {n}"), format!("u{n}@example.com"));
        put(
            ResourceId::User { name: user(n).into() },
            Resource::User(Box::new(attrs)),
        );
    }
    for g in 0..GROUPS {
        put(ResourceId::Group { name: group(g).into() }, Resource::group());
        for i in 0..PER_GROUP {
            let id = ResourceId::Membership {
                group: group(g).into(),
                user: user((g * 37 + i) % USERS).into(),
            };
            put(id, Resource::membership());
        }
        put(
            grant(Scope::root(), Principal::Group(group(g).into())),
            permission("LICENSED_USER"),
        );
    }
    for p in 0..PROJECTS {
        for k in 0..10 {
            let level = if k == 0 { "PROJECT_WRITE" } else { "PROJECT_ADMIN" };
            let holder = Principal::Group(group((p * 10 + k) % GROUPS).into());
            put(grant(project(p), holder), permission(level));
        }
        for r in 0..REPOS {
            let repo = project(p).child("repo", &format!("repo{r}"));
            for k in 0..9 {
                let holder = Principal::Group(group((p + r * 7 + k * 3) % GROUPS).into());
                put(grant(repo.clone(), holder), permission("REPO_ADMIN"));
            }
        }
    }
    m
}

fn change(id: ResourceId, action: Action, before: Option<Resource>, after: Option<Resource>) -> Change {
    Change {
        address: Address::new("bb", id),
        action,
        before,
        after,
        reason: None,
        renamed_from: None,
        renamed_to: None,
    }
}

/// The plan bench's changes: every project's first grant raised to admin, and 100 emails.
fn changes() -> Vec<Change> {
    let mut out = Vec::new();
    for p in 0..PROJECTS {
        let holder = Principal::Group(group((p * 10) % GROUPS).into());
        out.push(change(
            grant(project(p), holder),
            Action::Update,
            Some(permission("PROJECT_WRITE")),
            Some(permission("PROJECT_ADMIN")),
        ));
    }
    for n in (0..USERS).step_by(100) {
        let before = UserAttrs::new(format!("User {n}"), format!("u{n}@example.com"));
        let after = UserAttrs::new(format!("User {n}"), format!("changed{n}@example.com"));
        out.push(change(
            ResourceId::User { name: user(n).into() },
            Action::Update,
            Some(Resource::User(Box::new(before))),
            Some(Resource::User(Box::new(after))),
        ));
    }
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let live: BTreeMap<String, ResourceMap> = [("bb".to_owned(), live())].into();
    let targets = [TargetRef {
        name: "bb",
        platform: PLATFORM,
        principals_from: None,
        usernames: None,
        invited: None,
        read: None,
        unread_members: None,
    }];
    let plan = changes();
    let default = vec![change(
        ResourceId::Default { scope: project(7) },
        Action::Create,
        None,
        Some(Resource::Default {
            permission: Some("PROJECT_READ".to_owned()),
        }),
    )];
    println!(
        "organisation: {USERS} people, {GROUPS} groups of {PER_GROUP}, {PROJECTS} projects of {REPOS} repositories; {} live objects",
        live["bb"].len()
    );
    let mut report = Vec::new();
    let email = plan[plan.len() - 1..].to_vec();
    for (label, changes) in [
        ("the plan bench's 600 changes", &plan),
        ("one all-users default", &default),
        ("one email (the fixed cost)", &email),
    ] {
        let mut times = Vec::new();
        let mut lines = 0;
        let mut notes = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let (effects, n) = effect::of_plan(&targets, &live, changes, &Default::default());
            times.push(t.elapsed());
            lines = effects.len();
            notes = n.len();
        }
        report.push(format!(
            "  effect of {label:<30} {:>9.1} ms  ({lines} lines, {notes} no-effect notes)",
            median(times).as_secs_f64() * 1000.0
        ));
    }
    let state = targets[0].state(&live);
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..runs {
        let t = Instant::now();
        count = entries(&state, &Filter::default()).len();
        times.push(t.elapsed());
    }
    report.push(format!(
        "  rollcall access, everyone          {:>9.1} ms  ({count} entries)",
        median(times).as_secs_f64() * 1000.0
    ));
    println!("median of {runs} runs:");
    for line in report {
        println!("{line}");
    }
}
