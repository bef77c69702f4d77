//! An in-memory provider, for tests and for embedding rollcall where live state is a
//! value rather than a server: it holds a `ResourceMap` and changes it the way the
//! vendors change theirs.
//!
//! - Names of users and groups match without regard to case, as on Bitbucket Data Center
//!   and SCIM services; a membership or grant is stored under the spelling of the
//!   principal that exists, as a server reports it.
//! - Create and update set the change's `after` value; an update with `renamed_from`
//!   renames the user or group in place, carrying its memberships and grants.
//! - Deleting a user or group also removes its memberships and grants, as a real platform
//!   does; where the platform's delete only deactivates, it deactivates. A deactivation
//!   keeps the account and what it belongs to.
//! - It refuses what a server refuses: creating what exists, updating or deleting what
//!   does not, a membership or grant naming a user or group that does not exist, a rename
//!   the platform cannot make, and, where deleting a user only deactivates it, adding a
//!   deactivated user to a group. A plan applied out of order fails here instead of
//!   passing silently.
//!
//! Every change it applies is recorded in arrival order in its journal, which several
//! providers may share, so a test can check the order across targets. Clones share
//! state and journal: keep one to look at what the other was given.
//!
//! Reads return the whole state, as a SCIM service lists every user and group; with a
//! `ReadScope` they return what an API that lists per container (Bitbucket Data Center's)
//! would: instance-wide users, groups and root grants, grants of the scopes named and
//! defaults of the scopes whose default is compared, the members of the groups named (all, when the scope says so, and those of
//! groups holding administrator rights) and the groups of the users named.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::desired::ReadScope;
use crate::model::{Address, Principal, Resource, ResourceId, ResourceMap};
use crate::plan::{Action, Change};
use crate::platform::Platform;
use crate::provider::{BoxFuture, Provider, ProviderError};

/// The changes applied so far, in the order they arrived.
pub type Journal = Arc<Mutex<Vec<Change>>>;

/// Live state of one target, in memory. See the module documentation.
#[derive(Clone)]
pub struct MemoryProvider {
    target: String,
    platform: Platform,
    state: Arc<Mutex<ResourceMap>>,
    journal: Journal,
    scope: Option<ReadScope>,
    batch_limit: usize,
    requests: Arc<AtomicUsize>,
}

