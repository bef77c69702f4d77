//! The scheduler against an in-memory provider: batching, batch limits, dependency
//! order, skips, parallelism and stopping, with no HTTP in the way.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::model::{Resource, ResourceId, ResourceMap};
use crate::plan::{Action, PlannedTarget};
use crate::provider::{BoxFuture, ProviderError};

/// What a test provider saw: each `apply` call's batch in the order the calls began,
/// and when each call began and ended relative to the others.
#[derive(Default)]
struct Probe {
    log: Mutex<Log>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

#[derive(Default)]
struct Log {
    calls: Vec<Vec<Address>>,
    events: Vec<Event>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Start(usize),
    End(usize),
}

impl Probe {
    fn calls(&self) -> Vec<Vec<Address>> {
        self.log.lock().unwrap().calls.clone()
    }
    fn events(&self) -> Vec<Event> {
        self.log.lock().unwrap().events.clone()
    }
    fn most_in_flight(&self) -> usize {
        self.most_in_flight.load(Ordering::SeqCst)
    }
}

/// An in-memory provider: applies whatever it is given after a short pause (so calls
/// overlap when the scheduler lets them), fails any batch holding a chosen address,
/// and can set the run's stop flag from inside a call, so an interruption lands at a
/// known point.
struct Fake {
    target: &'static str,
    limit: usize,
    key: fn(&Change) -> Option<String>,
    fail: BTreeSet<Address>,
    stop_at: Option<(Address, Arc<AtomicBool>)>,
    probe: Arc<Probe>,
}

/// Memberships batch per group and direction, as the real providers do.
fn by_group(c: &Change) -> Option<String> {
    match (&c.address.id, c.action) {
        (ResourceId::Membership { group, .. }, Action::Delete) => Some(format!("remove-users {group}")),
        (ResourceId::Membership { group, .. }, _) => Some(format!("add-users {group}")),
        _ => None,
    }
}

/// Every new user shares one key, so only height keeps them apart.
fn new_users(c: &Change) -> Option<String> {
    matches!((&c.address.id, c.action), (ResourceId::User { .. }, Action::Create)).then(|| "users".to_owned())
}

impl Fake {
    fn new(target: &'static str) -> (Self, Arc<Probe>) {
        let probe = Arc::new(Probe::default());
        let fake = Fake {
            target,
            limit: usize::MAX,
            key: by_group,
            fail: BTreeSet::new(),
            stop_at: None,
            probe: probe.clone(),
        };
        (fake, probe)
    }
    fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
    fn key(mut self, key: fn(&Change) -> Option<String>) -> Self {
        self.key = key;
        self
    }
    fn failing(mut self, at: &[Address]) -> Self {
        self.fail.extend(at.iter().cloned());
        self
    }
    fn stop_at(mut self, at: Address, stop: &Arc<AtomicBool>) -> Self {
        self.stop_at = Some((at, stop.clone()));
        self
    }
}

impl Provider for Fake {
    fn read(&self) -> BoxFuture<'_, Result<ResourceMap, ProviderError>> {
        Box::pin(async { Ok(ResourceMap::new()) })
    }
    fn batch_key(&self, change: &Change) -> Option<String> {
        (self.key)(change)
    }
    fn batch_limit(&self) -> usize {
        self.limit
    }
    fn apply<'a>(&'a self, changes: &'a [Change]) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let call = {
                let mut log = self.probe.log.lock().unwrap();
                log.calls.push(changes.iter().map(|c| c.address.clone()).collect());
                let call = log.calls.len() - 1;
                log.events.push(Event::Start(call));
                call
            };
            let now = self.probe.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.probe.most_in_flight.fetch_max(now, Ordering::SeqCst);
            if let Some((at, stop)) = &self.stop_at {
                if changes.iter().any(|c| &c.address == at) {
                    stop.store(true, Ordering::SeqCst);
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
            self.probe.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.probe.log.lock().unwrap().events.push(Event::End(call));
            match changes.iter().find(|c| self.fail.contains(&c.address)) {
                Some(c) => Err(refusal(&c.address)),
                None => Ok(()),
            }
        })
    }
    fn request_count(&self) -> usize {
        self.probe.calls().len()
    }
    fn retry_count(&self) -> usize {
        0
    }
}

