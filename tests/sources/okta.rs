//! The okta source reader against its emulator, over real HTTP on a loopback port: the
//! example org, paging across many pages, request counts equal to the module's formula,
//! several groups at once, names that match nothing, auth failures, outages and Okta's
//! rate limits; and the emulator against the vendor's description (routes, response
//! bodies, what `search` and `filter` refuse).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use rollcall::desired::Endpoint;
use rollcall::sandbox::faults::FaultConfig;
use rollcall::sandbox::host::{serve, Shared};
use rollcall::sandbox::okta::state::{OktaGroup, OktaUser, RateLimit};
use rollcall::sandbox::okta::{OktaEmulator, OktaState, RunningEmulator, ROUTES};
use rollcall::sandbox::state::StateFile;
use rollcall::source::okta::{MEMBERS_PAGE, NAMES_PER_SEARCH, USERS_PAGE};
use rollcall::source::{registry, Query, Reach, Snapshot, Source, SourceConfig, SourceError};
use secrecy::SecretString;
use serde_json::json;

use crate::common::openapi::Description;

const TOKEN: &str = "okta-run-token-5f3a9c";

async fn start(state: OktaState) -> RunningEmulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(Shared::<OktaEmulator>::new(state, TOKEN.to_owned()), listener)
        .await
        .unwrap()
}

/// The reader as the core builds it: through the registry, with the secret given.
fn reader_at(base: &str, secret: &str) -> Box<dyn Source> {
    let kind = registry::find("okta").unwrap();
    let base = url::Url::parse(base).unwrap();
    let config = SourceConfig {
        name: "okta".to_owned(),
        kind,
        endpoint: Endpoint::Url(base.clone()),
        url: base.to_string(),
        settings: BTreeMap::new(),
        secret: None,
    };
    let reach = Reach {
        base,
        sandboxed: true,
        secret: SecretString::from(secret.to_owned()),
        parallelism: 32,
    };
    (kind.build)(&config, reach).unwrap_or_else(|e| panic!("{e}"))
}

fn reader(running: &RunningEmulator) -> Box<dyn Source> {
    reader_at(&running.base_url, TOKEN)
}

fn query(groups: &[&str], everyone: bool) -> Query {
    Query {
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        everyone,
    }
}

fn example() -> OktaState {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sources/okta.yaml")).unwrap();
    OktaState::parse(&text).unwrap()
}

fn id(prefix: &str, n: usize) -> String {
    format!("{prefix}{n:017}")
}

/// `users` people (every fifth DEPROVISIONED), and groups of the given sizes, the
/// members of each the first people by number.
fn generated(users: usize, groups: &[(&str, usize)]) -> OktaState {
    let users: Vec<OktaUser> = (0..users)
        .map(|n| OktaUser {
            id: id("00u", n),
            status: if n % 5 == 4 { "DEPROVISIONED" } else { "ACTIVE" }.to_owned(),
            profile: serde_json::from_value(json!({
                "login": format!("p{n}@example.com"),
                "email": format!("p{n}@example.com"),
                "firstName": format!("P{n}"),
                "lastName": "Person",
                "department": "Engineering",
                "employeeNumber": n.to_string(),
            }))
            .unwrap(),
        })
        .collect();
    let groups = groups
        .iter()
        .enumerate()
        .map(|(g, (name, size))| OktaGroup {
            id: id("00g", g),
            name: (*name).to_owned(),
            description: None,
            kind: "OKTA_GROUP".to_owned(),
            members: (0..*size).map(|n| id("00u", n)).collect(),
        })
        .collect();
    let mut state = OktaState {
        kind: "okta".to_owned(),
        rate_limit: None,
        users,
        groups,
        faults: None,
    };
    state.check().unwrap();
    state
}

