//! The shared HTTP client against a scripted server over real TCP: what it retries and
//! what it does not (a write not safe to send twice is never sent again once it may have
//! landed), how long it waits, what an error says after retries (including whether an
//! earlier attempt may have been applied), the cap on requests in flight and on the size
//! of an answer, the classifier, the deadline, a used-up quota, and that neither errors
//! nor log lines show the token.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use rollcall::http::{Auth, ErrorKind, HttpClient, HttpError, Idempotent, Request, RetryPolicy};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const TOKEN: &str = "s3cr3t-token-value-for-tests";

/// What the server does with the next request it reads.
#[derive(Clone)]
enum Step {
    /// Answers with a status, extra headers and a body.
    Answer(u16, Vec<(&'static str, &'static str)>, String),
    /// Closes the connection without answering.
    Drop,
    /// Answers 200 with a body shorter than its `Content-Length`, then closes.
    CutOff,
    /// Waits, then answers with an empty body.
    Slow(Duration, u16),
    /// Answers 200 without a `Content-Length` and sends up to this many bytes, until the
    /// client hangs up.
    Endless(usize),
}

fn answer(status: u16, body: &str) -> Step {
    Step::Answer(status, vec![], body.to_owned())
}

/// A tiny HTTP/1.1 server that plays a script, one step per request in arrival order,
/// then `fallback` for every request after that. One connection per request.
struct Server {
    url: url::Url,
    arrivals: Arc<Mutex<Vec<(Instant, String)>>>,
    max_in_flight: Arc<AtomicUsize>,
    /// Body bytes written by `Endless` steps.
    written: Arc<AtomicUsize>,
}

impl Server {
    async fn start(script: Vec<Step>, fallback: Step) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = url::Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let written = Arc::new(AtomicUsize::new(0));
        let server = Server {
            url,
            arrivals: arrivals.clone(),
            max_in_flight: max_in_flight.clone(),
            written: written.clone(),
        };
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (script, arrivals) = (script.clone(), arrivals.clone());
                let (in_flight, max_in_flight, fallback) = (in_flight.clone(), max_in_flight.clone(), fallback.clone());
                let written = written.clone();
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    let Some(request_line) = read_request(&mut stream).await else {
                        return;
                    };
                    let step = {
                        // Taken under the same lock as the arrival is logged, so steps
                        // follow arrival order.
                        let mut arrivals = arrivals.lock().unwrap();
                        arrivals.push((Instant::now(), request_line));
                        script.lock().unwrap().pop_front().unwrap_or(fallback)
                    };
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    max_in_flight.fetch_max(now, Ordering::SeqCst);
                    play(step, stream.get_mut(), &in_flight, &written).await;
                });
            }
        });
        server
    }

    fn client(&self, policy: RetryPolicy) -> HttpClient {
        self.builder(policy).build().unwrap()
    }

    fn builder(&self, policy: RetryPolicy) -> rollcall::http::ClientBuilder {
        HttpClient::builder("bb", self.url.clone())
            .auth(Some(Auth::Bearer(TOKEN.into())))
            .error_parser(vendor_message)
            .retry_policy(policy)
    }

    fn arrivals(&self) -> Vec<(Instant, String)> {
        self.arrivals.lock().unwrap().clone()
    }
}

/// The vendor's message is the whole body here.
fn vendor_message(body: &str) -> Option<String> {
    (!body.is_empty()).then(|| body.to_owned())
}

/// Reads one request (head and `Content-Length` body); returns its request line.
async fn read_request(stream: &mut BufReader<TcpStream>) -> Option<String> {
    let mut request_line = String::new();
    stream.read_line(&mut request_line).await.ok()?;
    let mut length = 0;
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.ok()?;
    Some(request_line.trim_end().to_owned())
}

