//! The workspace's projects and repositories, read only.

use super::{project, project_json, query, repo_json, workspace};
use crate::sandbox::atlassian_cloud::paging;
use crate::sandbox::atlassian_cloud::state::CloudState;
use crate::sandbox::atlassian_cloud::wire::{ok, Call, Outcome};

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
/// `slug` or `name`).
pub fn repos(call: &Call, state: &mut CloudState) -> Outcome {
    let workspace = workspace(call, state)?;
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
