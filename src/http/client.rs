//! The client one target's provider sends through: authentication, the media type, one
//! attempt on the wire (paced, under the adaptive limit of requests in flight, with a
//! timeout, its answer read within the body cap), the classifier for 2xx answers, request
//! counting, and the mapping of every failure to an [`HttpError`] that names the target
//! and the request and never the token.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::activity::{self, Wait};
use super::body::{self, BodyError, DEFAULT_MAX_BODY, ERROR_BODY_CAP};
use super::classify::Classifier;
use super::concurrency::{Limiter, Place, Reached, Signal};
use super::deadline::{Clock, Deadline, Operation, DEFAULT_DEADLINE, MAX_DEADLINE};
use super::error::{human, ErrorKind, HttpError};
use super::pacing::{Budget, Pacer};
use super::redact::{self, Redactor};
use super::request::{Body, Request};
use super::retry::{retrying, Failed, Failure, RetryPolicy, Stop};

mod builder;
pub use builder::ClientBuilder;

/// How requests authenticate.
#[derive(Clone)]
pub enum Auth {
    Bearer(SecretString),
    Basic {
        username: String,
        token: SecretString,
    },
    /// `Authorization: SCHEME TOKEN` for a vendor scheme of its own (Okta's `SSWS`).
    Scheme {
        scheme: &'static str,
        token: SecretString,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}:<redacted>)"),
            Auth::Scheme { scheme, .. } => write!(f, "{scheme}(<redacted>)"),
        }
    }
}

/// Extracts the vendor's human message from an error body.
pub type ErrorParser = fn(&str) -> Option<String>;

/// The most requests in flight per target unless the provider says otherwise; the
/// adaptive limit stays at or below it.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 8;

/// A 2xx answer: its body and, when the server sent them, its `ETag` and the target of
/// its `Link: <…>; rel="next"` header (RFC 8288; Okta pages this way), and every header
/// as sent, for what only one vendor says there (Buildkite's complexity points).
#[derive(Debug, Clone)]
pub struct Reply {
    pub body: String,
    pub etag: Option<String>,
    pub next_link: Option<String>,
    pub headers: reqwest::header::HeaderMap,
}

pub struct HttpClient {
    target: String,
    base: url::Url,
    auth: Option<Auth>,
    redactor: Redactor,
    client: reqwest::Client,
    parse_error: ErrorParser,
    classifier: Option<Classifier>,
    /// `Accept` and the request body's `Content-Type`.
    media_type: &'static str,
    policy: RetryPolicy,
    /// One place per attempt on the wire; a request waiting to retry holds none.
    limiter: Limiter,
    pacer: Pacer,
    max_body: usize,
    clock: Clock,
    requests: AtomicUsize,
    retries: AtomicUsize,
    /// Successful answers: while they come, a failing read keeps its attempts.
    answered: AtomicUsize,
}

/// The body's start when the provider names no parser.
impl HttpClient {
    pub fn target(&self) -> &str {
        &self.target
    }

