//! The Atlassian organization provider against the Atlassian Cloud emulator over real
//! HTTP: reading a seeded directory and what it costs, a plan that creates, fills,
//! empties, replaces and deletes groups applied and planned again to nothing, a synced
//! group and a person the directory lacks, and faults survived.

use std::path::Path;

use rollcall::apply::execute;
use rollcall::model::{Address, Resource, ResourceId};
use rollcall::plan::Plan;
use rollcall::sandbox::atlassian_cloud::{serve, CloudState, RunningEmulator, Shared};
use rollcall::sandbox::faults::{Fault, FaultConfig};
use rollcall::sandbox::state::StateFile as _;

const TOKEN: &str = "org-api-key-7c1d";
const ORG_ID: &str = "4f2a9c1e-0b7d-4e8a-9c3f-5d6e7f8a9b0c";
const DIR_ID: &str = "9d8c7b6a-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const DIR: &str =
    "/admin/v2/orgs/4f2a9c1e-0b7d-4e8a-9c3f-5d6e7f8a9b0c/directories/9d8c7b6a-5e4f-4a3b-8c2d-1e0f9a8b7c6d";

fn fixture() -> CloudState {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/atlassian-cloud-sandbox.yaml"
    );
    CloudState::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn start(state: CloudState) -> RunningEmulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(Shared::new(state, TOKEN.to_owned()), listener).await.unwrap()
}

/// The fixture's people, as a manifest declares them (`zed` is in no directory).
const PEOPLE: &str = r"users:
  alice: { name: Alice Liddell, email: alice@acme.example }
  bob: { name: Bob Builder, email: bob@acme.example }
  carol: { name: Carol Danvers, email: carol@acme.example }
  dave: { name: Dave Lister, email: dave@acme.example }
  erin: { name: Erin Brockovich, email: erin@acme.example }
  frank: { name: Frank Poole, email: frank@acme.example }
  grace: { name: Grace Hopper, email: grace@acme.example }
  heidi: { name: Heidi Klum, email: heidi@acme.example }
  ivan: { name: Ivan Drago, email: ivan@acme.example }
  judy: { name: Judy Hopps, email: judy@acme.example }
  zed: { name: Zed Nobody, email: zed@acme.example }
";

/// Writes a manifest for one directory target at `url` and resolves it.
fn manifest(dir: &Path, url: &str, body: &str) -> rollcall::desired::Desired {
    manifest_with(dir, url, PEOPLE, body)
}

fn manifest_with(dir: &Path, url: &str, people: &str, body: &str) -> rollcall::desired::Desired {
    std::fs::write(dir.join("token"), TOKEN).unwrap();
    let targets = format!(
        "targets:\n  org:\n    kind: atlassian-organization\n    url: {url}\n    organization: \"{ORG_ID}\"\n    directory: \"{DIR_ID}\"\n    auth:\n      token: ${{file:token}}\n"
    );
    std::fs::write(dir.join("targets.yaml"), targets).unwrap();
    std::fs::write(dir.join("manifest.yaml"), format!("{people}{body}")).unwrap();
    match rollcall::engine::load(dir) {
        Ok(d) => d,
        Err(e) => panic!("manifest did not load: {e:?}"),
    }
}

struct Planned {
    plan: Plan,
    read_requests: usize,
}

async fn plan_only(desired: &rollcall::desired::Desired) -> Planned {
    let live = rollcall::engine::read(desired).await.unwrap();
    let read_requests = live.connected.providers["org"].request_count();
    let plan = rollcall::plan::build_with(desired, &live.states, &live.findings).unwrap();
    live.connected.shutdown().await;
    Planned { plan, read_requests }
}