fn refusal(at: &Address) -> ProviderError {
    ProviderError::Unsupported {
        target: at.target.clone(),
        address: at.to_string(),
        why: "refused by the test".into(),
    }
}

fn failed(at: &Address) -> Outcome {
    Outcome::Failed(refusal(at).to_string())
}

fn skipped(because: &Address) -> Outcome {
    Outcome::Skipped {
        because: because.clone(),
    }
}

fn providers(fakes: Vec<Fake>) -> BTreeMap<String, Box<dyn Provider>> {
    fakes
        .into_iter()
        .map(|f| (f.target.to_owned(), Box::new(f) as Box<dyn Provider>))
        .collect()
}

fn user(name: &str) -> Address {
    Address::new("bb", ResourceId::User { name: name.into() })
}
fn group(name: &str) -> Address {
    Address::new("bb", ResourceId::Group { name: name.into() })
}
fn member(group: &str, user: &str) -> Address {
    Address::new(
        "bb",
        ResourceId::Membership {
            group: group.into(),
            user: user.into(),
        },
    )
}
fn global(user: &str) -> Address {
    Address::new(
        "bb",
        ResourceId::Grant {
            scope: crate::model::Scope::root(),
            principal: crate::model::Principal::User(user.into()),
        },
    )
}
fn on(target: &str, mut at: Address) -> Address {
    at.target = target.to_owned();
    at
}

fn create(at: &Address) -> Change {
    let after = match at.id {
        ResourceId::Grant { .. } => Resource::Permission {
            permission: "LICENSED_USER".into(),
        },
        ResourceId::Membership { .. } => Resource::membership(),
        _ => Resource::group(),
    };
    Change {
        address: at.clone(),
        action: Action::Create,
        before: None,
        after: Some(after),
        reason: None,
        renamed_from: None,
        renamed_to: None,
    }
}
fn delete(at: &Address) -> Change {
    Change {
        action: Action::Delete,
        before: Some(Resource::group()),
        after: None,
        ..create(at)
    }
}
/// An administrator grant: every removal on its target waits for it.
fn admin(at: &Address) -> Change {
    Change {
        after: Some(Resource::Permission {
            permission: "ADMIN".into(),
        }),
        ..create(at)
    }
}

/// A plan as `plan` makes it: the changes in dependency order, on Bitbucket Data
/// Center targets (whose administrator grants go before removals).
fn plan(changes: Vec<Change>) -> Plan {
    plan_on(changes, &[])
}

/// A plan whose targets take their principals from others: `(target, from)` pairs.
fn plan_on(changes: Vec<Change>, links: &[(&str, &str)]) -> Plan {
    let names: BTreeSet<String> = changes.iter().map(|c| c.address.target.clone()).collect();
    let targets: Vec<PlannedTarget> = names
        .into_iter()
        .map(|name| {
            let from = links.iter().find(|(t, _)| *t == name).map(|(_, f)| *f);
            PlannedTarget::sandbox(&name, from)
        })
        .collect();
    Plan {
        changes: graph::order(changes, &targets).unwrap_or_default(),
        targets,
        ..Plan::default()
    }
}

/// Runs the plan and checks what holds in every scenario: `on_done` hears of each
/// change exactly once, with the outcome the report gives, and the report lists the
/// plan's changes in plan order.
async fn run(
    plan: &Plan,
    providers: &BTreeMap<String, Box<dyn Provider>>,
    parallelism: usize,
    stop: &AtomicBool,
) -> ApplyReport {
    let mut heard: Vec<(Address, Outcome)> = Vec::new();
    // No live state and no accounts: no safety rule has anything to refuse.
    let reviewed = match plan.clone().review(&BTreeMap::new(), &BTreeMap::new(), None) {
        Ok(reviewed) => reviewed,
        Err(refused) => {
            assert!(refused.0.refusals.is_empty(), "{:?}", refused.0.refusals);
            return ApplyReport::default();
        }
    };
    let report = execute_until(&reviewed, providers, parallelism, stop, |c, o| {
        heard.push((c.address.clone(), o.clone()))
    })
    .await;
    let listed: Vec<&Change> = report.outcomes.iter().map(|(c, _)| c).collect();
    assert_eq!(
        listed,
        plan.changes.iter().collect::<Vec<_>>(),
        "the report lists the plan"
    );
    assert_eq!(heard.len(), plan.changes.len(), "on_done once per change: {heard:?}");
    for (c, o) in &report.outcomes {
        let told: Vec<&Outcome> = heard.iter().filter(|(a, _)| a == &c.address).map(|(_, o)| o).collect();
        assert_eq!(told, vec![o], "on_done for {}", c.address);
    }
    report
}

