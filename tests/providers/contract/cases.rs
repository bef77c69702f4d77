//! The contract's cases, each run against every target by `contract!`: a fresh target
//! reads; creating, updating, moving members, offboarding, deleting and renaming each plan
//! again to nothing; reads and applies cost what the platform's description derives.

use std::collections::BTreeSet;

use super::org::{self, group_name, person_key, Holder, GROUPS, PEOPLE};
use super::targets::{ReadShape, Target, WriteShape};
use super::{apply, assert_settled, established, plan, standard, Change, TARGET};

/// A fresh target reads, plans nothing for the people it already has, and the read is its
/// bulk lists and nothing more.
pub(super) async fn a_fresh_target_reads(target: Target) {
    let org = target.residents.clone();
    let planned = plan(&target, &org).await;
    assert!(
        planned.doc.changes().is_empty(),
        "{}: {:#?}",
        target.label,
        planned.doc.lines()
    );
    assert!(
        planned.doc.unmanaged().is_empty(),
        "{}: {:#?}",
        target.label,
        planned.doc.unmanaged()
    );
    let (projects, repositories) = org.named_scopes();
    let shape = ReadShape {
        users: org.people.len(),
        groups: 0,
        declared_groups: 0,
        projects,
        repositories,
        compared_defaults: if org.prune.contains(&"permissions") {
            projects
        } else {
            0
        },
    };
    assert_eq!(
        planned.read,
        (target.platform.read_cost)(&shape),
        "{}: {shape:?}",
        target.label
    );
    planned.close().await;
    target.stop().await;
}

/// From empty: every person, group, membership and grant is created, at a request per
/// object (members and batchable grants sharing theirs), and the next plan is empty.
pub(super) async fn creating_everything_then_planning_again_is_empty(target: Target) {
    let org = standard(&target);
    let (planned, writes) = apply(&target, &org).await;
    let new_grants: Vec<org::Grant> = org
        .grants
        .iter()
        .filter(|g| !target.residents.grants.contains(g))
        .cloned()
        .collect();
    let memberships = org.memberships();
    let created = PEOPLE + GROUPS + memberships.len() + new_grants.len();
    assert_eq!(
        planned.summary(),
        (created as u64, 0, 0),
        "{}: {:#?}",
        target.label,
        planned.lines()
    );
    if target.platform.usernames {
        assert!(
            planned
                .lines()
                .iter()
                .any(|l| l.starts_with("+ ") && l.contains("\"p7.alt\"")),
            "{}: a person is created under their username on the target: {:#?}",
            target.label,
            planned.lines()
        );
    }
    let with_members: BTreeSet<&str> = memberships.iter().map(|(g, _)| g.as_str()).collect();
    let shape = WriteShape {
        users: PEOPLE,
        groups: GROUPS,
        groups_with_members: with_members.len(),
        grants: new_grants,
    };
    assert_eq!(
        writes,
        (target.platform.write_cost)(&shape),
        "{}: {shape:?}",
        target.label
    );
    assert_settled(&target, &org, "creating everything").await;
    target.stop().await;
}

/// Reading a populated target is its bulk lists: as many requests as the platform's
/// description says the fewest can be, whatever the number of objects.
pub(super) async fn a_read_is_a_few_bulk_lists(target: Target) {
    let org = established(&target).await;
    let planned = plan(&target, &org).await;
    assert!(
        planned.doc.changes().is_empty(),
        "{}: {:#?}",
        target.label,
        planned.doc.lines()
    );
    let (projects, repositories) = org.named_scopes();
    let shape = ReadShape {
        users: org.people.len(),
        groups: org.groups.len(),
        declared_groups: org.groups.len(),
        projects,
        repositories,
        compared_defaults: if org.prune.contains(&"permissions") {
            projects
        } else {
            0
        },
    };
    let objects = org.people.len() + org.groups.len() + org.memberships().len() + org.grants.len();
    eprintln!("{}: read {objects} objects in {} requests", target.label, planned.read);
    assert_eq!(
        planned.read,
        (target.platform.read_cost)(&shape),
        "{}: {shape:?}",
        target.label
    );
    planned.close().await;
    target.stop().await;
}

