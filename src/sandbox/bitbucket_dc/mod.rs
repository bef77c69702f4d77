//! The Bitbucket Data Center emulator: the slice of the 9.4 REST API that rollcall uses
//! (users, groups, memberships, global, project and repository permissions, plus read-only
//! projects and repositories), over a `DcState` held in memory.
//!
//! It follows `specs/bitbucket-dc.openapi.json`: same paths under `/rest`, same query
//! parameters, status codes, `{"errors": [...]}` bodies and `start`/`limit` paging, and it
//! is never more lenient than the vendor. Where the emulator departs from the description,
//! the handler says so in a comment.
//!
//! This module is what the host (`sandbox::host`) asks of an emulator: the route table,
//! the Basic or Bearer credentials the vendor accepts, and its refusals in the vendor's
//! words (the rate limiter's 429 with its headers among them). Each API area lives in its
//! own submodule; `state` is the state file.

mod access;
mod change;
mod global;
mod groups;
mod launch;
mod permissions;
mod projects;
pub mod state;
mod users;
mod wire;

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::sandbox::host::{self, route_table, Emulator, Incoming, Refusal};

pub use launch::KIND;
pub use state::DcState;

use wire::{ApiError, Call, Outcome};

/// The largest page the emulator serves: a larger `limit` is capped to this and the
/// response's `limit` says so, like the server's `page.max` setting.
pub const MAX_PAGE_LIMIT: usize = 1000;
/// The page size when `limit` is not given.
pub const DEFAULT_PAGE_LIMIT: usize = 25;

/// A handler: reads the request, and reads or changes the state under the lock.
type Op = fn(&Call, &mut DcState) -> Outcome;

route_table! {
    Op;

    GET    "/api/latest/admin/users" => users::list;
    POST   "/api/latest/admin/users" => users::create;
    PUT    "/api/latest/admin/users" => users::update;
    DELETE "/api/latest/admin/users" => users::delete;

    GET    "/api/latest/admin/groups" => groups::list;
    POST   "/api/latest/admin/groups" => groups::create;
    DELETE "/api/latest/admin/groups" => groups::delete;

    GET    "/api/latest/admin/groups/more-members" => groups::members;
    GET    "/api/latest/admin/users/more-members" => groups::groups_of_user;
    POST   "/api/latest/admin/groups/add-users" => groups::add_users;
    POST   "/api/latest/admin/users/add-groups" => groups::add_groups;
    POST   "/api/latest/admin/groups/remove-user" => groups::remove_user;
    POST   "/api/latest/admin/users/remove-group" => groups::remove_group;

    GET    "/api/latest/admin/permissions/users" => global::list_users;
    PUT    "/api/latest/admin/permissions/users" => global::grant_users;
    DELETE "/api/latest/admin/permissions/users" => global::revoke_users;
    GET    "/api/latest/admin/permissions/groups" => global::list_groups;
    PUT    "/api/latest/admin/permissions/groups" => global::grant_groups;
    DELETE "/api/latest/admin/permissions/groups" => global::revoke_groups;

    GET    "/api/latest/projects" => projects::list;
    GET    "/api/latest/projects/{projectKey}" => projects::get;
    GET    "/api/latest/projects/{projectKey}/repos" => projects::list_repos;
    GET    "/api/latest/projects/{projectKey}/repos/{repositorySlug}" => projects::get_repo;

    DELETE "/api/latest/projects/{projectKey}/permissions" => permissions::revoke_all;
    GET    "/api/latest/projects/{projectKey}/permissions/users" => permissions::list_users;
    PUT    "/api/latest/projects/{projectKey}/permissions/users" => permissions::grant_users;
    DELETE "/api/latest/projects/{projectKey}/permissions/users" => permissions::revoke_users;
    GET    "/api/latest/projects/{projectKey}/permissions/groups" => permissions::list_groups;
    PUT    "/api/latest/projects/{projectKey}/permissions/groups" => permissions::grant_groups;
    DELETE "/api/latest/projects/{projectKey}/permissions/groups" => permissions::revoke_groups;
    GET    "/api/latest/projects/{projectKey}/permissions/{permission}/all" => permissions::all_users_get;
    POST   "/api/latest/projects/{projectKey}/permissions/{permission}/all" => permissions::all_users_set;

    DELETE "/api/latest/projects/{projectKey}/repos/{repositorySlug}/permissions" => permissions::revoke_all;
    GET    "/api/latest/projects/{projectKey}/repos/{repositorySlug}/permissions/users" => permissions::list_users;
    PUT    "/api/latest/projects/{projectKey}/repos/{repositorySlug}/permissions/users" => permissions::grant_users;
    DELETE "/api/latest/projects/{projectKey}/repos/{repositorySlug}/permissions/users" => permissions::revoke_users;
    GET    "/api/latest/projects/{projectKey}/repos/{repositorySlug}/permissions/groups" => permissions::list_groups;
    PUT    "/api/latest/projects/{projectKey}/repos/{repositorySlug}/permissions/groups" => permissions::grant_groups;
    DELETE "/api/latest/projects/{projectKey}/repos/{repositorySlug}/permissions/groups" => permissions::revoke_groups;
}

