//! The Entra ID source against its emulator, in-process on a loopback port: paging past
//! Graph's largest page, nested groups flattened by `transitiveMembers`, request counts
//! equal to the minimum (the formula in `rollcall::source::entra`), several groups at
//! once, a group that does not exist or is named twice, a wrong client secret, an outage,
//! and Graph's throttling. Then the emulator itself: its routes against Microsoft's
//! description, its bodies against the description's schemas, its limits and its faults.

use std::collections::{BTreeMap, BTreeSet};

use rollcall::desired::Endpoint;
use rollcall::sandbox::entra::{self, EntraState, RunningEmulator};
use rollcall::sandbox::host;
use rollcall::sandbox::state::StateFile;
use rollcall::source::{registry, Query, Reach, Snapshot, Source, SourceConfig, SourceError};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::common::openapi::Description;

const SECRET: &str = "s3cr3t~Client.Value_0123456789";
const TENANT: &str = "5f0c8e2a-3b1d-4c7e-9a6f-2d4b8c1e0a73";
const CLIENT: &str = "11111111-2222-4333-8444-555555555555";

fn user_id(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

fn group_id(n: usize) -> String {
    format!("00000000-0000-4000-9000-{n:012x}")
}

/// 2,100 users (every tenth disabled); `All Engineers` with users 0..1500, the nested
/// `Platform` (users 1400..2000, 500 of them not direct members), a device and a service
/// principal; `Small` (2000..2010); 16 `Team NN` of 3; two groups named `Twin`; `Empty`.
fn big_state() -> Value {
    let users: Vec<Value> = (0..2100)
        .map(|n| {
            json!({
                "id": user_id(n),
                "userPrincipalName": format!("user{n}@fernhill.dev"),
                "displayName": format!("User {n}"),
                "mail": format!("user{n}@fernhill.dev"),
                "department": format!("Dept {}", n % 5),
                "accountEnabled": n % 10 != 0,
                "employeeId": format!("{n}"),
                "jobTitle": "Engineer",
            })
        })
        .collect();
    let mut all: Vec<String> = (0..1500).map(user_id).collect();
    all.extend([
        group_id(2),
        "d0000000-0000-4000-8000-000000000001".to_owned(),
        "d0000000-0000-4000-8000-000000000002".to_owned(),
    ]);
    let mut groups = vec![
        json!({"id": group_id(1), "displayName": "All Engineers", "members": all}),
        json!({"id": group_id(2), "displayName": "Platform", "members": (1400..2000).map(user_id).collect::<Vec<_>>()}),
        json!({"id": group_id(3), "displayName": "Small", "members": (2000..2010).map(user_id).collect::<Vec<_>>()}),
        json!({"id": group_id(4), "displayName": "Twin", "members": []}),
        json!({"id": group_id(5), "displayName": "Twin", "members": []}),
        json!({"id": group_id(6), "displayName": "Empty", "members": []}),
    ];
    for t in 0..16 {
        groups.push(json!({
            "id": group_id(100 + t),
            "displayName": format!("Team {t:02}"),
            "members": (3 * t..3 * t + 3).map(user_id).collect::<Vec<_>>(),
        }));
    }
    json!({
        "kind": "entra-id",
        "tenant": {"id": TENANT, "domain": "fernhill.onmicrosoft.com"},
        "client_id": CLIENT,
        "users": users,
        "groups": groups,
        "objects": [
            {"id": "d0000000-0000-4000-8000-000000000001", "type": "device", "displayName": "build-agent"},
            {"id": "d0000000-0000-4000-8000-000000000002", "type": "servicePrincipal", "displayName": "Deploy Bot"},
        ],
    })
}

async fn serve(state: Value) -> RunningEmulator {
    let state = EntraState::parse(&state.to_string()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    host::serve(entra::shared(state, SECRET.to_owned()), listener)
        .await
        .unwrap()
}

fn config(base: &str) -> SourceConfig {
    let kind = registry::find("entra-id").unwrap();
    SourceConfig {
        name: "entra".to_owned(),
        kind,
        endpoint: Endpoint::Url(base.parse().unwrap()),
        url: base.to_owned(),
        settings: BTreeMap::from([
            ("tenant".to_owned(), TENANT.to_owned()),
            ("client_id".to_owned(), CLIENT.to_owned()),
        ]),
        secret: None,
    }
}

fn reader_with(base: &str, secret: &str) -> Box<dyn Source> {
    let config = config(base);
    let reach = Reach {
        base: base.parse().unwrap(),
        sandboxed: true,
        secret: SecretString::from(secret.to_owned()),
        parallelism: 8,
    };
    (config.kind.build)(&config, reach).unwrap()
}

fn reader(running: &RunningEmulator) -> Box<dyn Source> {
    reader_with(&running.base_url, SECRET)
}

fn groups(names: &[&str]) -> Query {
    Query {
        groups: names.iter().map(|n| (*n).to_owned()).collect(),
        everyone: false,
    }
}

/// `⌈n / 999⌉`, at least one page.
fn pages(n: usize) -> usize {
    n.div_ceil(999).max(1)
}

#[tokio::test]
async fn nested_groups_across_pages_at_the_minimum_count() {
    let running = serve(big_state()).await;
    let source = reader(&running);
    let small = group_id(3);
    let snapshot: Snapshot = source
        .read(&groups(&["All Engineers", "Platform", &small]))
        .await
        .unwrap();

    let all = &snapshot.groups["All Engineers"];
    assert_eq!(all.id, group_id(1));
    assert_eq!(all.members.len(), 2000, "1,500 direct and 500 more through Platform");
    assert_eq!(all.skipped, 2, "a device and a service principal");
    assert_eq!(snapshot.groups["Platform"].members.len(), 600);
    assert_eq!(snapshot.groups[&small].name, "Small");
    assert_eq!(snapshot.groups[&small].members.len(), 10);
    assert_eq!(snapshot.people.len(), 2010);

    let person = &snapshot.people[&user_id(7)];
    assert_eq!(person.login.as_deref(), Some("user7@fernhill.dev"));
    assert_eq!(person.email.as_deref(), Some("user7@fernhill.dev"));
    assert_eq!(person.display_name.as_deref(), Some("User 7"));
    assert_eq!(person.department.as_deref(), Some("Dept 2"));
    assert_eq!((person.status.as_str(), person.active), ("enabled", true));
    assert_eq!(person.attributes["employeeId"], "7");
    assert_eq!(person.attributes["jobTitle"], "Engineer");
    let disabled = &snapshot.people[&user_id(10)];
    assert_eq!((disabled.status.as_str(), disabled.active), ("disabled", false));

    // Token, one lookup, then All Engineers' 2,003 members (2,000 users, Platform, two
    // others) in 3 pages, Platform's 600 and Small's 10 in one each.
    let minimum = 1 + 1 + pages(2003) + pages(600) + pages(10);
    assert_eq!(minimum, 7);
    assert_eq!(source.requests(), minimum);
    assert_eq!(running.shared.instruments().request_count(), minimum);
    let log = running.shared.instruments().requests();
    assert!(log.iter().any(|r| r.contains("$skiptoken=")), "{log:?}");
    assert!(
        log.iter().all(|r| !r.contains("$top=") || r.contains("$top=999")),
        "{log:?}"
    );
}

#[tokio::test]
async fn everyone_is_every_user_in_pages_of_999() {
    let running = serve(big_state()).await;
    let source = reader(&running);
    let snapshot = source
        .read(&Query {
            groups: BTreeSet::new(),
            everyone: true,
        })
        .await
        .unwrap();
    assert_eq!(snapshot.people.len(), 2100);
    assert!(snapshot.groups.is_empty());
    assert_eq!(source.requests(), 1 + pages(2100));
    assert_eq!(source.requests(), 4);
}

#[tokio::test]
async fn seventeen_groups_take_two_lookups() {
    let running = serve(big_state()).await;
    let source = reader(&running);
    let mut names: Vec<String> = (0..16).map(|t| format!("Team {t:02}")).collect();
    names.push("Empty".to_owned());
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let snapshot = source.read(&groups(&refs)).await.unwrap();
    assert_eq!(snapshot.groups.len(), 17);
    assert!(snapshot.groups["Empty"].members.is_empty());
    assert_eq!(snapshot.groups["Team 15"].members.len(), 3);
    // Token, ⌈17 / 15⌉ lookups, one page per group (an empty one included).
    assert_eq!(source.requests(), 1 + 17usize.div_ceil(15) + 17);
}

#[tokio::test]
async fn a_group_that_does_not_exist_is_an_error() {
    let running = serve(big_state()).await;
    let by_name = reader(&running).read(&groups(&["Small", "Nobody"])).await.unwrap_err();
    assert!(
        matches!(&by_name, SourceError::NotFound { group, .. } if group == "Nobody"),
        "{by_name:?}"
    );
    assert!(by_name.to_string().contains("displayName"), "{by_name}");
    // Display names are matched exactly, though Graph's filter ignores case.
    let case = reader(&running).read(&groups(&["small"])).await.unwrap_err();
    assert!(matches!(case, SourceError::NotFound { .. }), "{case:?}");
    let by_id = reader(&running).read(&groups(&[&group_id(999)])).await.unwrap_err();
    assert!(
        matches!(&by_id, SourceError::NotFound { why, .. } if why.contains("object id")),
        "{by_id:?}"
    );
}

#[tokio::test]
async fn a_name_held_by_two_groups_is_ambiguous() {
    let running = serve(big_state()).await;
    let error = reader(&running).read(&groups(&["Twin"])).await.unwrap_err();
    assert!(matches!(error, SourceError::Ambiguous { count: 2, .. }), "{error:?}");
    // By id, either is fine.
    let snapshot = reader(&running).read(&groups(&[&group_id(4)])).await.unwrap();
    assert_eq!(snapshot.groups[&group_id(4)].name, "Twin");
}

#[tokio::test]
async fn a_wrong_client_secret_is_named_without_the_secret() {
    let running = serve(big_state()).await;
    let wrong = "wrong~Secret.Value_9876543210";
    let source = reader_with(&running.base_url, wrong);
    let error = source.read(&groups(&["Small"])).await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(&error, SourceError::Http(e) if e.is_status(401)), "{error:?}");
    assert!(text.starts_with("entra:"), "{text}");
    assert!(text.contains("401"), "{text}");
    assert!(
        text.contains("invalid_client") && text.contains("AADSTS7000215"),
        "{text}"
    );
    assert!(!text.contains(wrong) && !text.contains(SECRET), "{text}");
    assert_eq!(source.requests(), 1, "a 401 is not retried");
}

/// One HTTP request read off `stream`, head and body (by `Content-Length`), as text.
async fn read_request(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the connection ended mid-request");
        raw.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&raw).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .map_or(0, |v| v.parse().unwrap());
            if raw.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn the_token_request_is_the_documented_form_and_an_echoed_secret_is_scrubbed() {
    use tokio::io::AsyncWriteExt;
    // A token endpoint that keeps the request and refuses it, quoting the secret back as
    // sent and as the form encodes it (`~` is `%7E` there).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let encoded: String = url::form_urlencoded::byte_serialize(SECRET.as_bytes()).collect();
    assert_ne!(encoded, SECRET);
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let request = read_request(&mut stream).await;
        let body = json!({
            "error": "invalid_client",
            "error_description": format!("AADSTS7000215: Invalid client secret provided: {SECRET} ({encoded}).\r\nTrace ID: 0"),
            "error_codes": [7000215],
        })
        .to_string();
        let answer = format!(
            "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes()).await.unwrap();
        request
    });
    let source = reader_with(&base, SECRET);
    let error = source.read(&groups(&["Small"])).await.unwrap_err();
    let request = server.await.unwrap();

    let (head, body) = request.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with(&format!("POST /{TENANT}/oauth2/v2.0/token HTTP/1.1\r\n")),
        "{head}"
    );
    let lower = head.to_ascii_lowercase();
    assert!(!lower.contains("\r\nauthorization:"), "{head}");
    assert!(
        lower.contains("\r\ncontent-type: application/x-www-form-urlencoded"),
        "{head}"
    );
    let fields: BTreeMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    assert_eq!(
        fields,
        BTreeMap::from([
            ("client_id".to_owned(), CLIENT.to_owned()),
            ("client_secret".to_owned(), SECRET.to_owned()),
            ("scope".to_owned(), "https://graph.microsoft.com/.default".to_owned()),
            ("grant_type".to_owned(), "client_credentials".to_owned()),
        ])
    );

    let text = error.to_string();
    let debug = format!("{error:?}");
    assert!(text.contains("invalid_client: AADSTS7000215"), "{text}");
    assert!(text.contains("<redacted>"), "{text}");
    let encoded: String = url::form_urlencoded::byte_serialize(SECRET.as_bytes()).collect();
    for shown in [&text, &debug] {
        assert!(!shown.contains(SECRET) && !shown.contains(&encoded), "{shown}");
    }
    assert_eq!(source.requests(), 1, "a 401 is not retried");
}

