//! Effective access (`/workspaces/{workspace}/permissions/repositories`): for every
//! workspace member and repository, the highest of workspace admin, project and
//! repository grants, direct or through a group, without saying which.

use serde_json::json;

use super::{query, repo, repo_json, user_json, workspace};
use crate::sandbox::atlassian_cloud::bbql::Op;
use crate::sandbox::atlassian_cloud::paging;
use crate::sandbox::atlassian_cloud::state::{CloudState, Level, Project, Repo};
use crate::sandbox::atlassian_cloud::view::View;
use crate::sandbox::atlassian_cloud::wire::{bb_bad, ok, Call, Outcome};

/// Ranks levels for `permission>"read"`.
fn rank(level: &str) -> Option<u8> {
    match level {
        "read" => Some(1),
        "write" => Some(2),
        "admin" => Some(3),
        _ => None,
    }
}

fn rows(call: &Call, state: &CloudState, repos: &[(&Project, &Repo)], fields: &[&str]) -> Outcome {
    let conditions = query(call, fields)?.unwrap_or_default();
    let view = View::new(state);
    let mut items = Vec::new();
    for (project, repo) in repos {
        for user in view.members() {
            let Some(level) = view.repo_level(&user.account_id, project, repo) else {
                continue;
            };
            // Effective permissions are read, write or admin: a project's create-repo has
            // already been read as write.
            let level = if level == Level::CreateRepo {
                Level::Write
            } else {
                level
            };
            let name = repo.name.clone().unwrap_or_else(|| repo.slug.clone());
            let keep = conditions.iter().all(|c| match c.field.as_str() {
                "permission" => c.holds(level.as_str(), false, rank),
                _ => c.holds(&name, false, |_| None),
            });
            if keep {
                items.push(json!({
                    "type": "repository_permission",
                    "permission": level.as_str(),
                    "user": user_json(user),
                    "repository": repo_json(&state.workspace, project, repo),
                }));
            }
        }
    }
    ok(paging::bitbucket(call, items)?)
}

/// `GET /workspaces/{workspace}/permissions/repositories`.
pub fn all(call: &Call, state: &mut CloudState) -> Outcome {
    let workspace = workspace(call, state)?;
    let repos: Vec<(&Project, &Repo)> = workspace
        .projects
        .iter()
        .flat_map(|p| p.repos.iter().map(move |r| (p, r)))
        .collect();
    rows(call, state, &repos, &["permission", "repository.name"])
}

/// `GET /workspaces/{workspace}/permissions/repositories/{repo_slug}`: the permission
/// filter takes equality only.
pub fn one(call: &Call, state: &mut CloudState) -> Outcome {
    let found = repo(call, state)?;
    let conditions = query(call, &["permission"])?.unwrap_or_default();
    if conditions.iter().any(|c| c.op != Op::Eq) {
        return Err(bb_bad(
            "Invalid query: this resource filters permission by equality only",
        ));
    }
    rows(call, state, &[found], &["permission"])
}
