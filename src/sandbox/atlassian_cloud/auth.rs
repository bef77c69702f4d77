//! Who is calling, and what the credential may do.
//!
//! Bitbucket routes take two credentials: an **API token**, sent as Basic with the token
//! user's email as the username (here the operator's email) and the run's token as the
//! password, holding the state's `scopes`; and a **workspace access token**, the run's
//! token as Bearer, which reads but can neither query nor change permissions. The
//! Organizations API takes only its org API key, the run's token as Bearer.

use axum::http::{Method, StatusCode};

use super::state::CloudState;
use super::wire::{bb_error, Reply};

/// A credential the emulator accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// Basic, the operator's email and the token: a user's API token.
    ApiToken,
    /// Bearer and the token: a workspace access token on Bitbucket routes, the org API key
    /// on the Organizations API's.
    Bearer,
}

/// The credential an `Authorization` header carries, if it is one of the two.
pub fn credential(authorization: &str, state: &CloudState, token: &str) -> Option<Credential> {
    if crate::sandbox::host::bearer_matches(authorization, token) {
        return Some(Credential::Bearer);
    }
    let (scheme, encoded) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    // Atlassian account emails sign in case-insensitively; the token must match exactly.
    let email = state.operator_email()?;
    (user.eq_ignore_ascii_case(email) && password == token).then_some(Credential::ApiToken)
}

/// The scopes each Bitbucket operation needs, as the description's
/// `x-atlassian-oauth2-scopes` lists them (API-token scopes do not imply each other:
/// `admin:` does not give `read:`). A test holds this table against the description.
pub const SCOPES: &[(&str, &str, &[&str])] = &[
    ("GET", "/2.0/user", &["read:user:bitbucket"]),
    // Not in the description, which predates it (CHANGE-3022): the workspace read scope,
    // as every other workspace read.
    ("GET", "/2.0/user/workspaces", &["read:workspace:bitbucket"]),
    (
        "GET",
        "/2.0/workspaces",
        &["read:user:bitbucket", "read:workspace:bitbucket"],
    ),
    (
        "GET",
        "/2.0/user/permissions/workspaces",
        &["read:workspace:bitbucket", "read:user:bitbucket"],
    ),
    (
        "GET",
        "/2.0/user/permissions/repositories",
        &["read:repository:bitbucket"],
    ),
    (
        "GET",
        "/2.0/workspaces/{workspace}/members",
        &["read:workspace:bitbucket"],
    ),
    (
        "GET",
        "/2.0/workspaces/{workspace}/members/{member}",
        &["read:workspace:bitbucket"],
    ),
    (
        "GET",
        "/2.0/workspaces/{workspace}/permissions",
        &["read:workspace:bitbucket"],
    ),
    (
        "GET",
        "/2.0/workspaces/{workspace}/projects",
        &["read:project:bitbucket"],
    ),
    (
        "GET",
        "/2.0/workspaces/{workspace}/projects/{project_key}",
        &["read:project:bitbucket"],
    ),
    ("GET", "/2.0/repositories/{workspace}", &["read:repository:bitbucket"]),
    (
        "GET",
        "/2.0/workspaces/{workspace}/permissions/repositories",
        &["read:repository:bitbucket"],
    ),
    (
        "GET",
        "/2.0/workspaces/{workspace}/permissions/repositories/{repo_slug}",
        &["read:repository:bitbucket"],
    ),
];

/// The scopes of a `permissions-config` operation: reads need the area's read scope,
/// grants its admin scope and `write:permission`, revokes its admin scope and
/// `delete:permission` (the description says so of every one of the 14 operations).
fn permissions_config(method: &Method, route: &str) -> Option<&'static [&'static str]> {
    let project = route.starts_with("/2.0/workspaces/");
    let scopes: &'static [&'static str] = match (*method == Method::GET, *method == Method::PUT, project) {
        (true, _, true) => &["read:project:bitbucket"],
        (true, _, false) => &["read:repository:bitbucket"],
        (false, true, true) => &["admin:project:bitbucket", "write:permission:bitbucket"],
        (false, true, false) => &["admin:repository:bitbucket", "write:permission:bitbucket"],
        (false, false, true) => &["admin:project:bitbucket", "delete:permission:bitbucket"],
        (false, false, false) => &["admin:repository:bitbucket", "delete:permission:bitbucket"],
    };
    route.contains("/permissions-config/").then_some(scopes)
}

/// The scopes `method route` needs, or `None` for a route that is not Bitbucket's.
pub fn needed(method: &Method, route: &str) -> Option<&'static [&'static str]> {
    if let Some(scopes) = permissions_config(method, route) {
        return Some(scopes);
    }
    SCOPES
        .iter()
        .find(|(m, r, _)| *r == route && method.as_str() == *m)
        .map(|(_, _, scopes)| *scopes)
}

/// Every scope a served operation needs: an API token's scopes when the state names none.
pub fn all_scopes() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = SCOPES.iter().flat_map(|(_, _, s)| s.iter().copied()).collect();
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        for route in [
            "/2.0/workspaces/x/permissions-config/",
            "/2.0/repositories/x/permissions-config/",
        ] {
            all.extend(permissions_config(&method, route).unwrap_or_default());
        }
    }
    all.sort_unstable();
    all.dedup();
    all
}

/// Whether the API token's scopes cover `needed`.
pub fn has_scopes(state: &CloudState, needed: &[&str]) -> bool {
    match &state.scopes {
        None => true,
        Some(granted) => needed.iter().all(|n| granted.iter().any(|g| g == n)),
    }
}

/// The vendor's answer to a token without the scope an operation needs: a 401 that names
/// neither the scope nor the problem.
pub fn missing_scope() -> Reply {
    bb_error(
        StatusCode::UNAUTHORIZED,
        "Token is invalid, expired, or not supported for this endpoint.",
        None,
    )
}

/// Whether a Bitbucket route reads or changes permissions, which an access token may not.
pub fn is_permissions(route: &str) -> bool {
    route.contains("/permissions-config/") || route.ends_with("/permissions") || route.contains("/permissions/")
}

/// The 403 an access token gets on a permissions route, in the words of the
/// description's narrative on access tokens.
pub fn access_token_refused() -> Reply {
    bb_error(
        StatusCode::FORBIDDEN,
        "You can't use an access token to manipulate or query repository, project, or workspace permissions.",
        None,
    )
}
