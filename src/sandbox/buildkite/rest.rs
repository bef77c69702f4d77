//! The REST call the provider needs: `POST /v2/organizations/{org}/teams/enable`
//! (`specs/buildkite-docs-rest-api-teams.md`), which GraphQL has no mutation for. It is
//! idempotent (204 whether or not teams were on), needs an organization administrator,
//! and is a 403 on a plan without teams. REST's rate limits (`limiter`) run before it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::state::{BkState, OrgRole};
use super::{json_response, BkEmulator};
use crate::sandbox::host::Incoming;

fn message(status: StatusCode, text: &str) -> Response {
    json_response(status, &json!({ "message": text }), Vec::new())
}

pub fn enable_teams(_: &BkEmulator, call: &Incoming, state: &mut BkState) -> Response {
    let org = call.params.get("org").map(String::as_str).unwrap_or_default();
    if org != state.organization.slug {
        return message(StatusCode::NOT_FOUND, "Not Found");
    }
    let admin = state
        .member(state.operator_email())
        .is_some_and(|m| m.role == OrgRole::Admin);
    if !admin {
        return message(
            StatusCode::FORBIDDEN,
            "You must be an organization administrator to enable teams.",
        );
    }
    if !state.organization.teams_in_plan {
        return message(
            StatusCode::FORBIDDEN,
            "Your plan doesn't include team permissions. Upgrade your plan to enable teams.",
        );
    }
    state.enable_teams();
    StatusCode::NO_CONTENT.into_response()
}

/// The REST API's 429 body, in the docs' words.
pub fn rate_limited(scope: &str, limit: i64, current: i64, reset: u64) -> Value {
    json!({
        "message": format!("You have exceeded your API rate limit. Please wait {reset} seconds before making more requests."),
        "scope": scope,
        "limit": limit,
        "current": current,
        "reset": reset,
    })
}
