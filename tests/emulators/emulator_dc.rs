//! The Bitbucket Data Center emulator, over real HTTP on a loopback port: its route table
//! against the vendor's description, then its behaviour (auth, paging, errors, users,
//! groups, memberships, permissions).

use reqwest::{Method, StatusCode};
use rollcall::sandbox::bitbucket_dc::{serve, RunningEmulator, Shared, MAX_PAGE_LIMIT, ROUTES};
use rollcall::sandbox::state::DcState;
use serde_json::{json, Value};

const TOKEN: &str = "sandbox-token";

/// A small instance: an administrator, four people, two groups, one project with a
/// repository. `described_responses` seeds from it too.
pub const SEED: &str = r#"
operator: admin
users:
  admin: { display_name: Site Admin, email: admin@example.com }
  alice: { display_name: Alice Able, email: alice@example.com }
  bob: { display_name: Bob Baker, email: bob@example.com }
  carol: { display_name: Carol Cole, email: carol@example.com }
  dave: { display_name: Dave Dunn, email: dave@example.com }
groups:
  sysadmins: [admin]
  developers: [alice, bob]
global:
  groups: { sysadmins: SYS_ADMIN, developers: LICENSED_USER }
projects:
  PRJ:
    name: Project
    repos:
      web: {}
"#;

fn seed() -> DcState {
    DcState::parse(SEED).expect("seed state parses")
}

async fn start(state: DcState) -> Emulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = serve(Shared::new(state, TOKEN.to_owned()), listener).await.unwrap();
    Emulator {
        http: reqwest::Client::new(),
        running,
    }
}

/// A started emulator and a client that sends the token as a Bearer header.
struct Emulator {
    http: reqwest::Client,
    running: RunningEmulator,
}

impl Emulator {
    fn url(&self, path: &str) -> String {
        format!("{}/rest/api/latest{path}", self.running.base_url)
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(TOKEN)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        (status, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.request(Method::GET, path)).await
    }

    async fn post_json(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.request(Method::POST, path).json(&body)).await
    }

    /// Every value of a paged resource, following `nextPageStart`.
    async fn all_pages(&self, path: &str, limit: usize) -> Vec<Value> {
        let mut values = Vec::new();
        let mut start = 0;
        loop {
            let separator = if path.contains('?') { '&' } else { '?' };
            let (status, page) = self.get(&format!("{path}{separator}start={start}&limit={limit}")).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            values.extend(page["values"].as_array().unwrap().iter().cloned());
            if page["isLastPage"].as_bool().unwrap() {
                return values;
            }
            start = page["nextPageStart"].as_u64().unwrap() as usize;
        }
    }
}

fn names(values: &[Value], field: &str) -> Vec<String> {
    values
        .iter()
        .map(|v| field.split('.').fold(v, |v, key| &v[key]).as_str().unwrap().to_owned())
        .collect()
}

/// An `{"errors": [{context, message, exceptionName}]}` body with a message.
fn assert_errors_body(body: &Value) {
    let errors = body["errors"].as_array().expect("errors array");
    assert!(!errors.is_empty(), "{body}");
    let first = errors[0].as_object().unwrap();
    assert!(first.contains_key("context"), "{body}");
    assert!(first.contains_key("exceptionName"), "{body}");
    assert!(!first["message"].as_str().unwrap().is_empty(), "{body}");
}

#[test]
fn every_route_is_in_the_vendor_description() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/specs/bitbucket-dc.openapi.json");
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for (method, path) in ROUTES {
        assert!(seen.insert((method, path)), "{method} {path} listed twice");
        let operation = &spec["paths"][*path][method.to_lowercase()];
        assert!(operation.is_object(), "{method} {path} is not in the description");
    }
}

