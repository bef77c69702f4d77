//! `stale`: is a saved plan still true? Each change records the live object it expects
//! (`before`, absent for a create). `apply FILE` re-reads the objects the plan touches and
//! lists every one that differs, so nothing runs on a plan the world has moved past.
//! A user or group the plan's grants and memberships refer to (and does not create) must
//! still exist. Objects the plan does not touch may change freely.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Address, Resource, ResourceId, ResourceMap, Spellings};
use crate::plan::diff::{left_as, Renames};
use crate::plan::{Action, Plan};

/// An object that is no longer as the plan expected, both sides described for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    pub address: Address,
    pub expected: String,
    pub found: String,
    /// Found as the plan would leave it: applied already, by this plan or by hand.
    pub done: bool,
}

pub fn check(plan: &Plan, live: &BTreeMap<String, ResourceMap>) -> Vec<Stale> {
    let mut out = Vec::new();
    let empty = ResourceMap::new();
    for target in &plan.targets {
        let changes: Vec<_> = plan
            .changes
            .iter()
            .filter(|c| c.address.target == target.name)
            .collect();
        let mut spellings = Spellings::default();
        for c in &changes {
            spellings.learn(&c.address.id);
            if let Some(old) = c.renamed_from.as_ref().and_then(|old| renamed(&c.address.id, old)) {
                spellings.learn(&old);
            }
        }
        let live = spellings.respell(live.get(&target.name).unwrap_or(&empty));
        // A group the plan renames in place is expected under its old name, with its
        // members; compare what the plan will find once it has renamed it.
        // An object created under the new name since the plan was made would make the
        // rename a second object of one name.
        for c in &changes {
            let Some(old) = c.renames().and_then(|old| renamed(&c.address.id, old)) else {
                continue;
            };
            if live.contains_key(&Address::new(&target.name, old.clone())) && live.contains_key(&c.address) {
                out.push(Stale {
                    address: c.address.clone(),
                    expected: format!("absent (the plan renames {} to it)", Address::new(&target.name, old)),
                    found: "present".to_owned(),
                    done: false,
                });
            }
        }
        let renames = Renames::from_changes(changes.iter().copied());
        let live = renames.carried(&live);
        for c in &changes {
            let found = live.get(&c.address);
            if found != c.before.as_ref() {
                // Already as the plan would leave it: a partial run of this plan, or the
                // same change made by hand. Either way the plan no longer describes what
                // it would do, so it is refused like any other drift.
                let done = left_as(c.after.as_ref(), found);
                out.push(Stale {
                    address: c.address.clone(),
                    expected: describe(c.before.as_ref()),
                    found: describe(found),
                    done,
                });
            }
        }
        // A user or group the plan deletes takes its memberships and grants along; the plan
        // lists the ones there were. One that appeared since would go unreviewed.
        let listed: BTreeSet<&Address> = changes.iter().map(|c| &c.address).collect();
        let deleted: Vec<&Address> = changes
            .iter()
            .filter(|c| c.action == Action::Delete && c.address.id.as_principal().is_some())
            .map(|c| &c.address)
            .collect();
        for (address, current) in live.iter() {
            let principals = address.id.principals();
            let Some(cause) = deleted
                .iter()
                .find(|d| d.id.as_principal().is_some_and(|p| principals.contains(&p)))
            else {
                continue;
            };
            if !listed.contains(address) {
                out.push(Stale {
                    address: address.clone(),
                    expected: format!("absent (the plan deletes {cause}, which would take it along)"),
                    found: describe(Some(current)),
                    done: false,
                });
            }
        }
        // The principals that grants and memberships being added refer to.
        let created: BTreeSet<&Address> = changes
            .iter()
            .filter(|c| c.action == Action::Create)
            .map(|c| &c.address)
            .collect();
        // A principal made on another target is not an object of this one: whether the
        // grant can go is the fresh plan's to hold back (`notes::hold`).
        let platform = target.config.platform;
        let mut needed: BTreeMap<Address, usize> = BTreeMap::new();
        for c in changes.iter().filter(|c| c.action != Action::Delete) {
            for p in c.address.id.principals() {
                let kind = p.id().kind();
                if platform.rules(kind).external {
                    continue;
                }
                *needed.entry(Address::new(&target.name, p.id())).or_default() += 1;
            }
        }
        for (address, n) in needed {
            if !created.contains(&address) && !live.contains_key(&address) {
                out.push(Stale {
                    address,
                    expected: format!(
                        "present ({n} {} to it)",
                        if n == 1 { "change refers" } else { "changes refer" }
                    ),
                    found: "absent".to_owned(),
                    done: false,
                });
            }
        }
    }
    out
}

/// The object a rename of `id` starts from: the same kind, under its old name.
fn renamed(id: &ResourceId, old: &str) -> Option<ResourceId> {
    match id {
        ResourceId::User { .. } => Some(ResourceId::User { name: old.into() }),
        ResourceId::Group { .. } => Some(ResourceId::Group { name: old.into() }),
        _ => None,
    }
}

/// `absent`, or the object's attributes as `k=v` pairs.
pub fn describe(r: Option<&Resource>) -> String {
    match r {
        None => "absent".to_owned(),
        Some(r) => {
            let attrs = r.attributes();
            if attrs.is_empty() {
                "present".to_owned()
            } else {
                attrs
                    .iter()
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        }
    }
}