    /// How many HTTP requests this client has sent, every attempt counted: the figure the
    /// request-count tests check.
    pub fn request_count(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// How many of those were sent again: retries within a call, and writes a provider
    /// sent again after reading back showed they had not landed.
    pub fn retry_count(&self) -> usize {
        self.retries.load(Ordering::Relaxed)
    }

    /// How many requests were in flight at once, and the adaptive limit now.
    pub fn concurrency(&self) -> Reached {
        self.limiter.reached()
    }

    /// The cap on requests in flight: how many requests a provider need start at once.
    pub fn max_in_flight(&self) -> usize {
        self.limiter.reached().cap
    }

    /// Starts the deadline's clock for `operation` (see [`Operation`]).
    pub fn begin(&self, operation: Operation) {
        self.clock.begin(operation, self.pacer.paced());
    }

    /// A wait the provider made itself for its vendor's quota, from `from` to `until`
    /// (Buildkite's complexity window, which the provider tracks from the answers):
    /// counted as a wait for the budget, so the deadline moves out by it, up to the
    /// maximum.
    pub fn excuse(&self, from: tokio::time::Instant, until: tokio::time::Instant) {
        self.pacer.excuse(from, until);
    }

    /// The latest the operation under way may end, waits for the quota included: a wait
    /// that would end later fails at once instead.
    pub fn latest_end(&self) -> tokio::time::Instant {
        self.deadline().latest()
    }

    /// The deadline of the operation under way, moved out by its waits for the budget so
    /// far.
    fn deadline(&self) -> Deadline {
        self.clock.deadline(self.pacer.paced())
    }

    /// An error for an answer the provider cannot use (not the JSON it expects), or
    /// paging that does not advance.
    pub fn bad_answer(&self, request: &str, detail: impl AsRef<str>) -> HttpError {
        HttpError {
            target: self.target.clone(),
            request: request.to_owned(),
            kind: ErrorKind::BadAnswer,
            status: Some(200),
            detail: self.redactor.scrub(detail.as_ref()),
            ambiguous: false,
            attempts: 1,
        }
    }

    /// Sends a request, retrying as the policy and the request's idempotency allow, and
    /// returns a 2xx answer.
    pub async fn send(&self, request: Request) -> Result<Reply, HttpError> {
        self.send_described(request).await.map(|(reply, _)| reply)
    }

    /// Sends a request and reads the 2xx answer as JSON.
    pub async fn json<T: DeserializeOwned>(&self, request: Request) -> Result<T, HttpError> {
        let (reply, described) = self.send_described(request).await?;
        serde_json::from_str(&reply.body)
            .map_err(|e| self.bad_answer(&described, format!("unexpected response body: {e}")))
    }

    /// The answer, and the request as errors name it.
    async fn send_described(&self, request: Request) -> Result<(Reply, String), HttpError> {
        let url = request.url(&self.base).map_err(|why| HttpError {
            target: self.target.clone(),
            request: format!("{} (a link from the server)", request.method),
            kind: ErrorKind::Setup,
            status: None,
            detail: self.redactor.scrub(&why),
            ambiguous: false,
            attempts: 0,
        })?;
        let described = redact::describe(&request.method, &url);
        if request.resent {
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
        // Starts the clock when no operation has.
        self.deadline();
        let sent = AtomicU32::new(0);
        let on_retry = |failure: &Failure, wait: Duration| {
            tracing::debug!(
                target: "rollcall::http",
                target_name = %self.target,
                request = %described,
                attempt = sent.load(Ordering::Relaxed),
                failure = %failure.detail,
                may_have_been_applied = failure.ambiguous,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "retrying"
            );
            self.retries.fetch_add(1, Ordering::Relaxed);
            activity::waiting(&self.target, Instant::now() + wait, Wait::Retry);
        };
        let attempt = || self.attempt(&request, &url, &described, &sent);
        let answered = || self.answered.load(Ordering::Relaxed);
        let deadline = || self.deadline().at;
        let result = retrying(
            &self.policy,
            request.idempotent,
            &deadline,
            &answered,
            on_retry,
            attempt,
        )
        .await;
        match result {
            Ok(reply) => Ok((reply, described)),
            Err(failed) => Err(self.error(&request.method, &described, failed, sent.load(Ordering::Relaxed))),
        }
    }

    /// Waits for an attempt's turn: its place in the budget's schedule (a wait that moves
    /// the deadline out, up to its maximum), then a place among the requests in flight.
    /// Returns that place, when it was had, and the deadline then.
    async fn turn(&self) -> Result<(Place<'_>, Instant, Deadline), Failure> {
        let slot = self.pacer.reserve(Instant::now());
        if let Some(held) = slot.held.filter(|h| *h > self.policy.max_server_wait) {
            return Err(Failure::before_sending(
                ErrorKind::Throttled,
                format!(
                    "the server said its rate limit is used up for another {}, longer than rollcall waits ({})",
                    human(held),
                    human(self.policy.max_server_wait)
                ),
            ));
        }
        // Read after the reservation, so the wait just begun has moved it out.
        let deadline = self.deadline();
        if deadline.passed(slot.at) {
            return Err(Failure::before_sending(ErrorKind::Deadline, deadline.explain()));
        }
        let why = if slot.held.is_some() {
            Wait::RateLimit
        } else {
            Wait::Budget
        };
        activity::waiting(&self.target, slot.at, why);
        tokio::time::sleep_until(slot.at).await;
        let place = self.limiter.acquire().await;
        let now = Instant::now();
        let deadline = self.deadline();
        if deadline.passed(now) {
            return Err(Failure::before_sending(ErrorKind::Deadline, deadline.explain()));
        }
        Ok((place, now, deadline))
    }

    /// One request on the wire: paced, then holding a permit of the per-target cap until
    /// its body is read.
    async fn attempt(
        &self,
        request: &Request,
        url: &url::Url,
        described: &str,
        sent: &AtomicU32,
    ) -> Result<Reply, Failure> {
        let (mut place, now, deadline) = self.turn().await?;
        // A read cut off by the deadline loses nothing; a write is left to its own
        // timeout, since cutting it off halfway would leave its outcome unknown.
        let timeout = if request.method == Method::GET {
            self.policy.attempt_timeout.min(deadline.at - now)
        } else {
            self.policy.attempt_timeout
        };
        let mut builder = self
            .client
            .request(request.method.clone(), url.clone())
            .header("Accept", self.media_type)
            .timeout(timeout);
        builder = match &self.auth {
            Some(Auth::Bearer(token)) => builder.bearer_auth(token.expose_secret()),
            Some(Auth::Basic { username, token }) => builder.basic_auth(username, Some(token.expose_secret())),
            Some(Auth::Scheme { scheme, token }) => {
                builder.header("Authorization", format!("{scheme} {}", token.expose_secret()))
            }
            None => builder,
        };
        match &request.body {
            Some(Body::Json(body)) => {
                builder = builder.header("Content-Type", self.media_type).body(body.to_string());
            }
            Some(Body::Form(pairs)) => {
                let form: String = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.expose_secret())))
                    .finish();
                builder = builder
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(form);
            }
            None => {}
        }
        if let Some(version) = &request.if_match {
            builder = builder.header("If-Match", version);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        activity::sent(&self.target);
        sent.fetch_add(1, Ordering::Relaxed);
        let mut response = match builder.send().await {
            Ok(response) => response,
            Err(e) => {
                let failure = self.transport_failure(e);
                if failure.retryable {
                    place.report(Signal::Overloaded);
                }
                return Err(failure);
            }
        };
        let status = response.status();
        place.report(if is_retryable(status) {
            Signal::Overloaded
        } else {
            Signal::Answered(now.elapsed())
        });
        tracing::debug!(target: "rollcall::http", target_name = %self.target, request = %described, status = status.as_u16(), "response");
        self.pacer
            .observe(response.headers(), SystemTime::now(), Instant::now());
        let retryable = is_retryable(status);
        let server_wait = if retryable {
            super::rate_limit::retry_wait(status, response.headers(), SystemTime::now())
        } else {
            None
        };
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let next_link = response
            .headers()
            .get_all("link")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(super::paging::next_link);
        if status.is_success() {
            let headers = response.headers().clone();
            let body = self.read_success(&mut response, status).await?;
            if let Some(message) = self.classifier.and_then(|classify| classify(&body)) {
                return Err(Failure {
                    kind: ErrorKind::Rejected,
                    status: Some(status),
                    detail: format!(
                        "{} with errors: {}",
                        status_line(status),
                        redact::mask_params(&self.redactor.scrub(&message), url)
                    ),
                    retryable: false,
                    ambiguous: false,
                    server_wait: None,
                });
            }
            self.answered.fetch_add(1, Ordering::Relaxed);
            return Ok(Reply {
                body,
                etag,
                next_link,
                headers,
            });
        }
        // A failure's status is the answer; its body only carries the message, so a cut
        // off or oversized one still leaves the status to report.
        let message = match body::read_start(&mut response, ERROR_BODY_CAP).await {
            Ok(text) => {
                // Scrub before cutting, so a token split by the cut cannot slip through.
                let text = redact::mask_params(&self.redactor.scrub(&text), url);
                (self.parse_error)(&text).unwrap_or_else(|| redact::snippet(&text))
            }
            Err(e) => format!(
                "(the message was cut off: {})",
                self.redactor.scrub(&describe_transport_error(e))
            ),
        };
        Err(Failure {
            kind: ErrorKind::Status,
            status: Some(status),
            detail: format!(
                "{}{}{}",
                status_line(status),
                if message.is_empty() { "" } else { ": " },
                message
            ),
            retryable,
            ambiguous: is_gateway_failure(status),
            server_wait,
        })
    }