/// The module's formula: `⌈g/20⌉ + Σ max(1, ⌈mᵢ/1000⌉) + (everyone ? max(1, ⌈u/200⌉) : 0)`.
fn minimum(names: usize, members: &[usize], everyone: Option<usize>) -> usize {
    names.div_ceil(NAMES_PER_SEARCH)
        + members.iter().map(|m| m.div_ceil(MEMBERS_PAGE).max(1)).sum::<usize>()
        + everyone.map_or(0, |u| u.div_ceil(USERS_PAGE).max(1))
}

fn members(snapshot: &Snapshot, group: &str) -> BTreeSet<String> {
    snapshot.groups[group].members.clone()
}

#[tokio::test]
async fn the_example_org_reads_into_people_and_groups() {
    let running = start(example()).await;
    let source = reader(&running);
    let snapshot = source
        .read(&query(&["Engineering", "Platform", "Support & Success"], false))
        .await
        .unwrap();
    assert_eq!(source.requests(), minimum(3, &[5, 4, 2], None));
    assert_eq!(source.requests(), 4);

    let platform = &snapshot.groups["Platform"];
    assert_eq!(platform.id, "00g1platform00000000");
    assert_eq!(platform.name, "Platform");
    assert_eq!(platform.members.len(), 4);
    assert_eq!(snapshot.groups["Support & Success"].members.len(), 2);
    assert_eq!(snapshot.people.len(), 5 + 4 + 2 - 1, "Alice is in two groups");

    let alice = &snapshot.people["00u1alice00000000000"];
    assert_eq!(alice.login.as_deref(), Some("alice@example.com"));
    assert_eq!(alice.email.as_deref(), Some("alice@example.com"));
    assert_eq!(alice.display_name.as_deref(), Some("Alice Ng"));
    assert_eq!(alice.department.as_deref(), Some("Engineering"));
    assert_eq!((alice.status.as_str(), alice.active), ("ACTIVE", true));
    assert_eq!(alice.attributes["title"], "Staff Engineer");
    assert_eq!(alice.attributes["employeeNumber"], "1001");
    assert_eq!(alice.attributes["firstName"], "Alice");
    assert!(!alice.attributes.contains_key("login"));
    // No displayName: the first and last names.
    assert_eq!(
        snapshot.people["00u1bob0000000000000"].display_name.as_deref(),
        Some("Bob Okafor")
    );
    let active = |id: &str| (snapshot.people[id].status.clone(), snapshot.people[id].active);
    assert_eq!(active("00u1carol00000000000"), ("PASSWORD_EXPIRED".to_owned(), true));
    assert_eq!(active("00u1dave000000000000"), ("LOCKED_OUT".to_owned(), true));
    assert_eq!(active("00u1eve0000000000000"), ("DEPROVISIONED".to_owned(), false));
    assert_eq!(active("00u1frank00000000000"), ("SUSPENDED".to_owned(), false));
    assert_eq!(active("00u1ivan000000000000"), ("PROVISIONED".to_owned(), false));
    assert_eq!(active("00u1judy000000000000"), ("RECOVERY".to_owned(), true));
}

#[tokio::test]
async fn everyone_includes_those_who_left() {
    let running = start(example()).await;
    let source = reader(&running);
    let snapshot = source.read(&query(&[], true)).await.unwrap();
    assert_eq!(snapshot.people.len(), 12);
    assert!(snapshot.groups.is_empty());
    assert_eq!(snapshot.people["00u1eve0000000000000"].status, "DEPROVISIONED");
    assert_eq!(source.requests(), minimum(0, &[], Some(12)));
    assert_eq!(source.requests(), 1);
    let log = running.shared.instruments().requests();
    assert!(log[0].contains("filter="), "{log:?}");
}

