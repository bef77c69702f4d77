//! The Google Workspace source read from its emulator, in-process on a loopback port:
//! nested groups, paging past the largest pages, request counts against the formula of
//! `source::google`, several groups at once, a group that does not exist, sign-in and
//! permission failures, an outage, and Google's 403 over quota. Then the emulator against
//! the discovery document: its routes and scopes, its answers' shapes, its limits and its
//! faults.

// Helpers outside `#[test]` functions unwrap too: a test that cannot set up fails.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rollcall::desired::Endpoint;
use rollcall::sandbox::faults::FaultConfig;
use rollcall::sandbox::google::state::User;
use rollcall::sandbox::google::{scopes_for, serve, GoogleState, RunningEmulator, Shared, ROUTES};
use rollcall::sandbox::state::StateFile;
use rollcall::source::{registry, Query, Reach, Snapshot, Source, SourceConfig, SourceError};
use secrecy::SecretString;
use serde_json::{json, Value};

const KEY: &str = include_str!("../../examples/sources/google-service-account.json");
const EXAMPLE: &str = include_str!("../../examples/sources/google.yaml");
const DISCOVERY: &str = include_str!("../../specs/google-admin-directory_v1.discovery.json");
const ADMIN: &str = "ada@example.com";
/// The public half of another RSA key than the example service account's.
const OTHER_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqeg66a9vN2GdBDy7uE/DGbOfnWLT+fAgvEkU+FSu86pPrRPkoT4aZIOzeMO+zBqkeO7VNCZE5R9L+hQKDrI6RFT+r76vESj2mlObbFnnpd5Pvgpum4PvGzNRw/tF0z50XZBEuMplkVyJHSSzY8VDClPtGeY15Kx/puo0udrKaerjDeDEXISOia192gVhcar0mZEnSunZ/K8xO1m0nBsnAFxekFArPquVGC/rHbRdIwlQfFL2SdynX6aS1DGE7qgGJ+TftIt6wffa+fD3x8s/MfR0kHhqZFawmPePD+Ik4VvRldLB8ZbdHu7ro7DP85/7HksR4oUk/ykF0IY/GWJ81wIDAQAB\n-----END PUBLIC KEY-----\n";

fn example() -> GoogleState {
    GoogleState::parse(EXAMPLE).unwrap()
}

/// The example and `extra` more people, all of them direct members of
/// `all-staff@example.com`, which also holds the Engineering group.
fn large(extra: usize) -> GoogleState {
    let mut state = example();
    let mut members = vec![json!({"email": "engineering@example.com"})];
    for i in 0..extra {
        let user: User = serde_json::from_value(json!({
            "id": format!("2{i:020}"),
            "primaryEmail": format!("person{i:05}@example.com"),
            "givenName": "Person",
            "familyName": format!("{i:05}"),
            "department": if i % 2 == 0 { "Sales" } else { "Support" },
        }))
        .unwrap();
        state.users.push(user);
        members.push(json!({"email": format!("person{i:05}@example.com")}));
    }
    state.groups.push(
        serde_json::from_value(json!({
            "id": "09allstaff", "email": "all-staff@example.com", "name": "All staff", "members": members,
        }))
        .unwrap(),
    );
    state.check().unwrap();
    state
}

async fn start(state: GoogleState) -> RunningEmulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(Shared::new(state, "host-token".to_owned()), listener)
        .await
        .unwrap()
}

fn config(subject: &str) -> SourceConfig {
    let kind = registry::find("google-workspace").unwrap();
    SourceConfig {
        name: "google".to_owned(),
        kind,
        endpoint: Endpoint::Sandbox(PathBuf::from("google.yaml")),
        url: "sandbox:google.yaml".to_owned(),
        settings: BTreeMap::from([("subject".to_owned(), subject.to_owned())]),
        secret: None,
    }
}

fn reader_at(base: &str, subject: &str) -> Box<dyn Source> {
    let kind = registry::find("google-workspace").unwrap();
    let reach = Reach {
        base: url::Url::parse(&format!("{base}/")).unwrap(),
        sandboxed: true,
        secret: SecretString::from(KEY),
        parallelism: 8,
    };
    (kind.build)(&config(subject), reach).unwrap()
}

