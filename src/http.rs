//! The HTTP layer every provider shares: authentication headers, timeouts, request
//! counting, retries, a cap on requests in flight per target, and errors that name the
//! target, the request and the status but never the token. Providers bring their own wire
//! types and error-body parser.
//!
//! Every request goes through [`HttpClient::send`], which retries what a busy or briefly
//! unreachable server answers (429, 502, 503, 504, refused or dropped connections,
//! timeouts) with exponential backoff and full jitter, waiting as long as the server asks
//! (`Retry-After`; on a 429 also `X-RateLimit-Reset` or Data Center's fill rate) up to a
//! limit, and gives up after a bounded number of attempts ([`RetryPolicy`]). A write whose
//! connection dropped may have been applied before the retry: the error then says so
//! ([`HttpError::ambiguous`]) so the provider can confirm instead of failing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

/// How requests authenticate.
#[derive(Clone)]
pub enum Auth {
    Bearer(SecretString),
    Basic { username: String, token: SecretString },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}:<redacted>)"),
        }
    }
}

/// A failed request. `request` is `METHOD /path?query` without the host and with secret
/// query parameters (a new user's password) masked; the vendor's message is scrubbed of
/// the token.
///
/// # Retried requests and `ambiguous`
///
/// `send` may have made several attempts (`attempts`) before this error. `ambiguous` is
/// true when at least one of them may have been applied by the server although no answer
/// came back: the request was sent and then the connection dropped, the answer was cut
/// off, the attempt timed out, or a gateway answered 502 or 504. A refused connection, a
/// 429 and a 503 are not ambiguous: nothing was applied.
///
/// Only those uncertain outcomes set the flag, so when the final answer is a definite
/// status (`status` is `Some(409)`, `Some(404)`, …) and `ambiguous` is true, the uncertain
/// attempt was an earlier one and the status may be the consequence of it:
///
/// - a **409 on a create** means the object may already be there because of this very
///   request: read it back and compare before calling the change failed;
/// - a **404 on a delete** means the object is already gone, probably by this request.
///
/// When `ambiguous` is false the status is the server's answer to the only request that
/// could have had an effect, and means what it says.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{target}: {request} failed: {detail}")]
pub struct HttpError {
    pub target: String,
    pub request: String,
    pub status: Option<u16>,
    pub detail: String,
    /// An attempt of this request may have been applied without the client seeing the
    /// answer (see the type's documentation for what a status then means).
    pub ambiguous: bool,
    /// HTTP requests sent for this call, retries included (0 when none was sent).
    pub attempts: u32,
}

impl HttpError {
    pub fn is_status(&self, status: u16) -> bool {
        self.status == Some(status)
    }
}

/// Extracts the vendor's human message from an error body.
pub type ErrorParser = fn(&str) -> Option<String>;

/// When and how long `send` waits before trying a request again.
///
/// The wait before retry `n` (1 for the first retry) is drawn uniformly from
/// `0..=min(max_delay, base_delay * 2^(n-1))` ("full jitter", so that many requests
/// refused together do not come back together). When the server says how long to wait,
/// the client waits at least that long (plus up to `base_delay`, again to spread a crowd),
/// unless it is more than `max_server_wait`: then the request fails at once with an error
/// that says what the server asked for, rather than hanging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 turns retries off.
    pub max_attempts: u32,
    /// The first backoff's upper bound, doubled at each retry.
    pub base_delay: Duration,
    /// The cap on a computed backoff.
    pub max_delay: Duration,
    /// The longest wait a server may ask for (`Retry-After`, rate-limit reset).
    pub max_server_wait: Duration,
    /// How long one attempt may take, from connecting to the end of the body.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    /// 6 attempts, backoff from 100 ms doubling to at most 10 s, server waits up to 60 s,
    /// 60 s per attempt.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            max_server_wait: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The computed wait before retry `retry` (1-based), jittered.
    fn backoff(&self, retry: u32) -> Duration {
        let doubled = self
            .base_delay
            .checked_mul(2u32.saturating_pow(retry.saturating_sub(1)))
            .unwrap_or(self.max_delay);
        jitter(doubled.min(self.max_delay))
    }

    /// The wait before retry `retry`, or `Err` with the server's wait when that is longer
    /// than this policy allows.
    fn wait(&self, retry: u32, server: Option<Duration>) -> Result<Duration, Duration> {
        match server {
            None => Ok(self.backoff(retry)),
            Some(asked) if asked > self.max_server_wait => Err(asked),
            // Never sooner than asked; the jitter spreads requests that were all told the
            // same second, and the backoff keeps growing when a server keeps saying 0.
            Some(asked) => Ok(asked.max(self.backoff(retry)) + jitter(self.base_delay)),
        }
    }
}