#[tokio::test]
async fn large_groups_and_everyone_page_at_the_largest_size_with_the_minimum_of_requests() {
    let state = generated(2_500, &[("Big", 2_300), ("Small", 3), ("Exactly a page", 1_000)]);
    let running = start(state).await;
    let source = reader(&running);
    // "Small" by its id.
    let small_id = id("00g", 1);
    let snapshot = source
        .read(&query(&["Big", &small_id, "Exactly a page"], true))
        .await
        .unwrap();
    assert_eq!(members(&snapshot, "Big").len(), 2_300);
    assert_eq!(members(&snapshot, &small_id).len(), 3);
    assert_eq!(snapshot.groups[&small_id].name, "Small");
    assert_eq!(members(&snapshot, "Exactly a page").len(), 1_000);
    assert_eq!(snapshot.people.len(), 2_500, "everyone, DEPROVISIONED included");
    assert!(members(&snapshot, "Big")
        .iter()
        .all(|m| snapshot.people.contains_key(m)));
    let expected = minimum(3, &[2_300, 3, 1_000], Some(2_500));
    assert_eq!(expected, 1 + (3 + 1 + 1) + 13);
    assert_eq!(source.requests(), expected);
    assert_eq!(running.shared.instruments().request_count(), expected);

    // Every list asked for its page size; later pages followed the links given.
    let log = running.shared.instruments().requests();
    let firsts: Vec<&String> = log.iter().filter(|r| !r.contains("after=")).collect();
    assert_eq!(firsts.len(), 1 + 3 + 1, "{log:#?}");
    for r in &log {
        let limit = if r.contains("/users?") && !r.contains("/groups/") {
            USERS_PAGE
        } else if r.contains("/groups/") {
            MEMBERS_PAGE
        } else {
            200
        };
        assert!(r.contains(&format!("limit={limit}")), "{r}");
    }
}

#[tokio::test]
async fn many_groups_at_once_share_their_searches() {
    let sizes: Vec<(String, usize)> = (0..45).map(|g| (format!("team-{g:02}"), g % 7)).collect();
    let borrowed: Vec<(&str, usize)> = sizes.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    let running = start(generated(10, &borrowed)).await;
    let source = reader(&running);
    let names: Vec<&str> = borrowed.iter().map(|(n, _)| *n).collect();
    let snapshot = source.read(&query(&names, false)).await.unwrap();
    assert_eq!(snapshot.groups.len(), 45);
    for (name, size) in &borrowed {
        assert_eq!(snapshot.groups[*name].members.len(), *size, "{name}");
    }
    let sizes: Vec<usize> = borrowed.iter().map(|(_, s)| *s).collect();
    assert_eq!(source.requests(), minimum(45, &sizes, None));
    assert_eq!(source.requests(), 3 + 45);
}

#[tokio::test]
async fn a_group_that_does_not_exist_is_an_error_never_an_empty_group() {
    let running = start(example()).await;
    let source = reader(&running);
    let error = source
        .read(&query(&["Engineering", "Nobody"], false))
        .await
        .unwrap_err();
    match &error {
        SourceError::NotFound { source_name, group, .. } => {
            assert_eq!((source_name.as_str(), group.as_str()), ("okta", "Nobody"));
        }
        other => panic!("{other:?}"),
    }
    // Names match exactly: Okta's search finds `Engineering`, the reader does not take it.
    let error = source.read(&query(&["engineering"], false)).await.unwrap_err();
    assert!(matches!(error, SourceError::NotFound { .. }), "{error:?}");
    assert!(error.to_string().contains("`Engineering`"), "{error}");
    // An id that looks right but is not there.
    let error = source.read(&query(&["00g1missing000000000"], false)).await.unwrap_err();
    assert!(matches!(error, SourceError::NotFound { .. }), "{error:?}");
}

#[tokio::test]
async fn two_groups_of_one_name_are_ambiguous() {
    let mut state = example();
    let mut twin = state.groups[0].clone();
    twin.id = "00g1twin000000000000".to_owned();
    twin.kind = "APP_GROUP".to_owned();
    state.groups.push(twin);
    let running = start(state).await;
    let error = reader(&running)
        .read(&query(&["Engineering"], false))
        .await
        .unwrap_err();
    assert!(matches!(error, SourceError::Ambiguous { count: 2, .. }), "{error:?}");
    // By id it is one.
    let snapshot = reader(&running)
        .read(&query(&["00g1twin000000000000"], false))
        .await
        .unwrap();
    assert_eq!(snapshot.groups["00g1twin000000000000"].members.len(), 5);
}

