//! The host with the smallest emulator there can be, written as a new emulator is: a state
//! type, a route table and `impl Emulator`. Everything else (routing, the vendor's 401, 404
//! and 405, the request log, faults, the state file) comes from the host.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{bearer_matches, serve, Emulator, Incoming, Refusal, Running, Shared};
use crate::sandbox::faults::FaultConfig;
use crate::sandbox::state::StateFile;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CounterState {
    kind: String,
    count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    faults: Option<FaultConfig>,
}

impl StateFile for CounterState {
    fn faults(&self) -> Option<&FaultConfig> {
        self.faults.as_ref()
    }

    fn check(&mut self) -> Result<(), String> {
        if self.kind == "counter" {
            Ok(())
        } else {
            Err(format!("kind must be `counter`, not `{}`", self.kind))
        }
    }
}

type Op = fn(&Incoming, &mut CounterState) -> Response;

fn read(_: &Incoming, state: &mut CounterState) -> Response {
    state.count.to_string().into_response()
}

fn add(call: &Incoming, state: &mut CounterState) -> Response {
    let by = call.params.get("n").and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
    state.count += by;
    (StatusCode::CREATED, state.count.to_string()).into_response()
}

route_table! {
    Op;

    GET  "/count" => read;
    POST "/count/{n}" => add;
}

struct Counter;

impl Emulator for Counter {
    type State = CounterState;
    type Op = Op;
    const ROUTE_TABLE: &'static [super::Route<Op>] = ROUTE_TABLE;

    fn for_state(_: &CounterState) -> Self {
        Counter
    }

    fn mount(_: &CounterState) -> String {
        "/api".to_owned()
    }

    fn authorised(&self, _: &CounterState, token: &str, authorization: &str) -> bool {
        bearer_matches(authorization, token)
    }

    fn run(&self, op: Op, call: Incoming, state: &mut CounterState) -> Response {
        op(&call, state)
    }

    fn refuse(refusal: Refusal) -> Response {
        let status = match refusal {
            Refusal::Unauthenticated => StatusCode::UNAUTHORIZED,
            Refusal::NotFound { .. } => StatusCode::NOT_FOUND,
            Refusal::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::BadPath { .. } => StatusCode::BAD_REQUEST,
            Refusal::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Refusal::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        };
        (status, format!("counter says {}", status.as_u16())).into_response()
    }
}

async fn start(state: CounterState) -> Running<Counter> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(Shared::new(state, "t0k".to_owned()), listener).await.unwrap()
}

async fn send(running: &Running<Counter>, method: reqwest::Method, path: &str, token: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .request(method, format!("{}{path}", running.api_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").cloned();
    let body = response.text().await.unwrap();
    match retry_after {
        Some(v) => (status, format!("{body} (Retry-After {})", v.to_str().unwrap())),
        None => (status, body),
    }
}

#[tokio::test]
async fn an_emulator_is_its_routes_and_its_state() {
    let state = CounterState::parse("kind: counter\ncount: 1\n").unwrap();
    assert_eq!(ROUTES, [("GET", "/count"), ("POST", "/count/{n}")]);
    let running = start(state).await;
    assert!(running.api_url.ends_with("/api"), "{}", running.api_url);
    use reqwest::Method;
    assert_eq!(
        send(&running, Method::POST, "/count/4", "t0k").await,
        (201, "5".to_owned())
    );
    assert_eq!(
        send(&running, Method::GET, "/count", "t0k").await,
        (200, "5".to_owned())
    );
    assert_eq!(
        send(&running, Method::GET, "/count", "wrong").await,
        (401, "counter says 401".to_owned())
    );
    assert_eq!(
        send(&running, Method::DELETE, "/count", "t0k").await,
        (405, "counter says 405".to_owned())
    );
    assert_eq!(
        send(&running, Method::GET, "/elsewhere", "t0k").await,
        (404, "counter says 404".to_owned())
    );
    let log = running.shared.instruments().requests();
    assert_eq!(log.first().map(String::as_str), Some("POST /api/count/4"));
    assert_eq!(log.len(), 5, "refused requests are logged too: {log:?}");

    // Faults come from the host, in the emulator's words, with `Retry-After`.
    let faults = FaultConfig::parse_compact("rate_limited=1,retry_after_secs=3").unwrap();
    running.shared.instruments().set_faults(faults).unwrap();
    assert_eq!(
        send(&running, Method::GET, "/count", "t0k").await,
        (429, "counter says 429 (Retry-After 3)".to_owned())
    );

    // The state goes back to its file and reads again.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("counter.yaml");
    std::fs::write(&path, "# my counter\nkind: counter\ncount: 0\n").unwrap();
    running.save(&path).unwrap();
    running.shutdown().await;
    let saved = std::fs::read_to_string(&path).unwrap();
    assert!(saved.starts_with("# my counter\n"), "{saved}");
    assert_eq!(CounterState::load(&path).unwrap().count, 5);
    assert!(CounterState::parse("kind: other\ncount: 0\n")
        .unwrap_err()
        .contains("kind must be"));
}

#[test]
fn a_bearer_token_matches_in_any_scheme_case_and_nothing_else_does() {
    assert!(bearer_matches("Bearer t0k", "t0k"));
    assert!(bearer_matches("  bearer   t0k ", "t0k"));
    assert!(!bearer_matches("Bearer t0k2", "t0k"));
    assert!(!bearer_matches("Basic t0k", "t0k"));
    assert!(!bearer_matches("t0k", "t0k"));
}
