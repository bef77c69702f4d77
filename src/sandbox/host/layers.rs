//! The router every emulator is served by, and what runs around each operation: `gate`
//! logs and authenticates, `inject` adds the injected fault, `handle` runs the operation
//! under the state lock. Layers run outside in, so a request with a wrong token is always a
//! plain 401 and never faulted: the vendors' rate limiters, too, count only authenticated
//! requests.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::on;
use axum::{Extension, Router};

use super::{Emulator, Incoming, Refusal, Shared};
use crate::sandbox::faults::Fault;
use crate::sandbox::instruments::Draw;

/// The emulator's router: its routes under its mount, the vendor's 404 and 405 for
/// anything else, and the middleware.
pub fn router<E: Emulator>(shared: Shared<E>) -> Router {
    let mut api: Router<Shared<E>> = Router::new();
    for route in E::ROUTE_TABLE {
        // Every route runs the same `handle`; the extension tells it which operation and
        // which path template.
        let which: Which<E> = (route.op, route.path);
        api = api.route(route.path, on(route.method, handle::<E>).layer(Extension(which)));
    }
    let api = api
        .method_not_allowed_fallback(|request: Request| async move {
            E::refuse_at(Refusal::MethodNotAllowed, request.uri().path())
        })
        .fallback(unknown_path::<E>);
    // An emulator at the server's root (mount "") is its own router: axum nests nothing
    // at the root.
    let root = if shared.mount().is_empty() {
        api
    } else {
        Router::new().nest(shared.mount(), api).fallback(unknown_path::<E>)
    };
    root.layer(middleware::from_fn_with_state(shared.clone(), inject::<E>))
        .layer(middleware::from_fn_with_state(shared.clone(), gate::<E>))
        .with_state(shared)
}

/// The operation a route runs and its path template (for `Incoming::route`).
type Which<E> = (<E as Emulator>::Op, &'static str);

async fn unknown_path<E: Emulator>(request: Request) -> Response {
    let path = request.uri().path().to_owned();
    E::refuse_at(Refusal::NotFound { path: path.clone() }, &path)
}

/// Runs one operation with the state locked. The lock is a std mutex held only inside
/// this synchronous section, never across an await.
async fn handle<E: Emulator>(
    Extension((op, route)): Extension<Which<E>>,
    State(shared): State<Shared<E>>,
    path: Result<Path<HashMap<String, String>>, PathRejection>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match path {
        Ok(Path(params)) => params,
        Err(rejection) => {
            return E::refuse_at(
                Refusal::BadPath {
                    detail: rejection.body_text(),
                },
                route,
            )
        }
    };
    // Decoded here rather than with `Query`: a name may be repeated (`name=a&name=b`),
    // which serde_urlencoded cannot express.
    let query = url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    let call = Incoming {
        route,
        method,
        params,
        query,
        headers,
        body,
        base_url: format!("http://{host}{}", shared.mount()),
    };
    let mut state = shared.lock_state();
    shared.emulator().run(op, call, &mut state)
}

/// Logs every request, then lets through only those whose credentials the emulator
/// accepts; anything else is the vendor's 401.
async fn gate<E: Emulator>(State(shared): State<Shared<E>>, request: Request, next: Next) -> Response {
    shared.instruments().record(&request);
    if E::open(request.uri().path()) {
        return next.run(request).await;
    }
    let token = shared.token();
    let authorised = !token.is_empty()
        && request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|value| shared.emulator().authorised(&shared.lock_state(), token, value));
    if !authorised {
        return E::refuse_at(Refusal::Unauthenticated, request.uri().path());
    }
    next.run(request).await
}

/// Draws this request's fault, waits the configured latency, then answers it, forwards it,
/// or drops its connection.
async fn inject<E: Emulator>(State(shared): State<Shared<E>>, request: Request, next: Next) -> Response {
    // Drawn on arrival, before any wait, so sequence numbers follow the order requests
    // came in.
    let Draw {
        fault,
        latency_ms,
        retry_after_secs,
    } = shared.instruments().draw_fault();
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
    let path = request.uri().path().to_owned();
    let refused = |refusal: Refusal| {
        let response = E::refuse_at(refusal, &path);
        if E::retry_after_at(&path) {
            with_retry_after(response, retry_after_secs)
        } else {
            response
        }
    };
    match fault {
        None => next.run(request).await,
        Some(Fault::RateLimited) => refused(Refusal::RateLimited { retry_after_secs }),
        Some(Fault::Unavailable) => refused(Refusal::Unavailable { retry_after_secs }),
        Some(Fault::DroppedBefore) => dropped(),
        Some(Fault::DroppedAfter) => {
            // The handler runs and its change stays; only the answer is lost.
            drop(next.run(request).await);
            dropped()
        }
    }
}

fn with_retry_after(mut response: Response, retry_after_secs: u64) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

/// A response whose body fails before its first byte: hyper then closes the connection
/// without writing the status line, and the client sees the connection end mid-request
/// (a transport error, never a status).
fn dropped() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("sandbox fault: connection dropped"))
    });
    Response::new(Body::from_stream(failing))
}
