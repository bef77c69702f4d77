//! The scheduler against an in-memory provider: batching, batch limits, dependency
//! order, skips, parallelism and stopping, with no HTTP in the way.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::*;
use crate::model::ResourceId;

mod fake;
mod support;

use fake::*;
// The fake provider's own record of calls, not the scheduler's `Event`.
use fake::Event;
use support::*;

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

/// A request that names one principal of each kind (Data Center's revoke takes one
/// `user` and one `group`): a second of a kind goes into another open batch of the key,
/// so users and groups pair up though the plan lists every user before every group.
#[tokio::test]
async fn a_change_a_batch_does_not_admit_joins_another_of_its_key() {
    fn is_user(c: &Change) -> bool {
        matches!(
            &c.address.id,
            ResourceId::Grant {
                principal: crate::model::Principal::User(_),
                ..
            }
        )
    }
    let (bb, probe) = Fake::new("bb");
    let bb = bb
        .key(|c| (c.action == crate::plan::Action::Delete).then(|| "revoke".to_owned()))
        .admits(|batch, c| batch.iter().all(|b| is_user(b) != is_user(c)));
    let (groups, users) = (["g1", "g2", "g3"], ["u1", "u2"]);
    let p = plan(
        groups
            .iter()
            .map(|g| delete(&grant_of_group(g)))
            .chain(users.iter().map(|u| delete(&global(u))))
            .collect(),
    );
    let report = run_all(&p, &providers(vec![bb]), 1).await;
    assert_eq!(
        probe.calls(),
        vec![
            vec![global("u1"), grant_of_group("g1")],
            vec![global("u2"), grant_of_group("g2")],
            vec![grant_of_group("g3")],
        ]
    );
    assert_eq!(report.applied(), 5);
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
    // A removal carried out by a delete is done by the delete's call.
    let carriers = graph::carriers(&p.changes, &p.targets);
    let call_of = |i: usize| {
        let at = &p.changes[carriers[i].unwrap_or(i)].address;
        calls.iter().position(|c| c.contains(at)).unwrap()
    };
    let at = |e: Event| events.iter().position(|&x| x == e).unwrap();
    let edges = graph::build(&p.changes, &p.targets);
    assert!(edges.edge_count() > 15, "a plan with real dependencies");
    for e in edges.raw_edges() {
        let (before, after) = (&p.changes[e.source().index()], &p.changes[e.target().index()]);
        let (b, a) = (call_of(e.source().index()), call_of(e.target().index()));
        if b == a {
            continue; // a removal and the delete that carries it out
        }
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
async fn a_failed_preflight_on_one_target_stops_every_target_before_any_change() {
    let (bb, bb_probe) = Fake::new("bb");
    let (dir, dir_probe) = Fake::new("dir");
    let dir = dir.preflight_fails("the token lacks a scope");
    let p = plan(vec![create(&user("ann")), create(&on("dir", user("bo")))]);
    let report = run_all(&p, &providers(vec![bb, dir]), 2).await;
    assert!(
        bb_probe.calls().is_empty() && dir_probe.calls().is_empty(),
        "nothing sent"
    );
    let blocked = report.blocked().unwrap_or_default();
    assert!(
        blocked.starts_with("dir: ") && blocked.contains("lacks a scope"),
        "{blocked}"
    );
    assert_eq!(report.count(|o| matches!(o, Outcome::Blocked(_))), 2);
    assert!(!report.succeeded());
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

/// Where the platform says deleting a principal takes its memberships and grants along
/// (Data Center), their removals are not sent: the delete does them, and they share its
/// outcome, applied with it or skipped because of it.
#[tokio::test]
async fn removals_a_delete_takes_along_are_not_sent_and_share_its_outcome() {
    let p = plan(vec![
        delete(&member("old", "ann")),
        delete(&member("old", "bob")),
        delete(&grant_of_group("old")),
        delete(&member("ops", "dan")),
        delete(&member("devs", "cat")),
        delete(&group("old")),
        delete(&user("dan")),
    ]);
    let (bb, probe) = Fake::new("bb");
    let report = run_all(&p, &providers(vec![bb]), 2).await;
    assert!(report.succeeded(), "{:?}", report.outcomes);
    let sent: BTreeSet<Address> = probe.calls().concat().into_iter().collect();
    assert_eq!(
        sent,
        BTreeSet::from([group("old"), user("dan"), member("devs", "cat")]),
        "only the deletes and the removal nothing takes along are sent"
    );
    let carried = |by: &Address| Outcome::Carried { by: by.clone() };
    assert_eq!(outcome(&report, &member("old", "ann")), &carried(&group("old")));
    assert_eq!(outcome(&report, &grant_of_group("old")), &carried(&group("old")));
    assert_eq!(outcome(&report, &member("ops", "dan")), &carried(&user("dan")));
    assert_eq!(outcome(&report, &member("devs", "cat")), &Outcome::Applied);
    assert_eq!(report.applied(), 7);

    // A delete that fails takes nothing along: what it carried is reported skipped.
    let (bb, probe) = Fake::new("bb");
    let report = run_all(&p, &providers(vec![bb.failing(&[group("old")])]), 2).await;
    for along in [member("old", "ann"), member("old", "bob"), grant_of_group("old")] {
        assert_eq!(outcome(&report, &along), &skipped(&group("old")), "{along}");
    }
    assert_eq!(outcome(&report, &member("ops", "dan")), &carried(&user("dan")));
    assert_eq!((report.applied(), report.failed(), report.skipped()), (3, 1, 3));
    assert_eq!(probe.calls().len(), 3);
}

/// What a delete takes along is the platform's: a SCIM group's delete takes its members,
/// a SCIM user's takes nothing.
#[tokio::test]
async fn what_a_delete_takes_along_is_the_platforms() {
    let p = plan_for(
        vec![delete(&member("old", "ann")), delete(&group("old"))],
        crate::provider::scim::ATLASSIAN_PLATFORM,
    );
    let (bb, probe) = Fake::new("bb");
    let report = run_all(&p, &providers(vec![bb]), 1).await;
    assert!(report.succeeded());
    // A SCIM group's delete takes its members: one call.
    assert_eq!(probe.calls(), vec![vec![group("old")]]);
    let p = plan_for(
        vec![delete(&member("old", "ann")), delete(&user("ann"))],
        crate::provider::scim::RFC_PLATFORM,
    );
    let (bb, probe) = Fake::new("bb");
    run_all(&p, &providers(vec![bb]), 1).await;
    // A SCIM user's delete may leave the group listing it: the member is removed first.
    assert_eq!(probe.calls(), vec![vec![member("old", "ann")], vec![user("ann")]]);
}
