//! `diff`: desired against live, per target. Declared objects are created or updated;
//! live objects the manifest does not declare are deleted only when the policy prunes
//! their kind, and otherwise listed as unmanaged.
//!
//! Ownership is deliberately narrow: rollcall prunes memberships of declared groups and
//! permissions held by declared principals. What an undeclared group or user holds is
//! unmanaged until that principal itself is deleted, so switching pruning on can never
//! strip, say, a company-wide licence group that the manifest never mentioned.

use std::collections::{BTreeSet, HashMap};

use crate::desired::Desired;
use crate::model::{Address, Principal, Resource, ResourceId, ResourceMap};
use crate::plan::{Action, Change, Unmanaged};

/// The unordered changes and unmanaged objects for one target.
pub fn diff_target(target: &str, desired: &Desired, live: &ResourceMap) -> (Vec<Change>, Vec<Unmanaged>) {
    let live = &canonical_names(target, desired, live);
    let wanted = desired.resources.iter().filter(|(a, _)| a.target == target);
    let mut changes = Vec::new();
    let mut unmanaged = Vec::new();

    for (address, after) in wanted {
        match live.get(address) {
            None => {
                if !is_absent(after) {
                    changes.push(Change {
                        address: address.clone(),
                        action: Action::Create,
                        before: None,
                        after: Some(after.clone()),
                        reason: None,
                    });
                }
            }
            Some(before) if before != after => changes.push(Change {
                address: address.clone(),
                action: Action::Update,
                before: Some(before.clone()),
                after: Some(after.clone()),
                reason: None,
            }),
            Some(_) => {}
        }
    }

    let offboarded = desired.offboarded.get(target);
    let is_offboarded = |p: &Principal| matches!(p, Principal::User(u) if offboarded.is_some_and(|s| s.contains(u)));
    let declared = |id: &ResourceId| desired.resources.contains_key(&Address::new(target, id.clone()));
    let declared_principal = |p: &Principal| match p {
        Principal::User(name) => declared(&ResourceId::User { name: name.clone() }) || is_offboarded(p),
        Principal::Group(name) => declared(&ResourceId::Group { name: name.clone() }),
    };

    // Principals first, so what hangs off a deleted principal knows it goes too.
    let mut deleted_principals: BTreeSet<Principal> = BTreeSet::new();
    for (address, current) in live.iter().filter(|(a, _)| a.target == target) {
        if desired.resources.contains_key(address) {
            continue;
        }
        let Some(principal) = address.id.as_principal() else {
            continue;
        };
        if is_offboarded(&principal) {
            continue; // a known person, kept without access
        }
        if desired.policy.prunes(address.id.kind()) {
            deleted_principals.insert(principal);
            changes.push(delete(
                address,
                current,
                format!("not declared, and policy.prune.{} is on", address.id.kind().as_str()),
            ));
        } else {
            unmanaged.push(Unmanaged {
                address: address.clone(),
                current: current.clone(),
            });
        }
    }

    for (address, current) in live.iter().filter(|(a, _)| a.target == target) {
        if desired.resources.contains_key(address) || address.id.as_principal().is_some() {
            continue;
        }
        let principals = address.id.principals();
        if let Some(p) = principals.iter().find(|p| deleted_principals.contains(*p)) {
            changes.push(delete(address, current, format!("{} is deleted", describe(p))));
        } else if let Some(p) = principals.iter().find(|p| is_offboarded(p)) {
            changes.push(delete(address, current, format!("{} is inactive", describe(p))));
        } else if address.id.owner().is_some_and(|owner| !declared_principal(&owner)) {
            unmanaged.push(Unmanaged {
                address: address.clone(),
                current: current.clone(),
            });
        } else if desired.policy.prunes(address.id.kind()) {
            changes.push(delete(
                address,
                current,
                format!("not declared, and policy.prune.{} is on", address.id.kind().as_str()),
            ));
        } else {
            unmanaged.push(Unmanaged {
                address: address.clone(),
                current: current.clone(),
            });
        }
    }
    (changes, unmanaged)
}

fn delete(address: &Address, current: &Resource, reason: String) -> Change {
    Change {
        address: address.clone(),
        action: Action::Delete,
        before: Some(current.clone()),
        after: None,
        reason: Some(reason),
    }
}

/// A desired value that means "nothing there", which needs no create when nothing is.
fn is_absent(r: &Resource) -> bool {
    matches!(r, Resource::ProjectDefault { permission: None })
}

fn describe(p: &Principal) -> String {
    match p {
        Principal::User(u) => format!("user `{u}`"),
        Principal::Group(g) => format!("group `{g}`"),
    }
}

/// Live state with user and group names spelled as the manifest spells them.
///
/// Bitbucket matches user and group names without regard to case, so a live `Dave` is the
/// manifest's `dave`: comparing spellings would plan a create that fails with 409 and,
/// with pruning on, delete the real account. `resolve` rejects names that differ only in
/// case, so each live name matches at most one declared name.
fn canonical_names(target: &str, desired: &Desired, live: &ResourceMap) -> ResourceMap {
    let mut users: HashMap<String, String> = HashMap::new();
    let mut groups: HashMap<String, String> = HashMap::new();
    for address in desired.resources.keys().filter(|a| a.target == target) {
        match &address.id {
            ResourceId::User { name } => {
                users.insert(name.to_lowercase(), name.clone());
            }
            ResourceId::Group { name } => {
                groups.insert(name.to_lowercase(), name.clone());
            }
            _ => {}
        }
    }
    for name in desired.offboarded.get(target).into_iter().flatten() {
        users.insert(name.to_lowercase(), name.clone());
    }
    let user = |n: &str| users.get(&n.to_lowercase()).cloned().unwrap_or_else(|| n.to_owned());
    let group = |n: &str| groups.get(&n.to_lowercase()).cloned().unwrap_or_else(|| n.to_owned());
    live.iter()
        .map(|(a, r)| (Address::new(&a.target, a.id.map_names(&user, &group)), r.clone()))
        .collect()
}
