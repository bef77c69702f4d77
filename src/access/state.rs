//! One target's state as access sees it: who is there and active, who is in which group,
//! and what each person, group and "everyone" default holds on each scope. Built from a
//! resource map (the manifest's, or live), and changed a plan's change at a time, so the
//! same state answers before and after a plan.
//!
//! Names are keyed without regard to case: the platforms match user and group names that
//! way, and a plan's changes spell them as the manifest does while live state spells them
//! as the server does.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Address, Name, Principal, Resource, ResourceId, Scope};
use crate::plan::{Action, Change};
use crate::platform::Platform;

/// A person as the target knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Their name as spelt on the target (or in the manifest).
    pub name: String,
    /// The manifest's name for them, where it declares them under another username here.
    pub declared_as: Option<String>,
    pub email: Option<String>,
    /// Deactivated, or only invited: present, with no access.
    pub inactive: bool,
}

impl Person {
    /// How reports name them: the manifest's name, else their username here.
    pub fn shown(&self) -> &str {
        self.declared_as.as_deref().unwrap_or(&self.name)
    }

    /// Their username here, where reports name them otherwise.
    pub fn account(&self) -> Option<String> {
        self.declared_as.as_ref().map(|_| self.name.clone())
    }
}

/// What one target grants, and to whom.
#[derive(Debug, Clone)]
pub struct State {
    pub target: String,
    pub platform: Platform,
    /// The target whose users and memberships this one's grants name, if another's.
    pub principals_from: Option<String>,
    /// Every person the target or its principals' target names, by lower-cased name.
    pub people: BTreeMap<Name, Person>,
    /// Group members, by lower-cased group and user names.
    pub members: BTreeMap<Name, BTreeSet<Name>>,
    /// The groups each person is in: `members` the other way round.
    pub groups_of: BTreeMap<Name, BTreeSet<Name>>,
    /// Group names as spelt, by lower-cased name.
    pub groups: BTreeMap<Name, String>,
    /// Grants by holder (names lower-cased), then scope: the native permission.
    pub grants: BTreeMap<Principal, BTreeMap<Scope, String>>,
    /// What every user holds on a scope, where the platform has such a default.
    pub defaults: BTreeMap<Scope, String>,
}

fn key(name: &str) -> Name {
    if name.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        name.to_lowercase().into()
    } else {
        name.into()
    }
}

pub(crate) fn keyed(p: &Principal) -> Principal {
    match p {
        Principal::User(u) => Principal::User(key(u)),
        Principal::Group(g) => Principal::Group(key(g)),
    }
}

impl State {
    /// An empty state of a target.
    pub fn new(target: &str, platform: Platform, principals_from: Option<&str>) -> State {
        State {
            target: target.to_owned(),
            platform,
            principals_from: principals_from.map(str::to_owned),
            people: BTreeMap::new(),
            members: BTreeMap::new(),
            groups_of: BTreeMap::new(),
            groups: BTreeMap::new(),
            grants: BTreeMap::new(),
            defaults: BTreeMap::new(),
        }
    }

