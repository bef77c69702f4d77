//! The Google Workspace emulator: the Admin SDK Directory API's reads of people, groups
//! and members (at the server's root, as at admin.googleapis.com: clients add
//! `/admin/directory/v1`), and Google's OAuth token endpoint for service accounts at
//! `/token`.
//!
//! It follows `specs/google-admin-directory_v1.discovery.json` and is never more lenient
//! than Google: a parameter it does not serve is refused rather than ignored, page sizes
//! past the maxima are refused, every route needs a token whose scopes the description
//! lists for it, held by an admin of the account, and within the per-user quota. Where
//! the description is silent (the token endpoint, error bodies, the quota's 403) it
//! follows Google's documentation, and a comment says so. Modules: `state` (the file),
//! `wire` (requests, replies, error bodies), `token` (the token endpoint), `handlers`.

mod handlers;
mod launch;
pub mod state;
mod token;
mod wire;

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::sandbox::host::{self, route_table, Emulator, Incoming, Refusal};

pub use launch::KIND;
pub use state::GoogleState;

use wire::{Call, Outcome, Reply};

/// A handler: reads the request, and reads the state under the lock.
type Op = fn(&GoogleEmulator, &Call, &mut GoogleState) -> Outcome;

route_table! {
    Op;

    GET  "/admin/directory/v1/users" => api_users;
    GET  "/admin/directory/v1/groups/{groupKey}" => api_group;
    GET  "/admin/directory/v1/groups/{groupKey}/members" => api_members;
    POST "/token" => token_endpoint;
}

/// Where the token endpoint is: not an API route, so not in the description.
pub const TOKEN_PATH: &str = "/token";

/// The scopes that let a token call each route, as the description's `scopes` list them.
pub fn scopes_for(route: &str) -> &'static [&'static str] {
    match route {
        "/admin/directory/v1/users" => &[
            "https://www.googleapis.com/auth/admin.directory.user",
            "https://www.googleapis.com/auth/admin.directory.user.readonly",
            "https://www.googleapis.com/auth/cloud-platform",
        ],
        "/admin/directory/v1/groups/{groupKey}" => &[
            "https://www.googleapis.com/auth/admin.directory.group",
            "https://www.googleapis.com/auth/admin.directory.group.readonly",
        ],
        "/admin/directory/v1/groups/{groupKey}/members" => &[
            "https://www.googleapis.com/auth/admin.directory.group",
            "https://www.googleapis.com/auth/admin.directory.group.member",
            "https://www.googleapis.com/auth/admin.directory.group.member.readonly",
            "https://www.googleapis.com/auth/admin.directory.group.readonly",
        ],
        _ => &[],
    }
}

/// Google Workspace as the host runs it. The tokens handed out and the quota's counts are
/// behaviour of the running service, not state: they are not saved.
#[derive(Debug, Default)]
pub struct GoogleEmulator {
    tokens: Mutex<token::Tokens>,
    /// Each user's queries inside the quota's window, oldest first.
    quota: Mutex<HashMap<String, VecDeque<Instant>>>,
}

pub type Shared = host::Shared<GoogleEmulator>;
pub type RunningEmulator = host::Running<GoogleEmulator>;
pub use crate::sandbox::host::serve;

fn api_users(emulator: &GoogleEmulator, call: &Call, state: &mut GoogleState) -> Outcome {
    emulator.admit(call, state)?;
    handlers::list_users(call, state)
}

fn api_group(emulator: &GoogleEmulator, call: &Call, state: &mut GoogleState) -> Outcome {
    emulator.admit(call, state)?;
    handlers::get_group(call, state)
}

fn api_members(emulator: &GoogleEmulator, call: &Call, state: &mut GoogleState) -> Outcome {
    emulator.admit(call, state)?;
    handlers::list_members(call, state)
}

fn token_endpoint(emulator: &GoogleEmulator, call: &Call, state: &mut GoogleState) -> Outcome {
    let mut tokens = emulator.tokens.lock().unwrap_or_else(PoisonError::into_inner);
    token::exchange(&mut tokens, call, state)
}

impl GoogleEmulator {
    /// What the token may do on this route: the description's scopes, an admin behind it
    /// (anyone else is refused by Google's API, whatever the delegation), and the
    /// per-user quota, which counts only requests that get this far.
    fn admit(&self, call: &Call, state: &GoogleState) -> Result<(), Reply> {
        let grant = {
            let tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
            call.bearer().and_then(|t| tokens.grant(t)).cloned()
        };
        let Some(grant) = grant else {
            return Err(wire::unauthenticated());
        };
        if !scopes_for(call.route).iter().any(|s| grant.scopes.contains(*s)) {
            return Err(wire::insufficient_scopes());
        }
        if !state.user(&grant.subject).is_some_and(|u| u.is_admin) {
            return Err(wire::not_authorized());
        }
        let window = Duration::from_secs(state.quota.per_seconds);
        let now = Instant::now();
        let mut quota = self.quota.lock().unwrap_or_else(PoisonError::into_inner);
        let seen = quota.entry(grant.subject.to_lowercase()).or_default();
        while seen.front().is_some_and(|at| now.duration_since(*at) >= window) {
            seen.pop_front();
        }
        if seen.len() >= state.quota.queries as usize {
            return Err(wire::over_quota());
        }
        seen.push_back(now);
        Ok(())
    }
}

impl Emulator for GoogleEmulator {
    type State = GoogleState;
    type Op = Op;
    const ROUTE_TABLE: &'static [host::Route<Op>] = ROUTE_TABLE;

    fn for_state(_: &GoogleState) -> Self {
        GoogleEmulator::default()
    }

    /// At the server's root, as admin.googleapis.com serves the Directory API.
    fn mount(_: &GoogleState) -> String {
        String::new()
    }

    /// A Bearer token the token endpoint handed out and that has not run out. The host's
    /// own token is not one: Google's clients sign in with their service account's key.
    fn authorised(&self, _: &GoogleState, _token: &str, authorization: &str) -> bool {
        let tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        wire::bearer_token(authorization).is_some_and(|t| tokens.grant(t).is_some())
    }

    /// The token endpoint: a client signs in there with its signed assertion.
    fn open(path: &str) -> bool {
        path == TOKEN_PATH
    }

    fn run(&self, op: Op, incoming: Incoming, state: &mut GoogleState) -> Response {
        let call = Call::from(incoming);
        match op(self, &call, state) {
            Ok(reply) | Err(reply) => reply.into_response(),
        }
    }

    fn refuse(refusal: Refusal) -> Response {
        match refusal {
            Refusal::Unauthenticated => wire::unauthenticated(),
            Refusal::NotFound { .. } | Refusal::MethodNotAllowed => {
                Reply::Html(StatusCode::NOT_FOUND, wire::NOT_FOUND_PAGE)
            }
            Refusal::BadPath { detail } => wire::bad_request(&detail),
            // Google's Directory API says "over quota" with a 403, not a 429 (its
            // documentation's limits page); an injected rate limit is that answer.
            Refusal::RateLimited { .. } => wire::over_quota(),
            Refusal::Unavailable { .. } => wire::unavailable(),
        }
        .into_response()
    }

    /// Google sends no `Retry-After` with its 403 over quota or its 503; clients back
    /// off on their own.
    fn retry_after_at(_path: &str) -> bool {
        false
    }
}
