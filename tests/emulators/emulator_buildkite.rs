//! The Buildkite emulator over real HTTP: each operation the provider sends and the
//! shapes it answers, documents the schema refuses, the vendor's rules as HTTP 200 with
//! errors, paging with cursors, the complexity limits and their headers, REST
//! `teams/enable`, Bearer-only authentication, and ids that are the same on every run.

use serde_json::{json, Value};

use rollcall::sandbox::buildkite::{node_id, parse_node_id, serve, BkState, RunningEmulator, Shared};
use rollcall::sandbox::state::StateFile as _;

const TOKEN: &str = "bk-token";

fn fixture() -> BkState {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/buildkite-sandbox.yaml");
    BkState::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn start(edit: impl FnOnce(&mut BkState)) -> RunningEmulator {
    let mut state = fixture();
    edit(&mut state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(Shared::new(state, TOKEN.to_owned()), listener).await.unwrap()
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
}

async fn post(
    emu: &RunningEmulator,
    path: &str,
    auth: Option<String>,
    body: Value,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", emu.base_url))
        .json(&body);
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

async fn gql(emu: &RunningEmulator, query: &str, variables: Value) -> Answer {
    post(
        emu,
        "/v1",
        Some(format!("Bearer {TOKEN}")),
        json!({ "query": query, "variables": variables }),
        &[],
    )
    .await
}

/// The answer's data, after checking there are no errors.
async fn data(emu: &RunningEmulator, query: &str, variables: Value) -> Value {
    let answer = gql(emu, query, variables).await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.get("errors").is_none(), "{}", answer.body);
    answer.body["data"].clone()
}

const ORG_QUERY: &str = r#"query {
  organization(slug: "acme") {
    id uuid slug name isTeamsEnabled sso { isEnabled }
    members(first: 10) { count pageInfo { hasNextPage endCursor }
      edges { node { id uuid role user { id uuid email name } } } }
    invitations(first: 10, state: [PENDING]) { count
      edges { node { id uuid email role state teams(first: 10) { edges { node { id role team { id uuid slug name } } } } } } }
    teams(first: 10) { count pageInfo { hasNextPage endCursor }
      edges { node { id uuid slug name description privacy isDefaultTeam defaultMemberRole
        members(first: 10) { count edges { node { id role user { id uuid email name } } } }
        pipelines(first: 10) { count edges { node { id accessLevel pipeline { id uuid slug name } } } } } } }
    pipelines(first: 10) { count edges { node { id uuid slug name } } }
  }
}"#;

fn nodes(connection: &Value) -> Vec<Value> {
    connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

fn find<'a>(items: &'a [Value], key: &str, value: &str) -> &'a Value {
    items.iter().find(|i| i[key] == value).unwrap()
}

#[tokio::test]
async fn the_organization_reads_in_the_vendors_shape() {
    let emu = start(|_| {}).await;
    let org = &data(&emu, ORG_QUERY, json!({})).await["organization"];
    assert_eq!(org["slug"], "acme");
    assert_eq!(org["isTeamsEnabled"], true);
    assert_eq!(org["sso"]["isEnabled"], false);
    let (kind, uuid) = parse_node_id(org["id"].as_str().unwrap()).unwrap();
    assert_eq!(
        (kind.as_str(), uuid.as_str()),
        ("Organization", org["uuid"].as_str().unwrap())
    );

    let members = nodes(&org["members"]);
    assert_eq!(org["members"]["count"], 3);
    let ada = find(&members, "role", "MEMBER");
    assert!(parse_node_id(ada["id"].as_str().unwrap()).unwrap().0 == "OrganizationMember");
    assert!(parse_node_id(ada["user"]["id"].as_str().unwrap()).unwrap().0 == "User");
    // Newest first, the connection's default order.
    assert_eq!(members[0]["user"]["email"], "bob@acme.example");

    let invitation = &nodes(&org["invitations"])[0];
    assert_eq!(invitation["email"], "carol@acme.example");
    assert_eq!(invitation["state"], "PENDING");
    let assignment = &nodes(&invitation["teams"])[0];
    assert_eq!(
        (assignment["role"].as_str(), assignment["team"]["slug"].as_str()),
        (Some("MAINTAINER"), Some("platform"))
    );

    // Teams by name.
    let teams = nodes(&org["teams"]);
    assert_eq!(
        teams.iter().map(|t| t["slug"].as_str().unwrap()).collect::<Vec<_>>(),
        ["platform", "web"]
    );
    let platform = &teams[0];
    assert_eq!(platform["description"], "Runs the platform");
    assert_eq!(platform["privacy"], "VISIBLE");
    assert_eq!(platform["defaultMemberRole"], "MEMBER");
    assert_eq!(platform["isDefaultTeam"], false);
    let maintainer = find(&nodes(&platform["members"]), "role", "MAINTAINER").clone();
    assert_eq!(maintainer["user"]["email"], "ada@acme.example");
    assert_eq!(nodes(&platform["pipelines"])[0]["accessLevel"], "MANAGE_BUILD_AND_READ");
    assert_eq!(nodes(&platform["pipelines"])[0]["pipeline"]["slug"], "deploy");
    assert_eq!(teams[1]["privacy"], "SECRET");
    assert_eq!(teams[1]["description"], Value::Null);
    assert_eq!(org["pipelines"]["count"], 3);
}

