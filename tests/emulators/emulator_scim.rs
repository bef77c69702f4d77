//! The SCIM emulator over real HTTP on a loopback port: auth, discovery per profile,
//! paging caps, filters per profile, uniqueness, PATCH on members, ETags, DELETE per
//! profile, and the state file's round trip.

use reqwest::{Method, StatusCode};
use rollcall::sandbox::scim::{serve, RunningEmulator, ScimProfile, ScimState, Shared, RFC};
use rollcall::sandbox::state::StateFile as _;
use serde_json::{json, Value};

const TOKEN: &str = "scim-token";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

struct Emulator {
    http: reqwest::Client,
    running: RunningEmulator,
}

async fn start(profile: &str) -> Emulator {
    start_with(
        ScimState::parse(&format!("kind: scim\nprofile: {profile}\ndirectory_id: d1\n")).unwrap(),
        None,
    )
    .await
}

async fn start_with(state: ScimState, profile: Option<ScimProfile>) -> Emulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shared = match profile {
        Some(p) => Shared::with_profile(state, TOKEN.to_owned(), p),
        None => Shared::new(state, TOKEN.to_owned()),
    };
    Emulator {
        http: reqwest::Client::new(),
        running: serve(shared, listener).await.unwrap(),
    }
}

impl Emulator {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.running.api_url))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn user(&self, name: &str) -> String {
        let (status, body) = self
            .send(
                Method::POST,
                "/Users",
                Some(
                    json!({"schemas": [USER], "userName": name, "externalId": format!("ext-{name}"),
                    "emails": [{"value": format!("{name}@example.com"), "primary": true}]}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn refuses_requests_without_the_token() {
    let emulator = start("rfc").await;
    let response = reqwest::get(format!("{}/Users", emulator.running.api_url))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    assert_eq!(body["status"], "401");
    assert_eq!(emulator.running.shared.instruments().request_count(), 1);
}

#[tokio::test]
async fn discovery_reflects_the_profile() {
    let rfc = start("rfc").await;
    let (_, config) = rfc.send(Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(config["etag"]["supported"], true);
    assert_eq!(config["sort"]["supported"], true);
    assert_eq!(config["filter"]["maxResults"], 200);
    let atlassian = start("atlassian").await;
    assert!(atlassian.running.api_url.ends_with("/scim/directory/d1"));
    let (_, config) = atlassian.send(Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(config["etag"]["supported"], false);
    assert_eq!(config["sort"]["supported"], false);
    assert_eq!(config["bulk"]["supported"], false);
    assert_eq!(config["filter"]["maxResults"], 100);
}

#[tokio::test]
async fn pages_are_capped_and_one_based() {
    let emulator = start("atlassian").await;
    for i in 0..105 {
        emulator.user(&format!("user{i:03}")).await;
    }
    let (_, page) = emulator.send(Method::GET, "/Users?count=500", None).await;
    assert_eq!(page["totalResults"], 105);
    assert_eq!(page["itemsPerPage"], 100);
    let (_, page) = emulator.send(Method::GET, "/Users?startIndex=101&count=10", None).await;
    assert_eq!(page["itemsPerPage"], 5);
    assert_eq!(page["startIndex"], 101);
    let (_, page) = emulator.send(Method::GET, "/Users?count=0", None).await;
    assert_eq!(page["itemsPerPage"], 0);
    assert_eq!(page["totalResults"], 105);
}

#[tokio::test]
async fn filters_follow_the_profile() {
    let rfc = start("rfc").await;
    rfc.user("alice").await;
    rfc.user("bob").await;
    let (status, page) = rfc
        .send(
            Method::GET,
            "/Users?filter=userName%20sw%20%22a%22%20or%20userName%20eq%20%22BOB%22",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["totalResults"], 2);
    let (status, error) = rfc.send(Method::GET, "/Users?filter=userName%20zz", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["scimType"], "invalidFilter");

    let atlassian = start("atlassian").await;
    atlassian.user("alice").await;
    let (status, page) = atlassian
        .send(Method::GET, "/Users?filter=externalId%20eq%20%22ext-alice%22", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["totalResults"], 1);
    let (status, error) = atlassian
        .send(Method::GET, "/Users?filter=userName%20sw%20%22a%22", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["scimType"], "invalidFilter");
}

#[tokio::test]
async fn a_taken_user_name_is_a_uniqueness_conflict() {
    let emulator = start("rfc").await;
    emulator.user("alice").await;
    let (status, error) = emulator
        .send(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "ALICE"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["scimType"], "uniqueness");
    assert_eq!(error["status"], "409");
}

#[tokio::test]
async fn patch_adds_and_removes_members_in_batches() {
    let limited = ScimProfile {
        max_members_per_patch: Some(2),
        ..RFC
    };
    let emulator = start_with(ScimState::parse("kind: scim\n").unwrap(), Some(limited)).await;
    let ids = [
        emulator.user("a").await,
        emulator.user("b").await,
        emulator.user("c").await,
    ];
    let (_, group) = emulator
        .send(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "devs"})),
        )
        .await;
    let path = format!("/Groups/{}", group["id"].as_str().unwrap());
    let add = |ids: &[String]| {
        json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members",
            "value": ids.iter().map(|id| json!({"value": id})).collect::<Vec<_>>()}]})
    };
    let (status, error) = emulator.send(Method::PATCH, &path, Some(add(&ids))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["scimType"], "tooMany");
    emulator.send(Method::PATCH, &path, Some(add(&ids[..2]))).await;
    let (status, group) = emulator.send(Method::PATCH, &path, Some(add(&ids[2..]))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(group["members"].as_array().unwrap().len(), 3);
    let remove = json!({"schemas": [PATCH], "Operations": [
        {"op": "remove", "path": format!("members[value eq \"{}\"]", ids[0])},
        {"op": "remove", "path": "members[value eq \"not-a-member\"]"}]});
    let (_, group) = emulator.send(Method::PATCH, &path, Some(remove)).await;
    assert_eq!(group["members"].as_array().unwrap().len(), 2);
    let (status, error) = emulator
        .send(
            Method::PATCH,
            &path,
            Some(json!({"schemas": [PATCH], "Operations": [{"op": "remove"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["scimType"], "noTarget");
}

#[tokio::test]
async fn if_match_guards_writes() {
    let emulator = start("rfc").await;
    let id = emulator.user("alice").await;
    let url = format!("{}/Users/{id}", emulator.running.api_url);
    let response = emulator.http.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.headers()["etag"], "W/\"1\"");
    let stale = emulator
        .http
        .put(&url)
        .bearer_auth(TOKEN)
        .header("if-match", "W/\"0\"")
        .body(json!({"schemas": [USER], "userName": "alice2"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let fresh = emulator
        .http
        .put(&url)
        .bearer_auth(TOKEN)
        .header("if-match", "W/\"1\"")
        .body(json!({"schemas": [USER], "userName": "alice2"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), StatusCode::OK);
    assert_eq!(fresh.headers()["etag"], "W/\"2\"");
}

#[tokio::test]
async fn delete_follows_the_profile() {
    let rfc = start("rfc").await;
    let id = rfc.user("alice").await;
    assert_eq!(
        rfc.send(Method::DELETE, &format!("/Users/{id}"), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert!(rfc.running.shared.state().users.is_empty());

    let atlassian = start("atlassian").await;
    let id = atlassian.user("alice").await;
    assert_eq!(
        atlassian.send(Method::DELETE, &format!("/Users/{id}"), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        atlassian.send(Method::GET, &format!("/Users/{id}"), None).await.0,
        StatusCode::NOT_FOUND
    );
    let state = atlassian.running.shared.state();
    assert_eq!(state.users[0].active, Some(false));
    // Creating the userName again reactivates the same user.
    let (status, user) = atlassian
        .send(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "alice",
                        "emails": [{"value": "a@example.com", "primary": true}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(user["id"], id.as_str());
}

#[tokio::test]
async fn atlassian_groups_cannot_be_renamed() {
    let emulator = start("atlassian").await;
    let (_, group) = emulator
        .send(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "devs"})),
        )
        .await;
    let patch = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "ops"}]});
    let (status, error) = emulator
        .send(
            Method::PATCH,
            &format!("/Groups/{}", group["id"].as_str().unwrap()),
            Some(patch),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["scimType"], "mutability");
}

#[tokio::test]
async fn state_round_trips() {
    let emulator = start("rfc").await;
    let alice = emulator.user("alice").await;
    emulator
        .send(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "devs", "members": [{"value": alice}]})),
        )
        .await;
    let state = emulator.running.shared.state();
    let yaml = state.to_yaml().unwrap();
    assert_eq!(ScimState::parse(&yaml).unwrap(), state);
    // Ids come from a counter: the same requests on the same file give the same ids.
    let again = start("rfc").await;
    assert_eq!(again.user("alice").await, alice);
}

/// A client's filter may cut anywhere in a multi-byte character: a 400, never a panic.
#[tokio::test]
async fn filters_with_multi_byte_characters_are_refused_not_fatal() {
    let emulator = start("rfc").await;
    for filter in ["userName xé", "userName pé", "members[value xé]", "é"] {
        let q: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
        for resource in ["Users", "Groups"] {
            let (status, body) = emulator
                .send(Method::GET, &format!("/{resource}?filter={q}"), None)
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{filter}: {body}");
            assert_eq!(body["scimType"], "invalidFilter", "{filter}: {body}");
        }
    }
}

/// userName is unique without regard to case, beyond ASCII too, as the state file
/// requires: the emulator never holds a state it could not load again.
#[tokio::test]
async fn user_names_differing_only_in_case_are_one_name() {
    let emulator = start("rfc").await;
    emulator.user("Émile").await;
    let (status, body) = emulator
        .send(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "émile"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["scimType"], "uniqueness");
    let saved = emulator.running.shared.state().to_yaml().unwrap();
    ScimState::parse(&saved).unwrap();
}

/// RFC 7232 §4.1: a 304 carries the `ETag` a 200 would have carried.
#[tokio::test]
async fn a_304_carries_the_etag() {
    let emulator = start("rfc").await;
    let id = emulator.user("alice").await;
    let (_, group) = emulator
        .send(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "devs"})),
        )
        .await;
    for path in [
        format!("/Users/{id}"),
        format!("/Groups/{}", group["id"].as_str().unwrap()),
    ] {
        let response = emulator
            .http
            .get(format!("{}{path}", emulator.running.api_url))
            .bearer_auth(TOKEN)
            .header("if-none-match", "W/\"1\"")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(response.headers()["etag"], "W/\"1\"", "{path}");
    }
}

