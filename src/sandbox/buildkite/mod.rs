//! The Buildkite emulator: the GraphQL API (`POST /v1`, as at graphql.buildkite.com) and
//! the one REST call the provider needs, `POST /v2/organizations/{org}/teams/enable` (as
//! at api.buildkite.com), served together at the server's root over one `BkState`.
//!
//! It follows `specs/buildkite.schema.graphql` (every document is validated against it
//! by apollo-compiler) and the vendor's docs in `specs/buildkite-docs-*.md`, and is never
//! more lenient than the vendor: anything of the schema it does not model is a field
//! error saying so, not made-up data. Both APIs take the token as Bearer only ("API access
//! using basic HTTP authentication is not supported"). Modules: `state` (the file), `ids`
//! (node ids, uuids, cursors, slugs), `graphql` (one request: validation, variables,
//! complexity, execution), `resolve` (the objects reads see), `mutations` (the changes
//! and the vendor's rules), `cost` (the complexity model), `limiter` (the time-based
//! limits), `rest` (teams/enable).

mod cost;
mod graphql;
mod ids;
mod launch;
mod limiter;
mod mutations;
mod paging;
mod resolve;
mod rest;
pub mod state;

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::sandbox::host::{self, route_table, Emulator, Incoming, Refusal};

pub use ids::{node_id, parse_node_id};
pub use launch::KIND;
pub use state::BkState;

use limiter::{Exceeded, Windows};

/// A handler: reads the request, and reads or changes the state under the lock.
type Op = fn(&BkEmulator, &Incoming, &mut BkState) -> Response;

route_table! {
    Op;

    POST "/v1" => BkEmulator::graphql;
    POST "/v2/organizations/{org}/teams/enable" => rest::enable_teams;
}

/// Where the GraphQL API is served.
const GRAPHQL: &str = "/v1";

/// Buildkite as the host runs it. The limiters' counts are behaviour of the running
/// service, not state: they are not saved.
#[derive(Debug, Default)]
pub struct BkEmulator {
    graphql: Mutex<Windows>,
    rest: Mutex<Windows>,
}

pub type Shared = host::Shared<BkEmulator>;
pub type RunningEmulator = host::Running<BkEmulator>;
pub use crate::sandbox::host::serve;

/// A JSON answer.
fn json_response(status: StatusCode, body: &Value, headers: Vec<(&'static str, String)>) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response();
    add_headers(response.headers_mut(), headers);
    response
}

fn add_headers(map: &mut HeaderMap, headers: Vec<(&'static str, String)>) {
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            map.insert(HeaderName::from_static(name), value);
        }
    }
}

/// The GraphQL API's refusal body.
fn graphql_error(message: impl Into<String>) -> Value {
    json!({ "errors": [{ "message": message.into() }] })
}

impl BkEmulator {
    /// `POST /v1`: the time-based limits, then the request itself, then its charge; the
    /// `RateLimit-*` headers on every answer.
    fn graphql(&self, call: &Incoming, state: &mut BkState) -> Response {
        let limits = state.limits;
        let length = Duration::from_secs(limits.window_seconds);
        let now = Instant::now();
        let mut windows = self.graphql.lock().unwrap_or_else(PoisonError::into_inner);
        let exceeded = windows.check(now, length, limits.user_points, limits.org_points);
        let headers = |windows: &Windows, answer: Option<&graphql::Answer>| {
            let mut headers = vec![
                (
                    "ratelimit-remaining",
                    (limits.org_points - windows.org.used).to_string(),
                ),
                ("ratelimit-limit", limits.org_points.to_string()),
                ("ratelimit-reset", windows.org.reset_secs(now, length).to_string()),
                ("ratelimit-user-scope", "graphql_user".to_owned()),
                (
                    "ratelimit-user-remaining",
                    (limits.user_points - windows.user.used).to_string(),
                ),
                ("ratelimit-user-limit", limits.user_points.to_string()),
                ("ratelimit-user-reset", windows.user.reset_secs(now, length).to_string()),
            ];
            if let Some(requested) = answer.and_then(|a| a.requested) {
                headers.push(("ratelimit-complexity-requested", requested.to_string()));
            }
            if let Some(actual) = answer.and_then(|a| a.actual) {
                headers.push(("ratelimit-complexity-actual", actual.to_string()));
            }
            headers
        };
        if let Some(which) = exceeded {
            let message = match which {
                Exceeded::User => format!(
                    "You have exceeded your per-user limit of {} complexity points. Please try again in {} seconds.",
                    limits.user_points,
                    windows.user.reset_secs(now, length)
                ),
                Exceeded::Org => format!(
                    "Your organization has exceeded the limit of {} complexity points. Please try again in {} seconds.",
                    limits.org_points,
                    windows.org.reset_secs(now, length)
                ),
            };
            return json_response(
                StatusCode::TOO_MANY_REQUESTS,
                &graphql_error(message),
                headers(&windows, None),
            );
        }
        let mut answer = graphql::answer(&call.body, state, limits);
        windows.charge(answer.actual.map_or(0, |a| i64::try_from(a).unwrap_or(i64::MAX)));
        let stats = call
            .headers
            .get("buildkite-include-query-stats")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        if stats {
            if let Some(body) = answer.body.as_object_mut() {
                body.insert(
                    "stats".to_owned(),
                    json!({
                        "requestedComplexity": answer.requested.unwrap_or(0),
                        "actualComplexity": answer.actual.unwrap_or(0),
                    }),
                );
            }
        }
        json_response(StatusCode::OK, &answer.body, headers(&windows, Some(&answer)))
    }