async fn run_all(plan: &Plan, providers: &BTreeMap<String, Box<dyn Provider>>, parallelism: usize) -> ApplyReport {
    run(plan, providers, parallelism, &AtomicBool::new(false)).await
}

fn outcome<'a>(report: &'a ApplyReport, at: &Address) -> &'a Outcome {
    report
        .outcomes
        .iter()
        .find(|(c, _)| &c.address == at)
        .map(|(_, o)| o)
        .unwrap()
}

fn sorted(mut calls: Vec<Vec<Address>>) -> Vec<Vec<Address>> {
    calls.iter_mut().for_each(|c| c.sort());
    calls.sort();
    calls
}

#[tokio::test]
async fn changes_with_one_key_at_one_height_go_in_one_call() {
    let (bb, bb_probe) = Fake::new("bb");
    let (other, other_probe) = Fake::new("other");
    let p = plan(vec![
        create(&member("devs", "ann")),
        create(&member("devs", "bob")),
        create(&member("devs", "cat")),
        create(&member("ops", "ann")),
        delete(&member("devs", "dan")),
        // The same key on another target is another provider's request.
        create(&on("other", member("devs", "eve"))),
    ]);
    let report = run_all(&p, &providers(vec![bb, other]), 4).await;
    assert_eq!(
        sorted(bb_probe.calls()),
        sorted(vec![
            vec![member("devs", "ann"), member("devs", "bob"), member("devs", "cat")],
            vec![member("devs", "dan")],
            vec![member("ops", "ann")],
        ])
    );
    assert_eq!(other_probe.calls(), vec![vec![on("other", member("devs", "eve"))]]);
    assert_eq!(report.applied(), 6);
}

#[tokio::test]
async fn changes_with_one_key_at_different_heights_go_in_different_calls() {
    // ann's grant waits for ann, so ann stands one step higher than bob and cat.
    let (bb, probe) = Fake::new("bb");
    let bb = bb.key(new_users);
    let p = plan(vec![
        create(&user("ann")),
        create(&user("bob")),
        create(&user("cat")),
        create(&global("ann")),
    ]);
    let report = run_all(&p, &providers(vec![bb]), 1).await;
    assert_eq!(
        probe.calls(),
        vec![vec![user("ann")], vec![user("bob"), user("cat")], vec![global("ann")]]
    );
    assert!(report.succeeded());
}

#[tokio::test]
async fn a_batch_closes_at_the_batch_limit() {
    let names = ["a", "b", "c", "d", "e"];
    // A limit of 0 means nothing sensible; it is read as 1, never as "send nothing".
    for (limit, sizes) in [
        (2, vec![2, 2, 1]),
        (1, vec![1; 5]),
        (0, vec![1; 5]),
        (5, vec![5]),
        (usize::MAX, vec![5]),
    ] {
        let (bb, probe) = Fake::new("bb");
        let p = plan(names.iter().map(|n| create(&member("devs", n))).collect());
        let report = run_all(&p, &providers(vec![bb.limit(limit)]), 1).await;
        let calls = probe.calls();
        assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), sizes, "limit {limit}");
        // Batches fill in plan order, so every change is sent once.
        assert_eq!(
            calls.concat(),
            names.iter().map(|n| member("devs", n)).collect::<Vec<_>>(),
            "limit {limit}"
        );
        assert_eq!(report.applied(), 5);
    }
}

#[tokio::test]
async fn a_failed_batch_fails_exactly_its_own_changes() {
    let names = ["a", "b", "c", "d", "e"];
    let (bb, probe) = Fake::new("bb");
    let bb = bb.limit(2).failing(&[member("devs", "c")]);
    let p = plan(names.iter().map(|n| create(&member("devs", n))).collect());
    let report = run_all(&p, &providers(vec![bb]), 1).await;
    assert_eq!(probe.calls().len(), 3);
    let c_failed = failed(&member("devs", "c"));
    let expected = [
        Outcome::Applied,
        Outcome::Applied,
        c_failed.clone(),
        c_failed,
        Outcome::Applied,
    ];
    for (n, o) in names.iter().zip(expected) {
        assert_eq!(outcome(&report, &member("devs", n)), &o, "{n}");
    }
    assert_eq!((report.applied(), report.failed()), (3, 2));
}

