//! A write to the Data Center state that can be taken back. Some of the vendor's refusals
//! are about the result of a change (it would exceed the licence, or lower the caller's
//! own permission level), so a handler makes the change in place through a `Change`, asks
//! the guards in `access` about the state it leaves, and then either `commit`s it or lets
//! it drop, which undoes every step in reverse order.
//!
//! Undoing what one request did costs what the request did; copying the state to change
//! the copy cost as much as the whole instance (tens of milliseconds per write at ten
//! thousand users), which hid the client's own speed in every benchmark. Dropping without
//! `commit` also restores the state when a handler panics, so the lock it leaves poisoned
//! still guards the state as it was before the request.

use std::collections::BTreeSet;
use std::ops::Deref;

use super::access::Principal;
use super::state::{DcState, Grants};

/// Where a permission is granted: instance-wide, on a project, or on a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    Global,
    Project(String),
    Repo(String, String),
}

impl Place {
    pub(crate) fn grants<'a>(&self, state: &'a DcState) -> Option<&'a Grants> {
        match self {
            Place::Global => Some(&state.global),
            Place::Project(key) => state.projects.get(key).map(|p| &p.grants),
            Place::Repo(key, slug) => state.projects.get(key)?.repos.get(slug).map(|r| &r.grants),
        }
    }

    fn grants_mut<'a>(&self, state: &'a mut DcState) -> Option<&'a mut Grants> {
        match self {
            Place::Global => Some(&mut state.global),
            Place::Project(key) => state.projects.get_mut(key).map(|p| &mut p.grants),
            Place::Repo(key, slug) => state.projects.get_mut(key)?.repos.get_mut(slug).map(|r| &mut r.grants),
        }
    }
}

/// One step taken, as what puts it back.
#[derive(Debug)]
enum Undo {
    /// `user` was added to `group`: remove it.
    Joined { group: String, user: String },
    /// `user` was removed from `group`: add it back.
    Left { group: String, user: String },
    /// The grant to `name` at `place` was changed from `before`: restore it.
    Grant {
        place: Place,
        kind: Principal,
        name: String,
        before: Option<String>,
    },
    /// The group was deleted with these members: recreate it.
    Group { name: String, members: BTreeSet<String> },
}

/// The state with the steps of one request applied, undone on drop unless committed.
/// Reading it (`Deref`) reads the state as the steps so far leave it.
pub(crate) struct Change<'a> {
    state: &'a mut DcState,
    undo: Vec<Undo>,
}

impl<'a> Change<'a> {
    pub(crate) fn new(state: &'a mut DcState) -> Self {
        Change {
            state,
            undo: Vec::new(),
        }
    }

    /// Keeps every step.
    pub(crate) fn commit(mut self) {
        self.undo.clear();
    }

    /// Adds `user` to `group`, if the group exists and the user is not a member yet.
    pub(crate) fn join(&mut self, group: &str, user: &str) {
        if let Some(members) = self.state.groups.get_mut(group) {
            if members.insert(user.to_owned()) {
                self.undo.push(Undo::Joined {
                    group: group.to_owned(),
                    user: user.to_owned(),
                });
            }
        }
    }

    /// Removes `user` from `group`, if it is a member.
    pub(crate) fn leave(&mut self, group: &str, user: &str) {
        if let Some(members) = self.state.groups.get_mut(group) {
            if members.remove(user) {
                self.undo.push(Undo::Left {
                    group: group.to_owned(),
                    user: user.to_owned(),
                });
            }
        }
    }

    /// Sets (`Some`) or revokes (`None`) the permission of `name` at `place`.
    pub(crate) fn set_grant(&mut self, place: &Place, kind: Principal, name: &str, permission: Option<&str>) {
        let Some(grants) = place.grants_mut(self.state) else {
            return;
        };
        let map = kind.grants_mut(grants);
        let before = match permission {
            Some(permission) => map.insert(name.to_owned(), permission.to_owned()),
            None => map.remove(name),
        };
        if before.as_deref() != permission {
            self.undo.push(Undo::Grant {
                place: place.clone(),
                kind,
                name: name.to_owned(),
                before,
            });
        }
    }