/// Plans and applies; returns the plan and the requests the apply sent.
async fn plan_and_apply(desired: &rollcall::desired::Desired) -> (Plan, usize) {
    let live = rollcall::engine::read(desired).await.unwrap();
    let plan = rollcall::plan::build_with(desired, &live.states, &live.findings).unwrap();
    let reviewed = match plan.review(live.accounts(), &live.states, None) {
        Ok(reviewed) => reviewed,
        Err(refused) => panic!("{:#?}", refused.0.refusals),
    };
    let before = live.connected.providers["org"].request_count();
    let report = execute(&reviewed, &live.connected.providers, 4, |_, _| {}).await;
    let failures: Vec<String> = report
        .outcomes
        .iter()
        .filter(|(_, o)| !o.done())
        .map(|(c, o)| format!("{}: {o:?}", c.address))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    let sent = live.connected.providers["org"].request_count() - before;
    live.connected.shutdown().await;
    (reviewed.into_plan(), sent)
}

fn lines(plan: &Plan) -> Vec<String> {
    let mut out: Vec<String> = plan
        .changes
        .iter()
        .map(|c| format!("{} {}", c.action.symbol(), c.address))
        .collect();
    out.sort();
    out
}

fn members(state: &CloudState, group: &str) -> Vec<String> {
    let Some(g) = state.groups.iter().find(|g| g.name == group) else {
        return Vec::new();
    };
    let mut names: Vec<String> = g
        .members
        .iter()
        .filter_map(|id| state.users.iter().find(|u| u.account_id == *id))
        .map(|u| u.email.split('@').next().unwrap_or_default().to_owned())
        .collect();
    names.sort();
    names
}

/// The read of the declared groups: the people by email and the groups by name in one
/// search each, and the members of up to 10 groups in one more. Declared people are named
/// by their rollcall name; a member nobody declared, by email; a group keeps its
/// description; a person missing from the directory is simply not there.
#[tokio::test]
async fn a_seeded_directory_reads_in_three_searches() {
    let emulator = start(fixture()).await;
    let dir = tempfile::tempdir().unwrap();
    let body = "groups:\n  Platform Team: { members: [alice] }\n  bitbucket-users:\n    description: Product access to the workspace\n    members: [alice]\n";
    let desired = manifest(dir.path(), &emulator.base_url, body);
    let live = rollcall::engine::read(&desired).await.unwrap();
    let state = &live.states["org"];
    let at = |id: ResourceId| state.get(&Address::new("org", id));
    let user = |name: &str| ResourceId::User { name: name.into() };
    let member = |group: &str, user: &str| ResourceId::Membership {
        group: group.into(),
        user: user.into(),
    };
    for name in ["alice", "bob", "carol", "judy"] {
        assert!(at(user(name)).is_some(), "{name} is found by email");
    }
    assert!(at(user("zed")).is_none());
    assert!(at(member("Platform Team", "bob")).is_some());
    assert!(at(member("bitbucket-users", "heidi")).is_some());
    assert!(
        at(ResourceId::Group { name: "backend".into() }).is_none(),
        "undeclared groups are not read"
    );
    match at(ResourceId::Group {
        name: "bitbucket-users".into(),
    }) {
        Some(Resource::Group { attributes }) => {
            assert_eq!(
                attributes.get("description").map(String::as_str),
                Some("Product access to the workspace")
            );
        }
        other => panic!("{other:?}"),
    }

    // ⌈2 names / 100⌉ + ⌈11 emails / 100⌉ + per ⌈2 groups / 10⌉ chunk ⌈9 members / 100⌉.
    let expected = 1 + 1 + 1;
    let requests = emulator.shared.instruments().requests();
    assert_eq!(requests.len(), expected, "{requests:#?}");
    assert_eq!(live.connected.providers["org"].request_count(), expected);
    assert!(
        requests.iter().all(|r| r.starts_with(&format!("POST {DIR}/"))),
        "{requests:#?}"
    );
    live.connected.shutdown().await;
}

