//! Who may do what in the sandbox: name lookups, permission levels (global, project,
//! repository, each directly or through groups), the licence count and the guards that
//! stop a caller from exceeding the licence or demoting themselves.
//!
//! Handlers change the state through a `change::Change`, note what the guards compare
//! (the operator's level, the licensed count) before it, and ask the guards about the
//! state the change leaves; a refused change is undone, so a refused request changes
//! nothing.

use std::cmp::max;
use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Value};

use super::state::{DcState, Grants};
use super::wire::{application_user, ApiError};

/// Global permissions, weakest first; a principal's level is its index + 1 (0 = none).
pub(crate) const GLOBAL_PERMISSIONS: &[&str] = &["LICENSED_USER", "PROJECT_CREATE", "ADMIN", "SYS_ADMIN"];
pub(crate) const PROJECT_PERMISSIONS: &[&str] = &["PROJECT_READ", "PROJECT_WRITE", "PROJECT_ADMIN"];
pub(crate) const REPO_PERMISSIONS: &[&str] = &["REPO_READ", "REPO_WRITE", "REPO_ADMIN"];

pub(crate) const LICENSED_USER: u8 = 1;
pub(crate) const ADMIN: u8 = 3;
/// `PROJECT_ADMIN` / `REPO_ADMIN` on their scale.
pub(crate) const SCOPE_ADMIN: u8 = 3;

/// The level of a permission name on a scale, 0 if the name is not on it.
pub(crate) fn rank(scale: &[&str], permission: &str) -> u8 {
    scale
        .iter()
        .position(|p| *p == permission)
        .and_then(|i| u8::try_from(i + 1).ok())
        .unwrap_or(0)
}

/// The stored spelling of a user name. Bitbucket's internal directory matches user and
/// group names case-insensitively, so `JDoe` finds `jdoe` (and cannot be created beside it).
pub(crate) fn find_user(state: &DcState, name: &str) -> Option<String> {
    if state.users.contains_key(name) {
        return Some(name.to_owned());
    }
    let wanted = name.to_lowercase();
    state.users.keys().find(|k| k.to_lowercase() == wanted).cloned()
}

pub(crate) fn find_group(state: &DcState, name: &str) -> Option<String> {
    if state.groups.contains_key(name) {
        return Some(name.to_owned());
    }
    let wanted = name.to_lowercase();
    state.groups.keys().find(|k| k.to_lowercase() == wanted).cloned()
}

pub(crate) fn groups_of<'a>(state: &'a DcState, user: &'a str) -> impl Iterator<Item = &'a str> {
    state
        .groups
        .iter()
        .filter(move |(_, members)| members.contains(user))
        .map(|(name, _)| name.as_str())
}

/// A user's level in one set of grants: its own grant or its best group's.
fn level_in(state: &DcState, grants: &Grants, scale: &[&str], user: &str) -> u8 {
    let direct = grants.users.get(user).map_or(0, |p| rank(scale, p));
    groups_of(state, user)
        .filter_map(|g| grants.groups.get(g))
        .map(|p| rank(scale, p))
        .fold(direct, max)
}

pub(crate) fn global_level(state: &DcState, user: &str) -> u8 {
    level_in(state, &state.global, GLOBAL_PERMISSIONS, user)
}

pub(crate) fn group_global_level(state: &DcState, group: &str) -> u8 {
    state
        .global
        .groups
        .get(group)
        .map_or(0, |p| rank(GLOBAL_PERMISSIONS, p))
}

/// A user's effective project level. Global ADMIN implies PROJECT_ADMIN everywhere; the
/// all-users default applies to licensed users only.
pub(crate) fn project_level(state: &DcState, user: &str, key: &str) -> u8 {
    let global = global_level(state, user);
    if global >= ADMIN {
        return SCOPE_ADMIN;
    }
    let Some(project) = state.projects.get(key) else {
        return 0;
    };
    let mut level = level_in(state, &project.grants, PROJECT_PERMISSIONS, user);
    if global >= LICENSED_USER {
        level = project
            .all_users
            .iter()
            .map(|p| rank(PROJECT_PERMISSIONS, p))
            .fold(level, max);
    }
    level
}

/// A user's effective repository level: project levels carry over (READ → REPO_READ ...).
pub(crate) fn repo_level(state: &DcState, user: &str, key: &str, slug: &str) -> u8 {
    let inherited = project_level(state, user, key);
    let own = state
        .projects
        .get(key)
        .and_then(|p| p.repos.get(slug))
        .map_or(0, |r| level_in(state, &r.grants, REPO_PERMISSIONS, user));
    max(inherited, own)
}

/// Whether the caller can see a project at all (PROJECT_VIEW): any permission on it or on
/// one of its repositories.
pub(crate) fn can_view_project(state: &DcState, user: &str, key: &str) -> bool {
    project_level(state, user, key) > 0
        || state
            .projects
            .get(key)
            .is_some_and(|p| p.repos.keys().any(|slug| repo_level(state, user, key, slug) > 0))
}

