//! The Atlassian Cloud emulator: Bitbucket Cloud's REST API 2.0 (under `/2.0`, as at
//! api.bitbucket.org) and the Organizations REST API's directory operations (under
//! `/admin`, as at api.atlassian.com), served together over one `CloudState`, because
//! Bitbucket Cloud's people and groups are the organization directory's: a group the
//! Organizations API creates is the group a Bitbucket grant names, once the change has
//! reached Bitbucket (`propagation_ms`, `view`).
//!
//! It follows `specs/bitbucket-cloud.swagger.v3.json` and
//! `specs/atlassian-admin-organizations.openapi.json`, and is never more lenient than the
//! vendor. Where it departs from a description, a comment says so. Modules: `state` (the
//! file), `wire` (requests, replies, error bodies), `paging`, `bbql` (the `q=` filters),
//! `auth` (credentials and scopes), `limiter` (Bitbucket's rate limit), `view` (what
//! Bitbucket sees of the directory), `bitbucket` and `directory` (the handlers).

mod auth;
mod bbql;
pub mod bitbucket;
pub mod directory;
mod launch;
mod limiter;
mod paging;
pub mod state;
mod view;
mod wire;

use std::sync::Mutex;
use std::time::Instant;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::sandbox::host::{self, route_table, Emulator, Incoming, Refusal};

pub use auth::{all_scopes, needed as scopes_needed, SCOPES};
pub use launch::KIND;
pub use state::CloudState;

use bitbucket::{effective, grants, projects, workspace};
use directory::{groups, users};
use wire::{bb_error, gateway, org_error, Call, Outcome, Reply};

/// A handler: reads the request, and reads or changes the state under the lock.
type Op = fn(&Call, &mut CloudState) -> Outcome;

route_table! {
    Op;

    GET    "/2.0/user" => workspace::me;
    GET    "/2.0/user/workspaces" => workspace::my_workspaces;
    GET    "/2.0/workspaces" => workspace::removed;
    GET    "/2.0/user/permissions/workspaces" => workspace::removed;
    GET    "/2.0/user/permissions/repositories" => workspace::removed;
    GET    "/2.0/workspaces/{workspace}/members" => workspace::members;
    GET    "/2.0/workspaces/{workspace}/members/{member}" => workspace::member;
    GET    "/2.0/workspaces/{workspace}/permissions" => workspace::roles;
    GET    "/2.0/workspaces/{workspace}/projects" => projects::list;
    GET    "/2.0/workspaces/{workspace}/projects/{project_key}" => projects::get;
    GET    "/2.0/repositories/{workspace}" => projects::repos;
    GET    "/2.0/workspaces/{workspace}/permissions/repositories" => effective::all;
    GET    "/2.0/workspaces/{workspace}/permissions/repositories/{repo_slug}" => effective::one;

    GET    "/2.0/workspaces/{workspace}/projects/{project_key}/permissions-config/groups" => grants::list_groups;
    GET    "/2.0/workspaces/{workspace}/projects/{project_key}/permissions-config/groups/{group_slug}" => grants::get_group;
    PUT    "/2.0/workspaces/{workspace}/projects/{project_key}/permissions-config/groups/{group_slug}" => grants::put_group;
    DELETE "/2.0/workspaces/{workspace}/projects/{project_key}/permissions-config/groups/{group_slug}" => grants::delete_group;
    GET    "/2.0/workspaces/{workspace}/projects/{project_key}/permissions-config/users" => grants::list_users;
    GET    "/2.0/workspaces/{workspace}/projects/{project_key}/permissions-config/users/{selected_user_id}" => grants::get_user;
    PUT    "/2.0/workspaces/{workspace}/projects/{project_key}/permissions-config/users/{selected_user_id}" => grants::put_user;
    DELETE "/2.0/workspaces/{workspace}/projects/{project_key}/permissions-config/users/{selected_user_id}" => grants::delete_user;

    GET    "/2.0/repositories/{workspace}/{repo_slug}/permissions-config/groups" => grants::list_groups;
    GET    "/2.0/repositories/{workspace}/{repo_slug}/permissions-config/groups/{group_slug}" => grants::get_group;
    PUT    "/2.0/repositories/{workspace}/{repo_slug}/permissions-config/groups/{group_slug}" => grants::put_group;
    DELETE "/2.0/repositories/{workspace}/{repo_slug}/permissions-config/groups/{group_slug}" => grants::delete_group;
    GET    "/2.0/repositories/{workspace}/{repo_slug}/permissions-config/users" => grants::list_users;
    GET    "/2.0/repositories/{workspace}/{repo_slug}/permissions-config/users/{selected_user_id}" => grants::get_user;
    PUT    "/2.0/repositories/{workspace}/{repo_slug}/permissions-config/users/{selected_user_id}" => grants::put_user;
    DELETE "/2.0/repositories/{workspace}/{repo_slug}/permissions-config/users/{selected_user_id}" => grants::delete_user;

    GET    "/admin/v1/orgs" => directory::orgs;
    GET    "/admin/v2/orgs/{orgId}/directories" => directory::directories;
    POST   "/admin/v2/orgs/{orgId}/directories/{directoryId}/users/search" => users::search;
    GET    "/admin/v2/orgs/{orgId}/directories/{directoryId}/users" => users::list;
    POST   "/admin/v2/orgs/{orgId}/directories/{directoryId}/groups/search" => groups::search;
    GET    "/admin/v2/orgs/{orgId}/directories/{directoryId}/groups" => groups::list;
    POST   "/admin/v2/orgs/{orgId}/directories/{directoryId}/groups" => groups::create;
    GET    "/admin/v2/orgs/{orgId}/directories/{directoryId}/groups/{groupId}" => groups::get;
    DELETE "/admin/v2/orgs/{orgId}/directories/{directoryId}/groups/{groupId}" => groups::delete;
    POST   "/admin/v2/orgs/{orgId}/directories/{directoryId}/groups/{groupId}/memberships" => groups::add_member;
    DELETE "/admin/v2/orgs/{orgId}/directories/{directoryId}/groups/{groupId}/memberships/{accountId}" => groups::remove_member;
}