/// Every count in the formula past one page: 150 declared groups are two name searches,
/// and their members 15 searches of 10 groups, one of them two pages for the 120 members
/// of one group.
#[tokio::test]
async fn the_read_costs_what_its_formula_says_past_a_page() {
    use rollcall::sandbox::atlassian_cloud::state::{DirectoryGroup, DirectoryUser};
    let mut state = fixture();
    for n in 0..150 {
        state.groups.push(DirectoryGroup {
            id: format!("b2000000-0000-4000-8000-{n:012}"),
            name: format!("team-{n:03}"),
            description: None,
            synced: false,
            members: Vec::new(),
        });
    }
    let crowded = state.groups.iter().position(|g| g.name == "team-004").unwrap();
    for n in 0..120 {
        let account = format!("557058:1000-{n:04}");
        state.users.push(DirectoryUser {
            account_id: account.clone(),
            name: format!("Person {n}"),
            email: format!("p{n}@acme.example"),
            nickname: None,
            uuid: None,
            status: Default::default(),
        });
        state.groups[crowded].members.push(account);
    }
    let emulator = start(state).await;
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::from("groups:\n");
    for n in 0..150 {
        body.push_str(&format!("  team-{n:03}: {{}}\n"));
    }
    let desired = manifest(dir.path(), &emulator.base_url, &body);
    let planned = plan_only(&desired).await;
    // Groups ⌈150 / 100⌉ = 2; people ⌈11 / 100⌉ = 1; members: 15 chunks of 10 groups, each
    // max(1, ⌈members / 100⌉): 14 × 1 + ⌈120 / 100⌉ = 16.
    let expected = 2 + 1 + (14 + 2);
    let requests = emulator.shared.instruments().requests();
    assert_eq!(planned.read_requests, expected, "{requests:#?}");
    assert_eq!(requests.len(), expected);
    let memberships = planned
        .plan
        .unmanaged
        .iter()
        .filter(|u| matches!(u.address.id, ResourceId::Membership { .. }))
        .count();
    assert_eq!(memberships, 120, "members nobody declared are read, as unmanaged");
    emulator.shutdown().await;
}

/// The fixture with a group nobody declares, `legacy`, holding frank, and mallory (whom
/// nobody declares either) in `backend`.
fn with_legacy() -> CloudState {
    let mut state = fixture();
    state
        .groups
        .push(rollcall::sandbox::atlassian_cloud::state::DirectoryGroup {
            id: "a1000000-0000-4000-8000-000000000009".to_owned(),
            name: "legacy".to_owned(),
            description: None,
            synced: false,
            members: vec!["557058:0000-frank".to_owned()],
        });
    // Someone nobody declares, in a declared group.
    if let Some(backend) = state.groups.iter_mut().find(|g| g.name == "backend") {
        backend.members.push("557058:0000-mallory".to_owned());
    }
    state
}

const FULL: &str = r"policy:
  prune: { groups: true, memberships: true }
  limits: { max_delete_percent: 100 }
groups:
  bitbucket-users:
    description: Product access to the workspace
    members: [alice, bob, carol, dave, erin, frank, grace, heidi]
  platform:
    renamed_from: Platform Team
    members: [alice, bob]
  backend:
    members: [erin]
  ops:
    description: Operations
    members: [alice, dave, zed]
  site-admins:
    members: [ivan, judy]
";

fn has(plan: &Plan, action: rollcall::plan::Action, id: ResourceId) -> bool {
    plan.changes
        .iter()
        .any(|c| c.action == action && c.address == Address::new("org", id.clone()))
}

fn membership(group: &str, user: &str) -> ResourceId {
    ResourceId::Membership {
        group: group.into(),
        user: user.into(),
    }
}

fn group(name: &str) -> ResourceId {
    ResourceId::Group { name: name.into() }
}

