//! The Bitbucket Data Center provider against the emulator over real HTTP: how many
//! requests a plan costs, what errors say, and how an apply with a failing change ends.

use std::collections::BTreeSet;
use std::path::Path;

use rollcall::apply::{execute, Outcome};
use rollcall::sandbox::bitbucket_dc::{serve, RunningEmulator, Shared};
use rollcall::sandbox::state::{DcProject, DcRepo, DcState, DcUser};

const TOKEN: &str = "s3cr3t-token-value-for-tests";

async fn start(state: DcState) -> RunningEmulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(Shared::new(state, TOKEN.to_owned()), listener).await.unwrap()
}

/// Writes a manifest pointing at `url` with the token in a file, and resolves it.
fn manifest(dir: &Path, url: &str, token: &str, body: &str) -> rollcall::desired::Desired {
    std::fs::write(dir.join("token"), token).unwrap();
    let targets = format!(
        "targets:\n  bb:\n    kind: bitbucket-datacenter\n    url: {url}\n    auth:\n      token: ${{file:token}}\n      account: admin\n"
    );
    std::fs::write(dir.join("targets.yaml"), targets).unwrap();
    std::fs::write(dir.join("manifest.yaml"), body).unwrap();
    match rollcall::engine::load(dir) {
        Ok(d) => d,
        Err(e) => panic!("manifest did not load: {e:?}"),
    }
}

fn user(n: usize) -> (String, DcUser) {
    (
        format!("user{n:05}"),
        DcUser {
            display_name: format!("User {n}"),
            email: format!("user{n}@example.com"),
            active: true,
        },
    )
}

/// A large organisation: many users and memberships, a few projects and repositories.
fn big_state(users: usize, groups: usize, per_group: usize) -> DcState {
    let mut s = DcState {
        operator: "admin".into(),
        ..DcState::default()
    };
    s.users.insert(
        "admin".into(),
        DcUser {
            display_name: "Admin".into(),
            email: "admin@example.com".into(),
            active: true,
        },
    );
    s.global.users.insert("admin".into(), "SYS_ADMIN".into());
    s.users.extend((0..users).map(user));
    for g in 0..groups {
        let members: BTreeSet<String> = (0..per_group).map(|i| user((g * 7 + i) % users).0).collect();
        s.groups.insert(format!("group{g:03}"), members);
        s.global.groups.insert(format!("group{g:03}"), "LICENSED_USER".into());
    }
    for p in ["ALPHA", "BETA", "GAMMA"] {
        let mut project = DcProject {
            name: p.into(),
            ..DcProject::default()
        };
        project.grants.groups.insert("group000".into(), "PROJECT_WRITE".into());
        for r in ["api", "web"] {
            let mut repo = DcRepo::default();
            repo.grants.users.insert(user(1).0, "REPO_ADMIN".into());
            project.repos.insert(r.into(), repo);
        }
        s.projects.insert(p.into(), project);
    }
    s
}

#[tokio::test]
async fn a_plan_costs_one_request_per_page_not_per_object() {
    let (users, groups, per_group) = (2500, 40, 120);
    let emulator = start(big_state(users, groups, per_group)).await;
    let dir = tempfile::tempdir().unwrap();
    let body = "users:\n  user00001: { name: User 1, email: user1@example.com }\n\
                groups:\n  group000: { members: [user00001] }\n\
                access:\n  bb:\n    projects:\n      ALPHA: { repos: { api: {}, web: {} } }\n      BETA: { repos: { api: {} } }\n      GAMMA: {}\n";
    let desired = manifest(dir.path(), &emulator.base_url, TOKEN, body);
    let rollcall::engine::Live {
        connected,
        states: live,
        ..
    } = rollcall::engine::read(&desired).await.unwrap();
    let live = &live["bb"];

    // Pages at 1,000 per request: users 3 (2,501 accounts), groups 1, global grants
    // 1 + 1, the members of the one declared group 1, and per named project and
    // repository 2 grant lists, and the groups of the token's own account 1 (for the
    // safety rules). The 39 undeclared groups' members are not read, nor the projects'
    // default flags: nothing in the plan can need them.
    let projects = 3;
    let repos = 3;
    let expected = 3 + 1 + 2 + 1 + projects * 2 + repos * 2 + 1;
    let requests = emulator.shared.instruments().requests();
    assert_eq!(requests.len(), expected, "requests: {requests:#?}");
    assert_eq!(connected.providers["bb"].request_count(), expected);
    assert!(requests.iter().all(|r| r.starts_with("GET ")), "a plan only reads");
    assert!(
        requests
            .iter()
            .filter(|r| r.contains("limit="))
            .all(|r| r.contains("limit=1000")),
        "largest page size"
    );

    let objects = live.len();
    assert!(objects > users + groups, "the live state was read: {objects}");
    assert!(expected * 50 < objects, "{expected} requests for {objects} objects");
    assert_eq!(
        live.keys()
            .filter(|a| matches!(a.id, rollcall::model::ResourceId::Membership { .. }))
            .count(),
        per_group,
        "the declared group's members"
    );
    connected.shutdown().await;

    // Pruning groups reads every group's members, so the plan can say who loses what; an
    // offboarded person costs one more list, of their groups.
    let body = format!("{body}policy:\n  prune: {{ groups: true }}\n");
    let body = body.replace(
        "users:\n",
        "users:\n  user00002: { name: User 2, email: user2@example.com, active: false }\n",
    );
    let desired = manifest(dir.path(), &emulator.base_url, TOKEN, &body);
    let before = emulator.shared.instruments().request_count();
    let rollcall::engine::Live { connected, .. } = rollcall::engine::read(&desired).await.unwrap();
    assert_eq!(
        emulator.shared.instruments().request_count() - before,
        expected - 1 + groups + 1
    );
    connected.shutdown().await;

    // A project's default is two flags, read where the plan compares it: on a project
    // that declares `all_users` (GAMMA), and on every named project when permissions
    // are pruned.
    let declared = body.replace("GAMMA: {}", "GAMMA: { all_users: read }");
    for (body, flags) in [
        (declared.clone(), 2),
        (
            declared.replace("groups: true", "groups: true, permissions: true"),
            2 * projects,
        ),
    ] {
        let desired = manifest(dir.path(), &emulator.base_url, TOKEN, &body);
        let before = emulator.shared.instruments().requests().len();
        let rollcall::engine::Live { connected, .. } = rollcall::engine::read(&desired).await.unwrap();
        let sent = emulator.shared.instruments().requests()[before..].to_vec();
        assert_eq!(sent.len(), expected - 1 + groups + 1 + flags, "{sent:#?}");
        assert_eq!(sent.iter().filter(|r| r.contains("/all")).count(), flags, "{sent:#?}");
        connected.shutdown().await;
    }
    emulator.shutdown().await;
}

