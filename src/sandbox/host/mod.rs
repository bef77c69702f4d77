//! The emulator host: everything a sandbox emulator needs that is not its vendor's API.
//! An emulator implements `Emulator` (its state type, its route table, where the API is
//! mounted, how a token is presented, how its vendor words a refusal) and the host does the
//! rest, the same way for every emulator:
//!
//! - the router, built from the emulator's `route_table!`, with a 404 and a 405 in the
//!   vendor's words for anything else;
//! - one `Shared` handle: the state behind one lock, the token, and the `Instruments` (the
//!   request log and the injected faults), for the handlers and for whoever started it;
//! - the middleware, in `layers`: every request logged, then authenticated, then given its
//!   injected fault (latency, 429, 503, a dropped connection);
//! - starting on a listener, stopping, and writing the state back to its file
//!   (`sandbox::state::StateFile`).
//!
//! Handlers are synchronous and run with the state locked: one request's change is atomic,
//! and nothing is held across an await.

mod layers;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::MethodFilter;
use futures_util::future::BoxFuture;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::sandbox::faults::FaultError;
use crate::sandbox::instruments::Instruments;
use crate::sandbox::state::{StateError, StateFile};

pub use layers::router;

/// One emulated API. The implementing type is the emulator's behaviour, fixed when it
/// starts (the SCIM emulator's profile; nothing for Bitbucket Data Center).
pub trait Emulator: Sized + Send + Sync + 'static {
    /// What the state file holds, and what the handlers read and change.
    type State: StateFile;
    /// One entry of the route table: a function pointer, typically
    /// `fn(&Call, &mut Self::State) -> Outcome` with the emulator's own `Call` and `Outcome`.
    type Op: Copy + Send + Sync + 'static;

    /// The route table, from the emulator's `route_table!`.
    const ROUTE_TABLE: &'static [Route<Self::Op>];

    /// The behaviour a state asks for (the SCIM state names its profile).
    fn for_state(state: &Self::State) -> Self;

    /// Where the API is served, e.g. `/rest` or `/scim/v2`; every route is relative to it.
    fn mount(state: &Self::State) -> String;

    /// Whether the `Authorization` header's value carries `token`, which is never empty
    /// here: the host lets nobody in with an empty token.
    fn authorised(&self, state: &Self::State, token: &str, authorization: &str) -> bool;

    /// Runs one operation of the route table. Called with the state locked.
    fn run(&self, op: Self::Op, call: Incoming, state: &mut Self::State) -> Response;

    /// The vendor's answer to a request the host turns away or faults.
    fn refuse(refusal: Refusal) -> Response;

    /// The answer to a refusal of a request for `path` (from the server's root): for an
    /// emulator serving two APIs that word their refusals differently. `refuse` unless
    /// overridden.
    fn refuse_at(refusal: Refusal, _path: &str) -> Response {
        Self::refuse(refusal)
    }

    /// Whether the host adds `Retry-After` to an injected 429 or 503 for `path`: not where
    /// the vendor's limiter sends none (Bitbucket Cloud's).
    fn retry_after_at(_path: &str) -> bool {
        true
    }

    /// Whether `path` is served without credentials: a token endpoint, where a client
    /// signs in with what its request body carries (Google's signed service-account
    /// assertion). Such requests are still logged and faulted. None unless overridden.
    fn open(_path: &str) -> bool {
        false
    }

    /// The account the token acts as, where the platform has one (the safety rules protect
    /// it); `None` where tokens belong to no user.
    fn account(_state: &Self::State) -> Option<String> {
        None
    }
}

/// One (method, path) an emulator serves and the operation that answers it.
#[derive(Debug, Clone, Copy)]
pub struct Route<Op> {
    pub method: MethodFilter,
    /// Relative to the mount, with `{name}` for a path parameter.
    pub path: &'static str,
    pub op: Op,
}

/// Declares an emulator's route table once: `ROUTES` (public, so tests can check it against
/// the vendor's description) and `ROUTE_TABLE` (what `Emulator::ROUTE_TABLE` names) come
/// from the same lines, so they cannot drift apart.
///
/// ```text
/// route_table! {
///     Op;
///     GET  "/users" => users::list;
///     POST "/users" => users::create;
/// }
/// ```
macro_rules! route_table {
    ($op:ty; $($method:ident $path:literal => $handler:path;)*) => {
        /// Every (METHOD, path) the emulator serves, relative to where it is mounted.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        const ROUTE_TABLE: &[$crate::sandbox::host::Route<$op>] = &[$(
            $crate::sandbox::host::Route {
                method: ::axum::routing::MethodFilter::$method,
                path: $path,
                op: $handler as $op,
            }
        ),*];
    };
}
pub(crate) use route_table;

/// A request as an operation receives it.
#[derive(Debug)]
pub struct Incoming {
    /// The route's path template as the route table names it (relative to the mount), for
    /// an emulator whose rules depend on the operation (which scopes it needs).
    pub route: &'static str,
    pub method: axum::http::Method,
    /// The path parameters the route named.
    pub params: HashMap<String, String>,
    /// The query, decoded, in order, repeated names kept (`name=a&name=b`).
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// `http://HOST{mount}` as the client addressed it, for links in answers.
    pub base_url: String,
}

/// What the host turns away, or fails on purpose, before an operation runs; the emulator
/// says it in its vendor's words (`Emulator::refuse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No valid credentials: a 401.
    Unauthenticated,
    /// Nothing is served at this path: a 404.
    NotFound { path: String },
    /// The path is served, not with this method: a 405.
    MethodNotAllowed,
    /// The path's parameters could not be read: a 400.
    BadPath { detail: String },
    /// An injected 429. The host adds `Retry-After`; the emulator adds its rate limiter's
    /// own headers if its vendor sends any.
    RateLimited { retry_after_secs: u64 },
    /// An injected 503; the host adds `Retry-After`.
    Unavailable { retry_after_secs: u64 },
}