/// One plan creates a group with its description and members, adds and removes members,
/// replaces a renamed group (create, move, delete) and deletes a pruned one; a synced
/// group's member change is a note and a person the directory lacks is held, with the
/// platform's hint. Applied, the next plan is empty but for those two.
#[tokio::test]
async fn groups_and_members_are_planned_applied_and_planned_again_to_nothing() {
    use rollcall::plan::Action::{Create, Delete};
    let emulator = start(with_legacy()).await;
    let dir = tempfile::tempdir().unwrap();
    let desired = manifest(dir.path(), &emulator.base_url, FULL);

    let planned = plan_only(&desired).await;
    let plan = &planned.plan;
    // Pruning groups reads all 5 groups in one page, the people in one search, and the
    // members of the 5 in one: 3 requests.
    assert_eq!(planned.read_requests, 3);
    for (action, id) in [
        (Create, group("ops")),
        (Create, group("platform")),
        (Create, membership("ops", "alice")),
        (Create, membership("ops", "dave")),
        (Create, membership("platform", "alice")),
        (Create, membership("platform", "bob")),
        (Create, membership("backend", "erin")),
        (Delete, membership("backend", "carol")),
        (Delete, membership("backend", "mallory@acme.example")),
        (Delete, group("Platform Team")),
        (Delete, group("legacy")),
    ] {
        assert!(has(plan, action, id.clone()), "{action:?} {id:?}: {:#?}", lines(plan));
    }
    assert!(!has(plan, Create, membership("site-admins", "judy")));
    assert!(
        plan.notes.iter().any(|n| n.text.contains("identity provider")
            && n.address
                .as_ref()
                .is_some_and(|a| a.id == membership("site-admins", "judy"))),
        "{:#?}",
        plan.notes
    );
    assert_eq!(plan.held.len(), 1, "{:#?}", plan.held);
    assert_eq!(plan.held[0].change.address.id, membership("ops", "zed"));
    assert!(plan.held[0].hint.contains("invite"), "{}", plan.held[0].hint);

    let (applied, sent) = plan_and_apply(&desired).await;
    // Two creates of a POST and a read-back of the new id each, five adds, two removals,
    // two deletes; the removals the deletes take along are not sent.
    assert_eq!(sent, 2 * 2 + 5 + 2 + 2, "{:#?}", lines(&applied));
    let state = emulator.shared.state();
    assert_eq!(members(&state, "ops"), ["alice", "dave"]);
    assert_eq!(members(&state, "platform"), ["alice", "bob"]);
    assert_eq!(members(&state, "backend"), ["erin"]);
    assert_eq!(members(&state, "site-admins"), ["ivan"]);
    assert!(state
        .groups
        .iter()
        .all(|g| g.name != "Platform Team" && g.name != "legacy"));
    let ops = state.groups.iter().find(|g| g.name == "ops").unwrap();
    assert_eq!(ops.description.as_deref(), Some("Operations"));

    let again = plan_only(&desired).await.plan;
    assert!(again.changes.is_empty(), "{:#?}", lines(&again));
    assert_eq!(again.held.len(), 1);
    emulator.shutdown().await;
}

/// A description the directory has and the manifest changes cannot be sent: the plan
/// notes it instead of planning an update no request could make.
#[tokio::test]
async fn a_description_change_is_noted_not_planned() {
    let emulator = start(fixture()).await;
    let dir = tempfile::tempdir().unwrap();
    let body = "groups:\n  backend: { description: Server side, members: [carol, erin] }\n";
    let desired = manifest(dir.path(), &emulator.base_url, body);
    let live = rollcall::engine::read(&desired).await.unwrap();
    let plan = rollcall::plan::build_with(&desired, &live.states, &live.findings).unwrap();
    assert!(
        !plan
            .changes
            .iter()
            .any(|c| c.address.to_string() == "org.group[\"backend\"]"),
        "{:#?}",
        plan.changes
    );
    let note = plan
        .notes
        .iter()
        .find(|n| {
            n.address
                .as_ref()
                .is_some_and(|a| a.to_string() == "org.group[\"backend\"]")
        })
        .map(|n| n.text.clone())
        .unwrap_or_default();
    assert!(note.contains("`description`") && note.contains("Server side"), "{note}");
    live.connected.shutdown().await;
}