    /// Charges `points` to both GraphQL windows, as another client of the token's user
    /// spending them would: how a test uses a window up behind a client's back.
    pub fn spend(&self, state: &BkState, points: i64) {
        let limits = state.limits;
        let length = Duration::from_secs(limits.window_seconds);
        let mut windows = self.graphql.lock().unwrap_or_else(PoisonError::into_inner);
        windows.check(Instant::now(), length, limits.user_points, limits.org_points);
        windows.charge(points);
    }

    /// Counts a REST request; the vendor's 429 if a limit is exceeded, and the headers
    /// every REST answer carries.
    fn admit_rest(&self, state: &BkState) -> (Option<Response>, Vec<(&'static str, String)>) {
        let limits = state.limits;
        let length = Duration::from_secs(limits.rest_window_seconds);
        let now = Instant::now();
        let mut windows = self.rest.lock().unwrap_or_else(PoisonError::into_inner);
        windows.check(now, length, i64::MAX, i64::MAX);
        windows.charge(1);
        let user_over = windows.user.used > limits.rest_user_requests;
        let org_over = windows.org.used > limits.rest_org_requests;
        let user_reset = windows.user.reset_secs(now, length);
        let org_reset = windows.org.reset_secs(now, length);
        let mut headers = vec![
            ("ratelimit-scope", "rest".to_owned()),
            (
                "ratelimit-remaining",
                (limits.rest_org_requests - windows.org.used).max(0).to_string(),
            ),
            ("ratelimit-limit", limits.rest_org_requests.to_string()),
            ("ratelimit-reset", org_reset.to_string()),
            ("ratelimit-user-scope", "rest_user".to_owned()),
            (
                "ratelimit-user-remaining",
                (limits.rest_user_requests - windows.user.used).max(0).to_string(),
            ),
            ("ratelimit-user-limit", limits.rest_user_requests.to_string()),
            ("ratelimit-user-reset", user_reset.to_string()),
        ];
        let warning = "You have exceeded your API rate limit.".to_owned();
        if org_over {
            headers.push(("ratelimit-warning", warning.clone()));
        }
        if user_over {
            headers.push(("ratelimit-user-warning", warning));
        }
        let refusal = if user_over {
            Some(rest::rate_limited(
                "rest_user",
                limits.rest_user_requests,
                windows.user.used,
                user_reset,
            ))
        } else if org_over {
            Some(rest::rate_limited(
                "rest",
                limits.rest_org_requests,
                windows.org.used,
                org_reset,
            ))
        } else {
            None
        };
        (
            refusal.map(|body| json_response(StatusCode::TOO_MANY_REQUESTS, &body, headers.clone())),
            headers,
        )
    }
}

impl Emulator for BkEmulator {
    type State = BkState;
    type Op = Op;
    const ROUTE_TABLE: &'static [host::Route<Op>] = ROUTE_TABLE;

    fn for_state(_: &BkState) -> Self {
        BkEmulator::default()
    }

    /// Both APIs at the server's root: clients add `/v1` or `/v2` themselves.
    fn mount(_: &BkState) -> String {
        String::new()
    }

    /// Bearer and the token only.
    fn authorised(&self, _: &BkState, token: &str, authorization: &str) -> bool {
        host::bearer_matches(authorization, token)
    }

    fn run(&self, op: Op, call: Incoming, state: &mut BkState) -> Response {
        if call.route == GRAPHQL {
            return op(self, &call, state);
        }
        let (refused, headers) = self.admit_rest(state);
        if let Some(refused) = refused {
            return refused;
        }
        let mut response = op(self, &call, state);
        add_headers(response.headers_mut(), headers);
        response
    }

    fn refuse(refusal: Refusal) -> Response {
        Self::refuse_at(refusal, "/v2/")
    }

    fn refuse_at(refusal: Refusal, path: &str) -> Response {
        let graphql = path == GRAPHQL;
        let (status, message) = match refusal {
            Refusal::Unauthenticated if graphql => (
                StatusCode::UNAUTHORIZED,
                "Authentication required. Please supply a valid API Access Token: https://buildkite.com/docs/apis/graphql-api#authentication".to_owned(),
            ),
            Refusal::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "Authentication required. Please supply a valid API Access Token: https://buildkite.com/docs/apis/rest-api#authentication".to_owned(),
            ),
            // An injected 429 words the default limits; the emulator's own limiter says
            // the configured ones.
            Refusal::RateLimited { retry_after_secs } if graphql => (
                StatusCode::TOO_MANY_REQUESTS,
                format!("You have exceeded your per-user limit of 5000 complexity points. Please try again in {retry_after_secs} seconds."),
            ),
            Refusal::RateLimited { retry_after_secs } => {
                let body = rest::rate_limited("rest_user", 50, 51, retry_after_secs);
                return json_response(StatusCode::TOO_MANY_REQUESTS, &body, Vec::new());
            }
            // Routing answers an unknown path or method alike.
            Refusal::NotFound { .. } | Refusal::MethodNotAllowed => (StatusCode::NOT_FOUND, "Not Found".to_owned()),
            Refusal::BadPath { detail } => (StatusCode::BAD_REQUEST, detail),
            Refusal::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable".to_owned()),
        };
        let body = if graphql {
            graphql_error(message)
        } else {
            json!({ "message": message })
        };
        json_response(status, &body, Vec::new())
    }

    /// The operator: the user the token belongs to.
    fn account(state: &BkState) -> Option<String> {
        Some(state.operator_email().to_owned())
    }
}
