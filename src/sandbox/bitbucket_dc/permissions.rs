//! Project and repository permissions: `/projects/{projectKey}[/repos/{repositorySlug}]
//! /permissions/users|groups` (list, grant, revoke), the revoke of a user and a group in
//! one call (`.../permissions?user=&group=`) and the project's all-users default
//! (`/projects/{projectKey}/permissions/{permission}/all`).
//!
//! Both scopes behave the same apart from their permission names, so one set of functions
//! serves both, parameterised by the `Scope` read from the path.

use axum::http::StatusCode;
use serde_json::json;

use super::access::{self, Principal, ADMIN, PROJECT_PERMISSIONS, REPO_PERMISSIONS, SCOPE_ADMIN};
use super::change::{Change, Place};
use super::state::DcState;
use super::wire::{matches, ApiError, Call, Outcome, Reply};

/// A project, or a repository within one, known to exist.
struct Scope {
    key: String,
    slug: Option<String>,
}

impl Scope {
    /// Reads the scope from the path: 404 for an unknown project or repository, then 401
    /// unless the operator administers it (PROJECT_ADMIN / REPO_ADMIN, or global ADMIN).
    fn from_call(call: &Call, state: &DcState) -> Result<Self, ApiError> {
        let key = call.path("projectKey")?;
        let project = state.projects.get(key).ok_or_else(|| ApiError::no_such_project(key))?;
        let slug = match call.params.get("repositorySlug") {
            Some(slug) if project.repos.contains_key(slug) => Some(slug.clone()),
            Some(slug) => return Err(ApiError::no_such_repository(key, slug)),
            None => None,
        };
        let scope = Scope {
            key: key.to_owned(),
            slug,
        };
        if scope.operator_level(state) < SCOPE_ADMIN {
            return Err(ApiError::not_permitted());
        }
        Ok(scope)
    }

    fn scale(&self) -> &'static [&'static str] {
        match self.slug {
            None => PROJECT_PERMISSIONS,
            Some(_) => REPO_PERMISSIONS,
        }
    }

    fn operator_level(&self, state: &DcState) -> u8 {
        match &self.slug {
            None => access::project_level(state, &state.operator, &self.key),
            Some(slug) => access::repo_level(state, &state.operator, &self.key, slug),
        }
    }

    fn place(&self) -> Place {
        match &self.slug {
            None => Place::Project(self.key.clone()),
            Some(slug) => Place::Repo(self.key.clone(), slug.clone()),
        }
    }

    /// The operator's standing before a change, for `demotes_operator`.
    fn standing(&self, state: &DcState) -> Standing {
        Standing {
            global: access::global_level(state, &state.operator),
            here: self.operator_level(state),
        }
    }

    /// Whether the change lowers the operator's own level here. A global ADMIN keeps
    /// PROJECT_ADMIN / REPO_ADMIN whatever the grants say, so only a project or repository
    /// administrator without it can lock themselves out.
    fn demotes_operator(&self, before: Standing, after: &DcState) -> bool {
        before.global < ADMIN && self.operator_level(after) < before.here
    }
}

/// The operator's levels before a change: global, and in the scope being changed.
#[derive(Debug, Clone, Copy)]
struct Standing {
    global: u8,
    here: u8,
}

pub(crate) fn list_users(call: &Call, state: &mut DcState) -> Outcome {
    list(Principal::User, call, state)
}
pub(crate) fn list_groups(call: &Call, state: &mut DcState) -> Outcome {
    list(Principal::Group, call, state)
}
pub(crate) fn grant_users(call: &Call, state: &mut DcState) -> Outcome {
    grant(Principal::User, call, state)
}
pub(crate) fn grant_groups(call: &Call, state: &mut DcState) -> Outcome {
    grant(Principal::Group, call, state)
}
pub(crate) fn revoke_users(call: &Call, state: &mut DcState) -> Outcome {
    revoke(Principal::User, call, state)
}
pub(crate) fn revoke_groups(call: &Call, state: &mut DcState) -> Outcome {
    revoke(Principal::Group, call, state)
}

/// The principals granted a permission here directly. `filter` matches names.
fn list(kind: Principal, call: &Call, state: &mut DcState) -> Outcome {
    let scope = Scope::from_call(call, state)?;
    let paging = call.paging()?;
    let filter = call.filter();
    let values = scope
        .place()
        .grants(state)
        .map(|grants| {
            kind.grants(grants)
                .iter()
                .filter(|(name, _)| matches(filter.as_deref(), &[name.as_str()]))
                .filter_map(|(name, permission)| kind.permitted(state, name, permission))
                .collect()
        })
        .unwrap_or_default();
    Ok(paging.page(values))
}

