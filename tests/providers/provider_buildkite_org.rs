//! The Buildkite provider under the engine and at scale, against its emulator: a plan
//! pruning most of the organization's members is refused by the delete limit, and passes
//! with `--allow-deletes` as one document; the last administrator is kept by the vendor
//! (the emulator refuses) and, before anything is sent, by `policy.min_admins` (ADMIN at
//! the organization is Buildkite's administrator); and a large organization is read at
//! exactly the requests and complexity points its formula gives (`read_cost`).

use std::fmt::Write as _;
use std::path::Path;

use rollcall::apply::execute;
use rollcall::model::{Address, Principal, ResourceId, Scope};
use rollcall::plan::{Action, Change};
use rollcall::provider::buildkite::{read_cost, Buildkite, Settings, Tuning};
use rollcall::provider::{Provider as _, ProviderError};
use rollcall::safety::Rule;
use rollcall::sandbox::buildkite::state::OrgRole;
use rollcall::sandbox::buildkite::{serve, BkState, RunningEmulator, Shared};
use rollcall::sandbox::state::StateFile as _;

const TOKEN: &str = "bk-org-token";

fn fixture() -> BkState {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/buildkite-sandbox.yaml");
    BkState::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn start(mut state: BkState) -> RunningEmulator {
    // What an edit added gets its ids.
    state.check().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(Shared::new(state, TOKEN.to_owned()), listener).await.unwrap()
}

fn add_members(state: &mut BkState, n: usize) {
    for k in 0..n {
        state.members.push(rollcall::sandbox::buildkite::state::Member {
            email: format!("m{k:03}@acme.example"),
            name: format!("Member {k}"),
            role: OrgRole::Member,
            uuid: None,
        });
    }
}

/// The fixture's people (carol is invited), as a manifest declares them.
const PEOPLE: &str = "users:
  olivia: { name: Olivia Operator, email: olivia@acme.example }
  ada: { name: Ada Lovelace, email: ada@acme.example }
  bob: { name: Bob Builder, email: bob@acme.example }
  carol: { name: Carol, email: carol@acme.example }
";

/// Writes a manifest for target `bk` (organization `acme`, its token's person
/// `account`) at `url`, and loads it.
fn manifest(dir: &Path, url: &str, account: &str, body: &str) -> rollcall::desired::Desired {
    std::fs::write(dir.join("token"), TOKEN).unwrap();
    let targets = format!(
        "targets:\n  bk:\n    kind: buildkite\n    url: {url}\n    organization: acme\n    auth:\n      token: ${{file:token}}\n      account: {account}\n"
    );
    std::fs::write(dir.join("targets.yaml"), targets).unwrap();
    std::fs::write(dir.join("manifest.yaml"), format!("{PEOPLE}{body}")).unwrap();
    match rollcall::engine::load(dir) {
        Ok(d) => d,
        Err(e) => panic!("manifest did not load: {e:?}"),
    }
}

/// Pruning people the manifest leaves out, with 20 members nobody declares: 20 of the
/// organization's 24 people (83.3%) is past `max_delete_percent`, so the plan is refused;
/// admitted with `--allow-deletes 20`, the removals go as one document of 20 aliased
/// mutations.
#[tokio::test]
async fn removing_most_members_is_refused_by_the_delete_limit() {
    let mut state = fixture();
    add_members(&mut state, 20);
    let emu = start(state).await;
    let dir = tempfile::tempdir().unwrap();
    let desired = manifest(
        dir.path(),
        &emu.base_url,
        "olivia",
        "policy:\n  prune: { users: true }\n",
    );
    let live = rollcall::engine::read(&desired).await.unwrap();
    let plan = rollcall::plan::build_with(&desired, &live.states, &live.findings).unwrap();
    let deletes = plan.changes.iter().filter(|c| c.action == Action::Delete).count();
    assert_eq!(deletes, 20, "{:#?}", plan.changes);
    let refused = plan.clone().review(live.accounts(), &live.states, None).unwrap_err();
    let refusals = &refused.0.refusals;
    assert_eq!(refusals.len(), 1, "{refusals:#?}");
    assert_eq!(refusals[0].rule, Rule::MaxDeletePercent);
    assert_eq!(
        refusals[0].message,
        "the plan deletes 20 of 24 users on `bk` (83.3%); policy.limits.max_delete_percent is 30"
    );

    let reviewed = plan.review(live.accounts(), &live.states, Some(20)).unwrap();
    let provider = &live.connected.providers["bk"];
    let before = provider.request_count();
    let report = execute(&reviewed, &live.connected.providers, 4, |_, _| {}).await;
    assert!(report.outcomes.iter().all(|(_, o)| o.done()), "{:#?}", report.outcomes);
    assert_eq!(provider.request_count() - before, 1, "one document");
    live.connected.shutdown().await;
    assert_eq!(emu.shared.state().members.len(), 3);
    emu.shutdown().await;
}

/// ada is the only administrator; the token is bob's (a member).
fn one_admin() -> BkState {
    let mut state = fixture();
    state.operator = "bob@acme.example".to_owned();
    for m in &mut state.members {
        m.role = if m.email.starts_with("ada@") {
            OrgRole::Admin
        } else {
            OrgRole::Member
        };
    }
    state
}

fn change(id: ResourceId, action: Action) -> Change {
    Change {
        address: Address::new("bk", id),
        action,
        before: None,
        after: None,
        reason: None,
        renamed_from: None,
        renamed_to: None,
    }
}

/// A provider for organization `acme` on `emu`, reading everything, with no account
/// named.
fn provider(emu: &RunningEmulator) -> Buildkite {
    let settings = Settings {
        target: "bk".into(),
        organization: "acme".into(),
        account: None,
        sso_assigns: Vec::new(),
        scope: rollcall::desired::ReadScope::default(),
    };
    let base = url::Url::parse(&emu.base_url).unwrap();
    let auth = rollcall::http::Auth::Bearer(TOKEN.to_owned().into());
    Buildkite::new(settings, base, Some(auth), 4, Tuning::vendor()).unwrap()
}

/// Buildkite keeps an organization's last administrator: only an administrator may
/// demote or remove anyone, and the token's own account cannot be changed, so through
/// a token whose user is a plain member (as here) each change is refused, alone, and
/// the administrator stays. (`policy.min_admins` refuses such a plan before it is sent.)
#[tokio::test]
async fn the_vendor_refuses_to_lose_the_last_administrator() {
    let emu = start(one_admin()).await;
    let bk = provider(&emu);
    bk.read().await.unwrap();
    let admin = ResourceId::Grant {
        scope: Scope::root(),
        principal: Principal::User("ada@acme.example".into()),
    };
    for (id, says) in [
        (admin, "You must be an organization administrator"),
        (
            ResourceId::User {
                name: "ada@acme.example".into(),
            },
            "You must be an organization administrator",
        ),
    ] {
        let Err(ProviderError::Partial { failures, .. }) = bk.apply(&[change(id, Action::Delete)]).await else {
            panic!("expected the change to fail");
        };
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].1.contains(says), "{failures:?}");
    }
    let state = emu.shared.state();
    assert!(state
        .members
        .iter()
        .any(|m| m.email.starts_with("ada@") && m.role == OrgRole::Admin));
    emu.shutdown().await;
}

