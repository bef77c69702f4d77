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
use crate::model::{Address, Principal, Resource, ResourceId, ResourceMap, Spellings, UserAttrs};
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
                        reason: replaced.map(|old| {
                            format!(
                                "replaces `{old}`, which {} cannot rename: members move here, then `{old}` is deleted",
                                platform.label()
                            )
                        }),
                        renamed_from: replaced.map(str::to_owned),
                        renamed_to: None,
                    });
                }
            }
            Some(before) if before != after => changes.push(Change {
                address: address.clone(),
                action: Action::Update,
                before: Some(before.clone()),
                after: Some(after.clone()),
                reason: activation(before, after),
                renamed_from: None,
                renamed_to: None,
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

    // A replaced group's members and grants the manifest does not declare move with it
    // unless their kind is pruned: renaming must not drop what renaming in place keeps.
    // What the new group has already (a rename onto an existing group) stays as it is:
    // creating it again is a request the server refuses or, for a grant, one that
    // overwrites the new group's own permission, which the manifest does not manage.
    for (old, new) in &renames.replaced {
        let same = |n: &str| n.to_owned();
        let to_new = |g: &str| if g == old { new.clone() } else { g.to_owned() };
        for (address, current) in live.iter().filter(|(a, _)| a.target == target) {
            if address.id.owner() != Some(Principal::Group(old.clone())) {
                continue;
            }
            let moved = Address::new(target, address.id.map_names(&same, &to_new));
            let kind = moved.id.kind();
            let offboarded_member = moved.id.principals().iter().any(&is_offboarded);
            let declared_or_there = desired.resources.contains_key(&moved) || live.contains_key(&moved);
            if declared_or_there || desired.policy.prunes(kind) || offboarded_member {
                continue;
            }
            // Where deleting a user only deactivates it, a deactivated account is as good as
            // gone: the service refuses to add it to a group, so it leaves with the old one.
            let gone = |p: &Principal| {
                matches!(
                    (p, live.get(&Address::new(target, p.id()))),
                    (Principal::User(_), Some(Resource::User(u))) if u.is_inactive()
                )
            };
            if platform.users().delete_deactivates && moved.id.principals().iter().any(gone) {
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
        if is_offboarded(&principal) {
            continue; // a known person, kept without access
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
                        after: Some(Resource::User(UserAttrs {
                            active: Some(false),
                            ..attrs.clone()
                        })),
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
    pub(crate) fn plan(target: &str, desired: &Desired, live: &ResourceMap, platform: Platform) -> Renames {
        let mut out = Renames {
            in_place: BTreeMap::new(),
            replaced: BTreeMap::new(),
            users: BTreeMap::new(),
        };
        if platform.users().rename {
            out.users = user_renames(target, desired, live);
        }
        let can_rename = platform.groups().rename;
        let exists = |name: &str| live.contains_key(&Address::new(target, ResourceId::Group { name: name.to_owned() }));
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
                ResourceId::Group { name } => out.in_place.insert(old.to_owned(), name.clone()),
                ResourceId::User { name } => out.users.insert(old.to_owned(), name.clone()),
                _ => None,
            };
        }
        out
    }

    /// Live state as it will be once the in-place renames are done: the group, its
    /// members and its grants under the new name.
    pub(crate) fn carried(&self, live: &ResourceMap) -> ResourceMap {
        if self.in_place.is_empty() && self.users.is_empty() {
            return live.clone();
        }
        let user = |n: &str| self.users.get(n).cloned().unwrap_or_else(|| n.to_owned());
        let group = |n: &str| self.in_place.get(n).cloned().unwrap_or_else(|| n.to_owned());
        live.iter()
            .map(|(a, r)| (Address::new(&a.target, a.id.map_names(&user, &group)), r.clone()))
            .collect()
    }

    /// The changes that rename in place: groups, and users with whatever else differs.
    fn in_place(&self, target: &str, live: &ResourceMap, desired: &Desired) -> Vec<Change> {
        let groups = self.in_place.iter().map(|(old, new)| {
            let address = Address::new(target, ResourceId::Group { name: new.clone() });
            let before = live.get(&Address::new(target, ResourceId::Group { name: old.clone() }));
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
            let address = Address::new(target, ResourceId::User { name: new.clone() });
            let before = live.get(&Address::new(target, ResourceId::User { name: old.clone() }))?;
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
            Principal::Group(old) => self.replaced.get(old).map(String::as_str),
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
fn user_renames(target: &str, desired: &Desired, live: &ResourceMap) -> BTreeMap<String, String> {
    let declared = |name: &str| {
        desired
            .resources
            .contains_key(&Address::new(target, ResourceId::User { name: name.to_owned() }))
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
            out.insert((*old).to_owned(), name.clone());
        }
    }
    out
}

/// Why a user changes, when it is (de)activated: the one attribute change that removes
/// or restores access.
fn activation(before: &Resource, after: &Resource) -> Option<String> {
    let (Resource::User(b), Resource::User(a)) = (before, after) else {
        return None;
    };
    match (b.is_inactive(), a.is_inactive()) {
        (false, true) => Some("deactivated: `active: false` in the manifest".to_owned()),
        (true, false) => Some("reactivated".to_owned()),
        _ => None,
    }
}

/// A desired value that means "nothing there", which needs no create when nothing is:
/// no project default, or a deactivated user (an account is never created just to be
/// inactive).
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
fn canonical_names(target: &str, desired: &Desired, live: &ResourceMap) -> ResourceMap {
    let mut spellings = Spellings::default();
    for address in desired.resources.keys().filter(|a| a.target == target) {
        spellings.learn(&address.id);
    }
    for name in desired.offboarded.get(target).into_iter().flatten() {
        spellings.learn(&ResourceId::User { name: name.clone() });
    }
    for old in desired.renames.get(target).into_iter().flatten().map(|(old, _)| old) {
        spellings.learn(&ResourceId::Group { name: old.clone() });
    }
    spellings.respell(live)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::desired::Policy;
    use crate::model::{Kind, Scope, UserAttrs};

    fn user(name: &str) -> (Address, Resource) {
        let attrs = UserAttrs::new(name.to_uppercase(), format!("{name}@example.com"));
        (
            Address::new("bb", ResourceId::User { name: name.into() }),
            Resource::User(attrs),
        )
    }
    fn group(name: &str) -> (Address, Resource) {
        (
            Address::new("bb", ResourceId::Group { name: name.into() }),
            Resource::group(),
        )
    }
    fn member(group: &str, user: &str) -> (Address, Resource) {
        let id = ResourceId::Membership {
            group: group.into(),
            user: user.into(),
        };
        (Address::new("bb", id), Resource::membership())
    }
    fn grant(principal: Principal, permission: &str) -> (Address, Resource) {
        let id = ResourceId::Grant {
            scope: Scope::root().child("project", "P"),
            principal,
        };
        (
            Address::new("bb", id),
            Resource::Permission {
                permission: permission.into(),
            },
        )
    }
    fn default(permission: Option<&str>) -> (Address, Resource) {
        let id = ResourceId::Default {
            scope: Scope::root().child("project", "P"),
        };
        (
            Address::new("bb", id),
            Resource::Default {
                permission: permission.map(str::to_owned),
            },
        )
    }

    fn desired(resources: Vec<(Address, Resource)>, prune: &[Kind], offboarded: &[&str]) -> Desired {
        let d = Desired {
            targets: BTreeMap::new(),
            resources: resources.into_iter().collect(),
            offboarded: BTreeMap::from([("bb".to_owned(), offboarded.iter().map(|s| (*s).to_owned()).collect())]),
            policy: Policy {
                prune: prune.iter().copied().collect(),
                ..Policy::default()
            },
            renames: BTreeMap::new(),
            manifest_digest: String::new(),
            manifest_dir: std::path::PathBuf::new(),
            protect_undeclared: BTreeSet::new(),
        };
        on(crate::provider::bitbucket_dc::PLATFORM, d)
    }

    fn show(changes: &[Change]) -> Vec<String> {
        let mut out: Vec<String> = changes
            .iter()
            .map(|c| format!("{} {}", c.action.symbol(), c.address))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn without_pruning_nothing_undeclared_is_deleted() {
        let d = desired(vec![user("ann"), group("devs"), member("devs", "ann")], &[], &[]);
        let live: ResourceMap = vec![
            user("ann"),
            user("eve"),
            group("devs"),
            group("old"),
            member("devs", "eve"),
        ]
        .into_iter()
        .collect();
        let (changes, unmanaged) = diff_target("bb", &d, &live);
        assert_eq!(show(&changes), ["+ bb.group[\"devs\"].member[\"ann\"]"]);
        assert_eq!(unmanaged.len(), 3);
    }

    #[test]
    fn pruning_is_narrow_and_deleted_principals_take_their_access_along() {
        let d = desired(
            vec![user("ann"), group("devs")],
            &[Kind::Groups, Kind::Memberships, Kind::Permissions],
            &[],
        );
        let live: ResourceMap = vec![
            user("ann"),
            user("eve"),
            group("devs"),
            group("old"),
            member("devs", "eve"),                                 // declared group: pruned
            member("old", "ann"),                                  // group deleted: goes with it
            grant(Principal::Group("old".into()), "PROJECT_READ"), // same
            grant(Principal::User("eve".into()), "PROJECT_WRITE"), // undeclared holder: kept
            grant(Principal::User("ann".into()), "PROJECT_ADMIN"), // declared holder: pruned
        ]
        .into_iter()
        .collect();
        let (changes, unmanaged) = diff_target("bb", &d, &live);
        assert_eq!(
            show(&changes),
            [
                "- bb.group[\"devs\"].member[\"eve\"]",
                "- bb.group[\"old\"]",
                "- bb.group[\"old\"].member[\"ann\"]",
                "- bb.project[\"P\"].group[\"old\"]",
                "- bb.project[\"P\"].user[\"ann\"]",
            ]
        );
        let kept: Vec<String> = unmanaged.iter().map(|u| u.address.to_string()).collect();
        assert_eq!(kept, ["bb.user[\"eve\"]", "bb.project[\"P\"].user[\"eve\"]"]);
    }

    #[test]
    fn offboarded_people_lose_access_but_keep_the_account() {
        let d = desired(vec![group("devs")], &[], &["judy"]);
        let live: ResourceMap = vec![
            user("judy"),
            group("devs"),
            member("devs", "judy"),
            grant(Principal::User("judy".into()), "PROJECT_READ"),
        ]
        .into_iter()
        .collect();
        let (changes, unmanaged) = diff_target("bb", &d, &live);
        assert_eq!(
            show(&changes),
            [
                "- bb.group[\"devs\"].member[\"judy\"]",
                "- bb.project[\"P\"].user[\"judy\"]"
            ]
        );
        assert!(changes
            .iter()
            .all(|c| c.reason.as_deref() == Some("user `judy` is inactive")));
        assert!(unmanaged.is_empty());
    }

    #[test]
    fn project_default_none_needs_no_change_when_there_is_none() {
        let d = desired(vec![default(None)], &[], &[]);
        assert!(diff_target("bb", &d, &ResourceMap::new()).0.is_empty());
        let live: ResourceMap = vec![default(Some("PROJECT_READ"))].into_iter().collect();
        let (changes, _) = diff_target("bb", &d, &live);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].action, Action::Update);
    }

    #[test]
    fn live_names_match_declared_ones_without_regard_to_case() {
        let d = desired(
            vec![user("dave"), group("devs"), member("devs", "dave")],
            &[Kind::Users],
            &[],
        );
        let mut live_dave = user("Dave");
        live_dave.1 = user("dave").1;
        let live: ResourceMap = vec![live_dave, group("DEVS"), member("DEVS", "Dave")]
            .into_iter()
            .collect();
        let (changes, unmanaged) = diff_target("bb", &d, &live);
        assert!(changes.is_empty(), "{changes:#?}");
        assert!(unmanaged.is_empty());
    }

    fn on(platform: Platform, mut d: Desired) -> Desired {
        let config = crate::desired::TargetConfig {
            name: "bb".into(),
            platform,
            endpoint: crate::desired::Endpoint::Sandbox("state.yaml".into()),
            url: "sandbox:state.yaml".into(),
            auth: None,
            account: None,
            notify_new_users: false,
            scope: crate::desired::ReadScope::default(),
            principals_from: None,
        };
        d.targets.insert("bb".into(), config);
        d
    }

    fn scim_user(name: &str, active: bool) -> (Address, Resource) {
        let (address, mut r) = user(name);
        if let Resource::User(u) = &mut r {
            u.active = Some(active);
            u.external_id = Some(name.into());
        }
        (address, r)
    }

    fn renamed(mut d: Desired, old: &str, new: &str) -> Desired {
        d.renames.entry("bb".into()).or_default().insert(old.into(), new.into());
        d
    }

    #[test]
    fn a_rename_is_made_in_place_where_the_platform_renames_groups() {
        let d = desired(
            vec![group("guild"), member("guild", "ann"), user("ann")],
            &[Kind::Memberships],
            &[],
        );
        let d = on(crate::provider::scim::RFC_PLATFORM, renamed(d, "team", "guild"));
        let live: ResourceMap = vec![
            user("ann"),
            user("bob"),
            group("team"),
            member("team", "ann"),
            member("team", "bob"),
        ]
        .into_iter()
        .collect();
        let (changes, _) = diff_target("bb", &d, &live);
        assert_eq!(
            show(&changes),
            ["- bb.group[\"guild\"].member[\"bob\"]", "~ bb.group[\"guild\"]"],
            "the members come along; only the difference changes"
        );
        let rename = changes.iter().find(|c| c.renames().is_some()).unwrap();
        assert_eq!(rename.renamed_from.as_deref(), Some("team"));
        // Once renamed, nothing is left to do.
        let after: ResourceMap = vec![user("ann"), group("guild"), member("guild", "ann")]
            .into_iter()
            .collect();
        assert!(diff_target("bb", &d, &after).0.is_empty());
    }

    #[test]
    fn a_rename_the_platform_cannot_make_creates_moves_then_deletes() {
        let d = desired(vec![group("guild"), member("guild", "ann"), user("ann")], &[], &[]);
        let d = renamed(d, "team", "guild");
        let live: ResourceMap = vec![user("ann"), group("team"), member("team", "ann")]
            .into_iter()
            .collect();
        let (_, unmanaged) = diff_target("bb", &d, &live);
        assert!(unmanaged.is_empty(), "the old group is not left behind, pruning or not");
        let ordered: Vec<String> = crate::plan::build(&d, &BTreeMap::from([("bb".to_owned(), live.clone())]))
            .map(|p| p.changes)
            .unwrap_or_default()
            .iter()
            .map(|c| format!("{} {}", c.action.symbol(), c.address))
            .collect();
        assert_eq!(
            ordered,
            [
                "+ bb.group[\"guild\"]",
                "+ bb.group[\"guild\"].member[\"ann\"]",
                "- bb.group[\"team\"].member[\"ann\"]",
                "- bb.group[\"team\"]",
            ]
        );
    }

    #[test]
    fn a_replaced_group_keeps_undeclared_members_unless_memberships_are_pruned() {
        let d = desired(vec![group("guild"), member("guild", "ann"), user("ann")], &[], &[]);
        let d = renamed(d, "team", "guild");
        let live: ResourceMap = vec![
            user("ann"),
            user("ivan"),
            group("team"),
            member("team", "ann"),
            member("team", "ivan"),
        ]
        .into_iter()
        .collect();
        let (changes, _) = diff_target("bb", &d, &live);
        let moved = changes
            .iter()
            .find(|c| c.address.to_string() == "bb.group[\"guild\"].member[\"ivan\"]")
            .expect("ivan moves too");
        assert_eq!(moved.action, Action::Create);
        let mut pruning = renamed(
            desired(
                vec![group("guild"), member("guild", "ann"), user("ann")],
                &[Kind::Memberships],
                &[],
            ),
            "team",
            "guild",
        );
        pruning.policy.prune.insert(Kind::Memberships);
        let (changes, _) = diff_target("bb", &pruning, &live);
        assert!(!show(&changes).contains(&"+ bb.group[\"guild\"].member[\"ivan\"]".to_owned()));
    }

    #[test]
    fn a_rename_onto_an_existing_group_moves_the_members_before_removing_the_old() {
        let d = desired(vec![group("guild"), member("guild", "ann"), user("ann")], &[], &[]);
        let d = on(crate::provider::scim::RFC_PLATFORM, renamed(d, "team", "guild"));
        let live: ResourceMap = vec![user("ann"), group("team"), group("guild"), member("team", "ann")]
            .into_iter()
            .collect();
        let ordered: Vec<String> = crate::plan::build(&d, &BTreeMap::from([("bb".to_owned(), live.clone())]))
            .map(|p| p.changes)
            .unwrap_or_default()
            .iter()
            .map(|c| format!("{} {}", c.action.symbol(), c.address))
            .collect();
        assert_eq!(
            ordered,
            [
                "+ bb.group[\"guild\"].member[\"ann\"]",
                "- bb.group[\"team\"].member[\"ann\"]",
                "- bb.group[\"team\"]",
            ]
        );
    }

    #[test]
    fn a_rename_onto_an_existing_group_moves_only_what_that_group_lacks() {
        let d = desired(vec![group("guild"), member("guild", "ann"), user("ann")], &[], &[]);
        let d = renamed(d, "team", "guild");
        let live: ResourceMap = vec![
            user("ann"),
            user("ivan"),
            user("eve"),
            group("team"),
            group("guild"),
            member("team", "ann"),
            member("team", "ivan"),
            member("team", "eve"),
            member("guild", "ivan"),
            grant(Principal::Group("team".into()), "PROJECT_ADMIN"),
            grant(Principal::Group("guild".into()), "PROJECT_READ"),
        ]
        .into_iter()
        .collect();
        let (changes, _) = diff_target("bb", &d, &live);
        let added: Vec<String> = show(&changes).into_iter().filter(|c| c.starts_with('+')).collect();
        assert_eq!(
            added,
            [
                "+ bb.group[\"guild\"].member[\"ann\"]",
                "+ bb.group[\"guild\"].member[\"eve\"]",
            ],
            "ivan is a member already, and guild's own grant is not overwritten with team's"
        );
    }

    #[test]
    fn a_deactivated_account_is_not_moved_where_deactivated_means_gone() {
        let d = desired(vec![group("guild")], &[], &[]);
        let live: ResourceMap = vec![
            scim_user("ann", true),
            scim_user("old", false),
            group("team"),
            member("team", "ann"),
            member("team", "old"),
        ]
        .into_iter()
        .collect();
        let moved = |platform| {
            let d = on(platform, renamed(d.clone(), "team", "guild"));
            let (changes, _) = diff_target("bb", &d, &live);
            show(&changes)
                .into_iter()
                .filter(|c| c.starts_with('+'))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            moved(crate::provider::scim::ATLASSIAN_PLATFORM),
            ["+ bb.group[\"guild\"]", "+ bb.group[\"guild\"].member[\"ann\"]"],
            "the service would refuse to add `old`"
        );
        let mut everyone = moved(crate::provider::bitbucket_dc::PLATFORM);
        everyone.retain(|c| c.contains("member"));
        assert_eq!(
            everyone.len(),
            2,
            "elsewhere an inactive member moves too: {everyone:?}"
        );
    }

    #[test]
    fn inactive_people_are_deactivated_where_users_have_active_and_never_created() {
        let d = desired(vec![scim_user("judy", false), group("devs")], &[], &["judy"]);
        let d = on(crate::provider::scim::RFC_PLATFORM, d);
        let live: ResourceMap = vec![scim_user("judy", true), group("devs"), member("devs", "judy")]
            .into_iter()
            .collect();
        let (changes, _) = diff_target("bb", &d, &live);
        assert_eq!(
            show(&changes),
            ["- bb.group[\"devs\"].member[\"judy\"]", "~ bb.user[\"judy\"]"]
        );
        assert!(changes.iter().all(Change::removes));
        let (changes, _) = diff_target("bb", &d, &ResourceMap::new());
        assert_eq!(
            show(&changes),
            ["+ bb.group[\"devs\"]"],
            "no account is created to be inactive"
        );
    }

    #[test]
    fn pruning_a_user_deactivates_where_delete_means_deactivate() {
        let d = desired(vec![group("devs")], &[Kind::Users], &[]);
        let d = on(crate::provider::scim::ATLASSIAN_PLATFORM, d);
        let live: ResourceMap = vec![
            scim_user("eve", true),
            scim_user("old", false),
            group("devs"),
            member("devs", "eve"),
        ]
        .into_iter()
        .collect();
        let (changes, unmanaged) = diff_target("bb", &d, &live);
        assert_eq!(
            show(&changes),
            ["- bb.group[\"devs\"].member[\"eve\"]", "~ bb.user[\"eve\"]"]
        );
        let eve = changes.iter().find(|c| c.action == Action::Update).unwrap();
        assert!(
            eve.removes()
                && eve
                    .reason
                    .as_deref()
                    .is_some_and(|r| r.contains("deactivates users instead of deleting"))
        );
        assert!(
            unmanaged.is_empty(),
            "an already inactive account needs nothing: {unmanaged:#?}"
        );
    }
}