#[tokio::test]
async fn node_team_and_viewer() {
    let emu = start(|_| {}).await;
    let d = data(
        &emu,
        r#"{ viewer { user { email name } } team(slug: "acme/platform") { id slug } missing: team(slug: "acme/nope") { id } }"#,
        json!({}),
    )
    .await;
    assert_eq!(d["viewer"]["user"]["email"], "olivia@acme.example");
    assert_eq!(d["missing"], Value::Null);
    let id = d["team"]["id"].as_str().unwrap();
    let d = data(
        &emu,
        r#"query($id: ID!) { node(id: $id) { __typename id ... on Team { slug name } } }"#,
        json!({ "id": id }),
    )
    .await;
    assert_eq!(d["node"]["__typename"], "Team");
    assert_eq!(d["node"]["slug"], "platform");
    let d = data(&emu, r#"{ node(id: "bm9wZS0tLXg=") { id } }"#, json!({})).await;
    assert_eq!(d["node"], Value::Null);
}

#[tokio::test]
async fn fields_not_modelled_are_errors_not_data() {
    let emu = start(|_| {}).await;
    let answer = gql(
        &emu,
        r#"{ organization(slug: "acme") { slug agents(first: 1) { count } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body["errors"][0]["message"],
        "the emulator does not model Organization.agents"
    );
    assert_eq!(answer.body["errors"][0]["path"], json!(["organization", "agents"]));
    assert_eq!(answer.body["data"]["organization"]["slug"], "acme");
}

#[tokio::test]
async fn documents_the_schema_refuses() {
    let emu = start(|_| {}).await;
    let answer = gql(&emu, r#"{ organization(slug: "acme") { nope } }"#, json!({})).await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.get("data").is_none());
    let errors = answer.body["errors"].as_array().unwrap();
    let error = errors
        .iter()
        .find(|e| e["message"].as_str().unwrap().contains("nope"))
        .unwrap();
    assert_eq!(error["locations"][0]["line"], 1);
    // A syntax error, and a variable of the wrong type.
    let answer = gql(&emu, "{ organization(slug: ", json!({})).await;
    assert!(answer.body["errors"][0]["message"].is_string());
    let answer = gql(
        &emu,
        r#"query($n: Int) { organization(slug: "acme") { members(first: $n) { count } } }"#,
        json!({ "n": "ten" }),
    )
    .await;
    assert!(answer.body.get("data").is_none(), "{}", answer.body);
    // A required input field left out (teamUpdate needs name, defaultMemberRole, isDefaultTeam).
    let answer = gql(
        &emu,
        r#"mutation { teamUpdate(input: { id: "x", name: "n", isDefaultTeam: false }) { team { id } } }"#,
        json!({}),
    )
    .await;
    assert!(
        answer.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("defaultMemberRole"),
        "{}",
        answer.body
    );
    let answer = post(&emu, "/v1", Some(format!("Bearer {TOKEN}")), json!({}), &[]).await;
    assert_eq!(answer.body["errors"][0]["message"], "No query string was present");
}

#[tokio::test]
async fn paging_follows_the_cursors() {
    let emu = start(|state| {
        for i in 0..7 {
            state.pipelines.push(format!("p{i}"));
        }
    })
    .await;
    let query = r#"query($after: String) { organization(slug: "acme") {
        pipelines(first: 4, after: $after) { count pageInfo { hasNextPage endCursor } edges { node { slug } } } } }"#;
    let mut after = Value::Null;
    let mut seen = Vec::new();
    loop {
        let d = data(&emu, query, json!({ "after": after })).await;
        let page = &d["organization"]["pipelines"];
        assert_eq!(page["count"], 10);
        seen.extend(nodes(page).iter().map(|n| n["slug"].as_str().unwrap().to_owned()));
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen.len(), 10);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 10);
    let answer = gql(
        &emu,
        r#"{ organization(slug: "acme") { pipelines(first: 501) { count } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(answer.body["data"]["organization"]["pipelines"], Value::Null);
    assert!(answer.body["errors"][0]["message"].as_str().unwrap().contains("500"));
}