impl MemoryProvider {
    /// A target of `platform` whose live state is `state` (objects of other targets in
    /// it are ignored).
    pub fn new(target: &str, platform: Platform, state: ResourceMap) -> MemoryProvider {
        let state = state.into_iter().filter(|(a, _)| a.target == target).collect();
        MemoryProvider {
            target: target.to_owned(),
            platform,
            state: Arc::new(Mutex::new(state)),
            journal: Journal::default(),
            scope: None,
            batch_limit: usize::MAX,
            requests: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Reads only what an API that lists per container would read for this scope.
    pub fn read_scope(mut self, scope: ReadScope) -> MemoryProvider {
        self.scope = Some(scope);
        self
    }

    /// Records applied changes in `journal`, which other providers may share.
    pub fn journal(mut self, journal: Journal) -> MemoryProvider {
        self.journal = journal;
        self
    }

    /// At most `limit` changes per batch, like a service's members per PATCH.
    pub fn batch_limit(mut self, limit: usize) -> MemoryProvider {
        self.batch_limit = limit.max(1);
        self
    }

    /// The whole state as it is now, read scope or not.
    pub fn state(&self) -> ResourceMap {
        lock(&self.state).clone()
    }

    /// The changes applied so far (by every provider sharing the journal), in order.
    pub fn applied(&self) -> Vec<Change> {
        lock(&self.journal).clone()
    }

    fn scoped(&self, state: &ResourceMap) -> ResourceMap {
        let Some(scope) = &self.scope else {
            return state.clone();
        };
        let lower = |names: &BTreeSet<String>| names.iter().map(|n| n.to_lowercase()).collect::<BTreeSet<_>>();
        let mut groups = lower(&scope.member_groups);
        // The safety rules count administrators, so their groups' members are read too.
        groups.extend(state.iter().filter_map(|(a, r)| match (&a.id, r) {
            (
                ResourceId::Grant {
                    scope,
                    principal: Principal::Group(g),
                },
                Resource::Permission { permission },
            ) if self.platform.is_admin(scope, permission) => Some(g.as_str().to_lowercase()),
            _ => None,
        }));
        let users = lower(&scope.member_users);
        state
            .iter()
            .filter(|(a, _)| match &a.id {
                ResourceId::User { .. } | ResourceId::Group { .. } => true,
                ResourceId::Membership { group, user } => {
                    scope.all_group_members
                        || groups.contains(group.to_lowercase().as_str())
                        || users.contains(user.to_lowercase().as_str())
                }
                ResourceId::Grant { scope: s, .. } => s.is_root() || scope.scopes.contains(s),
                ResourceId::Default { scope: s } => scope.defaults.contains(s),
            })
            .map(|(a, r)| (a.clone(), r.clone()))
            .collect()
    }

    fn conflict(&self, change: &Change, why: String) -> ProviderError {
        ProviderError::Conflict {
            target: self.target.clone(),
            address: change.address.to_string(),
            why,
        }
    }

    fn refused(&self, change: &Change, why: String) -> ProviderError {
        ProviderError::Unsupported {
            target: self.target.clone(),
            address: change.address.to_string(),
            why,
        }
    }

    /// Applies one change to `state`, or says why a server would refuse it.
    fn apply_one(&self, state: &mut ResourceMap, change: &Change) -> Result<(), ProviderError> {
        if change.address.target != self.target {
            return Err(self.refused(change, format!("not a change to target `{}`", self.target)));
        }
        let existing = find(state, &change.address);
        match (change.action, &change.after) {
            (Action::Create, Some(after)) => {
                if let Some(found) = existing {
                    return Err(self.conflict(change, format!("{found} exists already")));
                }
                let address = self.respelled(state, change)?;
                self.check_member(state, change, &address)?;
                if !is_none_default(after) {
                    state.insert(address, after.clone());
                }
                Ok(())
            }
            (Action::Update, Some(after)) => {
                let address = match change.renames() {
                    Some(old) => self.rename(state, change, old)?,
                    None => existing.ok_or_else(|| self.conflict(change, "it does not exist".to_owned()))?,
                };
                if is_none_default(after) {
                    state.remove(&address);
                } else {
                    state.insert(address, after.clone());
                }
                Ok(())
            }
            (Action::Delete, _) => {
                let found = existing.ok_or_else(|| self.conflict(change, "it does not exist".to_owned()))?;
                self.delete(state, &found);
                Ok(())
            }
            (Action::Create | Action::Update, None) => Err(self.refused(change, "it has no value to set".to_owned())),
        }
    }

    /// The change's address with the principals it refers to spelled as they exist;
    /// an error if one does not exist. A user or group refers to nobody.
    fn respelled(&self, state: &ResourceMap, change: &Change) -> Result<Address, ProviderError> {
        if change.address.id.as_principal().is_some() {
            return Ok(change.address.clone());
        }
        let missing = std::cell::RefCell::new(None);
        let spell = |p: Principal| match find(state, &Address::new(&self.target, p.id())) {
            Some(found) => found
                .id
                .as_principal()
                .map_or_else(|| p.name().to_owned(), |q| q.name().to_owned()),
            None => {
                missing.borrow_mut().get_or_insert(p.clone());
                p.name().to_owned()
            }
        };
        let id = change
            .address
            .id
            .map_names(&|u| spell(Principal::User(u.into())), &|g| {
                spell(Principal::Group(g.into()))
            });
        match missing.into_inner() {
            Some(p) => Err(self.refused(change, format!("{} `{}` does not exist", noun(&p), p.name()))),
            None => Ok(Address::new(&self.target, id)),
        }
    }

    /// Where deleting a user only deactivates it, a deactivated user is as good as gone
    /// (Atlassian answers 404 to any later operation on one), so it cannot be added to a
    /// group.
    fn check_member(&self, state: &ResourceMap, change: &Change, address: &Address) -> Result<(), ProviderError> {
        let ResourceId::Membership { user, .. } = &address.id else {
            return Ok(());
        };
        let inactive = matches!(
            state.get(&Address::new(&self.target, ResourceId::User { name: user.clone() })),
            Some(Resource::User(u)) if u.is_inactive()
        );
        if inactive && self.platform.users().inactive_hidden {
            return Err(self.refused(change, format!("user `{user}` is deactivated")));
        }
        Ok(())
    }

    /// Renames the user or group `old` to the change's name, carrying what refers to it.
    fn rename(&self, state: &mut ResourceMap, change: &Change, old: &str) -> Result<Address, ProviderError> {
        let Some(new) = change.address.id.as_principal() else {
            return Err(self.refused(change, "only users and groups are renamed".to_owned()));
        };
        let renames = match new {
            Principal::User(_) => self.platform.users().rename,
            Principal::Group(_) => self.platform.groups().rename,
        };
        if !renames {
            let why = format!("{} cannot rename a {}", self.platform.label(), noun(&new));
            return Err(self.refused(change, why));
        }
        let old = match new {
            Principal::User(_) => Principal::User(old.into()),
            Principal::Group(_) => Principal::Group(old.into()),
        };
        let Some(from) = find(state, &Address::new(&self.target, old.id())) else {
            return Err(self.conflict(change, format!("{} `{}` does not exist", noun(&old), old.name())));
        };
        let from_key = key(&from.id);
        if find(state, &change.address).is_some_and(|a| key(&a.id) != from_key) {
            return Err(self.conflict(change, format!("{} `{}` exists already", noun(&new), new.name())));
        }
        let Some(from) = from.id.as_principal() else {
            return Err(self.refused(change, "only users and groups are renamed".to_owned()));
        };
        let renamed = principal_key(&from);
        let rename = |p: Principal| {
            if principal_key(&p) == renamed {
                new.name().to_owned()
            } else {
                p.name().to_owned()
            }
        };
        let users = |n: &str| rename(Principal::User(n.into()));
        let groups = |n: &str| rename(Principal::Group(n.into()));
        let moved: ResourceMap = std::mem::take(state)
            .into_iter()
            .map(|(a, r)| (Address::new(&a.target, a.id.map_names(&users, &groups)), r))
            .collect();
        *state = moved;
        Ok(change.address.clone())
    }

    /// Deletes `address`; a user or group takes along what its platform declares a delete
    /// takes (`KindRules::delete_takes`), and a user where deleting only deactivates is
    /// deactivated. What it does not take stays, for the plan to remove.
    fn delete(&self, state: &mut ResourceMap, address: &Address) {
        if let (ResourceId::User { .. }, true) = (&address.id, self.platform.users().delete_deactivates) {
            if let Some(Resource::User(attrs)) = state.get_mut(address) {
                attrs.active = Some(false);
            }
            return;
        }
        state.remove(address);
        if let Some(gone) = address.id.as_principal() {
            let takes = self.platform.rules(gone.id().kind()).delete_takes;
            let gone = principal_key(&gone);
            state.retain(|a, _| {
                !takes.contains(&a.id.kind()) || !a.id.principals().iter().any(|p| principal_key(p) == gone)
            });
        }
    }
}

impl Provider for MemoryProvider {
    fn read(&self) -> BoxFuture<'_, Result<ResourceMap, ProviderError>> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let state = self.scoped(&lock(&self.state));
        Box::pin(async move { Ok(state) })
    }

    /// Memberships of one group in one direction go together, as both vendors send them,
    /// and so do grants of one permission on one scope to one kind of principal.
    fn batch_key(&self, change: &Change) -> Option<String> {
        let direction = if change.action == Action::Delete {
            "remove"
        } else {
            "add"
        };
        match (&change.address.id, &change.after) {
            (ResourceId::Membership { group, .. }, _) => Some(format!("{direction} members {}", group.to_lowercase())),
            (ResourceId::Grant { scope, principal }, Some(Resource::Permission { permission })) => {
                Some(format!("{direction} {scope} {} {permission}", noun(principal)))
            }
            _ => None,
        }
    }

    fn batch_limit(&self) -> usize {
        self.batch_limit
    }

    /// All or nothing: the batch is applied to a copy, which replaces the state only if
    /// every change went through.
    fn apply<'a>(&'a self, changes: &'a [Change]) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let result = (|| {
            let mut state = lock(&self.state);
            let mut next = state.clone();
            for c in changes {
                self.apply_one(&mut next, c)?;
            }
            *state = next;
            lock(&self.journal).extend(changes.iter().cloned());
            Ok(())
        })();
        Box::pin(async move { result })
    }

    fn request_count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn retry_count(&self) -> usize {
        0
    }
}