#[tokio::test]
async fn a_token_graph_did_not_issue_is_refused() {
    let running = serve(big_state()).await;
    let response = reqwest::Client::new()
        .get(format!("{}/v1.0/users", running.base_url))
        .bearer_auth(SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
}

#[tokio::test]
async fn an_outage_is_an_error_never_an_empty_answer() {
    let mut state = big_state();
    state["faults"] = json!({"unavailable": 1.0, "retry_after_secs": 0});
    let running = serve(state).await;
    let error = reader(&running).read(&groups(&["Small"])).await.unwrap_err();
    assert!(matches!(&error, SourceError::Http(e) if e.is_status(503)), "{error:?}");
    assert!(error.to_string().contains("entra"), "{error}");

    // Nobody listening at all.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = reader_with(&base, SECRET).read(&groups(&["Small"])).await.unwrap_err();
    assert!(matches!(error, SourceError::Http(_)), "{error:?}");
}

#[tokio::test]
async fn throttling_is_waited_out() {
    let mut state = big_state();
    // The lookup costs 1 unit and each transitiveMembers page 4: the second group's read
    // overdraws 6 units and waits for the window.
    state["resource_units"] = json!(6);
    let running = serve(state).await;
    let source = reader(&running);
    let started = std::time::Instant::now();
    let snapshot = source.read(&groups(&["Small", "Platform"])).await.unwrap();
    assert_eq!(snapshot.groups["Platform"].members.len(), 600);
    let minimum = 1 + 1 + 1 + 1;
    assert!(source.requests() > minimum, "{} requests", source.requests());
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
}

#[tokio::test]
async fn graph_is_addressed_with_or_without_its_version() {
    let running = serve(big_state()).await;
    let source = reader_with(&format!("{}/v1.0/", running.base_url), SECRET);
    let snapshot = source.read(&groups(&["Small"])).await.unwrap();
    assert_eq!(snapshot.groups["Small"].members.len(), 10);
}

#[tokio::test]
async fn a_read_that_outlasts_its_token_renews_it() {
    let mut state = big_state();
    // Tokens live 2 s and every request takes 0.6 s: the third page of users comes after
    // the reader's margin (a quarter of the life) and goes with a new token.
    state["token_lifetime_secs"] = json!(2);
    state["faults"] = json!({"latency_ms": 600});
    let running = serve(state).await;
    let source = reader(&running);
    let snapshot = source
        .read(&Query {
            groups: BTreeSet::new(),
            everyone: true,
        })
        .await
        .unwrap();
    assert_eq!(snapshot.people.len(), 2100);
    assert_eq!(source.requests(), 1 + pages(2100) + 1, "one more token");
    let log = running.shared.instruments().requests();
    assert_eq!(
        log.iter().filter(|r| r.contains("/oauth2/v2.0/token")).count(),
        2,
        "{log:?}"
    );
}

#[tokio::test]
async fn the_example_state_reads() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sources/entra.yaml")).unwrap();
    let state = EntraState::parse(&text).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = host::serve(entra::shared(state, SECRET.to_owned()), listener)
        .await
        .unwrap();
    let mut config = config(&running.base_url);
    config
        .settings
        .insert("tenant".to_owned(), "fernhill.onmicrosoft.com".to_owned());
    let reach = Reach {
        base: running.base_url.parse().unwrap(),
        sandboxed: true,
        secret: SecretString::from(SECRET),
        parallelism: 4,
    };
    let source = (config.kind.build)(&config, reach).unwrap();
    let snapshot = source.read(&groups(&["Engineering", "Support"])).await.unwrap();
    assert_eq!(snapshot.groups["Engineering"].members.len(), 8);
    assert_eq!(snapshot.groups["Engineering"].skipped, 1);
    assert_eq!(snapshot.groups["Support"].skipped, 1);
    let hugo = snapshot
        .people
        .values()
        .find(|p| p.login.as_deref() == Some("hugo@fernhill.dev"))
        .unwrap();
    assert!(!hugo.active);
    let lea = snapshot
        .people
        .values()
        .find(|p| p.display_name.as_deref() == Some("Lea Fischer"))
        .unwrap();
    assert_eq!(lea.attributes["userType"], "Guest");
    assert_eq!(source.requests(), 1 + 1 + 2);
}

