//! Directory groups and their memberships: search and list, create (409 on a name taken,
//! case-insensitively), get, delete, add and remove a member. A group an identity provider
//! syncs (`synced`) is read-only here: deleting it or changing its members is refused with
//! the description's 403.
//!
//! Every change is stamped in `state.clock` so Bitbucket sees it only `propagation_ms`
//! later (`view`). Deleting a group is the exception: its Bitbucket grants go with it at
//! once, because a grant to a group the directory no longer has could never be read or
//! revoked by name again, and access that outlives its group is the dangerous direction.

use std::time::Instant;

use axum::http::StatusCode;
use serde_json::Value;

use super::{directory, group_json, limit, query_limit, query_list, search_body, strings, unmodelled};
use crate::sandbox::atlassian_cloud::paging;
use crate::sandbox::atlassian_cloud::state::{derived_uuid, slug, CloudState, DirectoryGroup};
use crate::sandbox::atlassian_cloud::view::View;
use crate::sandbox::atlassian_cloud::wire::{ok, org_bad, org_error, org_not_found, Call, Outcome, Reply};

/// What a group list filters by.
#[derive(Default)]
struct Filter {
    names: Option<Vec<String>>,
    ids: Option<Vec<String>>,
    account_ids: Option<Vec<String>>,
    search_term: Option<String>,
}

impl Filter {
    fn keeps(&self, group: &DirectoryGroup) -> bool {
        let names = self
            .names
            .as_ref()
            .is_none_or(|n| n.iter().any(|n| n.eq_ignore_ascii_case(&group.name)));
        let ids = self.ids.as_ref().is_none_or(|ids| ids.contains(&group.id));
        let members = self
            .account_ids
            .as_ref()
            .is_none_or(|ids| ids.iter().any(|id| group.members.contains(id)));
        let term = self
            .search_term
            .as_ref()
            .is_none_or(|t| group.name.to_lowercase().contains(&t.to_lowercase()));
        names && ids && members && term
    }
}

const SEARCH_FIELDS: &[&str] = &[
    "cursor",
    "limit",
    "sortBy",
    "accountIds",
    "directoryIds",
    "roleIds",
    "resourceOwners",
    "resourceIds",
    "searchTerm",
    "groupIds",
    "groupNames",
    "expand",
];

/// Described filters the emulator does not model.
const UNMODELLED: &[&str] = &["roleIds", "resourceOwners", "resourceIds"];

const EXPAND: &[&str] = &["counts.resources", "counts.users"];

/// `POST …/groups/search`: `groupNames` (exact, case-insensitive, at most 100),
/// `groupIds`, `accountIds` (groups with any of them), `searchTerm`, `cursor` and `limit`
/// (default 20, at most 100). An empty body lists every group.
pub fn search(call: &Call, state: &mut CloudState) -> Outcome {
    directory(call, state)?;
    let body = search_body(call, SEARCH_FIELDS)?;
    unmodelled(&body, UNMODELLED)?;
    let expand = strings(body.get("expand"), "expand", 2)?.unwrap_or_default();
    if let Some(unknown) = expand.iter().find(|e| !EXPAND.contains(&e.as_str())) {
        return Err(org_bad(format!("expand: unknown value \"{unknown}\".")));
    }
    let filter = Filter {
        names: strings(body.get("groupNames"), "groupNames", 100)?,
        ids: strings(body.get("groupIds"), "groupIds", 10)?,
        account_ids: strings(body.get("accountIds"), "accountIds", 10)?,
        search_term: body.get("searchTerm").and_then(Value::as_str).map(str::to_owned),
    };
    let counts = expand.iter().any(|e| e == "counts.users");
    let items = state
        .groups
        .iter()
        .filter(|g| filter.keeps(g))
        .map(|g| group_json(state, g, counts))
        .collect();
    let cursor = body.get("cursor").and_then(Value::as_str);
    ok(paging::cursor(items, cursor, limit(body.get("limit"))?, 20)?)
}

/// `GET …/groups` (deprecated for the search).
pub fn list(call: &Call, state: &mut CloudState) -> Outcome {
    directory(call, state)?;
    if let Some((name, _)) = call.query.iter().find(|(n, _)| UNMODELLED.contains(&n.as_str())) {
        return Err(org_bad(format!("The sandbox does not filter by {name}.")));
    }
    let filter = Filter {
        names: None,
        ids: query_list(call, "groupIds", 10)?,
        account_ids: query_list(call, "accountIds", 10)?,
        search_term: call.query("searchTerm").map(str::to_owned),
    };
    let items = state
        .groups
        .iter()
        .filter(|g| filter.keeps(g))
        .map(|g| group_json(state, g, false))
        .collect();
    ok(paging::cursor(items, call.query("cursor"), query_limit(call)?, 20)?)
}

fn group_index(call: &Call, state: &CloudState) -> Result<usize, Reply> {
    directory(call, state)?;
    let wanted = call.param("groupId");
    state
        .groups
        .iter()
        .position(|g| g.id == wanted)
        .ok_or_else(|| org_not_found(format!("Group {wanted} was not found.")))
}