/// Changed names and emails are updates of exactly those people; where a person's name
/// and email are their own, a changed name changes nothing (and a changed email names
/// someone else).
pub(super) async fn updating_attributes_then_planning_again_is_empty(target: Target) {
    let mut org = established(&target).await;
    if target.platform.people_fixed {
        org.person(&person_key(3)).name = "Person Renamed".to_owned();
        let planned = plan(&target, &org).await;
        assert!(
            planned.doc.changes().is_empty(),
            "{}: {:#?}",
            target.label,
            planned.doc.lines()
        );
        planned.close().await;
        target.stop().await;
        return;
    }
    org.person(&person_key(3)).name = "Person Renamed".to_owned();
    org.person(&person_key(4)).email = "person4@new.example".to_owned();
    let five = org.person(&person_key(5));
    five.name = "Person Five".to_owned();
    five.email = "five@new.example".to_owned();
    let (planned, _) = apply(&target, &org).await;
    let mut lines = planned.lines();
    lines.sort();
    let expected: Vec<String> = (3..6)
        .map(|n| format!("~ {TARGET}.user[\"{}\"]", person_key(n)))
        .collect();
    assert_eq!(lines, expected, "{}", target.label);
    assert_settled(&target, &org, "updating").await;
    target.stop().await;
}

/// Members moved from one group to another: removals and additions, nothing else.
pub(super) async fn moving_members_then_planning_again_is_empty(target: Target) {
    let mut org = established(&target).await;
    let moved: Vec<String> = (0..5).map(person_key).collect();
    org.group(&group_name(0)).members.retain(|m| !moved.contains(m));
    let to = org.group(&group_name(1));
    to.members.extend(moved.iter().cloned());
    to.members.sort();
    let (planned, _) = apply(&target, &org).await;
    let lines = planned.lines();
    for person in &moved {
        let member = |g: usize| format!("{TARGET}.group[\"{}\"].member[\"{person}\"]", group_name(g));
        assert!(
            lines.contains(&format!("- {}", member(0))),
            "{}: {lines:#?}",
            target.label
        );
        assert!(
            lines.contains(&format!("+ {}", member(1))),
            "{}: {lines:#?}",
            target.label
        );
    }
    assert_eq!(lines.len(), 2 * moved.len(), "{}: {lines:#?}", target.label);
    assert_settled(&target, &org, "moving members").await;
    target.stop().await;
}

/// Offboarded people (`active: false`) lose every membership, with the reason, and their
/// accounts are deactivated where accounts have `active`, or removed where being a
/// member is all the account there is (their memberships then go with them).
pub(super) async fn offboarding_takes_access_away(target: Target) {
    let mut org = established(&target).await;
    let leavers: Vec<String> = (40..45).map(person_key).collect();
    for key in &leavers {
        org.person(key).active = false;
    }
    let (planned, _) = apply(&target, &org).await;
    let changes = planned.changes();
    let deactivated = changes.iter().filter(|c| c.deactivates()).count();
    let expected = if target.platform.deactivates_offboarded {
        leavers.len()
    } else {
        0
    };
    assert_eq!(deactivated, expected, "{}: {:#?}", target.label, planned.lines());
    let removes = target.platform.offboard_removes;
    let lost = changes.iter().filter(|c| c.action == "delete");
    let (mut memberships, mut removed) = (0, 0);
    for change in lost {
        let reason = change.reason.as_deref().unwrap_or_default();
        let account = leavers
            .iter()
            .any(|k| change.address == format!("{TARGET}.user[\"{k}\"]"));
        // Where the account is removed, the reason says so.
        let why = |k: &String| {
            let inactive = format!("user `{k}` is inactive");
            reason == inactive
                || (removes
                    && (reason == format!("user `{k}` is removed") || reason.starts_with(&format!("{inactive}: "))))
        };
        assert!(
            leavers.iter().any(why),
            "{}: {} ({reason})",
            target.label,
            change.line()
        );
        if account {
            removed += 1;
        } else {
            memberships += 1;
        }
    }
    let held = standard(&target)
        .memberships()
        .iter()
        .filter(|(_, m)| leavers.contains(m))
        .count();
    assert_eq!(memberships, held, "{}: {:#?}", target.label, planned.lines());
    let removed_expected = if removes { leavers.len() } else { 0 };
    assert_eq!(removed, removed_expected, "{}: {:#?}", target.label, planned.lines());
    assert_eq!(
        changes.len(),
        held + expected + removed_expected,
        "{}: {:#?}",
        target.label,
        planned.lines()
    );
    assert_settled(&target, &org, "offboarding").await;
    target.stop().await;
}