// The emulator against Microsoft's description.

/// Microsoft's generated description says `additionalProperties: {type: object}` on
/// every schema, meaning "an open type"; read as JSON Schema it would refuse every string
/// or boolean property a branch of an `allOf` does not list itself (`accountEnabled`
/// against `entity`), and `@odata.context`, which Graph sends on every collection.
fn graph_description() -> Description {
    let reason = "Microsoft's generator writes `additionalProperties: {type: object}` for an open type";
    let mut description = Description::load("msgraph-users-groups.openapi.yaml");
    for schema in [
        "microsoft.graph.entity",
        "microsoft.graph.directoryObjectCollectionResponse",
        "microsoft.graph.userCollectionResponse",
        "microsoft.graph.groupCollectionResponse",
        "microsoft.graph.ODataErrors.ODataError",
        "microsoft.graph.ODataErrors.MainError",
        "microsoft.graph.ODataErrors.InnerError",
    ] {
        description = description.depart(
            &["components", "schemas", schema],
            "additionalProperties",
            json!(true),
            reason,
        );
    }
    for schema in [
        "microsoft.graph.directoryObject",
        "microsoft.graph.user",
        "microsoft.graph.group",
    ] {
        description = description.depart(
            &["components", "schemas", schema, "allOf", "1"],
            "additionalProperties",
            json!(true),
            reason,
        );
    }
    description
}