#[tokio::test]
async fn no_change_is_applied_before_a_change_it_depends_on() {
    let mut renamed = create(&group("new"));
    renamed.renamed_from = Some("old".into());
    let mut replaced = delete(&group("old"));
    replaced.renamed_to = Some("new".into());
    let p = plan(vec![
        create(&user("ann")),
        create(&user("bob")),
        create(&group("devs")),
        create(&member("devs", "ann")),
        create(&member("devs", "bob")),
        create(&member("devs", "cat")),
        renamed,
        create(&member("new", "ann")),
        create(&member("new", "bob")),
        delete(&member("old", "ann")),
        delete(&member("old", "bob")),
        replaced,
        admin(&global("ann")),
        create(&global("bob")),
        delete(&member("ops", "dan")),
        delete(&user("dan")),
    ]);
    let (bb, probe) = Fake::new("bb");
    let report = run_all(&p, &providers(vec![bb.limit(2)]), 3).await;
    assert!(report.succeeded());

    let calls = probe.calls();
    let events = probe.events();
    let call_of = |at: &Address| calls.iter().position(|c| c.contains(at)).unwrap();
    let at = |e: Event| events.iter().position(|&x| x == e).unwrap();
    let edges = graph::build(&p.changes, &p.targets);
    assert!(edges.edge_count() > 15, "a plan with real dependencies");
    for e in edges.raw_edges() {
        let (before, after) = (&p.changes[e.source().index()], &p.changes[e.target().index()]);
        let (b, a) = (call_of(&before.address), call_of(&after.address));
        assert!(
            at(Event::End(b)) < at(Event::Start(a)),
            "{} began before {} was done",
            after.address,
            before.address
        );
    }
    // Batching still happened: fewer calls than changes.
    assert!(calls.len() < p.changes.len(), "{calls:?}");
}

#[tokio::test]
async fn dependents_of_a_failure_are_skipped_naming_it_and_other_work_goes_on() {
    // svc fails; its grant waits for it, and every removal waits for the grant (an
    // administrator grant comes before any removal), so the removals are skipped
    // because of svc, not because of the grant they directly wait for.
    let (bb, probe) = Fake::new("bb");
    let bb = bb.failing(&[user("svc")]);
    let p = plan(vec![
        create(&user("svc")),
        admin(&global("svc")),
        create(&member("ops", "svc")),
        delete(&member("ops", "dan")),
        delete(&user("dan")),
        create(&group("devs")),
        create(&member("devs", "ann")),
    ]);
    let report = run_all(&p, &providers(vec![bb]), 2).await;
    assert_eq!(outcome(&report, &user("svc")), &failed(&user("svc")));
    for dependent in [global("svc"), member("ops", "svc"), member("ops", "dan"), user("dan")] {
        assert_eq!(outcome(&report, &dependent), &skipped(&user("svc")), "{dependent}");
    }
    assert_eq!(outcome(&report, &group("devs")), &Outcome::Applied);
    assert_eq!(outcome(&report, &member("devs", "ann")), &Outcome::Applied);
    // What was skipped was never sent.
    let sent: BTreeSet<Address> = probe.calls().concat().into_iter().collect();
    assert_eq!(
        sent,
        BTreeSet::from([user("svc"), group("devs"), member("devs", "ann")])
    );
}

#[tokio::test]
async fn a_batch_member_whose_dependency_failed_is_dropped_and_the_rest_still_go() {
    let (bb, probe) = Fake::new("bb");
    let bb = bb.failing(&[user("bob")]);
    let p = plan(vec![
        create(&user("ann")),
        create(&user("bob")),
        create(&member("devs", "ann")),
        create(&member("devs", "bob")),
        create(&member("devs", "cat")),
    ]);
    let report = run_all(&p, &providers(vec![bb]), 1).await;
    assert_eq!(
        probe.calls(),
        vec![
            vec![user("ann")],
            vec![user("bob")],
            vec![member("devs", "ann"), member("devs", "cat")]
        ]
    );
    assert_eq!(outcome(&report, &member("devs", "bob")), &skipped(&user("bob")));
    assert_eq!(outcome(&report, &member("devs", "ann")), &Outcome::Applied);
    assert_eq!(outcome(&report, &member("devs", "cat")), &Outcome::Applied);
}