    /// A 2xx body, read as it streams in and refused past the cap.
    async fn read_success(&self, response: &mut reqwest::Response, status: StatusCode) -> Result<String, Failure> {
        match body::read_whole(response, self.max_body).await {
            Ok(body) => Ok(body),
            Err(BodyError::TooLarge) => Err(Failure::before_sending(
                ErrorKind::TooLarge,
                format!(
                    "{} but the answer is larger than {}, the most rollcall reads from one answer",
                    status_line(status),
                    body::size(self.max_body)
                ),
            )),
            // A success whose body was cut off was applied all the same, and its body is
            // needed: ask again.
            Err(BodyError::Cut(e)) => Err(Failure {
                kind: ErrorKind::Transport,
                status: None,
                detail: format!(
                    "{} but the answer was cut off: {}",
                    status_line(status),
                    self.redactor.scrub(&describe_transport_error(e))
                ),
                retryable: true,
                ambiguous: true,
                server_wait: None,
            }),
        }
    }

    fn transport_failure(&self, e: reqwest::Error) -> Failure {
        // Builder errors are ours and will not get better; a refused or failed connection
        // sent nothing; anything else (reset, closed before the answer, timeout) may have
        // come after the server read the request.
        let (retryable, ambiguous) = if e.is_builder() || e.is_redirect() {
            (false, false)
        } else if e.is_connect() {
            (true, false)
        } else {
            (true, true)
        };
        Failure {
            kind: ErrorKind::Transport,
            status: None,
            detail: self.redactor.scrub(&describe_transport_error(e)),
            retryable,
            ambiguous,
            server_wait: None,
        }
    }