/// `PUT ...?name=..&permission=P`: one permission per principal per scope, so granting
/// replaces whatever the principal held here.
///
/// The description marks `name` and `permission` optional on the project variant and
/// required on the repository one; a grant without either means nothing, so both
/// variants require them (400).
fn grant(kind: Principal, call: &Call, state: &mut DcState) -> Outcome {
    let scope = Scope::from_call(call, state)?;
    // Only the repository variant types `name` as an array; the project one takes one.
    let names = match scope.slug {
        Some(_) => call.required_all("name")?,
        None => vec![call.required("name")?],
    };
    let permission = call.required("permission")?;
    if access::rank(scope.scale(), permission) == 0 {
        return Err(ApiError::invalid(
            "permission",
            format!("{permission} is not one of {}.", scope.scale().join(", ")),
        ));
    }
    let keys = names
        .iter()
        .map(|name| kind.find(state, name))
        .collect::<Result<Vec<_>, _>>()?;
    let before = scope.standing(state);
    let place = scope.place();
    let mut change = Change::new(state);
    for key in &keys {
        change.set_grant(&place, kind, key, Some(permission));
    }
    // The description answers 403 (not 409) when a grant would lower the caller's level.
    if scope.demotes_operator(before, &change) {
        return Err(ApiError::forbidden(
            "You cannot make this change because it would lower your own permission level.",
        ));
    }
    change.commit();
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}

/// `DELETE ...?name=`: revokes the principal's permission here; revoking a principal that
/// holds none succeeds. `name` is optional in the project variant's description and
/// required in the repository one; both require it, as above.
fn revoke(kind: Principal, call: &Call, state: &mut DcState) -> Outcome {
    let scope = Scope::from_call(call, state)?;
    let name = call.required("name")?;
    let key = kind.find(state, name)?;
    let before = scope.standing(state);
    let mut change = Change::new(state);
    change.set_grant(&scope.place(), kind, &key, None);
    if scope.demotes_operator(before, &change) {
        return Err(ApiError::conflict(
            "You cannot make this change because it would lower your own permission level.",
        ));
    }
    change.commit();
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}

/// `DELETE /projects/{projectKey}[/repos/{repositorySlug}]/permissions?user=&group=`:
/// revokes whatever the user and the group hold here, in one step.
///
/// The description calls the parameters "the names of the users" and "of the groups" but
/// types each as one string (where the grant's `name` is an array), so the emulator takes
/// at most one of each and refuses a repeated one (400) rather than guess which name the
/// server would keep. Neither given is the documented 400; an unknown user or group the
/// documented 404; a revoke that would lower the caller's own level here the documented
/// 409, and then nothing is revoked. A principal that holds nothing here is revoked
/// successfully, as on the per-kind calls.
pub(crate) fn revoke_all(call: &Call, state: &mut DcState) -> Outcome {
    let scope = Scope::from_call(call, state)?;
    let user = call.optional("user")?;
    let group = call.optional("group")?;
    if user.is_none() && group.is_none() {
        return Err(ApiError::invalid(
            "user",
            "No permissions were revoked: no users or groups were provided.",
        ));
    }
    let mut revoked = Vec::new();
    if let Some(name) = user {
        revoked.push((Principal::User, Principal::User.find(state, name)?));
    }
    if let Some(name) = group {
        revoked.push((Principal::Group, Principal::Group.find(state, name)?));
    }
    let before = scope.standing(state);
    let place = scope.place();
    let mut change = Change::new(state);
    for (kind, key) in &revoked {
        change.set_grant(&place, *kind, key, None);
    }
    if scope.demotes_operator(before, &change) {
        return Err(ApiError::conflict(
            "You cannot make this change because it would lower your own permission level.",
        ));
    }
    change.commit();
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}

/// The `{permission}` of the all-users calls. The description lists PROJECT_READ,
/// PROJECT_WRITE and PROJECT_ADMIN, but the product only offers read and write as a
/// project's default permission, so PROJECT_ADMIN is refused like an unknown name.
fn default_permission(call: &Call) -> Result<String, ApiError> {
    let permission = call.path("permission")?;
    match permission {
        "PROJECT_READ" | "PROJECT_WRITE" => Ok(permission.to_owned()),
        other => Err(ApiError::invalid(
            "permission",
            format!("{other} cannot be granted to all users; use PROJECT_READ or PROJECT_WRITE."),
        )),
    }
}

/// `GET /projects/{projectKey}/permissions/{permission}/all` → `{"permitted": bool}`.
///
/// Answers whether exactly this permission was granted to all users: the sandbox stores
/// the set as granted, so after granting only PROJECT_WRITE, PROJECT_READ reads false
/// even though on a real instance write implies read.
pub(crate) fn all_users_get(call: &Call, state: &mut DcState) -> Outcome {
    let scope = Scope::from_call(call, state)?;
    let permission = default_permission(call)?;
    let permitted = state
        .projects
        .get(&scope.key)
        .is_some_and(|p| p.all_users.contains(&permission));
    Ok(Reply::Json(StatusCode::OK, json!({ "permitted": permitted })))
}

/// `POST /projects/{projectKey}/permissions/{permission}/all?allow=true|false`.
///
/// `allow` is optional in the description, which does not say what its absence means (a
/// JAX-RS boolean would read it as false, i.e. revoke); the emulator requires it so that a
/// forgotten parameter cannot silently revoke the default.
pub(crate) fn all_users_set(call: &Call, state: &mut DcState) -> Outcome {
    let scope = Scope::from_call(call, state)?;
    let permission = default_permission(call)?;
    let allow = call
        .boolean("allow")?
        .ok_or_else(|| ApiError::invalid("allow", "The query parameter 'allow' is required."))?;
    if let Some(project) = state.projects.get_mut(&scope.key) {
        if allow {
            project.all_users.insert(permission);
        } else {
            project.all_users.remove(&permission);
        }
    }
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}