#[tokio::test]
async fn a_change_without_a_provider_fails_and_its_dependents_are_skipped() {
    let (bb, probe) = Fake::new("bb");
    let p = plan(vec![
        create(&on("gone", user("ann"))),
        create(&on("gone", member("devs", "ann"))),
        create(&user("bob")),
    ]);
    let report = run_all(&p, &providers(vec![bb]), 2).await;
    assert_eq!(
        outcome(&report, &on("gone", user("ann"))),
        &Outcome::Failed("no provider for target `gone`".into())
    );
    assert_eq!(
        outcome(&report, &on("gone", member("devs", "ann"))),
        &skipped(&on("gone", user("ann")))
    );
    assert_eq!(outcome(&report, &user("bob")), &Outcome::Applied);
    assert_eq!(probe.calls(), vec![vec![user("bob")]]);
}

#[tokio::test]
async fn never_more_calls_in_flight_than_parallelism() {
    let names = ["a", "b", "c", "d", "e", "f"];
    for (parallelism, most) in [(2, 2), (3, 3), (10, 6)] {
        let (bb, probe) = Fake::new("bb");
        let p = plan(names.iter().map(|n| create(&user(n))).collect());
        let report = run_all(&p, &providers(vec![bb]), parallelism).await;
        assert_eq!(probe.calls().len(), 6);
        // Equal, not just at most: the bound is reached, so it is what holds them back.
        assert_eq!(probe.most_in_flight(), most, "parallelism {parallelism}");
        assert!(report.succeeded());
    }
}

