//! The SCIM provider against the SCIM emulator (both profiles) and scim2-server over real
//! HTTP, beyond the contract every provider keeps (`contract`): what reading a large
//! directory costs, what errors say, accounts that appear between plan and apply, a
//! service without PATCH, member batches, 412s, and a person's changed username.

use crate::common;

use std::fmt::Write as _;
use std::path::Path;

use rollcall::apply::{execute, Outcome};
use rollcall::plan::Plan;
use rollcall::sandbox::scim::{serve, RunningEmulator, ScimState, Shared};

const TOKEN: &str = "scim-contract-token-5d1e";

async fn emulator(profile: &str) -> RunningEmulator {
    let state = ScimState::parse(&format!("kind: scim\nprofile: {profile}\ndirectory_id: dir-1\n")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(Shared::new(state, TOKEN.to_owned()), listener).await.unwrap()
}

/// Writes a manifest for one SCIM target at `url` with the token in a file, and resolves it.
fn manifest(dir: &Path, url: &str, token: &str, profile: &str, body: &str) -> rollcall::desired::Desired {
    std::fs::write(dir.join("token"), token).unwrap();
    let targets = format!(
        "targets:\n  idp:\n    kind: scim\n    profile: {profile}\n    url: {url}\n    auth:\n      token: ${{file:token}}\n"
    );
    std::fs::write(dir.join("targets.yaml"), targets).unwrap();
    std::fs::write(dir.join("manifest.yaml"), body).unwrap();
    match rollcall::engine::load(dir) {
        Ok(d) => d,
        Err(e) => panic!("manifest did not load: {e:?}"),
    }
}

/// Plans and applies the manifest in `dir` against its target; returns the plan.
async fn plan_and_apply(desired: &rollcall::desired::Desired) -> Plan {
    let rollcall::engine::Live {
        connected,
        states: live,
        ..
    } = rollcall::engine::read(desired).await.unwrap();
    let plan = rollcall::plan::build(desired, &live).unwrap();
    let plan = match plan.review(&connected.accounts, &live, None) {
        Ok(reviewed) => reviewed,
        Err(refused) => panic!("{:#?}", refused.0.refusals),
    };
    let report = execute(&plan, &connected.providers, 4, |_, _| {}).await;
    let failures: Vec<String> = report
        .outcomes
        .iter()
        .filter(|(_, o)| !o.done())
        .map(|(c, o)| format!("{}: {o:?}", c.address))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    connected.shutdown().await;
    plan.into_plan()
}

async fn plan_only(desired: &rollcall::desired::Desired) -> Plan {
    let rollcall::engine::Live {
        connected,
        states: live,
        ..
    } = rollcall::engine::read(desired).await.unwrap();
    connected.shutdown().await;
    rollcall::plan::build(desired, &live).unwrap()
}

fn lines(plan: &Plan) -> Vec<String> {
    plan.changes
        .iter()
        .map(|c| format!("{} {}", c.action.symbol(), c.address))
        .collect()
}

/// A SCIM state with `users` people and `groups` groups of `per_group` members each.
fn big_state(profile: &str, users: usize, groups: usize, per_group: usize) -> ScimState {
    let mut y = format!(
        "kind: scim\nprofile: {profile}\ndirectory_id: dir-1\nserial: {}\nusers:\n",
        users + groups
    );
    if users == 0 {
        y.push_str("  []\n");
    }
    for n in 0..users {
        let _ = writeln!(
            y,
            "- {{ id: u{n}, userName: user{n:05}, displayName: User {n}, emails: [{{ value: user{n}@example.com, primary: true }}], active: true }}"
        );
    }
    y.push_str(if groups == 0 { "groups: []\n" } else { "groups:\n" });
    for g in 0..groups {
        let members: Vec<String> = (0..per_group)
            .map(|i| format!("{{ value: u{} }}", (g * 7 + i) % users))
            .collect();
        let _ = writeln!(
            y,
            "- {{ id: g{g}, displayName: group{g:03}, members: [{}] }}",
            members.join(", ")
        );
    }
    ScimState::parse(&y).unwrap()
}

async fn start(state: ScimState) -> RunningEmulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(Shared::new(state, TOKEN.to_owned()), listener).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_costs_one_request_per_page_not_per_object() {
    let (users, groups, per_group) = (2500, 40, 60);
    for (profile, served_per_page, asked) in [("rfc", 200, "count=1000"), ("atlassian", 100, "count=100")] {
        let e = start(big_state(profile, users, groups, per_group)).await;
        let dir = tempfile::tempdir().unwrap();
        let body =
            "users:\n  user00001: { name: User 1, email: user1@example.com }\npolicy:\n  prune: { groups: true }\n";
        let desired = manifest(dir.path(), &e.api_url, TOKEN, profile, body);
        let rollcall::engine::Live {
            connected,
            states: live,
            ..
        } = rollcall::engine::read(&desired).await.unwrap();
        // Users in pages of what the service serves (it caps `count`), groups with their
        // members in one page: no request per user, group or membership.
        let expected = users.div_ceil(served_per_page) + 1;
        let requests = e.shared.instruments().requests();
        assert_eq!(requests.len(), expected, "{profile}: {requests:#?}");
        assert_eq!(connected.providers["idp"].request_count(), expected);
        assert!(
            requests.iter().all(|r| r.starts_with("GET ") && r.contains(asked)),
            "{requests:#?}"
        );
        let memberships = live["idp"]
            .keys()
            .filter(|a| matches!(a.id, rollcall::model::ResourceId::Membership { .. }))
            .count();
        assert_eq!(memberships, groups * per_group, "{profile}");
        assert!(live["idp"].len() > 100 * expected, "{} objects", live["idp"].len());
        connected.shutdown().await;
        e.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_token_names_target_request_and_status_but_not_the_token() {
    let e = emulator("rfc").await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = "wrong-token-7f3a9c";
    let desired = manifest(dir.path(), &e.api_url, wrong, "rfc", "users: {}\n");
    let err = rollcall::engine::read(&desired).await.err().expect("401");
    let text = format!("{err:?}");
    assert!(
        text.contains("idp: GET /scim/v2/") && text.contains("HTTP 401"),
        "{text}"
    );
    assert!(
        text.contains("a valid SCIM bearer token"),
        "the hint fits the platform: {text}"
    );
    assert!(!text.contains(wrong) && !text.contains(TOKEN), "{text}");
    e.shutdown().await;
}

/// Someone else's request to the service, between the plan and the apply.
async fn behind_our_back(e: &RunningEmulator, method: reqwest::Method, path: &str, body: serde_json::Value) {
    let response = reqwest::Client::new()
        .request(method, format!("{}{path}", e.api_url))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

fn outcome(report: &rollcall::apply::ApplyReport, address: &str) -> Outcome {
    report
        .outcomes
        .iter()
        .find(|(c, _)| c.address.to_string() == address)
        .map(|(_, o)| o.clone())
        .unwrap_or_else(|| panic!("no change to {address}"))
}

const ANN: &str = "users:\n  ann: { name: Ann Lee, email: ann@example.com }\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_change_made_meanwhile_is_a_412_reported_not_retried() {
    let e = start(big_state("rfc", 0, 0, 0)).await;
    let dir = tempfile::tempdir().unwrap();
    let desired = manifest(dir.path(), &e.api_url, TOKEN, "rfc", ANN);
    plan_and_apply(&desired).await;
    let id = e.shared.state().users[0].id.clone();

    let renamed = ANN.replace("Ann Lee", "Ann Lee-Smith");
    let desired = manifest(dir.path(), &e.api_url, TOKEN, "rfc", &renamed);
    let rollcall::engine::Live {
        connected,
        states: live,
        ..
    } = rollcall::engine::read(&desired).await.unwrap();
    let plan = rollcall::plan::build(&desired, &live).unwrap();
    let patch = serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Annie"}]});
    behind_our_back(&e, reqwest::Method::PATCH, &format!("/Users/{id}"), patch).await;
    let before = e.shared.instruments().requests().len();
    let report = execute(&crate::common::approved(&plan), &connected.providers, 4, |_, _| {}).await;
    match outcome(&report, "idp.user[\"ann\"]") {
        Outcome::Failed(why) => {
            assert!(why.contains("changed on the server since rollcall read it"), "{why}");
            assert!(why.contains("HTTP 412"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    let sent = e.shared.instruments().requests().split_off(before);
    assert_eq!(
        sent.len(),
        2,
        "the write, then a read to see what changed; never the write again: {sent:#?}"
    );
    assert!(
        sent[0].starts_with("PATCH ") && sent[1].starts_with("GET "),
        "{sent:#?}"
    );
    assert_eq!(connected.providers["idp"].retry_count(), 0);
    connected.shutdown().await;
    e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_that_collides_with_the_same_person_adopts_them_and_another_is_reported() {
    let e = start(big_state("rfc", 0, 0, 0)).await;
    let dir = tempfile::tempdir().unwrap();
    let body = format!("{ANN}  bob: {{ name: Bob Stone, email: bob@example.com }}\n");
    let desired = manifest(dir.path(), &e.api_url, TOKEN, "rfc", &body);
    let rollcall::engine::Live {
        connected,
        states: live,
        ..
    } = rollcall::engine::read(&desired).await.unwrap();
    let plan = rollcall::plan::build(&desired, &live).unwrap();
    // Ann's account appears meanwhile (another sync), with her email but an old name;
    // `bob` is taken by someone else entirely.
    let user = |name: &str, external: &str, email: &str, shown: &str| {
        serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
            "externalId": external, "displayName": shown, "emails": [{"value": email, "primary": true}]})
    };
    behind_our_back(
        &e,
        reqwest::Method::POST,
        "/Users",
        user("ann", "ann", "ann@example.com", "A. Lee"),
    )
    .await;
    behind_our_back(
        &e,
        reqwest::Method::POST,
        "/Users",
        user("bob", "robert", "rob@other.example", "Rob"),
    )
    .await;
    let report = execute(&crate::common::approved(&plan), &connected.providers, 4, |_, _| {}).await;
    assert_eq!(outcome(&report, "idp.user[\"ann\"]"), Outcome::Applied);
    match outcome(&report, "idp.user[\"bob\"]") {
        Outcome::Failed(why) => assert!(why.contains("taken by another account (externalId `robert`"), "{why}"),
        other => panic!("{other:?}"),
    }
    connected.shutdown().await;
    // Ann was adopted and brought in line with the manifest.
    let state = e.shared.state();
    let ann = state.users.iter().find(|u| u.user_name == "ann").unwrap();
    assert_eq!(ann.display_name.as_deref(), Some("Ann Lee"));
    // The next plan would rewrite the other account into Bob's: refused, not done.
    let rollcall::engine::Live {
        connected,
        states: live,
        ..
    } = rollcall::engine::read(&desired).await.unwrap();
    let left = rollcall::plan::build(&desired, &live).unwrap();
    let Err(rollcall::plan::Refused(left)) = left.review(&connected.accounts, &live, None) else {
        panic!("the takeover is refused");
    };
    connected.shutdown().await;
    assert_eq!(
        lines(&left),
        ["~ idp.user[\"bob\"]"],
        "only Bob's account still differs"
    );
    let refusals: Vec<&str> = left.refusals.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(
        refusals,
        ["idp.user[\"bob\"] belongs to another account (externalId `robert`, not `bob`); the plan would take it over"]
    );
    e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scim_error_bodies_surface_in_the_message() {
    let e = start(big_state("rfc", 0, 0, 0)).await;
    let dir = tempfile::tempdir().unwrap();
    let desired = manifest(
        dir.path(),
        &e.api_url,
        TOKEN,
        "rfc",
        &format!("{ANN}groups:\n  devs: {{}}\n"),
    );
    plan_and_apply(&desired).await;
    let desired = manifest(
        dir.path(),
        &e.api_url,
        TOKEN,
        "rfc",
        &format!("{ANN}groups:\n  devs: {{ members: [ann] }}\n"),
    );
    let rollcall::engine::Live {
        connected,
        states: live,
        ..
    } = rollcall::engine::read(&desired).await.unwrap();
    let plan = rollcall::plan::build(&desired, &live).unwrap();
    let id = e.shared.state().groups[0].id.clone();
    let response = reqwest::Client::new()
        .delete(format!("{}/Groups/{id}", e.api_url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let report = execute(&crate::common::approved(&plan), &connected.providers, 4, |_, _| {}).await;
    match outcome(&report, "idp.group[\"devs\"].member[\"ann\"]") {
        Outcome::Failed(why) => {
            assert!(why.starts_with("idp: PATCH /scim/v2/Groups/"), "{why}");
            assert!(
                why.contains(&format!("HTTP 404 Not Found: Group {id} not found")),
                "the vendor's detail: {why}"
            );
        }
        other => panic!("{other:?}"),
    }
    connected.shutdown().await;
    e.shutdown().await;
}

/// A service without PATCH is sent the object as read, with only the managed attributes
/// changed: nothing the manifest does not manage is cleared.
#[tokio::test(flavor = "multi_thread")]
async fn without_patch_a_put_keeps_what_the_manifest_does_not_manage() {
    use rollcall::provider::scim::{Profile, Scim, RFC};
    let e = start(big_state("rfc", 0, 0, 0)).await;
    let dir = tempfile::tempdir().unwrap();
    let body = format!("{ANN}groups:\n  devs: {{ members: [ann] }}\n");
    let desired = manifest(dir.path(), &e.api_url, TOKEN, "rfc", &body);
    plan_and_apply(&desired).await;
    let id = e.shared.state().users[0].id.clone();
    let emails = serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "emails", "value": [{"value": "ann@home.example", "type": "home"}]}]});
    behind_our_back(&e, reqwest::Method::PATCH, &format!("/Users/{id}"), emails).await;

    let body = "users:\n  ann: { name: Ann Lee-Smith, email: ann@new.example }\n  bob: { name: Bob Stone, email: bob@example.com }\ngroups:\n  devs: { members: [bob] }\npolicy:\n  prune: { memberships: true }\n";
    let desired = manifest(dir.path(), &e.api_url, TOKEN, "rfc", body);
    let put_only = Profile { patch: false, ..RFC };
    let provider = Scim::new(
        "idp",
        url::Url::parse(&e.api_url).unwrap(),
        Some(rollcall::http::Auth::Bearer(TOKEN.to_owned().into())),
        put_only,
    )
    .unwrap();
    let providers: std::collections::BTreeMap<String, Box<dyn rollcall::provider::Provider>> = [(
        "idp".to_owned(),
        Box::new(provider) as Box<dyn rollcall::provider::Provider>,
    )]
    .into();
    let before = e.shared.instruments().requests().len();
    let live = [("idp".to_owned(), providers["idp"].read().await.unwrap())].into();
    let plan = rollcall::plan::build(&desired, &live).unwrap();
    let report = execute(&crate::common::approved(&plan), &providers, 4, |_, _| {}).await;
    assert!(report.succeeded(), "{:#?}", report.outcomes);
    let requests = e.shared.instruments().requests().split_off(before);
    assert!(!requests.iter().any(|r| r.starts_with("PATCH ")), "{requests:#?}");
    let state = e.shared.state();
    let ann = state.users.iter().find(|u| u.user_name == "ann").unwrap();
    let values: Vec<&str> = ann.emails.iter().map(|m| m.value.as_str()).collect();
    assert_eq!(
        values,
        ["ann@new.example", "ann@home.example"],
        "the other address is kept"
    );
    assert_eq!(ann.display_name.as_deref(), Some("Ann Lee-Smith"));
    assert!(plan_only(&desired).await.is_empty());
    e.shutdown().await;
}

/// Plans and applies `desired` through a provider speaking `profile` to the emulator `e`,
/// whatever profile the emulator has; the requests the apply sent.
async fn apply_as(
    e: &RunningEmulator,
    desired: &rollcall::desired::Desired,
    profile: rollcall::provider::scim::Profile,
) -> Vec<String> {
    let auth = Some(rollcall::http::Auth::Bearer(TOKEN.to_owned().into()));
    let url = url::Url::parse(&e.api_url).unwrap();
    let provider = rollcall::provider::scim::Scim::new("idp", url, auth, profile).unwrap();
    let providers: std::collections::BTreeMap<String, Box<dyn rollcall::provider::Provider>> = [(
        "idp".to_owned(),
        Box::new(provider) as Box<dyn rollcall::provider::Provider>,
    )]
    .into();
    let live = [("idp".to_owned(), providers["idp"].read().await.unwrap())].into();
    let plan = rollcall::plan::build(desired, &live).unwrap();
    let before = e.shared.instruments().requests().len();
    let report = execute(&crate::common::approved(&plan), &providers, 4, |_, _| {}).await;
    assert!(report.succeeded(), "{:#?}", report.outcomes);
    e.shared.instruments().requests().split_off(before)
}

/// Members beyond the profile's limit per PATCH go in more requests, each its own step:
/// a failed request would fail only the members it carried.
#[tokio::test(flavor = "multi_thread")]
async fn member_batches_stop_at_the_profiles_limit() {
    use rollcall::provider::scim::{Profile, RFC};
    let e = start(big_state("rfc", 25, 0, 0)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::from("users:\n");
    let names: Vec<String> = (0..25).map(|n| format!("user{n:05}")).collect();
    for (n, name) in names.iter().enumerate() {
        let _ = writeln!(body, "  {name}: {{ name: User {n}, email: user{n}@example.com }}");
    }
    let _ = writeln!(body, "groups:\n  everyone: {{ members: [{}] }}", names.join(", "));
    let desired = manifest(dir.path(), &e.api_url, TOKEN, "rfc", &body);
    let ten = Profile {
        members_per_patch: 10,
        ..RFC
    };
    let sent = apply_as(&e, &desired, ten).await;
    // The group is created with the first 10 in its POST; the other 15 take two PATCHes.
    let patches = sent.iter().filter(|r| r.starts_with("PATCH /scim/v2/Groups/")).count();
    assert_eq!(patches, 2, "25 members, 10 per request: {sent:#?}");
    assert!(plan_only(&desired).await.is_empty());
    e.shutdown().await;
}

/// The version moved, but not in anything the change is about (a service may version a
/// user with what it does not let clients set, such as its groups): the write is sent
/// once more with the new version instead of failing.
#[tokio::test(flavor = "multi_thread")]
async fn a_412_from_an_unrelated_change_is_sent_again_with_the_new_version() {
    let e = start(big_state("rfc", 0, 0, 0)).await;
    let dir = tempfile::tempdir().unwrap();
    let desired = manifest(dir.path(), &e.api_url, TOKEN, "rfc", ANN);
    plan_and_apply(&desired).await;
    let id = e.shared.state().users[0].id.clone();
    let renamed = ANN.replace("ann@example.com", "ann@new.example");
    let desired = manifest(dir.path(), &e.api_url, TOKEN, "rfc", &renamed);
    let rollcall::engine::Live {
        connected,
        states: live,
        ..
    } = rollcall::engine::read(&desired).await.unwrap();
    let plan = rollcall::plan::build(&desired, &live).unwrap();
    let patch = serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "name.givenName", "value": "Annie"}]});
    behind_our_back(&e, reqwest::Method::PATCH, &format!("/Users/{id}"), patch).await;
    let before = e.shared.instruments().requests().len();
    let report = execute(&crate::common::approved(&plan), &connected.providers, 4, |_, _| {}).await;
    assert!(report.succeeded(), "{:#?}", report.outcomes);
    let sent = e.shared.instruments().requests().split_off(before);
    assert_eq!(sent.len(), 3, "412, read back, sent again: {sent:#?}");
    let state = e.shared.state();
    let ann = &state.users[0];
    assert_eq!(ann.emails[0].value, "ann@new.example");
    assert_eq!(
        ann.name.as_ref().and_then(|n| n.given_name.as_deref()),
        Some("Annie"),
        "their change is kept"
    );
    connected.shutdown().await;
    e.shutdown().await;
}

/// RFC 7643 lets a service hold two groups of one name; rollcall matches groups by name,
/// so it says so rather than pick one.
#[tokio::test(flavor = "multi_thread")]
async fn two_groups_of_one_name_are_reported_when_read() {
    let e = start(big_state("rfc", 0, 0, 0)).await;
    let group = serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "devs"});
    behind_our_back(&e, reqwest::Method::POST, "/Groups", group.clone()).await;
    behind_our_back(&e, reqwest::Method::POST, "/Groups", group).await;
    let dir = tempfile::tempdir().unwrap();
    let desired = manifest(dir.path(), &e.api_url, TOKEN, "rfc", "groups:\n  devs: {}\n");
    let text = format!("{:?}", rollcall::engine::read(&desired).await.err().expect("refused"));
    assert!(
        text.contains("idp: idp.group[\\\"devs\\\"]: the service has two groups of this name"),
        "{text}"
    );
    e.shutdown().await;
}