/// A person and a group left out of the manifest, with pruning on, are deleted (or the
/// account deactivated, where that is what deleting does), and the memberships and grants
/// they held go with them, each with its reason: the manifest lists no removals of its own.
pub(super) async fn deleting_takes_memberships_and_grants_along(target: Target) {
    let mut org = established(&target).await;
    org.prune = vec!["users", "groups", "memberships", "permissions"];
    let (person, group) = (person_key(1), group_name(2));
    org.people.retain(|p| p.key != person);
    org.groups.retain(|g| g.name != group);
    for g in &mut org.groups {
        g.members.retain(|m| *m != person);
    }
    let was = standard(&target);
    let memberships_along: Vec<(String, String)> = was
        .memberships()
        .into_iter()
        .filter(|(g, m)| *g == group || *m == person)
        .collect();
    let gone =
        |h: &Holder| matches!(h, Holder::User(n) if *n == person) || matches!(h, Holder::Group(n) if *n == group);
    let grants_along = was.grants.iter().filter(|g| gone(&g.holder)).count();
    org.grants.retain(|g| !gone(&g.holder));

    let (planned, writes) = apply(&target, &org).await;
    let changes = planned.changes();
    // The fewest writes: the person's delete (or deactivation) and the group's (in one
    // request where requests carry several changes), which take along the group's
    // members and grants, and, where deleting the person leaves them listed in their
    // other groups, one PATCH per such group.
    let groups_left = memberships_along.iter().filter(|(g, _)| *g != group).count();
    let along = if target.platform.user_delete_takes_memberships {
        0
    } else {
        groups_left
    };
    let deletes = 2usize.div_ceil(target.platform.batch);
    assert_eq!(writes, deletes + along, "{}: {:#?}", target.label, planned.lines());
    // An undeclared person is named as the target knows them: by their email where
    // that is who a person is there.
    let live_name = if target.platform.usernames {
        person.clone()
    } else {
        was.people
            .iter()
            .find(|p| p.key == person)
            .map(|p| p.email.clone())
            .unwrap()
    };
    let user_goes = if target.platform.delete_deactivates {
        "deactivated"
    } else {
        "deleted"
    };
    let mut principals = 0;
    for change in &changes {
        let reason = change.reason.as_deref().unwrap_or_default();
        if reason.starts_with("not declared, and policy.prune.") {
            principals += 1;
            let expected = change.deactivates() || change.action == "delete";
            assert!(expected, "{}: {}", target.label, change.line());
            continue;
        }
        let along = [
            format!("user `{live_name}` is {user_goes}"),
            format!("group `{group}` is deleted"),
        ];
        assert!(
            change.action == "delete" && along.iter().any(|r| r == reason),
            "{}: {} ({reason})",
            target.label,
            change.line()
        );
    }
    assert_eq!(principals, 2, "{}: {:#?}", target.label, planned.lines());
    assert_eq!(
        changes.len(),
        2 + memberships_along.len() + grants_along,
        "{}: {:#?}",
        target.label,
        planned.lines()
    );
    assert_settled(&target, &org, "deleting").await;
    target.stop().await;
}