fn reader(running: &RunningEmulator) -> Box<dyn Source> {
    reader_at(&running.base_url, ADMIN)
}

fn groups(names: &[&str]) -> Query {
    Query {
        groups: names.iter().map(|n| (*n).to_owned()).collect(),
        everyone: false,
    }
}

fn logins(snapshot: &Snapshot, group: &str) -> Vec<String> {
    let mut logins: Vec<String> = snapshot.groups[group]
        .members
        .iter()
        .map(|id| snapshot.people[id].login.clone().unwrap())
        .collect();
    logins.sort();
    logins
}

/// 1 token + Σ_g max(1, ⌈m_g/200⌉) + max(1, ⌈U/500⌉).
fn minimum(members: &[usize], users: usize) -> usize {
    1 + members.iter().map(|m| m.div_ceil(200).max(1)).sum::<usize>() + users.div_ceil(500).max(1)
}

/// The private key's text, to look for in error messages.
fn key_material() -> String {
    let key: Value = serde_json::from_str(KEY).unwrap();
    key["private_key"].as_str().unwrap().lines().nth(1).unwrap().to_owned()
}

#[tokio::test]
async fn nested_groups_are_read_with_their_people_in_the_fewest_requests() {
    let running = start(example()).await;
    let source = reader(&running);
    let query = groups(&["engineering@example.com", "science@example.com", "everyone@example.com"]);
    let snapshot = source.read(&query).await.unwrap();

    // Engineering holds Platform and Kernel: their people count, the groups themselves
    // and the contractor from another domain are skipped.
    assert_eq!(
        logins(&snapshot, "engineering@example.com"),
        [
            "ada@example.com",
            "barbara@example.com",
            "dennis@example.com",
            "grace@example.com",
            "linus@example.com",
            "margaret@example.com"
        ]
    );
    assert_eq!(snapshot.groups["engineering@example.com"].skipped, 3);
    // A group named by its alias is read under that name.
    assert_eq!(logins(&snapshot, "science@example.com").len(), 5);
    assert_eq!(snapshot.groups["science@example.com"].skipped, 0);
    // The whole customer as a member is skipped and counted, not expanded.
    assert_eq!(logins(&snapshot, "everyone@example.com"), ["radia@example.com"]);
    assert_eq!(snapshot.groups["everyone@example.com"].skipped, 1);
    assert_eq!(
        snapshot.people.len(),
        12,
        "only the groups' members: {:?}",
        snapshot.people.keys()
    );

    let dennis = &snapshot.people["100000000000000000109"];
    assert_eq!((dennis.status.as_str(), dennis.active), ("archived", false));
    let donald = &snapshot.people["100000000000000000107"];
    assert_eq!((donald.status.as_str(), donald.active), ("suspended", false));
    let ada = &snapshot.people["100000000000000000101"];
    assert_eq!((ada.status.as_str(), ada.active), ("active", true));
    assert_eq!(ada.email.as_deref(), Some("ada@example.com"));
    assert_eq!(ada.display_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(ada.department.as_deref(), Some("Engineering"));
    assert_eq!(ada.attributes["name.givenName"], "Ada");
    assert_eq!(ada.attributes["organizations.title"], "Staff Engineer");
    assert_eq!(ada.attributes["externalIds.organization"], "E-101");
    assert_eq!(ada.attributes["orgUnitPath"], "/Engineering");
    assert_eq!(ada.attributes["isAdmin"], "true");

    // Engineering's derived list has 9 entries, Research 5, Everyone 2; 12 people.
    assert_eq!(source.requests(), minimum(&[9, 5, 2], 12));
    assert_eq!(source.requests(), 5);
    let log = running.shared.instruments().requests();
    assert!(log.iter().all(|r| !r.contains("/users/")), "no GET per person: {log:?}");

    // The token is kept: a second read costs no sign-in.
    source.read(&groups(&["research@example.com"])).await.unwrap();
    assert_eq!(source.requests(), 5 + 2);
    // Nothing asked, nothing sent.
    source.read(&Query::default()).await.unwrap();
    assert_eq!(source.requests(), 7);
}

#[tokio::test]
async fn large_groups_and_directories_are_paged_at_the_largest_pages() {
    let running = start(large(1_200)).await;
    let source = reader(&running);
    let query = Query {
        groups: ["all-staff@example.com".to_owned()].into(),
        everyone: true,
    };
    let snapshot = source.read(&query).await.unwrap();
    assert_eq!(snapshot.people.len(), 1_212);
    // 1,200 people, Engineering's 6 through nesting.
    assert_eq!(snapshot.groups["all-staff@example.com"].members.len(), 1_206);
    // The Engineering group, Platform, Kernel and the contractor.
    assert_eq!(snapshot.groups["all-staff@example.com"].skipped, 4);
    // 1,200 + Engineering + its 9 derived entries = 1,210 members: 7 pages of 200;
    // 1,212 people: 3 pages of 500.
    assert_eq!(source.requests(), minimum(&[1_210], 1_212));
    assert_eq!(source.requests(), 1 + 7 + 3);
    let log = running.shared.instruments().requests();
    assert!(
        log.iter()
            .any(|r| r.contains("maxResults=500") && r.contains("projection=full")),
        "{log:?}"
    );
    assert!(log
        .iter()
        .any(|r| r.contains("includeDerivedMembership=true") && r.contains("maxResults=200")));
}

#[tokio::test]
async fn a_group_that_does_not_exist_is_an_error() {
    let running = start(example()).await;
    let source = reader(&running);
    let error = source
        .read(&groups(&["engineering@example.com", "nosuch@example.com"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, SourceError::NotFound { group, source_name, .. } if group == "nosuch@example.com" && source_name == "google"),
        "{error:?}"
    );
}

#[tokio::test]
async fn sign_in_failures_name_the_source_and_status_and_never_the_key() {
    let secret = key_material();
    let check = |error: SourceError, status: &str, words: &str| {
        let message = error.to_string();
        assert!(message.starts_with("google"), "{message}");
        assert!(message.contains(status), "{message}");
        assert!(message.contains(words), "{message}");
        assert!(!message.contains(&secret) && !message.contains("eyJ"), "{message}");
    };

    // Someone who is no admin gets a token, and the API refuses them.
    let running = start(example()).await;
    let error = reader_at(&running.base_url, "grace@example.com")
        .read(&groups(&["engineering@example.com"]))
        .await
        .unwrap_err();
    check(error, "403", "Not Authorized to access this resource/api");

    // A subject the account does not have.
    let error = reader_at(&running.base_url, "nobody@example.com")
        .read(&groups(&["engineering@example.com"]))
        .await
        .unwrap_err();
    check(error, "400", "invalid_grant: Invalid email or User ID");

    // A key whose public half the account does not hold: the signature fails.
    let mut state = example();
    state.service_accounts[0].public_key = OTHER_PUBLIC_KEY.to_owned();
    state.check().unwrap();
    let running = start(state).await;
    let error = reader(&running)
        .read(&groups(&["engineering@example.com"]))
        .await
        .unwrap_err();
    check(error, "400", "invalid_grant: Invalid JWT Signature.");

    // Scopes the account was not delegated.
    let mut state = example();
    state.service_accounts[0].scopes = vec!["https://www.googleapis.com/auth/admin.directory.user.readonly".to_owned()];
    let running = start(state).await;
    let error = reader(&running)
        .read(&groups(&["engineering@example.com"]))
        .await
        .unwrap_err();
    check(error, "401", "unauthorized_client");
}

#[tokio::test]
async fn a_key_that_is_not_a_service_account_key_is_refused_without_showing_it() {
    let kind = registry::find("google-workspace").unwrap();
    for (text, words) in [
        ("not json at all, but a secret", "not a service account's JSON key file"),
        (
            r#"{"type":"authorized_user","client_secret":"s3cr3t"}"#,
            "`type` is not `service_account`",
        ),
        (
            r#"{"type":"service_account","client_email":"a@b","private_key_id":"k","private_key":"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----"}"#,
            "not an RSA private key",
        ),
    ] {
        let reach = Reach {
            base: url::Url::parse("https://admin.googleapis.com/").unwrap(),
            sandboxed: false,
            secret: SecretString::from(text),
            parallelism: 1,
        };
        let message = match (kind.build)(&config(ADMIN), reach) {
            Ok(_) => panic!("built with {text}"),
            Err(e) => e.to_string(),
        };
        assert!(message.contains(words), "{message}");
        assert!(
            !message.contains("secret") && !message.contains("s3cr3t") && !message.contains("bm90"),
            "{message}"
        );
    }
    let mut no_subject = config(ADMIN);
    no_subject.settings.clear();
    let reach = Reach {
        base: url::Url::parse("https://admin.googleapis.com/").unwrap(),
        sandboxed: false,
        secret: SecretString::from(KEY),
        parallelism: 1,
    };
    let message = (kind.build)(&no_subject, reach).err().unwrap().to_string();
    assert!(message.contains("`subject`"), "{message}");
}

#[tokio::test]
async fn an_outage_is_an_error_never_an_empty_answer() {
    let mut state = example();
    state.faults = Some(FaultConfig::parse_compact("unavailable=1").unwrap());
    let running = start(state).await;
    let error = reader(&running)
        .read(&groups(&["engineering@example.com"]))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("503"), "{message}");

    // Signed in, then the API goes down: the next read fails rather than answer nothing.
    let running = start(example()).await;
    let source = reader(&running);
    source.read(&groups(&["research@example.com"])).await.unwrap();
    let faults = FaultConfig::parse_compact("unavailable=1").unwrap();
    running.shared.instruments().set_faults(faults).unwrap();
    let message = source
        .read(&groups(&["research@example.com"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("503") && message.contains("/admin/directory/v1/"),
        "{message}"
    );

    // Nobody listening at all.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = reader_at(&base, ADMIN)
        .read(&groups(&["engineering@example.com"]))
        .await
        .unwrap_err();
    assert!(error.to_string().starts_with("google"), "{error}");
}

#[tokio::test]
async fn over_quota_the_reader_backs_off_and_finishes() {
    let mut state = example();
    state.quota.queries = 2;
    state.quota.per_seconds = 1;
    let running = start(state).await;
    let source = reader(&running);
    let started = Instant::now();
    let query = groups(&[
        "engineering@example.com",
        "research@example.com",
        "platform@example.com",
    ]);
    let snapshot = source.read(&query).await.unwrap();
    assert_eq!(logins(&snapshot, "platform@example.com").len(), 3);
    // Four queries at two a second: Google's 403s were waited out, not failed on.
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
    assert!(source.requests() > minimum(&[9, 5, 3], 12), "{}", source.requests());
}

// The emulator against the discovery document.

fn discovery() -> Value {
    serde_json::from_str(DISCOVERY).unwrap()
}

/// Every method of the description: (HTTP method, `/` + servicePath + path, method).
fn methods(doc: &Value) -> Vec<(String, String, Value)> {
    fn walk(resource: &Value, service: &str, out: &mut Vec<(String, String, Value)>) {
        for method in resource["methods"].as_object().into_iter().flat_map(|m| m.values()) {
            out.push((
                method["httpMethod"].as_str().unwrap().to_owned(),
                format!("/{service}{}", method["path"].as_str().unwrap()),
                method.clone(),
            ));
        }
        for inner in resource["resources"].as_object().into_iter().flat_map(|r| r.values()) {
            walk(inner, service, out);
        }
    }
    let mut out = Vec::new();
    walk(doc, doc["servicePath"].as_str().unwrap(), &mut out);
    out
}

#[test]
fn every_route_is_a_method_of_the_description_with_its_scopes() {
    let doc = discovery();
    let methods = methods(&doc);
    for (method, path) in ROUTES {
        if *path == "/token" {
            // Google's OAuth endpoint (oauth2.googleapis.com), not the Directory API's.
            continue;
        }
        let (_, _, described) = methods
            .iter()
            .find(|(m, p, _)| m == method && p == path)
            .unwrap_or_else(|| panic!("{method} {path} is not in the description"));
        let mut scopes: Vec<&str> = described["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        scopes.sort();
        let mut ours = scopes_for(path).to_vec();
        ours.sort();
        assert_eq!(ours, scopes, "{method} {path}");
    }
}

/// Whether `value` fits discovery schema `schema`: property names the schema knows,
/// their types, arrays' items and `$ref`s followed.
fn fits(doc: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    if let Some(name) = schema["$ref"].as_str() {
        return fits(doc, &doc["schemas"][name], value, at, problems);
    }
    let ok = match schema["type"].as_str() {
        Some("string") => value.is_string(),
        Some("boolean") => value.is_boolean(),
        Some("integer" | "number") => value.is_number(),
        Some("array") => {
            for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                fits(doc, &schema["items"], item, &format!("{at}[{i}]"), problems);
            }
            value.is_array()
        }
        Some("object") => {
            for (key, item) in value.as_object().into_iter().flatten() {
                match schema["properties"].get(key) {
                    Some(property) => fits(doc, property, item, &format!("{at}.{key}"), problems),
                    None if schema.get("additionalProperties").is_some() => {}
                    None => problems.push(format!("{at}.{key} is not a property of the schema")),
                }
            }
            value.is_object()
        }
        // `any`, or a schema without a type.
        _ => true,
    };
    if !ok {
        problems.push(format!("{at} is not of type {}", schema["type"]));
    }
}

/// A token from the emulator's endpoint, signed here with the example key.
async fn sign_in(running: &RunningEmulator, scopes: &str) -> String {
    use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
    let key: Value = serde_json::from_str(KEY).unwrap();
    let pem = key["private_key"].as_str().unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
    let pair = RsaKeyPair::from_pkcs8(&der).unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "iss": key["client_email"], "sub": ADMIN, "scope": scopes,
        "aud": format!("{}/token", running.base_url), "iat": now, "exp": now + 3600,
    });
    let signed = format!(
        "{}.{}",
        b64.encode(json!({"alg": "RS256", "typ": "JWT"}).to_string()),
        b64.encode(claims.to_string())
    );
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signed.as_bytes(),
        &mut signature,
    )
    .unwrap();
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/token", running.base_url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={signed}.{}",
            b64.encode(signature)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

const ALL_SCOPES: &str = "https://www.googleapis.com/auth/admin.directory.user.readonly https://www.googleapis.com/auth/admin.directory.group.member.readonly https://www.googleapis.com/auth/admin.directory.group.readonly";

async fn get(running: &RunningEmulator, token: &str, path: &str) -> (u16, Value, bool) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", running.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response.headers().contains_key("retry-after");
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        retry_after,
    )
}