    /// Deletes a group and every permission granted to it.
    pub(crate) fn delete_group(&mut self, name: &str) {
        let mut places = vec![Place::Global];
        for (key, project) in &self.state.projects {
            places.push(Place::Project(key.clone()));
            places.extend(project.repos.keys().map(|slug| Place::Repo(key.clone(), slug.clone())));
        }
        for place in &places {
            let held = place.grants(self.state).is_some_and(|g| g.groups.contains_key(name));
            if held {
                self.set_grant(place, Principal::Group, name, None);
            }
        }
        if let Some(members) = self.state.groups.remove(name) {
            self.undo.push(Undo::Group {
                name: name.to_owned(),
                members,
            });
        }
    }
}

impl Deref for Change<'_> {
    type Target = DcState;

    fn deref(&self) -> &DcState {
        self.state
    }
}

impl Drop for Change<'_> {
    fn drop(&mut self) {
        while let Some(step) = self.undo.pop() {
            match step {
                Undo::Joined { group, user } => {
                    if let Some(members) = self.state.groups.get_mut(&group) {
                        members.remove(&user);
                    }
                }
                Undo::Left { group, user } => {
                    if let Some(members) = self.state.groups.get_mut(&group) {
                        members.insert(user);
                    }
                }
                Undo::Grant {
                    place,
                    kind,
                    name,
                    before,
                } => {
                    if let Some(grants) = place.grants_mut(self.state) {
                        let map = kind.grants_mut(grants);
                        match before {
                            Some(permission) => map.insert(name, permission),
                            None => map.remove(&name),
                        };
                    }
                }
                Undo::Group { name, members } => {
                    self.state.groups.insert(name, members);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Change, Place};
    use crate::sandbox::bitbucket_dc::access::Principal;
    use crate::sandbox::state::{DcProject, DcRepo, DcState};

    fn state() -> DcState {
        let mut state = DcState::default();
        state.groups.insert("devs".into(), ["ann".to_owned()].into());
        state.groups.insert("ops".into(), ["bob".to_owned()].into());
        state.global.groups.insert("devs".into(), "LICENSED_USER".into());
        let mut project = DcProject::default();
        project.grants.groups.insert("devs".into(), "PROJECT_WRITE".into());
        let mut repo = DcRepo::default();
        repo.grants.groups.insert("devs".into(), "REPO_ADMIN".into());
        repo.grants.users.insert("ann".into(), "REPO_READ".into());
        project.repos.insert("api".into(), repo);
        state.projects.insert("PLAT".into(), project);
        state
    }

    #[test]
    fn dropping_a_change_restores_the_state_exactly() {
        let before = state();
        let mut state = before.clone();
        {
            let mut change = Change::new(&mut state);
            change.join("ops", "ann");
            change.join("ops", "bob");
            change.leave("devs", "ann");
            change.leave("devs", "nobody");
            let repo = Place::Repo("PLAT".into(), "api".into());
            change.set_grant(&repo, Principal::User, "ann", Some("REPO_WRITE"));
            change.set_grant(&repo, Principal::User, "bob", Some("REPO_READ"));
            change.set_grant(&Place::Global, Principal::Group, "ops", Some("ADMIN"));
            change.delete_group("devs");
            assert!(!change.groups.contains_key("devs"));
            assert!(change.projects["PLAT"].repos["api"].grants.groups.is_empty());
            assert_eq!(change.global.groups.get("ops").map(String::as_str), Some("ADMIN"));
        }
        assert_eq!(state, before);
    }

    #[test]
    fn a_committed_change_stays() {
        let mut state = state();
        let mut change = Change::new(&mut state);
        change.join("ops", "ann");
        change.delete_group("devs");
        change.commit();
        assert!(state.groups["ops"].contains("ann"));
        assert!(!state.groups.contains_key("devs"));
        assert!(state.global.groups.is_empty());
        assert!(state.projects["PLAT"].grants.groups.is_empty());
    }
}