/// `If-Match` is checked before a PATCH's operations are read: a stale client gets 412
/// whatever its body says, and nothing changes.
#[tokio::test]
async fn a_stale_patch_is_412_before_its_operations_are_read() {
    let emulator = start("rfc").await;
    let id = emulator.user("alice").await;
    let url = format!("{}/Users/{id}", emulator.running.api_url);
    let before = emulator.running.shared.state();
    for body in [
        json!({"schemas": [PATCH], "Operations": [{"op": "explode"}]}),
        json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "A"}]}),
        json!({"Operations": "not a list"}),
    ] {
        let response = emulator
            .http
            .patch(&url)
            .bearer_auth(TOKEN)
            .header("if-match", "W/\"7\"")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED, "{body}");
    }
    assert_eq!(emulator.running.shared.state(), before);
}

/// RFC 7643 does not make a group's `displayName` unique (`uniqueness: none`); Atlassian
/// answers 409 for an existing name. Each profile publishes what it enforces.
#[tokio::test]
async fn group_names_are_unique_only_where_the_vendor_says_so() {
    let devs = || Some(json!({"schemas": [GROUP], "displayName": "devs"}));
    let rfc = start("rfc").await;
    assert_eq!(rfc.send(Method::POST, "/Groups", devs()).await.0, StatusCode::CREATED);
    let (status, body) = rfc.send(Method::POST, "/Groups", devs()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, ops) = rfc
        .send(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "ops"})),
        )
        .await;
    let rename = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "DEVS"}]});
    let (status, body) = rfc
        .send(
            Method::PATCH,
            &format!("/Groups/{}", ops["id"].as_str().unwrap()),
            Some(rename),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, schema) = rfc.send(Method::GET, &format!("/Schemas/{GROUP}"), None).await;
    assert_eq!(schema["attributes"][0]["name"], "displayName");
    assert_eq!(schema["attributes"][0]["uniqueness"], "none");

    let atlassian = start("atlassian").await;
    assert_eq!(
        atlassian.send(Method::POST, "/Groups", devs()).await.0,
        StatusCode::CREATED
    );
    let (status, body) = atlassian
        .send(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "DEVS"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["scimType"], "uniqueness");
    let (_, schema) = atlassian.send(Method::GET, &format!("/Schemas/{GROUP}"), None).await;
    assert_eq!(schema["attributes"][0]["uniqueness"], "server");
}