async fn play(step: Step, stream: &mut TcpStream, in_flight: &AtomicUsize, written: &AtomicUsize) {
    // Counted out before the answer goes: the client may start its next request as soon
    // as it has read this one.
    let done = || in_flight.fetch_sub(1, Ordering::SeqCst);
    let (status, headers, body) = match step {
        Step::Answer(status, headers, body) => (status, headers, body),
        Step::Drop => {
            done();
            return;
        }
        Step::CutOff => {
            done();
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"partial")
                .await;
            let _ = stream.flush().await;
            return;
        }
        Step::Slow(delay, status) => {
            tokio::time::sleep(delay).await;
            (status, vec![], String::new())
        }
        Step::Endless(limit) => {
            done();
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = vec![b' '; 64 * 1024];
            while written.load(Ordering::SeqCst) < limit {
                // Fails once the client has hung up.
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
                written.fetch_add(chunk.len(), Ordering::SeqCst);
            }
            return;
        }
    };
    done();
    let mut head = format!(
        "HTTP/1.1 {status} Scripted\r\nContent-Length: {}\r\nContent-Type: text/plain\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Four attempts with millisecond backoff, so tests that retry stay fast.
fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_server_wait: Duration::from_secs(5),
        attempt_timeout: Duration::from_secs(5),
    }
}

/// A create: not safe to send twice.
async fn create(client: &HttpClient) -> Result<String, HttpError> {
    let request = Request::new(Method::POST, "/admin/groups", Idempotent::No).query("name", "devs");
    client.send(request).await.map(|reply| reply.body)
}

/// A delete: safe to send twice (the second answers 404).
async fn delete(client: &HttpClient) -> Result<String, HttpError> {
    let request = Request::new(Method::DELETE, "/admin/groups", Idempotent::Yes).query("name", "devs");
    client.send(request).await.map(|reply| reply.body)
}

async fn get(client: &HttpClient, path: &str) -> Result<String, HttpError> {
    client.send(Request::get(path)).await.map(|reply| reply.body)
}

#[tokio::test]
async fn a_503_then_success_is_one_retry() {
    let server = Server::start(vec![answer(503, "busy"), answer(200, "ok")], answer(500, "")).await;
    let client = server.client(quick());
    let body = get(&client, "/admin/users").await.unwrap();
    assert_eq!(body, "ok");
    assert_eq!((client.request_count(), client.retry_count()), (2, 1));
}

#[tokio::test]
async fn retry_after_is_waited_out() {
    let rate_limited = Step::Answer(429, vec![("Retry-After", "1")], "slow down".to_owned());
    let server = Server::start(vec![rate_limited, answer(200, "ok")], answer(500, "")).await;
    let client = server.client(quick());
    get(&client, "/admin/users").await.unwrap();
    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), 2);
    let gap = arrivals[1].0 - arrivals[0].0;
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
    assert!(gap < Duration::from_secs(3), "retried after {gap:?}");
}

#[tokio::test]
async fn a_longer_wait_than_allowed_fails_at_once_and_says_so() {
    let told = Step::Answer(429, vec![("Retry-After", "3600")], "come back later".to_owned());
    let server = Server::start(vec![told], answer(200, "ok")).await;
    let client = server.client(quick());
    let started = Instant::now();
    let e = get(&client, "/admin/users").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!((e.status, e.attempts, e.ambiguous), (Some(429), 1, false));
    assert_eq!(e.kind, ErrorKind::Throttled);
    let text = e.to_string();
    assert!(
        text.contains("asks to wait 60 min before trying again, longer than rollcall waits (5 s)"),
        "{text}"
    );
    assert!(text.contains("come back later"), "{text}");
    assert_eq!(client.request_count(), 1);
}