/// Requests in flight per target unless the provider says otherwise.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 8;

pub struct HttpClient {
    target: String,
    base: url::Url,
    auth: Option<Auth>,
    client: reqwest::Client,
    parse_error: ErrorParser,
    policy: RetryPolicy,
    /// One permit per attempt on the wire; a request waiting to retry holds none.
    in_flight: Semaphore,
    requests: AtomicUsize,
    retries: AtomicUsize,
    /// `Accept` and the request body's `Content-Type`.
    media_type: &'static str,
}

/// A 2xx answer: its body and, when the server sent one, its `ETag`.
#[derive(Debug, Clone)]
pub struct Reply {
    pub body: String,
    pub etag: Option<String>,
}

/// How one attempt failed, before the retry loop decides what to do with it.
struct Failure {
    /// The server's status, when it answered with a failure.
    status: Option<StatusCode>,
    /// Already scrubbed of the token.
    detail: String,
    retryable: bool,
    /// The server may have applied the request.
    ambiguous: bool,
    /// How long the server asked us to wait, uncapped.
    server_wait: Option<Duration>,
}

impl HttpClient {
    pub fn new(target: &str, base: url::Url, auth: Option<Auth>, parse_error: ErrorParser) -> Result<Self, HttpError> {
        // The total timeout is set per attempt, from the retry policy.
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("rollcall/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError {
                target: target.to_owned(),
                request: "client setup".to_owned(),
                status: None,
                detail: e.to_string(),
                ambiguous: false,
                attempts: 0,
            })?;
        Ok(HttpClient {
            target: target.to_owned(),
            base,
            auth,
            client,
            parse_error,
            policy: RetryPolicy::default(),
            in_flight: Semaphore::new(DEFAULT_MAX_IN_FLIGHT),
            requests: AtomicUsize::new(0),
            retries: AtomicUsize::new(0),
            media_type: "application/json",
        })
    }

    /// Replaces the retry policy (tests shorten it; 1 attempt turns retries off).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Caps the attempts on the wire at once to this target (at least 1); the default is
    /// [`DEFAULT_MAX_IN_FLIGHT`].
    pub fn with_max_in_flight(mut self, max: usize) -> Self {
        self.in_flight = Semaphore::new(max.max(1));
        self
    }

    /// Sends and asks for this JSON media type instead of `application/json` (SCIM's
    /// `application/scim+json`).
    pub fn with_media_type(mut self, media_type: &'static str) -> Self {
        self.media_type = media_type;
        self
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.policy
    }

    pub fn target(&self) -> &str {
        &self.target
    }

    /// How many HTTP requests this client has sent, every attempt counted: the figure the
    /// request-count tests check.
    pub fn request_count(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// How many of those were retries (attempts after the first of a call).
    pub fn retry_count(&self) -> usize {
        self.retries.load(Ordering::Relaxed)
    }

    /// Sends a request, retrying as the policy allows, and returns the body of a 2xx
    /// answer.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<String, HttpError> {
        self.call(method, path, query, body, None, true)
            .await
            .map(|(reply, _)| reply.body)
    }

    /// A create the server does not deduplicate (a SCIM group, whose name need not be
    /// unique): retried only after failures that certainly did not apply it. After one
    /// that may have, the error comes back `ambiguous` for the caller to look first.
    pub async fn post_unrepeated(&self, path: &str, body: &serde_json::Value) -> Result<Reply, HttpError> {
        self.call(Method::POST, path, &[], Some(body), None, false)
            .await
            .map(|(reply, _)| reply)
    }

    /// Like [`send`](Self::send), with an `If-Match` precondition when given, returning
    /// the answer's `ETag` too. A 412 is the server's answer, not retried.
    pub async fn send_if_match(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        if_match: Option<&str>,
    ) -> Result<Reply, HttpError> {
        self.call(method, path, query, body, if_match, true)
            .await
            .map(|(reply, _)| reply)
    }

    pub async fn get_json<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T, HttpError> {
        let (reply, attempts) = self.call(Method::GET, path, query, None, None, true).await?;
        serde_json::from_str(&reply.body).map_err(|e| HttpError {
            target: self.target.clone(),
            request: format!("GET {path}"),
            status: Some(200),
            detail: self.redact(&format!("unexpected response body: {e}")),
            ambiguous: false,
            attempts,
        })
    }

    /// The retry loop: the body of a 2xx answer and the attempts it took.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        if_match: Option<&str>,
        repeat_ambiguous: bool,
    ) -> Result<(Reply, u32), HttpError> {
        let mut url = self.base.clone();
        {
            let base_path = url.path().trim_end_matches('/').to_owned();
            url.set_path(&format!("{base_path}{path}"));
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let request = describe_request(&method, &url);
        let max_attempts = self.policy.max_attempts.max(1);
        // Whether an attempt before the current one may have been applied.
        let mut earlier_ambiguous = false;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let failure = match self.attempt(&method, &url, &request, body, if_match).await {
                Ok(reply) => return Ok((reply, attempt)),
                Err(f) => f,
            };
            if !failure.retryable || (failure.ambiguous && !repeat_ambiguous) {
                return Err(self.error(&request, failure, attempt, earlier_ambiguous, None));
            }
            if attempt >= max_attempts {
                let note = (attempt > 1).then(|| format!("gave up after {attempt} attempts"));
                return Err(self.error(&request, failure, attempt, earlier_ambiguous, note));
            }
            let wait = match self.policy.wait(attempt, failure.server_wait) {
                Ok(wait) => wait,
                Err(asked) => {
                    let note = format!(
                        "the server asks to wait {} before trying again, longer than rollcall waits ({})",
                        human(asked),
                        human(self.policy.max_server_wait)
                    );
                    return Err(self.error(&request, failure, attempt, earlier_ambiguous, Some(note)));
                }
            };
            tracing::debug!(
                target: "rollcall::http",
                target_name = %self.target,
                %request,
                attempt,
                failure = %failure.detail,
                may_have_been_applied = failure.ambiguous,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "retrying"
            );
            earlier_ambiguous |= failure.ambiguous;
            self.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
        }
    }

    /// One request on the wire, holding a permit of the per-target cap until its body is
    /// read.
    async fn attempt(
        &self,
        method: &Method,
        url: &url::Url,
        request: &str,
        body: Option<&serde_json::Value>,
        if_match: Option<&str>,
    ) -> Result<Reply, Failure> {
        let _permit = self.in_flight.acquire().await.map_err(|_| Failure {
            status: None,
            detail: "the client was shut down".to_owned(),
            retryable: false,
            ambiguous: false,
            server_wait: None,
        })?;
        let mut builder: RequestBuilder = self
            .client
            .request(method.clone(), url.clone())
            .header("Accept", self.media_type)
            .timeout(self.policy.attempt_timeout);
        builder = match &self.auth {
            Some(Auth::Bearer(token)) => builder.bearer_auth(token.expose_secret()),
            Some(Auth::Basic { username, token }) => builder.basic_auth(username, Some(token.expose_secret())),
            None => builder,
        };
        if let Some(body) = body {
            builder = builder.header("Content-Type", self.media_type).body(body.to_string());
        }
        if let Some(version) = if_match {
            builder = builder.header("If-Match", version);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = match builder.send().await {
            Ok(response) => response,
            Err(e) => {
                // Builder errors are ours and will not get better; a refused or failed
                // connection sent nothing; anything else (reset, closed before the
                // answer, timeout) may have come after the server read the request.
                let (retryable, ambiguous) = if e.is_builder() || e.is_redirect() {
                    (false, false)
                } else if e.is_connect() {
                    (true, false)
                } else {
                    (true, true)
                };
                return Err(Failure {
                    status: None,
                    detail: self.redact(&describe_transport_error(e)),
                    retryable,
                    ambiguous,
                    server_wait: None,
                });
            }
        };
        let status = response.status();
        tracing::debug!(target: "rollcall::http", target_name = %self.target, %request, status = status.as_u16(), "response");
        let retryable = is_retryable(status);
        let server_wait = if retryable {
            server_wait(status, response.headers(), SystemTime::now())
        } else {
            None
        };
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = match response.text().await {
            Ok(text) => text,
            Err(e) => {
                let cause = self.redact(&describe_transport_error(e));
                // A success whose body was cut off was applied all the same, and its body
                // is needed: ask again. A failure's status is the answer; its body only
                // carried the message.
                return Err(if status.is_success() {
                    Failure {
                        status: None,
                        detail: format!("{} but the answer was cut off: {cause}", status_line(status)),
                        retryable: true,
                        ambiguous: true,
                        server_wait: None,
                    }
                } else {
                    Failure {
                        status: Some(status),
                        detail: format!("{} (the message was cut off: {cause})", status_line(status)),
                        retryable,
                        ambiguous: is_gateway_failure(status),
                        server_wait,
                    }
                });
            }
        };
        if status.is_success() {
            return Ok(Reply { body: text, etag });
        }
        // Scrub before cutting, so a token split by the cut cannot slip through.
        let text = self.redact(&text);
        let vendor = (self.parse_error)(&text).unwrap_or_else(|| snippet(&text));
        Err(Failure {
            status: Some(status),
            detail: format!(
                "{}{}{}",
                status_line(status),
                if vendor.is_empty() { "" } else { ": " },
                vendor
            ),
            retryable,
            ambiguous: is_gateway_failure(status),
            server_wait,
        })
    }

    /// The error for the last attempt, with a word on the attempts before it.
    fn error(
        &self,
        request: &str,
        last: Failure,
        attempts: u32,
        earlier_ambiguous: bool,
        note: Option<String>,
    ) -> HttpError {
        let mut detail = last.detail;
        if let Some(note) = note {
            detail.push_str("; ");
            detail.push_str(&note);
        } else if attempts > 1 {
            detail.push_str(&format!("; on attempt {attempts}"));
        }
        if earlier_ambiguous {
            detail.push_str("; an earlier attempt may have been applied");
        } else if last.ambiguous {
            detail.push_str("; the request may have been applied");
        }
        HttpError {
            target: self.target.clone(),
            request: request.to_owned(),
            status: last.status.map(|s| s.as_u16()),
            detail,
            ambiguous: earlier_ambiguous || last.ambiguous,
            attempts,
        }
    }

    /// Removes the token from text that came from a server, in case it was echoed back,
    /// in plain form and as the Basic auth header carries it.
    fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        let (token, basic) = match &self.auth {
            Some(Auth::Bearer(t)) => (t.expose_secret(), None),
            Some(Auth::Basic { username, token }) => {
                let pair = format!("{username}:{}", token.expose_secret());
                let header = base64::engine::general_purpose::STANDARD.encode(pair);
                (token.expose_secret(), Some(header))
            }
            None => return out,
        };
        if !token.is_empty() {
            out = out.replace(token, "<redacted>");
        }
        if let Some(b) = basic {
            out = out.replace(&b, "<redacted>");
        }
        out
    }
}