#[tokio::test]
async fn a_wrong_token_is_named_with_the_status_and_okta_s_message_never_the_token() {
    let running = start(example()).await;
    let wrong = "00wrongTokenValue-not-the-run-token";
    let error = reader_at(&running.base_url, wrong)
        .read(&query(&["Engineering"], false))
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.starts_with("okta: "), "{text}");
    assert!(text.contains("401"), "{text}");
    assert!(text.contains("Invalid token provided (E0000011)"), "{text}");
    assert!(!text.contains(wrong) && !text.contains(TOKEN), "{text}");
    assert!(matches!(&error, SourceError::Http(e) if e.status == Some(401)));
}

#[tokio::test]
async fn an_outage_is_an_error_never_an_empty_result() {
    let mut state = example();
    state.faults = Some(FaultConfig {
        unavailable: 1.0,
        ..FaultConfig::default()
    });
    let running = start(state).await;
    let source = reader(&running);
    let error = source.read(&query(&["Engineering"], true)).await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("503"), "{text}");
    assert!(source.requests() > 2, "retried before giving up");

    // A server that is not there at all.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let error = reader_at(&format!("http://{address}"), TOKEN)
        .read(&query(&[], true))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("cannot connect"), "{error}");
}

#[tokio::test]
async fn a_used_up_quota_is_waited_for_not_collected_as_429s() {
    // Two requests a second per bucket; everyone in five pages.
    let mut state = generated(1_000, &[]);
    state.rate_limit = Some(RateLimit {
        requests: 2,
        per_seconds: 1,
    });
    let running = start(state).await;
    let source = reader(&running);
    let started = Instant::now();
    let snapshot = source.read(&query(&[], true)).await.unwrap();
    assert_eq!(snapshot.people.len(), 1_000);
    // No 429 was answered (a 429 is retried, which would count as one more request).
    assert_eq!(source.requests(), minimum(0, &[], Some(1_000)));
    assert_eq!(source.requests(), 5);
    assert!(started.elapsed().as_millis() >= 900, "it waited for a reset");
}

#[tokio::test]
async fn okta_s_429s_are_waited_out_and_the_read_completes() {
    let mut state = example();
    state.faults = Some(FaultConfig {
        seed: 3,
        rate_limited: 0.5,
        ..FaultConfig::default()
    });
    let running = start(state).await;
    let source = reader(&running);
    let snapshot = source
        .read(&query(&["Engineering", "Platform", "Security"], true))
        .await
        .unwrap();
    assert_eq!(snapshot.people.len(), 12);
    assert_eq!(snapshot.groups["Engineering"].members.len(), 5);
    let limited = running.shared.instruments().fault_counts().rate_limited;
    assert!(limited > 0, "the seed gives some 429s");
    // Each 429 was sent again after the reset Okta named.
    let answered = minimum(3, &[5, 4, 2], Some(12));
    assert_eq!(source.requests(), answered + usize::try_from(limited).unwrap());
}

// The emulator on its own.

async fn get(running: &RunningEmulator, path_and_query: &str, authorization: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}{path_and_query}", running.base_url))
        .header("Authorization", authorization)
        .send()
        .await
        .unwrap()
}

fn ssws() -> String {
    format!("SSWS {TOKEN}")
}

#[test]
fn every_route_of_the_emulator_is_an_operation_of_the_description() {
    let description = Description::load("okta-management.openapi.yaml");
    for (method, path) in ROUTES {
        let path = format!("{}{path}", rollcall::sandbox::okta::MOUNT);
        assert!(description.has_operation(method, &path), "{method} {path}");
    }
}

