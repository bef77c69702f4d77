//! The Bitbucket Data Center emulator: an axum server speaking the slice of the 9.4 REST
//! API that rollcall uses (users, groups, memberships, global, project and repository
//! permissions, plus read-only projects and repositories), over a `DcState` held in memory.
//!
//! It follows `specs/bitbucket-dc.openapi.json`: same paths under `/rest`, same query
//! parameters, status codes, `{"errors": [...]}` bodies and `start`/`limit` paging, and it
//! is never more lenient than the vendor. Where the emulator departs from the description,
//! the handler says so in a comment.
//!
//! This module owns the public surface (`ROUTES`, `router`, `Shared`, `serve`), the route
//! table and authentication; the request log and the injected faults' settings are
//! `sandbox::instruments`, shared with the SCIM emulator. Each API area lives in its own
//! submodule, and `faults` renders injected faults on the wire.

mod access;
mod faults;
mod global;
mod groups;
mod permissions;
mod projects;
mod users;
mod wire;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::Extension;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::sandbox::instruments::Instruments;
use crate::sandbox::state::DcState;

use wire::{ApiError, Call, Outcome};

/// The largest page the emulator serves: a larger `limit` is capped to this and the
/// response's `limit` says so, like the server's `page.max` setting.
pub const MAX_PAGE_LIMIT: usize = 1000;
/// The page size when `limit` is not given.
pub const DEFAULT_PAGE_LIMIT: usize = 25;

/// A handler: reads the request, and reads or changes the state under the lock.
type Op = fn(&Call, &mut DcState) -> Outcome;

/// Declares the route table once: `ROUTES` (public, checked against the description by the
/// tests) and the list the router is built from come from the same lines, so they cannot
/// drift apart.
macro_rules! route_table {
    ($($method:ident $path:literal => $op:path;)*) => {
        /// Every (METHOD, path) the emulator serves, paths as written in the vendor's
        /// description (relative to `/rest`).
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        fn route_ops() -> Vec<(MethodFilter, &'static str, Op)> {
            vec![$((MethodFilter::$method, $path, $op as Op)),*]
        }
    };
}

route_table! {
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

    GET    "/api/latest/projects/{projectKey}/permissions/users" => permissions::list_users;
    PUT    "/api/latest/projects/{projectKey}/permissions/users" => permissions::grant_users;
    DELETE "/api/latest/projects/{projectKey}/permissions/users" => permissions::revoke_users;
    GET    "/api/latest/projects/{projectKey}/permissions/groups" => permissions::list_groups;
    PUT    "/api/latest/projects/{projectKey}/permissions/groups" => permissions::grant_groups;
    DELETE "/api/latest/projects/{projectKey}/permissions/groups" => permissions::revoke_groups;
    GET    "/api/latest/projects/{projectKey}/permissions/{permission}/all" => permissions::all_users_get;
    POST   "/api/latest/projects/{projectKey}/permissions/{permission}/all" => permissions::all_users_set;

    GET    "/api/latest/projects/{projectKey}/repos/{repositorySlug}/permissions/users" => permissions::list_users;
    PUT    "/api/latest/projects/{projectKey}/repos/{repositorySlug}/permissions/users" => permissions::grant_users;
    DELETE "/api/latest/projects/{projectKey}/repos/{repositorySlug}/permissions/users" => permissions::revoke_users;
    GET    "/api/latest/projects/{projectKey}/repos/{repositorySlug}/permissions/groups" => permissions::list_groups;
    PUT    "/api/latest/projects/{projectKey}/repos/{repositorySlug}/permissions/groups" => permissions::grant_groups;
    DELETE "/api/latest/projects/{projectKey}/repos/{repositorySlug}/permissions/groups" => permissions::revoke_groups;
}

/// The emulator's state, token, request log and faults, shared by every request and by
/// whoever started it (to read the state back after an apply, or count requests in a test).
#[derive(Clone)]
pub struct Shared {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<DcState>,
    token: String,
    instruments: Instruments,
}