    /// Takes in what `map` holds for this target, and the users and memberships it holds
    /// for the target this one takes its principals from.
    pub fn load<'a>(&mut self, map: impl IntoIterator<Item = (&'a Address, &'a Resource)>) {
        for (address, resource) in map {
            if self.concerns(address) {
                self.set(&address.id, Some(resource));
            }
        }
    }

    /// Whether a resource at this address is part of this state: anything on the target,
    /// and the people, groups and memberships of its principals' target.
    pub fn concerns(&self, address: &Address) -> bool {
        if address.target == self.target.as_str() {
            return true;
        }
        self.principals_from.as_deref() == Some(address.target.as_str())
            && matches!(
                address.id,
                ResourceId::User { .. } | ResourceId::Group { .. } | ResourceId::Membership { .. }
            )
    }

    /// Makes one change of a plan, if it concerns this state.
    pub fn change(&mut self, change: &Change) {
        if !self.concerns(&change.address) {
            return;
        }
        self.rename(change);
        let after = match change.action {
            Action::Delete => None,
            Action::Create | Action::Update => change.after.as_ref(),
        };
        self.set(&change.address.id, after);
    }

    /// Sets one resource to a value, or removes it (`None`).
    pub fn set(&mut self, id: &ResourceId, value: Option<&Resource>) {
        match (id, value) {
            (ResourceId::User { name }, Some(Resource::User(attrs))) => {
                let email = Some(attrs.email.clone()).filter(|e| !e.is_empty());
                self.people.insert(
                    key(name),
                    Person {
                        name: name.to_string(),
                        declared_as: None,
                        email,
                        inactive: attrs.is_inactive(),
                    },
                );
            }
            (ResourceId::User { name }, _) => {
                self.people.remove(&key(name));
            }
            (ResourceId::Group { name }, Some(_)) => {
                self.groups.insert(key(name), name.to_string());
            }
            (ResourceId::Group { name }, None) => {
                self.groups.remove(&key(name));
            }
            (ResourceId::Membership { group, user }, value) => {
                let (g, u) = (key(group), key(user));
                if value.is_some() {
                    self.groups.entry(g.clone()).or_insert_with(|| group.to_string());
                    self.members.entry(g.clone()).or_default().insert(u.clone());
                    self.groups_of.entry(u.clone()).or_default().insert(g);
                    self.known(user);
                } else {
                    remove(&mut self.members, &g, &u);
                    remove(&mut self.groups_of, &u, &g);
                }
            }
            (ResourceId::Grant { scope, principal }, Some(Resource::Permission { permission })) => {
                if let Principal::User(u) = principal {
                    self.known(u);
                }
                self.grants
                    .entry(keyed(principal))
                    .or_default()
                    .insert(scope.clone(), permission.clone());
            }
            (ResourceId::Grant { scope, principal }, _) => {
                let holder = keyed(principal);
                if let Some(scopes) = self.grants.get_mut(&holder) {
                    scopes.remove(scope);
                    if scopes.is_empty() {
                        self.grants.remove(&holder);
                    }
                }
            }
            (
                ResourceId::Default { scope },
                Some(Resource::Default {
                    permission: Some(permission),
                }),
            ) => {
                self.defaults.insert(scope.clone(), permission.clone());
            }
            (ResourceId::Default { scope }, _) => {
                self.defaults.remove(scope);
            }
        }
    }

    /// A person named by a grant or membership, where the target lists none by that name,
    /// on a platform whose accounts live elsewhere (`external` users). Elsewhere, a
    /// membership or grant left naming a deleted account gives nobody anything.
    fn known(&mut self, user: &str) {
        if !self.platform.users().external {
            return;
        }
        self.people.entry(key(user)).or_insert_with(|| Person {
            name: user.to_owned(),
            declared_as: None,
            email: None,
            inactive: false,
        });
    }

    /// Someone only invited: known, with no access until they accept (an invitation can
    /// carry teams and a role, which live state lists as if they held them).
    pub fn invited(&mut self, name: &str) {
        if let Some(p) = self.people.get_mut(&key(name)) {
            p.inactive = true;
        }
    }

    /// A user or group a change renames in place keeps what it holds under the new name:
    /// the same account or group, so no access moves.
    pub fn rename(&mut self, change: &Change) {
        if !self.concerns(&change.address) {
            return;
        }
        match (change.renames(), &change.address.id) {
            (Some(old), ResourceId::Group { name }) => self.rename_group(old, name),
            (Some(old), ResourceId::User { name }) => self.rename_user(old, name),
            _ => {}
        }
    }

    fn rename_user(&mut self, old: &str, new: &str) {
        let (old, new_key) = (key(old), key(new));
        if old == new_key {
            return;
        }
        if let Some(mut person) = self.people.remove(&old) {
            new.clone_into(&mut person.name);
            self.people.insert(new_key.clone(), person);
        }
        if let Some(groups) = self.groups_of.remove(&old) {
            for g in &groups {
                if let Some(users) = self.members.get_mut(g) {
                    users.remove(&old);
                    users.insert(new_key.clone());
                }
            }
            self.groups_of.insert(new_key.clone(), groups);
        }
        if let Some(grants) = self.grants.remove(&Principal::User(old)) {
            self.grants.insert(Principal::User(new_key), grants);
        }
    }

    /// A group renamed in place keeps its members and grants under the new name.
    fn rename_group(&mut self, old: &str, new: &str) {
        let (old, new_key) = (key(old), key(new));
        self.groups.remove(&old);
        self.groups.insert(new_key.clone(), new.to_owned());
        if let Some(users) = self.members.remove(&old) {
            for u in &users {
                if let Some(gs) = self.groups_of.get_mut(u) {
                    gs.remove(&old);
                    gs.insert(new_key.clone());
                }
            }
            self.members.insert(new_key.clone(), users);
        }
        if let Some(grants) = self.grants.remove(&Principal::Group(old)) {
            self.grants.insert(Principal::Group(new_key), grants);
        }
    }

    /// Names people as the manifest does where their username here is another
    /// (`usernames`: the manifest's name to the username), so a person is one name on
    /// every target.
    pub fn declare(&mut self, usernames: &BTreeMap<String, String>) {
        for (declared, username) in usernames {
            if declared.eq_ignore_ascii_case(username) {
                continue;
            }
            if let Some(p) = self.people.get_mut(&key(username)) {
                p.declared_as = Some(declared.clone());
            }
        }
    }

    /// Every scope something is granted on, or has a default.
    pub fn scopes(&self) -> BTreeSet<Scope> {
        self.grants
            .values()
            .flat_map(|m| m.keys())
            .chain(self.defaults.keys())
            .cloned()
            .collect()
    }

    /// The people a grant or membership of this holder reaches: the user, or the group's
    /// members.
    pub fn reached(&self, holder: &Principal) -> BTreeSet<Name> {
        match holder {
            Principal::User(u) => BTreeSet::from([key(u)]),
            Principal::Group(g) => self.members.get(&key(g)).cloned().unwrap_or_default(),
        }
    }

    /// The people a change to this resource can change the access of.
    pub fn affected(&self, id: &ResourceId) -> BTreeSet<Name> {
        match id {
            ResourceId::User { name } => BTreeSet::from([key(name)]),
            ResourceId::Membership { user, .. } => BTreeSet::from([key(user)]),
            ResourceId::Group { name } => self.reached(&Principal::Group(name.clone())),
            ResourceId::Grant { principal, .. } => self.reached(principal),
            ResourceId::Default { .. } => self.people.keys().cloned().collect(),
        }
    }
}

fn remove(map: &mut BTreeMap<Name, BTreeSet<Name>>, k: &Name, v: &Name) {
    if let Some(set) = map.get_mut(k) {
        set.remove(v);
        if set.is_empty() {
            map.remove(k);
        }
    }
}