#[test]
fn every_graph_route_is_in_the_description() {
    let description = graph_description();
    for (method, path) in entra::ROUTES {
        if *path == entra::TOKEN_ROUTE {
            // The identity platform's, named by the description's security scheme.
            let doc: Value = serde_saphyr::from_str(
                &std::fs::read_to_string(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/specs/msgraph-users-groups.openapi.yaml"
                ))
                .unwrap(),
            )
            .unwrap();
            let url = doc["components"]["securitySchemes"]["azureaadv2"]["flows"]["authorizationCode"]["tokenUrl"]
                .as_str()
                .unwrap();
            assert_eq!(url, "https://login.microsoftonline.com/common/oauth2/v2.0/token");
            assert_eq!(*method, "POST");
            continue;
        }
        let graph = path.strip_prefix("/v1.0").unwrap();
        assert!(
            description.has_operation(method, graph),
            "{method} {graph} is not in the description"
        );
    }
}

/// An `application/x-www-form-urlencoded` body.
fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A token for raw requests, as the reader asks for one.
async fn token(running: &RunningEmulator) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", running.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["token_type"], "Bearer");
    assert!(answer["expires_in"].as_u64().unwrap() >= 1);
    answer["access_token"].as_str().unwrap().to_owned()
}

async fn get(
    running: &RunningEmulator,
    token: &str,
    path: &str,
) -> (u16, Option<String>, Vec<u8>, reqwest::header::HeaderMap) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", running.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers.get("content-type").map(|v| v.to_str().unwrap().to_owned());
    (status, content_type, response.bytes().await.unwrap().to_vec(), headers)
}