#[tokio::test]
async fn a_used_up_quota_holds_the_next_request_and_too_long_a_hold_fails_it_at_once() {
    // The answer succeeds but says nothing is left until the reset in an hour: the next
    // request is not sent into a certain 429.
    let used_up = Step::Answer(
        200,
        vec![("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "3600")],
        "[]".to_owned(),
    );
    let server = Server::start(vec![used_up], answer(200, "ok")).await;
    let client = server.client(quick());
    get(&client, "/first").await.unwrap();
    let e = get(&client, "/second").await.unwrap_err();
    assert_eq!((e.kind, e.attempts), (ErrorKind::Throttled, 0), "{e}");
    let text = e.to_string();
    assert!(
        text.starts_with("bb: GET /second failed: the server said its rate limit is used up for another ")
            && text.ends_with(", longer than rollcall waits (5 s)"),
        "{text}"
    );
    assert_eq!(client.request_count(), 1);
    assert_eq!(server.arrivals().len(), 1);
}

#[tokio::test]
async fn a_write_not_safe_to_repeat_is_not_sent_again_after_its_connection_dropped() {
    for lost in [
        Step::Drop,
        Step::CutOff,
        answer(502, "bad gateway"),
        answer(504, "gateway timeout"),
    ] {
        let server = Server::start(vec![lost], answer(409, "A group named devs exists")).await;
        let client = server.client(quick());
        let e = create(&client).await.unwrap_err();
        assert!(e.may_have_been_applied(), "{e}");
        assert_eq!(
            (e.kind, e.ambiguous, e.attempts),
            (ErrorKind::MayHaveBeenApplied, true, 1)
        );
        let text = e.to_string();
        assert!(text.contains("POST /admin/groups?name=devs"), "{text}");
        assert!(
            text.ends_with("the request may have been applied, so it was not sent again"),
            "{text}"
        );
        assert_eq!((client.request_count(), client.retry_count()), (1, 0));
        assert_eq!(server.arrivals().len(), 1, "sent once");
    }
}

#[tokio::test]
async fn a_write_not_safe_to_repeat_is_sent_again_when_nothing_was_applied() {
    // A 503 and a 429 say the request was not handled: sending it again is safe.
    let busy = Step::Answer(429, vec![("Retry-After", "0")], "slow down".to_owned());
    let server = Server::start(vec![answer(503, "busy"), busy], answer(201, "created")).await;
    let client = server.client(quick());
    assert_eq!(create(&client).await.unwrap(), "created");
    assert_eq!((client.request_count(), client.retry_count()), (3, 2));
}

#[tokio::test]
async fn a_dropped_connection_then_404_on_a_delete_is_ambiguous() {
    let server = Server::start(vec![Step::Drop, answer(404, "No group devs")], answer(500, "")).await;
    let client = server.client(quick());
    let e = delete(&client).await.unwrap_err();
    assert!(e.is_status(404), "{e}");
    assert!(e.ambiguous && !e.may_have_been_applied(), "{e}");
    assert_eq!(e.attempts, 2);
    let text = e.to_string();
    assert!(text.contains("an earlier attempt may have been applied"), "{text}");
    assert!(text.contains("DELETE /admin/groups?name=devs"), "{text}");
    assert_eq!((client.request_count(), client.retry_count()), (2, 1));
}

#[tokio::test]
async fn an_answer_cut_off_is_asked_again_and_makes_a_later_404_ambiguous() {
    let server = Server::start(vec![Step::CutOff, answer(200, "whole")], answer(500, "")).await;
    let client = server.client(quick());
    assert_eq!(get(&client, "/x").await.unwrap(), "whole");
    assert_eq!(client.retry_count(), 1);

    let server = Server::start(vec![Step::CutOff, answer(404, "gone")], answer(500, "")).await;
    let e = delete(&server.client(quick())).await.unwrap_err();
    assert!(e.is_status(404) && e.ambiguous, "{e}");
}

#[tokio::test]
async fn a_failed_read_after_a_lost_answer_does_not_speak_of_being_applied() {
    for lost in [Step::Drop, Step::CutOff, answer(502, "bad gateway")] {
        let server = Server::start(vec![lost, answer(404, "No such group")], answer(500, "")).await;
        let e = get(&server.client(quick()), "/x").await.unwrap_err();
        assert!(e.is_status(404), "{e}");
        let text = e.to_string();
        assert!(!text.contains("applied"), "{text}");
        assert!(
            text.ends_with("an earlier attempt got no answer (a read changes nothing, so it was asked again)"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_timeout_after_sending_is_retried_when_safe_and_reported_when_not() {
    let policy = RetryPolicy {
        attempt_timeout: Duration::from_millis(200),
        ..quick()
    };
    let server = Server::start(
        vec![Step::Slow(Duration::from_secs(2), 204), answer(404, "gone")],
        answer(500, ""),
    )
    .await;
    let e = delete(&server.client(policy.clone())).await.unwrap_err();
    assert!(e.is_status(404) && e.ambiguous, "{e}");
    assert_eq!(e.attempts, 2);

    let server = Server::start(vec![Step::Slow(Duration::from_secs(2), 204)], answer(409, "exists")).await;
    let e = create(&server.client(policy)).await.unwrap_err();
    assert!(e.may_have_been_applied(), "{e}");
    assert!(e.to_string().contains("did not answer in time"), "{e}");
    assert_eq!(e.attempts, 1);
}

#[tokio::test]
async fn a_gateway_failure_is_ambiguous_and_a_503_is_not() {
    for (first, ambiguous) in [(502, true), (504, true), (503, false), (429, false)] {
        let server = Server::start(vec![answer(first, "upstream"), answer(404, "gone")], answer(500, "")).await;
        let e = delete(&server.client(quick())).await.unwrap_err();
        assert!(e.is_status(404), "{e}");
        assert_eq!(e.ambiguous, ambiguous, "after {first}: {e}");
        assert_eq!(e.attempts, 2, "{e}");
        if !ambiguous {
            assert!(!e.to_string().contains("may have been applied"), "{e}");
        }
    }
}

#[tokio::test]
async fn a_refused_connection_is_retried_and_not_ambiguous() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let client = HttpClient::builder("bb", url)
        .auth(Some(Auth::Bearer(TOKEN.into())))
        .retry_policy(quick())
        .build()
        .unwrap();
    let e = create(&client).await.unwrap_err();
    assert_eq!((e.status, e.ambiguous, e.attempts), (None, false, 4), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("cannot connect") && text.contains("gave up after 4 attempts"),
        "{text}"
    );
    assert_eq!((client.request_count(), client.retry_count()), (4, 3));
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    for status in [400, 401, 403, 404, 409, 500] {
        let server = Server::start(vec![answer(status, "no")], answer(200, "ok")).await;
        let client = server.client(quick());
        let e = create(&client).await.unwrap_err();
        assert_eq!((e.status, e.attempts, e.ambiguous), (Some(status), 1, false), "{e}");
        assert_eq!((client.request_count(), client.retry_count()), (1, 0), "{status}");
        assert!(!e.to_string().contains("attempt"), "{e}");
    }
}

#[tokio::test]
async fn it_gives_up_after_the_last_attempt_and_names_the_count() {
    let server = Server::start(vec![], answer(503, "maintenance")).await;
    let client = server.client(quick());
    let e = get(&client, "/admin/users").await.unwrap_err();
    assert_eq!((e.status, e.attempts, e.ambiguous), (Some(503), 4, false));
    let text = e.to_string();
    assert!(
        text.contains("HTTP 503 Service Unavailable: maintenance; gave up after 4 attempts"),
        "{text}"
    );
    assert_eq!((client.request_count(), client.retry_count()), (4, 3));
    assert_eq!(server.arrivals().len(), 4);
}

#[tokio::test]
async fn no_more_requests_are_in_flight_than_the_cap() {
    let server = Server::start(vec![], Step::Slow(Duration::from_millis(50), 200)).await;
    let client = server.builder(quick()).max_in_flight(3).build().unwrap();
    let sends = (0..20).map(|i| {
        let client = &client;
        async move { get(client, &format!("/users/{i}")).await }
    });
    for result in futures_util::future::join_all(sends).await {
        result.unwrap();
    }
    assert_eq!(server.arrivals().len(), 20);
    let max = server.max_in_flight.load(Ordering::SeqCst);
    // At least two shows that requests did run side by side.
    assert!((2..=3).contains(&max), "{max} in flight at once");
}

#[tokio::test]
async fn a_request_waiting_to_retry_does_not_hold_its_place() {
    let wait = Step::Answer(503, vec![("Retry-After", "1")], String::new());
    let server = Server::start(vec![wait], answer(200, "ok")).await;
    let client = server.builder(quick()).max_in_flight(1).build().unwrap();
    let slow = get(&client, "/first");
    let quick_one = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        get(&client, "/second").await.unwrap();
        started.elapsed()
    };
    let (slow, took) = tokio::join!(slow, quick_one);
    slow.unwrap();
    assert!(took < Duration::from_millis(500), "the second request waited {took:?}");
}

#[tokio::test]
async fn a_token_echoed_by_the_server_is_not_in_the_error() {
    let echo = format!("bad credentials: Bearer {TOKEN}");
    let server = Server::start(vec![], answer(503, &echo)).await;
    for auth in [
        Auth::Bearer(TOKEN.into()),
        Auth::Basic {
            username: "admin".into(),
            token: TOKEN.into(),
        },
    ] {
        let client = HttpClient::builder("bb", server.url.clone())
            .auth(Some(auth))
            .error_parser(vendor_message)
            .retry_policy(quick())
            .build()
            .unwrap();
        let e = get(&client, "/admin/users").await.unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(TOKEN), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}

thread_local! {
    /// Log lines of the test running on this thread, when it asked for them.
    static CAPTURED: std::cell::RefCell<Option<Vec<u8>>> = const { std::cell::RefCell::new(None) };
}

/// Writes a log line into this thread's capture, or nowhere.
struct ThreadCapture;

impl std::io::Write for ThreadCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED.with_borrow_mut(|c| {
            if let Some(c) = c {
                c.extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures what rollcall logs on this thread from here on. One global subscriber serves
/// the whole test binary: a scoped (`set_default`) one races with callsites first hit on
/// other test threads, whose cached "nobody listens" then hides the events from it.
fn capture_logs() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("rollcall=debug")
            .with_ansi(false)
            .with_writer(|| ThreadCapture)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
    CAPTURED.with_borrow_mut(|c| *c = Some(Vec::new()));
}

fn captured_logs() -> String {
    let bytes = CAPTURED.with_borrow_mut(|c| c.take().unwrap_or_default());
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn retries_are_logged_without_the_token_or_secret_parameters() {
    // The test runtime is single-threaded, so this thread's capture sees every event.
    capture_logs();

    // A server that quotes the request back, password and all.
    let echo = format!("token {TOKEN} is rate limited; password=hunter2 was not checked");
    let server = Server::start(vec![answer(503, &echo), Step::Drop], answer(204, "")).await;
    let client = server.client(quick());
    let request = Request::new(Method::PUT, "/admin/users/credentials", Idempotent::Yes)
        .query("name", "erin")
        .query("password", "hunter2");
    client.send(request).await.unwrap();
    let log = captured_logs();
    assert_eq!(log.matches("retrying").count(), 2, "{log}");
    assert!(log.contains("target_name=bb"), "{log}");
    assert!(
        log.contains("PUT /admin/users/credentials?name=erin&password=<redacted>"),
        "{log}"
    );
    assert!(log.contains("HTTP 503"), "{log}");
    assert!(log.contains("wait_ms="), "{log}");
    assert!(!log.contains(TOKEN), "{log}");
    assert!(!log.contains("hunter2"), "{log}");
}

#[tokio::test]
async fn an_answer_larger_than_the_cap_is_refused_naming_the_target_and_the_limit() {
    let big = "x".repeat(4096);
    let server = Server::start(vec![answer(200, &big)], answer(200, "ok")).await;
    let client = server.builder(quick()).max_body(1024).build().unwrap();
    let e = get(&client, "/admin/users").await.unwrap_err();
    assert_eq!((e.kind, e.attempts), (ErrorKind::TooLarge, 1));
    assert_eq!(
        e.to_string(),
        "bb: GET /admin/users failed: HTTP 200 OK but the answer is larger than 1 KiB, the most rollcall reads from one answer"
    );
    // At the cap exactly is fine.
    let server = Server::start(vec![answer(200, &big)], answer(200, "ok")).await;
    let client = server.builder(quick()).max_body(4096).build().unwrap();
    assert_eq!(get(&client, "/admin/users").await.unwrap().len(), 4096);
}

#[tokio::test]
async fn an_answer_without_a_length_is_read_only_up_to_the_cap() {
    // 256 MiB offered without a Content-Length: the client stops at its 1 MiB cap and
    // hangs up, so the server never gets to write most of it.
    let offered = 256 * 1024 * 1024;
    let server = Server::start(vec![Step::Endless(offered)], answer(200, "ok")).await;
    let client = server.builder(quick()).max_body(1024 * 1024).build().unwrap();
    let e = get(&client, "/huge").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooLarge, "{e}");
    assert!(e.to_string().contains("larger than 1 MiB"), "{e}");
    // Let the server notice the hang-up.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let written = server.written.load(Ordering::SeqCst);
    assert!(written < offered / 4, "the server wrote {written} bytes");
}

#[tokio::test]
async fn a_200_carrying_graphql_errors_is_an_error_with_the_vendors_message() {
    let body = r#"{"data":null,"errors":[{"message":"Query has complexity of 60000, which exceeds max complexity of 50000"}]}"#;
    let server = Server::start(vec![answer(200, body)], answer(200, "{}")).await;
    let client = server
        .builder(quick())
        .classifier(rollcall::http::graphql_errors)
        .build()
        .unwrap();
    let query =
        Request::new(Method::POST, "/graphql", Idempotent::Yes).json(serde_json::json!({"query": "{ viewer { id } }"}));
    let e = client.send(query).await.unwrap_err();
    assert_eq!((e.kind, e.status, e.attempts), (ErrorKind::Rejected, Some(200), 1));
    assert_eq!(
        e.to_string(),
        "bb: POST /graphql failed: HTTP 200 OK with errors: Query has complexity of 60000, which exceeds max complexity of 50000"
    );
    // Not retried: the server answered.
    assert_eq!((client.request_count(), client.retry_count()), (1, 0));
    // Without the classifier the same answer is data.
    let server = Server::start(vec![answer(200, body)], answer(200, "{}")).await;
    assert_eq!(get(&server.client(quick()), "/graphql").await.unwrap(), body);
}

#[tokio::test]
async fn past_the_deadline_nothing_is_sent_and_the_error_names_the_target() {
    let server = Server::start(vec![], answer(200, "ok")).await;
    let client = server.builder(quick()).deadline(Duration::ZERO).build().unwrap();
    client.begin(rollcall::http::Operation::Read);
    let e = get(&client, "/admin/users").await.unwrap_err();
    assert_eq!((e.kind, e.attempts), (ErrorKind::Deadline, 0));
    assert_eq!(
        e.to_string(),
        "bb: GET /admin/users failed: deadline passed: reading this target has taken the 0 ms one operation may take; the time went to slow answers, retries and waits the server asked for: try again when it answers promptly"
    );
    assert_eq!(client.request_count(), 0);
    assert!(server.arrivals().is_empty());
}

#[tokio::test]
async fn a_link_to_another_host_is_not_followed() {
    let server = Server::start(vec![], answer(200, "ok")).await;
    let client = server.client(quick());
    let e = client
        .send(Request::link("https://elsewhere.example/2.0/users?page=2"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Setup);
    assert!(e.detail.contains("rollcall sends the token only to the target"), "{e}");
    assert_eq!(client.request_count(), 0);
    // A link on the target's own origin is followed.
    let own = format!("{}users?page=2", server.url);
    assert_eq!(client.send(Request::link(own)).await.unwrap().body, "ok");
    assert_eq!(server.arrivals()[0].1, "GET /users?page=2 HTTP/1.1");
}