/// Timestamps come from the state's own clock, not the wall clock: the same requests
/// against the same file save the same bytes, and a later change has a later time.
#[tokio::test]
async fn timestamps_are_reproducible() {
    async fn run() -> (String, Value) {
        let emulator = start("rfc").await;
        let id = emulator.user("alice").await;
        let patch = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "A"}]});
        let (_, user) = emulator.send(Method::PATCH, &format!("/Users/{id}"), Some(patch)).await;
        (emulator.running.shared.state().to_yaml().unwrap(), user)
    }
    let (first, user) = run().await;
    assert_eq!(user["meta"]["created"], "2026-01-01T00:00:01Z");
    assert_eq!(user["meta"]["lastModified"], "2026-01-01T00:00:02Z");
    assert_eq!(run().await.0, first);
    // The clock is saved with the state, so a resumed sandbox keeps counting forward.
    let resumed = ScimState::parse(&first).unwrap();
    assert_eq!(resumed.clock, 2);
}

/// RFC 7643 §3: `schemas` is required and holds the resource's base schema; a PATCH body
/// holds the PatchOp URN (RFC 7644 §3.5.2). Anything else is 400 `invalidSyntax`.
#[tokio::test]
async fn bodies_must_name_their_schema() {
    for profile in ["rfc", "atlassian"] {
        let emulator = start(profile).await;
        let id = emulator.user("alice").await;
        let email = json!([{"value": "bob@example.com", "primary": true}]);
        let (_, group) = emulator
            .send(
                Method::POST,
                "/Groups",
                Some(json!({"schemas": [GROUP], "displayName": "devs"})),
            )
            .await;
        let group = format!("/Groups/{}", group["id"].as_str().unwrap());
        let user = format!("/Users/{id}");
        let cases = [
            (Method::POST, "/Users", json!({"userName": "bob", "emails": email})),
            (
                Method::POST,
                "/Users",
                json!({"schemas": [GROUP], "userName": "bob", "emails": email}),
            ),
            (
                Method::POST,
                "/Users",
                json!({"schemas": USER, "userName": "bob", "emails": email}),
            ),
            (Method::PUT, &user, json!({"userName": "alice", "emails": email})),
            (Method::POST, "/Groups", json!({"displayName": "ops"})),
            (
                Method::POST,
                "/Groups",
                json!({"schemas": [USER], "displayName": "ops"}),
            ),
            (Method::PUT, &group, json!({"displayName": "devs"})),
            (
                Method::PATCH,
                &user,
                json!({"schemas": [USER], "Operations": [{"op": "replace", "path": "displayName", "value": "A"}]}),
            ),
            (
                Method::PATCH,
                &group,
                json!({"Operations": [{"op": "replace", "path": "externalId", "value": "x"}]}),
            ),
        ];
        for (method, path, body) in cases {
            let (status, error) = emulator.send(method.clone(), path, Some(body.clone())).await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{profile} {method} {path} {body}: {error}"
            );
            assert_eq!(error["scimType"], "invalidSyntax", "{profile} {method} {path} {body}");
        }
    }
}