/// `Bearer <token>`, the scheme in any case, as every vendor emulated accepts it.
pub fn bearer_matches(authorization: &str, token: &str) -> bool {
    authorization
        .trim()
        .split_once(' ')
        .is_some_and(|(scheme, credentials)| scheme.eq_ignore_ascii_case("bearer") && credentials.trim() == token)
}

/// The emulator's state, behaviour, token and instruments, shared by every request and by
/// whoever started it (to read the state back after an apply, or count requests in a test).
pub struct Shared<E: Emulator> {
    inner: Arc<Inner<E>>,
}

// Written out: a derive would require `E: Clone`, which the handle does not need.
impl<E: Emulator> Clone for Shared<E> {
    fn clone(&self) -> Self {
        Shared {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<E: Emulator> {
    emulator: E,
    state: Mutex<E::State>,
    token: String,
    /// Fixed when the handle is made, as the router's nesting is.
    mount: String,
    instruments: Instruments,
}

impl<E: Emulator> Shared<E> {
    /// An emulator over `state`, behaving as the state asks, injecting the faults of the
    /// state's `faults` section (if any); `instruments().set_faults` replaces them.
    pub fn new(state: E::State, token: String) -> Self {
        let emulator = E::for_state(&state);
        Self::with_emulator(emulator, state, token)
    }

    /// An emulator behaving as `emulator` says whatever the state asks (a variant SCIM
    /// profile in a test, say).
    pub fn with_emulator(emulator: E, state: E::State, token: String) -> Self {
        let instruments = Instruments::new(state.faults().cloned().unwrap_or_default());
        let mount = E::mount(&state);
        Shared {
            inner: Arc::new(Inner {
                emulator,
                state: Mutex::new(state),
                token,
                mount,
                instruments,
            }),
        }
    }

    /// What the emulator behaves as.
    pub fn emulator(&self) -> &E {
        &self.inner.emulator
    }

    /// The request log and the faults in force.
    pub fn instruments(&self) -> &Instruments {
        &self.inner.instruments
    }

    /// Changes the state as someone working by hand would, between two runs.
    pub fn with_state(&self, f: impl FnOnce(&mut E::State)) {
        f(&mut self.lock_state());
    }

    /// A copy of the current state.
    pub fn state(&self) -> E::State {
        self.lock_state().clone()
    }

    /// Where the API is served, e.g. `/rest`.
    pub fn mount(&self) -> &str {
        &self.inner.mount
    }

    fn token(&self) -> &str {
        &self.inner.token
    }

    // Handlers check everything they can before they change anything, and a multi-step
    // change is undone when refused or when its handler panics (the Data Center's
    // `Change`), so a lock poisoned by a panicking handler still guards a consistent state.
    fn lock_state(&self) -> MutexGuard<'_, E::State> {
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An emulator serving on a port. Dropping it also stops the server.
pub struct Running<E: Emulator> {
    /// `http://127.0.0.1:PORT`, the server's root.
    pub base_url: String,
    /// The root and the mount: `http://127.0.0.1:PORT/rest`, `.../scim/v2`.
    pub api_url: String,
    pub shared: Shared<E>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl<E: Emulator> Running<E> {
    /// Stops accepting requests, lets those in flight finish and waits for the server.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Writes the current state to `path`, keeping the comments at the top of the file it
    /// replaces.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        self.shared.state().save(path)
    }
}

/// Serves the emulator on `listener` (tests and the CLI pass `127.0.0.1:0` or a chosen
/// port) until `shutdown` or drop.
pub async fn serve<E: Emulator>(shared: Shared<E>, listener: TcpListener) -> std::io::Result<Running<E>> {
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
    let base_url = format!("http://{host}");
    Ok(Running {
        api_url: format!("{base_url}{}", shared.mount()),
        base_url,
        shared,
        stop: Some(stop),
        task,
    })
}

/// Why an emulator could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Faults(#[from] FaultError),
    #[error("cannot start the sandbox: {0}")]
    Serve(#[from] std::io::Error),
}

/// Starts an emulator as rollcall's commands do: over `state`, with the faults of
/// `ROLLCALL_SANDBOX_FAULTS` in place of the state's own when the variable is set.
pub async fn start<E: Emulator>(
    state: E::State,
    token: String,
    listener: TcpListener,
) -> Result<Running<E>, StartError> {
    let shared = Shared::<E>::new(state, token);
    shared.instruments().apply_env_faults()?;
    Ok(serve(shared, listener).await?)
}

/// A running emulator of any kind, for code that starts emulators of several platforms
/// side by side (one per sandbox target) and needs nothing of their state's shape.
pub trait Sandbox: Send + Sync {
    /// `Emulator::account` of the current state.
    fn account(&self) -> Option<String>;
    /// `Shared::instruments`: the request log and the faults in force.
    fn instruments(&self) -> &Instruments;
    /// `Running::save`.
    fn save(&self, path: &Path) -> Result<(), StateError>;
    /// `Running::shutdown`.
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()>;
}

impl<E: Emulator> Sandbox for Running<E> {
    fn account(&self) -> Option<String> {
        E::account(&self.shared.lock_state())
    }

    fn instruments(&self) -> &Instruments {
        self.shared.instruments()
    }

    fn save(&self, path: &Path) -> Result<(), StateError> {
        Running::save(self, path)
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(Running::shutdown(*self))
    }
}

#[cfg(test)]
mod tests;