/// The node ids of the fixture's members, teams and grants.
async fn ids(emu: &RunningEmulator) -> Value {
    data(emu, ORG_QUERY, json!({})).await["organization"].clone()
}

fn member_id(org: &Value, email: &str) -> String {
    let members = nodes(&org["members"]);
    members.iter().find(|m| m["user"]["email"] == email).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn user_id(org: &Value, email: &str) -> String {
    let members = nodes(&org["members"]);
    members.iter().find(|m| m["user"]["email"] == email).unwrap()["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn team(org: &Value, slug: &str) -> Value {
    nodes(&org["teams"]).into_iter().find(|t| t["slug"] == slug).unwrap()
}

fn pipeline_id(org: &Value, slug: &str) -> String {
    nodes(&org["pipelines"]).iter().find(|p| p["slug"] == slug).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn team_mutations_change_what_reads_see() {
    let emu = start(|_| {}).await;
    let org = ids(&emu).await;
    let org_id = org["id"].as_str().unwrap();
    let d = data(
        &emu,
        r#"mutation($org: ID!) { teamCreate(input: { organizationID: $org, name: "Data Science", privacy: VISIBLE,
            isDefaultTeam: false, defaultMemberRole: MAINTAINER, clientMutationId: "m1" }) {
            clientMutationId teamEdge { node { id slug name defaultMemberRole } } organization { slug } } }"#,
        json!({ "org": org_id }),
    )
    .await;
    let created = &d["teamCreate"]["teamEdge"]["node"];
    assert_eq!(created["slug"], "data-science");
    assert_eq!(d["teamCreate"]["clientMutationId"], "m1");
    let team_id = created["id"].as_str().unwrap().to_owned();

    // A member joins with the team's default role; a pipeline is granted read-only.
    let d = data(
        &emu,
        r#"mutation($team: ID!, $user: ID!, $pipeline: ID!) {
            member: teamMemberCreate(input: { teamID: $team, userID: $user }) { teamMemberEdge { node { id role user { email } } } }
            grant: teamPipelineCreate(input: { teamID: $team, pipelineID: $pipeline }) { teamPipeline { id accessLevel pipeline { slug } } } }"#,
        json!({ "team": team_id, "user": user_id(&org, "bob@acme.example"), "pipeline": pipeline_id(&org, "api") }),
    )
    .await;
    let membership = d["member"]["teamMemberEdge"]["node"].clone();
    assert_eq!(membership["role"], "MAINTAINER");
    assert_eq!(d["grant"]["teamPipeline"]["accessLevel"], "READ_ONLY");
    let grant_id = d["grant"]["teamPipeline"]["id"].as_str().unwrap().to_owned();

    let d = data(
        &emu,
        r#"mutation($m: ID!, $g: ID!, $t: ID!) {
            a: teamMemberUpdate(input: { id: $m, role: MEMBER }) { teamMember { role } }
            b: teamPipelineUpdate(input: { id: $g, accessLevel: BUILD_AND_READ }) { teamPipeline { accessLevel } }
            c: teamUpdate(input: { id: $t, name: "Data", description: "numbers", privacy: SECRET, isDefaultTeam: true,
                defaultMemberRole: MEMBER, membersCanCreatePipelines: false }) { team { slug name description privacy isDefaultTeam } } }"#,
        json!({ "m": membership["id"], "g": grant_id, "t": team_id }),
    )
    .await;
    assert_eq!(d["a"]["teamMember"]["role"], "MEMBER");
    assert_eq!(d["b"]["teamPipeline"]["accessLevel"], "BUILD_AND_READ");
    assert_eq!(
        d["c"]["team"],
        json!({"slug": "data", "name": "Data", "description": "numbers", "privacy": "SECRET", "isDefaultTeam": true})
    );

    let d = data(
        &emu,
        r#"mutation($m: ID!, $g: ID!) {
            a: teamMemberDelete(input: { id: $m }) { deletedTeamMemberID team { members(first: 5) { count } } }
            b: teamPipelineDelete(input: { id: $g }) { deletedTeamPipelineID team { pipelines(first: 5) { count } } } }"#,
        json!({ "m": membership["id"], "g": grant_id }),
    )
    .await;
    assert_eq!(d["a"]["deletedTeamMemberID"], membership["id"]);
    assert_eq!(d["a"]["team"]["members"]["count"], 0);
    assert_eq!(d["b"]["team"]["pipelines"]["count"], 0);

    // Deleting a team takes its memberships and grants, and invitations' places on it.
    let platform = team(&org, "platform");
    let d = data(
        &emu,
        r#"mutation($t: ID!) { teamDelete(input: { id: $t }) { deletedTeamID organization { teams(first: 10) { count } } } }"#,
        json!({ "t": platform["id"] }),
    )
    .await;
    assert_eq!(d["teamDelete"]["deletedTeamID"], platform["id"]);
    assert_eq!(d["teamDelete"]["organization"]["teams"]["count"], 2);
    let state = emu.shared.state();
    assert!(state.team_by_slug("platform").is_none());
    assert!(state.invitations[0].teams.is_empty());
}