/// The same, from a manifest that no longer makes ada an administrator: `min_admins`
/// counts the people holding ADMIN at the organization, and refuses the plan before
/// anything is sent.
#[tokio::test]
async fn min_admins_refuses_a_plan_that_demotes_the_last_administrator() {
    let emu = start(one_admin()).await;
    let dir = tempfile::tempdir().unwrap();
    let desired = manifest(
        dir.path(),
        &emu.base_url,
        "bob",
        "policy:\n  prune: { permissions: true }\n",
    );
    let live = rollcall::engine::read(&desired).await.unwrap();
    let plan = rollcall::plan::build_with(&desired, &live.states, &live.findings).unwrap();
    let demote = Address::new(
        "bk",
        ResourceId::Grant {
            scope: Scope::root(),
            principal: Principal::User("ada".into()),
        },
    );
    assert!(
        plan.changes
            .iter()
            .any(|c| c.address == demote && c.action == Action::Delete),
        "{:#?}",
        plan.changes
    );
    let requests = live.connected.providers["bk"].request_count();
    let refused = plan.review(live.accounts(), &live.states, None).unwrap_err();
    let refusals = &refused.0.refusals;
    assert!(
        refusals.iter().any(|r| r.rule == Rule::MinAdmins
            && r.message == "the plan leaves 0 users with ADMIN on `bk` (now 1); policy.min_admins is 1"),
        "{refusals:#?}"
    );
    assert_eq!(live.connected.providers["bk"].request_count(), requests, "nothing sent");
    live.connected.shutdown().await;
    emu.shutdown().await;
}

/// 600 members (two pages of 500), 130 teams (two pages of 122, as many as a query's
/// 50,000 requested points allow with each team's first 100 members and pipelines), one
/// team of 150 members (a continuation page for the last 50): the read takes the
/// requests and the actual points `read_cost` derives, with the windows' room to spare.
#[tokio::test]
async fn a_large_organization_is_read_at_its_formulas_requests_and_points() {
    let mut yaml = String::from(
        "kind: buildkite\norganization: { slug: acme, name: Acme }\noperator: m000@acme.example\npipelines: [deploy]\nlimits: { user_points: 10000000, org_points: 10000000 }\nmembers:\n",
    );
    for k in 0..600 {
        let role = if k == 0 { "admin" } else { "member" };
        let _ = writeln!(
            yaml,
            "  - {{ email: m{k:03}@acme.example, name: Member {k}, role: {role} }}"
        );
    }
    yaml.push_str("teams:\n");
    let mut shape = Vec::new();
    for t in 0..130 {
        let members: Vec<usize> = if t == 0 { (0..150).collect() } else { vec![t, t + 1] };
        let pipelines = usize::from(t % 2 == 1);
        let _ = writeln!(yaml, "  - name: Team {t:03}\n    members:");
        for k in &members {
            let _ = writeln!(yaml, "      - {{ email: m{k:03}@acme.example }}");
        }
        if pipelines == 1 {
            let _ = writeln!(yaml, "    pipelines: [{{ pipeline: deploy }}]");
        }
        shape.push((members.len() as u64, pipelines as u64));
    }
    let emu = start(BkState::parse(&yaml).unwrap()).await;
    let bk = provider(&emu);
    let live = bk.read().await.unwrap();
    let teams = live.keys().filter(|a| matches!(a.id, ResourceId::Group { .. }));
    assert_eq!(teams.count(), 130);
    let (requests, points) = read_cost(600, &[], true, &shape);
    // Members 2, invitations 1, teams 2, the big team's next members 1.
    assert_eq!(requests, 6);
    assert_eq!(bk.request_count() as u64, requests);
    let usage = bk.findings().usage.unwrap();
    assert!(
        usage.contains(&format!("took {requests} requests and {points} complexity points")),
        "{usage}"
    );
    emu.shutdown().await;
}
