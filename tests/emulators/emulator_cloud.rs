//! The Atlassian Cloud emulator over real HTTP: Bitbucket Cloud and the organization
//! directory on one state. Its routes against the two vendor descriptions, and the
//! behaviours a client depends on: paging, the email filter, the removed endpoints,
//! scopes, access tokens, the rate limiter, propagation from the directory to Bitbucket,
//! workspace membership through an access group, and faults.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use rollcall::sandbox::atlassian_cloud::{scopes_needed, serve, CloudState, RunningEmulator, Shared, ROUTES};
use rollcall::sandbox::faults::FaultConfig;
use rollcall::sandbox::state::StateFile as _;

use crate::common::openapi::Description;

pub const TOKEN: &str = "cloud-token";
/// The operator's email: the Basic username of its API token.
pub const EMAIL: &str = "oscar@acme.example";
pub const ORG: &str =
    "/admin/v2/orgs/4f2a9c1e-0b7d-4e8a-9c3f-5d6e7f8a9b0c/directories/9d8c7b6a-5e4f-4a3b-8c2d-1e0f9a8b7c6d";

pub fn fixture() -> CloudState {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/atlassian-cloud-sandbox.yaml"
    );
    CloudState::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub async fn start(edit: impl FnOnce(&mut CloudState)) -> RunningEmulator {
    let mut state = fixture();
    edit(&mut state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(Shared::new(state, TOKEN.to_owned()), listener).await.unwrap()
}

/// How a request authenticates.
#[derive(Clone, Copy)]
enum Auth {
    /// The API token: Basic, the operator's email and the token.
    Token,
    /// Bearer and the token: an access token on Bitbucket, the org API key on /admin.
    Bearer,
    None,
}

struct Answer {
    status: u16,
    content_type: String,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

async fn send(emulator: &RunningEmulator, auth: Auth, method: Method, path: &str, body: Option<Value>) -> Answer {
    let url = if path.starts_with("http") {
        path.to_owned()
    } else {
        format!("{}{path}", emulator.base_url)
    };
    let mut request = reqwest::Client::new().request(method, url);
    request = match auth {
        Auth::Token => request.basic_auth(EMAIL, Some(TOKEN)),
        Auth::Bearer => request.bearer_auth(TOKEN),
        Auth::None => request,
    };
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    Answer {
        status,
        content_type,
        headers,
        text: response.text().await.unwrap(),
    }
}

async fn get(emulator: &RunningEmulator, path: &str) -> Answer {
    send(emulator, Auth::Token, Method::GET, path, None).await
}

async fn put(emulator: &RunningEmulator, path: &str, permission: &str) -> Answer {
    send(
        emulator,
        Auth::Token,
        Method::PUT,
        path,
        Some(json!({"permission": permission})),
    )
    .await
}

async fn admin(emulator: &RunningEmulator, method: Method, path: &str, body: Option<Value>) -> Answer {
    send(emulator, Auth::Bearer, method, &format!("{ORG}{path}"), body).await
}

/// The group id a name has in the directory.
async fn group_id(emulator: &RunningEmulator, name: &str) -> String {
    let found = admin(
        emulator,
        Method::POST,
        "/groups/search",
        Some(json!({"groupNames": [name]})),
    )
    .await;
    found.json()["data"][0]["id"].as_str().unwrap().to_owned()
}

fn spec(file: &str) -> Value {
    let path = format!("{}/specs/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

// ----- routes against the descriptions -----

/// Bitbucket routes the description does not have, and why the emulator serves them.
const NOT_DESCRIBED: &[(&str, &str, &str)] = &[(
    "GET",
    "/2.0/user/workspaces",
    "CHANGE-3022 added it as the replacement of the removed cross-workspace reads, after \
     the description's revision",
)];

#[test]
fn every_route_is_in_the_vendor_descriptions_with_its_scopes() {
    let bitbucket = Description::load("bitbucket-cloud.swagger.v3.json");
    let organizations = Description::load("atlassian-admin-organizations.openapi.json");
    let raw = spec("bitbucket-cloud.swagger.v3.json");
    let mut bitbucket_routes = 0;
    for (method, route) in ROUTES {
        if let Some(template) = route.strip_prefix("/2.0") {
            bitbucket_routes += 1;
            if NOT_DESCRIBED.iter().any(|(m, r, _)| m == method && r == route) {
                assert!(
                    !bitbucket.has_operation(method, template),
                    "{method} {route} is described now"
                );
                continue;
            }
            assert!(
                bitbucket.has_operation(method, template),
                "{method} {route} is not in the description"
            );
            // The scopes the emulator asks for are the description's.
            let operation = &raw["paths"][template][method.to_lowercase()];
            let described: Vec<&str> = operation["x-atlassian-oauth2-scopes"][0]["scopes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect();
            let needed = scopes_needed(&method.parse().unwrap(), route).unwrap();
            assert_eq!(needed, described.as_slice(), "scopes of {method} {route}");
        } else {
            let template = route.strip_prefix("/admin").unwrap();
            assert!(
                organizations.has_operation(method, template),
                "{method} {route} is not in the Organizations description"
            );
        }
    }
    assert_eq!(bitbucket_routes, 29);
    // An API token without `scopes` in the state holds every scope a served operation needs.
    assert_eq!(
        rollcall::sandbox::atlassian_cloud::all_scopes(),
        [
            "admin:project:bitbucket",
            "admin:repository:bitbucket",
            "delete:permission:bitbucket",
            "read:project:bitbucket",
            "read:repository:bitbucket",
            "read:user:bitbucket",
            "read:workspace:bitbucket",
            "write:permission:bitbucket",
        ]
    );
    // Every operation of the (transcribed) Organizations description is served.
    let raw = spec("atlassian-admin-organizations.openapi.json");
    for (path, operations) in raw["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            let route = format!("/admin{path}");
            assert!(
                ROUTES.contains(&(method.to_uppercase().as_str(), route.as_str())),
                "{method} {route} is described but not served"
            );
        }
    }
}

// ----- Bitbucket -----

#[tokio::test]
async fn members_page_by_ten_with_absolute_next_links() {
    let emulator = start(|_| {}).await;
    let first = get(&emulator, "/2.0/workspaces/acme/members").await;
    assert_eq!(first.status, 200, "{}", first.text);
    let page = first.json();
    assert_eq!((page["size"].as_u64(), page["pagelen"].as_u64()), (Some(12), Some(10)));
    assert_eq!(page["values"].as_array().unwrap().len(), 10);
    let next = page["next"].as_str().unwrap();
    assert!(next.starts_with(&emulator.base_url), "{next}");
    let second = get(&emulator, next).await.json();
    assert_eq!(second["values"].as_array().unwrap().len(), 2);
    assert!(second.get("next").is_none());
    assert!(second["previous"].as_str().unwrap().contains("page=1"));

    for (pagelen, status) in [(100, 200), (10, 200), (101, 400), (9, 400), (0, 400)] {
        let answer = get(&emulator, &format!("/2.0/workspaces/acme/members?pagelen={pagelen}")).await;
        assert_eq!(answer.status, status, "pagelen {pagelen}: {}", answer.text);
    }
    let bad = get(&emulator, "/2.0/workspaces/acme/members?pagelen=500").await;
    assert_eq!(bad.json()["type"], "error");
    assert!(bad.json()["error"]["message"].as_str().unwrap().contains("pagelen"));
}

#[tokio::test]
async fn the_email_filter_takes_ninety_addresses_and_reveals_only_those() {
    let emulator = start(|_| {}).await;
    let q = |emails: &[String]| {
        let list: Vec<String> = emails.iter().map(|e| format!("\"{e}\"")).collect();
        let q = format!("user.email IN ({})", list.join(","));
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &q)
            .append_pair("fields", "+values.user.email")
            .finish()
    };
    let wanted = ["ALICE@acme.example".to_owned(), "mallory@acme.example".to_owned()];
    let found = get(&emulator, &format!("/2.0/workspaces/acme/members?{}", q(&wanted))).await;
    assert_eq!(found.status, 200, "{}", found.text);
    let values = found.json()["values"].as_array().unwrap().clone();
    // Mallory is in the directory, not the workspace.
    assert_eq!(values.len(), 1, "{values:?}");
    assert_eq!(values[0]["user"]["account_id"], "557058:0000-alice");
    assert_eq!(values[0]["user"]["email"], "alice@acme.example");

    // Without the filter, `fields` reveals nothing.
    let all = get(&emulator, "/2.0/workspaces/acme/members?fields=%2Bvalues.user.email").await;
    assert!(all.json()["values"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["user"].get("email").is_none()));

    let ninety: Vec<String> = (0..90).map(|n| format!("p{n}@acme.example")).collect();
    assert_eq!(
        get(&emulator, &format!("/2.0/workspaces/acme/members?{}", q(&ninety)))
            .await
            .status,
        200
    );
    let ninety_one: Vec<String> = (0..91).map(|n| format!("p{n}@acme.example")).collect();
    let refused = get(&emulator, &format!("/2.0/workspaces/acme/members?{}", q(&ninety_one))).await;
    assert_eq!(refused.status, 400, "{}", refused.text);

    // Other queries are refused, not ignored.
    let other = get(&emulator, "/2.0/workspaces/acme/members?q=user.nickname%3D%22alice%22").await;
    assert_eq!(other.status, 400, "{}", other.text);
}

#[tokio::test]
async fn roles_projects_and_repositories_filter_as_described() {
    let emulator = start(|_| {}).await;
    let owners = get(&emulator, "/2.0/workspaces/acme/permissions?q=permission%3D%22owner%22")
        .await
        .json();
    let ids: Vec<&str> = owners["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["user"]["account_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["557058:0000-ada", "557058:0000-oscar"]);
    let repos = get(&emulator, "/2.0/repositories/acme?q=project.key%3D%22PLAT%22")
        .await
        .json();
    assert_eq!(repos["size"], 2);
    assert_eq!(
        get(&emulator, "/2.0/workspaces/acme/projects/PLAT").await.json()["key"],
        "PLAT"
    );
    let owned = get(&emulator, "/2.0/repositories/acme?role=owner").await.json();
    assert_eq!(owned["size"], 0, "the operator owns nothing");
    assert_eq!(
        get(&emulator, "/2.0/repositories/acme?role=admin").await.json()["size"],
        3
    );
    assert_eq!(get(&emulator, "/2.0/repositories/acme?role=boss").await.status, 400);
    let missing = get(&emulator, "/2.0/workspaces/acme/projects/NOPE").await;
    assert_eq!(missing.status, 404);
    assert!(missing.text.contains("NOPE"), "{}", missing.text);
    let workspace = get(&emulator, "/2.0/workspaces/elsewhere/projects").await;
    assert_eq!(workspace.status, 404);
    assert!(workspace.text.contains("elsewhere"), "{}", workspace.text);
}

#[tokio::test]
async fn the_removed_cross_workspace_reads_answer_410() {
    let emulator = start(|_| {}).await;
    for path in [
        "/2.0/workspaces",
        "/2.0/user/permissions/workspaces",
        "/2.0/user/permissions/repositories",
    ] {
        let answer = get(&emulator, path).await;
        assert_eq!(answer.status, 410, "{path}");
        let body = answer.json();
        assert_eq!(body["type"], "error");
        assert_eq!(
            body["error"]["message"],
            "CHANGE-2770 - Functionality has been deprecated"
        );
    }
    let mine = get(&emulator, "/2.0/user/workspaces").await.json();
    assert_eq!(mine["values"][0]["workspace"]["slug"], "acme");
}

#[tokio::test]
async fn grants_are_upserted_and_revoked_with_the_vendor_rules() {
    let emulator = start(|_| {}).await;
    let project = "/2.0/workspaces/acme/projects/PLAT/permissions-config";
    let repo = "/2.0/repositories/acme/infra/permissions-config";

    let granted = put(&emulator, &format!("{project}/groups/backend"), "create-repo").await;
    assert_eq!(granted.status, 200, "{}", granted.text);
    assert_eq!(granted.json()["group"]["slug"], "backend");
    assert_eq!(granted.json()["type"], "project_group_permission");
    assert_eq!(
        put(&emulator, &format!("{project}/groups/backend"), "write")
            .await
            .status,
        200
    );
    assert_eq!(
        put(&emulator, &format!("{repo}/groups/backend"), "create-repo")
            .await
            .status,
        400
    );
    let extra = send(
        &emulator,
        Auth::Token,
        Method::PUT,
        &format!("{repo}/groups/backend"),
        Some(json!({"permission": "read", "note": "x"})),
    )
    .await;
    assert_eq!(extra.status, 400, "additionalProperties: false");

    // The group's name has a space: its slug is lower-cased with a dash.
    let listed = get(&emulator, &format!("{project}/groups")).await.json();
    let slugs: Vec<&str> = listed["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["group"]["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["backend", "platform-team"]);

    let unknown = put(&emulator, &format!("{project}/groups/nobody-knows"), "read").await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nobody-knows"));

    let owner = put(&emulator, &format!("{project}/users/557058:0000-ada"), "read").await;
    assert_eq!(owner.status, 400, "{}", owner.text);
    let outsider = put(&emulator, &format!("{project}/users/557058:0000-mallory"), "read").await;
    assert_eq!(outsider.status, 400, "{}", outsider.text);
    let member = put(&emulator, &format!("{repo}/users/557058:0000-heidi"), "admin").await;
    assert_eq!(member.status, 200, "{}", member.text);
    assert_eq!(
        get(&emulator, &format!("{repo}/users/557058:0000-heidi")).await.json()["permission"],
        "admin"
    );

    let revoke = send(
        &emulator,
        Auth::Token,
        Method::DELETE,
        &format!("{repo}/users/557058:0000-heidi"),
        None,
    )
    .await;
    assert_eq!(revoke.status, 204);
    assert_eq!(
        get(&emulator, &format!("{repo}/users/557058:0000-heidi")).await.status,
        404
    );
    assert_eq!(
        send(
            &emulator,
            Auth::Token,
            Method::DELETE,
            &format!("{project}/groups/backend"),
            None
        )
        .await
        .status,
        204
    );
}

#[tokio::test]
async fn effective_access_is_the_highest_grant() {
    let emulator = start(|_| {}).await;
    let rows = get(
        &emulator,
        "/2.0/workspaces/acme/permissions/repositories/infra?pagelen=100",
    )
    .await
    .json();
    let level = |account: &str| {
        rows["values"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["user"]["account_id"] == account)
            .map(|v| v["permission"].as_str().unwrap().to_owned())
    };
    assert_eq!(level("557058:0000-ada").as_deref(), Some("admin"), "the owner");
    assert_eq!(
        level("557058:0000-alice").as_deref(),
        Some("admin"),
        "platform-team on the project"
    );
    assert_eq!(
        level("557058:0000-carol").as_deref(),
        Some("write"),
        "backend on the repository"
    );
    assert_eq!(
        level("557058:0000-dave").as_deref(),
        Some("write"),
        "the project's grant"
    );
    assert_eq!(level("557058:0000-erin").as_deref(), Some("read"));
    assert_eq!(level("557058:0000-frank"), None);
    let one = "/2.0/workspaces/acme/permissions/repositories/infra";
    assert_eq!(
        get(&emulator, &format!("{one}?q=permission%3D%22read%22")).await.json()["size"],
        1
    );
    assert_eq!(
        get(&emulator, &format!("{one}?q=permission%3E%22read%22")).await.status,
        400
    );
    let writers = get(
        &emulator,
        "/2.0/workspaces/acme/permissions/repositories?q=permission%3E%22read%22&pagelen=100",
    )
    .await
    .json();
    assert!(writers["values"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["permission"] != "read"));
    assert_eq!(
        writers["values"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["repository"]["slug"] == "site")
            .map(|v| v["user"]["account_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["557058:0000-ada", "557058:0000-oscar", "557058:0000-judy"]
    );
}

#[tokio::test]
async fn a_token_without_a_scope_gets_the_vendors_unhelpful_401() {
    let emulator = start(|state| state.scopes = Some(vec!["read:workspace:bitbucket".to_owned()])).await;
    assert_eq!(get(&emulator, "/2.0/workspaces/acme/members").await.status, 200);
    let refused = get(&emulator, "/2.0/user").await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.json()["error"]["message"],
        "Token is invalid, expired, or not supported for this endpoint."
    );
    assert!(!refused.text.contains("read:user"), "names no scope: {}", refused.text);
    // admin:project does not give read:project.
    let emulator = start(|state| {
        state.scopes = Some(vec![
            "admin:project:bitbucket".to_owned(),
            "write:permission:bitbucket".to_owned(),
        ])
    })
    .await;
    assert_eq!(
        put(
            &emulator,
            "/2.0/workspaces/acme/projects/PLAT/permissions-config/groups/backend",
            "read"
        )
        .await
        .status,
        200
    );
    assert_eq!(
        get(
            &emulator,
            "/2.0/workspaces/acme/projects/PLAT/permissions-config/groups"
        )
        .await
        .status,
        401
    );
}

#[tokio::test]
async fn access_tokens_read_but_never_touch_permissions() {
    let emulator = start(|_| {}).await;
    assert_eq!(
        send(
            &emulator,
            Auth::Bearer,
            Method::GET,
            "/2.0/workspaces/acme/projects",
            None
        )
        .await
        .status,
        200
    );
    for (method, path) in [
        (
            Method::GET,
            "/2.0/workspaces/acme/projects/PLAT/permissions-config/groups",
        ),
        (
            Method::PUT,
            "/2.0/repositories/acme/infra/permissions-config/users/557058:0000-frank",
        ),
        (Method::GET, "/2.0/workspaces/acme/permissions"),
        (Method::GET, "/2.0/workspaces/acme/permissions/repositories"),
    ] {
        let refused = send(
            &emulator,
            Auth::Bearer,
            method.clone(),
            path,
            Some(json!({"permission": "read"})),
        )
        .await;
        assert_eq!(refused.status, 403, "{method} {path}");
        assert!(refused.text.contains("can't use an access token"), "{}", refused.text);
    }
    // Wrong credentials and Basic on the Organizations API: 401.
    let wrong = reqwest::Client::new()
        .get(format!("{}/2.0/user", emulator.base_url))
        .basic_auth(EMAIL, Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let basic = send(&emulator, Auth::Token, Method::GET, "/admin/v1/orgs", None).await;
    assert_eq!(basic.status, 401);
    assert_eq!(basic.json(), json!({"code": 401, "message": "Unauthorized"}));
    assert_eq!(
        send(&emulator, Auth::None, Method::GET, "/admin/v1/orgs", None)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn the_rate_limit_is_a_rolling_window_per_user_in_plain_text() {
    let emulator = start(|state| {
        state.rate_limit = Some(rollcall::sandbox::atlassian_cloud::state::RateLimit {
            requests: 3,
            per_seconds: 3600,
        })
    })
    .await;
    for _ in 0..3 {
        assert_eq!(get(&emulator, "/2.0/user").await.status, 200);
    }
    let limited = get(&emulator, "/2.0/workspaces/acme/projects").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.content_type, "text/plain");
    assert_eq!(limited.text, "Rate limit for this resource has been exceeded");
    assert!(limited.headers.get("retry-after").is_none());
    assert!(!limited.headers.keys().any(|k| k.as_str().starts_with("x-ratelimit")));
    // Another user (the access token) has its own budget; the directory has no limiter.
    assert_eq!(
        send(&emulator, Auth::Bearer, Method::GET, "/2.0/user", None)
            .await
            .status,
        200
    );
    for _ in 0..5 {
        assert_eq!(admin(&emulator, Method::GET, "/groups", None).await.status, 200);
    }
}

// ----- the directory, and what Bitbucket sees of it -----

#[tokio::test]
async fn a_new_group_reaches_bitbucket_after_the_propagation_delay() {
    let emulator = start(|state| state.propagation_ms = 600).await;
    let created = admin(
        &emulator,
        Method::POST,
        "/groups",
        Some(json!({"name": "Release Managers"})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let again = admin(
        &emulator,
        Method::POST,
        "/groups",
        Some(json!({"name": "release managers"})),
    )
    .await;
    assert_eq!(again.status, 409);
    assert_eq!(
        again.json()["errors"][0]["detail"],
        "A group with this name already exists."
    );

    let path = "/2.0/workspaces/acme/projects/PLAT/permissions-config/groups/release-managers";
    let early = put(&emulator, path, "read").await;
    assert_eq!(early.status, 404);
    assert!(early.text.contains("release-managers"), "{}", early.text);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let later = put(&emulator, path, "read").await;
    assert_eq!(later.status, 200, "{}", later.text);
    assert_eq!(later.json()["group"]["name"], "Release Managers");

    // Deleting the group takes its grants with it at once.
    let id = group_id(&emulator, "RELEASE MANAGERS").await;
    assert_eq!(
        admin(&emulator, Method::DELETE, &format!("/groups/{id}"), None)
            .await
            .status,
        204
    );
    let listed = get(
        &emulator,
        "/2.0/workspaces/acme/projects/PLAT/permissions-config/groups",
    )
    .await
    .json();
    assert!(!listed.to_string().contains("release-managers"), "{listed}");
    assert!(!emulator.shared.state().workspace.projects[0]
        .groups
        .contains_key("release-managers"));
}

#[tokio::test]
async fn joining_an_access_group_makes_a_workspace_member() {
    let emulator = start(|state| state.propagation_ms = 300).await;
    let mallory = "/2.0/workspaces/acme/members/557058:0000-mallory";
    assert_eq!(get(&emulator, mallory).await.status, 404);
    let id = group_id(&emulator, "bitbucket-users").await;
    let add = json!({"accountId": "557058:0000-mallory"});
    assert_eq!(
        admin(
            &emulator,
            Method::POST,
            &format!("/groups/{id}/memberships"),
            Some(add.clone())
        )
        .await
        .status,
        204
    );
    assert_eq!(
        admin(&emulator, Method::POST, &format!("/groups/{id}/memberships"), Some(add))
            .await
            .status,
        409
    );
    assert_eq!(get(&emulator, mallory).await.status, 404, "not yet arrived");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(get(&emulator, mallory).await.status, 200);
    let grant = put(
        &emulator,
        "/2.0/repositories/acme/tools/permissions-config/users/557058:0000-mallory",
        "write",
    )
    .await;
    assert_eq!(grant.status, 200, "{}", grant.text);

    // Leaving takes the same time to arrive.
    let removed = admin(
        &emulator,
        Method::DELETE,
        &format!("/groups/{id}/memberships/557058:0000-mallory"),
        None,
    )
    .await;
    assert_eq!(removed.status, 204);
    assert_eq!(get(&emulator, mallory).await.status, 200, "still seen");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(get(&emulator, mallory).await.status, 404);
    let users = admin(
        &emulator,
        Method::POST,
        "/users/search",
        Some(json!({"emails": ["MALLORY@acme.example"], "expand": ["groups"]})),
    )
    .await
    .json();
    assert_eq!(users["data"][0]["groups"], json!([]));
}

#[tokio::test]
async fn a_synced_group_is_read_only() {
    let emulator = start(|_| {}).await;
    let found = admin(
        &emulator,
        Method::POST,
        "/groups/search",
        Some(json!({"groupNames": ["SITE-ADMINS"]})),
    )
    .await
    .json();
    let group = &found["data"][0];
    assert_eq!(group["externalSynced"], true);
    assert_eq!(group["managementAccess"]["deletable"], false);
    let id = group["id"].as_str().unwrap();
    assert_eq!(
        admin(&emulator, Method::DELETE, &format!("/groups/{id}"), None)
            .await
            .status,
        403
    );
    let add = admin(
        &emulator,
        Method::POST,
        &format!("/groups/{id}/memberships"),
        Some(json!({"accountId": "557058:0000-judy"})),
    )
    .await;
    assert_eq!(add.status, 403);
    assert!(add.json()["errors"][0]["detail"].as_str().unwrap().contains("synced"));
    assert_eq!(
        admin(
            &emulator,
            Method::DELETE,
            &format!("/groups/{id}/memberships/557058:0000-ivan"),
            None
        )
        .await
        .status,
        403
    );
}

#[tokio::test]
async fn directory_searches_page_by_cursor() {
    let emulator = start(|_| {}).await;
    let first = admin(&emulator, Method::POST, "/users/search", Some(json!({"limit": 5})))
        .await
        .json();
    assert_eq!(first["data"].as_array().unwrap().len(), 5);
    let mut seen = 5;
    let mut cursor = first["links"]["next"].as_str().map(str::to_owned);
    while let Some(next) = cursor {
        assert!(!next.contains('/'), "a cursor, not a URL: {next}");
        let page = admin(
            &emulator,
            Method::POST,
            "/users/search",
            Some(json!({"limit": 5, "cursor": next})),
        )
        .await
        .json();
        seen += page["data"].as_array().unwrap().len();
        cursor = page["links"]["next"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, 13);
    assert_eq!(
        admin(&emulator, Method::POST, "/users/search", Some(json!({"limit": 101})))
            .await
            .status,
        400
    );
    assert_eq!(
        admin(
            &emulator,
            Method::POST,
            "/groups/search",
            Some(json!({"cursor": "garbage!"}))
        )
        .await
        .status,
        400
    );
    let by_member = admin(
        &emulator,
        Method::POST,
        "/groups/search",
        Some(json!({"accountIds": ["557058:0000-carol"]})),
    )
    .await
    .json();
    assert_eq!(by_member["data"].as_array().unwrap().len(), 2);
    let unmodelled = admin(
        &emulator,
        Method::POST,
        "/users/search",
        Some(json!({"mfaEnabled": true})),
    )
    .await;
    assert_eq!(
        unmodelled.status, 400,
        "a filter the sandbox cannot apply is refused, not ignored"
    );
    let suspended = admin(
        &emulator,
        Method::POST,
        "/users/search",
        Some(json!({"status": ["suspended"]})),
    )
    .await;
    assert_eq!(suspended.json()["data"], json!([]));
    let wrong_org = send(
        &emulator,
        Auth::Bearer,
        Method::GET,
        "/admin/v2/orgs/nope/directories",
        None,
    )
    .await;
    assert_eq!(wrong_org.status, 404);
}

#[tokio::test]
async fn the_seat_limit_refuses_a_grant_that_adds_a_person() {
    let emulator = start(|_| {}).await;
    let seats = {
        let state = emulator.shared.state();
        // The admins, dave, erin, judy, platform-team (alice, bob) and backend (carol).
        assert_eq!(state.users.len(), 13);
        8
    };
    emulator.shared.with_state(|state| state.seat_limit = Some(seats));
    let project = "/2.0/workspaces/acme/projects/PLAT/permissions-config/users";
    let refused = put(&emulator, &format!("{project}/557058:0000-frank"), "read").await;
    assert_eq!(refused.status, 402, "{}", refused.text);
    // Someone already seated takes no new seat.
    assert_eq!(
        put(&emulator, &format!("{project}/557058:0000-carol"), "read")
            .await
            .status,
        200
    );
    // Joining a group with grants seats its new member: the directory refuses it with
    // the described 409; joining one without grants takes no seat.
    let mallory = json!({"accountId": "557058:0000-mallory"});
    let backend = group_id(&emulator, "backend").await;
    let at = format!("/groups/{backend}/memberships");
    let refused = admin(&emulator, Method::POST, &at, Some(mallory.clone())).await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(refused.text.contains("user limit"), "{}", refused.text);
    let access = group_id(&emulator, "bitbucket-users").await;
    let at = format!("/groups/{access}/memberships");
    let joined = admin(&emulator, Method::POST, &at, Some(mallory)).await;
    assert_eq!(joined.status, 204, "{}", joined.text);
}

#[tokio::test]
async fn faults_speak_each_apis_language() {
    let emulator = start(|_| {}).await;
    let faults = FaultConfig::parse_compact("rate_limited=1,retry_after_secs=3").unwrap();
    emulator.shared.instruments().set_faults(faults).unwrap();
    let bitbucket = get(&emulator, "/2.0/user").await;
    assert_eq!(bitbucket.status, 429);
    assert_eq!(bitbucket.content_type, "text/plain");
    assert_eq!(bitbucket.text, "Rate limit for this resource has been exceeded");
    assert!(bitbucket.headers.get("retry-after").is_none());
    let directory = admin(&emulator, Method::GET, "/groups", None).await;
    assert_eq!(directory.status, 429);
    assert_eq!(directory.headers.get("retry-after").unwrap(), "3");
    assert_eq!(directory.json()["code"], 429);

    let faults = FaultConfig::parse_compact("unavailable=1").unwrap();
    emulator.shared.instruments().set_faults(faults).unwrap();
    let down = get(&emulator, "/2.0/user").await;
    assert_eq!(down.status, 503);
    assert_eq!(down.json()["type"], "error");
}

#[test]
fn the_state_file_is_checked() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/atlassian-cloud-sandbox.yaml"
    ))
    .unwrap();
    for (from, to, expected) in [
        (
            "operator: \"557058:0000-oscar\"",
            "operator: \"557058:nobody\"",
            "operator",
        ),
        (
            "groups: { platform-team: admin }",
            "groups: { nobody: admin }",
            "slug `nobody`",
        ),
        (
            "users: { \"557058:0000-dave\": write }",
            "users: { \"557058:0000-ada\": write }",
            "owner",
        ),
        ("access_groups: [bitbucket-users]", "access_groups: [ghosts]", "ghosts"),
        ("- slug: tools", "- slug: infra", "appears twice"),
        ("propagation_ms: 0", "propagation_ms: 0\nsurprise: 1", "surprise"),
        ("kind: atlassian-cloud", "kind: scim", "kind"),
    ] {
        assert!(text.contains(from), "{from}");
        let error = CloudState::parse(&text.replacen(from, to, 1)).unwrap_err();
        assert!(error.contains(expected), "{expected}: {error}");
    }
    let state = fixture();
    let again = CloudState::parse(&state.to_yaml().unwrap()).unwrap();
    assert_eq!(again.users.len(), state.users.len());
}
