//! Injected faults as Bitbucket Data Center would show them on the wire: the rate
//! limiter's 429, a 503, and connections closed with no answer. Which request gets which
//! fault is decided by `sandbox::faults`; this module only renders it.
//!
//! Faults apply to authenticated requests only (the layer runs after the token check): a
//! request with a wrong token is always a plain 401, and the real rate limiter, too,
//! counts only requests made with Basic or Bearer credentials.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::wire::ApiError;
use super::Shared;
use crate::sandbox::faults::Fault;
use crate::sandbox::instruments::Draw;

/// The token bucket the 429s describe in their headers. The emulator does not keep a
/// bucket (faults come from the configured rates); these are the vendor's documented
/// example settings (60 tokens, 5 a second), so clients that read the headers see
/// plausible values.
const BUCKET_SIZE: u32 = 60;
const FILL_RATE: u32 = 5;
const FILL_INTERVAL_SECS: u32 = 1;

/// Draws this request's fault, waits the configured latency, then answers it, forwards it,
/// or drops its connection.
pub(super) async fn inject(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    // Drawn on arrival, before any wait, so sequence numbers follow the order requests
    // came in.
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
        Some(Fault::RateLimited) => rate_limited(retry_after),
        Some(Fault::Unavailable) => unavailable(retry_after),
        Some(Fault::DroppedBefore) => dropped(),
        Some(Fault::DroppedAfter) => {
            // The handler runs and its change stays; only the answer is lost.
            drop(next.run(request).await);
            dropped()
        }
    }
}

/// 429 with the vendor's error body, `Retry-After` and the `X-RateLimit-*` headers the
/// Data Center rate limiter documents. The vendor's description declares no 429 body, so
/// the message is the emulator's and `exceptionName` is null.
fn rate_limited(retry_after: u64) -> Response {
    let mut response = ApiError {
        status: StatusCode::TOO_MANY_REQUESTS,
        context: None,
        message: format!("You have been rate limited. Wait {retry_after} seconds before trying again."),
        exception: None,
    }
    .into_response();
    let headers = response.headers_mut();
    headers.insert(axum::http::header::RETRY_AFTER, HeaderValue::from(retry_after));
    for (name, value) in [
        ("x-ratelimit-limit", BUCKET_SIZE),
        ("x-ratelimit-remaining", 0),
        ("x-ratelimit-interval-seconds", FILL_INTERVAL_SECS),
        ("x-ratelimit-fillrate", FILL_RATE),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
    response
}

/// 503 with the vendor's error body and `Retry-After`; the request was not handled.
fn unavailable(retry_after: u64) -> Response {
    let mut response = ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        context: None,
        message: "Bitbucket is temporarily unavailable. Try again later.".to_owned(),
        exception: None,
    }
    .into_response();
    response
        .headers_mut()
        .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(retry_after));
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