#[tokio::test]
async fn answers_match_the_description() {
    let running = serve(big_state()).await;
    let token = token(&running).await;
    let description = graph_description();
    let g1 = group_id(1);
    let cases = [
        (
            "/users",
            "/v1.0/users?$select=id,accountEnabled,department&$top=999".to_owned(),
            200,
        ),
        ("/users", "/v1.0/users".to_owned(), 200),
        (
            "/groups",
            "/v1.0/groups?$filter=displayName%20in%20('Small','Twin')&$select=id,displayName".to_owned(),
            200,
        ),
        ("/groups/{group-id}", format!("/v1.0/groups/{g1}"), 200),
        (
            "/groups/{group-id}/members",
            format!("/v1.0/groups/{g1}/members?$top=5"),
            200,
        ),
        (
            "/groups/{group-id}/transitiveMembers",
            format!("/v1.0/groups/{g1}/transitiveMembers?$select=id,userPrincipalName&$top=999"),
            200,
        ),
        (
            "/groups/{group-id}/transitiveMembers",
            format!("/v1.0/groups/{}/transitiveMembers", group_id(999)),
            404,
        ),
        ("/users", "/v1.0/users?$top=1000".to_owned(), 400),
        ("/users", "/v1.0/users?$top=0".to_owned(), 400),
        ("/users", "/v1.0/users?$select=nope".to_owned(), 400),
    ];
    for (template, path, status) in cases {
        let (got, content_type, body, headers) = get(&running, &token, &path).await;
        assert_eq!(got, status, "{path}: {}", String::from_utf8_lossy(&body));
        assert!(headers.contains_key("x-ms-resource-unit"), "{path}");
        description
            .check("GET", template, got, content_type.as_deref(), &body)
            .unwrap_or_else(|e| panic!("{path}: {e:#?}"));
    }
    let (_, _, body, _) = get(&running, &token, "/v1.0/users?$top=1000").await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "Request_UnsupportedQuery");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Invalid page size specified"));

    // A next link pages on; a skip token from another list is refused.
    let (_, _, body, _) = get(&running, &token, "/v1.0/users?$top=999").await;
    let page: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(page["value"].as_array().unwrap().len(), 999);
    let next = page["@odata.nextLink"].as_str().unwrap();
    let skiptoken = next.split("$skiptoken=").nth(1).unwrap();
    let (status, _, _, _) = get(&running, &token, next.strip_prefix(&running.base_url).unwrap()).await;
    assert_eq!(status, 200);
    let (status, _, _, _) = get(&running, &token, &format!("/v1.0/groups?$skiptoken={skiptoken}")).await;
    assert_eq!(status, 400);

    // Unauthenticated and unknown answers are Graph's error body too.
    let (status, content_type, body, _) = get(&running, "not-issued", "/v1.0/users").await;
    assert_eq!(status, 401);
    description
        .check("GET", "/users", status, content_type.as_deref(), &body)
        .unwrap();
}

