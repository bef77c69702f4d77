//! `diff`: desired against live, per target. Declared objects are created or updated;
//! live objects the manifest does not declare are deleted only when the policy prunes
//! their kind, and otherwise listed as unmanaged.
//!
//! Ownership is deliberately narrow: rollcall prunes memberships of declared groups and
//! permissions held by declared principals. What an undeclared group or user holds is
//! unmanaged until that principal itself is deleted, so switching pruning on can never
//! strip, say, a company-wide licence group that the manifest never mentioned.

use std::collections::{BTreeMap, BTreeSet};

use crate::desired::{Desired, Platform};
use crate::model::{Address, Overlay, Principal, Resource, ResourceId, ResourceMap, Spellings, UserAttrs};
use crate::plan::{Action, Change, Unmanaged};

/// The unordered changes and unmanaged objects for one target.
pub fn diff_target(target: &str, desired: &Desired, live: &ResourceMap) -> (Vec<Change>, Vec<Unmanaged>) {
    let Some(platform) = desired.targets.get(target).map(|t| t.platform) else {
        return (Vec::new(), Vec::new()); // not a target of these manifests: nothing to plan
    };
    let live = canonical_names(target, desired, live);
    let renames = Renames::plan(target, desired, &live, platform);
    let mut changes = renames.in_place(target, &live, desired);
    let renamed: BTreeSet<Address> = changes.iter().map(|c| c.address.clone()).collect();
    let live = &renames.carried(&live);
    let wanted = desired.resources.iter().filter(|(a, _)| a.target == target);
    let mut unmanaged = Vec::new();

    for (address, after) in wanted {
        if renamed.contains(address) {
            continue; // the rename's change carries the attributes too
        }
        match live.get(address) {
            None => {
                if !is_absent(after) {
                    let replaced = renames.replaced_by(address);
                    changes.push(Change {
                        address: address.clone(),
                        action: Action::Create,
                        before: None,
                        after: Some(after.clone()),
                        reason: replaced
                            .map(|old| {
                                format!(
                                    "replaces `{old}`, which {} cannot rename: members move here, then `{old}` is deleted",
                                    platform.label()
                                )
                            })
                            .or_else(|| desired.provenance.get(address).cloned())
                            .or_else(|| platform.rules(address.id.kind()).created_as.map(str::to_owned)),
                        renamed_from: replaced.map(str::to_owned),
                        renamed_to: None,
                    });
                }
            }
            // What the platform does not let anyone change is never planned.
            Some(before) if !as_managed(before, after) && !platform.rules(address.id.kind()).attributes_fixed => {
                changes.push(Change {
                    address: address.clone(),
                    action: Action::Update,
                    before: Some(before.clone()),
                    after: Some(after.clone()),
                    reason: activation(before, after, desired.provenance.get(address))
                        .or_else(|| desired.provenance.get(address).cloned()),
                    renamed_from: None,
                    renamed_to: None,
                })
            }
            Some(_) => {}
        }
    }

    let offboarded = desired.offboarded.get(target);
    let is_offboarded =
        |p: &Principal| matches!(p, Principal::User(u) if offboarded.is_some_and(|s| s.contains(u.as_str())));
    let declared = |id: &ResourceId| desired.resources.contains_key(&Address::new(target, id.clone()));
    // A principal made on another target is declared here when the manifest names it
    // on this target (found by email, or by the group's identifier).
    let scope = desired.targets.get(target).map(|t| &t.scope);
    let declared_principal = |p: &Principal| match p {
        Principal::User(name) => {
            declared(&ResourceId::User { name: name.clone() })
                || is_offboarded(p)
                || scope.is_some_and(|s| s.people.contains_key(name.as_str()))
        }
        Principal::Group(name) => {
            declared(&ResourceId::Group { name: name.clone() })
                || scope.is_some_and(|s| s.group_ids.contains_key(name.as_str()))
        }
    };

    // A replaced group's members and grants the manifest does not declare move with it
    // unless their kind is pruned: renaming must not drop what renaming in place keeps.
    // What the new group has already (a rename onto an existing group) stays as it is:
    // creating it again is a request the server refuses or, for a grant, one that
    // overwrites the new group's own permission, which the manifest does not manage.
    for (old, new) in &renames.replaced {
        let same = |n: &str| n.to_owned();
        let to_new = |g: &str| if g == old { new.clone() } else { g.to_owned() };
        for (address, current) in live.iter().filter(|(a, _)| a.target == target) {
            if address.id.owner() != Some(Principal::Group(old.into())) {
                continue;
            }
            let moved = Address::new(target, address.id.map_names(&same, &to_new));
            let kind = moved.id.kind();
            let offboarded_member = moved.id.principals().iter().any(&is_offboarded);
            let declared_or_there = desired.resources.contains_key(&moved) || live.contains_key(&moved);
            // A group that follows sources takes no member they do not give.
            let follows = followed(desired, &moved.id).is_some();
            if declared_or_there || desired.policy.prunes(kind) || offboarded_member || follows {
                continue;
            }
            // Where a deactivated account is hidden from every call, it is as good as gone:
            // the service refuses to add it to a group, so it leaves with the old one.
            let gone = |p: &Principal| {
                matches!(
                    (p, live.get(&Address::new(target, p.id()))),
                    (Principal::User(_), Some(Resource::User(u))) if u.is_inactive()
                )
            };
            if platform.users().inactive_hidden && moved.id.principals().iter().any(gone) {
                continue;
            }
            changes.push(Change {
                address: moved,
                action: Action::Create,
                before: None,
                after: Some(current.clone()),
                reason: Some(format!(
                    "moved from `{old}`: not declared, and policy.prune.{} is off",
                    kind.as_str()
                )),
                renamed_from: None,
                renamed_to: None,
            });
        }
    }

    // Principals first, so what hangs off a removed principal knows it goes too.
    // Each with how it goes, for the reason its memberships and grants go along.
    let mut removed_principals: BTreeMap<Principal, String> = BTreeMap::new();
    for (address, current) in live.iter().filter(|(a, _)| a.target == target) {
        if desired.resources.contains_key(address) {
            continue;
        }
        let Some(principal) = address.id.as_principal() else {
            continue;
        };
        if platform.rules(address.id.kind()).external {
            continue; // made on another target: not this plan's to keep or remove
        }
        if is_offboarded(&principal) {
            // Where being a member is the account, an offboarded person leaves; elsewhere
            // they are a known person, kept without access.
            if platform.users().offboard_removes {
                removed_principals.insert(principal.clone(), "removed".to_owned());
                let source = desired
                    .provenance
                    .get(address)
                    .map(|w| format!(" ({w})"))
                    .unwrap_or_default();
                let why = format!(
                    "{} is inactive{source}: {} has no deactivation, so they are removed",
                    describe(&principal),
                    platform.label()
                );
                changes.push(delete(address, current, why));
            }
            continue;
        }
        if let Some(new) = renames.replacing(&principal) {
            removed_principals.insert(principal, format!("replaced by `{new}`"));
            changes.push(Change {
                renamed_to: Some(new.to_owned()),
                ..delete(address, current, format!("renamed to `{new}`"))
            });
            continue;
        }
        let kind = address.id.kind();
        let pruned = format!("not declared, and policy.prune.{} is on", kind.as_str());
        match current {
            _ if !desired.policy.prunes(kind) => unmanaged.push(Unmanaged {
                address: address.clone(),
                current: current.clone(),
            }),
            // Deleting only deactivates here: plan what really happens.
            Resource::User(attrs) if platform.users().delete_deactivates => {
                if !attrs.is_inactive() {
                    removed_principals.insert(principal, "deactivated".to_owned());
                    changes.push(Change {
                        address: address.clone(),
                        action: Action::Update,
                        before: Some(current.clone()),
                        after: Some(Resource::User(Box::new(UserAttrs {
                            active: Some(false),
                            ..*attrs.clone()
                        }))),
                        reason: Some(format!(
                            "{pruned}; {} deactivates users instead of deleting them",
                            platform.label()
                        )),
                        renamed_from: None,
                        renamed_to: None,
                    });
                }
            }
            _ => {
                removed_principals.insert(principal, "deleted".to_owned());
                changes.push(delete(address, current, pruned));
            }
        }
    }

    for (address, current) in live.iter().filter(|(a, _)| a.target == target) {
        if desired.resources.contains_key(address) || address.id.as_principal().is_some() {
            continue;
        }
        let principals = address.id.principals();
        if let Some((p, how)) = principals.iter().find_map(|p| removed_principals.get_key_value(p)) {
            changes.push(delete(address, current, format!("{} is {how}", describe(p))));
        } else if let Some(p) = principals.iter().find(|p| is_offboarded(p)) {
            // Where a source made them inactive, say which and why.
            let why = desired
                .provenance
                .get(&Address::new(target, p.id()))
                .map(|w| format!(": {w}"))
                .unwrap_or_default();
            changes.push(delete(address, current, format!("{} is inactive{why}", describe(p))));
        } else if let Some(feeds) = followed(desired, &address.id) {
            // A group that follows source groups has exactly their members and its own.
            changes.push(delete(address, current, format!("not in {}", feeds.join(" or "))));
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

/// The source groups a membership's group follows, if it follows any.
fn followed<'a>(desired: &'a Desired, id: &ResourceId) -> Option<&'a Vec<String>> {
    match id {
        ResourceId::Membership { group, .. } => desired
            .followed
            .iter()
            .find(|(name, _)| name.to_lowercase() == group.as_str().to_lowercase())
            .map(|(_, feeds)| feeds),
        _ => None,
    }
}

/// The manifest's group renames that apply to live state on one target. A rename applies
/// while the old group exists: in place where the platform renames groups and the new name
/// is free, else as a replacement (the old group is deleted once the new one has its
/// members).
pub(crate) struct Renames {
    /// Old name to new, renamed in place.
    in_place: BTreeMap<String, String>,
    /// Old name to new, replaced.
    replaced: BTreeMap<String, String>,
    /// Old username to new: accounts found by their externalId under another username.
    users: BTreeMap<String, String>,
}

impl Renames {
    pub(crate) fn plan(target: &str, desired: &Desired, live: &Overlay<'_>, platform: Platform) -> Renames {
        let mut out = Renames {
            in_place: BTreeMap::new(),
            replaced: BTreeMap::new(),
            users: BTreeMap::new(),
        };
        if platform.users().rename {
            out.users = user_renames(target, desired, live);
        }
        let can_rename = platform.groups().rename;
        let exists = |name: &str| live.contains_key(&Address::new(target, ResourceId::Group { name: name.into() }));
        for (old, new) in desired.renames.get(target).into_iter().flatten() {
            if !exists(old) {
                continue; // renamed already, or never there
            }
            if can_rename && !exists(new) {
                out.in_place.insert(old.clone(), new.clone());
            } else {
                out.replaced.insert(old.clone(), new.clone());
            }
        }
        out
    }

    /// The renames a plan renames in place, as `apply FILE` finds them in its changes.
    pub(crate) fn from_changes<'a>(changes: impl Iterator<Item = &'a Change>) -> Renames {
        let mut out = Renames {
            in_place: BTreeMap::new(),
            replaced: BTreeMap::new(),
            users: BTreeMap::new(),
        };
        for c in changes {
            let Some(old) = c.renames() else { continue };
            match &c.address.id {
                ResourceId::Group { name } => out.in_place.insert(old.to_owned(), name.to_string()),
                ResourceId::User { name } => out.users.insert(old.to_owned(), name.to_string()),
                _ => None,
            };
        }
        out
    }

    /// Live state as it will be once the in-place renames are done: the group, its
    /// members and its grants under the new name.
    pub(crate) fn carried<'a>(&self, live: &Overlay<'a>) -> Overlay<'a> {
        if self.in_place.is_empty() && self.users.is_empty() {
            return live.clone();
        }
        let user = |n: &str| self.users.get(n).map(|n| n.into());
        let group = |n: &str| self.in_place.get(n).map(|n| n.into());
        live.renamed(|id| id.renamed(&user, &group))
    }

    /// The changes that rename in place: groups, and users with whatever else differs.
    fn in_place(&self, target: &str, live: &Overlay<'_>, desired: &Desired) -> Vec<Change> {
        let groups = self.in_place.iter().map(|(old, new)| {
            let address = Address::new(target, ResourceId::Group { name: new.into() });
            let before = live.get(&Address::new(target, ResourceId::Group { name: old.into() }));
            Change {
                before: Some(before.cloned().unwrap_or_else(Resource::group)),
                after: Some(desired.resources.get(&address).cloned().unwrap_or_else(Resource::group)),
                address,
                action: Action::Update,
                reason: Some(format!("renamed from `{old}`")),
                renamed_from: Some(old.clone()),
                renamed_to: None,
            }
        });
        let users = self.users.iter().filter_map(|(old, new)| {
            let address = Address::new(target, ResourceId::User { name: new.into() });
            let before = live.get(&Address::new(target, ResourceId::User { name: old.into() }))?;
            let after = desired.resources.get(&address)?;
            Some(Change {
                address,
                action: Action::Update,
                before: Some(before.clone()),
                after: Some(after.clone()),
                reason: Some(format!(
                    "username was `{old}`: the account with this person's externalId"
                )),
                renamed_from: Some(old.clone()),
                renamed_to: None,
            })
        });
        groups.chain(users).collect()
    }

    /// The old group a new group replaces, if it does.
    fn replaced_by(&self, address: &Address) -> Option<&str> {
        let ResourceId::Group { name } = &address.id else {
            return None;
        };
        self.replaced
            .iter()
            .find(|(_, new)| *new == name)
            .map(|(old, _)| old.as_str())
    }

    /// The new name of a live group being replaced.
    fn replacing(&self, principal: &Principal) -> Option<&str> {
        match principal {
            Principal::Group(old) => self.replaced.get(old.as_str()).map(String::as_str),
            Principal::User(_) => None,
        }
    }
}