/// Where the Bitbucket routes are, from the server's root.
const BITBUCKET: &str = "/2.0/";
/// Where the Organizations API's routes are.
const ADMIN: &str = "/admin/";

/// Atlassian Cloud as the host runs it. The rate limiter's counts are behaviour of the
/// running service, not state: they are not saved.
#[derive(Debug, Default)]
pub struct CloudEmulator {
    limiter: Mutex<limiter::Limiter>,
}

pub type Shared = host::Shared<CloudEmulator>;
pub type RunningEmulator = host::Running<CloudEmulator>;
pub use crate::sandbox::host::serve;

impl CloudEmulator {
    /// What the credential may do on this route, before the handler runs: the Bitbucket
    /// limiter, scopes and the access token's ban on permissions; the Organizations API's
    /// Bearer-only key.
    fn admit(&self, call: &Call, state: &CloudState) -> Result<(), Reply> {
        let bearer = call
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"));
        if call.route.starts_with(ADMIN) {
            // The org API key is a Bearer token; Basic is not a way in.
            return if bearer {
                Ok(())
            } else {
                Err(gateway(StatusCode::UNAUTHORIZED, "Unauthorized"))
            };
        }
        let user = if bearer {
            "access-token".to_owned()
        } else {
            state.operator_email().unwrap_or_default().to_lowercase()
        };
        let admitted = self
            .limiter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .admit(&user, state.rate_limit(), Instant::now());
        if !admitted {
            return Err(Reply::Text(StatusCode::TOO_MANY_REQUESTS, wire::RATE_LIMITED));
        }
        if bearer {
            if auth::is_permissions(call.route) {
                return Err(auth::access_token_refused());
            }
            return Ok(());
        }
        let needed = auth::needed(&call.method, call.route).unwrap_or_default();
        if auth::has_scopes(state, needed) {
            Ok(())
        } else {
            Err(auth::missing_scope())
        }
    }
}

impl Emulator for CloudEmulator {
    type State = CloudState;
    type Op = Op;
    const ROUTE_TABLE: &'static [host::Route<Op>] = ROUTE_TABLE;

    fn for_state(_: &CloudState) -> Self {
        CloudEmulator::default()
    }

    /// Both APIs at the server's root: clients add `/2.0` or `/admin` themselves.
    fn mount(_: &CloudState) -> String {
        String::new()
    }

    /// Basic with the operator's email and the token (an API token), or Bearer and the
    /// token (an access token, or the org API key); which route takes which is `admit`'s.
    fn authorised(&self, state: &CloudState, token: &str, authorization: &str) -> bool {
        auth::credential(authorization, state, token).is_some()
    }

    fn run(&self, op: Op, incoming: Incoming, state: &mut CloudState) -> Response {
        let call = Call::from(incoming);
        if let Err(refused) = self.admit(&call, state) {
            return refused.into_response();
        }
        match op(&call, state) {
            Ok(reply) | Err(reply) => reply.into_response(),
        }
    }

    fn refuse(refusal: Refusal) -> Response {
        Self::refuse_at(refusal, BITBUCKET)
    }

    fn refuse_at(refusal: Refusal, path: &str) -> Response {
        if path.starts_with(ADMIN) {
            return match refusal {
                Refusal::Unauthenticated => gateway(StatusCode::UNAUTHORIZED, "Unauthorized"),
                Refusal::RateLimited { .. } => gateway(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"),
                Refusal::NotFound { path } => wire::org_not_found(format!("No API is served at {path}.")),
                Refusal::MethodNotAllowed => org_error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "ADMIN-405",
                    "Method Not Allowed",
                    "The method is not allowed on this resource.",
                ),
                Refusal::BadPath { detail } => wire::org_bad(detail),
                Refusal::Unavailable { .. } => org_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ADMIN-503",
                    "Service Unavailable",
                    "The service is temporarily unavailable.",
                ),
            }
            .into_response();
        }
        match refusal {
            Refusal::Unauthenticated => bb_error(StatusCode::UNAUTHORIZED, "Unauthorized", None),
            Refusal::RateLimited { .. } => Reply::Text(StatusCode::TOO_MANY_REQUESTS, wire::RATE_LIMITED),
            Refusal::NotFound { path } => wire::bb_not_found(format!("Resource not found: {path}")),
            Refusal::MethodNotAllowed => bb_error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed", None),
            Refusal::BadPath { detail } => wire::bb_bad(detail),
            Refusal::Unavailable { .. } => bb_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Bitbucket is temporarily unavailable.",
                None,
            ),
        }
        .into_response()
    }

    /// Bitbucket's 429 carries no `Retry-After`; the Organizations API's gateway sends one.
    fn retry_after_at(path: &str) -> bool {
        path.starts_with(ADMIN)
    }

    /// The operator's email: the account its API token signs in as.
    fn account(state: &CloudState) -> Option<String> {
        state.operator_email().map(str::to_owned)
    }
}