/// A poisoned lock only means another thread panicked mid-test; the data is still the
/// best account of what happened.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An id with user and group names lower-cased: how the platforms match them.
fn key(id: &ResourceId) -> ResourceId {
    id.map_names(&str::to_lowercase, &str::to_lowercase)
}

fn principal_key(p: &Principal) -> Principal {
    match p {
        Principal::User(n) => Principal::User(n.to_lowercase()),
        Principal::Group(n) => Principal::Group(n.to_lowercase()),
    }
}

/// The live address that `address` names, spelled as it exists.
fn find(state: &ResourceMap, address: &Address) -> Option<Address> {
    let wanted = key(&address.id);
    state
        .keys()
        .find(|a| a.target == address.target && key(&a.id) == wanted)
        .cloned()
}

/// No default access is no object: the vendor lists none.
fn is_none_default(r: &Resource) -> bool {
    matches!(r, Resource::Default { permission: None })
}

fn noun(p: &Principal) -> &'static str {
    match p {
        Principal::User(_) => "user",
        Principal::Group(_) => "group",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Scope;

    const T: &str = "bb";

    fn user(name: &str) -> (Address, Resource) {
        let attrs = crate::model::UserAttrs::new(name, format!("{name}@example.com"));
        (
            Address::new(T, ResourceId::User { name: name.into() }),
            Resource::User(Box::new(attrs)),
        )
    }
    fn group(name: &str) -> (Address, Resource) {
        (
            Address::new(T, ResourceId::Group { name: name.into() }),
            Resource::group(),
        )
    }
    fn member(group: &str, user: &str) -> (Address, Resource) {
        let id = ResourceId::Membership {
            group: group.into(),
            user: user.into(),
        };
        (Address::new(T, id), Resource::membership())
    }
    fn grant(scope: Scope, principal: Principal, permission: &str) -> (Address, Resource) {
        let id = ResourceId::Grant { scope, principal };
        let permission = permission.into();
        (Address::new(T, id), Resource::Permission { permission })
    }
    fn create((address, after): (Address, Resource)) -> Change {
        Change {
            address,
            action: Action::Create,
            before: None,
            after: Some(after),
            reason: None,
            renamed_from: None,
            renamed_to: None,
        }
    }
    fn delete((address, before): (Address, Resource)) -> Change {
        Change {
            action: Action::Delete,
            before: Some(before.clone()),
            after: None,
            ..create((address, before))
        }
    }
    fn provider(state: Vec<(Address, Resource)>) -> MemoryProvider {
        MemoryProvider::new(T, crate::provider::bitbucket_dc::PLATFORM, state.into_iter().collect())
    }
    fn run(p: &MemoryProvider, changes: &[Change]) -> Result<(), ProviderError> {
        futures_util::FutureExt::now_or_never(p.apply(changes)).unwrap_or(Ok(()))
    }
    fn names(p: &MemoryProvider) -> Vec<String> {
        p.state().keys().map(ToString::to_string).collect()
    }

    #[test]
    fn deleting_a_principal_takes_its_memberships_and_grants_along() {
        let root = Scope::root();
        let p = provider(vec![
            user("ann"),
            user("bob"),
            group("devs"),
            member("devs", "ann"),
            member("devs", "bob"),
            grant(root.clone(), Principal::User("ann".into()), "ADMIN"),
            grant(root, Principal::Group("devs".into()), "LICENSED_USER"),
        ]);
        run(&p, &[delete(user("ann"))]).unwrap();
        run(&p, &[delete(group("DEVS"))]).unwrap();
        assert_eq!(names(&p), ["bb.user[\"bob\"]"]);
    }

    #[test]
    fn it_refuses_what_a_server_refuses_and_applies_nothing_of_that_batch() {
        let p = provider(vec![user("Ann"), group("devs")]);
        let refused = [
            create(user("ann")),             // exists, in another case
            delete(member("devs", "ann")),   // absent
            create(member("devs", "carol")), // no such user
            create(grant(Scope::root(), Principal::Group("ops".into()), "ADMIN")),
            Change {
                action: Action::Update,
                renamed_from: Some("devs".into()),
                ..create(group("guild")) // Data Center cannot rename a group
            },
        ];
        for c in refused {
            assert!(run(&p, &[create(group("qa")), c.clone()]).is_err(), "{c:?}");
        }
        assert_eq!(names(&p).len(), 2, "a refused batch changes nothing");
        assert!(p.applied().is_empty());
        run(&p, &[create(member("devs", "ann"))]).unwrap();
        assert!(
            names(&p).contains(&"bb.group[\"devs\"].member[\"Ann\"]".to_owned()),
            "stored as the user is spelled: {:?}",
            names(&p)
        );
    }

    #[test]
    fn a_rename_carries_members_and_grants_and_a_deactivation_keeps_the_user() {
        let mut ann = user("ann");
        if let Resource::User(u) = &mut ann.1 {
            u.active = Some(true);
        }
        let state: ResourceMap = vec![ann.clone(), group("team"), member("team", "ann")]
            .into_iter()
            .collect();
        let rfc = MemoryProvider::new(T, crate::provider::scim::RFC_PLATFORM, state.clone());
        let rename = Change {
            action: Action::Update,
            before: Some(Resource::group()),
            renamed_from: Some("Team".into()),
            ..create(group("guild"))
        };
        run(&rfc, &[rename]).unwrap();
        assert_eq!(
            names(&rfc),
            [
                "bb.user[\"ann\"]",
                "bb.group[\"guild\"]",
                "bb.group[\"guild\"].member[\"ann\"]"
            ]
        );
        // Where deleting a user only deactivates it, the account and its groups stay, and
        // the deactivated account cannot join another group.
        let atlassian = MemoryProvider::new(T, crate::provider::scim::ATLASSIAN_PLATFORM, state);
        run(&atlassian, &[delete(ann)]).unwrap();
        assert_eq!(
            names(&atlassian),
            [
                "bb.user[\"ann\"]",
                "bb.group[\"team\"]",
                "bb.group[\"team\"].member[\"ann\"]"
            ]
        );
        assert!(matches!(atlassian.state().values().next(), Some(Resource::User(u)) if u.is_inactive()));
        run(&atlassian, &[create(group("qa"))]).unwrap();
        assert!(run(&atlassian, &[create(member("qa", "ann"))]).is_err());
    }

    #[test]
    fn a_read_scope_reads_what_a_per_container_api_lists() {
        let plat = Scope::root().child("project", "PLAT");
        let other = Scope::root().child("project", "OPS");
        let p = provider(vec![
            user("ann"),
            group("devs"),
            group("admins"),
            group("misc"),
            member("devs", "ann"),
            member("admins", "ann"),
            member("misc", "ann"),
            grant(Scope::root(), Principal::Group("admins".into()), "SYS_ADMIN"),
            grant(plat.clone(), Principal::User("ann".into()), "PROJECT_READ"),
            grant(other, Principal::User("ann".into()), "PROJECT_READ"),
        ]);
        let p = p.read_scope(ReadScope {
            scopes: [plat].into_iter().collect(),
            member_groups: ["DEVS".to_owned()].into_iter().collect(),
            ..ReadScope::default()
        });
        let read = futures_util::FutureExt::now_or_never(p.read()).unwrap().unwrap();
        let read: Vec<String> = read.keys().map(ToString::to_string).collect();
        assert_eq!(
            read,
            [
                "bb.user[\"ann\"]",
                "bb.group[\"admins\"]",
                "bb.group[\"devs\"]",
                "bb.group[\"misc\"]",
                "bb.group[\"admins\"].member[\"ann\"]",
                "bb.group[\"devs\"].member[\"ann\"]",
                "bb.global.group[\"admins\"]",
                "bb.project[\"PLAT\"].user[\"ann\"]",
            ],
            "no members of `misc`, no grants on `OPS`"
        );
    }
}