/// Answers worth asking again: rate limited, or a server or gateway briefly unavailable.
fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// A gateway's 502 or 504 says the server behind it failed or was slow, not that it
/// never saw the request.
fn is_gateway_failure(status: StatusCode) -> bool {
    matches!(status.as_u16(), 502 | 504)
}

fn status_line(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// How long the server asks us to wait, from a retryable answer's headers.
///
/// `Retry-After` (seconds or an HTTP date) comes first: every Atlassian product sends it
/// with a 429, and some with a 503. On a 429 without it: `X-RateLimit-Reset` (Atlassian
/// Cloud sends an ISO 8601 time; others epoch seconds or seconds from now), then Data
/// Center's token bucket, which refills `X-RateLimit-FillRate` tokens every
/// `X-RateLimit-Interval-Seconds`: one token's time. Only on a 429 because some servers
/// send the reset of an hourly window with every answer, which says nothing about when a
/// 503 will pass.
fn server_wait(status: StatusCode, headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(wait) = header("retry-after").and_then(|v| parse_retry_after(v, now)) {
        return Some(wait);
    }
    if status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    if let Some(wait) = header("x-ratelimit-reset").and_then(|v| parse_rate_limit_reset(v, now)) {
        return Some(wait);
    }
    let fill_rate: f64 = header("x-ratelimit-fillrate")?.trim().parse().ok()?;
    let interval: f64 = header("x-ratelimit-interval-seconds")?.trim().parse().ok()?;
    if fill_rate > 0.0 {
        Duration::try_from_secs_f64(interval / fill_rate).ok()
    } else {
        None
    }
}

/// `Retry-After`: delta-seconds or an HTTP date (RFC 9110 §10.2.3). A date in the past
/// means now.
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Digits too many for a u64 are still a (very long) wait.
        return Some(value.parse().map(Duration::from_secs).unwrap_or(Duration::MAX));
    }
    parse_http_date(value).map(|t| until(t, now))
}

