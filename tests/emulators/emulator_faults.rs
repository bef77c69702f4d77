//! Faults on demand in the Bitbucket Data Center emulator, over real HTTP: determinism for
//! a seed, rates over many requests, what a 429, a 503 and a dropped connection look like
//! to a client, whether the state changed behind a dropped connection, the state file's
//! `faults` section and the `ROLLCALL_SANDBOX_FAULTS` override through the binary.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use rollcall::sandbox::bitbucket_dc::{serve, RunningEmulator, Shared};
use rollcall::sandbox::faults::{Fault, FaultConfig, FaultCounts, FaultError};
use rollcall::sandbox::state::{DcState, StateFile as _};
use serde_json::Value;

const TOKEN: &str = "sandbox-token";

const SEED: &str = r#"
operator: admin
users:
  admin: { display_name: Site Admin, email: admin@example.com }
  alice: { display_name: Alice Able, email: alice@example.com }
groups:
  sysadmins: [admin]
global:
  groups: { sysadmins: SYS_ADMIN }
"#;

fn seed_state() -> DcState {
    DcState::parse(SEED).unwrap()
}

fn faults(seed: u64, rate_limited: f64, unavailable: f64, dropped: f64) -> FaultConfig {
    FaultConfig {
        seed,
        rate_limited,
        unavailable,
        dropped,
        ..FaultConfig::default()
    }
}