fn delete(address: &Address, current: &Resource, reason: String) -> Change {
    Change {
        address: address.clone(),
        action: Action::Delete,
        before: Some(current.clone()),
        after: None,
        reason: Some(reason),
        renamed_from: None,
        renamed_to: None,
    }
}

/// Accounts whose externalId is a declared person's but whose username is not theirs:
/// their username changed (`ids`), so the account is renamed, not created again. Only
/// accounts no declared person has by username are candidates.
fn user_renames(target: &str, desired: &Desired, live: &Overlay<'_>) -> BTreeMap<String, String> {
    let declared = |name: &str| {
        desired
            .resources
            .contains_key(&Address::new(target, ResourceId::User { name: name.into() }))
    };
    let mut by_external: BTreeMap<String, &str> = BTreeMap::new();
    for (address, current) in live.iter().filter(|(a, _)| a.target == target) {
        if let (ResourceId::User { name }, Resource::User(attrs)) = (&address.id, current) {
            if let Some(x) = attrs.external_id.as_ref().filter(|_| !declared(name)) {
                by_external.insert(x.to_lowercase(), name);
            }
        }
    }
    let mut out = BTreeMap::new();
    for (address, wanted) in desired.resources.iter().filter(|(a, _)| a.target == target) {
        let (ResourceId::User { name }, Resource::User(attrs)) = (&address.id, wanted) else {
            continue;
        };
        if live.contains_key(address) {
            continue;
        }
        if let Some(old) = attrs
            .external_id
            .as_ref()
            .and_then(|x| by_external.get(&x.to_lowercase()))
        {
            out.insert((*old).to_owned(), name.to_string());
        }
    }
    out
}