impl Shared {
    /// An emulator over `state`, injecting the faults of the state's `faults` section (if
    /// any). `set_faults` or `apply_env_faults` replace them.
    pub fn new(state: DcState, token: String) -> Self {
        let instruments = Instruments::new(state.faults.clone().unwrap_or_default());
        Shared {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                token,
                instruments,
            }),
        }
    }

    /// The request log and the faults in force.
    pub fn instruments(&self) -> &Instruments {
        &self.inner.instruments
    }

    /// Changes the state as someone working by hand would, between two runs.
    pub fn with_state(&self, f: impl FnOnce(&mut DcState)) {
        f(&mut self.lock_state());
    }

    /// A copy of the current state.
    pub fn state(&self) -> DcState {
        self.lock_state().clone()
    }

    // Handlers check everything before they change anything, and multi-step changes are
    // made on a copy swapped in at the end, so a lock poisoned by a panicking handler
    // still guards a consistent state.
    fn lock_state(&self) -> std::sync::MutexGuard<'_, DcState> {
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The emulator's router, serving the API under `/rest` (so `{base}/rest/api/latest/...`).
pub fn router(shared: Shared) -> Router {
    let mut api: Router<Shared> = Router::new();
    for (method, path, op) in route_ops() {
        // Every route runs the same `handle`; the extension tells it which operation.
        api = api.route(path, on(method, handle).layer(Extension(op)));
    }
    let api = api
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .fallback(unknown_path);
    Router::new()
        .nest("/rest", api)
        .fallback(unknown_path)
        // Layers run outside in: `gate` logs and authenticates, then `inject` adds faults.
        .layer(middleware::from_fn_with_state(shared.clone(), faults::inject))
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

async fn unknown_path(request: Request) -> Response {
    ApiError::not_found(request.uri().path()).into_response()
}

/// Runs one operation with the state locked. The lock is a std mutex held only inside
/// this synchronous section, never across an await.
async fn handle(
    Extension(op): Extension<Op>,
    State(shared): State<Shared>,
    path: Result<Path<HashMap<String, String>>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match path {
        Ok(Path(params)) => params,
        Err(rejection) => {
            return ApiError::invalid("path", rejection.body_text()).into_response();
        }
    };
    let call = Call::new(params, query.as_deref(), headers, body);
    let mut state = shared.lock_state();
    match op(&call, &mut state) {
        Ok(reply) => reply.into_response(),
        Err(error) => error.into_response(),
    }
}

/// Logs every request, then lets through only those carrying the token: `Bearer <token>`
/// (an HTTP access token) or `Basic base64(<operator>:<token>)`.
async fn gate(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    shared.inner.instruments.record(&request);
    let operator = shared.lock_state().operator.clone();
    let authorised = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|value| credentials_match(value, &operator, &shared.inner.token));
    if !authorised {
        return ApiError::unauthenticated().into_response();
    }
    next.run(request).await
}

fn credentials_match(header_value: &str, operator: &str, token: &str) -> bool {
    let Some((scheme, credentials)) = header_value.trim().split_once(' ') else {
        return false;
    };
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return !token.is_empty() && credentials == token;
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let Some(decoded) = decode_base64(credentials) else {
            return false;
        };
        let Ok(decoded) = String::from_utf8(decoded) else {
            return false;
        };
        // Usernames log in case-insensitively, the password (the token) must match exactly.
        return decoded.split_once(':').is_some_and(|(user, password)| {
            user.to_lowercase() == operator.to_lowercase() && !token.is_empty() && password == token
        });
    }
    false
}

/// Standard base64 with canonical padding, as HTTP Basic uses; `None` for anything
/// malformed, as a strict server refuses it.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// An emulator serving on a loopback port. Dropping it also stops the server.
pub struct RunningEmulator {
    /// `http://127.0.0.1:PORT`; the REST API lives under `{base_url}/rest`.
    pub base_url: String,
    pub shared: Shared,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningEmulator {
    /// Stops accepting requests, lets those in flight finish and waits for the server.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Serves the emulator on `listener` (tests and the CLI pass `127.0.0.1:0` or a chosen
/// port) until `shutdown` or drop.
pub async fn serve(shared: Shared, listener: TcpListener) -> std::io::Result<RunningEmulator> {
    let address = listener.local_addr()?;
    let host = if address.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], address.port()))
    } else {
        address
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router(shared.clone());
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                // Either an explicit stop or the handle being dropped ends the server.
                let _ = stopped.await;
            })
            .await
    });
    Ok(RunningEmulator {
        base_url: format!("http://{host}"),
        shared,
        stop: Some(stop),
        task,
    })
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