#[tokio::test]
async fn membership_and_invitation_mutations() {
    let emu = start(|_| {}).await;
    let org = ids(&emu).await;
    let platform = team(&org, "platform");
    let d = data(
        &emu,
        r#"mutation($org: ID!, $team: ID!) { organizationInvitationCreate(input: { organizationID: $org,
            emails: ["dan@acme.example", "eve@acme.example"], role: ADMIN, teams: [{ id: $team, role: MEMBER }] }) {
            invitationEdges { node { id email role state teams(first: 5) { edges { node { role team { slug } } } } } } } }"#,
        json!({ "org": org["id"], "team": platform["id"] }),
    )
    .await;
    let edges = d["organizationInvitationCreate"]["invitationEdges"].as_array().unwrap();
    assert_eq!(edges.len(), 2);
    assert_eq!(edges[0]["node"]["role"], "ADMIN");
    assert_eq!(nodes(&edges[0]["node"]["teams"])[0]["team"]["slug"], "platform");
    let dan = edges[0]["node"]["id"].clone();
    let d = data(
        &emu,
        r#"mutation($id: ID!) { organizationInvitationRevoke(input: { id: $id }) { organizationInvitation { email state } } }"#,
        json!({ "id": dan }),
    )
    .await;
    assert_eq!(
        d["organizationInvitationRevoke"]["organizationInvitation"]["state"],
        "REVOKED"
    );

    // An invitation accepted becomes a member on its teams.
    emu.shared
        .with_state(|s| s.accept_invitation("eve@acme.example", "Eve").unwrap());
    let org = ids(&emu).await;
    let eve = nodes(&org["members"])
        .into_iter()
        .find(|m| m["user"]["email"] == "eve@acme.example")
        .unwrap();
    assert_eq!(eve["role"], "ADMIN");
    assert!(nodes(&team(&org, "platform")["members"])
        .iter()
        .any(|m| m["user"]["email"] == "eve@acme.example"));

    let d = data(
        &emu,
        r#"mutation($m: ID!, $n: ID!) {
            a: organizationMemberUpdate(input: { id: $m, role: ADMIN }) { organizationMember { role user { email } } }
            b: organizationMemberDelete(input: { id: $n }) { deletedOrganizationMemberID user { email } } }"#,
        json!({ "m": member_id(&org, "ada@acme.example"), "n": member_id(&org, "bob@acme.example") }),
    )
    .await;
    assert_eq!(d["a"]["organizationMember"]["role"], "ADMIN");
    assert_eq!(d["b"]["user"]["email"], "bob@acme.example");
    assert!(emu.shared.state().member("bob@acme.example").is_none());
}