/// A group renamed with `renamed_from`: in place where the platform renames groups (one
/// update, its members untouched); elsewhere replaced, each member and grant added to the
/// new group before the old group loses it, so nobody loses access on the way.
pub(super) async fn renaming_a_group_then_planning_again_is_empty(target: Target) {
    let mut org = established(&target).await;
    let (old, new) = (group_name(10), "guild10".to_owned());
    let renamed = org.group(&old);
    renamed.name = new.clone();
    renamed.renamed_from = Some(old.clone());
    for grant in &mut org.grants {
        if grant.holder == Holder::Group(old.clone()) {
            grant.holder = Holder::Group(new.clone());
        }
    }
    let (planned, _) = apply(&target, &org).await;
    let changes = planned.changes();
    let lines = planned.lines();
    if target.platform.renames_groups {
        assert_eq!(changes.len(), 1, "{}: {lines:#?}", target.label);
        assert_eq!(changes[0].action, "update", "{}: {lines:#?}", target.label);
        assert_eq!(
            changes[0].renamed_from.as_deref(),
            Some(old.as_str()),
            "{}",
            target.label
        );
    } else {
        let at = |f: &dyn Fn(&Change) -> bool| -> Vec<usize> {
            changes
                .iter()
                .enumerate()
                .filter(|(_, c)| f(c))
                .map(|(i, _)| i)
                .collect()
        };
        let create = at(&|c| c.action == "create" && c.renamed_from.as_deref() == Some(old.as_str()));
        let delete = at(&|c| c.action == "delete" && c.renamed_to.as_deref() == Some(new.as_str()));
        let additions = at(&|c| c.action == "create" && c.renamed_from.is_none());
        let removals = at(&|c| c.action == "delete" && c.renamed_to.is_none());
        let carried = standard(&target)
            .memberships()
            .iter()
            .filter(|(g, _)| *g == old)
            .count()
            + standard(&target)
                .grants
                .iter()
                .filter(|g| g.holder == Holder::Group(old.clone()))
                .count();
        assert_eq!((create.len(), delete.len()), (1, 1), "{}: {lines:#?}", target.label);
        assert_eq!(
            (additions.len(), removals.len()),
            (carried, carried),
            "{}: {lines:#?}",
            target.label
        );
        assert_eq!(changes.len(), 2 + 2 * carried, "{}: {lines:#?}", target.label);
        // Each member and grant reaches the new group before the old one loses it, and the
        // old group goes last.
        let quoted = |name: &str| format!("[\"{name}\"]");
        for &r in &removals {
            let moved = changes[r].address.replace(&quoted(&old), &quoted(&new));
            let added = changes.iter().position(|c| c.action == "create" && c.address == moved);
            assert!(
                added.is_some_and(|a| create[0] < a && a < r) && r < delete[0],
                "{}: {} is removed before {moved} is added: {lines:#?}",
                target.label,
                changes[r].address
            );
        }
    }
    assert_settled(&target, &org, "renaming").await;
    target.stop().await;
}

/// A flaky service (429s, 503s, connections dropped before or after the request was
/// handled): the creates, then offboarding, moves and a rename, still converge.
pub(super) async fn the_contract_holds_under_injected_faults(target: Target) {
    use rollcall::sandbox::faults::FaultConfig;
    let faults =
        FaultConfig::parse_compact("seed=11,rate_limited=0.05,unavailable=0.05,dropped=0.1,retry_after_secs=0")
            .unwrap();
    let emulator = target.emulator.as_ref().expect("an emulator injects faults");
    emulator.instruments().set_faults(faults).unwrap();
    let mut org = standard(&target);
    apply(&target, &org).await;
    assert_settled(&target, &org, "creating under faults").await;
    for n in 40..45 {
        org.person(&person_key(n)).active = false;
    }
    let moved: Vec<String> = (0..5).map(person_key).collect();
    org.group(&group_name(0)).members.retain(|m| !moved.contains(m));
    org.group(&group_name(1)).members.extend(moved);
    let renamed = org.group(&group_name(10));
    renamed.name = "guild10".to_owned();
    renamed.renamed_from = Some(group_name(10));
    for grant in &mut org.grants {
        if grant.holder == Holder::Group(group_name(10)) {
            grant.holder = Holder::Group("guild10".to_owned());
        }
    }
    apply(&target, &org).await;
    assert_settled(&target, &org, "changing under faults").await;
    // About a fifth of the requests: some hundred on most platforms, a few dozen where
    // one request carries many changes (a group's POST its members, a GraphQL document
    // 25 mutations). More than a tenth, and at least a few, shows faults were met.
    let counts = emulator.instruments().fault_counts();
    assert!(
        counts.total() * 10 > counts.requests && counts.total() >= 4,
        "{}: faults were injected: {counts:?}",
        target.label
    );
    target.stop().await;
}
