//! Explicit grants (`permissions-config`) on projects and repositories, to groups (by
//! Bitbucket slug) and users (by account id or `{uuid}`): list, get one, grant (`PUT`,
//! an upsert) and revoke (`DELETE`). Project levels are read, write, create-repo and
//! admin; repository levels read, write and admin.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::{group_json, project, project_json, repo, repo_json, user_json};
use crate::sandbox::atlassian_cloud::paging;
use crate::sandbox::atlassian_cloud::state::{CloudState, Level};
use crate::sandbox::atlassian_cloud::view::{Principal, View};
use crate::sandbox::atlassian_cloud::wire::{bb_bad, bb_error, bb_not_found, ok, Call, Outcome, Reply};

/// Where a grant is: a project (by index) or a repository in it.
#[derive(Clone, Copy)]
struct Place {
    project: usize,
    repo: Option<usize>,
}

fn place(call: &Call, state: &CloudState) -> Result<Place, Reply> {
    let projects = &state.workspace.projects;
    if call.route.starts_with("/2.0/repositories/") {
        let (p, r) = repo(call, state)?;
        let project = projects.iter().position(|x| x.key == p.key).unwrap_or_default();
        let repo = projects[project].repos.iter().position(|x| x.slug == r.slug);
        Ok(Place { project, repo })
    } else {
        let p = project(call, state)?;
        let project = projects.iter().position(|x| x.key == p.key).unwrap_or_default();
        Ok(Place { project, repo: None })
    }
}

/// The grants at `place`: (groups, users).
fn grants(state: &CloudState, place: Place) -> (&BTreeMap<String, Level>, &BTreeMap<String, Level>) {
    let project = &state.workspace.projects[place.project];
    match place.repo.and_then(|r| project.repos.get(r)) {
        Some(repo) => (&repo.groups, &repo.users),
        None => (&project.groups, &project.users),
    }
}

fn grants_mut(state: &mut CloudState, place: Place) -> (&mut BTreeMap<String, Level>, &mut BTreeMap<String, Level>) {
    let project = &mut state.workspace.projects[place.project];
    match place.repo {
        Some(r) if r < project.repos.len() => {
            let repo = &mut project.repos[r];
            (&mut repo.groups, &mut repo.users)
        }
        _ => (&mut project.groups, &mut project.users),
    }
}

/// One grant as the description shapes it: `project_group_permission`,
/// `repository_user_permission`, and so on.
fn grant_json(call: &Call, state: &CloudState, place: Place, principal: (&str, Value), level: Level) -> Value {
    let workspace = &state.workspace;
    let project = &workspace.projects[place.project];
    let (kind, subject) = principal;
    let (scope, scope_value, base) = match place.repo.and_then(|r| project.repos.get(r)) {
        Some(repo) => (
            "repository",
            repo_json(workspace, project, repo),
            format!("{}/2.0/repositories/{}/{}", call.base_url, workspace.slug, repo.slug),
        ),
        None => (
            "project",
            project_json(project),
            format!(
                "{}/2.0/workspaces/{}/projects/{}",
                call.base_url, workspace.slug, project.key
            ),
        ),
    };
    let id = match kind {
        "group" => subject["slug"].as_str().unwrap_or_default().to_owned(),
        _ => subject["account_id"].as_str().unwrap_or_default().to_owned(),
    };
    let mut value = json!({
        "type": format!("{scope}_{kind}_permission"),
        "permission": level.as_str(),
        "links": {"self": {"href": format!("{base}/permissions-config/{kind}s/{id}")}},
    });
    value[kind] = subject;
    value[scope] = scope_value;
    value
}

/// `GET …/permissions-config/groups`.
pub fn list_groups(call: &Call, state: &mut CloudState) -> Outcome {
    let place = place(call, state)?;
    let view = View::new(state);
    let (groups, _) = grants(state, place);
    let items = groups
        .iter()
        .filter_map(|(group_slug, level)| {
            let group = view.group_by_slug(group_slug)?;
            Some(grant_json(
                call,
                state,
                place,
                ("group", group_json(&state.workspace, group)),
                *level,
            ))
        })
        .collect();
    ok(paging::bitbucket(call, items)?)
}

/// `GET …/permissions-config/users`.
pub fn list_users(call: &Call, state: &mut CloudState) -> Outcome {
    let place = place(call, state)?;
    let (_, users) = grants(state, place);
    let items = users
        .iter()
        .filter_map(|(account, level)| {
            let user = state.user(account)?;
            Some(grant_json(call, state, place, ("user", user_json(user)), *level))
        })
        .collect();
    ok(paging::bitbucket(call, items)?)
}

/// The group the path's `group_slug` names, if Bitbucket knows it yet.
fn group_slug(call: &Call, state: &CloudState) -> Result<String, Reply> {
    let wanted = call.param("group_slug");
    View::new(state)
        .group_by_slug(wanted)
        .map(|_| wanted.to_owned())
        .ok_or_else(|| {
            bb_not_found(format!(
                "Group '{wanted}' not found in workspace '{}'.",
                state.workspace.slug
            ))
        })
}

/// The account the path's `selected_user_id` names (account id or `{uuid}`).
fn account(call: &Call, state: &CloudState) -> Result<String, Reply> {
    let wanted = call.param("selected_user_id");
    state
        .user_by_any_id(wanted)
        .map(|u| u.account_id.clone())
        .ok_or_else(|| bb_not_found(format!("User '{wanted}' not found.")))
}