/// 401 unless the operator holds at least `level` globally.
pub(crate) fn require_global(state: &DcState, level: u8) -> Result<(), ApiError> {
    if global_level(state, &state.operator) >= level {
        Ok(())
    } else {
        Err(ApiError::not_permitted())
    }
}

/// Active users holding a global permission, directly or through a group: what the
/// licence's user tier counts. (A real instance also licenses users given only project or
/// repository access; the sandbox keeps to global permissions.) Gathered from the grants
/// rather than by asking every user for its level, which would look at every group once
/// per user.
pub(crate) fn licensed_count(state: &DcState) -> usize {
    let holds = |permission: &String| rank(GLOBAL_PERMISSIONS, permission) >= LICENSED_USER;
    let mut licensed: HashSet<&str> = HashSet::new();
    licensed.extend(
        state
            .global
            .users
            .iter()
            .filter(|(_, p)| holds(p))
            .map(|(name, _)| name.as_str()),
    );
    for (group, _) in state.global.groups.iter().filter(|(_, p)| holds(p)) {
        if let Some(members) = state.groups.get(group) {
            licensed.extend(members.iter().map(String::as_str));
        }
    }
    licensed
        .into_iter()
        .filter(|name| state.users.get(*name).is_some_and(|user| user.active))
        .count()
}

/// The licensed count before a change, for `check_licence`; only counted where the
/// instance has a limit.
pub(crate) fn licensed_before(state: &DcState) -> Option<usize> {
    state.licence_limit.map(|_| licensed_count(state))
}

/// 403 if the change would take the licensed count above the limit. A change that does
/// not add licensed users passes even on an instance already over its limit. `before` is
/// `licensed_before` of the state the change started from.
pub(crate) fn check_licence(before: Option<usize>, after: &DcState) -> Result<(), ApiError> {
    let (Some(limit), Some(before)) = (after.licence_limit, before) else {
        return Ok(());
    };
    let count = licensed_count(after);
    if count > limit && count > before {
        return Err(ApiError::licence_exceeded());
    }
    Ok(())
}

/// 409 if the change would lower the operator's own global level; `before` is the
/// operator's `global_level` before the change.
pub(crate) fn check_not_demoting_self(before: u8, after: &DcState) -> Result<(), ApiError> {
    if global_level(after, &after.operator) < before {
        return Err(ApiError::conflict(
            "You cannot make this change because it would lower your own permission level.",
        ));
    }
    Ok(())
}

fn every_grants(state: &mut DcState) -> impl Iterator<Item = &mut Grants> {
    std::iter::once(&mut state.global).chain(
        state
            .projects
            .values_mut()
            .flat_map(|p| std::iter::once(&mut p.grants).chain(p.repos.values_mut().map(|r| &mut r.grants))),
    )
}

/// Removes a deleted user from every group and every grant.
pub(crate) fn forget_user(state: &mut DcState, name: &str) {
    state.users.remove(name);
    for members in state.groups.values_mut() {
        members.remove(name);
    }
    for grants in every_grants(state) {
        grants.users.remove(name);
    }
}

/// The two kinds of principal a permission is granted to; the `/users` and `/groups`
/// halves of every permission resource differ only in this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Principal {
    User,
    Group,
}

impl Principal {
    /// The stored name, or 404.
    pub fn find(self, state: &DcState, name: &str) -> Result<String, ApiError> {
        match self {
            Principal::User => find_user(state, name).ok_or_else(|| ApiError::no_such_user(name)),
            Principal::Group => find_group(state, name).ok_or_else(|| ApiError::no_such_group(name)),
        }
    }

    pub fn grants(self, grants: &Grants) -> &BTreeMap<String, String> {
        match self {
            Principal::User => &grants.users,
            Principal::Group => &grants.groups,
        }
    }

    pub fn grants_mut(self, grants: &mut Grants) -> &mut BTreeMap<String, String> {
        match self {
            Principal::User => &mut grants.users,
            Principal::Group => &mut grants.groups,
        }
    }

    /// A principal's effective global level: a user's includes its groups'.
    pub fn global_level(self, state: &DcState, name: &str) -> u8 {
        match self {
            Principal::User => global_level(state, name),
            Principal::Group => group_global_level(state, name),
        }
    }

    /// One entry of a permission listing: `RestPermittedUser` (`{user, permission}`) or
    /// `RestPermittedGroup` (`{group: {name}, permission}`). `None` for a grant whose user
    /// no longer exists, which the server would not list either.
    pub fn permitted(self, state: &DcState, name: &str, permission: &str) -> Option<Value> {
        match self {
            Principal::User => state
                .users
                .get(name)
                .map(|user| json!({ "user": application_user(name, user), "permission": permission })),
            Principal::Group => Some(json!({ "group": { "name": name }, "permission": permission })),
        }
    }
}
