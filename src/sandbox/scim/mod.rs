//! A SCIM 2.0 service provider emulator (RFC 7643 / RFC 7644): users and groups over a
//! `ScimState` held in memory, behaving as one of the `profile` module's profiles (a
//! generic RFC provider, or Atlassian Cloud user provisioning).
//!
//! It is built like the Bitbucket Data Center emulator: one route table, one `handle`
//! running each operation under the state lock, a `gate` that logs and authenticates, the
//! shared seeded faults, and `serve(shared, listener) -> RunningEmulator`. The profile
//! decides the base path: `/scim/v2` for `rfc`, `/scim/directory/{directoryId}` for
//! `atlassian`, as the vendor serves it.

mod faults;
pub mod filter;
pub mod profile;
mod resources;
mod schema;
pub mod state;
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
use axum::{Extension, Router};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::sandbox::instruments::Instruments;

pub use profile::{FilterSupport, ProfileName, ScimProfile, ATLASSIAN, RFC};
pub use state::ScimState;

use wire::{Call, Outcome, ScimError};

type Op = fn(&Call, &mut ScimState, &ScimProfile) -> Outcome;

/// Declares the route table once, for `ROUTES` and the router, as the DC emulator does.
macro_rules! route_table {
    ($($method:ident $path:literal => $op:path;)*) => {
        /// Every (METHOD, path) the emulator serves, relative to the profile's base path.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        fn route_ops() -> Vec<(MethodFilter, &'static str, Op)> {
            vec![$((MethodFilter::$method, $path, $op as Op)),*]
        }
    };
}

route_table! {
    GET    "/ServiceProviderConfig" => schema::get_service_provider_config;
    GET    "/ResourceTypes" => schema::get_resource_types;
    GET    "/ResourceTypes/{id}" => schema::get_resource_type;
    GET    "/Schemas" => schema::get_schemas;
    GET    "/Schemas/{id}" => schema::get_schema;

    GET    "/Users" => resources::list_users;
    POST   "/Users" => resources::create_user;
    GET    "/Users/{id}" => resources::get_user;
    PUT    "/Users/{id}" => resources::replace_user;
    PATCH  "/Users/{id}" => resources::patch_user;
    DELETE "/Users/{id}" => resources::delete_user;

    GET    "/Groups" => resources::list_groups;
    POST   "/Groups" => resources::create_group;
    GET    "/Groups/{id}" => resources::get_group;
    PUT    "/Groups/{id}" => resources::replace_group;
    PATCH  "/Groups/{id}" => resources::patch_group;
    DELETE "/Groups/{id}" => resources::delete_group;

    POST   "/.search" => unsupported;
    POST   "/Bulk" => unsupported;
}

/// Root `/.search` and `/Bulk` are optional (RFC 7644 §3.4.3, §3.7): 501, as the RFC says
/// for a feature a provider does not offer.
fn unsupported(_: &Call, _: &mut ScimState, _: &ScimProfile) -> Outcome {
    Err(ScimError::not_implemented(
        "This service provider does not support this operation.",
    ))
}

/// The base path a state is served under.
pub fn base_path(state: &ScimState) -> String {
    match state.profile {
        ProfileName::Rfc => "/scim/v2".to_owned(),
        ProfileName::Atlassian => format!("/scim/directory/{}", state.directory_id),
    }
}

/// The emulator's state, profile, token, request log and faults, shared by every request
/// and by whoever started it.
#[derive(Clone)]
pub struct Shared {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<ScimState>,
    profile: ScimProfile,
    token: String,
    instruments: Instruments,
}

impl Shared {
    /// An emulator over `state`, behaving as the state's profile.
    pub fn new(state: ScimState, token: String) -> Self {
        let profile = profile::emulated(state.profile);
        Self::with_profile(state, token, profile)
    }

    /// An emulator behaving as `profile` whatever the state says (a variant profile in a
    /// test, say); the base path still follows the state's profile name.
    pub fn with_profile(state: ScimState, token: String, profile: ScimProfile) -> Self {
        let instruments = Instruments::new(state.faults.clone().unwrap_or_default());
        Shared {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                profile,
                token,
                instruments,
            }),
        }
    }

    pub fn profile(&self) -> ScimProfile {
        self.inner.profile
    }

    /// The request log and the faults in force.
    pub fn instruments(&self) -> &Instruments {
        &self.inner.instruments
    }

    /// Changes the state as someone working by hand would.
    pub fn with_state(&self, f: impl FnOnce(&mut ScimState)) {
        f(&mut self.lock_state());
    }

    pub fn state(&self) -> ScimState {
        self.lock_state().clone()
    }

    // Handlers check everything before they change anything, so a lock poisoned by a
    // panicking handler still guards a consistent state.
    fn lock_state(&self) -> std::sync::MutexGuard<'_, ScimState> {
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The emulator's router, serving the API under the state's base path.
pub fn router(shared: Shared) -> Router {
    let base = base_path(&shared.lock_state());
    let mut api: Router<Shared> = Router::new();
    for (method, path, op) in route_ops() {
        api = api.route(path, on(method, handle).layer(Extension(op)));
    }
    let api = api
        .method_not_allowed_fallback(|| async { ScimError::method_not_allowed() })
        .fallback(unknown_path);
    Router::new()
        .nest(&base, api)
        .fallback(unknown_path)
        // Layers run outside in: `gate` logs and authenticates, then `inject` adds faults.
        .layer(middleware::from_fn_with_state(shared.clone(), faults::inject))
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

async fn unknown_path(request: Request) -> Response {
    ScimError::not_found(format!("No resource is served at {}.", request.uri().path())).into_response()
}

/// Runs one operation with the state locked (a std mutex, never held across an await).
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
        Err(rejection) => return ScimError::bad("invalidPath", rejection.body_text()).into_response(),
    };
    let query = url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    let mut state = shared.lock_state();
    let call = Call {
        params,
        query,
        headers,
        body,
        base_url: format!("http://{host}{}", base_path(&state)),
    };
    let profile = shared.inner.profile;
    match op(&call, &mut state, &profile) {
        Ok(reply) => reply.into_response(),
        Err(error) => error.into_response(),
    }
}

/// Logs every request, then lets through only those carrying `Bearer <token>`; anything
/// else is 401 with a SCIM error body.
async fn gate(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    shared.inner.instruments.record(&request);
    let token = &shared.inner.token;
    let authorised = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .is_some_and(|(scheme, credentials)| {
            scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && credentials.trim() == token
        });
    if !authorised {
        return ScimError::unauthenticated().into_response();
    }
    next.run(request).await
}

/// An emulator serving on a loopback port. Dropping it also stops the server.
pub struct RunningEmulator {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The SCIM base URL clients are given: `{base_url}/scim/v2` or
    /// `{base_url}/scim/directory/{directoryId}`.
    pub scim_url: String,
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

/// Serves the emulator on `listener` until `shutdown` or drop.
pub async fn serve(shared: Shared, listener: TcpListener) -> std::io::Result<RunningEmulator> {
    let address = listener.local_addr()?;
    let host = if address.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], address.port()))
    } else {
        address
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let base = base_path(&shared.lock_state());
    let app = router(shared.clone());
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok(RunningEmulator {
        base_url: format!("http://{host}"),
        scim_url: format!("http://{host}{base}"),
        shared,
        stop: Some(stop),
        task,
    })
}
