//! Injected faults as a SCIM provider would show them: 429 and 503 with a SCIM error body
//! and `Retry-After`, and connections closed with no answer. Which request gets which
//! fault is decided by `sandbox::faults`, shared with the Data Center emulator.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::wire::ScimError;
use super::Shared;
use crate::sandbox::faults::Fault;
use crate::sandbox::instruments::Draw;

/// Draws this request's fault, waits the configured latency, then answers it, forwards it,
/// or drops its connection. Runs after the token check, so a bad token is always a 401.
pub(super) async fn inject(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let Draw {
        fault,
        latency_ms,
        retry_after_secs: retry_after,
    } = shared.instruments().draw_fault();
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
    match fault {
        None => next.run(request).await,
        Some(Fault::RateLimited) => with_retry_after(
            ScimError::new(
                StatusCode::TOO_MANY_REQUESTS,
                None,
                "Too many requests; try again later.",
            ),
            retry_after,
        ),
        Some(Fault::Unavailable) => with_retry_after(
            ScimError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "The service is temporarily unavailable.",
            ),
            retry_after,
        ),
        Some(Fault::DroppedBefore) => dropped(),
        Some(Fault::DroppedAfter) => {
            // The handler runs and its change stays; only the answer is lost.
            drop(next.run(request).await);
            dropped()
        }
    }
}

fn with_retry_after(error: ScimError, retry_after: u64) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

/// A body that fails before its first byte: the client sees the connection end.
fn dropped() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("sandbox fault: connection dropped"))
    });
    Response::new(Body::from_stream(failing))
}