    /// The error for the last attempt, with a word on the attempts before it.
    fn error(&self, method: &Method, request: &str, failed: Failed, attempts: u32) -> HttpError {
        let Failed {
            last,
            stop,
            earlier_ambiguous,
        } = failed;
        let mut kind = last.kind;
        let mut detail = last.detail;
        let sent_this_one = !matches!(last.kind, ErrorKind::Deadline | ErrorKind::Throttled | ErrorKind::Setup);
        match stop {
            Stop::Final if attempts > 1 && sent_this_one => detail.push_str(&format!("; on attempt {attempts}")),
            Stop::Final => {}
            Stop::MayHaveBeenApplied => kind = ErrorKind::MayHaveBeenApplied,
            Stop::GaveUp if attempts > 1 => detail.push_str(&format!("; gave up after {attempts} attempts")),
            Stop::GaveUp => {}
            Stop::ServerWaitTooLong(asked) => {
                kind = ErrorKind::Throttled;
                detail.push_str(&format!(
                    "; the server asks to wait {} before trying again, longer than rollcall waits ({})",
                    human(asked),
                    human(self.policy.max_server_wait)
                ));
            }
            Stop::Deadline(wait) => {
                kind = ErrorKind::Deadline;
                detail.push_str(&format!(
                    "; not tried again: waiting {} more would pass the deadline ({})",
                    human(wait),
                    self.deadline().explain()
                ));
            }
        }
        // A read changes nothing, so "applied" means nothing for it: say only that an
        // attempt went unanswered.
        let read = method.is_safe();
        let note = if read {
            earlier_ambiguous
                .then_some("; an earlier attempt got no answer (a read changes nothing, so it was asked again)")
        } else if earlier_ambiguous {
            Some("; an earlier attempt may have been applied")
        } else if stop == Stop::MayHaveBeenApplied {
            Some("; the request may have been applied, so it was not sent again")
        } else if last.ambiguous {
            Some("; the request may have been applied")
        } else {
            None
        };
        detail.push_str(note.unwrap_or_default());
        HttpError {
            target: self.target.clone(),
            request: request.to_owned(),
            kind,
            status: last.status.map(|s| s.as_u16()),
            detail,
            ambiguous: earlier_ambiguous || last.ambiguous,
            attempts,
        }
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

#[cfg(test)]
mod tests {
    use futures_util::stream::{self, StreamExt, TryStreamExt};

    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    /// A client paced as Bitbucket Cloud's (1,000 an hour: a burst of 50, then 950), with
    /// the default deadline (15 min) and `max` in all. Nothing here reaches its address.
    fn paced(max: Duration) -> HttpClient {
        HttpClient::builder("bb", url::Url::parse("http://127.0.0.1:9/").unwrap())
            .budget(Budget::rolling(1000, HOUR, 50))
            .max_deadline(max)
            .build()
            .unwrap()
    }

    /// A read of `n` requests, as many at once as the client allows, each answered
    /// 400 ms after its turn comes: how many were answered, and the failure that
    /// stopped the rest.
    async fn read(client: &HttpClient, n: usize) -> (usize, Option<Failure>) {
        client.begin(Operation::Read);
        let answered = AtomicUsize::new(0);
        let result: Result<Vec<()>, Failure> = stream::iter(0..n)
            .map(|_| async {
                let (mut place, _, _) = client.turn().await?;
                tokio::time::sleep(Duration::from_millis(400)).await;
                place.report(Signal::Answered(Duration::from_millis(400)));
                answered.fetch_add(1, Ordering::Relaxed);
                Ok(())
            })
            .buffer_unordered(client.max_in_flight())
            .try_collect()
            .await;
        (answered.load(Ordering::Relaxed), result.err())
    }

    #[tokio::test(start_paused = true)]
    async fn a_paced_read_longer_than_the_deadline_completes() {
        let client = paced(MAX_DEADLINE);
        let start = Instant::now();
        // A whole hour's quota: about an hour at the budget's pace, four times the 15 min
        // deadline, almost all of it waiting for the budget.
        let (answered, failure) = read(&client, 1000).await;
        assert!(failure.is_none(), "{failure:?}");
        assert_eq!(answered, 1000);
        let took = start.elapsed();
        assert!(
            took > Duration::from_secs(59 * 60) && took < Duration::from_secs(61 * 60),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_maximum_stops_a_paced_read_however_well_it_goes() {
        let client = paced(Duration::from_secs(30 * 60));
        let start = Instant::now();
        let (answered, failure) = read(&client, 1000).await;
        let failure = failure.expect("stopped at the maximum");
        assert_eq!(failure.kind, ErrorKind::Deadline);
        assert_eq!(
            failure.detail,
            "deadline passed: reading this target has taken 30 min, the most one operation may take even while it waits for the request budget (30 min of it went to those waits); do less in one run: split the work over several targets or runs"
        );
        // The burst, then one every 3.79 s for 30 min; a wait that would end past the
        // maximum is not begun, so the read stops a few places short of it.
        assert!((500..=525).contains(&answered), "{answered}");
        let took = start.elapsed();
        assert!(
            took > Duration::from_secs(29 * 60) && took <= Duration::from_secs(30 * 60),
            "{took:?}"
        );
    }

    /// A request waiting for its turn in the budget shows as a wait on the read's line,
    /// while a display watches.
    #[tokio::test(start_paused = true)]
    async fn a_wait_for_the_budget_is_seen_by_a_watching_display() {
        use super::super::activity::{self, Role, Wait, Watch};
        let name = "client-test-paced";
        let client = HttpClient::builder(name, url::Url::parse("http://127.0.0.1:9/").unwrap())
            .budget(Budget::per(1, Duration::from_secs(10)))
            .build()
            .unwrap();
        let watch = Watch::open();
        activity::begin(name, Role::Target);
        let start = Instant::now();
        let seen = || activity::snapshot().into_iter().find(|s| s.name == name).unwrap();
        // The first request goes at once; the second waits 10 s for its place.
        let turns = async {
            client.turn().await.map(drop)?;
            client.turn().await.map(drop)
        };
        let look = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            seen().waiting
        };
        let (turns, during) = tokio::join!(turns, look);
        assert!(turns.is_ok());
        assert_eq!(during, Some((start + Duration::from_secs(10), Wait::Budget)));
        assert_eq!(Instant::now() - start, Duration::from_secs(10));
        assert_eq!(seen().waiting, None, "the wait is over");
        drop(watch);
    }
}
