//! The Microsoft Entra ID emulator: the Microsoft identity platform's token endpoint
//! (`POST /{tenant}/oauth2/v2.0/token`, client credentials) and Microsoft Graph v1.0's
//! reads of users, groups and their members (under `/v1.0`), both at the server's root,
//! over one `EntraState`.
//!
//! It follows `specs/msgraph-users-groups.openapi.yaml` (every Graph route here is a path
//! and method of it) and ENDPOINTS §8.2 for what the description leaves to Microsoft's
//! documentation: `$top` from 1 to 999, `@odata.nextLink` with an opaque `$skiptoken`,
//! Graph's error body, and throttling by resource units per 10 seconds (429 with
//! `Retry-After`). It is never more lenient than the vendor: query options it does not
//! serve are refused, not ignored.
//!
//! Credentials: the token endpoint is open to the host (`Emulator::open`: still logged
//! and faulted) and authenticates the client itself, as the identity platform documents
//! the client-credentials request: `client_id` and `client_secret` in the form
//! (`client_secret_post`), or as HTTP Basic credentials (`client_secret_basic`, which
//! RFC 6749 §2.3.1 says a server MUST support and Microsoft's discovery document lists),
//! never both at once (RFC 6749 §2.3). The secret is the run's token
//! (`EntraState::client_secret`). Graph takes only a Bearer token the emulator issued and
//! that has not expired (`token_lifetime_secs`); anything else is Graph's 401
//! `InvalidAuthenticationToken`.
//!
//! Modules: `state` (the file), `wire` (requests, replies, error bodies, paging),
//! `handlers` (the operations), `limiter` (the resource-unit budget), `launch`.

pub mod handlers;
mod launch;
mod limiter;
pub mod state;
mod wire;

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use secrecy::SecretString;

use crate::sandbox::host::{self, route_table, Emulator, Incoming, Refusal};

pub use launch::KIND;
pub use state::EntraState;

use wire::{graph_error, identity_error, Call, Outcome, Reply};

/// A handler: reads the request, and reads or changes the state under the lock.
type Op = fn(&Call, &mut EntraState) -> Outcome;

route_table! {
    Op;

    POST "/{tenant}/oauth2/v2.0/token" => handlers::token;
    GET  "/v1.0/users" => handlers::list_users;
    GET  "/v1.0/groups" => handlers::list_groups;
    GET  "/v1.0/groups/{group-id}" => handlers::get_group;
    GET  "/v1.0/groups/{group-id}/members" => handlers::members;
    GET  "/v1.0/groups/{group-id}/transitiveMembers" => handlers::transitive_members;
}

/// The identity platform's route; every other is Graph's.
pub const TOKEN_ROUTE: &str = "/{tenant}/oauth2/v2.0/token";

/// Entra ID as the host runs it. The throttling budget is behaviour of the running
/// service, not state: it is not saved.
#[derive(Debug, Default)]
pub struct EntraEmulator {
    limiter: Mutex<limiter::Limiter>,
}

pub type Shared = host::Shared<EntraEmulator>;
pub type RunningEmulator = host::Running<EntraEmulator>;

/// An emulator over `state` whose app registration's client secret is `secret`, the
/// run's token: what a test or a launch starts. (`Shared::new` alone leaves the state's
/// secret as it is, and a state with none refuses every secret.)
pub fn shared(mut state: EntraState, secret: String) -> Shared {
    state.client_secret = Some(SecretString::from(secret.clone()));
    Shared::new(state, secret)
}

/// Whether `path` (from the server's root) is the token endpoint, `/{tenant}/oauth2/v2.0/token`.
fn is_token_path(path: &str) -> bool {
    path.strip_suffix("/oauth2/v2.0/token")
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|tenant| !tenant.is_empty() && !tenant.contains('/'))
}

/// The client id and secret of `Basic base64(id:secret)`, each form-decoded (RFC 6749
/// §2.3.1).
pub fn basic_credentials(authorization: &str) -> Option<(String, String)> {
    let (scheme, encoded) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((decode(id), decode(secret)))
}

fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl EntraEmulator {
    /// A Graph request's token and budget, before the handler runs.
    fn admit(&self, call: &Call, state: &EntraState) -> Result<u32, Reply> {
        let authorization = call
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let Some(expires) = bearer(authorization).and_then(|t| state.issued.get(t)) else {
            return Err(unauthenticated());
        };
        if *expires <= Instant::now() {
            return Err(graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            ));
        }
        let cost = handlers::cost(call);
        let spent = self.limiter.lock().unwrap_or_else(PoisonError::into_inner).spend(
            cost,
            state.resource_units(),
            Instant::now(),
        );
        match spent {
            Ok(_) => Ok(cost),
            Err(wait) => {
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Err(throttled()
                    .with_header("retry-after", seconds.max(1).to_string())
                    .with_header("x-ms-throttle-scope", "Tenant_Application/ReadWrite")
                    .with_header("x-ms-throttle-information", "ResourceUnitLimitExceeded"))
            }
        }
    }
}

fn unauthenticated() -> Reply {
    graph_error(
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
        "Access token validation failure. Invalid audience.",
    )
}

fn throttled() -> Reply {
    graph_error(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        "Too many requests, please retry after the time the Retry-After header says.",
    )
}

/// The identity platform's answer to a client it cannot authenticate.
fn invalid_client() -> Reply {
    identity_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
    )
}

impl Emulator for EntraEmulator {
    type State = EntraState;
    type Op = Op;
    const ROUTE_TABLE: &'static [host::Route<Op>] = ROUTE_TABLE;

    fn for_state(_: &EntraState) -> Self {
        EntraEmulator::default()
    }

    /// Graph (`/v1.0/…`) and the token endpoint (`/{tenant}/…`) at the server's root.
    fn mount(_: &EntraState) -> String {
        String::new()
    }

    /// A Bearer token the emulator issued (its expiry is `run`'s to check). Only Graph's
    /// routes come here: the token endpoint is `open`.
    fn authorised(&self, state: &EntraState, _token: &str, authorization: &str) -> bool {
        bearer(authorization).is_some_and(|t| state.issued.contains_key(t))
    }

    /// The token endpoint: a client authenticates there with what its request carries,
    /// which the handler checks as the identity platform does.
    fn open(path: &str) -> bool {
        is_token_path(path)
    }

    fn run(&self, op: Op, incoming: Incoming, state: &mut EntraState) -> Response {
        let call = Call::from(incoming);
        if call.route == TOKEN_ROUTE {
            // No Graph budget and no Bearer token: the handler authenticates the client.
            return match op(&call, state) {
                Ok(reply) | Err(reply) => reply.into_response(),
            };
        }
        let cost = match self.admit(&call, state) {
            Ok(cost) => cost,
            Err(refused) => return refused.into_response(),
        };
        match op(&call, state) {
            Ok(reply) | Err(reply) => reply
                .with_header("x-ms-resource-unit", cost.to_string())
                .into_response(),
        }
    }

    fn refuse(refusal: Refusal) -> Response {
        Self::refuse_at(refusal, "/v1.0/")
    }

    fn refuse_at(refusal: Refusal, path: &str) -> Response {
        if is_token_path(path) {
            return match refusal {
                Refusal::Unauthenticated => invalid_client(),
                Refusal::RateLimited { .. } => identity_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "temporarily_unavailable",
                    "AADSTS50196: The server terminated an operation because it encountered a client request loop.",
                ),
                Refusal::Unavailable { .. } => identity_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "AADSTS90033: A transient error has occurred. Please try again.",
                ),
                Refusal::MethodNotAllowed => identity_error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "invalid_request",
                    "AADSTS900561: The endpoint only accepts POST requests.",
                ),
                Refusal::NotFound { .. } | Refusal::BadPath { .. } => identity_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "AADSTS900023: Specified tenant identifier is neither a valid DNS name, nor a valid external domain.",
                ),
            }
            .into_response();
        }
        match refusal {
            Refusal::Unauthenticated => unauthenticated(),
            Refusal::RateLimited { .. } => throttled(),
            Refusal::Unavailable { .. } => graph_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "serviceNotAvailable",
                "The service is temporarily unavailable. Please retry after the time the Retry-After header says.",
            ),
            Refusal::MethodNotAllowed => graph_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "Request_BadRequest",
                "Specified HTTP method is not allowed for the request target.",
            ),
            // Graph answers an unknown segment with a 400, not a 404.
            Refusal::NotFound { path } => graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!(
                    "Resource not found for the segment '{}'.",
                    path.rsplit('/').find(|s| !s.is_empty()).unwrap_or_default()
                ),
            ),
            Refusal::BadPath { detail } => graph_error(StatusCode::BAD_REQUEST, "BadRequest", detail),
        }
        .into_response()
    }
}
