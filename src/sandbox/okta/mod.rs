//! The Okta emulator: the Management API's user and group reads
//! (`specs/okta-management.openapi.yaml`), at `/api/v1` of the server's root as on an
//! org's URL, over an `OktaState` of users and groups.
//!
//! It follows the description and is never more lenient than the vendor: only
//! `Authorization: SSWS <token>` gets in (a Bearer token is refused as an SSWS-only org
//! refuses it, 401 `E0000011`); `search` and `filter` take only the attributes and
//! operators the description allows each; lists page by an opaque `after` cursor with
//! `Link` headers (`rel="self"`, and `rel="next"` while more follow), at most 200 users
//! and 1,000 members a page; every answer an operation gives carries
//! `X-Rate-Limit-Limit`, `-Remaining` and `-Reset`, and a bucket's quota used up is
//! Okta's 429 `E0000047` without `Retry-After`, as Okta sends it. Okta has no nested
//! groups, so neither does the state. Modules: `state` (the file), `wire` (requests,
//! answers, error bodies, the shapes of users and groups), `expr` (`search` and
//! `filter`), `handlers`, `limiter` (the rate limits), `launch`.

mod expr;
pub mod handlers;
mod launch;
mod limiter;
pub mod state;
mod wire;

use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::sandbox::host::{self, route_table, Emulator, Incoming, Refusal};

pub use launch::KIND;
pub use state::OktaState;

use wire::{Call, Outcome};

/// A handler: reads the request, and reads the state under the lock.
type Op = fn(&Call, &mut OktaState) -> Outcome;

route_table! {
    Op;

    GET "/users" => handlers::list_users;
    GET "/users/{id}" => handlers::get_user;
    GET "/users/{id}/groups" => handlers::user_groups;
    GET "/groups" => handlers::list_groups;
    GET "/groups/{groupId}" => handlers::get_group;
    GET "/groups/{groupId}/users" => handlers::group_users;
}

/// Where the API is served, from the server's root.
pub const MOUNT: &str = "/api/v1";

/// Okta as the host runs it. The rate limiter's counts are behaviour of the running
/// service, not state: they are not saved.
#[derive(Debug, Default)]
pub struct OktaEmulator {
    limiter: Mutex<limiter::Limiter>,
}

pub type Shared = host::Shared<OktaEmulator>;
pub type RunningEmulator = host::Running<OktaEmulator>;

fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn set_quota(headers: &mut HeaderMap, limit: u32, remaining: u32, reset: u64) {
    headers.insert("x-rate-limit-limit", HeaderValue::from(limit));
    headers.insert("x-rate-limit-remaining", HeaderValue::from(remaining));
    headers.insert("x-rate-limit-reset", HeaderValue::from(reset));
}

impl Emulator for OktaEmulator {
    type State = OktaState;
    type Op = Op;
    const ROUTE_TABLE: &'static [host::Route<Op>] = ROUTE_TABLE;

    fn for_state(_: &OktaState) -> Self {
        OktaEmulator::default()
    }

    fn mount(_: &OktaState) -> String {
        MOUNT.to_owned()
    }

    /// `SSWS <token>` only: the API token scheme. Okta also takes OAuth 2.0 Bearer
    /// access tokens, but from an OAuth service app, which the emulator does not model;
    /// a Bearer carrying an API token is refused, as Okta refuses it.
    fn authorised(&self, _: &OktaState, token: &str, authorization: &str) -> bool {
        authorization
            .trim()
            .split_once(' ')
            .is_some_and(|(scheme, credentials)| scheme == "SSWS" && credentials.trim() == token)
    }

    fn run(&self, op: Op, incoming: Incoming, state: &mut OktaState) -> Response {
        let quota = self.limiter.lock().unwrap_or_else(PoisonError::into_inner).admit(
            incoming.route,
            state.rate_limit(),
            epoch_now(),
        );
        let reply = if quota.admitted {
            match op(&Call::from(incoming), state) {
                Ok(reply) | Err(reply) => reply,
            }
        } else {
            wire::rate_limited()
        };
        let mut response = reply.into_response();
        set_quota(response.headers_mut(), quota.limit, quota.remaining, quota.reset);
        response
    }

    fn refuse(refusal: Refusal) -> Response {
        match refusal {
            Refusal::Unauthenticated => wire::invalid_token().into_response(),
            Refusal::NotFound { path } => wire::not_found(&path).into_response(),
            Refusal::MethodNotAllowed => wire::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "E0000022",
                "The endpoint does not support the provided HTTP method",
                &[],
            )
            .into_response(),
            Refusal::BadPath { detail } => wire::invalid(detail).into_response(),
            Refusal::RateLimited { retry_after_secs } => {
                // An injected 429 stands for a bucket used up: Okta says when it resets
                // in its own headers, and sends no `Retry-After`.
                let mut response = wire::rate_limited().into_response();
                let limit = state::DEFAULT_RATE_LIMIT.requests;
                set_quota(response.headers_mut(), limit, 0, epoch_now() + retry_after_secs);
                response
            }
            // The description documents no 503; Okta's error shape with a plain summary
            // (the code is the emulator's choice).
            Refusal::Unavailable { .. } => {
                wire::error(StatusCode::SERVICE_UNAVAILABLE, "E0000009", "Service Unavailable", &[]).into_response()
            }
        }
    }

    /// Okta's 429 names its reset in `X-Rate-Limit-Reset` and sends no `Retry-After`.
    fn retry_after_at(_path: &str) -> bool {
        false
    }
}