#[tokio::test]
async fn with_parallelism_one_calls_run_one_after_another_in_plan_order() {
    // 0 would start nothing at all; it is read as 1.
    for parallelism in [1, 0] {
        let (bb, probe) = Fake::new("bb");
        let p = plan(vec![
            create(&user("ann")),
            create(&user("bob")),
            create(&group("devs")),
            create(&member("devs", "ann")),
            create(&member("devs", "bob")),
        ]);
        let report = run_all(&p, &providers(vec![bb]), parallelism).await;
        assert!(report.succeeded(), "parallelism {parallelism}");
        let calls = probe.calls();
        let sequential: Vec<Event> = (0..calls.len())
            .flat_map(|i| [Event::Start(i), Event::End(i)])
            .collect();
        assert_eq!(probe.events(), sequential, "parallelism {parallelism}");
        assert_eq!(
            calls.concat(),
            p.changes.iter().map(|c| c.address.clone()).collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn a_stop_lets_the_step_in_flight_finish_and_interrupts_the_rest() {
    let stop = Arc::new(AtomicBool::new(false));
    let (bb, probe) = Fake::new("bb");
    let bb = bb.stop_at(user("bob"), &stop);
    let p = plan(vec![
        create(&user("ann")),
        create(&user("bob")),
        create(&user("cat")),
        create(&member("devs", "bob")),
    ]);
    let report = run(&p, &providers(vec![bb]), 1, &stop).await;
    assert_eq!(probe.calls(), vec![vec![user("ann")], vec![user("bob")]]);
    assert_eq!(outcome(&report, &user("ann")), &Outcome::Applied);
    assert_eq!(outcome(&report, &user("bob")), &Outcome::Applied);
    assert_eq!(outcome(&report, &user("cat")), &Outcome::Interrupted);
    assert_eq!(outcome(&report, &member("devs", "bob")), &Outcome::Interrupted);
    assert_eq!((report.applied(), report.interrupted()), (2, 2));
    assert!(!report.succeeded());
}

#[tokio::test]
async fn a_step_in_flight_at_a_stop_that_fails_is_reported_failed() {
    let stop = Arc::new(AtomicBool::new(false));
    let (bb, probe) = Fake::new("bb");
    let bb = bb.stop_at(user("ann"), &stop).failing(&[user("ann")]);
    let p = plan(vec![create(&user("ann")), create(&user("bob")), create(&user("cat"))]);
    let report = run(&p, &providers(vec![bb]), 1, &stop).await;
    assert_eq!(probe.calls(), vec![vec![user("ann")]]);
    assert_eq!(outcome(&report, &user("ann")), &failed(&user("ann")));
    assert_eq!(outcome(&report, &user("bob")), &Outcome::Interrupted);
    assert_eq!(outcome(&report, &user("cat")), &Outcome::Interrupted);
    assert_eq!((report.failed(), report.interrupted()), (1, 2));
}

#[tokio::test]
async fn every_step_in_flight_at_a_stop_finishes() {
    // ann's and bob's calls start together; ann's sets the flag, and bob's, already
    // sent, still finishes and counts.
    let stop = Arc::new(AtomicBool::new(false));
    let (bb, probe) = Fake::new("bb");
    let bb = bb.stop_at(user("ann"), &stop);
    let p = plan(vec![
        create(&user("ann")),
        create(&user("bob")),
        create(&user("cat")),
        create(&user("dan")),
    ]);
    let report = run(&p, &providers(vec![bb]), 2, &stop).await;
    assert_eq!(sorted(probe.calls()), vec![vec![user("ann")], vec![user("bob")]]);
    assert_eq!(probe.most_in_flight(), 2);
    assert_eq!(outcome(&report, &user("ann")), &Outcome::Applied);
    assert_eq!(outcome(&report, &user("bob")), &Outcome::Applied);
    assert_eq!(outcome(&report, &user("cat")), &Outcome::Interrupted);
    assert_eq!(outcome(&report, &user("dan")), &Outcome::Interrupted);
}

#[tokio::test]
async fn a_stop_before_the_run_starts_nothing() {
    let (bb, probe) = Fake::new("bb");
    let p = plan(vec![create(&user("ann")), create(&member("devs", "ann"))]);
    let report = run(&p, &providers(vec![bb]), 4, &AtomicBool::new(true)).await;
    assert!(probe.calls().is_empty());
    assert_eq!(report.interrupted(), 2);
    assert_eq!((report.applied(), report.failed(), report.skipped()), (0, 0, 0));
}

#[tokio::test]
async fn the_report_counts_each_outcome() {
    let (bb, _) = Fake::new("bb");
    let bb = bb.failing(&[user("bob"), user("cat")]);
    let p = plan(vec![
        create(&user("ann")),
        create(&user("bob")),
        create(&user("cat")),
        create(&member("devs", "bob")),
        create(&member("ops", "cat")),
        create(&global("cat")),
        create(&group("devs")),
    ]);
    let report = run_all(&p, &providers(vec![bb]), 2).await;
    assert_eq!(
        (
            report.applied(),
            report.failed(),
            report.skipped(),
            report.interrupted()
        ),
        (2, 2, 3, 0)
    );
    assert!(!report.succeeded());

    let (bb, _) = Fake::new("bb");
    let report = run_all(&p, &providers(vec![bb]), 2).await;
    assert_eq!(report.applied(), 7);
    assert!(report.succeeded());

    // Nothing to do is a success.
    let (bb, _) = Fake::new("bb");
    let report = run_all(&Plan::default(), &providers(vec![bb]), 2).await;
    assert!(report.outcomes.is_empty());
    assert!(report.succeeded());
}

#[tokio::test]
async fn a_failure_on_one_target_skips_what_waits_for_it_on_another() {
    let (directory, directory_probe) = Fake::new("directory");
    let directory = directory.failing(&[on("directory", group("devs"))]);
    let (code, code_probe) = Fake::new("code");
    let grant = Address::new(
        "code",
        ResourceId::Grant {
            scope: crate::model::Scope::root().child("project", "P"),
            principal: crate::model::Principal::Group("devs".into()),
        },
    );
    let p = plan_on(
        vec![
            create(&on("directory", group("devs"))),
            create(&grant),
            create(&on("code", user("bob"))),
        ],
        &[("code", "directory")],
    );
    let report = run_all(&p, &providers(vec![directory, code]), 2).await;
    assert_eq!(
        outcome(&report, &on("directory", group("devs"))),
        &failed(&on("directory", group("devs")))
    );
    assert_eq!(outcome(&report, &grant), &skipped(&on("directory", group("devs"))));
    assert_eq!(outcome(&report, &on("code", user("bob"))), &Outcome::Applied);
    assert_eq!(directory_probe.calls(), vec![vec![on("directory", group("devs"))]]);
    assert_eq!(
        code_probe.calls(),
        vec![vec![on("code", user("bob"))]],
        "the grant was never sent"
    );
}
