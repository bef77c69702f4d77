//! The emulators' response bodies against the vendors' descriptions, not only their
//! routes: for every route an emulator serves, a representative successful request and the
//! main errors the description documents a body for, against a seeded emulator over real
//! HTTP, each answer checked with `common::openapi` (status documented, Content-Type
//! documented, body valid against the schema).
//!
//! Where a description is wrong about its vendor, the departure is made here, one keyword
//! at a time, with its reason; the description files stay as published.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::openapi::{Checked, Description};

const TOKEN: &str = "described-token";

/// Sends requests to one emulator and checks every answer against a description,
/// collecting the problems so that one run reports all of them.
struct Run<'a> {
    http: reqwest::Client,
    /// The URL request paths are relative to.
    root: String,
    /// Prepended to a route to give the description's path template.
    prefix: &'static str,
    /// The Content-Type of request bodies.
    body_type: &'static str,
    description: &'a Description,
    /// Basic credentials (username, password) to send instead of the Bearer token.
    basic: Option<(&'static str, &'static str)>,
    problems: Vec<String>,
    /// (method, route) answered 2xx and checked.
    succeeded: BTreeSet<(String, String)>,
    /// How many answers were checked against a schema, had no body, or had no schema.
    schema: usize,
    no_body: usize,
    no_schema: usize,
}

impl<'a> Run<'a> {
    fn new(root: String, prefix: &'static str, body_type: &'static str, description: &'a Description) -> Self {
        Run {
            http: reqwest::Client::new(),
            root,
            prefix,
            body_type,
            description,
            basic: None,
            problems: Vec::new(),
            succeeded: BTreeSet::new(),
            schema: 0,
            no_body: 0,
            no_schema: 0,
        }
    }

    /// Sends `method path` (with the token) and checks the answer against `route`'s
    /// documented `status`; returns the body as JSON (`Null` if none).
    async fn call(&mut self, method: &str, route: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        self.exchange(method, route, path, body, status, true).await
    }

    /// The same without credentials: the answer must be the documented 401.
    async fn unauthenticated(&mut self, method: &str, route: &str, path: &str) {
        self.exchange(method, route, path, None, 401, false).await;
    }