/// A read of everything (what `rollcall import` asks for) lists the projects and each
/// project's repositories from the target, and reads every group's members, whatever
/// the manifest names.
#[tokio::test]
async fn a_read_of_everything_lists_every_project_repository_and_member() {
    let (users, groups, per_group) = (30, 5, 10);
    let mut state = big_state(users, groups, per_group);
    let mut delta = DcProject {
        name: "Delta".into(),
        ..DcProject::default()
    };
    delta.all_users.insert("PROJECT_READ".into());
    delta.repos.insert("docs".into(), DcRepo::default());
    state.projects.insert("DELTA".into(), delta);
    let emulator = start(state).await;
    let dir = tempfile::tempdir().unwrap();
    let mut targets = manifest(dir.path(), &emulator.base_url, TOKEN, "users: {}\n").targets;
    for config in targets.values_mut() {
        config.scope = rollcall::desired::ReadScope::everything();
    }
    let rollcall::engine::Live {
        connected,
        states: live,
        ..
    } = rollcall::engine::read_targets(&targets, rollcall::engine::Tuning::default())
        .await
        .unwrap();
    let live = &live["bb"];
    let count = |f: &dyn Fn(&rollcall::model::ResourceId) -> bool| live.keys().filter(|a| f(&a.id)).count();
    use rollcall::model::ResourceId as Id;
    assert_eq!(count(&|id| matches!(id, Id::Membership { .. })), groups * per_group);
    assert_eq!(
        count(&|id| matches!(id, Id::Grant { scope, .. } if scope.kinds() == ["project"])),
        3,
        "group000 on each"
    );
    assert_eq!(
        count(&|id| matches!(id, Id::Grant { scope, .. } if scope.kinds() == ["project", "repo"])),
        6,
        "user00001 on each"
    );
    assert_eq!(count(&|id| matches!(id, Id::Default { .. })), 1, "DELTA's default");

    // Users, groups and global grants (2) as always; the project list, each of the 4
    // projects' repositories, 4 lists per project (2 grant lists, 2 default flags) and 2
    // per repository (7); every group's members; and the groups of the token's account.
    let expected = 1 + 1 + 2 + 1 + 4 + 4 * 4 + 7 * 2 + groups + 1;
    let requests = emulator.shared.instruments().requests();
    assert_eq!(requests.len(), expected, "requests: {requests:#?}");
    assert!(requests
        .iter()
        .any(|r| r.starts_with("GET /rest/api/latest/projects/DELTA/repos?")));
    connected.shutdown().await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_wrong_token_names_target_request_and_status_but_not_the_token() {
    let emulator = start(big_state(3, 1, 1)).await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = "wrong-token-7f3a9c";
    let desired = manifest(dir.path(), &emulator.base_url, wrong, "users: {}\n");
    let err = rollcall::engine::read(&desired)
        .await
        .err()
        .expect("a wrong token fails");
    let text = format!("{err:?}");
    assert!(text.contains("bb:"), "{text}");
    assert!(text.contains("GET /rest/api/latest/"), "{text}");
    assert!(text.contains("HTTP 401"), "{text}");
    assert!(!text.contains(wrong) && !text.contains(TOKEN), "{text}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_missing_project_is_a_404_that_names_it() {
    let emulator = start(big_state(3, 1, 1)).await;
    let dir = tempfile::tempdir().unwrap();
    let desired = manifest(
        dir.path(),
        &emulator.base_url,
        TOKEN,
        "access:\n  bb:\n    projects:\n      NOPE: {}\n",
    );
    let text = format!("{:?}", rollcall::engine::read(&desired).await.err().expect("404"));
    assert!(text.contains("/projects/NOPE/permissions"), "{text}");
    assert!(text.contains("HTTP 404"), "{text}");
    assert!(text.contains("NOPE"), "{text}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_server_is_named() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let desired = manifest(dir.path(), &format!("http://127.0.0.1:{port}"), TOKEN, "users: {}\n");
    let text = format!(
        "{:?}",
        rollcall::engine::read(&desired).await.err().expect("unreachable")
    );
    assert!(text.contains("bb:") && text.contains("cannot connect"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
}

/// Someone changes the instance by hand between plan and apply.
async fn change_behind_our_back(emulator: &RunningEmulator, method: reqwest::Method, path: &str) {
    let url = format!("{}/rest/api/latest{path}", emulator.base_url);
    let response = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

#[tokio::test]
async fn a_failed_change_skips_its_dependents_and_the_rest_is_applied() {
    // The group is created by hand after the plan was made, so creating it fails with
    // 409 and what needs it is skipped; everything else is applied.
    let emulator = start(big_state(3, 0, 0)).await;
    let dir = tempfile::tempdir().unwrap();
    let body = "users:\n  user00000: { name: User 0, email: user0@example.com }\n  newbie: { name: New Person, email: new@example.com }\n\
                groups:\n  mobile: { members: [user00000, newbie] }\n  web: { members: [newbie] }\n";
    let desired = manifest(dir.path(), &emulator.base_url, TOKEN, body);
    let rollcall::engine::Live {
        connected,
        states: live,
        ..
    } = rollcall::engine::read(&desired).await.unwrap();
    let plan = rollcall::plan::build(&desired, &live).unwrap();
    change_behind_our_back(&emulator, reqwest::Method::POST, "/admin/groups?name=mobile").await;
    let report = execute(&crate::common::approved(&plan), &connected.providers, 4, |_, _| {}).await;
    let outcome = |addr: &str| {
        report
            .outcomes
            .iter()
            .find(|(c, _)| c.address.to_string() == addr)
            .map(|(_, o)| o.clone())
            .unwrap()
    };
    assert!(matches!(outcome("bb.group[\"mobile\"]"), Outcome::Failed(e) if e.contains("HTTP 409")));
    assert!(
        matches!(outcome("bb.group[\"mobile\"].member[\"newbie\"]"), Outcome::Skipped { because } if because.to_string() == "bb.group[\"mobile\"]")
    );
    assert_eq!(outcome("bb.user[\"newbie\"]"), Outcome::Applied);
    assert_eq!(outcome("bb.group[\"web\"].member[\"newbie\"]"), Outcome::Applied);
    assert_eq!((report.failed(), report.skipped()), (1, 2));
    // Nothing was done for the skipped changes.
    assert_eq!(emulator.shared.state().groups["mobile"], BTreeSet::new());
    connected.shutdown().await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn memberships_of_one_group_go_in_one_add_users_call() {
    let emulator = start(big_state(30, 0, 0)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::from("users:\n");
    let names: Vec<String> = (0..30).map(|n| user(n).0).collect();
    for (n, name) in names.iter().enumerate() {
        body.push_str(&format!("  {name}: {{ name: User {n}, email: user{n}@example.com }}\n"));
    }
    body.push_str(&format!("groups:\n  everyone: {{ members: [{}] }}\n", names.join(", ")));
    body.push_str("access:\n  bb:\n    global:\n      users:\n");
    for name in &names {
        body.push_str(&format!("        {name}: read\n"));
    }
    let desired = manifest(dir.path(), &emulator.base_url, TOKEN, &body);
    let rollcall::engine::Live {
        connected,
        states: live,
        ..
    } = rollcall::engine::read(&desired).await.unwrap();
    let plan = rollcall::plan::build(&desired, &live).unwrap();
    assert_eq!(plan.changes.len(), 1 + 30 + 30);
    let before = emulator.shared.instruments().requests().len();
    let report = execute(&crate::common::approved(&plan), &connected.providers, 4, |_, _| {}).await;
    assert!(report.succeeded());
    let writes: Vec<String> = emulator.shared.instruments().requests()[before..].to_vec();
    // One group create, one add-users for 30 members, one global grant for 30 users.
    assert_eq!(writes.len(), 3, "{writes:#?}");
    assert!(writes
        .iter()
        .any(|r| r.starts_with("POST /rest/api/latest/admin/groups/add-users")));
    let after = emulator.shared.state();
    assert_eq!(after.groups["everyone"].len(), 30);
    assert_eq!(after.global.users.len(), 31);
    let rollcall::engine::Live {
        connected: connected2,
        states: live,
        ..
    } = rollcall::engine::read(&desired).await.unwrap();
    assert!(
        rollcall::plan::build(&desired, &live).unwrap().is_empty(),
        "a plan right after apply is empty"
    );
    connected.shutdown().await;
    connected2.shutdown().await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn names_match_live_objects_whatever_their_case() {
    // Bitbucket treats `Dave` and `dave` as one account: the manifest's spelling must
    // neither create a second one nor, with pruning on, delete the real one.
    let mut state = big_state(2, 0, 0);
    state.users.insert(
        "Dave".into(),
        DcUser {
            display_name: "Dave".into(),
            email: "dave@example.com".into(),
            active: true,
        },
    );
    state
        .groups
        .insert("Platform".into(), BTreeSet::from(["Dave".to_owned()]));
    let emulator = start(state).await;
    let dir = tempfile::tempdir().unwrap();
    let body = "users:\n  dave: { name: Dave, email: dave@example.com }\n\
                groups:\n  platform: { members: [dave] }\n\
                policy:\n  prune: { users: true, groups: true, memberships: true }\n";
    let desired = manifest(dir.path(), &emulator.base_url, TOKEN, body);
    let rollcall::engine::Live {
        connected,
        states: live,
        ..
    } = rollcall::engine::read(&desired).await.unwrap();
    let plan = rollcall::plan::build(&desired, &live).unwrap();
    let touched: Vec<String> = plan.changes.iter().map(|c| c.address.to_string()).collect();
    assert!(
        touched.iter().all(|a| !a.contains("dave") && !a.contains("latform")),
        "{touched:#?}"
    );
    connected.shutdown().await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn pruning_memberships_removes_undeclared_members_of_declared_groups_only() {
    let mut state = big_state(3, 0, 0);
    state
        .groups
        .insert("platform".into(), BTreeSet::from([user(0).0, user(1).0]));
    state
        .groups
        .insert("legacy".into(), BTreeSet::from([user(0).0, user(2).0]));
    let emulator = start(state).await;
    let dir = tempfile::tempdir().unwrap();
    let body = "users:\n  user00000: { name: User 0, email: user0@example.com }\n\
                groups:\n  platform: { members: [user00000] }\n\
                policy:\n  prune: { memberships: true }\n";
    let desired = manifest(dir.path(), &emulator.base_url, TOKEN, body);
    let rollcall::engine::Live {
        connected,
        states: live,
        ..
    } = rollcall::engine::read(&desired).await.unwrap();
    let plan = rollcall::plan::build(&desired, &live).unwrap();
    let changes: Vec<String> = plan
        .changes
        .iter()
        .map(|c| format!("{} {}", c.action.symbol(), c.address))
        .collect();
    // user00001 is undeclared but the group is declared: the membership goes. `legacy`
    // is undeclared: it is unmanaged, and its members are not even read.
    assert_eq!(changes, ["- bb.group[\"platform\"].member[\"user00001\"]"]);
    assert!(plan
        .unmanaged
        .iter()
        .any(|u| u.address.to_string() == "bb.group[\"legacy\"]"));
    let report = execute(&crate::common::approved(&plan), &connected.providers, 4, |_, _| {}).await;
    assert!(report.succeeded());
    assert_eq!(emulator.shared.state().groups["platform"], BTreeSet::from([user(0).0]));
    connected.shutdown().await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_failure_skips_only_the_batched_changes_that_needed_it() {
    // Three new members of one group: two existing users and one new one, whose account
    // is created by hand between plan and apply. Her membership waits for her create and
    // is skipped; the other two must not be skipped on her account.
    let mut state = big_state(3, 0, 0);
    state.groups.insert("mobile".into(), BTreeSet::new());
    let emulator = start(state).await;
    let dir = tempfile::tempdir().unwrap();
    let body = "users:\n  user00000: { name: User 0, email: user0@example.com }\n  user00001: { name: User 1, email: user1@example.com }\n\
                \x20 al: { name: Al, email: al@example.com }\n\
                groups:\n  mobile: { members: [user00000, user00001, al] }\n";
    let desired = manifest(dir.path(), &emulator.base_url, TOKEN, body);
    let rollcall::engine::Live {
        connected,
        states: live,
        ..
    } = rollcall::engine::read(&desired).await.unwrap();
    let plan = rollcall::plan::build(&desired, &live).unwrap();
    change_behind_our_back(
        &emulator,
        reqwest::Method::POST,
        "/admin/users?name=al&displayName=Al&emailAddress=al@example.com&password=x&addToDefaultGroup=false",
    )
    .await;
    let report = execute(&crate::common::approved(&plan), &connected.providers, 4, |_, _| {}).await;
    let outcome = |addr: &str| {
        report
            .outcomes
            .iter()
            .find(|(c, _)| c.address.to_string() == addr)
            .map(|(_, o)| o.clone())
    };
    assert!(
        matches!(outcome("bb.user[\"al\"]"), Some(Outcome::Failed(e)) if e.contains("HTTP 409")),
        "{:#?}",
        report.outcomes
    );
    assert!(matches!(
        outcome("bb.group[\"mobile\"].member[\"al\"]"),
        Some(Outcome::Skipped { .. })
    ));
    assert_eq!(
        outcome("bb.group[\"mobile\"].member[\"user00000\"]"),
        Some(Outcome::Applied)
    );
    assert_eq!(
        outcome("bb.group[\"mobile\"].member[\"user00001\"]"),
        Some(Outcome::Applied)
    );
    connected.shutdown().await;
    emulator.shutdown().await;
}

/// A seed whose first request gets `fault` and whose next few pass.
fn first_request_gets(fault: rollcall::sandbox::faults::Fault) -> rollcall::sandbox::faults::FaultConfig {
    use rollcall::sandbox::faults::FaultConfig;
    (0..10_000)
        .map(|seed| FaultConfig {
            seed,
            dropped: 0.5,
            ..FaultConfig::default()
        })
        .find(|f| f.fault_for(0) == Some(fault) && (1..4).all(|n| f.fault_for(n).is_none()))
        .unwrap()
}

/// A create is not safe to send twice: its connection dropped after sending, the provider
/// reads the object back rather than sending it again. Dropped after the server made it,
/// the read finds it and the change is done with one POST; dropped before, the read finds
/// nothing, and only then is the POST sent again.
#[tokio::test]
async fn a_create_whose_answer_was_lost_is_confirmed_by_reading_back_not_sent_blind() {
    use rollcall::sandbox::faults::Fault;

    const POST: &str = "POST /rest/api/latest/admin/groups?name=ops";
    const READ_BACK: &str = "GET /rest/api/latest/admin/groups?filter=ops&start=0&limit=1000";
    for (fault, expected, resent) in [
        (Fault::DroppedAfter, vec![POST, READ_BACK], 0),
        (Fault::DroppedBefore, vec![POST, READ_BACK, POST], 1),
    ] {
        let emulator = start(big_state(1, 0, 0)).await;
        let dir = tempfile::tempdir().unwrap();
        let desired = manifest(dir.path(), &emulator.base_url, TOKEN, "groups:\n  ops: {}\n");
        let rollcall::engine::Live {
            connected,
            states: live,
            ..
        } = rollcall::engine::read(&desired).await.unwrap();
        let plan = rollcall::plan::build(&desired, &live).unwrap();
        assert_eq!(plan.changes.len(), 1, "{:?}", plan.changes);
        emulator
            .shared
            .instruments()
            .set_faults(first_request_gets(fault))
            .unwrap();
        let before = emulator.shared.instruments().requests().len();
        let requests_before = connected.providers["bb"].request_count();

        let report = execute(&crate::common::approved(&plan), &connected.providers, 1, |_, _| {}).await;
        assert_eq!(
            report.outcomes[0].1,
            Outcome::Applied,
            "{fault:?}: {:?}",
            report.outcomes
        );
        assert!(emulator.shared.state().groups.contains_key("ops"));
        let sent: Vec<String> = emulator.shared.instruments().requests()[before..].to_vec();
        assert_eq!(sent, expected, "{fault:?}");
        assert_eq!(
            connected.providers["bb"].request_count() - requests_before,
            expected.len(),
            "{fault:?}"
        );
        assert_eq!(connected.providers["bb"].retry_count(), resent, "{fault:?}");
        connected.shutdown().await;
        emulator.shutdown().await;
    }
}

/// A delete is safe to send twice: its connection dropped, it is sent again, and the 404
/// that answers is read back as "already gone".
#[tokio::test]
async fn a_delete_whose_answer_was_lost_is_sent_again_and_its_404_confirmed() {
    use rollcall::sandbox::faults::Fault;

    let mut state = big_state(1, 0, 0);
    state.groups.insert("ops".into(), BTreeSet::new());
    let emulator = start(state).await;
    let dir = tempfile::tempdir().unwrap();
    let body = "groups: {}\npolicy:\n  prune: { groups: true }\n";
    let desired = manifest(dir.path(), &emulator.base_url, TOKEN, body);
    let rollcall::engine::Live {
        connected,
        states: live,
        ..
    } = rollcall::engine::read(&desired).await.unwrap();
    let plan = rollcall::plan::build(&desired, &live).unwrap();
    assert_eq!(plan.changes.len(), 1, "{:?}", plan.changes);
    emulator
        .shared
        .instruments()
        .set_faults(first_request_gets(Fault::DroppedAfter))
        .unwrap();
    let before = emulator.shared.instruments().requests().len();
    let report = execute(&crate::common::approved(&plan), &connected.providers, 1, |_, _| {}).await;
    assert_eq!(report.outcomes[0].1, Outcome::Applied, "{:?}", report.outcomes);
    assert!(!emulator.shared.state().groups.contains_key("ops"));
    let sent: Vec<String> = emulator.shared.instruments().requests()[before..].to_vec();
    assert_eq!(
        sent,
        [
            "DELETE /rest/api/latest/admin/groups?name=ops",
            "DELETE /rest/api/latest/admin/groups?name=ops",
            "GET /rest/api/latest/admin/groups?filter=ops&start=0&limit=1000",
        ],
        "sent, retried (404), then read back"
    );
    assert_eq!(connected.providers["bb"].retry_count(), 1);
    connected.shutdown().await;
    emulator.shutdown().await;
}

/// The all-users default is two flags: a change sends only the flags that move. From
/// none to read is one call, read to write one, write to read two (the write flag
/// cleared first), read to none one: never an `allow=false` for a flag already clear.
#[tokio::test]
async fn a_project_default_sends_only_the_flags_that_move() {
    let emulator = start(big_state(1, 0, 0)).await;
    let dir = tempfile::tempdir().unwrap();
    for (word, expected) in [
        ("read", vec!["PROJECT_READ/all?allow=true"]),
        ("write", vec!["PROJECT_WRITE/all?allow=true"]),
        (
            "read",
            vec!["PROJECT_WRITE/all?allow=false", "PROJECT_READ/all?allow=true"],
        ),
        ("none", vec!["PROJECT_READ/all?allow=false"]),
    ] {
        let body = format!("access:\n  bb:\n    projects:\n      ALPHA: {{ all_users: {word} }}\n");
        let desired = manifest(dir.path(), &emulator.base_url, TOKEN, &body);
        let rollcall::engine::Live {
            connected,
            states: live,
            ..
        } = rollcall::engine::read(&desired).await.unwrap();
        let plan = rollcall::plan::build(&desired, &live).unwrap();
        let before = emulator.shared.instruments().requests().len();
        let report = execute(&crate::common::approved(&plan), &connected.providers, 4, |_, _| {}).await;
        assert!(report.succeeded(), "{word}: {:#?}", report.outcomes);
        let writes: Vec<String> = emulator.shared.instruments().requests()[before..].to_vec();
        assert_eq!(writes.len(), expected.len(), "{word}: {writes:#?}");
        for (sent, want) in writes.iter().zip(&expected) {
            assert!(sent.contains(want), "{word}: {sent} is not {want}");
        }
        connected.shutdown().await;
    }
    emulator.shutdown().await;
}

/// Revoked grants on one project or repository go a user and a group per call
/// (`DELETE .../permissions?user=&group=`, each parameter one name in the description);
/// a call whose answer was lost is sent again, since revoking what is gone succeeds.
#[tokio::test]
async fn a_user_and_a_group_lose_their_grants_on_a_scope_in_one_call() {
    use rollcall::sandbox::faults::Fault;

    for fault in [None, Some(Fault::DroppedAfter)] {
        let state = DcState::parse(
            "operator: admin\n\
             users:\n  admin: { display_name: Admin, email: admin@example.com }\n  \
             alice: { display_name: Alice, email: alice@example.com }\n  \
             bob: { display_name: Bob, email: bob@example.com }\n\
             groups:\n  devs: [alice]\n\
             global:\n  users: { admin: SYS_ADMIN }\n\
             projects:\n  ALPHA:\n    name: Alpha\n    users: { alice: PROJECT_READ, bob: PROJECT_WRITE }\n    \
             groups: { devs: PROJECT_READ }\n    repos:\n      api:\n        users: { alice: REPO_READ }\n        \
             groups: { devs: REPO_WRITE }\n",
        )
        .unwrap();
        let emulator = start(state).await;
        let dir = tempfile::tempdir().unwrap();
        let body = "users:\n  alice: { name: Alice, email: alice@example.com }\n  bob: { name: Bob, email: bob@example.com }\n\
                    groups:\n  devs: { members: [alice] }\n\
                    access:\n  bb:\n    projects:\n      ALPHA: { repos: { api: {} } }\n\
                    policy:\n  prune: { permissions: true }\n";
        let desired = manifest(dir.path(), &emulator.base_url, TOKEN, body);
        let rollcall::engine::Live {
            connected,
            states: live,
            ..
        } = rollcall::engine::read(&desired).await.unwrap();
        let plan = rollcall::plan::build(&desired, &live).unwrap();
        assert_eq!(plan.changes.len(), 5, "{:#?}", plan.changes);
        if let Some(fault) = fault {
            emulator
                .shared
                .instruments()
                .set_faults(first_request_gets(fault))
                .unwrap();
        }
        let before = emulator.shared.instruments().requests().len();
        let report = execute(&crate::common::approved(&plan), &connected.providers, 1, |_, _| {}).await;
        assert!(report.succeeded(), "{fault:?}: {:#?}", report.outcomes);
        let mut sent: Vec<String> = emulator.shared.instruments().requests()[before..].to_vec();
        // Three revokes: the repository's user and group together, the project's group
        // with one of its two users, the other user alone.
        let resent = usize::from(fault.is_some());
        assert_eq!(sent.len(), 3 + resent, "{fault:?}: {sent:#?}");
        sent.dedup();
        sent.sort();
        assert_eq!(
            sent,
            [
                "DELETE /rest/api/latest/projects/ALPHA/permissions/users?name=bob",
                "DELETE /rest/api/latest/projects/ALPHA/permissions?user=alice&group=devs",
                "DELETE /rest/api/latest/projects/ALPHA/repos/api/permissions?user=alice&group=devs",
            ],
            "{fault:?}"
        );
        let state = emulator.shared.state();
        let alpha = &state.projects["ALPHA"];
        assert!(alpha.grants.users.is_empty() && alpha.grants.groups.is_empty());
        assert!(alpha.repos["api"].grants.users.is_empty() && alpha.repos["api"].grants.groups.is_empty());
        connected.shutdown().await;
        emulator.shutdown().await;
    }
}

/// The live instance the every-kind plan starts from: people to keep, update and delete,
/// groups to keep and delete (the ones deleted hold memberships and grants on every
/// scope), grants to update and revoke on every scope, and two project defaults.
const EVERY_KIND_LIVE: &str = "operator: admin
users:
  admin: { display_name: Admin, email: admin@example.com }
  keep: { display_name: Keep Old, email: keep@example.com }
  stay: { display_name: Stay, email: stay@example.com }
  gone: { display_name: Gone, email: gone@example.com }
groups:
  team: [keep, gone, stay]
  old: [keep, stay]
global:
  users: { admin: SYS_ADMIN, keep: LICENSED_USER, stay: LICENSED_USER, gone: LICENSED_USER }
  groups: { team: PROJECT_CREATE, old: LICENSED_USER }
projects:
  ALPHA:
    name: Alpha
    all_users: [PROJECT_WRITE]
    users: { stay: PROJECT_READ, keep: PROJECT_READ, gone: PROJECT_WRITE }
    groups: { team: PROJECT_READ, old: PROJECT_WRITE }
    repos:
      api:
        users: { stay: REPO_READ, keep: REPO_ADMIN, gone: REPO_READ }
        groups: { team: REPO_READ, old: REPO_WRITE }
  BETA:
    name: Beta
    repos:
      web:
        groups: { team: REPO_READ }
";

/// What the manifest asks of it: `keep` renamed, `newbie` and `squad` created with
/// members and grants on every scope, `gone` and `old` deleted, `stay` out of `team`,
/// grants updated (a global one of a create and one of an update sharing a permission)
/// and revoked, ALPHA's default lowered to read and BETA given one.
const EVERY_KIND_MANIFEST: &str = "users:
  admin: { name: Admin, email: admin@example.com }
  keep: { name: Keep New, email: keep@example.com }
  stay: { name: Stay, email: stay@example.com }
  newbie: { name: New Person, email: newbie@example.com }
groups:
  team: { members: [keep] }
  squad: { members: [newbie, keep] }
access:
  bb:
    global:
      users: { admin: SYS_ADMIN, keep: write, stay: read, newbie: write }
      groups: { team: read, squad: read }
    projects:
      ALPHA:
        all_users: read
        users: { keep: write, newbie: read }
        groups: { squad: write }
        repos:
          api:
            users: { newbie: write, stay: write }
            groups: { team: write, squad: read }
      BETA:
        all_users: read
        repos:
          web:
            groups: { squad: write }
policy:
  prune: { users: true, groups: true, memberships: true, permissions: true }
  limits: { max_delete_percent: 100 }
";

/// The fewest writes Data Center needs for `plan`, counted from its changes as the
/// description allows them to be sent.
fn minimum_writes(plan: &rollcall::plan::Plan) -> usize {
    use rollcall::model::{Principal, Resource, ResourceId};
    use rollcall::plan::Action;
    use std::collections::BTreeMap;

    // Deleting a user or a group "also removes any permissions" and its memberships:
    // what hangs off a deleted principal costs nothing.
    let deleted: BTreeSet<Principal> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .filter_map(|c| c.address.id.as_principal())
        .collect();
    let carried = |id: &ResourceId| id.principals().iter().any(|p| deleted.contains(p));
    let mut writes = 0;
    // Memberships added: one `add-users` per group, whatever the number of users.
    let mut add_users = BTreeSet::new();
    // Grants made or changed: `PUT .../users|groups?name=..&permission=P` takes every name
    // of one kind and permission globally and per repository (`name` is an array), one
    // name per project.
    let mut puts = BTreeSet::new();
    // Grants revoked on a project or repository: `DELETE .../permissions?user=&group=`
    // takes one user and one group, so a scope costs the larger of its two counts.
    let mut revokes: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for c in &plan.changes {
        let id = &c.address.id;
        match (id, c.action) {
            // Users and groups: one create, update or delete each.
            (ResourceId::User { .. } | ResourceId::Group { .. }, _) => writes += 1,
            (ResourceId::Membership { group, .. }, Action::Create) => {
                add_users.insert(group.to_lowercase());
            }
            // A membership removed from a principal that stays: one `remove-group` each.
            (ResourceId::Membership { .. }, _) if !carried(id) => writes += 1,
            (ResourceId::Grant { scope, principal }, Action::Create | Action::Update) => {
                let permission = match &c.after {
                    Some(Resource::Permission { permission }) => permission.clone(),
                    _ => String::new(),
                };
                let kind = matches!(principal, Principal::User(_));
                if scope.kinds() == ["project"] {
                    writes += 1;
                } else {
                    puts.insert((scope.to_string(), kind, permission));
                }
            }
            (ResourceId::Grant { scope, principal }, Action::Delete) if !carried(id) => {
                if scope.is_root() {
                    // A global revoke takes one `name`.
                    writes += 1;
                } else {
                    let counts = revokes.entry(scope.to_string()).or_default();
                    match principal {
                        Principal::User(_) => counts.0 += 1,
                        Principal::Group(_) => counts.1 += 1,
                    }
                }
            }
            // A project's default is two flags (read, write): one POST per flag that
            // moves. Going down from write clears the write flag and then sets or clears
            // read, which the plan cannot know set under write: two.
            (ResourceId::Default { .. }, _) => {
                let level = |r: &Option<Resource>| match r {
                    Some(Resource::Default { permission }) => match permission.as_deref() {
                        Some("PROJECT_WRITE") => 2,
                        Some("PROJECT_READ") => 1,
                        _ => 0,
                    },
                    _ => 0,
                };
                writes += match (level(&c.before), level(&c.after)) {
                    (a, b) if a == b => 0,
                    (2, _) => 2,
                    _ => 1,
                };
            }
            _ => {}
        }
    }
    writes + add_users.len() + puts.len() + revokes.values().map(|(u, g)| (*u).max(*g)).sum::<usize>()
}

/// A plan that touches every kind of change on Data Center is applied in the fewest
/// writes the description allows, after the fewest reads, both derived from the plan and
/// the manifest rather than written down.
#[tokio::test]
async fn a_plan_of_every_kind_of_change_costs_the_derived_minimum() {
    use rollcall::model::ResourceId;
    use rollcall::plan::Action;

    let emulator = start(DcState::parse(EVERY_KIND_LIVE).unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let desired = manifest(dir.path(), &emulator.base_url, TOKEN, EVERY_KIND_MANIFEST);
    let rollcall::engine::Live {
        connected,
        states: live,
        ..
    } = rollcall::engine::read(&desired).await.unwrap();
    let reads = emulator.shared.instruments().requests();
    let plan = rollcall::plan::build(&desired, &live).unwrap();

    // Every kind of change is in the plan.
    let has = |f: &dyn Fn(&ResourceId) -> bool, action: Action| {
        plan.changes.iter().any(|c| c.action == action && f(&c.address.id))
    };
    let user = |id: &ResourceId| matches!(id, ResourceId::User { .. });
    let group = |id: &ResourceId| matches!(id, ResourceId::Group { .. });
    let member = |id: &ResourceId| matches!(id, ResourceId::Membership { .. });
    let default = |id: &ResourceId| matches!(id, ResourceId::Default { .. });
    let grant_at = |kinds: &'static [&'static str], to_user: bool| {
        move |id: &ResourceId| {
            matches!(id, ResourceId::Grant { scope, principal }
                if scope.kinds() == kinds && matches!(principal, rollcall::model::Principal::User(_)) == to_user)
        }
    };
    for (what, f, action) in [
        ("user created", &user as &dyn Fn(&ResourceId) -> bool, Action::Create),
        ("user updated", &user, Action::Update),
        ("user deleted", &user, Action::Delete),
        ("group created", &group, Action::Create),
        ("group deleted", &group, Action::Delete),
        ("member added", &member, Action::Create),
        ("member removed", &member, Action::Delete),
        ("default set", &default, Action::Create),
        ("default changed", &default, Action::Update),
    ] {
        assert!(has(f, action), "{what}: {:#?}", plan.changes);
    }
    for kinds in [&[][..], &["project"][..], &["project", "repo"][..]] {
        for to_user in [true, false] {
            for action in [Action::Create, Action::Update, Action::Delete] {
                if (kinds, to_user, action) == (&["project"][..], false, Action::Update) {
                    continue; // the manifest has no project group grant to change
                }
                assert!(
                    has(&grant_at(kinds, to_user), action),
                    "{kinds:?} user {to_user} {action:?}: {:#?}",
                    plan.changes
                );
            }
        }
    }

    // Reads: users and groups (one page each), global grants of users and of groups, the
    // members of every live group (groups are pruned, so the plan lists what a deleted
    // group takes along), the groups of the token's account (for the safety rules), the
    // users' and groups' grants of each named project and repository, and the two flags
    // of each default the plan compares (both declared here).
    let scope = &desired.targets["bb"].scope;
    let live_groups = live["bb"].keys().filter(|a| group(&a.id)).count();
    let minimum_reads = 1 + 1 + 2 + live_groups + 1 + 2 * scope.scopes.len() + 2 * scope.defaults.len();
    let read_count = connected.providers["bb"].request_count();

    let minimum = minimum_writes(&plan);
    let before = emulator.shared.instruments().requests().len();
    let report = execute(&crate::common::approved(&plan), &connected.providers, 4, |_, _| {}).await;
    assert!(report.succeeded(), "{:#?}", report.outcomes);
    let writes: Vec<String> = emulator.shared.instruments().requests()[before..].to_vec();
    eprintln!(
        "{} changes: {} reads (minimum {minimum_reads}), {} writes (minimum {minimum})",
        plan.changes.len(),
        reads.len(),
        writes.len()
    );
    assert_eq!(reads.len(), minimum_reads, "{reads:#?}");
    assert_eq!(read_count, minimum_reads);
    assert_eq!(writes.len(), minimum, "{writes:#?}");
    connected.shutdown().await;

    // And the instance is as the manifest says.
    let rollcall::engine::Live { connected, states, .. } = rollcall::engine::read(&desired).await.unwrap();
    let again = rollcall::plan::build(&desired, &states).unwrap();
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
    connected.shutdown().await;
    emulator.shutdown().await;
}