/// Why a user changes, when it is (de)activated (the one attribute change that removes
/// or restores access): the manifest, or the source that says so.
fn activation(before: &Resource, after: &Resource, source: Option<&String>) -> Option<String> {
    let (Resource::User(b), Resource::User(a)) = (before, after) else {
        return None;
    };
    match (b.is_inactive(), a.is_inactive()) {
        (false, true) => Some(match source {
            Some(why) => format!("deactivated: {why}"),
            None => "deactivated: `active: false` in the manifest".to_owned(),
        }),
        (true, false) => Some(match source {
            Some(why) => format!("reactivated: {why}"),
            None => "reactivated".to_owned(),
        }),
        _ => None,
    }
}

/// A desired value that means "nothing there", which needs no create when nothing is:
/// no project default, or a deactivated user (an account is never created just to be
/// inactive).
/// Whether `found` (absent: `None`) is as a change leaving `after` would leave it: equal,
/// or not there where the change leaves only an absence (a default unset, a user
/// deactivated that the read does not list).
pub(crate) fn left_as(after: Option<&Resource>, found: Option<&Resource>) -> bool {
    match (after, found) {
        (Some(after), Some(found)) => as_managed(found, after),
        (None, None) => true,
        (Some(after), None) => is_absent(after),
        (None, Some(_)) => false,
    }
}

