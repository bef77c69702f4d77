//! The HTTP layer every provider shares. A provider builds one [`HttpClient`] per target
//! and describes each request with a [`Request`] that says whether it is safe to send
//! twice; the layer does the rest:
//!
//! - `activity`: what each read is doing now (requests sent, waits under way), recorded
//!   only while a live display watches;
//! - `client`: authentication, the media type, one attempt on the wire, the classifier
//!   that may call a 2xx answer a failure, request counting, and errors that name the
//!   target and the request;
//! - `body`: answers read as they stream in, within a cap on their size;
//! - `request`: the request and its idempotency;
//! - `concurrency`: how many requests are in flight at once, a limit that rises while the
//!   server answers well and falls when it does not;
//! - `retry`: what is retried and how long to wait first (backon drives the loop);
//! - `rate_limit` and `pacing`: what servers say about their quotas, and the per-target
//!   budget and holds that space requests to keep them;
//! - `deadline`: the overall deadline of reading a target or applying a plan to it, moved
//!   out by the waits for the budget, up to a hard maximum;
//! - `paging`: one pager for offset, next-link and cursor paging;
//! - `redact`: tokens and secret parameters kept out of errors and logs;
//! - `classify`: which 2xx answers are failures (GraphQL's `errors`);
//! - `random`: jitter and secrets from the operating system.

pub mod activity;
mod body;
mod classify;
mod client;
mod concurrency;
mod deadline;
mod error;
mod pacing;
pub mod paging;
mod random;
mod rate_limit;
mod redact;
mod request;
mod retry;

pub use body::DEFAULT_MAX_BODY;
pub use classify::{graphql_errors, Classifier};
pub use client::{Auth, ClientBuilder, ErrorParser, HttpClient, Reply, DEFAULT_MAX_IN_FLIGHT};
pub use concurrency::Reached;
pub use deadline::{Operation, DEFAULT_DEADLINE, MAX_DEADLINE};
pub use error::{ErrorKind, HttpError};
pub use pacing::Budget;
pub use paging::Page;
pub use random::random_hex;
pub use request::{path_segment, Idempotent, Request};
pub use retry::RetryPolicy;