/// A mutation's refusal: HTTP 200, its alias null, one error whose path is the alias.
async fn refused(emu: &RunningEmulator, query: &str, variables: Value) -> String {
    let answer = gql(emu, query, variables).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["data"]["x"], Value::Null, "{}", answer.body);
    assert_eq!(answer.body["errors"][0]["path"], json!(["x"]), "{}", answer.body);
    answer.body["errors"][0]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_vendors_rules_answer_200_with_errors() {
    let emu = start(|state| state.limits.max_teams = 3).await;
    let org = ids(&emu).await;
    let me = member_id(&org, "olivia@acme.example");
    let ada = member_id(&org, "ada@acme.example");
    let update = r#"mutation($id: ID!) { x: organizationMemberUpdate(input: { id: $id, role: MEMBER }) { organizationMember { role } } }"#;
    let delete =
        r#"mutation($id: ID!) { x: organizationMemberDelete(input: { id: $id }) { deletedOrganizationMemberID } }"#;
    assert!(refused(&emu, update, json!({ "id": me })).await.contains("your own"));
    assert!(refused(&emu, delete, json!({ "id": me })).await.contains("yourself"));

    // Ada is the only admin once promoted and the operator demoted by hand: a token of
    // someone who is not an administrator changes nothing (and so cannot take the last
    // administrator away either).
    emu.shared.with_state(|s| {
        s.members
            .iter_mut()
            .find(|m| m.email == "ada@acme.example")
            .unwrap()
            .role = rollcall::sandbox::buildkite::state::OrgRole::Admin;
        s.members
            .iter_mut()
            .find(|m| m.email == "olivia@acme.example")
            .unwrap()
            .role = rollcall::sandbox::buildkite::state::OrgRole::Member;
    });
    assert!(refused(&emu, update, json!({ "id": ada }))
        .await
        .contains("You must be an organization administrator"));
    assert!(refused(&emu, delete, json!({ "id": ada }))
        .await
        .contains("You must be an organization administrator"));
    emu.shared.with_state(|s| {
        s.members
            .iter_mut()
            .find(|m| m.email == "olivia@acme.example")
            .unwrap()
            .role = rollcall::sandbox::buildkite::state::OrgRole::Admin;
    });

    let create = r#"mutation($org: ID!, $name: String!) { x: teamCreate(input: { organizationID: $org, name: $name,
        privacy: VISIBLE, isDefaultTeam: false, defaultMemberRole: MEMBER }) { teamEdge { node { slug } } } }"#;
    assert!(refused(&emu, create, json!({ "org": org["id"], "name": "platform" }))
        .await
        .contains("already been taken"));
    data(
        &emu,
        &create.replace("x:", "y:"),
        json!({ "org": org["id"], "name": "Third" }),
    )
    .await;
    assert!(refused(&emu, create, json!({ "org": org["id"], "name": "Fourth" }))
        .await
        .contains("limit of 3 teams"));

    let platform = team(&org, "platform");
    let join =
        r#"mutation($t: ID!, $u: ID!) { x: teamMemberCreate(input: { teamID: $t, userID: $u }) { team { slug } } }"#;
    let msg = refused(
        &emu,
        join,
        json!({ "t": platform["id"], "u": user_id(&org, "ada@acme.example") }),
    )
    .await;
    assert!(msg.contains("already a member of this team"));

    let invite = r#"mutation($org: ID!) { x: organizationInvitationCreate(input: { organizationID: $org, emails: ["bob@acme.example"] }) { organization { slug } } }"#;
    assert!(refused(&emu, invite, json!({ "org": org["id"] }))
        .await
        .contains("already a member"));

    // Two mutations in one document answer independently, in order.
    let answer = gql(
        &emu,
        r#"mutation($org: ID!) {
            bad: organizationInvitationCreate(input: { organizationID: $org, emails: ["bob@acme.example"] }) { organization { slug } }
            good: organizationInvitationCreate(input: { organizationID: $org, emails: ["zed@acme.example"] }) { organization { slug } } }"#,
        json!({ "org": org["id"] }),
    )
    .await;
    assert_eq!(answer.body["data"]["bad"], Value::Null);
    assert_eq!(answer.body["data"]["good"]["organization"]["slug"], "acme");
    assert_eq!(answer.body["errors"].as_array().unwrap().len(), 1);

    // Teams switched off: team operations are refused.
    emu.shared.with_state(|s| s.organization.teams_enabled = false);
    assert!(refused(&emu, create, json!({ "org": org["id"], "name": "Fifth" }))
        .await
        .contains("Teams are not enabled"));
}

