//! The workspace's projects and repositories, read only.

use super::{project, project_json, query, repo_json, workspace};
use crate::sandbox::atlassian_cloud::paging;
use crate::sandbox::atlassian_cloud::state::CloudState;
use crate::sandbox::atlassian_cloud::wire::{bb_bad, ok, Call, Outcome};

/// `GET /workspaces/{workspace}/projects`.
pub fn list(call: &Call, state: &mut CloudState) -> Outcome {
    let workspace = workspace(call, state)?;
    let items = workspace.projects.iter().map(project_json).collect();
    ok(paging::bitbucket(call, items)?)
}

/// `GET /workspaces/{workspace}/projects/{project_key}`.
pub fn get(call: &Call, state: &mut CloudState) -> Outcome {
    ok(project_json(project(call, state)?))
}

/// `GET /repositories/{workspace}`, filtered by `q=project.key="X"` (or the repository's
/// `slug` or `name`) and by the caller's `role`. The operator administers the workspace,
/// so it has every role on every repository but `owner`, which is the workspace owner's.
/// `sort` is not applied: repositories come in the state's order.
pub fn repos(call: &Call, state: &mut CloudState) -> Outcome {
    let workspace = workspace(call, state)?;
    match call.query("role") {
        None | Some("member" | "contributor" | "admin") => {}
        Some("owner") if state.operator == workspace.owner => {}
        Some("owner") => return ok(paging::bitbucket(call, Vec::new())?),
        Some(other) => {
            return Err(bb_bad(format!(
                "Invalid role '{other}'; use one of member, contributor, admin, owner."
            )))
        }
    }
    let conditions = query(call, &["project.key", "slug", "name"])?.unwrap_or_default();
    let items = workspace
        .projects
        .iter()
        .flat_map(|p| p.repos.iter().map(move |r| (p, r)))
        .filter(|(p, r)| {
            conditions.iter().all(|c| {
                let value = match c.field.as_str() {
                    "project.key" => p.key.clone(),
                    "slug" => r.slug.clone(),
                    _ => r.name.clone().unwrap_or_else(|| r.slug.clone()),
                };
                c.holds(&value, false, |_| None)
            })
        })
        .map(|(p, r)| repo_json(workspace, p, r))
        .collect();
    ok(paging::bitbucket(call, items)?)
}