#[tokio::test]
async fn answers_match_the_description_s_schemas() {
    let description = Description::load("okta-management.openapi.yaml");
    let running = start(example()).await;
    let cases: &[(&str, &str, u16)] = &[
        ("/users", "/api/v1/users?limit=5", 200),
        (
            "/users",
            "/api/v1/users?search=profile.department%20eq%20%22Engineering%22",
            200,
        ),
        ("/users", "/api/v1/users?filter=status%20eq%20%22DEPROVISIONED%22", 200),
        ("/users", "/api/v1/users?q=ali", 200),
        ("/users/{id}", "/api/v1/users/00u1alice00000000000", 200),
        ("/users/{id}", "/api/v1/users/bob@example.com", 200),
        ("/users/{id}", "/api/v1/users/nobody", 404),
        ("/users/{id}/groups", "/api/v1/users/00u1alice00000000000/groups", 200),
        ("/groups", "/api/v1/groups?limit=2&expand=stats", 200),
        ("/groups", "/api/v1/groups?search=profile.name%20sw%20%22Eng%22", 200),
        ("/groups/{groupId}", "/api/v1/groups/00g1security00000000", 200),
        ("/groups/{groupId}", "/api/v1/groups/00g1missing000000000", 404),
        (
            "/groups/{groupId}/users",
            "/api/v1/groups/00g1engineering00000/users?limit=2",
            200,
        ),
        (
            "/groups/{groupId}/users",
            "/api/v1/groups/00g1missing000000000/users",
            404,
        ),
    ];
    let mut problems = Vec::new();
    for (route, path, status) in cases {
        let response = get(&running, path, &ssws()).await;
        assert_eq!(response.status().as_u16(), *status, "{path}");
        for header in ["x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"] {
            assert!(response.headers().contains_key(header), "{path}: no {header}");
        }
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.bytes().await.unwrap();
        if let Err(errors) = description.check(
            "GET",
            &format!("/api/v1{route}"),
            *status,
            content_type.as_deref(),
            &body,
        ) {
            problems.extend(errors);
        }
    }
    // A bucket used up: Okta's 429, checked against its schema too.
    let mut state = example();
    state.rate_limit = Some(RateLimit {
        requests: 1,
        per_seconds: 3_600,
    });
    let limited = start(state).await;
    assert_eq!(get(&limited, "/api/v1/groups", &ssws()).await.status(), 200);
    let response = get(&limited, "/api/v1/groups", &ssws()).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["x-rate-limit-remaining"], "0");
    assert!(response.headers().get("retry-after").is_none());
    let body = response.bytes().await.unwrap();
    if let Err(errors) = description.check("GET", "/api/v1/groups", 429, Some("application/json"), &body) {
        problems.extend(errors);
    }
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["errorCode"], "E0000047");
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test]
async fn only_ssws_gets_in() {
    let running = start(example()).await;
    for authorization in [
        format!("Bearer {TOKEN}"),
        "SSWS wrong".to_owned(),
        format!("ssws{TOKEN}"),
    ] {
        let response = get(&running, "/api/v1/users", &authorization).await;
        assert_eq!(response.status(), 401, "{authorization}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["errorCode"], "E0000011");
        assert_eq!(body["errorSummary"], "Invalid token provided");
    }
    assert_eq!(get(&running, "/api/v1/users", &ssws()).await.status(), 200);
}

#[tokio::test]
async fn lists_leave_out_those_who_left_unless_searched_or_filtered_and_page_by_link() {
    let running = start(example()).await;
    let ids = |body: serde_json::Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let eve = "00u1eve0000000000000".to_owned();
    let plain = get(&running, "/api/v1/users", &ssws()).await.json().await.unwrap();
    assert!(!ids(plain).contains(&eve));
    let filtered = get(
        &running,
        "/api/v1/users?filter=status%20eq%20%22DEPROVISIONED%22",
        &ssws(),
    )
    .await;
    assert_eq!(ids(filtered.json().await.unwrap()), vec![eve.clone()]);
    let searched = get(
        &running,
        "/api/v1/users?search=profile.department%20eq%20%22platform%22",
        &ssws(),
    )
    .await;
    assert!(
        ids(searched.json().await.unwrap()).contains(&eve),
        "search compares without case"
    );

    // Paging: the next link carries the query and a cursor, and the last page has none.
    let mut url = format!("{}/api/v1/groups/00g1everyone00000000/users?limit=5", running.base_url);
    let mut seen = Vec::new();
    loop {
        let response = reqwest::Client::new()
            .get(&url)
            .header("Authorization", ssws())
            .send()
            .await
            .unwrap();
        let links: Vec<String> = response
            .headers()
            .get_all("link")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert!(links.iter().any(|l| l.ends_with("rel=\"self\"")), "{links:?}");
        seen.extend(ids(response.json().await.unwrap()));
        match links.iter().find(|l| l.ends_with("rel=\"next\"")) {
            Some(next) => url = next.trim_start_matches('<').split('>').next().unwrap().to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 12);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 12);
}

#[tokio::test]
async fn search_and_filter_refuse_what_okta_refuses() {
    let running = start(example()).await;
    for path in [
        "/api/v1/users?search=status%20ne%20%22ACTIVE%22",
        "/api/v1/users?filter=profile.department%20eq%20%22Engineering%22",
        "/api/v1/users?filter=status%20sw%20%22ACT%22",
        "/api/v1/users?search=profile.department%20co%20%22Eng%22",
        "/api/v1/groups?filter=profile.name%20eq%20%22Engineering%22",
        "/api/v1/groups?search=not%20type%20eq%20%22OKTA_GROUP%22",
        "/api/v1/groups?limit=10001",
    ] {
        let response = get(&running, path, &ssws()).await;
        assert_eq!(response.status(), 400, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["errorCode"].as_str().unwrap().starts_with("E0000"), "{body}");
    }
    // More than 200 users a page is served at 200.
    let state = generated(250, &[]);
    let big = start(state).await;
    let page: serde_json::Value = get(&big, "/api/v1/users?limit=1000", &ssws())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page.as_array().unwrap().len(), 200);
}