/// Whether live `found` is what the manifest wants, in what it manages: a group's or a
/// membership's attribute the manifest does not set (a directory group's description
/// nobody declared) is not managed: left as it is, never planned away.
pub(crate) fn as_managed(found: &Resource, wanted: &Resource) -> bool {
    match (found, wanted) {
        (Resource::Group { attributes: live }, Resource::Group { attributes: want })
        | (Resource::Membership { attributes: live }, Resource::Membership { attributes: want }) => {
            want.iter().all(|(k, v)| live.get(k) == Some(v))
        }
        _ => found == wanted,
    }
}

pub(crate) fn is_absent(r: &Resource) -> bool {
    match r {
        Resource::Default { permission } => permission.is_none(),
        Resource::User(u) => u.is_inactive(),
        _ => false,
    }
}

fn describe(p: &Principal) -> String {
    match p {
        Principal::User(u) => format!("user `{u}`"),
        Principal::Group(g) => format!("group `{g}`"),
    }
}

/// Live state with user and group names spelled as the manifest spells them. `resolve`
/// rejects names that differ only in case, so each live name matches at most one
/// declared name.
fn canonical_names<'a>(target: &str, desired: &Desired, live: &'a ResourceMap) -> Overlay<'a> {
    let mut spellings = Spellings::default();
    for address in desired.resources.keys().filter(|a| a.target == target) {
        spellings.learn(&address.id);
    }
    for name in desired.offboarded.get(target).into_iter().flatten() {
        spellings.learn(&ResourceId::User { name: name.into() });
    }
    for old in desired.renames.get(target).into_iter().flatten().map(|(old, _)| old) {
        spellings.learn(&ResourceId::Group { name: old.into() });
    }
    spellings.respell(live)
}

#[cfg(test)]
mod tests;