fn read_only(group: &DirectoryGroup) -> Result<(), Reply> {
    if group.synced {
        return Err(org_error(
            StatusCode::FORBIDDEN,
            "ADMIN-403",
            "Forbidden",
            format!(
                "The group {} is synced from an identity provider and can't be changed here.",
                group.name
            ),
        ));
    }
    Ok(())
}

/// `GET …/groups/{groupId}`.
pub fn get(call: &Call, state: &mut CloudState) -> Outcome {
    let index = group_index(call, state)?;
    ok(serde_json::json!({"data": group_json(state, &state.groups[index], true)}))
}

/// `POST …/groups`: `{"name", "description"?}` → 201 with no body, as described.
pub fn create(call: &Call, state: &mut CloudState) -> Outcome {
    directory(call, state)?;
    let body = search_body(call, &["name", "description"])?;
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| org_bad("name is required."))?
        .to_owned();
    let description = match body.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => return Err(org_bad("description must be a string.")),
    };
    // The directory refuses a name taken in any case; the emulator also refuses one whose
    // Bitbucket slug is taken ("A B" beside "a-b"), which would make two groups one slug.
    if state
        .groups
        .iter()
        .any(|g| g.name.eq_ignore_ascii_case(&name) || slug(&g.name) == slug(&name))
    {
        return Err(org_error(
            StatusCode::CONFLICT,
            "ADMIN-409",
            "Conflict",
            "A group with this name already exists.",
        ));
    }
    let mut n = state.groups.len();
    let id = loop {
        let id = derived_uuid(&format!("group:{}:{name}:{n}", state.directory.id))
            .trim_matches(['{', '}'])
            .to_owned();
        if state.group(&id).is_none() {
            break id;
        }
        n += 1;
    };
    state.clock.created.insert(id.clone(), Instant::now());
    state.groups.push(DirectoryGroup {
        id,
        name,
        description,
        synced: false,
        members: Vec::new(),
    });
    Ok(Reply::Empty(StatusCode::CREATED))
}

/// `DELETE …/groups/{groupId}`: its Bitbucket grants go too, at once.
pub fn delete(call: &Call, state: &mut CloudState) -> Outcome {
    let index = group_index(call, state)?;
    read_only(&state.groups[index])?;
    let group = state.groups.remove(index);
    let group_slug = slug(&group.name);
    let workspace = &mut state.workspace;
    workspace.access_groups.retain(|name| *name != group.name);
    for project in &mut workspace.projects {
        project.groups.remove(&group_slug);
        for repo in &mut project.repos {
            repo.groups.remove(&group_slug);
        }
    }
    let clock = &mut state.clock;
    clock.created.remove(&group.id);
    clock.joined.retain(|(g, _), _| *g != group.id);
    clock.left.retain(|(g, _), _| *g != group.id);
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}

/// `POST …/groups/{groupId}/memberships`: `{"accountId"}` → 204; 409 if already a
/// member; the account must be in the directory.
pub fn add_member(call: &Call, state: &mut CloudState) -> Outcome {
    let index = group_index(call, state)?;
    read_only(&state.groups[index])?;
    let body = search_body(call, &["accountId"])?;
    let account = body
        .get("accountId")
        .and_then(Value::as_str)
        .ok_or_else(|| org_bad("accountId is required."))?
        .to_owned();
    if state.user(&account).is_none() {
        return Err(org_not_found(format!(
            "User {account} was not found in this directory."
        )));
    }
    if state.groups[index].members.contains(&account) {
        return Err(org_error(
            StatusCode::CONFLICT,
            "ADMIN-409",
            "Conflict",
            "The user is already in the group.",
        ));
    }
    if over_seats(state, index, &account) {
        return Err(org_error(
            StatusCode::CONFLICT,
            "ADMIN-409",
            "Conflict",
            "You've exceeded your user limit for an app that the group grants access to.",
        ));
    }
    let group = &mut state.groups[index];
    group.members.push(account.clone());
    let key = (group.id.clone(), account);
    state.clock.left.remove(&key);
    state.clock.joined.insert(key, Instant::now());
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}

/// Whether adding `account` to the group would give Bitbucket more people with access
/// than the plan's user limit (a grant to the group reaches the new member).
fn over_seats(state: &CloudState, index: usize, account: &str) -> bool {
    let Some(limit) = state.seat_limit else {
        return false;
    };
    let before = View::new(state).seats(None);
    let mut after = state.clone();
    after.clock = Default::default();
    after.groups[index].members.push(account.to_owned());
    let after = View::new(&after).seats(None);
    after > before && after > limit
}

/// `DELETE …/groups/{groupId}/memberships/{accountId}` → 204; 404 if not a member.
pub fn remove_member(call: &Call, state: &mut CloudState) -> Outcome {
    let index = group_index(call, state)?;
    read_only(&state.groups[index])?;
    let account = call.param("accountId").to_owned();
    let group = &mut state.groups[index];
    let Some(position) = group.members.iter().position(|m| *m == account) else {
        return Err(org_not_found(format!("User {account} is not a member of the group.")));
    };
    group.members.remove(position);
    let key = (group.id.clone(), account);
    state.clock.joined.remove(&key);
    state.clock.left.insert(key, Instant::now());
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}
