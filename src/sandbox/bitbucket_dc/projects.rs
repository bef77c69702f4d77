//! Read-only project and repository resources (`/api/latest/projects...`): what a person
//! with curl uses to look around the sandbox. Projects and repositories come from the
//! state file; the emulator does not create or delete them.

use axum::http::StatusCode;

use super::access::{self, PROJECT_PERMISSIONS};
use super::state::DcState;
use super::wire::{matches, project, repository, ApiError, Call, Outcome, Reply};

/// `GET /projects`: the projects the operator can see, optionally those whose name
/// contains `name` or on which the operator holds `permission`.
pub(crate) fn list(call: &Call, state: &mut DcState) -> Outcome {
    let paging = call.paging()?;
    let name = call.query("name").filter(|n| !n.is_empty()).map(str::to_lowercase);
    // 400 "The permission level is unknown or not related to projects".
    let wanted = match call.query("permission") {
        None | Some("") => None,
        Some("PROJECT_VIEW") => Some(0),
        Some(p) => match access::rank(PROJECT_PERMISSIONS, p) {
            0 => {
                return Err(ApiError::invalid(
                    "permission",
                    format!("{p} is unknown or not related to projects."),
                ))
            }
            level => Some(level),
        },
    };
    let operator = &state.operator;
    let values = state
        .projects
        .iter()
        .filter(|(key, _)| access::can_view_project(state, operator, key))
        .filter(|(key, _)| wanted.is_none_or(|level| access::project_level(state, operator, key) >= level))
        .filter(|(_, p)| matches(name.as_deref(), &[p.name.as_str()]))
        .map(|(key, p)| project(key, &p.name))
        .collect();
    Ok(paging.page(values))
}

/// `GET /projects/{projectKey}`.
pub(crate) fn get(call: &Call, state: &mut DcState) -> Outcome {
    let key = call.path("projectKey")?;
    let found = state.projects.get(key).ok_or_else(|| ApiError::no_such_project(key))?;
    if !access::can_view_project(state, &state.operator, key) {
        return Err(ApiError::not_permitted());
    }
    Ok(Reply::Json(StatusCode::OK, project(key, &found.name)))
}

/// `GET /projects/{projectKey}/repos`: the project's repositories the operator can read.
pub(crate) fn list_repos(call: &Call, state: &mut DcState) -> Outcome {
    let key = call.path("projectKey")?;
    let paging = call.paging()?;
    let found = state.projects.get(key).ok_or_else(|| ApiError::no_such_project(key))?;
    if !access::can_view_project(state, &state.operator, key) {
        return Err(ApiError::not_permitted());
    }
    let values = found
        .repos
        .keys()
        .filter(|slug| access::repo_level(state, &state.operator, key, slug) > 0)
        .map(|slug| repository(key, &found.name, slug))
        .collect();
    Ok(paging.page(values))
}

/// `GET /projects/{projectKey}/repos/{repositorySlug}`.
pub(crate) fn get_repo(call: &Call, state: &mut DcState) -> Outcome {
    let key = call.path("projectKey")?;
    let slug = call.path("repositorySlug")?;
    let found = state.projects.get(key).ok_or_else(|| ApiError::no_such_project(key))?;
    if !found.repos.contains_key(slug) {
        return Err(ApiError::no_such_repository(key, slug));
    }
    if access::repo_level(state, &state.operator, key, slug) == 0 {
        return Err(ApiError::not_permitted());
    }
    Ok(Reply::Json(StatusCode::OK, repository(key, &found.name, slug)))
}