/// A person's username changes (`ids`): the account with their externalId is renamed,
/// keeping its id and its groups, instead of a second account being created.
async fn username_change(url: &str, token: &str, profile: &str) {
    let dir = tempfile::tempdir().unwrap();
    let body = format!("{ANN}groups:\n  devs: {{ members: [ann] }}\n");
    let desired = manifest(dir.path(), url, token, profile, &body);
    plan_and_apply(&desired).await;
    let renamed = body.replace("ann@example.com }", "ann@example.com, ids: { idp: ann.lee } }");
    let desired = manifest(dir.path(), url, token, profile, &renamed);
    let plan = plan_and_apply(&desired).await;
    assert_eq!(lines(&plan), ["~ idp.user[\"ann.lee\"]"], "{:#?}", plan.changes);
    assert_eq!(plan.changes[0].renamed_from.as_deref(), Some("ann"));
    let after = plan_only(&desired).await;
    assert!(after.is_empty(), "{:#?}", lines(&after));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_username_renames_the_account_found_by_external_id() {
    for profile in ["rfc", "atlassian"] {
        let e = emulator(profile).await;
        username_change(&e.api_url, TOKEN, profile).await;
        let state = e.shared.state();
        assert_eq!(state.users.len(), 1, "{profile}: one account, renamed");
        assert_eq!(state.users[0].user_name, "ann.lee");
        e.shutdown().await;
    }
    let tenant = tokio::task::spawn_blocking(common::scim2_server_tenant).await.unwrap();
    username_change(&tenant.base_url, &tenant.token, "rfc").await;
}

/// Creating a user or a group is not safe to send twice (a second group of one name, or a
/// 409 that hides what happened): when the connection drops after sending, the provider
/// looks the object up by `userName` or `displayName` instead. Dropped after the service
/// made it, the lookup finds it and the change is done with one POST; dropped before, the
/// lookup finds nothing, and only then is the POST sent again.
#[tokio::test(flavor = "multi_thread")]
async fn a_create_whose_answer_was_lost_is_confirmed_by_looking_it_up_not_sent_blind() {
    use rollcall::sandbox::faults::{Fault, FaultConfig};

    let first_request_gets = |fault: Fault| {
        (0..10_000)
            .map(|seed| FaultConfig {
                seed,
                dropped: 0.5,
                ..FaultConfig::default()
            })
            .find(|f| f.fault_for(0) == Some(fault) && (1..4).all(|n| f.fault_for(n).is_none()))
            .unwrap()
    };
    for (body, post, lookup) in [
        (
            ANN,
            "POST /scim/v2/Users",
            "GET /scim/v2/Users?startIndex=1&count=1000&filter=userName",
        ),
        (
            "groups:\n  devs: {}\n",
            "POST /scim/v2/Groups",
            "GET /scim/v2/Groups?startIndex=1&count=1000&filter=displayName",
        ),
    ] {
        for (fault, sends) in [(Fault::DroppedAfter, 1), (Fault::DroppedBefore, 2)] {
            let e = start(big_state("rfc", 0, 0, 0)).await;
            let dir = tempfile::tempdir().unwrap();
            let desired = manifest(dir.path(), &e.api_url, TOKEN, "rfc", body);
            let rollcall::engine::Live {
                connected,
                states: live,
                ..
            } = rollcall::engine::read(&desired).await.unwrap();
            let plan = rollcall::plan::build(&desired, &live).unwrap();
            assert_eq!(plan.changes.len(), 1, "{:?}", plan.changes);
            e.shared.instruments().set_faults(first_request_gets(fault)).unwrap();
            let before = e.shared.instruments().requests().len();
            let report = execute(&crate::common::approved(&plan), &connected.providers, 1, |_, _| {}).await;
            assert_eq!(
                report.outcomes[0].1,
                Outcome::Applied,
                "{fault:?}: {:?}",
                report.outcomes
            );
            let sent = e.shared.instruments().requests().split_off(before);
            assert_eq!(sent.len(), sends + 1, "{fault:?}: {sent:#?}");
            assert_eq!(sent[0], post, "{sent:#?}");
            assert!(sent[1].starts_with(lookup), "{sent:#?}");
            assert_eq!(sent.iter().filter(|r| r.as_str() == post).count(), sends, "{sent:#?}");
            assert_eq!(connected.providers["idp"].retry_count(), sends - 1, "{fault:?}");
            let state = e.shared.state();
            assert_eq!(state.users.len() + state.groups.len(), 1, "exactly one object made");
            connected.shutdown().await;
            e.shutdown().await;
        }
    }
}

/// The fewest writes a SCIM plan needs, derived from its changes. `per_request` is the
/// profile's most member changes in one request; `hosts_members` says whether a group's
/// POST carries its first members (the rename's PATCH always carries its group's).
fn minimum_writes(plan: &Plan, per_request: usize, hosts_members: bool) -> usize {
    use rollcall::model::ResourceId;
    use rollcall::plan::Action;
    let is = |c: &rollcall::plan::Change, group: &str| matches!(&c.address.id, ResourceId::Group { name } if name.eq_ignore_ascii_case(group));
    let deleted = |group: &str| plan.changes.iter().any(|c| is(c, group) && c.action == Action::Delete);
    let hosted = |group: &str| {
        plan.changes
            .iter()
            .any(|c| is(c, group) && ((c.action == Action::Create && hosts_members) || c.renames().is_some()))
    };
    let mut writes = 0;
    let mut members: std::collections::BTreeMap<String, usize> = Default::default();
    for c in &plan.changes {
        match &c.address.id {
            // A user's POST, its one PATCH (attributes, rename and deactivation together)
            // or its DELETE.
            ResourceId::User { .. } => writes += 1,
            // A group's POST, the PATCH that renames it, or its DELETE.
            ResourceId::Group { .. } => writes += 1,
            // A deleted group's members go with it: nothing sent.
            ResourceId::Membership { group, .. } if deleted(group) => {}
            ResourceId::Membership { group, .. } => *members.entry(group.to_lowercase().to_string()).or_default() += 1,
            other => panic!("no such SCIM change: {other:?}"),
        }
    }
    for (group, n) in members {
        // The group's member changes in requests of `per_request`, the first of them in
        // the request that creates or renames the group where it carries them.
        let carried = if hosted(&group) { n.min(per_request) } else { 0 };
        writes += (n - carried).div_ceil(per_request);
    }
    writes
}

/// The fewest reads: `/Users` and `/Groups` in pages of what the service serves.
fn minimum_reads(users: usize, groups: usize, per_page: usize) -> usize {
    users.div_ceil(per_page).max(1) + groups.div_ceil(per_page).max(1)
}

/// From empty, a change of every kind, and deletes: each plan's read and apply cost
/// exactly the minimum derived from the plan, on the emulator and on scim2-server.
async fn fewest_requests(url: &str, token: &str, per_page: usize) {
    let dir = tempfile::tempdir().unwrap();
    let people = |n: usize| {
        let mut y = String::from("users:\n");
        for i in 0..n {
            let _ = writeln!(y, "  u{i}: {{ name: User {i}, email: u{i}@example.com }}");
        }
        y
    };
    let policy = "policy:\n  prune: { memberships: true }\n";
    let created = format!(
        "{}groups:\n  g0: {{ members: [u0, u1, u2] }}\n  g1: {{ members: [u3, u4] }}\n  g2: {{ members: [u4, u6] }}\n  g3: {{ members: [u6, u7] }}\n  g4: {{ members: [u6, u8] }}\n{policy}",
        people(20)
    );
    // u1's name changes, u2 is offboarded (and so leaves g0), the new u20 joins g1 as u3
    // leaves it, and g2 becomes guild2 as u4 leaves and u5 and the new u21 join.
    let changed = format!(
        "{}groups:\n  g0: {{ members: [u0, u1, u2] }}\n  g1: {{ members: [u4, u20] }}\n  guild2: {{ renamed_from: g2, members: [u5, u6, u21] }}\n  g3: {{ members: [u6, u7] }}\n  g4: {{ members: [u6, u8] }}\n{policy}",
        people(22)
    )
    .replace("name: User 1,", "name: Renamed One,")
    .replace("u2@example.com }", "u2@example.com, active: false }");
    // u7 (a member of g3) and g4 (with its members) are left out, with pruning on.
    let deleted = changed
        .replace("  g4: { members: [u6, u8] }\n", "")
        .replace("  u7: { name: User 7, email: u7@example.com }\n", "")
        .replace("g3: { members: [u6, u7] }", "g3: { members: [u6] }")
        .replace(
            "prune: { memberships: true }",
            "prune: { memberships: true, users: true, groups: true }",
        );
    // Users, groups and memberships; then 4 user changes, 3 member changes of g0 and g1,
    // the rename and its 3; then a user, a group, and 3 memberships.
    for (body, changes) in [(&created, 20 + 5 + 11), (&changed, 11), (&deleted, 5)] {
        let desired = manifest(dir.path(), url, token, "rfc", body);
        let rollcall::engine::Live {
            connected,
            states: live,
            ..
        } = rollcall::engine::read(&desired).await.unwrap();
        let provider = &connected.providers["idp"];
        let reads = provider.request_count();
        let count = |kind: fn(&rollcall::model::ResourceId) -> bool| live["idp"].keys().filter(|a| kind(&a.id)).count();
        let users = count(|id| matches!(id, rollcall::model::ResourceId::User { .. }));
        let groups = count(|id| matches!(id, rollcall::model::ResourceId::Group { .. }));
        assert_eq!(reads, minimum_reads(users, groups, per_page), "{body}");
        let plan = rollcall::plan::build(&desired, &live).unwrap();
        let plan = match plan.review(&connected.accounts, &live, None) {
            Ok(reviewed) => reviewed,
            Err(refused) => panic!("{:#?}", refused.0.refusals),
        };
        assert_eq!(plan.changes.len(), changes, "{:#?}", lines(&plan));
        let minimum = minimum_writes(&plan, rollcall::provider::scim::RFC.members_per_patch, true);
        let report = execute(&plan, &connected.providers, 4, |_, _| {}).await;
        assert!(report.succeeded(), "{:#?}", report.outcomes);
        let writes = provider.request_count() - reads;
        eprintln!("{url}: {} changes, {reads} reads, {writes} writes", plan.changes.len());
        assert_eq!(writes, minimum, "{:#?}", lines(&plan));
        connected.shutdown().await;
    }
    let settled = plan_only(&manifest(dir.path(), url, token, "rfc", &deleted)).await;
    assert!(settled.is_empty(), "{:#?}", lines(&settled));
}

#[tokio::test(flavor = "multi_thread")]
async fn each_plan_costs_the_minimum_derived_from_it() {
    // The emulator serves 200 a page under `rfc`, scim2-server 1,000.
    let e = emulator("rfc").await;
    fewest_requests(&e.api_url, TOKEN, 200).await;
    e.shutdown().await;
    let tenant = tokio::task::spawn_blocking(common::scim2_server_tenant).await.unwrap();
    fewest_requests(&tenant.base_url, &tenant.token, 1000).await;
}

/// A group's rename and its member changes are one PATCH: when it fails, exactly those
/// changes fail, and another group's changes still apply.
#[tokio::test(flavor = "multi_thread")]
async fn a_rename_and_its_member_changes_are_one_patch_failing_together() {
    let e = emulator("rfc").await;
    let dir = tempfile::tempdir().unwrap();
    let users = "users:\n  ann: { name: Ann Lee, email: ann@example.com }\n  bob: { name: Bob Stone, email: bob@example.com }\n  cat: { name: Cat Wu, email: cat@example.com }\n";
    let body = format!("{users}groups:\n  devs: {{ members: [ann, bob] }}\n  ops: {{ members: [ann] }}\npolicy:\n  prune: {{ memberships: true }}\n");
    plan_and_apply(&manifest(dir.path(), &e.api_url, TOKEN, "rfc", &body)).await;
    let body = format!("{users}groups:\n  eng: {{ renamed_from: devs, members: [ann, cat] }}\n  ops: {{ members: [ann, cat] }}\npolicy:\n  prune: {{ memberships: true }}\n");
    let desired = manifest(dir.path(), &e.api_url, TOKEN, "rfc", &body);
    let rollcall::engine::Live {
        connected,
        states: live,
        ..
    } = rollcall::engine::read(&desired).await.unwrap();
    let plan = rollcall::plan::build(&desired, &live).unwrap();
    assert_eq!(
        lines(&plan),
        [
            "~ idp.group[\"eng\"]",
            "- idp.group[\"eng\"].member[\"bob\"]",
            "+ idp.group[\"eng\"].member[\"cat\"]",
            "+ idp.group[\"ops\"].member[\"cat\"]",
        ]
    );
    // Someone else deletes the group meanwhile: its one PATCH fails.
    let devs = e
        .shared
        .state()
        .groups
        .iter()
        .find(|g| g.display_name == "devs")
        .unwrap()
        .id
        .clone();
    let gone = reqwest::Client::new()
        .delete(format!("{}/Groups/{devs}", e.api_url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let before = e.shared.instruments().requests().len();
    let report = execute(&crate::common::approved(&plan), &connected.providers, 4, |_, _| {}).await;
    let sent = e.shared.instruments().requests().split_off(before);
    let patches: Vec<&String> = sent.iter().filter(|r| r.starts_with("PATCH ")).collect();
    assert_eq!(patches.len(), 2, "one per group: {sent:#?}");
    for address in [
        "idp.group[\"eng\"]",
        "idp.group[\"eng\"].member[\"bob\"]",
        "idp.group[\"eng\"].member[\"cat\"]",
    ] {
        assert!(
            matches!(outcome(&report, address), Outcome::Failed(why) if why.contains("HTTP 404")),
            "{address}: {:?}",
            outcome(&report, address)
        );
    }
    assert_eq!(outcome(&report, "idp.group[\"ops\"].member[\"cat\"]"), Outcome::Applied);
    connected.shutdown().await;
    e.shutdown().await;
}

/// A service may ignore the members in a group's POST (Atlassian's schema marks them
/// read-only): the provider adds whatever the answer leaves out by PATCH, never assuming
/// the members rode along.
#[tokio::test]
async fn members_a_service_ignores_in_the_post_are_added_by_a_patch() {
    use rollcall::provider::scim::RFC;
    let e = start(big_state("atlassian", 3, 0, 0)).await;
    let dir = tempfile::tempdir().unwrap();
    let body = "users:\n  user00000: { name: User 0, email: user0@example.com }\n  user00001: { name: User 1, email: user1@example.com }\n  user00002: { name: User 2, email: user2@example.com }\ngroups:\n  crew: { members: [user00000, user00001, user00002] }\n";
    let desired = manifest(dir.path(), &e.api_url, TOKEN, "atlassian", body);
    // Spoken to as a service that keeps members in a POST, which this one does not.
    let sent = apply_as(&e, &desired, RFC).await;
    let to_groups = |method: &str| {
        sent.iter()
            .filter(|r| r.starts_with(method) && r.contains("/Groups"))
            .count()
    };
    assert_eq!((to_groups("POST "), to_groups("PATCH ")), (1, 1), "{sent:#?}");
    assert!(plan_only(&desired).await.is_empty());
    e.shutdown().await;
}