/// `X-RateLimit-Reset`: an ISO 8601 time (Atlassian Cloud: `yyyy-MM-ddTHH:mmZ`), or a
/// number: epoch seconds (GitHub and others) when it is large enough to be one, else
/// seconds from now.
fn parse_rate_limit_reset(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(n) = value.parse::<f64>() {
        if !n.is_finite() || n < 0.0 {
            return None;
        }
        // 10^9 seconds is 2001 as a time and 31 years as a wait.
        return if n >= 1e9 {
            let at = SystemTime::UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(n).ok()?)?;
            Some(until(at, now))
        } else {
            Duration::try_from_secs_f64(n).ok()
        };
    }
    parse_iso8601(value).map(|t| until(t, now))
}

fn until(at: SystemTime, now: SystemTime) -> Duration {
    at.duration_since(now).unwrap_or(Duration::ZERO)
}

/// An HTTP date in any of the three forms RFC 9110 §5.6.7 asks recipients to accept:
/// `Sun, 06 Nov 1994 08:49:37 GMT`, `Sunday, 06-Nov-94 08:49:37 GMT` and
/// `Sun Nov  6 08:49:37 1994`. `httpdate` takes years 1970 to 9999 only, so no header can
/// overflow the arithmetic, and refuses a weekday that does not match the date.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(value).ok()
}