/// `GET …/permissions-config/groups/{group_slug}`: 404 when the group has no explicit
/// grant here. The description's enum also has `none`, which may be what the vendor
/// answers instead; a 404 is the stricter reading, and a client must handle both.
pub fn get_group(call: &Call, state: &mut CloudState) -> Outcome {
    let place = place(call, state)?;
    let group_slug = group_slug(call, state)?;
    let level = grants(state, place)
        .0
        .get(&group_slug)
        .copied()
        .ok_or_else(|| bb_not_found(format!("Group '{group_slug}' has no explicit permission here.")))?;
    group_grant(call, state, place, &group_slug, level)
}

/// A group's grant as the vendor shows it.
fn group_grant(call: &Call, state: &CloudState, place: Place, group_slug: &str, level: Level) -> Outcome {
    let view = View::new(state);
    let group = view
        .group_by_slug(group_slug)
        .ok_or_else(|| bb_not_found("Group not found."))?;
    ok(grant_json(
        call,
        state,
        place,
        ("group", group_json(&state.workspace, group)),
        level,
    ))
}

/// `GET …/permissions-config/users/{selected_user_id}`.
pub fn get_user(call: &Call, state: &mut CloudState) -> Outcome {
    let place = place(call, state)?;
    let account = account(call, state)?;
    let level = grants(state, place)
        .1
        .get(&account)
        .copied()
        .ok_or_else(|| bb_not_found(format!("User '{account}' has no explicit permission here.")))?;
    let user = state.user(&account).ok_or_else(|| bb_not_found("User not found."))?;
    ok(grant_json(call, state, place, ("user", user_json(user)), level))
}

/// The body of a grant: `{"permission": …}` and nothing else (`additionalProperties:
/// false`), a level the place takes.
fn requested_level(call: &Call, place: Place) -> Result<Level, Reply> {
    let body = call.json().map_err(bb_bad)?;
    let Some(object) = body.as_object() else {
        return Err(bb_bad("The body must be an object with a `permission`."));
    };
    if let Some(other) = object.keys().find(|k| *k != "permission") {
        return Err(bb_bad(format!("Unexpected property '{other}'.")));
    }
    let text = object
        .get("permission")
        .and_then(Value::as_str)
        .ok_or_else(|| bb_bad("'permission' is required."))?;
    let level = Level::parse(text).filter(|l| place.repo.is_none() || *l != Level::CreateRepo);
    level.ok_or_else(|| {
        let allowed = if place.repo.is_none() {
            "read, write, create-repo, admin"
        } else {
            "read, write, admin"
        };
        bb_bad(format!("'{text}' is not a valid permission; use one of {allowed}."))
    })
}

/// 402 when the grant would give more people access than the plan's user limit.
fn within_seats(state: &CloudState, principal: Principal<'_>) -> Result<(), Reply> {
    let Some(limit) = state.seat_limit else {
        return Ok(());
    };
    let view = View::new(state);
    if view.seats(Some(principal)) > limit.max(view.seats(None)) {
        return Err(bb_error(
            StatusCode::PAYMENT_REQUIRED,
            // The description's words for this 402.
            "You have reached your plan's user limit and must upgrade before giving access to additional users.",
            None,
        ));
    }
    Ok(())
}

/// `PUT …/permissions-config/groups/{group_slug}`: 404 naming the group while Bitbucket
/// does not know it (not created, or not arrived yet).
pub fn put_group(call: &Call, state: &mut CloudState) -> Outcome {
    let place = place(call, state)?;
    let group_slug = group_slug(call, state)?;
    let level = requested_level(call, place)?;
    within_seats(state, Principal::Group(&group_slug))?;
    grants_mut(state, place).0.insert(group_slug.clone(), level);
    group_grant(call, state, place, &group_slug, level)
}

/// `PUT …/permissions-config/users/{selected_user_id}`: 400 for the workspace owner and
/// for anyone who is not a workspace member.
pub fn put_user(call: &Call, state: &mut CloudState) -> Outcome {
    let place = place(call, state)?;
    let account = account(call, state)?;
    let level = requested_level(call, place)?;
    if account == state.workspace.owner {
        return Err(bb_bad("The workspace owner cannot be given explicit permissions."));
    }
    if !View::new(state).is_member(&account) {
        return Err(bb_bad(format!(
            "User '{account}' is not a member of workspace '{}'.",
            state.workspace.slug
        )));
    }
    within_seats(state, Principal::User(&account))?;
    grants_mut(state, place).1.insert(account.clone(), level);
    let user = state.user(&account).ok_or_else(|| bb_not_found("User not found."))?;
    ok(grant_json(call, state, place, ("user", user_json(user)), level))
}

/// `DELETE …/permissions-config/groups/{group_slug}`: 204, whether or not there was a
/// grant to revoke.
pub fn delete_group(call: &Call, state: &mut CloudState) -> Outcome {
    let place = place(call, state)?;
    let group_slug = group_slug(call, state)?;
    grants_mut(state, place).0.remove(&group_slug);
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}

/// `DELETE …/permissions-config/users/{selected_user_id}`.
pub fn delete_user(call: &Call, state: &mut CloudState) -> Outcome {
    let place = place(call, state)?;
    let account = account(call, state)?;
    grants_mut(state, place).1.remove(&account);
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}
