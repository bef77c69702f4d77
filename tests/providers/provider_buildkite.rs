//! The Buildkite provider against the Buildkite emulator over real HTTP: a seeded
//! organization read into live state (members, a pending invitation, teams with their
//! settings, maintainers and pipeline access) at the request and point count the read's
//! formula gives; writes batched as aliased mutations (invitations with their teams,
//! roles, team settings, maintainers, pipeline access); the vendor's 200-with-errors
//! surfaced per change, and on a query with the vendor's words; pacing to a small
//! complexity window, and a window another client used up waited out after its 429; a
//! 503 on a read retried; and a lost or timed-out answer read back, the change sent again
//! only when the read shows it not done.

use std::time::Duration;

use rollcall::desired::ReadScope;
use rollcall::http::{Auth, RetryPolicy};
use rollcall::model::{Address, Attributes, Principal, Resource, ResourceId, ResourceMap, Scope, UserAttrs};
use rollcall::plan::{Action, Change};
use rollcall::provider::buildkite::{Buildkite, Settings, Tuning};
use rollcall::provider::{Provider as _, ProviderError};
use rollcall::sandbox::buildkite::{serve, BkState, RunningEmulator, Shared};
use rollcall::sandbox::faults::{Fault, FaultConfig};
use rollcall::sandbox::state::StateFile as _;

const TOKEN: &str = "bk-provider-token";