/// An ISO 8601 date and time: `2024-05-01T12:34Z`, with optional seconds and fraction, and
/// `Z`, `±HH:MM`, `±HHMM` or `±HH` for the zone (none is read as UTC). `None` for a date
/// alone, a field out of range or a time before 1970; jiff bounds years to ±9999, so a
/// server's header cannot overflow anything.
fn parse_iso8601(value: &str) -> Option<SystemTime> {
    // jiff reads a date alone as its midnight; a reset time names the time of day.
    if !value.contains(['T', 't', ' ']) {
        return None;
    }
    let at = match value.parse::<jiff::Timestamp>() {
        Ok(at) => at,
        // No zone: UTC. jiff refuses to read a civil time from a string with `Z`, and
        // a malformed zone fails both readings.
        Err(_) => jiff::tz::Offset::UTC
            .to_timestamp(value.parse::<jiff::civil::DateTime>().ok()?)
            .ok()?,
    };
    SystemTime::try_from(at).ok().filter(|t| *t >= SystemTime::UNIX_EPOCH)
}

/// A wait as people read it: milliseconds under a second, else whole seconds rounded up.
fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", d.as_secs() + u64::from(d.subsec_nanos() > 0))
    }
}

/// A duration drawn uniformly from `0..=max`. Jitter spreads out clients, it guards
/// nothing: should the operating system's random source fail, no jitter is still a wait.
fn jitter(max: Duration) -> Duration {
    let r = getrandom::u64().unwrap_or(0);
    let nanos = max.as_nanos().saturating_mul(u128::from(r)) / u128::from(u64::MAX);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// `2 * bytes` hex digits from the operating system's random source, for secrets nobody
/// may guess (a sandbox's token, the password of a user created without notification).
pub fn random_hex(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Query parameters whose values are never shown.
const SECRET_PARAMS: &[&str] = &["password"];

fn describe_request(method: &Method, url: &url::Url) -> String {
    let query: Vec<String> = url
        .query_pairs()
        .map(|(k, v)| {
            let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let v = if SECRET_PARAMS.contains(&k.as_ref()) {
                "<redacted>".to_owned()
            } else {
                enc(&v)
            };
            format!("{}={v}", enc(&k))
        })
        .collect();
    if query.is_empty() {
        format!("{method} {}", url.path())
    } else {
        format!("{method} {}?{}", url.path(), query.join("&"))
    }
}

fn describe_transport_error(e: reqwest::Error) -> String {
    // The URL would carry query parameters such as a new user's password: drop it; the
    // error's `request` field names the call.
    let e = e.without_url();
    if e.is_timeout() {
        "the server did not answer in time".to_owned()
    } else if e.is_connect() {
        "cannot connect to the server (is the URL right and the server up?)".to_owned()
    } else {
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        msg
    }
}

fn snippet(body: &str) -> String {
    let trimmed = body.trim();
    let mut out: String = trimmed.chars().take(200).collect();
    if trimmed.chars().count() > 200 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn a_token_is_redacted_plain_and_as_the_basic_header_carries_it() {
        let auth = Auth::Basic {
            username: "admin".into(),
            token: "token".into(),
        };
        let url = url::Url::parse("http://127.0.0.1:1").unwrap();
        let client = HttpClient::new("bb", url, Some(auth), |_| None).unwrap();
        // `YWRtaW46dG9rZW4=` is base64 of `admin:token`.
        assert_eq!(
            client.redact("sent Basic YWRtaW46dG9rZW4= and token"),
            "sent Basic <redacted> and <redacted>"
        );
    }

    #[test]
    fn random_hex_is_as_long_as_asked_and_never_repeats() {
        let a = random_hex(32).unwrap();
        assert_eq!(a.len(), 64);
        assert!(
            a.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "{a}"
        );
        assert_ne!(a, random_hex(32).unwrap());
        assert_eq!(random_hex(0).unwrap(), "");
    }

    #[test]
    fn passwords_are_masked_in_request_descriptions() {
        let url = url::Url::parse("http://h/rest/api/latest/admin/users?name=a&password=hunter2&notify=false").unwrap();
        let shown = describe_request(&Method::POST, &url);
        assert_eq!(
            shown,
            "POST /rest/api/latest/admin/users?name=a&password=<redacted>&notify=false"
        );
        assert!(!shown.contains("hunter2"));
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// 1994-11-06T08:49:37Z, RFC 9110's example date.
    const NOV_6_1994: u64 = 784_111_777;

    #[test]
    fn retry_after_takes_seconds_and_all_three_http_date_forms() {
        let now = at(NOV_6_1994 - 10);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        for date in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_retry_after(date, now), Some(Duration::from_secs(10)), "{date}");
        }
        // A date already past means now.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at(NOV_6_1994 + 5)),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("99999999999999999999999", now), Some(Duration::MAX));
        for junk in [
            "",
            "soon",
            "-5",
            "1.5",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            // The weekday must match the date.
            "Mon, 06 Nov 1994 08:49:37 GMT",
            // Years that would overflow the calendar arithmetic.
            "Sun, 06 Nov 99999999999999 08:49:37 GMT",
            "Sun, 06 Nov -9223372036854775808 08:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(junk, now), None, "{junk:?}");
        }
        for junk in [
            "99999999999999-01-01T00:00Z",
            "-9999999999-01-01T00:00Z",
            "2026-11-23T12:00+99:99",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_iso8601(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn rate_limit_reset_takes_iso_times_epoch_seconds_and_deltas() {
        let now = at(NOV_6_1994 - 37);
        // Atlassian Cloud's form, to the minute.
        assert_eq!(parse_rate_limit_reset("1994-11-06T08:49Z", now), Some(Duration::ZERO));
        assert_eq!(
            parse_rate_limit_reset("1994-11-06T08:50Z", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_rate_limit_reset("1994-11-06T08:49:37Z", now),
            Some(Duration::from_secs(37))
        );
        assert_eq!(
            parse_rate_limit_reset("1994-11-06T08:49:37.500Z", now),
            Some(Duration::from_millis(37_500))
        );
        assert_eq!(
            parse_rate_limit_reset("1994-11-06T10:49:37+02:00", now),
            Some(Duration::from_secs(37))
        );
        assert_eq!(
            parse_rate_limit_reset("1994-11-06T07:49:37-0100", now),
            Some(Duration::from_secs(37))
        );
        assert_eq!(
            parse_rate_limit_reset("1994-11-06T08:49:37", now),
            Some(Duration::from_secs(37))
        );
        // Epoch seconds (GitHub's form) and small numbers as seconds from now.
        let epoch = at(1_700_000_000);
        assert_eq!(
            parse_rate_limit_reset("1700000042", epoch),
            Some(Duration::from_secs(42))
        );
        assert_eq!(parse_rate_limit_reset("1699999999", epoch), Some(Duration::ZERO));
        assert_eq!(parse_rate_limit_reset("30", epoch), Some(Duration::from_secs(30)));
        for junk in [
            "",
            "later",
            "-3",
            "NaN",
            "1994-13-06T08:49Z",
            "1994-11-06",
            "1994-11-06T08:49+5",
        ] {
            assert_eq!(parse_rate_limit_reset(junk, now), None, "{junk:?}");
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_server_wait_prefers_retry_after_and_reads_rate_limit_headers_only_on_429() {
        let now = at(1_700_000_000);
        let tmr = StatusCode::TOO_MANY_REQUESTS;
        let both = headers(&[("retry-after", "3"), ("x-ratelimit-reset", "1700000020")]);
        assert_eq!(server_wait(tmr, &both, now), Some(Duration::from_secs(3)));
        let reset = headers(&[("x-ratelimit-reset", "1700000020")]);
        assert_eq!(server_wait(tmr, &reset, now), Some(Duration::from_secs(20)));
        assert_eq!(server_wait(StatusCode::SERVICE_UNAVAILABLE, &reset, now), None);
        assert_eq!(
            server_wait(StatusCode::SERVICE_UNAVAILABLE, &both, now),
            Some(Duration::from_secs(3))
        );
        // Data Center's bucket: 5 tokens a second is one token every 200 ms.
        let bucket = headers(&[
            ("x-ratelimit-limit", "60"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-fillrate", "5"),
            ("x-ratelimit-interval-seconds", "1"),
        ]);
        assert_eq!(server_wait(tmr, &bucket, now), Some(Duration::from_millis(200)));
        assert_eq!(server_wait(tmr, &HeaderMap::new(), now), None);
    }

    #[test]
    fn waits_grow_with_full_jitter_and_honour_the_server_within_limits() {
        let policy = RetryPolicy::default();
        for retry in 1..=10 {
            let cap = Duration::from_millis(100 * 2u64.pow(retry - 1)).min(policy.max_delay);
            for _ in 0..50 {
                assert!(policy.backoff(retry) <= cap, "retry {retry}");
            }
        }
        // Not every draw is the same (the jitter is real).
        let draws: BTreeSet<Duration> = (0..20).map(|_| policy.backoff(5)).collect();
        assert!(draws.len() > 1);
        let asked = Duration::from_secs(2);
        let wait = policy.wait(1, Some(asked)).unwrap();
        assert!(wait >= asked && wait <= asked + policy.base_delay, "{wait:?}");
        assert_eq!(
            policy.wait(1, Some(Duration::from_secs(61))),
            Err(Duration::from_secs(61))
        );
        assert!(policy.backoff(u32::MAX) <= policy.max_delay);
    }

    #[test]
    fn waits_read_as_people_say_them() {
        assert_eq!(human(Duration::from_millis(250)), "250 ms");
        assert_eq!(human(Duration::from_secs(60)), "60 s");
        assert_eq!(human(Duration::from_millis(1_001)), "2 s");
    }
}