fn first_request_gets(fault: Fault) -> FaultConfig {
    (0..10_000)
        .map(|seed| FaultConfig {
            seed,
            dropped: 0.5,
            ..FaultConfig::default()
        })
        .find(|f| f.fault_for(0) == Some(fault) && (1..6).all(|n| f.fault_for(n).is_none()))
        .unwrap()
}

/// A create whose answer was lost is read back by name, not sent blind: made before the
/// connection dropped, it is adopted with its id; not made, it is sent again.
#[tokio::test]
async fn a_create_whose_answer_was_lost_is_read_back() {
    let search = format!("POST {DIR}/groups/search");
    let create = format!("POST {DIR}/groups");
    for (fault, expected) in [
        (Fault::DroppedAfter, vec![create.clone(), search.clone()]),
        (
            Fault::DroppedBefore,
            vec![create.clone(), search.clone(), create.clone(), search.clone()],
        ),
    ] {
        let emulator = start(fixture()).await;
        let dir = tempfile::tempdir().unwrap();
        let desired = manifest(dir.path(), &emulator.base_url, "groups:\n  ops: { members: [alice] }\n");
        let live = rollcall::engine::read(&desired).await.unwrap();
        let plan = rollcall::plan::build_with(&desired, &live.states, &live.findings).unwrap();
        let reviewed = crate::common::approved(&plan);
        emulator
            .shared
            .instruments()
            .set_faults(first_request_gets(fault))
            .unwrap();
        let before = emulator.shared.instruments().requests().len();
        let report = execute(&reviewed, &live.connected.providers, 1, |_, _| {}).await;
        assert!(report.succeeded(), "{fault:?}: {:#?}", report.outcomes);
        let sent = emulator.shared.instruments().requests()[before..].to_vec();
        assert_eq!(sent[..expected.len()], expected[..], "{fault:?}: {sent:#?}");
        let state = emulator.shared.state();
        assert_eq!(state.groups.iter().filter(|g| g.name == "ops").count(), 1);
        assert_eq!(members(&state, "ops"), ["alice"]);
        live.connected.shutdown().await;
        emulator.shutdown().await;
    }
}

/// 429s, 503s and dropped connections on every call, reads and writes alike: the plan is
/// applied all the same, and the next plan is empty.
#[tokio::test]
async fn faults_are_survived() {
    for seed in [3, 11, 29] {
        let mut state = with_legacy();
        state.faults = Some(FaultConfig {
            seed,
            rate_limited: 0.12,
            unavailable: 0.08,
            dropped: 0.08,
            retry_after_secs: 0,
            ..FaultConfig::default()
        });
        let emulator = start(state).await;
        let dir = tempfile::tempdir().unwrap();
        let desired = manifest(dir.path(), &emulator.base_url, FULL);
        plan_and_apply(&desired).await;
        let state = emulator.shared.state();
        assert_eq!(members(&state, "ops"), ["alice", "dave"], "seed {seed}");
        assert_eq!(members(&state, "platform"), ["alice", "bob"], "seed {seed}");
        assert_eq!(state.groups.iter().filter(|g| g.name == "ops").count(), 1);
        let again = plan_only(&desired).await.plan;
        assert!(again.changes.is_empty(), "seed {seed}: {:#?}", lines(&again));
        assert!(emulator.shared.instruments().fault_counts().total() > 0, "seed {seed}");
        emulator.shutdown().await;
    }
}

