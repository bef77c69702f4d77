//! Building the tests' plans (addresses, changes, targets) and running them with the
//! checks every scenario shares.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicBool;

use super::*;
use crate::model::{Resource, ResourceId};
use crate::plan::{Action, PlannedTarget};

pub(super) fn user(name: &str) -> Address {
    Address::new("bb", ResourceId::User { name: name.into() })
}
pub(super) fn group(name: &str) -> Address {
    Address::new("bb", ResourceId::Group { name: name.into() })
}
pub(super) fn member(group: &str, user: &str) -> Address {
    Address::new(
        "bb",
        ResourceId::Membership {
            group: group.into(),
            user: user.into(),
        },
    )
}
pub(super) fn global(user: &str) -> Address {
    Address::new(
        "bb",
        ResourceId::Grant {
            scope: crate::model::Scope::root(),
            principal: crate::model::Principal::User(user.into()),
        },
    )
}
/// A group's global grant.
pub(super) fn grant_of_group(group: &str) -> Address {
    Address::new(
        "bb",
        ResourceId::Grant {
            scope: crate::model::Scope::root(),
            principal: crate::model::Principal::Group(group.into()),
        },
    )
}
pub(super) fn on(target: &str, mut at: Address) -> Address {
    at.target = target.into();
    at
}

pub(super) fn create(at: &Address) -> Change {
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
pub(super) fn delete(at: &Address) -> Change {
    Change {
        action: Action::Delete,
        before: Some(Resource::group()),
        after: None,
        ..create(at)
    }
}
/// An administrator grant: every removal on its target waits for it.
pub(super) fn admin(at: &Address) -> Change {
    Change {
        after: Some(Resource::Permission {
            permission: "ADMIN".into(),
        }),
        ..create(at)
    }
}

/// A plan as `plan` makes it: the changes in dependency order, on Bitbucket Data
/// Center targets (whose administrator grants go before removals).
pub(super) fn plan(changes: Vec<Change>) -> Plan {
    plan_on(changes, &[])
}

/// A plan whose targets take their principals from others: `(target, from)` pairs.
pub(super) fn plan_on(changes: Vec<Change>, links: &[(&str, &str)]) -> Plan {
    let names: BTreeSet<String> = changes.iter().map(|c| c.address.target.to_string()).collect();
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

/// A plan on one target `bb` of another platform.
pub(super) fn plan_for(changes: Vec<Change>, platform: crate::platform::Platform) -> Plan {
    let mut target = PlannedTarget::sandbox("bb", None);
    target.config.platform = platform;
    let targets = vec![target];
    Plan {
        changes: graph::order(changes, &targets).unwrap_or_default(),
        targets,
        ..Plan::default()
    }
}

/// Runs the plan and checks what holds in every scenario: `on_done` hears of each
/// change exactly once, with the outcome the report gives, and the report lists the
/// plan's changes in plan order.
pub(super) async fn run(
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
    let mut started: Vec<usize> = Vec::new();
    let report = execute_until(&reviewed, providers, parallelism, stop, |event| match event {
        crate::apply::Event::Started(changes) => started.extend(changes.iter().map(|(i, _)| *i)),
        crate::apply::Event::Done(i, c, o) => {
            // A change that was sent is started before its outcome is told.
            // A change a delete carries out starts with that delete, and is skipped
            // only if that delete failed.
            match o {
                Outcome::Applied | Outcome::Failed(_) | Outcome::Carried { .. } => {
                    assert!(started.contains(&i), "{} done before it started", c.address);
                }
                Outcome::Skipped { because } => assert!(
                    !started.contains(&i) || started.iter().any(|&j| &plan.changes[j].address == because),
                    "{} skipped but it was started",
                    c.address
                ),
                Outcome::Interrupted => {}
                Outcome::Blocked(_) => assert!(!started.contains(&i), "{} blocked but started", c.address),
            }
            heard.push((c.address.clone(), o.clone()))
        }
    })
    .await;
    let mut once = started.clone();
    once.sort_unstable();
    once.dedup();
    assert_eq!(
        once.len(),
        started.len(),
        "each change starts at most once: {started:?}"
    );
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

pub(super) async fn run_all(
    plan: &Plan,
    providers: &BTreeMap<String, Box<dyn Provider>>,
    parallelism: usize,
) -> ApplyReport {
    run(plan, providers, parallelism, &AtomicBool::new(false)).await
}

pub(super) fn outcome<'a>(report: &'a ApplyReport, at: &Address) -> &'a Outcome {
    report
        .outcomes
        .iter()
        .find(|(c, _)| &c.address == at)
        .map(|(_, o)| o)
        .unwrap()
}

pub(super) fn sorted(mut calls: Vec<Vec<Address>>) -> Vec<Vec<Address>> {
    calls.iter_mut().for_each(|c| c.sort());
    calls.sort();
    calls
}
