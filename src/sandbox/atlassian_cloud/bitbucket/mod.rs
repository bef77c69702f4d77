//! The Bitbucket Cloud 2.0 operations, under `/2.0`: the workspace and its members
//! (`workspace`), projects and repositories (`projects`), explicit grants
//! (`grants`, `permissions-config`) and effective access (`effective`). This module holds
//! what they share: finding the workspace, a project and a repository by the path's
//! parameters, and the JSON shapes of the description's `user`, `workspace`, `project`,
//! `repository` and `group`.

pub mod effective;
pub mod grants;
pub mod projects;
pub mod workspace;

use serde_json::{json, Value};

use super::bbql::{self, Condition};
use super::state::{slug, CloudState, DirectoryGroup, DirectoryUser, Project, Repo, Workspace};
use super::wire::{bb_bad, bb_not_found, Call, Reply};

/// The workspace the path names, by slug or `{uuid}`.
pub fn workspace<'a>(call: &Call, state: &'a CloudState) -> Result<&'a Workspace, Reply> {
    let wanted = call.param("workspace");
    let workspace = &state.workspace;
    if workspace.slug == wanted || workspace.uuid == wanted {
        Ok(workspace)
    } else {
        Err(bb_not_found(format!("No workspace with identifier '{wanted}'.")))
    }
}

/// The project the path names, by key.
pub fn project<'a>(call: &Call, state: &'a CloudState) -> Result<&'a Project, Reply> {
    let workspace = workspace(call, state)?;
    let key = call.param("project_key");
    workspace
        .projects
        .iter()
        .find(|p| p.key == key)
        .ok_or_else(|| bb_not_found(format!("Project '{key}' not found in workspace '{}'.", workspace.slug)))
}

/// The repository the path names, by slug or `{uuid}`, and its project.
pub fn repo<'a>(call: &Call, state: &'a CloudState) -> Result<(&'a Project, &'a Repo), Reply> {
    let workspace = workspace(call, state)?;
    let wanted = call.param("repo_slug");
    workspace
        .projects
        .iter()
        .flat_map(|p| p.repos.iter().map(move |r| (p, r)))
        .find(|(_, r)| r.slug.eq_ignore_ascii_case(wanted) || repo_uuid(r) == wanted)
        .ok_or_else(|| bb_not_found(format!("Repository '{}/{wanted}' not found.", workspace.slug)))
}

/// The `q` of a list, read for `fields`; `None` without one.
pub fn query(call: &Call, fields: &[&str]) -> Result<Option<Vec<Condition>>, Reply> {
    match call.query("q") {
        None => Ok(None),
        Some(q) => bbql::parse(q, fields)
            .map(Some)
            .map_err(|e| bb_bad(format!("Invalid query: {e}"))),
    }
}

pub fn repo_uuid(repo: &Repo) -> String {
    repo.uuid
        .clone()
        .unwrap_or_else(|| super::state::derived_uuid(&format!("repository:{}", repo.slug)))
}

pub fn project_uuid(project: &Project) -> String {
    project
        .uuid
        .clone()
        .unwrap_or_else(|| super::state::derived_uuid(&format!("project:{}", project.key)))
}

/// The description's `user` (an `account`).
pub fn user_json(user: &DirectoryUser) -> Value {
    json!({
        "type": "user",
        "uuid": user.uuid(),
        "account_id": user.account_id,
        "display_name": user.name,
        "nickname": user.nickname.clone().unwrap_or_else(|| user.name.clone()),
        // "currently only `active`", the description says.
        "account_status": "active",
    })
}

pub fn workspace_json(call: &Call, workspace: &Workspace) -> Value {
    json!({
        "type": "workspace",
        "uuid": workspace.uuid,
        "slug": workspace.slug,
        "name": workspace.name,
        "is_private": true,
        "links": {"self": {"href": format!("{}/2.0/workspaces/{}", call.base_url, workspace.slug)}},
    })
}

pub fn project_json(project: &Project) -> Value {
    let mut value = json!({
        "type": "project",
        "uuid": project_uuid(project),
        "key": project.key,
        "name": project.name,
        "is_private": true,
    });
    if let Some(description) = &project.description {
        value["description"] = Value::String(description.clone());
    }
    value
}

pub fn repo_json(workspace: &Workspace, project: &Project, repo: &Repo) -> Value {
    let name = repo.name.clone().unwrap_or_else(|| repo.slug.clone());
    json!({
        "type": "repository",
        "uuid": repo_uuid(repo),
        "slug": repo.slug,
        "name": name,
        "full_name": format!("{}/{}", workspace.slug, repo.slug),
        "is_private": true,
        "project": project_json(project),
    })
}

pub fn group_json(workspace: &Workspace, group: &DirectoryGroup) -> Value {
    let group_slug = slug(&group.name);
    json!({
        "type": "group",
        "name": group.name,
        "slug": group_slug,
        "full_slug": format!("{}:{group_slug}", workspace.slug),
    })
}