async fn start(config: FaultConfig) -> RunningEmulator {
    let shared = Shared::new(seed_state(), TOKEN.to_owned());
    shared.instruments().set_faults(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(shared, listener).await.unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn url(emulator: &RunningEmulator, path: &str) -> String {
    format!("{}/rest/api/latest{path}", emulator.base_url)
}

/// What a client can observe of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Status(u16),
    TransportError,
}

/// Sends one request and reads the whole answer; a dropped connection is a transport
/// error, whether it shows when sending or when reading the body.
async fn send(http: &reqwest::Client, emulator: &RunningEmulator, method: Method, path: &str) -> Seen {
    let Ok(response) = http
        .request(method, url(emulator, path))
        .bearer_auth(TOKEN)
        .send()
        .await
    else {
        return Seen::TransportError;
    };
    let status = response.status().as_u16();
    match response.bytes().await {
        Ok(_) => Seen::Status(status),
        Err(_) => Seen::TransportError,
    }
}

/// What the client should see for a fault the configuration predicts.
fn expected(fault: Option<Fault>) -> Seen {
    match fault {
        None => Seen::Status(200),
        Some(Fault::RateLimited) => Seen::Status(429),
        Some(Fault::Unavailable) => Seen::Status(503),
        Some(Fault::DroppedBefore | Fault::DroppedAfter) => Seen::TransportError,
    }
}

/// The first seed whose first request gets `fault`.
fn seed_where_first_is(base: &FaultConfig, fault: Fault) -> u64 {
    (0..10_000)
        .find(|&seed| FaultConfig { seed, ..base.clone() }.fault_for(0) == Some(fault))
        .unwrap()
}

async fn run_sequence(config: &FaultConfig, n: usize) -> (Vec<Seen>, FaultCounts) {
    let emulator = start(config.clone()).await;
    let http = client();
    let mut seen = Vec::with_capacity(n);
    for _ in 0..n {
        seen.push(send(&http, &emulator, Method::GET, "/admin/groups").await);
    }
    let counts = emulator.shared.instruments().fault_counts();
    emulator.shutdown().await;
    (seen, counts)
}

#[tokio::test]
async fn the_same_seed_gives_the_same_faults() {
    let config = faults(7, 0.2, 0.2, 0.2);
    let (first, first_counts) = run_sequence(&config, 120).await;
    let (second, second_counts) = run_sequence(&config, 120).await;
    assert_eq!(first, second);
    assert_eq!(first_counts, second_counts);
    // And the sequence is the one the configuration predicts, request by request.
    let predicted: Vec<Seen> = (0..120).map(|n| expected(config.fault_for(n))).collect();
    assert_eq!(first, predicted);
    // Another seed, another sequence.
    let (other, _) = run_sequence(&faults(8, 0.2, 0.2, 0.2), 120).await;
    assert_ne!(first, other);
}

#[tokio::test]
async fn rates_are_roughly_respected() {
    let config = faults(42, 0.07, 0.07, 0.06);
    let (seen, counts) = run_sequence(&config, 1000).await;
    let count = |s: Seen| seen.iter().filter(|&&x| x == s).count() as u64;
    assert_eq!(counts.requests, 1000);
    assert_eq!(count(Seen::Status(429)), counts.rate_limited);
    assert_eq!(count(Seen::Status(503)), counts.unavailable);
    assert_eq!(
        count(Seen::TransportError),
        counts.dropped_before + counts.dropped_after
    );
    assert_eq!(count(Seen::Status(200)), 1000 - counts.total());
    // About 3.5 standard deviations either side: loose enough for any seed, tight enough
    // to catch a rate applied twice or not at all.
    let near = |observed: u64, rate: f64| {
        let expected = 1000.0 * rate;
        let sigma = (1000.0 * rate * (1.0 - rate)).sqrt();
        (observed as f64 - expected).abs() <= 3.5 * sigma
    };
    assert!(near(counts.rate_limited, 0.07), "{counts:?}");
    assert!(near(counts.unavailable, 0.07), "{counts:?}");
    assert!(near(counts.dropped_before + counts.dropped_after, 0.06), "{counts:?}");
    assert!(counts.dropped_before > 0 && counts.dropped_after > 0, "{counts:?}");
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

fn assert_errors_body(body: &Value) {
    let errors = body["errors"].as_array().expect("an errors array");
    assert_eq!(errors.len(), 1, "{body}");
    let error = &errors[0];
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(
        error.get("context").is_some() && error.get("exceptionName").is_some(),
        "{body}"
    );
}

#[tokio::test]
async fn a_429_carries_retry_after_and_the_rate_limit_headers() {
    let emulator = start(FaultConfig {
        retry_after_secs: 3,
        ..faults(1, 1.0, 0.0, 0.0)
    })
    .await;
    let response = client()
        .post(url(&emulator, "/admin/groups?name=new-group"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&response, "retry-after"), "3");
    assert_eq!(header(&response, "x-ratelimit-remaining"), "0");
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-interval-seconds",
        "x-ratelimit-fillrate",
    ] {
        assert!(header(&response, name).parse::<u32>().unwrap() > 0, "{name}");
    }
    assert!(header(&response, "content-type").starts_with("application/json"));
    assert_errors_body(&response.json::<Value>().await.unwrap());
    assert!(!emulator.shared.state().groups.contains_key("new-group"));
    assert_eq!(emulator.shared.instruments().fault_counts().rate_limited, 1);
}

#[tokio::test]
async fn a_503_carries_retry_after_and_changes_nothing() {
    let emulator = start(faults(1, 0.0, 1.0, 0.0)).await;
    let response = client()
        .post(url(&emulator, "/admin/groups?name=new-group"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&response, "retry-after"), "1");
    assert_errors_body(&response.json::<Value>().await.unwrap());
    assert!(!emulator.shared.state().groups.contains_key("new-group"));
}

#[tokio::test]
async fn a_drop_after_handling_creates_the_group_but_the_client_sees_a_transport_error() {
    let base = faults(0, 0.0, 0.0, 1.0);
    let seed = seed_where_first_is(&base, Fault::DroppedAfter);
    let emulator = start(FaultConfig { seed, ..base }).await;
    let result = client()
        .post(url(&emulator, "/admin/groups?name=new-group"))
        .bearer_auth(TOKEN)
        .send()
        .await;
    let error = result.expect_err("the connection is dropped before any answer");
    assert!(error.status().is_none(), "{error:?}");
    assert!(emulator.shared.state().groups.contains_key("new-group"));
    let counts = emulator.shared.instruments().fault_counts();
    assert_eq!((counts.requests, counts.dropped_after), (1, 1), "{counts:?}");
}

#[tokio::test]
async fn a_drop_before_handling_changes_nothing() {
    let base = faults(0, 0.0, 0.0, 1.0);
    let seed = seed_where_first_is(&base, Fault::DroppedBefore);
    let emulator = start(FaultConfig { seed, ..base }).await;
    let result = client()
        .post(url(&emulator, "/admin/groups?name=new-group"))
        .bearer_auth(TOKEN)
        .send()
        .await;
    assert!(result.is_err(), "{result:?}");
    assert!(!emulator.shared.state().groups.contains_key("new-group"));
    assert_eq!(emulator.shared.instruments().fault_counts().dropped_before, 1);
}

#[tokio::test]
async fn a_dropped_204_is_not_mistaken_for_success() {
    // Creating a user answers 204 with no body: the drop must still be an error, not an
    // empty success.
    let base = faults(0, 0.0, 0.0, 1.0);
    let seed = seed_where_first_is(&base, Fault::DroppedAfter);
    let emulator = start(FaultConfig { seed, ..base }).await;
    let result = client()
        .post(url(
            &emulator,
            "/admin/users?name=zed&displayName=Zed&emailAddress=zed@example.com&password=pw",
        ))
        .bearer_auth(TOKEN)
        .send()
        .await;
    assert!(result.is_err(), "{result:?}");
    assert!(emulator.shared.state().users.contains_key("zed"));
}

#[tokio::test]
async fn latency_is_added_to_every_request() {
    let emulator = start(FaultConfig {
        latency_ms: 150,
        ..FaultConfig::default()
    })
    .await;
    let http = client();
    let started = Instant::now();
    assert_eq!(
        send(&http, &emulator, Method::GET, "/admin/groups").await,
        Seen::Status(200)
    );
    assert!(started.elapsed() >= Duration::from_millis(150));
    let counts = emulator.shared.instruments().fault_counts();
    assert_eq!((counts.requests, counts.total()), (1, 0));
}

#[tokio::test]
async fn requests_that_fail_authentication_get_no_faults() {
    let emulator = start(faults(1, 1.0, 0.0, 0.0)).await;
    let response = client()
        .get(url(&emulator, "/admin/groups"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(emulator.shared.instruments().fault_counts(), FaultCounts::default());
    // Still logged, like every request.
    assert_eq!(emulator.shared.instruments().request_count(), 1);
}

#[tokio::test]
async fn faults_from_the_state_file_apply_and_can_be_replaced() {
    let mut state = seed_state();
    state.faults = Some(faults(3, 0.0, 1.0, 0.0));
    let shared = Shared::new(state, TOKEN.to_owned());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let emulator = serve(shared, listener).await.unwrap();
    let http = client();
    assert_eq!(
        send(&http, &emulator, Method::GET, "/admin/groups").await,
        Seen::Status(503)
    );
    // Replacing the faults (as the environment override does) leaves the state's own
    // section alone, so saving the state never writes the override.
    emulator
        .shared
        .instruments()
        .set_faults(FaultConfig::default())
        .unwrap();
    assert_eq!(
        send(&http, &emulator, Method::GET, "/admin/groups").await,
        Seen::Status(200)
    );
    assert_eq!(emulator.shared.state().faults, Some(faults(3, 0.0, 1.0, 0.0)));
    assert!(emulator
        .shared
        .instruments()
        .set_faults(faults(0, 0.8, 0.8, 0.0))
        .is_err());
}

#[test]
fn the_environment_form_parses_good_values_and_names_bad_parts() {
    let config = FaultConfig::parse_compact(
        "seed=7,latency_ms=5,rate_limited=0.07,unavailable=0.07,dropped=0.06,retry_after_secs=0",
    )
    .unwrap();
    assert_eq!(
        config,
        FaultConfig {
            seed: 7,
            latency_ms: 5,
            rate_limited: 0.07,
            unavailable: 0.07,
            dropped: 0.06,
            retry_after_secs: 0,
        }
    );
    assert_eq!(FaultConfig::parse_compact("off").unwrap(), FaultConfig::default());
    for bad in [
        "seed=-1",
        "rate_limited=1.5",
        "dropped=lots",
        "latency=5",
        "seed:7",
        "rate_limited=0.6,dropped=0.6",
    ] {
        let error = FaultConfig::parse_compact(bad).unwrap_err();
        assert!(matches!(error, FaultError::Env { .. }), "{bad}: {error:?}");
        let message = error.to_string();
        assert!(message.contains("ROLLCALL_SANDBOX_FAULTS"), "{message}");
    }
    let message = FaultConfig::parse_compact("seed=1,dropped=lots")
        .unwrap_err()
        .to_string();
    assert!(message.contains("`dropped=lots`"), "{message}");
}

const STATE_WITH_FAULTS: &str = r#"
operator: admin
users:
  admin: { display_name: Site Admin, email: admin@example.com }
global:
  users: { admin: SYS_ADMIN }
faults:
  seed: 42
  latency_ms: 5
  rate_limited: 0.07
  unavailable: 0.07
  dropped: 0.06
  retry_after_secs: 2
"#;

#[test]
fn a_state_file_with_faults_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.yaml");
    std::fs::write(&path, STATE_WITH_FAULTS).unwrap();
    let state = DcState::load(&path).unwrap();
    assert_eq!(
        state.faults,
        Some(FaultConfig {
            seed: 42,
            latency_ms: 5,
            rate_limited: 0.07,
            unavailable: 0.07,
            dropped: 0.06,
            retry_after_secs: 2,
        })
    );
    state.save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("rate_limited: 0.07"), "{text}");
    assert_eq!(DcState::load(&path).unwrap(), state);
    // Saving again writes the same bytes.
    DcState::load(&path).unwrap().save(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

    // Without a section, none is written.
    let plain = seed_state();
    assert!(!plain.to_yaml().unwrap().contains("faults"));
}

#[test]
fn a_state_file_with_bad_rates_is_refused_clearly() {
    let over = STATE_WITH_FAULTS.replace("dropped: 0.06", "dropped: 0.9");
    let message = DcState::parse(&over).unwrap_err();
    assert!(
        message.contains("faults") && message.contains("more than 1"),
        "{message}"
    );
    let negative = STATE_WITH_FAULTS.replace("dropped: 0.06", "dropped: -0.1");
    let message = DcState::parse(&negative).unwrap_err();
    assert!(message.contains("dropped"), "{message}");
    let unknown = STATE_WITH_FAULTS.replace("dropped: 0.06", "dropped: 0.06\n  jitter: 3");
    assert!(DcState::parse(&unknown).is_err());
}

/// `rollcall sandbox serve` on a free port, with `faults` in the environment.
fn serve_binary(state: &Path, faults: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(["sandbox", "serve", state.to_str().unwrap(), "--port", "0", "--no-save"])
        .env_clear()
        .env("ROLLCALL_SANDBOX_TOKEN", TOKEN)
        .env("ROLLCALL_SANDBOX_FAULTS", faults)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn serve_applies_the_environment_override_and_prints_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.yaml");
    std::fs::write(&path, STATE_WITH_FAULTS).unwrap();
    let mut child = serve_binary(&path, "seed=9,rate_limited=1,retry_after_secs=4");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .trim_end_matches("/rest")
        .to_owned();
    let _auth_hint = lines.next().unwrap().unwrap();
    let faults_line = lines.next().unwrap().unwrap();
    assert!(faults_line.starts_with("Faults on: seed 9"), "{faults_line}");
    assert!(faults_line.contains("100% answered 429"), "{faults_line}");

    // The override, not the file's 7%, is in force.
    let response = client()
        .get(format!("{base}/rest/api/latest/admin/groups"))
        .bearer_auth(TOKEN)
        .send()
        .await;
    stop(&mut child);
    let response = response.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "4");
    // On SIGTERM it stops cleanly and says what it injected.
    if cfg!(unix) {
        let rest: Vec<String> = lines.map(Result::unwrap).collect();
        assert!(
            rest.iter()
                .any(|l| l.starts_with("Faults: 1 of 1 requests faulted: 1 answered 429")),
            "{rest:?}"
        );
    }
}

/// SIGTERM where there is one, so the server shuts down as it would under a process
/// manager; a hard kill elsewhere.
fn stop(child: &mut Child) {
    let terminated = cfg!(unix)
        && Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
    if !terminated {
        child.kill().unwrap();
    }
    child.wait().unwrap();
}

#[test]
fn serve_refuses_a_malformed_override_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.yaml");
    std::fs::write(&path, SEED).unwrap();
    let output = serve_binary(&path, "seed=7,dropped=often").wait_with_output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("ROLLCALL_SANDBOX_FAULTS"), "{stderr}");
    assert!(stderr.contains("dropped=often"), "{stderr}");
}

#[test]
fn in_process_sandboxes_read_the_override_too() {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart"),
        tmp.path(),
    );
    let plan = |faults: &str| {
        Command::new(env!("CARGO_BIN_EXE_rollcall"))
            .arg("plan")
            .current_dir(tmp.path().join("manifests"))
            .env_clear()
            .env("NO_COLOR", "1")
            .env("ROLLCALL_SANDBOX_FAULTS", faults)
            .output()
            .unwrap()
    };
    let bad = plan("latency_ms=fast");
    assert!(!bad.status.success());
    let stderr = String::from_utf8(bad.stderr).unwrap();
    assert!(
        stderr.contains("ROLLCALL_SANDBOX_FAULTS") && stderr.contains("latency_ms=fast"),
        "{stderr}"
    );
    let slow = plan("latency_ms=1");
    assert!(slow.status.success(), "{}", String::from_utf8_lossy(&slow.stderr));
}