#[test]
fn the_example_state_is_an_okta_state() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sources/okta.yaml")).unwrap();
    assert_eq!(
        rollcall::sandbox::state::marker(&text).unwrap().as_deref(),
        Some("okta")
    );
    assert!((rollcall::sandbox::okta::KIND.reads)(&text));
    let mut bad = example();
    bad.groups[0].members.push("nobody@example.com".to_owned());
    assert!(bad.check().unwrap_err().contains("nobody@example.com"));
}

#[tokio::test]
async fn a_group_found_by_two_searches_is_one_group() {
    // Names sort as the query holds them: the id, 19 others, then the name, so the id is
    // in the first search of 20 and the name in the second.
    let mut names: Vec<String> = (0..19).map(|n| format!("Absent-{n:02}")).collect();
    names.push("Security".to_owned());
    names.push("00g1security00000000".to_owned());
    let mut state = example();
    for name in &names[..19] {
        let mut group = state.groups[2].clone();
        group.id = format!("00g1{name}0000000000")[..20].to_owned();
        group.name = name.clone();
        state.groups.push(group);
    }
    let running = start(state).await;
    let source = reader(&running);
    let borrowed: Vec<&str> = names.iter().map(String::as_str).collect();
    let snapshot = source.read(&query(&borrowed, false)).await.unwrap();
    assert_eq!(snapshot.groups["00g1security00000000"].name, "Security");
    assert_eq!(source.requests(), minimum(21, &[2; 20], None));
}

#[tokio::test]
async fn a_group_asked_by_name_and_by_id_is_read_once() {
    let running = start(example()).await;
    let source = reader(&running);
    let snapshot = source
        .read(&query(&["Security", "00g1security00000000"], false))
        .await
        .unwrap();
    assert_eq!(snapshot.groups.len(), 2, "each name it was asked by");
    assert_eq!(
        snapshot.groups["Security"].members,
        snapshot.groups["00g1security00000000"].members
    );
    assert_eq!(source.requests(), minimum(2, &[2], None));
    assert_eq!(source.requests(), 2);
}