/// Asks the emulator's token endpoint for a token with `form`, and with Basic credentials
/// when `basic` names them: the status and the body.
async fn ask_token(
    running: &RunningEmulator,
    tenant: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", running.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(self::form(form));
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json::<Value>().await.unwrap())
}

/// The form of a client-credentials request, without `leave_out` and with `change`
/// replacing a field's value.
fn token_form(leave_out: &[&str], change: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    [
        ("client_id", CLIENT),
        ("client_secret", SECRET),
        ("scope", "https://graph.microsoft.com/.default"),
        ("grant_type", "client_credentials"),
    ]
    .into_iter()
    .filter(|(name, _)| !leave_out.contains(name))
    .map(|(name, value)| {
        let changed = change.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        (name, changed.unwrap_or(value))
    })
    .collect()
}

/// The identity platform's error body: every field it carries, the description's code
/// among `error_codes`, and never the secret.
fn assert_identity_error(body: &Value, error: &str, code: &str) {
    assert_eq!(body["error"], error, "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.starts_with(code), "{body}");
    let number: u64 = code.trim_start_matches("AADSTS").parse().unwrap();
    assert_eq!(body["error_codes"], json!([number]), "{body}");
    for field in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[field].is_string(), "{field}: {body}");
    }
    assert!(!body.to_string().contains(SECRET), "{body}");
}