#[tokio::test]
async fn complexity_headers_and_limits() {
    let emu = start(|state| {
        state.limits.user_points = 40;
        state.limits.org_points = 1000;
        state.limits.max_complexity = 600;
    })
    .await;
    let query = r#"{ organization(slug: "acme") { pipelines(first: 500) { edges { node { slug } } } } }"#;
    let answer = gql(&emu, query, json!({})).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("ratelimit-complexity-requested"), "503");
    assert_eq!(answer.header("ratelimit-complexity-actual"), "6");
    assert_eq!(answer.header("ratelimit-user-remaining"), "34");
    assert_eq!(answer.header("ratelimit-user-limit"), "40");
    assert_eq!(answer.header("ratelimit-remaining"), "994");
    assert_eq!(answer.header("ratelimit-limit"), "1000");
    let reset: u64 = answer.header("ratelimit-reset").parse().unwrap();
    assert!(reset > 0 && reset <= 300);

    let stats = post(
        &emu,
        "/v1",
        Some(format!("Bearer {TOKEN}")),
        json!({ "query": query }),
        &[("Buildkite-Include-Query-Stats", "true")],
    )
    .await;
    assert_eq!(
        stats.body["stats"],
        json!({ "requestedComplexity": 503, "actualComplexity": 6 })
    );

    let too_big = gql(&emu, r#"{ organization(slug: "acme") { a: pipelines(first: 500) { edges { node { slug } } } b: pipelines(first: 500) { edges { node { slug } } } } }"#, json!({})).await;
    assert_eq!(too_big.status, 200);
    assert_eq!(
        too_big.body["errors"][0]["message"],
        "Query has complexity of 1005, which exceeds max complexity of 600"
    );

    // Spend the user's window, then 429.
    let mut last = 0;
    for _ in 0..10 {
        let answer = gql(&emu, query, json!({})).await;
        last = answer.status;
        if last == 429 {
            let message = answer.body["errors"][0]["message"].as_str().unwrap();
            assert!(
                message
                    .starts_with("You have exceeded your per-user limit of 40 complexity points. Please try again in "),
                "{message}"
            );
            assert!(answer.header("ratelimit-user-remaining").parse::<i64>().unwrap() <= 0);
            break;
        }
    }
    assert_eq!(last, 429);
}

#[tokio::test]
async fn the_organizations_window_is_shared() {
    let emu = start(|state| {
        state.limits.user_points = 1000;
        state.limits.org_points = 5;
    })
    .await;
    let query = r#"{ organization(slug: "acme") { pipelines(first: 5) { edges { node { slug } } } } }"#;
    assert_eq!(gql(&emu, query, json!({})).await.status, 200);
    let answer = gql(&emu, query, json!({})).await;
    assert_eq!(answer.status, 429);
    assert!(answer.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("Your organization has exceeded the limit of 5 complexity points."));
}