/// Bitbucket Data Center as the host runs it: paths under `/rest`, Basic or Bearer
/// credentials, the vendor's error bodies.
#[derive(Debug, Clone, Copy, Default)]
pub struct DcEmulator;

/// The emulator's shared state and instruments.
pub type Shared = host::Shared<DcEmulator>;
/// The emulator serving on a port.
pub type RunningEmulator = host::Running<DcEmulator>;
pub use crate::sandbox::host::serve;

impl Emulator for DcEmulator {
    type State = DcState;
    type Op = Op;
    const ROUTE_TABLE: &'static [host::Route<Op>] = ROUTE_TABLE;

    fn for_state(_: &DcState) -> Self {
        DcEmulator
    }

    fn mount(_: &DcState) -> String {
        "/rest".to_owned()
    }

    /// `Bearer <token>` (an HTTP access token) or `Basic base64(<operator>:<token>)`.
    fn authorised(&self, state: &DcState, token: &str, authorization: &str) -> bool {
        credentials_match(authorization, &state.operator, token)
    }

    fn run(&self, op: Op, call: Incoming, state: &mut DcState) -> Response {
        op(&Call::from(call), state).into_response()
    }

    fn refuse(refusal: Refusal) -> Response {
        match refusal {
            Refusal::Unauthenticated => ApiError::unauthenticated().into_response(),
            Refusal::NotFound { path } => ApiError::not_found(&path).into_response(),
            Refusal::MethodNotAllowed => ApiError::method_not_allowed().into_response(),
            Refusal::BadPath { detail } => ApiError::invalid("path", detail).into_response(),
            Refusal::RateLimited { retry_after_secs } => rate_limited(retry_after_secs),
            Refusal::Unavailable { .. } => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                context: None,
                message: "Bitbucket is temporarily unavailable. Try again later.".to_owned(),
                exception: None,
            }
            .into_response(),
        }
    }

    fn account(state: &DcState) -> Option<String> {
        Some(state.operator.clone())
    }
}

/// The token bucket the 429s describe in their headers. The emulator does not keep a
/// bucket (faults come from the configured rates); these are the vendor's documented
/// example settings (60 tokens, 5 a second), so clients that read the headers see
/// plausible values.
const BUCKET_SIZE: u32 = 60;
const FILL_RATE: u32 = 5;
const FILL_INTERVAL_SECS: u32 = 1;

/// 429 with the vendor's error body and the `X-RateLimit-*` headers the Data Center rate
/// limiter documents (the host adds `Retry-After`). The vendor's description declares no
/// 429 body, so the message is the emulator's and `exceptionName` is null.
fn rate_limited(retry_after: u64) -> Response {
    let mut response = ApiError {
        status: StatusCode::TOO_MANY_REQUESTS,
        context: None,
        message: format!("You have been rate limited. Wait {retry_after} seconds before trying again."),
        exception: None,
    }
    .into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", BUCKET_SIZE),
        ("x-ratelimit-remaining", 0),
        ("x-ratelimit-interval-seconds", FILL_INTERVAL_SECS),
        ("x-ratelimit-fillrate", FILL_RATE),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
    response
}

fn credentials_match(header_value: &str, operator: &str, token: &str) -> bool {
    if host::bearer_matches(header_value, token) {
        return true;
    }
    let Some((scheme, credentials)) = header_value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Some(decoded) = decode_base64(credentials.trim()) else {
        return false;
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return false;
    };
    // Usernames log in case-insensitively, the password (the token) must match exactly.
    decoded
        .split_once(':')
        .is_some_and(|(user, password)| user.to_lowercase() == operator.to_lowercase() && password == token)
}

/// Standard base64 with canonical padding, as HTTP Basic uses; `None` for anything
/// malformed, as a strict server refuses it.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::decode_base64;

    #[test]
    fn decodes_basic_credentials() {
        assert_eq!(decode_base64("YWRtaW46czNjcmV0").as_deref(), Some(&b"admin:s3cret"[..]));
        assert_eq!(decode_base64("YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(decode_base64("YWI=").as_deref(), Some(&b"ab"[..]));
        assert_eq!(decode_base64("").as_deref(), Some(&b""[..]));
        assert_eq!(decode_base64("YQ="), None);
        assert_eq!(decode_base64("Y===").as_deref(), None);
        assert_eq!(decode_base64("YQ==YWI="), None);
        assert_eq!(decode_base64("!!!!"), None);
    }
}