    async fn exchange(
        &mut self,
        method: &str,
        route: &str,
        path: &str,
        body: Option<Value>,
        status: u16,
        token: bool,
    ) -> Value {
        let mut request = self.http.request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", self.root),
        );
        if token {
            request = match self.basic {
                Some((user, password)) => request.basic_auth(user, Some(password)),
                None => request.bearer_auth(TOKEN),
            };
        }
        if let Some(body) = body {
            request = request.header("Content-Type", self.body_type).body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let got = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.bytes().await.unwrap();
        let text = String::from_utf8_lossy(&bytes);
        if got != status {
            self.problems
                .push(format!("{method} {path}: status {got}, expected {status}: {text}"));
            return Value::Null;
        }
        let template = format!("{}{route}", self.prefix);
        match self
            .description
            .check(method, &template, status, content_type.as_deref(), &bytes)
        {
            Ok(checked) => {
                match checked {
                    Checked::Schema => self.schema += 1,
                    Checked::NoBody => self.no_body += 1,
                    Checked::NoSchema => self.no_schema += 1,
                }
                if (200..300).contains(&status) {
                    self.succeeded.insert((method.to_owned(), route.to_owned()));
                }
            }
            Err(errors) => {
                self.problems.push(format!("{method} {path}: {text}"));
                self.problems.extend(errors.into_iter().map(|e| format!("  {e}")));
            }
        }
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    /// A list must have values for its items' schema to have been exercised.
    fn not_empty(&mut self, what: &str, list: &Value, key: &str) {
        if list[key].as_array().is_none_or(Vec::is_empty) {
            self.problems.push(format!("{what}: no {key} to check: {list}"));
        }
    }

    /// Fails with every problem seen; otherwise gives what was checked, for the caller to
    /// hold against what it expects (problems first: they explain a route left unchecked).
    fn finish(self, what: &str) -> Tally {
        assert!(
            self.problems.is_empty(),
            "{what}: {} problem lines:\n{}",
            self.problems.len(),
            self.problems.join("\n")
        );
        Tally {
            schema: self.schema,
            no_body: self.no_body,
            no_schema: self.no_schema,
            succeeded: self.succeeded,
        }
    }
}

/// What a run checked.
struct Tally {
    schema: usize,
    no_body: usize,
    no_schema: usize,
    succeeded: BTreeSet<(String, String)>,
}

// ----- the reading itself -----

#[test]
fn the_reading_of_openapi_schemas() {
    let description = Description::from_value(
        "inline",
        json!({
            "openapi": "3.0.1",
            "paths": {"/thing": {"get": {"responses": {
                "200": {"content": {"application/json;charset=UTF-8": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                "204": {"description": "nothing"},
                "4XX": {"$ref": "#/components/responses/Error"}
            }}}},
            "components": {
                "responses": {"Error": {"content": {"application/json": {"schema": {"type": "object",
                    "properties": {"message": {"type": "string"}}, "required": ["message"]}}}}},
                "schemas": {"Thing": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {
                        "id": {"type": "integer", "format": "int32", "readOnly": true, "example": 1},
                        "note": {"type": "string", "nullable": true},
                        "kind": {"type": "string", "enum": ["A"], "nullable": true},
                        "at": {"type": "string", "format": "date-time"},
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Thing"}},
                        "x": {"$ref": "#/components/schemas/Thing", "description": "ignored beside $ref"}
                    }
                }}
            }
        }),
    );
    let check = |status: u16, content_type: Option<&str>, body: &str| {
        description.check("GET", "/thing", status, content_type, body.as_bytes())
    };
    let json = Some("application/json;charset=UTF-8");
    assert_eq!(
        check(200, json, r#"{"id": 1, "note": null, "kind": null}"#),
        Ok(Checked::Schema)
    );
    assert_eq!(
        check(200, Some("application/json"), r#"{"id": 2147483647}"#),
        Ok(Checked::Schema)
    );
    assert_eq!(check(204, None, ""), Ok(Checked::NoBody));
    assert_eq!(
        check(404, Some("application/json"), r#"{"message": "no"}"#),
        Ok(Checked::Schema)
    );

    let errors = check(
        200,
        json,
        r#"{"id": 2147483648, "at": "yesterday", "items": [{"note": 3}]}"#,
    )
    .unwrap_err();
    let text = errors.join("\n");
    assert_eq!(errors.len(), 4, "{text}");
    for expected in [
        r#"at "/id": 2147483648 is greater than the maximum of 2147483647"#,
        r#"at "/at": "yesterday" is not a "date-time""#,
        r#"at "/items/0": "id" is a required property"#,
        r#"at "/items/0/note": 3 is not of types "null", "string""#,
    ] {
        assert!(text.contains(expected), "{expected} not in\n{text}");
    }
    let errors = check(200, json, r#"{"id": 1, "kind": "B"}"#).unwrap_err();
    assert!(errors[0].contains(r#"at "/kind""#), "{errors:?}");

    for (status, content_type, body, expected) in [
        (201, json, "{}", "status 201 is not documented"),
        (
            200,
            Some("text/plain"),
            "{}",
            "Content-Type text/plain is not documented",
        ),
        (200, json, "", "documents a body, the response has none"),
        (204, json, "{}", "documents no body"),
        (200, json, "{", "not JSON"),
    ] {
        let errors = check(status, content_type, body).unwrap_err();
        assert!(errors[0].contains(expected), "{expected}: {errors:?}");
    }

    // A keyword this reading does not know is refused, not ignored.
    let unknown = Description::from_value(
        "inline",
        json!({"openapi": "3.0.0", "paths": {"/a": {"get": {"responses": {"200": {"content": {
            "application/json": {"schema": {"type": "object", "patternProperties": {}}}}}}}}}}),
    );
    let errors = unknown
        .check("GET", "/a", 200, Some("application/json"), b"{}")
        .unwrap_err();
    assert!(
        errors[0].contains("`patternProperties` is not an OpenAPI 3.0 schema keyword"),
        "{errors:?}"
    );
}

// ----- Bitbucket Data Center -----

// The same seed as the Data Center emulator's own tests, so the two read alike.
use crate::emulator_dc::SEED as DC_SEED;

/// The Data Center description, with its departures from the vendor.
fn dc_description() -> Description {
    let mut description = Description::load("bitbucket-dc.openapi.json");
    for field in ["context", "exceptionName"] {
        description = description.depart(
            &["components", "schemas", "RestErrorMessage", "properties", field],
            "nullable",
            json!(true),
            "the description's own narrative on errors shows `\"exceptionName\": null` in every \
             example and `\"context\": null` for 401/403/404/409, and says \"the `context` may be \
             null\"; the schema forgets to say so",
        );
    }
    // Not a relaxation but a correction that makes the check stricter: the description
    // types this list's items as `RestPermittedGroup` (`group`, `permission`), though the
    // operation is "Get users with a global permission" and its entries carry a `user`.
    // Read as written, every entry would pass unchecked, since nothing in
    // `RestPermittedGroup` is required.
    description.depart(
        &[
            "paths",
            "/api/latest/admin/permissions/users",
            "get",
            "responses",
            "200",
            "content",
            "application/json;charset=UTF-8",
            "schema",
            "properties",
            "values",
            "items",
        ],
        "$ref",
        json!("#/components/schemas/RestPermittedUser"),
        "the items of `GET /admin/permissions/users` are users with a permission",
    )
}

#[tokio::test]
async fn dc_responses_match_the_vendor_description() {
    use rollcall::sandbox::bitbucket_dc::{serve, Shared, ROUTES};
    use rollcall::sandbox::state::DcState;

    let description = dc_description();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let state = DcState::parse(DC_SEED).unwrap();
    let emulator = serve(Shared::new(state, TOKEN.to_owned()), listener).await.unwrap();
    let mut run = Run::new(
        format!("{}/rest", emulator.base_url),
        "",
        "application/json",
        &description,
    );
    let users = "/api/latest/admin/users";
    let groups = "/api/latest/admin/groups";
    let global_users = "/api/latest/admin/permissions/users";
    let global_groups = "/api/latest/admin/permissions/groups";
    let project_users = "/api/latest/projects/{projectKey}/permissions/users";
    let project_groups = "/api/latest/projects/{projectKey}/permissions/groups";
    let all_users = "/api/latest/projects/{projectKey}/permissions/{permission}/all";
    let repo_users = "/api/latest/projects/{projectKey}/repos/{repositorySlug}/permissions/users";
    let repo_groups = "/api/latest/projects/{projectKey}/repos/{repositorySlug}/permissions/groups";
    let project_revoke = "/api/latest/projects/{projectKey}/permissions";
    let repo_revoke = "/api/latest/projects/{projectKey}/repos/{repositorySlug}/permissions";
    let add_users = "/api/latest/admin/groups/add-users";
    let add_groups = "/api/latest/admin/users/add-groups";
    let remove_user = "/api/latest/admin/groups/remove-user";
    let remove_group = "/api/latest/admin/users/remove-group";

    // Every route, succeeding, in an order that leaves each list something to show.
    let page = run.call("GET", users, users, None, 200).await;
    run.not_empty("users", &page, "values");
    let create =
        "/api/latest/admin/users?name=erin&displayName=Erin%20Eve&emailAddress=erin%40example.com&password=p4ss";
    run.call("POST", users, create, None, 204).await;
    let body = json!({"name": "erin", "displayName": "Erin E. Eve"});
    run.call("PUT", users, users, Some(body), 200).await;
    run.call("POST", groups, "/api/latest/admin/groups?name=testers", None, 200)
        .await;
    let page = run.call("GET", groups, groups, None, 200).await;
    run.not_empty("groups", &page, "values");
    let body = json!({"group": "testers", "users": ["erin"]});
    run.call("POST", add_users, add_users, Some(body), 200).await;
    let body = json!({"user": "carol", "groups": ["testers"]});
    run.call("POST", add_groups, add_groups, Some(body), 200).await;
    let route = "/api/latest/admin/groups/more-members";
    let page = run
        .call("GET", route, &format!("{route}?context=testers"), None, 200)
        .await;
    run.not_empty("members", &page, "values");
    let route = "/api/latest/admin/users/more-members";
    let page = run
        .call("GET", route, &format!("{route}?context=carol"), None, 200)
        .await;
    run.not_empty("groups of a user", &page, "values");
    let body = json!({"context": "testers", "itemName": "erin"});
    run.call("POST", remove_user, remove_user, Some(body), 200).await;
    let body = json!({"context": "carol", "itemName": "testers"});
    run.call("POST", remove_group, remove_group, Some(body), 200).await;

    let grant = format!("{global_users}?name=carol&permission=PROJECT_CREATE");
    run.call("PUT", global_users, &grant, None, 204).await;
    let page = run.call("GET", global_users, global_users, None, 200).await;
    run.not_empty("global user permissions", &page, "values");
    let grant = format!("{global_groups}?name=testers&permission=LICENSED_USER");
    run.call("PUT", global_groups, &grant, None, 204).await;
    let page = run.call("GET", global_groups, global_groups, None, 200).await;
    run.not_empty("global group permissions", &page, "values");
    let revoke = format!("{global_users}?name=carol");
    run.call("DELETE", global_users, &revoke, None, 204).await;
    let revoke = format!("{global_groups}?name=testers");
    run.call("DELETE", global_groups, &revoke, None, 204).await;

    let route = "/api/latest/projects";
    let page = run.call("GET", route, route, None, 200).await;
    run.not_empty("projects", &page, "values");
    run.call(
        "GET",
        "/api/latest/projects/{projectKey}",
        "/api/latest/projects/PRJ",
        None,
        200,
    )
    .await;
    let route = "/api/latest/projects/{projectKey}/repos";
    let page = run
        .call("GET", route, "/api/latest/projects/PRJ/repos", None, 200)
        .await;
    run.not_empty("repositories", &page, "values");
    let route = "/api/latest/projects/{projectKey}/repos/{repositorySlug}";
    run.call("GET", route, "/api/latest/projects/PRJ/repos/web", None, 200)
        .await;

    for (users_route, groups_route, revoke_route, at, user_permission, group_permission) in [
        (
            project_users,
            project_groups,
            project_revoke,
            "/api/latest/projects/PRJ/permissions",
            "PROJECT_WRITE",
            "PROJECT_READ",
        ),
        (
            repo_users,
            repo_groups,
            repo_revoke,
            "/api/latest/projects/PRJ/repos/web/permissions",
            "REPO_WRITE",
            "REPO_READ",
        ),
    ] {
        let grant = format!("{at}/users?name=alice&permission={user_permission}");
        run.call("PUT", users_route, &grant, None, 204).await;
        let page = run.call("GET", users_route, &format!("{at}/users"), None, 200).await;
        run.not_empty(users_route, &page, "values");
        let grant = format!("{at}/groups?name=developers&permission={group_permission}");
        run.call("PUT", groups_route, &grant, None, 204).await;
        let page = run.call("GET", groups_route, &format!("{at}/groups"), None, 200).await;
        run.not_empty(groups_route, &page, "values");
        run.call("DELETE", users_route, &format!("{at}/users?name=alice"), None, 204)
            .await;
        run.call(
            "DELETE",
            groups_route,
            &format!("{at}/groups?name=developers"),
            None,
            204,
        )
        .await;
        // The same two grants again, revoked in one call.
        let grant = format!("{at}/users?name=alice&permission={user_permission}");
        run.call("PUT", users_route, &grant, None, 204).await;
        let grant = format!("{at}/groups?name=developers&permission={group_permission}");
        run.call("PUT", groups_route, &grant, None, 204).await;
        let revoke = format!("{at}?user=alice&group=developers");
        run.call("DELETE", revoke_route, &revoke, None, 204).await;
        // 400: no user or group; 404: an unknown one.
        run.call("DELETE", revoke_route, at, None, 400).await;
        run.call("DELETE", revoke_route, &format!("{at}?group=nope"), None, 404)
            .await;
    }
    let at = "/api/latest/projects/PRJ/permissions/PROJECT_WRITE/all";
    run.call("POST", all_users, &format!("{at}?allow=true"), None, 204)
        .await;
    run.call("GET", all_users, at, None, 200).await;

    run.call("DELETE", groups, "/api/latest/admin/groups?name=testers", None, 200)
        .await;
    run.call("DELETE", users, "/api/latest/admin/users?name=erin", None, 200)
        .await;

    // The documented errors. 400: a missing or unknown parameter.
    let no_display_name = "/api/latest/admin/users?name=frank&emailAddress=f%40example.com";
    run.call("POST", users, no_display_name, None, 400).await;
    run.call("POST", groups, groups, None, 400).await;
    for (route, at, permission) in [
        (
            global_users,
            "/api/latest/admin/permissions/users?name=carol",
            "SUPER_USER",
        ),
        (
            global_groups,
            "/api/latest/admin/permissions/groups?name=developers",
            "SUPER_USER",
        ),
        (
            project_users,
            "/api/latest/projects/PRJ/permissions/users?name=alice",
            "REPO_READ",
        ),
        (
            project_groups,
            "/api/latest/projects/PRJ/permissions/groups?name=developers",
            "REPO_READ",
        ),
        (
            repo_users,
            "/api/latest/projects/PRJ/repos/web/permissions/users?name=alice",
            "PROJECT_READ",
        ),
        (
            repo_groups,
            "/api/latest/projects/PRJ/repos/web/permissions/groups?name=developers",
            "PROJECT_READ",
        ),
    ] {
        run.call("PUT", route, &format!("{at}&permission={permission}"), None, 400)
            .await;
    }
    let at = "/api/latest/projects/PRJ/permissions/PROJECT_ADMIN/all";
    run.call("GET", all_users, at, None, 400).await;
    let at = "/api/latest/projects/PRJ/permissions/PROJECT_READ/all";
    run.call("POST", all_users, at, None, 400).await;
    run.call(
        "GET",
        "/api/latest/projects",
        "/api/latest/projects?limit=many",
        None,
        400,
    )
    .await;

    // 403: a licence the server does not have. admin, alice and bob hold one.
    emulator.shared.with_state(|state| state.licence_limit = Some(3));
    let grant = format!("{global_users}?name=dave&permission=LICENSED_USER");
    run.call("PUT", global_users, &grant, None, 403).await;

    // 404: unknown users, groups, projects and repositories.
    let body = json!({"name": "nobody", "displayName": "No Body"});
    run.call("PUT", users, users, Some(body), 404).await;
    run.call("DELETE", users, "/api/latest/admin/users?name=nobody", None, 404)
        .await;
    run.call("DELETE", groups, "/api/latest/admin/groups?name=nope", None, 404)
        .await;
    let body = json!({"group": "developers", "users": ["nobody"]});
    run.call("POST", add_users, add_users, Some(body), 404).await;
    let body = json!({"user": "nobody", "groups": ["developers"]});
    run.call("POST", add_groups, add_groups, Some(body), 404).await;
    let body = json!({"context": "nope", "itemName": "alice"});
    run.call("POST", remove_user, remove_user, Some(body), 404).await;
    let body = json!({"context": "nobody", "itemName": "developers"});
    run.call("POST", remove_group, remove_group, Some(body), 404).await;
    for (route, at, permission) in [
        (global_users, "/api/latest/admin/permissions/users?name=nobody", "ADMIN"),
        (global_groups, "/api/latest/admin/permissions/groups?name=nope", "ADMIN"),
        (
            project_users,
            "/api/latest/projects/NOPE/permissions/users?name=alice",
            "PROJECT_READ",
        ),
        (
            project_groups,
            "/api/latest/projects/PRJ/permissions/groups?name=nope",
            "PROJECT_READ",
        ),
        (
            repo_users,
            "/api/latest/projects/PRJ/repos/nope/permissions/users?name=alice",
            "REPO_READ",
        ),
        (
            repo_groups,
            "/api/latest/projects/PRJ/repos/web/permissions/groups?name=nope",
            "REPO_READ",
        ),
    ] {
        run.call("PUT", route, &format!("{at}&permission={permission}"), None, 404)
            .await;
        run.call("DELETE", route, at, None, 404).await;
    }
    for (route, at) in [
        ("/api/latest/projects/{projectKey}", "/api/latest/projects/NOPE"),
        (
            "/api/latest/projects/{projectKey}/repos",
            "/api/latest/projects/NOPE/repos",
        ),
        (
            "/api/latest/projects/{projectKey}/repos/{repositorySlug}",
            "/api/latest/projects/PRJ/repos/nope",
        ),
        (project_users, "/api/latest/projects/NOPE/permissions/users"),
        (project_groups, "/api/latest/projects/NOPE/permissions/groups"),
        (repo_users, "/api/latest/projects/PRJ/repos/nope/permissions/users"),
        (repo_groups, "/api/latest/projects/NOPE/repos/web/permissions/groups"),
        (all_users, "/api/latest/projects/NOPE/permissions/PROJECT_READ/all"),
    ] {
        run.call("GET", route, at, None, 404).await;
    }
    let at = "/api/latest/projects/NOPE/permissions/PROJECT_READ/all?allow=true";
    run.call("POST", all_users, at, None, 404).await;

    // 409: taken names, and changes that would demote the operator.
    let taken = "/api/latest/admin/users?name=alice&displayName=A&emailAddress=a%40example.com&password=p";
    run.call("POST", users, taken, None, 409).await;
    run.call("POST", groups, "/api/latest/admin/groups?name=developers", None, 409)
        .await;
    run.call("DELETE", users, "/api/latest/admin/users?name=admin", None, 409)
        .await;
    run.call("DELETE", groups, "/api/latest/admin/groups?name=sysadmins", None, 409)
        .await;
    let demote = format!("{global_groups}?name=sysadmins&permission=ADMIN");
    run.call("PUT", global_groups, &demote, None, 409).await;
    let revoke = format!("{global_groups}?name=sysadmins");
    run.call("DELETE", global_groups, &revoke, None, 409).await;

    // 401 without credentials, wherever the description documents it.
    for (method, route) in ROUTES {
        let path = route
            .replace("{projectKey}", "PRJ")
            .replace("{repositorySlug}", "web")
            .replace("{permission}", "PROJECT_READ");
        if description.documents(method, route, 401) {
            run.unauthenticated(method, route, &path).await;
        } else {
            // `GET /projects` documents no 401: the server lists the projects an anonymous
            // user may see. The emulator has no anonymous access and refuses; that 401
            // has no documented body to check.
            assert_eq!((*method, *route), ("GET", "/api/latest/projects"));
        }
    }

    let tally = run.finish("Bitbucket Data Center");
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    let missing: Vec<_> = served.difference(&tally.succeeded).collect();
    assert!(missing.is_empty(), "routes without a checked success: {missing:?}");
    // Exact, so that a check that silently stops happening is noticed.
    assert_eq!(tally.schema, 105, "bodies checked against a schema");
    assert_eq!(tally.no_body, 20, "204s");
    assert_eq!(
        tally.no_schema, 6,
        "the membership calls' 200 and the revokes' 400, documented without a schema"
    );
    emulator.shutdown().await;
}

// ----- SCIM, atlassian profile -----

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const DIRECTORY: &str = "/scim/directory/{directoryId}";

/// The discovery endpoints the description types as `{"type": "string"}`.
const DISCOVERY: &[&str] = &[
    "/ServiceProviderConfig",
    "/ResourceTypes",
    "/ResourceTypes/User",
    "/ResourceTypes/Group",
    "/Schemas",
    "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
    "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group",
    "/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
];

/// The user-provisioning description, with its departures from the vendor.
fn atlassian_description() -> Description {
    let mut description = Description::load("atlassian-user-provisioning.openapi.json");
    for route in DISCOVERY {
        let path = format!("{DIRECTORY}{route}");
        for media in ["application/json", "application/scim+json"] {
            description = description.depart(
                &[
                    "paths",
                    path.as_str(),
                    "get",
                    "responses",
                    "200",
                    "content",
                    media,
                    "schema",
                ],
                "type",
                json!("object"),
                "a discovery answer is a JSON object (RFC 7644 §4: the ServiceProviderConfig, \
                 ResourceType and Schema resources of RFC 7643 §5-7, or a ListResponse of them), \
                 never a JSON string; `string` is how the description's generator rendered an \
                 untyped body. Only the type is corrected: the description gives no properties",
            );
        }
    }
    description.depart(
        &["components", "schemas", "ScimMetadata", "properties", "resourceType"],
        "enum",
        json!(["USER", "GROUP", "DIRECTORY", "User", "Group"]),
        "the description's own example answer to `PATCH /Groups/{id}` carries \
         `\"resourceType\":\"Group\"`, the resource type's name as RFC 7643 §3.1 defines it \
         (`User`, `Group`); the upper-case enum is the service's internal one. The \
         description's values stay allowed, the RFC's two are added",
    )
}

/// The description's path templates (after the directory) that one emulator route answers.
fn described(route: &str) -> Vec<String> {
    match route {
        "/ResourceTypes/{id}" => vec!["/ResourceTypes/User".to_owned(), "/ResourceTypes/Group".to_owned()],
        "/Schemas/{id}" => vec![format!("/Schemas/{USER}"), format!("/Schemas/{GROUP}")],
        // The description names the user's id `userId`, the group's `id`.
        "/Users/{id}" => vec!["/Users/{userId}".to_owned()],
        other => vec![other.to_owned()],
    }
}

#[tokio::test]
async fn atlassian_scim_responses_match_the_vendor_description() {
    use rollcall::sandbox::scim::{serve, ScimState, Shared, ROUTES};

    let description = atlassian_description();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let state = ScimState::parse("kind: scim\nprofile: atlassian\ndirectory_id: d1\n").unwrap();
    let emulator = serve(Shared::new(state, TOKEN.to_owned()), listener).await.unwrap();
    let mut run = Run::new(
        emulator.api_url.clone(),
        DIRECTORY,
        "application/scim+json",
        &description,
    );

    // Discovery.
    for route in &DISCOVERY[..7] {
        run.call("GET", route, route, None, 200).await;
    }
    // The emulator does not serve the enterprise extension's schema; its 404 is documented.
    let enterprise = DISCOVERY[7];
    run.call("GET", enterprise, enterprise, None, 404).await;

    // Users.
    let alice = json!({
        "schemas": [USER],
        "userName": "alice",
        "externalId": "ext-alice",
        "name": {"givenName": "Alice", "familyName": "Able"},
        "displayName": "Alice Able",
        "emails": [{"value": "alice@example.com", "type": "work", "primary": true}],
        "active": true,
    });
    let user = run.call("POST", "/Users", "/Users", Some(alice.clone()), 201).await;
    let user_id = user["id"].as_str().unwrap_or("missing").to_owned();
    let at = format!("/Users/{user_id}");
    let one = "/Users/{userId}";
    let page = run.call("GET", "/Users", "/Users", None, 200).await;
    run.not_empty("users", &page, "Resources");
    let filtered = "/Users?filter=userName%20eq%20%22alice%22";
    let page = run.call("GET", "/Users", filtered, None, 200).await;
    run.not_empty("users by userName", &page, "Resources");
    run.call("GET", one, &at, None, 200).await;
    let mut replaced = alice.clone();
    replaced["displayName"] = json!("Alice A. Able");
    run.call("PUT", one, &at, Some(replaced), 200).await;
    let patch = json!({"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "name.givenName", "value": "Alicia"}]});
    run.call("PATCH", one, &at, Some(patch), 200).await;

    // Groups, with a member so that members are checked too.
    let devs = json!({"schemas": [GROUP], "displayName": "devs"});
    let group = run.call("POST", "/Groups", "/Groups", Some(devs), 201).await;
    let group_id = group["id"].as_str().unwrap_or("missing").to_owned();
    let group_at = format!("/Groups/{group_id}");
    let patch = json!({"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": user_id}]}]});
    let group = run.call("PATCH", "/Groups/{id}", &group_at, Some(patch), 200).await;
    run.not_empty("group", &group, "members");
    let page = run.call("GET", "/Groups", "/Groups", None, 200).await;
    run.not_empty("groups", &page, "Resources");
    run.call("GET", "/Groups/{id}", &group_at, None, 200).await;
    let replaced = json!({"schemas": [GROUP], "displayName": "devs", "members": [{"value": user_id}]});
    run.call("PUT", "/Groups/{id}", &group_at, Some(replaced), 200).await;

    // The documented errors.
    let bad_filter = "/Users?filter=userName%20sw%20%22a%22";
    run.call("GET", "/Users", bad_filter, None, 400).await;
    let bad_filter = "/Groups?filter=displayName%20co%20%22d%22";
    run.call("GET", "/Groups", bad_filter, None, 400).await;
    let no_email = json!({"schemas": [USER], "userName": "bob"});
    run.call("POST", "/Users", "/Users", Some(no_email.clone()), 400).await;
    run.call("PUT", one, &at, Some(no_email), 400).await;
    run.call("POST", "/Users", "/Users", Some(alice.clone()), 409).await;
    let nameless = json!({"schemas": [GROUP]});
    run.call("POST", "/Groups", "/Groups", Some(nameless), 400).await;
    let taken = json!({"schemas": [GROUP], "displayName": "devs"});
    run.call("POST", "/Groups", "/Groups", Some(taken), 409).await;
    let rename = json!({"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "displayName", "value": "ops"}]});
    run.call("PATCH", "/Groups/{id}", &group_at, Some(rename), 400).await;
    // Documented as `BadRequestException`, a Java exception's fields, none of them
    // required: the emulator's RFC 7644 error body passes it without being checked by it.
    let renamed = json!({"schemas": [GROUP], "displayName": "ops"});
    run.call("PUT", "/Groups/{id}", &group_at, Some(renamed), 400).await;
    let patch = json!({"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "displayName", "value": "x"}]});
    let nobody = "/Users/no-such-id";
    run.call("GET", one, nobody, None, 404).await;
    run.call("PUT", one, nobody, Some(alice.clone()), 404).await;
    run.call("PATCH", one, nobody, Some(patch.clone()), 404).await;
    run.call("DELETE", one, nobody, None, 404).await;
    let nothing = "/Groups/no-such-id";
    run.call("GET", "/Groups/{id}", nothing, None, 404).await;
    let body = json!({"schemas": [GROUP], "displayName": "x"});
    run.call("PUT", "/Groups/{id}", nothing, Some(body), 404).await;
    run.call("PATCH", "/Groups/{id}", nothing, Some(patch), 404).await;
    run.call("DELETE", "/Groups/{id}", nothing, None, 404).await;

    // 401 without credentials on every described route. The description documents it
    // as `Failure` (`error`, `traceId`, neither required), so the emulator's RFC 7644
    // error body passes without being checked by it.
    for (method, route) in ROUTES {
        for path in described(route) {
            if description.has_operation(method, &format!("{DIRECTORY}{path}")) {
                let concrete = path.replace("{userId}", &user_id).replace("{id}", &group_id);
                run.unauthenticated(method, &path, &concrete).await;
            }
        }
    }

    run.call("DELETE", "/Groups/{id}", &group_at, None, 204).await;
    run.call("DELETE", one, &at, None, 204).await;

    let tally = run.finish("SCIM, atlassian profile");
    let mut unchecked = Vec::new();
    for (method, route) in ROUTES {
        let paths = described(route);
        let in_description: Vec<&String> = paths
            .iter()
            .filter(|p| description.has_operation(method, &format!("{DIRECTORY}{p}")))
            .collect();
        if in_description.is_empty() {
            // Root `/.search` and `/Bulk` (RFC 7644 §3.4.3, §3.7) are not in the
            // description; the emulator answers them 501 and nothing documents a body.
            assert!(
                matches!(*route, "/.search" | "/Bulk"),
                "{method} {route} is not described"
            );
            continue;
        }
        for path in in_description {
            if !tally.succeeded.contains(&((*method).to_owned(), path.clone())) {
                unchecked.push(format!("{method} {path}"));
            }
        }
    }
    assert!(unchecked.is_empty(), "routes without a checked success: {unchecked:?}");

    assert_eq!(tally.schema, 55, "bodies checked against a schema");
    assert_eq!(tally.no_body, 2, "204s");
    assert_eq!(tally.no_schema, 0, "bodies documented without a schema");
    emulator.shutdown().await;
}

// ----- Atlassian Cloud: Bitbucket Cloud and the Organizations REST API -----

#[tokio::test]
async fn cloud_responses_match_the_vendor_descriptions() {
    use rollcall::sandbox::atlassian_cloud::{serve, Shared, ROUTES};

    let mut state = crate::emulator_cloud::fixture();
    state.seat_limit = Some(9);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let emulator = serve(Shared::new(state, TOKEN.to_owned()), listener).await.unwrap();

    // Bitbucket, with the operator's API token.
    let bitbucket = Description::load("bitbucket-cloud.swagger.v3.json");
    let mut run = Run::new(format!("{}/2.0", emulator.base_url), "", "application/json", &bitbucket);
    run.basic = Some((crate::emulator_cloud::EMAIL, TOKEN));
    let ws = "/workspaces/{workspace}";
    let members = format!("{ws}/members");
    let page = run.call("GET", "/user", "/user", None, 200).await;
    assert_eq!(page["account_id"], "557058:0000-oscar");
    let page = run.call("GET", &members, "/workspaces/acme/members", None, 200).await;
    run.not_empty("members", &page, "values");
    let by_email =
        "/workspaces/acme/members?q=user.email%20IN%20(%22alice%40acme.example%22)&fields=%2Bvalues.user.email";
    run.call("GET", &members, by_email, None, 200).await;
    run.call("GET", &members, "/workspaces/acme/members?pagelen=500", None, 400)
        .await;
    let member = format!("{ws}/members/{{member}}");
    run.call("GET", &member, "/workspaces/acme/members/557058:0000-alice", None, 200)
        .await;
    run.call(
        "GET",
        &member,
        "/workspaces/acme/members/557058:0000-mallory",
        None,
        404,
    )
    .await;
    let roles = format!("{ws}/permissions");
    let page = run
        .call(
            "GET",
            &roles,
            "/workspaces/acme/permissions?q=permission%3D%22owner%22",
            None,
            200,
        )
        .await;
    run.not_empty("owners", &page, "values");
    let projects = format!("{ws}/projects");
    let page = run.call("GET", &projects, "/workspaces/acme/projects", None, 200).await;
    run.not_empty("projects", &page, "values");
    run.call("GET", &projects, "/workspaces/nope/projects", None, 404).await;
    let project = format!("{ws}/projects/{{project_key}}");
    run.call("GET", &project, "/workspaces/acme/projects/PLAT", None, 200)
        .await;
    run.call("GET", &project, "/workspaces/acme/projects/NOPE", None, 404)
        .await;
    let repos = "/repositories/{workspace}";
    let page = run
        .call("GET", repos, "/repositories/acme?q=project.key%3D%22PLAT%22", None, 200)
        .await;
    run.not_empty("repositories", &page, "values");
    run.call("GET", repos, "/repositories/nope", None, 404).await;
    let effective = format!("{ws}/permissions/repositories");
    let page = run
        .call(
            "GET",
            &effective,
            "/workspaces/acme/permissions/repositories",
            None,
            200,
        )
        .await;
    run.not_empty("effective permissions", &page, "values");
    let effective_one = format!("{ws}/permissions/repositories/{{repo_slug}}");
    run.call(
        "GET",
        &effective_one,
        "/workspaces/acme/permissions/repositories/infra",
        None,
        200,
    )
    .await;

    // Grants, on a project and on a repository.
    for (scope, at) in [
        (
            format!("{ws}/projects/{{project_key}}"),
            "/workspaces/acme/projects/PLAT",
        ),
        (
            "/repositories/{workspace}/{repo_slug}".to_owned(),
            "/repositories/acme/infra",
        ),
    ] {
        let groups = format!("{scope}/permissions-config/groups");
        let group = format!("{groups}/{{group_slug}}");
        let users = format!("{scope}/permissions-config/users");
        let user = format!("{users}/{{selected_user_id}}");
        let grant = Some(json!({"permission": "write"}));
        run.call(
            "PUT",
            &group,
            &format!("{at}/permissions-config/groups/backend"),
            grant.clone(),
            200,
        )
        .await;
        let page = run
            .call("GET", &groups, &format!("{at}/permissions-config/groups"), None, 200)
            .await;
        run.not_empty("group grants", &page, "values");
        run.call(
            "GET",
            &group,
            &format!("{at}/permissions-config/groups/backend"),
            None,
            200,
        )
        .await;
        run.call(
            "PUT",
            &group,
            &format!("{at}/permissions-config/groups/ghosts"),
            grant.clone(),
            404,
        )
        .await;
        let bad = Some(json!({"permission": "owner"}));
        run.call(
            "PUT",
            &group,
            &format!("{at}/permissions-config/groups/backend"),
            bad,
            400,
        )
        .await;
        run.call(
            "PUT",
            &user,
            &format!("{at}/permissions-config/users/557058:0000-grace"),
            grant.clone(),
            200,
        )
        .await;
        let page = run
            .call("GET", &users, &format!("{at}/permissions-config/users"), None, 200)
            .await;
        run.not_empty("user grants", &page, "values");
        run.call(
            "GET",
            &user,
            &format!("{at}/permissions-config/users/557058:0000-grace"),
            None,
            200,
        )
        .await;
        run.call(
            "PUT",
            &user,
            &format!("{at}/permissions-config/users/557058:0000-ada"),
            grant.clone(),
            400,
        )
        .await;
        // The seat limit: heidi would be the tenth person with access.
        run.call(
            "PUT",
            &user,
            &format!("{at}/permissions-config/users/557058:0000-heidi"),
            grant,
            402,
        )
        .await;
        run.call(
            "DELETE",
            &user,
            &format!("{at}/permissions-config/users/557058:0000-grace"),
            None,
            204,
        )
        .await;
        run.call(
            "DELETE",
            &group,
            &format!("{at}/permissions-config/groups/backend"),
            None,
            204,
        )
        .await;
        run.call(
            "GET",
            &group,
            &format!("{at}/permissions-config/groups/nope"),
            None,
            404,
        )
        .await;
        run.unauthenticated("GET", &groups, &format!("{at}/permissions-config/groups"))
            .await;
        // A workspace access token may not read permissions.
        run.basic = None;
        run.call("GET", &users, &format!("{at}/permissions-config/users"), None, 403)
            .await;
        run.basic = Some((crate::emulator_cloud::EMAIL, TOKEN));
    }
    run.unauthenticated("GET", "/user", "/user").await;
    let tally = run.finish("Bitbucket Cloud");
    // The removed reads answer 410, which their descriptions do not list (they predate
    // CHANGE-2770), and `GET /user/workspaces` is newer than the description: the Cloud
    // emulator's own tests check those bodies.
    let unchecked = [
        "/2.0/workspaces",
        "/2.0/user/permissions/workspaces",
        "/2.0/user/permissions/repositories",
        "/2.0/user/workspaces",
    ];
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .filter(|(_, path)| path.starts_with("/2.0/") && !unchecked.contains(path))
        .map(|(method, path)| ((*method).to_owned(), path["/2.0".len()..].to_owned()))
        .collect();
    let missing: Vec<_> = served.difference(&tally.succeeded).collect();
    assert!(
        missing.is_empty(),
        "Bitbucket routes without a checked success: {missing:?}"
    );
    assert_eq!(tally.no_body, 4, "the revokes' 204s");
    // Exact, so that a check that silently stops happening is noticed.
    assert_eq!(tally.schema, 42, "bodies checked against a schema");
    assert_eq!(tally.no_schema, 0);

    // The Organizations API, with the org API key.
    let organizations = Description::load("atlassian-admin-organizations.openapi.json");
    let mut run = Run::new(
        format!("{}/admin", emulator.base_url),
        "",
        "application/json",
        &organizations,
    );
    let org = "/v2/orgs/{orgId}";
    let dir = "/v2/orgs/{orgId}/directories/{directoryId}";
    let at = crate::emulator_cloud::ORG.trim_start_matches("/admin");
    let org_at = "/v2/orgs/4f2a9c1e-0b7d-4e8a-9c3f-5d6e7f8a9b0c";
    let page = run.call("GET", "/v1/orgs", "/v1/orgs", None, 200).await;
    run.not_empty("orgs", &page, "data");
    let page = run
        .call(
            "GET",
            &format!("{org}/directories"),
            &format!("{org_at}/directories"),
            None,
            200,
        )
        .await;
    run.not_empty("directories", &page, "data");
    let search = format!("{dir}/users/search");
    let body = json!({"emails": ["alice@acme.example"], "expand": ["groups"]});
    let page = run
        .call("POST", &search, &format!("{at}/users/search"), Some(body), 200)
        .await;
    run.not_empty("users", &page, "data");
    run.call(
        "POST",
        &search,
        &format!("{at}/users/search"),
        Some(json!({"limit": 500})),
        400,
    )
    .await;
    let page = run
        .call(
            "GET",
            &format!("{dir}/users"),
            &format!("{at}/users?limit=5"),
            None,
            200,
        )
        .await;
    run.not_empty("users", &page, "data");
    let groups_search = format!("{dir}/groups/search");
    let body = json!({"groupNames": ["BACKEND"], "expand": ["counts.users"]});
    let page = run
        .call("POST", &groups_search, &format!("{at}/groups/search"), Some(body), 200)
        .await;
    run.not_empty("groups", &page, "data");
    let groups = format!("{dir}/groups");
    let page = run.call("GET", &groups, &format!("{at}/groups"), None, 200).await;
    run.not_empty("groups", &page, "data");
    run.call("GET", &groups, &format!("{at}/groups?cursor=nope!"), None, 400)
        .await;
    run.call(
        "POST",
        &groups,
        &format!("{at}/groups"),
        Some(json!({"name": "qa"})),
        201,
    )
    .await;
    let found = run
        .call(
            "POST",
            &groups_search,
            &format!("{at}/groups/search"),
            Some(json!({"groupNames": ["qa"]})),
            200,
        )
        .await;
    let id = found["data"][0]["id"].as_str().unwrap_or("missing").to_owned();
    let group = format!("{dir}/groups/{{groupId}}");
    run.call("GET", &group, &format!("{at}/groups/{id}"), None, 200).await;
    run.call("GET", &group, &format!("{at}/groups/nope"), None, 404).await;
    let memberships = format!("{group}/memberships");
    let add = Some(json!({"accountId": "557058:0000-judy"}));
    run.call("POST", &memberships, &format!("{at}/groups/{id}/memberships"), add, 204)
        .await;
    let member = format!("{memberships}/{{accountId}}");
    run.call(
        "DELETE",
        &member,
        &format!("{at}/groups/{id}/memberships/557058:0000-judy"),
        None,
        204,
    )
    .await;
    run.call("DELETE", &group, &format!("{at}/groups/{id}"), None, 204)
        .await;
    run.unauthenticated("GET", "/v1/orgs", "/v1/orgs").await;
    run.unauthenticated("GET", &groups, &format!("{at}/groups")).await;
    let tally = run.finish("Organizations REST API");
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .filter(|(_, path)| path.starts_with("/admin/"))
        .map(|(method, path)| ((*method).to_owned(), path["/admin".len()..].to_owned()))
        .collect();
    let missing: Vec<_> = served.difference(&tally.succeeded).collect();
    assert!(
        missing.is_empty(),
        "Organizations routes without a checked success: {missing:?}"
    );
    assert_eq!(tally.no_body, 4, "the 201 and the 204s");
    assert_eq!(tally.schema, 13, "bodies checked against a schema");
    assert_eq!(tally.no_schema, 0);
    emulator.shutdown().await;
}