#[tokio::test]
async fn rest_enables_teams_with_its_rate_limit() {
    let emu = start(|state| {
        state.organization.teams_enabled = false;
        state.teams.clear();
        state.invitations.clear();
        state.limits.rest_user_requests = 2;
    })
    .await;
    let enable = |org: &'static str| {
        let emu = &emu;
        async move {
            post(
                emu,
                &format!("/v2/organizations/{org}/teams/enable"),
                Some(format!("Bearer {TOKEN}")),
                Value::Null,
                &[],
            )
            .await
        }
    };
    let answer = enable("acme").await;
    assert_eq!(answer.status, 204);
    assert_eq!(answer.header("ratelimit-scope"), "rest");
    assert_eq!(answer.header("ratelimit-user-scope"), "rest_user");
    assert_eq!(answer.header("ratelimit-user-remaining"), "1");
    let state = emu.shared.state();
    assert!(state.organization.teams_enabled);
    let everyone = state.team_by_slug("everyone").unwrap();
    assert_eq!(everyone.members.len(), 3);
    assert_eq!(everyone.pipelines.len(), 3);
    // Idempotent.
    assert_eq!(enable("acme").await.status, 204);
    assert_eq!(emu.shared.state().teams.len(), 1);
    let limited = enable("acme").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.body["scope"], "rest_user");
    assert_eq!(limited.body["limit"], 2);
    assert_eq!(limited.body["current"], 3);
    assert_eq!(
        limited.header("ratelimit-user-warning"),
        "You have exceeded your API rate limit."
    );
}

#[tokio::test]
async fn rest_enable_is_refused_without_teams_in_the_plan_or_for_another_org() {
    let emu = start(|state| {
        state.organization.teams_enabled = false;
        state.organization.teams_in_plan = false;
    })
    .await;
    let answer = post(
        &emu,
        "/v2/organizations/acme/teams/enable",
        Some(format!("Bearer {TOKEN}")),
        Value::Null,
        &[],
    )
    .await;
    assert_eq!(answer.status, 403);
    assert_eq!(
        answer.body["message"],
        "Your plan doesn't include team permissions. Upgrade your plan to enable teams."
    );
    let answer = post(
        &emu,
        "/v2/organizations/other/teams/enable",
        Some(format!("Bearer {TOKEN}")),
        Value::Null,
        &[],
    )
    .await;
    assert_eq!(answer.status, 404);
}

#[tokio::test]
async fn bearer_only_and_unknown_routes() {
    let emu = start(|_| {}).await;
    let basic = format!("Basic {}", base64_encode(&format!("olivia@acme.example:{TOKEN}")));
    for auth in [Some(basic), Some("Bearer wrong".to_owned()), None] {
        let answer = post(
            &emu,
            "/v1",
            auth,
            json!({ "query": "{ viewer { user { email } } }" }),
            &[],
        )
        .await;
        assert_eq!(answer.status, 401);
        assert!(answer.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Authentication required."));
        let answer = post(&emu, "/v2/organizations/acme/teams/enable", None, Value::Null, &[]).await;
        assert_eq!(answer.status, 401);
        assert!(answer.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Authentication required."));
    }
    let answer = post(
        &emu,
        "/v2/organizations/acme/nothing",
        Some(format!("Bearer {TOKEN}")),
        Value::Null,
        &[],
    )
    .await;
    assert_eq!(answer.status, 404);
    let answer = reqwest::Client::new()
        .get(format!("{}/v1", emu.base_url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 404);
}

fn base64_encode(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn ids_are_the_same_on_every_run_and_survive_a_save() {
    let first = start(|_| {}).await;
    let second = start(|_| {}).await;
    assert_eq!(ids(&first).await, ids(&second).await);
    let org = ids(&first).await;
    let team_id = team(&org, "platform")["id"].clone();
    let (kind, uuid) = parse_node_id(team_id.as_str().unwrap()).unwrap();
    assert_eq!(kind, "Team");
    assert_eq!(node_id("Team", &uuid), team_id.as_str().unwrap());

    // Renamed, saved and read back, the team keeps its id.
    data(
        &first,
        r#"mutation($t: ID!) { teamUpdate(input: { id: $t, name: "Platform Ops", isDefaultTeam: false, defaultMemberRole: MEMBER }) { team { slug } } }"#,
        json!({ "t": team_id }),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bk.yaml");
    first.save(&path).unwrap();
    let reread = BkState::load(&path).unwrap();
    assert_eq!(reread.team_by_slug("platform-ops").unwrap().uuid(), uuid);
    assert_eq!(reread.serial, first.shared.state().serial);
}