#[tokio::test]
async fn the_token_endpoint_refuses_as_the_identity_platform_does() {
    let running = serve(big_state()).await;
    let ask = |tenant: &'static str, form: Vec<(&'static str, &'static str)>| {
        let running = &running;
        async move { ask_token(running, tenant, None, &form).await }
    };

    // The documented request: no Authorization header, everything in the form.
    let (status, body) = ask(TENANT, token_form(&[], &[])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    // The tenant by its domain as well as by its id.
    let (status, _) = ask("fernhill.onmicrosoft.com", token_form(&[], &[])).await;
    assert_eq!(status, 200);

    let (status, body) = ask(TENANT, token_form(&[], &[("client_secret", "wrong")])).await;
    assert_eq!(status, 401);
    assert_identity_error(&body, "invalid_client", "AADSTS7000215");
    let (status, body) = ask(TENANT, token_form(&["client_secret"], &[])).await;
    assert_eq!(status, 401);
    assert_identity_error(&body, "invalid_client", "AADSTS7000218");

    let (status, body) = ask(
        TENANT,
        token_form(&[], &[("client_id", "22222222-0000-4000-8000-000000000000")]),
    )
    .await;
    assert_eq!(status, 400);
    assert_identity_error(&body, "unauthorized_client", "AADSTS700016");
    let (status, body) = ask(TENANT, token_form(&[], &[("scope", "User.Read.All")])).await;
    assert_eq!(status, 400);
    assert_identity_error(&body, "invalid_scope", "AADSTS1002012");
    let (status, body) = ask(TENANT, token_form(&[], &[("grant_type", "password")])).await;
    assert_eq!(status, 400);
    assert_identity_error(&body, "unsupported_grant_type", "AADSTS70003");
    for missing in ["client_id", "scope", "grant_type"] {
        let (status, body) = ask(TENANT, token_form(&[missing], &[])).await;
        assert_eq!(status, 400, "{missing}");
        assert_identity_error(&body, "invalid_request", "AADSTS900144");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains(&format!("'{missing}'")),
            "{body}"
        );
    }
    let (status, body) = ask("someone-else.onmicrosoft.com", token_form(&[], &[])).await;
    assert_eq!(status, 400);
    assert_identity_error(&body, "invalid_request", "AADSTS90002");

    // Not a form: the identity platform reads no field.
    let response = reqwest::Client::new()
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", running.base_url))
        .json(&json!({"client_id": CLIENT, "client_secret": SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_identity_error(&response.json().await.unwrap(), "invalid_request", "AADSTS900144");

    // Every request reached the emulator's log, credentials or not.
    let log = running.shared.instruments().requests();
    assert_eq!(
        log.iter().filter(|r| r.contains("/oauth2/v2.0/token")).count(),
        12,
        "{log:?}"
    );
}

#[tokio::test]
async fn the_token_endpoint_takes_basic_credentials_too() {
    // RFC 6749 §2.3.1: a server MUST support HTTP Basic for a client with a password, and
    // Microsoft's discovery document lists `client_secret_basic`.
    let running = serve(big_state()).await;
    let basic_form = token_form(&["client_id", "client_secret"], &[]);
    let (status, body) = ask_token(&running, TENANT, Some((CLIENT, SECRET)), &basic_form).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (status, _, _, _) = get(&running, &token, "/v1.0/groups?$select=id").await;
    assert_eq!(status, 200);
    // The form's client_id may come along, if it is the same.
    let with_id = token_form(&["client_secret"], &[]);
    let (status, _) = ask_token(&running, TENANT, Some((CLIENT, SECRET)), &with_id).await;
    assert_eq!(status, 200);

    let (status, body) = ask_token(&running, TENANT, Some((CLIENT, "wrong")), &basic_form).await;
    assert_eq!(status, 401);
    assert_identity_error(&body, "invalid_client", "AADSTS7000215");
    let (status, body) = ask_token(
        &running,
        TENANT,
        Some(("22222222-0000-4000-8000-000000000000", SECRET)),
        &basic_form,
    )
    .await;
    assert_eq!(status, 400);
    assert_identity_error(&body, "unauthorized_client", "AADSTS700016");

    // Two methods in one request (RFC 6749 §2.3), or two client ids, are refused even
    // when they agree; Microsoft documents no code for either.
    for form in [
        token_form(&[], &[]),
        token_form(
            &["client_secret"],
            &[("client_id", "22222222-0000-4000-8000-000000000000")],
        ),
    ] {
        let (status, body) = ask_token(&running, TENANT, Some((CLIENT, SECRET)), &form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request")),
            "{body}"
        );
        assert_eq!(body["error_codes"], json!([]), "{body}");
    }

    // A Bearer token is no client credential: without the form's secret, none is given.
    let token_only = token_form(&["client_secret"], &[]);
    let response = reqwest::Client::new()
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", running.base_url))
        .bearer_auth(&token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&token_only))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_identity_error(&response.json().await.unwrap(), "invalid_client", "AADSTS7000218");
}

#[tokio::test]
async fn an_emulator_without_a_secret_refuses_every_secret() {
    let state = EntraState::parse(&big_state().to_string()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    // `Shared::new` alone does not tell the token endpoint the secret.
    let running = host::serve(entra::Shared::new(state, SECRET.to_owned()), listener)
        .await
        .unwrap();
    let (status, body) = ask_token(&running, TENANT, None, &token_form(&[], &[])).await;
    assert_eq!(status, 401);
    assert_identity_error(&body, "invalid_client", "AADSTS7000215");
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let mut state = big_state();
    state["token_lifetime_secs"] = json!(1);
    let running = serve(state).await;
    let token = token(&running).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _, body, _) = get(&running, &token, "/v1.0/users").await;
    assert_eq!(status, 401);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body["error"]["message"],
        "Lifetime validation failed, the token is expired."
    );
}

#[tokio::test]
async fn throttled_answers_carry_retry_after() {
    let mut state = big_state();
    state["resource_units"] = json!(2);
    let running = serve(state).await;
    let token = token(&running).await;
    let path = format!("/v1.0/groups/{}/transitiveMembers", group_id(3));
    let (status, _, _, headers) = get(&running, &token, &path).await;
    assert_eq!(status, 429, "5 units over a budget of 2");
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=10).contains(&wait), "{wait}");
    let (status, _, body, headers) = get(&running, &token, "/v1.0/groups?$select=id").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["x-ms-resource-unit"], "1");
}