#[tokio::test]
async fn answers_fit_the_descriptions_schemas() {
    let doc = discovery();
    let running = start(large(30)).await;
    let token = sign_in(&running, ALL_SCOPES).await;
    for (path, schema) in [
        (
            "/admin/directory/v1/users?customer=my_customer&maxResults=7&projection=full",
            "Users",
        ),
        ("/admin/directory/v1/users?domain=example.com", "Users"),
        ("/admin/directory/v1/groups/all-staff@example.com", "Group"),
        (
            "/admin/directory/v1/groups/all-staff@example.com/members?includeDerivedMembership=true&maxResults=11",
            "Members",
        ),
        ("/admin/directory/v1/groups/everyone@example.com/members", "Members"),
    ] {
        let (status, body, _) = get(&running, &token, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        let mut problems = Vec::new();
        fits(&doc, &json!({"$ref": schema}), &body, schema, &mut problems);
        assert!(problems.is_empty(), "{path}: {problems:?}");
    }
    // Paging follows nextPageToken to the end, each item once.
    let mut seen = std::collections::BTreeSet::new();
    let mut next = String::new();
    loop {
        let (_, body, _) = get(
            &running,
            &token,
            &format!("/admin/directory/v1/users?customer=my_customer&maxResults=7{next}"),
        )
        .await;
        for user in body["users"].as_array().unwrap() {
            assert!(seen.insert(user["id"].as_str().unwrap().to_owned()));
        }
        match body["nextPageToken"].as_str() {
            Some(t) => next = format!("&pageToken={t}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 42);
}

#[tokio::test]
async fn the_emulator_is_no_more_lenient_than_google() {
    let running = start(example()).await;
    let token = sign_in(&running, ALL_SCOPES).await;
    let reason = |body: &Value| body["error"]["errors"][0]["reason"].as_str().unwrap_or("").to_owned();
    for (path, status, why) in [
        (
            "/admin/directory/v1/users?customer=my_customer&maxResults=501",
            400,
            "invalid",
        ),
        ("/admin/directory/v1/users?maxResults=10", 400, "invalid"),
        ("/admin/directory/v1/users?customer=C0other", 403, "forbidden"),
        (
            "/admin/directory/v1/users?customer=my_customer&query=name:Ada",
            400,
            "invalid",
        ),
        (
            "/admin/directory/v1/groups/engineering@example.com/members?maxResults=201",
            400,
            "invalid",
        ),
        ("/admin/directory/v1/groups/nosuch@example.com/members", 404, "notFound"),
    ] {
        let (got, body, _) = get(&running, &token, path).await;
        assert_eq!((got, reason(&body).as_str()), (status, why), "{path}: {body}");
    }
    let (status, body, _) = get(&running, &token, "/admin/directory/v1/groups/nosuch@example.com").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["message"], "Resource Not Found: groupKey");
    // A token without the group scope cannot get a group, and no token gets nothing.
    let narrow = token_scoped(&running).await;
    let (status, body, _) = get(&running, &narrow, "/admin/directory/v1/groups/engineering@example.com").await;
    assert_eq!((status, reason(&body).as_str()), (403, "insufficientPermissions"));
    let (status, body, _) = get(
        &running,
        "ya29.made-up",
        "/admin/directory/v1/users?customer=my_customer",
    )
    .await;
    assert_eq!((status, reason(&body).as_str()), (401, "authError"));
    // An unknown URL is Google's HTML 404.
    let (status, body, _) = get(&running, &token, "/admin/directory/v1/nothing").await;
    assert_eq!(status, 404);
    assert!(body.as_str().unwrap().contains("Error 404 (Not Found)"));
}

async fn token_scoped(running: &RunningEmulator) -> String {
    sign_in(running, "https://www.googleapis.com/auth/admin.directory.user.readonly").await
}

#[tokio::test]
async fn quota_and_faults_are_answered_as_google_answers_them() {
    let mut state = example();
    state.quota.queries = 1;
    state.quota.per_seconds = 60;
    let running = start(state).await;
    let token = sign_in(&running, ALL_SCOPES).await;
    let path = "/admin/directory/v1/users?customer=my_customer";
    assert_eq!(get(&running, &token, path).await.0, 200);
    let (status, body, retry_after) = get(&running, &token, path).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["errors"][0]["reason"], "userRateLimitExceeded");
    assert_eq!(body["error"]["errors"][0]["domain"], "usageLimits");
    assert!(!retry_after, "Google's 403 carries no Retry-After");

    let running = start(example()).await;
    let token = sign_in(&running, ALL_SCOPES).await;
    let faults = FaultConfig::parse_compact("rate_limited=1").unwrap();
    running.shared.instruments().set_faults(faults).unwrap();
    let (status, body, retry_after) = get(&running, &token, path).await;
    assert_eq!((status, retry_after), (403, false), "{body}");
    assert_eq!(body["error"]["errors"][0]["reason"], "userRateLimitExceeded");
    let faults = FaultConfig::parse_compact("unavailable=1").unwrap();
    running.shared.instruments().set_faults(faults).unwrap();
    let (status, body, _) = get(&running, &token, path).await;
    assert_eq!((status, body["error"]["code"].as_u64()), (503, Some(503)));
}

#[test]
fn the_example_state_is_the_emulators_and_bad_states_are_refused() {
    assert_eq!(
        rollcall::sandbox::state::marker(EXAMPLE).unwrap().as_deref(),
        Some("google-workspace")
    );
    assert!((rollcall::sandbox::google::KIND.reads)(EXAMPLE));
    let cyclic = EXAMPLE.replace(
        "      - { email: linus@example.com }",
        "      - { email: linus@example.com }\n      - { email: engineering@example.com }",
    );
    assert!(GoogleState::parse(&cyclic).unwrap_err().contains("contains itself"));
    let twice = EXAMPLE.replace("primaryEmail: grace@example.com", "primaryEmail: ada@example.com");
    assert!(GoogleState::parse(&twice).unwrap_err().contains("used twice"));
}