fn query(filter: &str) -> String {
    url::form_urlencoded::byte_serialize(filter.as_bytes()).collect()
}

/// RFC 7644 §3.4.2.2: comparing a complex attribute without a sub-attribute, or ordering
/// a boolean, is 400 `invalidFilter`, not an empty page; in a PATCH path too.
#[tokio::test]
async fn filters_the_rfc_refuses_are_400() {
    let emulator = start("rfc").await;
    let id = emulator.user("alice").await;
    for (resource, filter) in [
        ("Users", r#"emails eq "alice@example.com""#),
        ("Users", r#"name eq "x""#),
        ("Users", "active gt true"),
        ("Users", "active le false"),
        ("Users", r#"emails[primary ge true]"#),
        ("Groups", r#"members eq "x""#),
    ] {
        let (status, body) = emulator
            .send(Method::GET, &format!("/{resource}?filter={}", query(filter)), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{filter}: {body}");
        assert_eq!(body["scimType"], "invalidFilter", "{filter}");
    }
    let patch = json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": "emails[primary gt false]"}]});
    let (status, body) = emulator.send(Method::PATCH, &format!("/Users/{id}"), Some(patch)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "invalidFilter");
}

/// Whether a comparison minds case is the schema's answer for the attribute path:
/// `emails.value` does not (RFC 7643 §4.1.2), `externalId` and `meta.resourceType` do.
#[tokio::test]
async fn filters_mind_case_as_the_schema_says() {
    let emulator = start("rfc").await;
    let id = emulator.user("alice").await;
    for (filter, expected) in [
        (r#"emails.value eq "ALICE@EXAMPLE.COM""#, 1),
        (r#"emails[value eq "Alice@Example.com"]"#, 1),
        (r#"userName eq "ALICE""#, 1),
        (r#"externalId eq "EXT-ALICE""#, 0),
        (r#"meta.resourceType eq "user""#, 0),
        (r#"meta.resourceType eq "User""#, 1),
        (&format!(r#"id eq "{}""#, id.to_uppercase()), 0),
    ] {
        let (status, page) = emulator
            .send(Method::GET, &format!("/Users?filter={}", query(filter)), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{filter}: {page}");
        assert_eq!(page["totalResults"], expected, "{filter}");
    }
    // A PATCH path filter reads case the same way.
    let patch =
        json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": "emails[value eq \"ALICE@EXAMPLE.COM\"]"}]});
    let (status, user) = emulator.send(Method::PATCH, &format!("/Users/{id}"), Some(patch)).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert!(user.get("emails").is_none(), "{user}");
}

/// A PATCH that removes a required attribute (or leaves it unassigned) is 400 `mutability`
/// (RFC 7644 §3.5.2.2); a PUT without one is 400 `invalidValue` (§3.12: "A required value
/// was missing"), since §3.5.1 only says a PUT MUST carry it.
#[tokio::test]
async fn required_attributes_cannot_be_removed() {
    let emulator = start("rfc").await;
    let id = emulator.user("alice").await;
    let (_, group) = emulator
        .send(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "devs", "members": [{"value": id}]})),
        )
        .await;
    let user = format!("/Users/{id}");
    let group = format!("/Groups/{}", group["id"].as_str().unwrap());
    let before = emulator.running.shared.state();
    for (path, operation) in [
        (&user, json!({"op": "remove", "path": "userName"})),
        (&user, json!({"op": "replace", "path": "userName", "value": ""})),
        (&user, json!({"op": "remove", "path": "emails.value"})),
        (&group, json!({"op": "remove", "path": "displayName"})),
        (
            &group,
            json!({"op": "remove", "path": format!("members[value eq \"{id}\"].value")}),
        ),
    ] {
        let body = json!({"schemas": [PATCH], "Operations": [operation]});
        let (status, error) = emulator.send(Method::PATCH, path, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{operation}: {error}");
        assert_eq!(error["scimType"], "mutability", "{operation}");
    }
    for (path, body) in [
        (&user, json!({"schemas": [USER], "displayName": "Alice"})),
        (&group, json!({"schemas": [GROUP], "members": []})),
    ] {
        let (status, error) = emulator.send(Method::PUT, path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert_eq!(error["scimType"], "invalidValue", "{body}");
    }
    assert_eq!(emulator.running.shared.state(), before);
}

/// RFC 7643 §2.4: `primary: true` appears at most once (else 400 `invalidValue`); a PATCH
/// that marks a new value primary demotes the former one (RFC 7644 §3.5.2).
#[tokio::test]
async fn one_email_at_most_is_primary() {
    let emulator = start("rfc").await;
    let two = json!([{"value": "a@example.com", "primary": true}, {"value": "b@example.com", "primary": true}]);
    let (status, error) = emulator
        .send(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "bob", "emails": two})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["scimType"], "invalidValue");
    let id = emulator.user("alice").await;
    let user = format!("/Users/{id}");
    let (status, error) = emulator
        .send(
            Method::PUT,
            &user,
            Some(json!({"schemas": [USER], "userName": "alice", "emails": two})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["scimType"], "invalidValue");
    let replace_both = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "emails", "value": two}]});
    let (status, error) = emulator.send(Method::PATCH, &user, Some(replace_both)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["scimType"], "invalidValue");

    let add = json!({"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "emails", "value": [{"value": "new@example.com", "type": "work", "primary": true}]}]});
    let (status, body) = emulator.send(Method::PATCH, &user, Some(add)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["emails"][0]["value"], "alice@example.com");
    assert_eq!(body["emails"][0]["primary"], false);
    assert_eq!(body["emails"][1]["primary"], true);
    let back = json!({"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "emails[value eq \"alice@example.com\"].primary", "value": true}]});
    let (status, body) = emulator.send(Method::PATCH, &user, Some(back)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["emails"][0]["primary"], true);
    assert_eq!(body["emails"][1]["primary"], false);
}

/// Atlassian's ScimUser: `emails` is "required during user creation or modification. One
/// value must be marked as primary." The rfc profile requires neither.
#[tokio::test]
async fn atlassian_users_need_a_primary_email() {
    let emulator = start("atlassian").await;
    let id = emulator.user("alice").await;
    let user = format!("/Users/{id}");
    let unmarked = json!([{"value": "bob@example.com"}]);
    for (method, path, body) in [
        (Method::POST, "/Users", json!({"schemas": [USER], "userName": "bob"})),
        (
            Method::POST,
            "/Users",
            json!({"schemas": [USER], "userName": "bob", "emails": []}),
        ),
        (
            Method::POST,
            "/Users",
            json!({"schemas": [USER], "userName": "bob", "emails": unmarked}),
        ),
        (Method::PUT, &user, json!({"schemas": [USER], "userName": "alice"})),
        (
            Method::PUT,
            &user,
            json!({"schemas": [USER], "userName": "alice", "emails": unmarked}),
        ),
    ] {
        let (status, error) = emulator.send(method.clone(), path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {body}: {error}");
        assert_eq!(error["scimType"], "invalidValue", "{method} {body}");
    }
    let remove = json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": "emails"}]});
    let (status, error) = emulator.send(Method::PATCH, &user, Some(remove)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["scimType"], "mutability");
    let (_, schema) = emulator.send(Method::GET, &format!("/Schemas/{USER}"), None).await;
    let emails = schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "emails")
        .unwrap();
    assert_eq!(emails["required"], true);

    let rfc = start("rfc").await;
    let (status, body) = rfc
        .send(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "bob", "emails": unmarked})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = rfc
        .send(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "carol"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// A deactivated Atlassian user answers 404 to everything: adding it to a group (PUT or
/// PATCH) is refused exactly as an unknown id is. A member deactivated while in a group
/// stays, and does not block changes about others.
#[tokio::test]
async fn deactivated_users_cannot_join_groups() {
    let emulator = start("atlassian").await;
    let alice = emulator.user("alice").await;
    let bob = emulator.user("bob").await;
    let carol = emulator.user("carol").await;
    let (_, group) = emulator
        .send(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "devs"})),
        )
        .await;
    let path = format!("/Groups/{}", group["id"].as_str().unwrap());
    let add =
        json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": alice}]}]});
    let (status, _) = emulator.send(Method::PATCH, &path, Some(add)).await;
    assert_eq!(status, StatusCode::OK);
    for id in [&bob, &alice] {
        let (status, _) = emulator.send(Method::DELETE, &format!("/Users/{id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    for who in [bob.as_str(), "no-such-user"] {
        let add =
            json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": who}]}]});
        // Not a POST: it keeps no members (the description marks them read-only), so it
        // has none to refuse.
        let cases = [
            (
                Method::PUT,
                path.as_str(),
                json!({"schemas": [GROUP], "displayName": "devs", "members": [{"value": alice}, {"value": who}]}),
            ),
            (Method::PATCH, path.as_str(), add),
        ];
        for (method, target, body) in cases {
            let (status, error) = emulator.send(method.clone(), target, Some(body)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {who}: {error}");
            assert_eq!(error["scimType"], "invalidValue", "{method} {who}");
        }
    }
    let add =
        json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": carol}]}]});
    let (status, group) = emulator.send(Method::PATCH, &path, Some(add)).await;
    assert_eq!(status, StatusCode::OK, "{group}");
    assert_eq!(group["members"].as_array().unwrap().len(), 2);
}

/// RFC 7644 §3.5.2.2 gives a remove no value; the Azure AD form (a value listing the
/// members to remove) is refused under both profiles, not read as a filter, since a provider
/// following the RFC would remove every member. The filter form works.
#[tokio::test]
async fn a_remove_with_a_value_is_refused() {
    for profile in ["rfc", "atlassian"] {
        let emulator = start(profile).await;
        let alice = emulator.user("alice").await;
        let bob = emulator.user("bob").await;
        // Members by PATCH: Atlassian keeps none from a POST.
        let (_, group) = emulator
            .send(
                Method::POST,
                "/Groups",
                Some(json!({"schemas": [GROUP], "displayName": "devs"})),
            )
            .await;
        let path = format!("/Groups/{}", group["id"].as_str().unwrap());
        let add = json!({"schemas": [PATCH],
                         "Operations": [{"op": "add", "path": "members", "value": [{"value": alice}, {"value": bob}]}]});
        let (status, _) = emulator.send(Method::PATCH, &path, Some(add)).await;
        assert_eq!(status, StatusCode::OK, "{profile}");
        let azure = json!({"schemas": [PATCH],
                           "Operations": [{"op": "remove", "path": "members", "value": [{"value": alice}]}]});
        let (status, error) = emulator.send(Method::PATCH, &path, Some(azure)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{profile}: {error}");
        assert_eq!(error["scimType"], "invalidValue", "{profile}");
        let filter = json!({"schemas": [PATCH],
                            "Operations": [{"op": "remove", "path": format!("members[value eq \"{alice}\"]")}]});
        let (status, group) = emulator.send(Method::PATCH, &path, Some(filter)).await;
        assert_eq!(status, StatusCode::OK, "{profile}: {group}");
        assert_eq!(group["members"][0]["value"], bob.as_str(), "{profile}");
        assert_eq!(group["members"].as_array().unwrap().len(), 1, "{profile}");
    }
}

/// A filter nested 1,000 deep once overflowed the emulator's stack and lost its state:
/// deep nesting, in a filter or a PATCH path, and filters of too many terms are 400
/// `invalidFilter`, and the emulator keeps serving.
#[tokio::test]
async fn deeply_nested_filters_are_refused_and_the_emulator_survives() {
    let emulator = start("rfc").await;
    let id = emulator.user("alice").await;
    let nested = format!("{}userName pr{}", "(".repeat(1000), ")".repeat(1000));
    let unclosed = "(".repeat(1000);
    let nots = format!("{}userName pr{}", "not (".repeat(1000), ")".repeat(1000));
    let brackets = format!("{}value pr{}", "emails[".repeat(1000), "]".repeat(1000));
    let long = vec!["userName pr"; 1_000].join(" and ");
    for filter in [&nested, &unclosed, &nots, &brackets, &long] {
        let (status, body) = emulator
            .send(Method::GET, &format!("/Users?filter={}", query(filter)), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["scimType"], "invalidFilter", "{body}");
    }
    let path = format!("{}value pr{}", "emails[".repeat(1000), "]".repeat(1000));
    let patch = json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": path}]});
    let (status, body) = emulator.send(Method::PATCH, &format!("/Users/{id}"), Some(patch)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Still serving, with its state.
    let (status, body) = emulator
        .send(
            Method::GET,
            &format!("/Users?filter={}", query("(userName eq \"alice\")")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 1, "{body}");
}

/// Whether `text` is an RFC 3339 date-time (`2026-01-01T00:00:00Z`, `…+02:00`, with or
/// without fractions), checked independently of the emulator's own formatter.
fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| b.get(range).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let date = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    let mut rest = &text[19.min(text.len())..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    let zone = matches!(rest, "Z" | "z")
        || (rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':'
            && rest[1..3].bytes().chain(rest[4..6].bytes()).all(|d| d.is_ascii_digit()));
    date && zone
}

/// The northwind example's directory lists people without `meta`: RFC 7643 §3.1 and
/// Atlassian's description make `created` and `lastModified` date-times, never `""`.
#[tokio::test]
async fn objects_loaded_without_meta_have_date_times() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/northwind/sandbox/directory.yaml");
    let state = ScimState::load(std::path::Path::new(path)).unwrap();
    let emulator = start_with(state, None).await;
    for resource in ["Users", "Groups"] {
        let (status, body) = emulator.send(Method::GET, &format!("/{resource}"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let items = body["Resources"].as_array().unwrap();
        assert!(!items.is_empty());
        for item in items {
            for key in ["created", "lastModified"] {
                let time = item["meta"][key].as_str().unwrap_or_default();
                assert!(is_rfc3339(time), "{resource} {}: meta.{key} = {time:?}", item["id"]);
            }
            let id = item["id"].as_str().unwrap();
            let (_, one) = emulator.send(Method::GET, &format!("/{resource}/{id}"), None).await;
            assert!(is_rfc3339(one["meta"]["created"].as_str().unwrap_or_default()), "{one}");
        }
    }
    // A change made after loading is stamped later than the loaded objects.
    let (_, users) = emulator.send(Method::GET, "/Users?count=1", None).await;
    let id = users["Resources"][0]["id"].as_str().unwrap().to_owned();
    let loaded = users["Resources"][0]["meta"]["created"].as_str().unwrap().to_owned();
    let patch = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "A"}]});
    let (status, user) = emulator.send(Method::PATCH, &format!("/Users/{id}"), Some(patch)).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert!(
        user["meta"]["lastModified"].as_str().unwrap() > loaded.as_str(),
        "{user}"
    );
}

/// Times written by hand must be date-times too: the state file is refused otherwise.
#[test]
fn hand_written_times_must_be_date_times() {
    assert!(is_rfc3339("2026-01-02T03:04:05Z") && is_rfc3339("2026-01-02T03:04:05.5+02:00"));
    assert!(!is_rfc3339("") && !is_rfc3339("2026-01-02") && !is_rfc3339("2026-01-02T03:04:05"));
    let state = |created: &str| {
        format!(
            "kind: scim\nusers:\n- id: u1\n  userName: a\n  meta: {{ created: '{created}', lastModified: 2026-01-02T03:04:05Z }}\n"
        )
    };
    ScimState::parse(&state("2026-01-02T03:04:05Z")).unwrap();
    let message = ScimState::parse(&state("yesterday")).unwrap_err();
    assert!(
        message.contains("yesterday") && message.contains("created"),
        "{message}"
    );
}