/// An offboarded person leaves every group, the declared ones and any other the directory
/// has them in: their groups come with the people search, and the undeclared one costs
/// one search by id, so whether it is synced is known.
#[tokio::test]
async fn an_offboarded_person_leaves_every_group() {
    let emulator = start(fixture()).await;
    let dir = tempfile::tempdir().unwrap();
    let people = PEOPLE.replace("carol@acme.example }", "carol@acme.example, active: false }");
    let desired = manifest_with(
        dir.path(),
        &emulator.base_url,
        &people,
        "groups:\n  backend: { members: [erin] }\n",
    );
    let planned = plan_only(&desired).await;
    // Groups 1, people 1, members 1, carol's other group (bitbucket-users) 1.
    assert_eq!(
        planned.read_requests,
        4,
        "{:?}",
        emulator.shared.instruments().requests()
    );
    use rollcall::plan::Action::Delete;
    assert!(
        has(&planned.plan, Delete, membership("backend", "carol")),
        "{:#?}",
        lines(&planned.plan)
    );
    assert!(
        has(&planned.plan, Delete, membership("bitbucket-users", "carol")),
        "{:#?}",
        lines(&planned.plan)
    );
    plan_and_apply(&desired).await;
    let state = emulator.shared.state();
    assert!(!members(&state, "bitbucket-users").contains(&"carol".to_owned()));
    assert_eq!(members(&state, "backend"), ["erin"]);
    let again = plan_only(&desired).await.plan;
    assert!(again.changes.is_empty(), "{:#?}", lines(&again));
    emulator.shutdown().await;
}

/// What the vendor says reaches the error, never the key: a directory that is not there
/// is the v2 `errors` body's detail, a key refused is the gateway's message.
#[tokio::test]
async fn errors_carry_the_vendors_message_and_never_the_key() {
    let emulator = start(fixture()).await;
    let dir = tempfile::tempdir().unwrap();
    manifest(
        dir.path(),
        &emulator.base_url,
        "groups:\n  backend: { members: [carol] }\n",
    );
    let targets = std::fs::read_to_string(dir.path().join("targets.yaml")).unwrap();
    std::fs::write(
        dir.path().join("targets.yaml"),
        targets.replace(DIR_ID, "00000000-0000-4000-8000-00000000dead"),
    )
    .unwrap();
    let desired = rollcall::engine::load(dir.path()).unwrap();
    let err = match rollcall::engine::read(&desired).await {
        Ok(_) => panic!("a directory that is not there was read"),
        Err(e) => format!("{e:?}"),
    };
    assert!(
        err.contains("Directory 00000000-0000-4000-8000-00000000dead was not found"),
        "{err}"
    );
    assert!(
        err.contains("organization` and `directory"),
        "the hint names both ids: {err}"
    );
    assert!(!err.contains(TOKEN));

    std::fs::write(dir.path().join("targets.yaml"), targets).unwrap();
    std::fs::write(dir.path().join("token"), "not-the-key").unwrap();
    let desired = rollcall::engine::load(dir.path()).unwrap();
    let err = match rollcall::engine::read(&desired).await {
        Ok(_) => panic!("a wrong key was let in"),
        Err(e) => format!("{e:?}"),
    };
    assert!(err.contains("401") && err.contains("Unauthorized"), "{err}");
    assert!(err.contains("API keys"), "the hint says where keys are made: {err}");
    assert!(!err.contains("not-the-key"));
    emulator.shutdown().await;
}

/// A member added by someone else since the read answers 409 to the plan's add: with no
/// uncertain attempt before it, that is reported, not taken as done.
#[tokio::test]
async fn a_conflicting_add_is_reported() {
    let emulator = start(fixture()).await;
    let dir = tempfile::tempdir().unwrap();
    let desired = manifest(
        dir.path(),
        &emulator.base_url,
        "groups:\n  backend: { members: [carol, erin] }\n",
    );
    let live = rollcall::engine::read(&desired).await.unwrap();
    let plan = rollcall::plan::build_with(&desired, &live.states, &live.findings).unwrap();
    emulator.shared.with_state(|s| {
        if let Some(g) = s.groups.iter_mut().find(|g| g.name == "backend") {
            g.members.push("557058:0000-erin".to_owned());
        }
    });
    let report = execute(&crate::common::approved(&plan), &live.connected.providers, 1, |_, _| {}).await;
    assert!(!report.succeeded());
    let failure = format!("{:?}", report.outcomes);
    assert!(
        failure.contains("409") && failure.contains("already in the group"),
        "{failure}"
    );
    live.connected.shutdown().await;
    emulator.shutdown().await;
}