#[tokio::test]
async fn every_route_is_served() {
    let emulator = start(seed()).await;
    for (method, path) in ROUTES {
        let path = path
            .replace("{projectKey}", "PRJ")
            .replace("{repositorySlug}", "web")
            .replace("{permission}", "PROJECT_READ");
        let url = format!("{}/rest{path}", emulator.running.base_url);
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let response = emulator
            .http
            .request(method.clone(), &url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        // Refusals of an empty request are fine; a missing route is not.
        assert_ne!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(!message.starts_with("No resource"), "{method} {path}: {body}");
    }
    emulator.running.shutdown().await;
}

#[tokio::test]
async fn requests_without_the_token_get_401() {
    let emulator = start(seed()).await;
    let url = emulator.url("/admin/users");

    let response = emulator.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_errors_body(&response.json().await.unwrap());

    for request in [
        emulator.http.get(&url).bearer_auth("wrong"),
        emulator.http.get(&url).basic_auth("admin", Some("wrong")),
        emulator.http.get(&url).basic_auth("alice", Some(TOKEN)),
        emulator.http.get(&url).header("Authorization", "Basic !!!"),
    ] {
        let (status, body) = emulator.send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_errors_body(&body);
    }

    let (status, _) = emulator
        .send(emulator.http.get(&url).basic_auth("admin", Some(TOKEN)))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = emulator.get("/admin/users").await;
    assert_eq!(status, StatusCode::OK);
    emulator.running.shutdown().await;
}

#[tokio::test]
async fn pages_follow_next_page_start_and_cap_the_limit() {
    let emulator = start(seed()).await;

    let (status, first) = emulator.get("/admin/users?limit=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["size"], 2);
    assert_eq!(first["limit"], 2);
    assert_eq!(first["start"], 0);
    assert_eq!(first["isLastPage"], false);
    assert_eq!(first["nextPageStart"], 2);
    assert_eq!(names(first["values"].as_array().unwrap(), "name"), ["admin", "alice"]);

    let (_, last) = emulator.get("/admin/users?start=4&limit=2").await;
    assert_eq!(last["size"], 1);
    assert_eq!(last["isLastPage"], true);
    assert!(last.get("nextPageStart").is_none(), "{last}");

    let all = emulator.all_pages("/admin/users", 2).await;
    assert_eq!(names(&all, "name"), ["admin", "alice", "bob", "carol", "dave"]);
    let user = &all[1];
    assert_eq!(user["displayName"], "Alice Able");
    assert_eq!(user["emailAddress"], "alice@example.com");
    assert_eq!(user["slug"], "alice");
    assert_eq!(user["type"], "NORMAL");
    assert_eq!(user["directoryName"], "Bitbucket Internal Directory");
    assert!(user["id"].is_i64());
    let (_, again) = emulator.get("/admin/users?filter=ALICE").await;
    assert_eq!(again["values"][0]["id"], user["id"], "ids are stable");
    assert_eq!(again["size"], 1);

    let (_, capped) = emulator.get("/admin/users?limit=5000").await;
    assert_eq!(capped["limit"], MAX_PAGE_LIMIT);
    assert_eq!(capped["isLastPage"], true);
    let (_, default) = emulator.get("/admin/groups").await;
    assert_eq!(default["limit"], 25);

    let (status, body) = emulator.get("/admin/users?limit=many").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_errors_body(&body);
    emulator.running.shutdown().await;
}

#[tokio::test]
async fn create_user_then_conflict() {
    let emulator = start(seed()).await;
    let create = |name: &str| {
        emulator.request(Method::POST, "/admin/users").query(&[
            ("name", name),
            ("displayName", "Erin Eve"),
            ("emailAddress", "erin@example.com"),
            ("password", "p4ss"),
            ("addToDefaultGroup", "false"),
        ])
    };
    let (status, body) = emulator.send(create("erin")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let user = &emulator.running.shared.state().users["erin"];
    assert_eq!(user.display_name, "Erin Eve");

    for name in ["erin", "ERIN"] {
        let (status, body) = emulator.send(create(name)).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_errors_body(&body);
        assert_eq!(body["errors"][0]["context"], Value::Null);
    }

    // Required query parameters, and the password unless notify is set.
    let (status, body) = emulator
        .send(
            emulator
                .request(Method::POST, "/admin/users")
                .query(&[("name", "frank"), ("emailAddress", "f@example.com")]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["context"], "displayName");
    let (status, _) = emulator
        .send(emulator.request(Method::POST, "/admin/users").query(&[
            ("name", "frank"),
            ("displayName", "Frank"),
            ("emailAddress", "f@example.com"),
        ]))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = emulator
        .send(emulator.request(Method::POST, "/admin/users").query(&[
            ("name", "frank"),
            ("displayName", "Frank"),
            ("emailAddress", "f@example.com"),
            ("notify", "true"),
        ]))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, updated) = emulator
        .send(emulator.request(Method::PUT, "/admin/users").json(&json!({
            "name": "erin", "displayName": "Erin E. Eve"
        })))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["displayName"], "Erin E. Eve");
    assert_eq!(updated["emailAddress"], "erin@example.com");

    let (status, deleted) = emulator
        .send(emulator.request(Method::DELETE, "/admin/users?name=erin"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted["name"], "erin");
    let (status, _) = emulator
        .send(emulator.request(Method::DELETE, "/admin/users?name=erin"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = emulator
        .send(emulator.request(Method::DELETE, "/admin/users?name=admin"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "no deleting yourself");
    emulator.running.shutdown().await;
}

#[tokio::test]
async fn added_members_are_listed() {
    let emulator = start(seed()).await;
    let (status, _) = emulator
        .post_json(
            "/admin/groups/add-users",
            json!({"group": "developers", "users": ["carol"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = emulator
        .post_json(
            "/admin/users/add-groups",
            json!({"user": "dave", "groups": ["developers"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let members = emulator
        .all_pages("/admin/groups/more-members?context=developers", 2)
        .await;
    assert_eq!(names(&members, "name"), ["alice", "bob", "carol", "dave"]);
    let (_, groups) = emulator.get("/admin/users/more-members?context=carol").await;
    assert_eq!(groups["values"], json!([{"name": "developers", "deletable": true}]));

    // One unknown user: 404 and nobody is added.
    let (status, body) = emulator
        .post_json(
            "/admin/groups/add-users",
            json!({"group": "sysadmins", "users": ["alice", "nobody"]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_errors_body(&body);
    assert!(!emulator.running.shared.state().groups["sysadmins"].contains("alice"));

    let (status, _) = emulator
        .post_json(
            "/admin/groups/remove-user",
            json!({"context": "developers", "itemName": "carol"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = emulator
        .post_json(
            "/admin/users/remove-group",
            json!({"context": "dave", "itemName": "developers"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, members) = emulator.get("/admin/groups/more-members?context=developers").await;
    assert_eq!(names(members["values"].as_array().unwrap(), "name"), ["alice", "bob"]);

    // The description lists no 404 for an unknown group here: an empty page.
    let (status, empty) = emulator.get("/admin/groups/more-members?context=nope").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty["size"], 0);
    let (status, _) = emulator.get("/admin/groups/more-members").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "context is required");
    emulator.running.shutdown().await;
}

#[tokio::test]
async fn the_operator_cannot_demote_itself() {
    let emulator = start(seed()).await;
    let before = emulator.running.shared.state();

    let (status, body) = emulator
        .send(emulator.request(Method::DELETE, "/admin/groups?name=sysadmins"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_errors_body(&body);
    let (status, _) = emulator
        .post_json(
            "/admin/groups/remove-user",
            json!({"context": "sysadmins", "itemName": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = emulator
        .send(emulator.request(Method::DELETE, "/admin/permissions/groups?name=sysadmins"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = emulator
        .send(
            emulator
                .request(Method::PUT, "/admin/permissions/groups")
                .query(&[("name", "sysadmins"), ("permission", "ADMIN")]),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(emulator.running.shared.state(), before, "nothing changed");

    // With the permission also granted directly, the group can go.
    let (status, _) = emulator
        .send(
            emulator
                .request(Method::PUT, "/admin/permissions/users")
                .query(&[("name", "admin"), ("permission", "SYS_ADMIN")]),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, deleted) = emulator
        .send(emulator.request(Method::DELETE, "/admin/groups?name=sysadmins"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted, json!({"name": "sysadmins", "deletable": true}));
    let state = emulator.running.shared.state();
    assert!(!state.global.groups.contains_key("sysadmins"));
    emulator.running.shutdown().await;
}

#[tokio::test]
async fn global_permissions_are_granted_listed_and_revoked() {
    let mut state = seed();
    state.licence_limit = Some(4);
    let emulator = start(state).await;
    let put = |names: &[&str], permission: &str| {
        let mut query: Vec<(&str, &str)> = names.iter().map(|n| ("name", *n)).collect();
        query.push(("permission", permission));
        emulator.request(Method::PUT, "/admin/permissions/users").query(&query)
    };
    let (status, _) = emulator.send(put(&["carol"], "PROJECT_CREATE")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, page) = emulator.get("/admin/permissions/users").await;
    assert_eq!(
        page["values"],
        json!([{
            "user": page["values"][0]["user"].clone(),
            "permission": "PROJECT_CREATE"
        }])
    );
    assert_eq!(page["values"][0]["user"]["name"], "carol");
    let (_, groups) = emulator.get("/admin/permissions/groups?filter=dev").await;
    assert_eq!(
        groups["values"],
        json!([{"group": {"name": "developers"}, "permission": "LICENSED_USER"}])
    );

    // admin, alice, bob and carol hold a licence: dave would be the fifth.
    let (status, body) = emulator.send(put(&["dave"], "LICENSED_USER")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_errors_body(&body);
    let (status, _) = emulator.send(put(&["carol", "nobody"], "ADMIN")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = emulator.send(put(&["carol"], "SUPER_USER")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["context"], "permission");
    let (status, _) = emulator.send(put(&[], "ADMIN")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, _) = emulator
        .send(emulator.request(Method::DELETE, "/admin/permissions/users?name=carol"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = emulator.send(put(&["dave"], "LICENSED_USER")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "a licence was freed");
    emulator.running.shutdown().await;
}

#[tokio::test]
async fn project_and_repository_permissions() {
    let emulator = start(seed()).await;
    let project = "/projects/PRJ/permissions";
    let grant = |path: &str, name: &str, permission: &str| {
        emulator
            .request(Method::PUT, path)
            .query(&[("name", name), ("permission", permission)])
    };

    let (status, _) = emulator
        .send(grant(&format!("{project}/users"), "alice", "PROJECT_WRITE"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = emulator
        .send(grant(&format!("{project}/users"), "alice", "PROJECT_ADMIN"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "a second grant replaces the first");
    let (_, page) = emulator.get(&format!("{project}/users")).await;
    assert_eq!(page["size"], 1);
    assert_eq!(page["values"][0]["user"]["name"], "alice");
    assert_eq!(page["values"][0]["permission"], "PROJECT_ADMIN");

    let (status, body) = emulator
        .send(grant(&format!("{project}/users"), "alice", "REPO_READ"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not a project permission");
    assert_errors_body(&body);
    let (status, _) = emulator
        .send(grant(&format!("{project}/groups"), "nobody", "PROJECT_READ"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = emulator
        .send(emulator.request(Method::DELETE, &format!("{project}/users?name=alice")))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, page) = emulator.get(&format!("{project}/users")).await;
    assert_eq!(page["size"], 0);

    let repo = "/projects/PRJ/repos/web/permissions";
    let (status, _) = emulator
        .send(grant(&format!("{repo}/groups"), "developers", "REPO_WRITE"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, page) = emulator.get(&format!("{repo}/groups")).await;
    assert_eq!(
        page["values"],
        json!([{"group": {"name": "developers"}, "permission": "REPO_WRITE"}])
    );
    let (status, _) = emulator
        .send(grant(&format!("{repo}/groups"), "developers", "PROJECT_READ"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = emulator
        .send(emulator.request(Method::DELETE, &format!("{repo}/groups?name=developers")))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(emulator.running.shared.state().projects["PRJ"].repos["web"]
        .grants
        .groups
        .is_empty());

    // Deleting a group takes its grants with it.
    let (status, _) = emulator
        .send(grant(&format!("{project}/groups"), "developers", "PROJECT_READ"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = emulator
        .send(emulator.request(Method::DELETE, "/admin/groups?name=developers"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(emulator.running.shared.state().projects["PRJ"].grants.groups.is_empty());
    emulator.running.shutdown().await;
}

/// `DELETE .../permissions?user=&group=` revokes one user's and one group's grants on a
/// project or repository in one call: each parameter once, at least one of them.
#[tokio::test]
async fn a_user_and_a_group_are_revoked_in_one_call() {
    let emulator = start(seed()).await;
    for (at, user_permission, group_permission) in [
        ("/projects/PRJ/permissions", "PROJECT_WRITE", "PROJECT_READ"),
        ("/projects/PRJ/repos/web/permissions", "REPO_WRITE", "REPO_READ"),
    ] {
        for (kind, name, permission) in [
            ("users", "alice", user_permission),
            ("groups", "developers", group_permission),
        ] {
            let (status, _) = emulator
                .send(
                    emulator
                        .request(Method::PUT, &format!("{at}/{kind}"))
                        .query(&[("name", name), ("permission", permission)]),
                )
                .await;
            assert_eq!(status, StatusCode::NO_CONTENT);
        }
        let before = emulator.running.shared.state();
        let refused = [
            (String::new(), StatusCode::BAD_REQUEST, "neither a user nor a group"),
            ("?user=alice&user=bob".to_owned(), StatusCode::BAD_REQUEST, "two users"),
            (
                "?group=developers&group=sysadmins".to_owned(),
                StatusCode::BAD_REQUEST,
                "two groups",
            ),
            ("?user=".to_owned(), StatusCode::BAD_REQUEST, "an empty name"),
            (
                "?user=alice&group=nope".to_owned(),
                StatusCode::NOT_FOUND,
                "an unknown group",
            ),
            (
                "?user=nobody&group=developers".to_owned(),
                StatusCode::NOT_FOUND,
                "an unknown user",
            ),
        ];
        for (query, expected, what) in refused {
            let (status, body) = emulator
                .send(emulator.request(Method::DELETE, &format!("{at}{query}")))
                .await;
            assert_eq!(status, expected, "{at}: {what}: {body}");
            assert_errors_body(&body);
        }
        assert_eq!(
            emulator.running.shared.state(),
            before,
            "{at}: a refused revoke changes nothing"
        );
        let (status, _) = emulator
            .send(emulator.request(Method::DELETE, &format!("{at}?user=alice&group=developers")))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        for kind in ["users", "groups"] {
            let (_, page) = emulator.get(&format!("{at}/{kind}")).await;
            assert_eq!(page["size"], 0, "{at}/{kind}: {page}");
        }
        // Revoking what is not granted succeeds, as a resent revoke must.
        let (status, _) = emulator
            .send(emulator.request(Method::DELETE, &format!("{at}?user=alice&group=developers")))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let (status, _) = emulator
        .send(emulator.request(Method::DELETE, "/projects/NOPE/permissions?user=alice"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    emulator.running.shutdown().await;
}

/// A project administrator without global ADMIN may not revoke the group that makes
/// them one: 409, and neither grant of the call is revoked.
#[tokio::test]
async fn a_revoke_that_would_demote_the_operator_is_refused_whole() {
    let mut state = seed();
    state.operator = "carol".to_owned();
    state
        .global
        .users
        .insert("carol".to_owned(), "LICENSED_USER".to_owned());
    state.groups.get_mut("developers").unwrap().insert("carol".to_owned());
    let project = state.projects.get_mut("PRJ").unwrap();
    project
        .grants
        .groups
        .insert("developers".to_owned(), "PROJECT_ADMIN".to_owned());
    project
        .grants
        .users
        .insert("alice".to_owned(), "PROJECT_READ".to_owned());
    let emulator = start(state).await;
    let before = emulator.running.shared.state();
    let (status, body) = emulator
        .send(emulator.request(Method::DELETE, "/projects/PRJ/permissions?user=alice&group=developers"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_errors_body(&body);
    assert_eq!(emulator.running.shared.state(), before);
    emulator.running.shutdown().await;
}

#[tokio::test]
async fn all_users_default_permission() {
    let emulator = start(seed()).await;
    let (status, body) = emulator.get("/projects/PRJ/permissions/PROJECT_READ/all").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"permitted": false}));

    let (status, _) = emulator
        .send(emulator.request(Method::POST, "/projects/PRJ/permissions/PROJECT_WRITE/all?allow=true"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = emulator.get("/projects/PRJ/permissions/PROJECT_WRITE/all").await;
    assert_eq!(body, json!({"permitted": true}));
    assert!(emulator.running.shared.state().projects["PRJ"]
        .all_users
        .contains("PROJECT_WRITE"));

    let (status, _) = emulator
        .send(emulator.request(Method::POST, "/projects/PRJ/permissions/PROJECT_WRITE/all?allow=false"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(emulator.running.shared.state().projects["PRJ"].all_users.is_empty());

    let (status, _) = emulator.get("/projects/PRJ/permissions/PROJECT_ADMIN/all").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = emulator
        .send(emulator.request(Method::POST, "/projects/PRJ/permissions/PROJECT_READ/all"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "allow is required");
    emulator.running.shutdown().await;
}

#[tokio::test]
async fn unknown_projects_and_repositories_are_404() {
    let emulator = start(seed()).await;
    for path in [
        "/projects/NOPE",
        "/projects/NOPE/repos",
        "/projects/NOPE/permissions/users",
        "/projects/NOPE/permissions/PROJECT_READ/all",
        "/projects/PRJ/repos/nope",
        "/projects/PRJ/repos/nope/permissions/groups",
    ] {
        let (status, body) = emulator.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_errors_body(&body);
    }
    let (status, project) = emulator.get("/projects/PRJ").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(project["key"], "PRJ");
    assert_eq!(project["name"], "Project");
    let (_, repos) = emulator.get("/projects/PRJ/repos").await;
    assert_eq!(repos["values"][0]["slug"], "web");
    assert_eq!(repos["values"][0]["project"]["key"], "PRJ");
    emulator.running.shutdown().await;
}

#[tokio::test]
async fn json_bodies_need_the_json_content_type() {
    let emulator = start(seed()).await;
    let body = r#"{"group":"developers","users":["carol"]}"#;
    let (status, errors) = emulator
        .send(emulator.request(Method::POST, "/admin/groups/add-users").body(body))
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_errors_body(&errors);
    let (status, _) = emulator
        .send(
            emulator
                .request(Method::POST, "/admin/groups/add-users")
                .header("Content-Type", "text/plain")
                .body(body),
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let (status, errors) = emulator
        .send(
            emulator
                .request(Method::POST, "/admin/groups/add-users")
                .header("Content-Type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_errors_body(&errors);
    let (status, _) = emulator
        .post_json("/admin/groups/add-users", json!({"group": "developers"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "users is required");
    assert!(!emulator.running.shared.state().groups["developers"].contains("carol"));
    emulator.running.shutdown().await;
}

#[tokio::test]
async fn the_request_log_counts_every_request() {
    let emulator = start(seed()).await;
    emulator.get("/admin/users?limit=2").await;
    emulator.send(emulator.http.get(emulator.url("/admin/groups"))).await;
    emulator.get("/no/such/thing").await;
    assert_eq!(
        emulator.running.shared.instruments().requests(),
        [
            "GET /rest/api/latest/admin/users?limit=2",
            "GET /rest/api/latest/admin/groups",
            "GET /rest/api/latest/no/such/thing",
        ]
    );
    let (status, body) = emulator.get("/no/such/thing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_errors_body(&body);
    emulator.running.shutdown().await;
}

#[tokio::test]
async fn a_licensed_operator_cannot_administer() {
    let mut state = seed();
    state.operator = "alice".to_owned();
    let emulator = start(state).await;
    let (status, _) = emulator.get("/admin/users").await;
    assert_eq!(status, StatusCode::OK, "LICENSED_USER may list users");
    for (method, path) in [
        (Method::POST, "/admin/groups?name=new"),
        (Method::DELETE, "/admin/users?name=bob"),
        (Method::GET, "/admin/permissions/users"),
        (Method::GET, "/projects/PRJ/permissions/users"),
    ] {
        let (status, body) = emulator.send(emulator.request(method, path)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_errors_body(&body);
    }
    assert_eq!(emulator.running.shared.state().groups.len(), 2);
    emulator.running.shutdown().await;
}

#[tokio::test]
async fn deleting_a_user_drops_its_memberships_and_grants() {
    let emulator = start(seed()).await;
    let (status, _) = emulator
        .send(
            emulator
                .request(Method::PUT, "/projects/PRJ/repos/web/permissions/users")
                .query(&[("name", "alice"), ("permission", "REPO_ADMIN")]),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = emulator
        .send(emulator.request(Method::DELETE, "/admin/users?name=alice"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let state = emulator.running.shared.state();
    assert!(!state.users.contains_key("alice"));
    assert!(!state.groups["developers"].contains("alice"));
    assert!(state.projects["PRJ"].repos["web"].grants.users.is_empty());
    emulator.running.shutdown().await;
}

#[tokio::test]
async fn responses_are_json_utf8_and_wrong_methods_are_405() {
    let emulator = start(seed()).await;
    let response = emulator.request(Method::GET, "/admin/groups").send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/json;charset=UTF-8");
    let (status, body) = emulator.send(emulator.request(Method::PATCH, "/admin/groups")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_errors_body(&body);
    emulator.running.shutdown().await;
}

#[tokio::test]
async fn parameters_typed_as_one_value_refuse_several() {
    let emulator = start(seed()).await;
    // Project grants take one `name`; repository and global grants take several.
    let (status, body) = emulator
        .send(emulator.request(
            Method::PUT,
            "/projects/PRJ/permissions/users?name=alice&name=bob&permission=PROJECT_READ",
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_errors_body(&body);
    let (status, _) = emulator
        .send(emulator.request(
            Method::PUT,
            "/projects/PRJ/repos/web/permissions/users?name=alice&name=bob&permission=REPO_READ",
        ))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // `users` in add-users is `uniqueItems`.
    let (status, body) = emulator
        .post_json(
            "/admin/groups/add-users",
            json!({"group": "developers", "users": ["carol", "carol"]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        names(
            &emulator
                .all_pages("/admin/groups/more-members?context=developers", 25)
                .await,
            "name"
        ),
        ["alice", "bob"]
    );
}