fn fixture() -> BkState {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/buildkite-sandbox.yaml");
    BkState::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn emulator(edit: impl FnOnce(&mut BkState)) -> RunningEmulator {
    let mut state = fixture();
    edit(&mut state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(Shared::new(state, TOKEN.to_owned()), listener).await.unwrap()
}

/// The declared people and groups of the tests' manifest, and the pipelines it names.
fn scope() -> ReadScope {
    let mut scope = ReadScope::default();
    for (name, email) in [
        ("olivia", "olivia@acme.example"),
        ("ada", "ada@acme.example"),
        ("bob", "bob@acme.example"),
        ("carol", "carol@acme.example"),
        ("dan", "dan@acme.example"),
    ] {
        scope.people.insert(name.into(), email.into());
    }
    for group in ["Platform", "Web", "Ops"] {
        scope.member_groups.insert(group.into());
    }
    for pipeline in ["deploy", "web", "api"] {
        scope.scopes.insert(Scope::root().child("pipeline", pipeline));
    }
    scope
}

fn provider(emu: &RunningEmulator, tuning: Tuning) -> Buildkite {
    let settings = Settings {
        target: "bk".into(),
        organization: "acme".into(),
        account: Some("olivia".into()),
        sso_assigns: Vec::new(),
        scope: scope(),
    };
    let base = url::Url::parse(&emu.base_url).unwrap();
    Buildkite::new(settings, base, Some(Auth::Bearer(TOKEN.to_owned().into())), 4, tuning).unwrap()
}

fn quick() -> Tuning {
    Tuning {
        retry: RetryPolicy {
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_server_wait: Duration::from_secs(310),
            ..RetryPolicy::default()
        },
        ..Tuning::vendor()
    }
}

fn addr(id: ResourceId) -> Address {
    Address::new("bk", id)
}

fn user(name: &str) -> ResourceId {
    ResourceId::User { name: name.into() }
}

fn group(name: &str) -> ResourceId {
    ResourceId::Group { name: name.into() }
}

fn membership(g: &str, u: &str) -> ResourceId {
    ResourceId::Membership {
        group: g.into(),
        user: u.into(),
    }
}

fn admin(u: &str) -> ResourceId {
    ResourceId::Grant {
        scope: Scope::root(),
        principal: Principal::User(u.into()),
    }
}

fn pipeline(g: &str, slug: &str) -> ResourceId {
    ResourceId::Grant {
        scope: Scope::root().child("pipeline", slug),
        principal: Principal::Group(g.into()),
    }
}

fn role(r: &str) -> Resource {
    Resource::Membership {
        attributes: Attributes::from([("role".to_owned(), r.to_owned())]),
    }
}

fn permission(p: &str) -> Resource {
    Resource::Permission { permission: p.into() }
}

fn change(id: ResourceId, action: Action, after: Option<Resource>) -> Change {
    Change {
        address: addr(id),
        action,
        before: None,
        after,
        reason: None,
        renamed_from: None,
        renamed_to: None,
    }
}

fn team(attrs: &[(&str, &str)]) -> Resource {
    Resource::Group {
        attributes: attrs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
    }
}

#[tokio::test]
async fn a_read_gives_members_invitations_teams_and_access_at_the_formulas_cost() {
    let emu = emulator(|_| {}).await;
    let bk = provider(&emu, quick());
    let live: ResourceMap = bk.read().await.unwrap();
    assert_eq!(
        live.get(&addr(user("ada"))),
        Some(&Resource::User(Box::new(UserAttrs::new(
            "Ada Lovelace",
            "ada@acme.example"
        ))))
    );
    assert_eq!(live.get(&addr(admin("olivia"))), Some(&permission("ADMIN")));
    assert_eq!(live.get(&addr(admin("ada"))), None);
    // The pending invitation is a user with its team and role, listed as pending.
    assert!(live.contains_key(&addr(user("carol"))));
    assert_eq!(
        live.get(&addr(membership("Platform", "carol"))),
        Some(&role("MAINTAINER"))
    );
    let findings = bk.findings();
    assert_eq!(
        findings.pending,
        vec![(
            Principal::User("carol".into()),
            "the invitation to carol@acme.example has not been accepted".to_owned()
        )]
    );
    assert_eq!(
        live.get(&addr(group("Platform"))),
        Some(&team(&[
            ("description", "Runs the platform"),
            ("privacy", "VISIBLE"),
            ("default_member_role", "MEMBER"),
            ("default_team", "false"),
        ]))
    );
    assert_eq!(
        live.get(&addr(membership("Platform", "ada"))),
        Some(&role("MAINTAINER"))
    );
    assert_eq!(live.get(&addr(membership("Platform", "olivia"))), Some(&role("MEMBER")));
    assert_eq!(
        live.get(&addr(pipeline("Platform", "deploy"))),
        Some(&permission("MANAGE_BUILD_AND_READ"))
    );
    assert_eq!(
        live.get(&addr(pipeline("Web", "web"))),
        Some(&permission("BUILD_AND_READ"))
    );

    // Three queries; the points the emulator charged are the read's formula
    // (`provider::buildkite::read`): (6 + 1 + 2·3 members) + (3 + 1 + (2 + 1 + 2·1 team)
    // of the invitation) + (3 + 1 + (5 + 1 + 2·2 + 1 + 2·1) for Platform + (5 + 0 + 1 +
    // 2·1) for Web, which has no members).
    assert_eq!(bk.request_count(), 3);
    let usage = findings.usage.unwrap();
    let points = (6 + 1 + 6) + (3 + 1 + (2 + 1 + 2)) + (3 + 1 + (5 + 1 + 4 + 1 + 2) + (5 + 1 + 2));
    assert!(
        usage.contains(&format!("took 3 requests and {points} complexity points")),
        "{usage}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn teams_members_access_and_roles_are_written_in_one_batch() {
    let emu = emulator(|_| {}).await;
    let bk = provider(&emu, quick());
    bk.read().await.unwrap();
    // A new team first (its own step: what follows names it).
    let create = change(
        group("Ops"),
        Action::Create,
        Some(team(&[("description", "On call"), ("privacy", "SECRET")])),
    );
    bk.apply(std::slice::from_ref(&create)).await.unwrap();
    let batch = vec![
        change(membership("Ops", "bob"), Action::Create, Some(role("MAINTAINER"))),
        change(pipeline("Ops", "api"), Action::Create, Some(permission("READ_ONLY"))),
        change(membership("Platform", "ada"), Action::Update, Some(role("MEMBER"))),
        change(
            pipeline("Platform", "deploy"),
            Action::Update,
            Some(permission("READ_ONLY")),
        ),
        change(admin("bob"), Action::Create, Some(permission("ADMIN"))),
        change(
            group("Web"),
            Action::Update,
            Some(team(&[("default_member_role", "MAINTAINER")])),
        ),
        change(pipeline("Web", "web"), Action::Delete, None),
    ];
    let before = bk.request_count();
    bk.apply(&batch).await.unwrap();
    // The pipeline look-up and the document.
    assert_eq!(bk.request_count() - before, 2);

    let live = bk.read().await.unwrap();
    assert_eq!(
        live.get(&addr(group("Ops"))),
        Some(&team(&[
            ("description", "On call"),
            ("privacy", "SECRET"),
            ("default_member_role", "MEMBER"),
            ("default_team", "false"),
        ]))
    );
    assert_eq!(live.get(&addr(membership("Ops", "bob"))), Some(&role("MAINTAINER")));
    assert_eq!(live.get(&addr(pipeline("Ops", "api"))), Some(&permission("READ_ONLY")));
    assert_eq!(live.get(&addr(membership("Platform", "ada"))), Some(&role("MEMBER")));
    assert_eq!(
        live.get(&addr(pipeline("Platform", "deploy"))),
        Some(&permission("READ_ONLY"))
    );
    assert_eq!(live.get(&addr(admin("bob"))), Some(&permission("ADMIN")));
    // The team update sent back what it did not change.
    assert_eq!(
        live.get(&addr(group("Web"))),
        Some(&team(&[
            ("description", ""),
            ("privacy", "SECRET"),
            ("default_member_role", "MAINTAINER"),
            ("default_team", "false"),
        ]))
    );
    assert_eq!(live.get(&addr(pipeline("Web", "web"))), None);

    // Demoting and removing, and the team deleted with what it had.
    let batch = vec![
        change(admin("bob"), Action::Delete, None),
        change(membership("Platform", "olivia"), Action::Delete, None),
        change(group("Ops"), Action::Delete, None),
    ];
    bk.apply(&batch).await.unwrap();
    let live = bk.read().await.unwrap();
    assert_eq!(live.get(&addr(admin("bob"))), None);
    assert_eq!(live.get(&addr(membership("Platform", "olivia"))), None);
    assert!(!live.contains_key(&addr(group("Ops"))));
    emu.shutdown().await;
}

#[tokio::test]
async fn an_invitation_carries_its_teams_and_role_and_accepting_it_makes_a_member() {
    let emu = emulator(|_| {}).await;
    let bk = provider(&emu, quick());
    bk.read().await.unwrap();
    let invite = vec![
        change(
            user("dan"),
            Action::Create,
            Some(Resource::User(Box::new(UserAttrs::new("Dan", "dan@acme.example")))),
        ),
        change(membership("Web", "dan"), Action::Create, Some(role("MAINTAINER"))),
        change(admin("dan"), Action::Create, Some(permission("ADMIN"))),
    ];
    let before = bk.request_count();
    bk.apply(&invite).await.unwrap();
    assert_eq!(bk.request_count() - before, 1, "one document");
    let live = bk.read().await.unwrap();
    assert_eq!(live.get(&addr(membership("Web", "dan"))), Some(&role("MAINTAINER")));
    assert_eq!(live.get(&addr(admin("dan"))), Some(&permission("ADMIN")));
    assert!(bk.findings().pending.contains(&(
        Principal::User("dan".into()),
        "the invitation to dan@acme.example has not been accepted".to_owned()
    )));

    // Accepted: a member, nothing pending for them.
    emu.shared
        .with_state(|s| s.accept_invitation("dan@acme.example", "Dan Dare").unwrap());
    let live = bk.read().await.unwrap();
    assert!(!bk.findings().pending.iter().any(|(p, _)| p.name() == "dan"));
    assert_eq!(live.get(&addr(membership("Web", "dan"))), Some(&role("MAINTAINER")));

    // Revoking carol's invitation removes her.
    bk.apply(&[change(user("carol"), Action::Delete, None)]).await.unwrap();
    let live = bk.read().await.unwrap();
    assert!(!live.contains_key(&addr(user("carol"))));
    emu.shutdown().await;
}

#[tokio::test]
async fn the_vendors_errors_fail_their_own_changes_and_the_token_owner_is_kept() {
    let emu = emulator(|_| {}).await;
    let bk = provider(&emu, quick());
    bk.read().await.unwrap();
    let batch = vec![
        // Buildkite refuses a second team of the same name: that change fails alone.
        change(group("Platform Copy"), Action::Create, Some(team(&[]))),
        change(group("platform"), Action::Create, Some(team(&[]))),
        change(membership("Web", "ada"), Action::Create, Some(role("MEMBER"))),
        // The token's own account is never demoted.
        change(admin("olivia"), Action::Delete, None),
    ];
    let Err(ProviderError::Partial { failures, .. }) = bk.apply(&batch).await else {
        panic!("expected a partial failure");
    };
    let failed: Vec<usize> = failures.iter().map(|(i, _)| *i).collect();
    assert_eq!(failed, [1, 3], "{failures:?}");
    assert!(failures[1].1.contains("the API token belongs to"), "{failures:?}");
    assert!(!failures[0].1.is_empty());
    let live = bk.read().await.unwrap();
    assert!(live.contains_key(&addr(group("Platform Copy"))));
    assert_eq!(live.get(&addr(membership("Web", "ada"))), Some(&role("MEMBER")));
    assert_eq!(live.get(&addr(admin("olivia"))), Some(&permission("ADMIN")));
    emu.shutdown().await;
}

#[tokio::test]
async fn teams_are_enabled_before_the_first_team_is_made() {
    let emu = emulator(|s| {
        s.organization.teams_enabled = false;
        s.teams.clear();
        s.invitations.clear();
    })
    .await;
    let bk = provider(&emu, quick());
    bk.read().await.unwrap();
    assert_eq!(bk.request_count(), 2, "no teams query while teams are off");
    bk.apply(&[change(group("Ops"), Action::Create, Some(team(&[])))])
        .await
        .unwrap();
    let live = bk.read().await.unwrap();
    assert!(live.contains_key(&addr(group("Ops"))));
    emu.shutdown().await;
}

#[tokio::test]
async fn a_small_window_is_waited_out_rather_than_run_into() {
    let emu = emulator(|s| {
        s.limits.user_points = 40;
        s.limits.window_seconds = 2;
    })
    .await;
    let bk = provider(&emu, quick());
    let started = std::time::Instant::now();
    let live = bk.read().await.unwrap();
    assert!(live.contains_key(&addr(group("Web"))));
    // A 429 would have been retried.
    assert_eq!(bk.retry_count(), 0);
    assert!(started.elapsed() >= Duration::from_secs(1), "it waited for a reset");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_lost_answer_is_read_back_and_not_sent_twice() {
    let emu = emulator(|_| {}).await;
    let bk = provider(&emu, quick());
    bk.read().await.unwrap();
    // Every answer lost after the request was handled, for the first mutation.
    emu.shared
        .instruments()
        .set_faults(FaultConfig {
            seed: 7,
            dropped: 1.0,
            ..FaultConfig::default()
        })
        .unwrap();
    let batch = [change(membership("Web", "bob"), Action::Create, Some(role("MEMBER")))];
    // Faults off once one answer was lost, so the read-back gets through.
    let outcome = tokio::spawn({
        let shared = emu.shared.clone();
        async move {
            while shared.instruments().fault_counts().total() == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            shared.instruments().set_faults(FaultConfig::default()).unwrap();
        }
    });
    let result = bk.apply(&batch).await;
    outcome.await.unwrap();
    result.unwrap();
    let live = bk.read().await.unwrap();
    assert_eq!(live.get(&addr(membership("Web", "bob"))), Some(&role("MEMBER")));
    let state = emu.shared.state();
    let web = state.teams.iter().find(|t| t.name == "Web").unwrap();
    assert_eq!(web.members.len(), 1, "added once");
    emu.shutdown().await;
}

/// A provider of organization `organization` as `account`, the rest as [`provider`].
fn provider_of(emu: &RunningEmulator, organization: &str, account: Option<&str>, tuning: Tuning) -> Buildkite {
    let settings = Settings {
        target: "bk".into(),
        organization: organization.into(),
        account: account.map(str::to_owned),
        sso_assigns: Vec::new(),
        scope: scope(),
    };
    let base = url::Url::parse(&emu.base_url).unwrap();
    Buildkite::new(settings, base, Some(Auth::Bearer(TOKEN.to_owned().into())), 4, tuning).unwrap()
}

/// The faults `config` (its rates) with the first seed whose first request draws `first`
/// and whose next `clean` requests draw none: a fault exactly where a test wants it.
fn faults_at(config: FaultConfig, first: Fault, clean: u64) -> FaultConfig {
    (0..)
        .map(|seed| FaultConfig { seed, ..config.clone() })
        .find(|c| c.fault_for(0) == Some(first) && (1..=clean).all(|n| c.fault_for(n).is_none()))
        .unwrap()
}

fn members_of(emu: &RunningEmulator, team: &str) -> Vec<String> {
    let state = emu.shared.state();
    let team = state.teams.iter().find(|t| t.name == team).unwrap();
    team.members.iter().map(|m| m.email.clone()).collect()
}

/// Another client of the token's user spends the window the provider last saw room in:
/// its next query is refused with 429 and goes again once `RateLimit-Reset` has passed.
/// A mutation refused so is sent again without reading back: Buildkite rejects a request
/// over either limit before running it ("A request is rejected if either is exceeded",
/// the resource limits page), so nothing can have landed.
#[tokio::test]
async fn a_window_another_client_used_up_is_waited_out_after_its_429() {
    let emu = emulator(|s| s.limits.window_seconds = 2).await;
    let bk = provider(&emu, quick());
    bk.read().await.unwrap();
    let spend = || emu.shared.with_state(|s| emu.shared.emulator().spend(s, 100_000));

    spend();
    let started = std::time::Instant::now();
    let live = bk.read().await.unwrap();
    assert!(live.contains_key(&addr(group("Web"))));
    assert_eq!(bk.retry_count(), 1, "one 429, then the query again");
    assert!(started.elapsed() >= Duration::from_secs(1), "it waited for the reset");

    spend();
    let before = bk.request_count();
    bk.apply(&[change(membership("Web", "bob"), Action::Create, Some(role("MEMBER")))])
        .await
        .unwrap();
    assert_eq!(bk.request_count() - before, 2, "refused, then sent again: no read-back");
    assert_eq!(bk.retry_count(), 2);
    assert_eq!(members_of(&emu, "Web"), ["bob@acme.example"]);
    emu.shutdown().await;
}

/// A query Buildkite answers HTTP 200 with `errors` fails with the vendor's words and the
/// target's name, is not retried (it would be refused again), and carries no token; an
/// organization the token cannot see (`organization` null) is named.
#[tokio::test]
async fn a_query_answered_200_with_errors_fails_with_the_vendors_words() {
    let emu = emulator(|s| s.limits.max_complexity = 1_000).await;
    let bk = provider(&emu, quick());
    let error = bk.read().await.unwrap_err().to_string();
    assert!(error.starts_with("bk: "), "{error}");
    assert!(
        error.contains("HTTP 200 with errors: Query has complexity of 1007, which exceeds max complexity of 1000"),
        "{error}"
    );
    assert!(!error.contains(TOKEN), "{error}");
    assert_eq!((bk.request_count(), bk.retry_count()), (1, 0));
    emu.shutdown().await;

    let emu = emulator(|_| {}).await;
    let bk = provider_of(&emu, "acme-typo", Some("olivia"), quick());
    let error = bk.read().await.unwrap_err().to_string();
    assert!(error.starts_with("bk: "), "{error}");
    assert!(
        error.contains("no organization `acme-typo` that this token can see"),
        "{error}"
    );
    assert!(!error.contains(TOKEN), "{error}");
    emu.shutdown().await;
}

/// A mutation's answer lost on the way back: the organization is read back; a change the
/// read shows done is not sent again (the connection dropped after the emulator ran it),
/// one it does not show is sent again, once (dropped before it ran).
#[tokio::test]
async fn a_lost_answer_is_sent_again_only_when_reading_back_finds_it_not_done() {
    for (fault, landed) in [(Fault::DroppedBefore, false), (Fault::DroppedAfter, true)] {
        let emu = emulator(|_| {}).await;
        let bk = provider(&emu, quick());
        bk.read().await.unwrap();
        let faults = faults_at(
            FaultConfig {
                dropped: 0.5,
                ..FaultConfig::default()
            },
            fault,
            8,
        );
        emu.shared.instruments().set_faults(faults).unwrap();
        let before = bk.request_count();
        bk.apply(&[change(membership("Web", "bob"), Action::Create, Some(role("MEMBER")))])
            .await
            .unwrap();
        // The document, the read back (three queries), and the document again only if
        // it had not landed.
        assert_eq!(bk.request_count() - before, 1 + 3 + usize::from(!landed), "{fault:?}");
        assert_eq!(emu.shared.instruments().fault_counts().total(), 1, "{fault:?}");
        assert_eq!(members_of(&emu, "Web"), ["bob@acme.example"], "{fault:?}");
        emu.shutdown().await;
    }
}

/// A 503 on a read is retried; a mutation whose answer does not come within the attempt's
/// time is read back rather than sent again blind, and sent again once the read shows it
/// not done.
#[tokio::test]
async fn a_503_on_a_read_is_retried_and_a_timed_out_mutation_is_read_back() {
    let emu = emulator(|_| {}).await;
    let mut tuning = quick();
    tuning.retry.attempt_timeout = Duration::from_millis(300);
    let bk = provider(&emu, tuning);
    let faults = faults_at(
        FaultConfig {
            unavailable: 0.5,
            retry_after_secs: 0,
            ..FaultConfig::default()
        },
        Fault::Unavailable,
        8,
    );
    emu.shared.instruments().set_faults(faults).unwrap();
    let live = bk.read().await.unwrap();
    assert!(live.contains_key(&addr(group("Web"))));
    assert_eq!((bk.request_count(), bk.retry_count()), (4, 1), "the 503 sent again");

    // The mutation's answer takes 1.5 s, past the attempt's 300 ms; the requests after it
    // are answered at once.
    emu.shared
        .instruments()
        .set_faults(FaultConfig {
            latency_ms: 1_500,
            ..FaultConfig::default()
        })
        .unwrap();
    let clear = tokio::spawn({
        let shared = emu.shared.clone();
        async move {
            while shared.instruments().fault_counts().requests == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            shared.instruments().set_faults(FaultConfig::default()).unwrap();
        }
    });
    let before = (bk.request_count(), bk.retry_count());
    bk.apply(&[change(membership("Web", "bob"), Action::Create, Some(role("MEMBER")))])
        .await
        .unwrap();
    clear.await.unwrap();
    // Not sent again by the client: the document, the read back, and the document again
    // (which counts as the one retry).
    assert_eq!(bk.request_count() - before.0, 1 + 3 + 1);
    assert_eq!(bk.retry_count() - before.1, 1);
    // The late first copy, had it run, would find bob a member already.
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    assert_eq!(members_of(&emu, "Web"), ["bob@acme.example"]);
    emu.shutdown().await;
}
