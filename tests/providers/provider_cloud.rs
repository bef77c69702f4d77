//! The Bitbucket Cloud provider against the Atlassian Cloud emulator over real HTTP: a
//! seeded workspace read, planned and applied; what a read costs against the account's
//! hourly budget; the owner's note and a person not in the workspace held; a group the
//! directory made moments ago; a token without the write scopes stopped before any
//! change; and Bitbucket's 429 without `Retry-After`.

use std::path::Path;
use std::time::Duration;

use rollcall::apply::{execute, ApplyReport};
use rollcall::desired::ReadScope;
use rollcall::http::{Auth, Budget};
use rollcall::model::{Address, Principal, Resource, ResourceId, Scope};
use rollcall::plan::{Action, Change, Plan};
use rollcall::provider::bitbucket_cloud::{BitbucketCloud, Tuning};
use rollcall::provider::Provider as _;
use rollcall::sandbox::atlassian_cloud::{serve, CloudState, RunningEmulator, Shared};
use rollcall::sandbox::state::StateFile as _;

const TOKEN: &str = "cloud-provider-token-7c2e";
const EMAIL: &str = "oscar@acme.example";

fn fixture() -> CloudState {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/atlassian-cloud-sandbox.yaml"
    );
    CloudState::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn emulator(edit: impl FnOnce(&mut CloudState)) -> RunningEmulator {
    let mut state = fixture();
    edit(&mut state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(Shared::new(state, TOKEN.to_owned()), listener).await.unwrap()
}

const PEOPLE: &str = "users:
  ada: { name: Ada Owner, email: ada@acme.example }
  alice: { name: Alice Liddell, email: alice@acme.example }
  dave: { name: Dave Lister, email: dave@acme.example }
  erin: { name: Erin Brockovich, email: ERIN@acme.example }
  mallory: { name: Mallory Outsider, email: mallory@acme.example }
groups:
  Platform Team: { members: [alice] }
  backend: { members: [] }
policy:
  prune: { permissions: true }
  limits: { max_delete_percent: 100 }
";

/// The seeded workspace's PLAT project: the owner, a grant changed, one added, one
/// pruned, a person outside the workspace, and a repository grant below the project's.
const ACCESS: &str = "access:
  bb:
    projects:
      PLAT:
        groups: { Platform Team: admin }
        users: { alice: write, dave: read, ada: admin }
        repos:
          infra:
            groups: { backend: read }
            users: { mallory: read }
          tools:
            users: { alice: read }
";

/// Writes a manifest for one Bitbucket Cloud target on the emulator, and resolves it.
fn manifest(dir: &Path, url: &str, body: &str) -> rollcall::desired::Desired {
    std::fs::write(dir.join("token"), TOKEN).unwrap();
    let targets = format!(
        "targets:\n  bb:\n    kind: bitbucket-cloud\n    url: {url}\n    workspace: acme\n    auth: {{ username: {EMAIL}, token: \"${{file:token}}\" }}\n"
    );
    std::fs::write(dir.join("targets.yaml"), targets).unwrap();
    std::fs::write(dir.join("manifest.yaml"), body).unwrap();
    match rollcall::engine::load(dir) {
        Ok(d) => d,
        Err(e) => panic!("manifest did not load: {e:?}"),
    }
}

/// Reads and plans; returns the plan and the requests the read sent.
async fn plan(desired: &rollcall::desired::Desired) -> (Plan, usize) {
    let (plan, requests, _) = plan_with_usage(desired).await;
    (plan, requests)
}

/// [`plan`], with what the read says it cost against the hour's budget.
async fn plan_with_usage(desired: &rollcall::desired::Desired) -> (Plan, usize, String) {
    let live = rollcall::engine::read(desired).await.unwrap();
    let plan = rollcall::engine::plan(desired, &live).unwrap();
    let requests = live.connected.providers["bb"].request_count();
    let usage = live
        .findings
        .get("bb")
        .and_then(|f| f.usage.clone())
        .unwrap_or_default();
    live.connected.shutdown().await;
    (plan, requests, usage)
}

/// Reads, plans and applies; returns the plan and the report.
async fn plan_and_apply(desired: &rollcall::desired::Desired) -> (Plan, ApplyReport) {
    let live = rollcall::engine::read(desired).await.unwrap();
    let plan = rollcall::engine::plan(desired, &live).unwrap();
    let reviewed = match plan.review(&live.connected.accounts, &live.states, None) {
        Ok(reviewed) => reviewed,
        Err(refused) => panic!("{:#?}", refused.0.refusals),
    };
    let report = execute(&reviewed, &live.connected.providers, 4, |_, _| {}).await;
    live.connected.shutdown().await;
    (reviewed.into_plan(), report)
}

fn lines(plan: &Plan) -> Vec<String> {
    plan.changes
        .iter()
        .map(|c| format!("{} {}", c.action.symbol(), c.address))
        .collect()
}

fn failures(report: &ApplyReport) -> Vec<String> {
    report
        .outcomes
        .iter()
        .filter(|(_, o)| !o.done())
        .map(|(c, o)| format!("{}: {o:?}", c.address))
        .collect()
}

/// The requests a read takes at least, every list fitting one page: the token's account,
/// one members query per 90 people, the owner, and two lists per named project and
/// repository.
fn minimum_read(people: usize, scopes: usize) -> usize {
    1 + people.div_ceil(90) + 1 + 2 * scopes
}

#[tokio::test]
async fn a_seeded_workspace_is_read_planned_applied_and_then_in_step() {
    let bb = emulator(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let desired = manifest(dir.path(), &bb.base_url, &format!("{PEOPLE}{ACCESS}"));

    let (first, requests, usage) = plan_with_usage(&desired).await;
    // 5 people, PLAT, PLAT/infra and PLAT/tools.
    assert_eq!(requests, minimum_read(5, 3));
    let changes = lines(&first);
    assert_eq!(
        changes,
        [
            "- bb.repo[\"PLAT/infra\"].user[\"erin\"]",
            "+ bb.project[\"PLAT\"].user[\"alice\"]",
            "~ bb.project[\"PLAT\"].user[\"dave\"]",
            "~ bb.repo[\"PLAT/infra\"].group[\"backend\"]",
            "+ bb.repo[\"PLAT/tools\"].user[\"alice\"]",
        ]
        .map(str::to_owned)
        .to_vec(),
        "{changes:#?}"
    );
    let notes: Vec<&str> = first.notes.iter().map(|n| n.text.as_str()).collect();
    let said = |what: &str| notes.iter().any(|n| n.contains(what));
    assert!(said("the workspace owner"), "{notes:#?}");
    assert!(
        said("no effect: user `alice` has `write` on project PLAT"),
        "{notes:#?}"
    );
    assert!(
        usage.contains("took 9 requests of the account's 1,000 an hour"),
        "{usage}"
    );
    assert!(
        !said("requests"),
        "what a read cost is said beside the plan, not in it: {notes:#?}"
    );
    assert!(said("platform-team") || said("backend"), "{notes:#?}");
    let held: Vec<String> = first.held.iter().map(|h| h.change.address.to_string()).collect();
    assert_eq!(held, ["bb.repo[\"PLAT/infra\"].user[\"mallory\"]"], "{:#?}", first.held);
    assert!(first.held[0].hint.contains("Atlassian Administration"));

    let (_, report) = plan_and_apply(&desired).await;
    assert!(failures(&report).is_empty(), "{:#?}", failures(&report));
    let state = bb.shared.state();
    let plat = &state.workspace.projects[0];
    assert_eq!(plat.users.get("557058:0000-alice").map(|l| l.as_str()), Some("write"));
    assert_eq!(plat.users.get("557058:0000-dave").map(|l| l.as_str()), Some("read"));
    assert!(!plat.users.contains_key("557058:0000-ada"));
    assert!(!plat.repos[0].users.contains_key("557058:0000-erin"));

    let (again, _) = plan(&desired).await;
    assert!(again.changes.is_empty(), "{:#?}", lines(&again));
    bb.shutdown().await;
}

/// A token that may read but not change permissions: the preflight's checks on a group
/// slug that cannot exist answer 401, and the apply stops before its first change,
/// naming the scopes.
#[tokio::test]
async fn a_token_without_the_write_scopes_stops_the_apply_before_any_change() {
    let bb = emulator(|s| {
        s.scopes = Some(
            [
                "read:user:bitbucket",
                "read:workspace:bitbucket",
                "read:project:bitbucket",
                "read:repository:bitbucket",
            ]
            .map(str::to_owned)
            .to_vec(),
        );
    })
    .await;
    let before = bb.shared.state();
    let dir = tempfile::tempdir().unwrap();
    let desired = manifest(dir.path(), &bb.base_url, &format!("{PEOPLE}{ACCESS}"));
    let (plan, report) = plan_and_apply(&desired).await;
    assert_eq!(plan.changes.len(), 5);
    assert_eq!(report.applied(), 0);
    let errors: Vec<String> = report
        .outcomes
        .iter()
        .filter_map(|(_, o)| match o {
            rollcall::apply::Outcome::Blocked(e) => Some(e.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 5, "every change blocked: {errors:#?}");
    let error = &errors[0];
    for needed in [
        "admin:project:bitbucket and write:permission:bitbucket",
        "admin:repository:bitbucket and delete:permission:bitbucket",
        "Token is invalid",
        "nothing was applied",
    ] {
        assert!(error.contains(needed), "{needed} missing from {error}");
    }
    // Nothing changed, and no group was granted anything by the check.
    let after = bb.shared.state();
    assert_eq!(
        serde_json::to_value(&before.workspace).unwrap(),
        serde_json::to_value(&after.workspace).unwrap()
    );
    bb.shutdown().await;
}

/// Bitbucket's 429 is `text/plain` without `Retry-After`: the client backs off on its
/// own and the read and the apply still complete.
#[tokio::test]
async fn a_429_without_retry_after_is_waited_out() {
    let bb = emulator(|s| {
        s.rate_limit = Some(rollcall::sandbox::atlassian_cloud::state::RateLimit {
            requests: 4,
            per_seconds: 2,
        });
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let desired = manifest(dir.path(), &bb.base_url, &format!("{PEOPLE}{ACCESS}"));
    let live = rollcall::engine::read(&desired).await.unwrap();
    let retries = live.connected.providers["bb"].retry_count();
    assert!(retries > 0, "the limiter never answered 429");
    let plan = rollcall::engine::plan(&desired, &live).unwrap();
    assert_eq!(plan.changes.len(), 5);
    live.connected.shutdown().await;
    bb.shutdown().await;
}

/// A group the directory made moments ago is not visible in Bitbucket yet: its grant
/// is tried again until it is, then applied.
#[tokio::test]
async fn a_group_made_moments_ago_is_granted_once_bitbucket_sees_it() {
    let bb = emulator(|s| s.propagation_ms = 2500).await;
    let dir = tempfile::tempdir().unwrap();
    let people = PEOPLE.replace(
        "  backend: { members: [] }\n",
        "  backend: { members: [] }\n  Late Team: { members: [] }\n",
    );
    let body = format!("{people}access:\n  bb:\n    projects:\n      WEB:\n        groups: {{ Late Team: write }}\n");
    let desired = manifest(dir.path(), &bb.base_url, &body);
    bb.shared.with_state(|s| {
        s.groups
            .push(rollcall::sandbox::atlassian_cloud::state::DirectoryGroup {
                id: "a1000000-0000-4000-8000-0000000000ff".to_owned(),
                name: "Late Team".to_owned(),
                description: None,
                synced: false,
                members: Vec::new(),
            });
        s.clock.created.insert(
            "a1000000-0000-4000-8000-0000000000ff".to_owned(),
            std::time::Instant::now(),
        );
    });
    let (plan, report) = plan_and_apply(&desired).await;
    assert_eq!(lines(&plan), ["+ bb.project[\"WEB\"].group[\"Late Team\"]"]);
    assert!(failures(&report).is_empty(), "{:#?}", failures(&report));
    let state = bb.shared.state();
    let web = state.workspace.projects.iter().find(|p| p.key == "WEB").unwrap();
    assert_eq!(web.groups.get("late-team").map(|l| l.as_str()), Some("write"));
    bb.shutdown().await;
}

/// The provider on its own, with a short wait for principals and no pacing.
fn provider(
    bb: &RunningEmulator,
    people: &[(&str, &str)],
    projects: &[&str],
    edit: impl FnOnce(&mut Tuning),
) -> BitbucketCloud {
    let auth = Auth::Basic {
        username: EMAIL.to_owned(),
        token: secrecy::SecretString::from(TOKEN),
    };
    provider_as(bb, auth, people, projects, edit)
}

fn provider_as(
    bb: &RunningEmulator,
    auth: Auth,
    people: &[(&str, &str)],
    projects: &[&str],
    edit: impl FnOnce(&mut Tuning),
) -> BitbucketCloud {
    let mut scope = ReadScope::default();
    for (name, email) in people {
        scope.people.insert((*name).to_owned(), (*email).to_owned());
    }
    for key in projects {
        scope.scopes.insert(Scope::root().child("project", key));
    }
    // As where permissions are pruned: every named scope's lists.
    scope.all_grants = true;
    let mut tuning = Tuning {
        budget: None,
        visible_wait: Duration::from_secs(2),
        visible_step: Duration::from_millis(200),
        ..Tuning::vendor()
    };
    edit(&mut tuning);
    let base = url::Url::parse(&bb.base_url).unwrap();
    BitbucketCloud::new("bb", base, Some(auth), "acme", scope, 4, tuning).unwrap()
}

fn grant(project: &str, principal: Principal, permission: &str) -> Change {
    Change {
        address: Address::new(
            "bb",
            ResourceId::Grant {
                scope: Scope::root().child("project", project),
                principal,
            },
        ),
        action: Action::Create,
        before: None,
        after: Some(Resource::Permission {
            permission: permission.to_owned(),
        }),
        reason: None,
        renamed_from: None,
        renamed_to: None,
    }
}

/// A person the read did not find (the directory target gives them access in the same
/// apply) is looked up by email when their grant is sent, until they are visible; one
/// who never shows fails with what to do.
#[tokio::test]
async fn a_person_given_access_after_the_read_is_found_by_email_when_granted() {
    let bb = emulator(|_| {}).await;
    let people = [("mallory", "mallory@acme.example"), ("zed", "zed@acme.example")];
    let p = provider(&bb, &people, &["WEB"], |_| {});
    let live = p.read().await.unwrap();
    assert!(
        !live.keys().any(|a| matches!(a.id, ResourceId::User { .. })),
        "{live:#?}"
    );
    let shared = bb.shared.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        shared.with_state(|s| s.workspace.members.push("557058:0000-mallory".to_owned()));
    });
    let mallory = grant("WEB", Principal::User("mallory".into()), "read");
    p.apply(std::slice::from_ref(&mallory)).await.unwrap();
    let state = bb.shared.state();
    let web = state.workspace.projects.iter().find(|p| p.key == "WEB").unwrap();
    assert_eq!(web.users.get("557058:0000-mallory").map(|l| l.as_str()), Some("read"));

    let zed = grant("WEB", Principal::User("zed".into()), "read");
    let error = p.apply(std::slice::from_ref(&zed)).await.unwrap_err().to_string();
    assert!(error.contains("not visible in workspace `acme` yet"), "{error}");
    bb.shutdown().await;
}

/// More than an hour's requests is no reason to refuse: the pacer spreads them. A read
/// that, paced, could not finish within the most an operation may take fails before its
/// first request, saying what it would take.
#[tokio::test]
async fn a_read_that_cannot_finish_in_time_fails_at_once() {
    let bb = emulator(|_| {}).await;
    // Over a (shrunk) hour's quota, unpaced: read all the same.
    let p = provider(&bb, &[("alice", "alice@acme.example")], &["PLAT", "WEB"], |t| {
        t.quota = 5
    });
    p.read().await.unwrap();
    assert_eq!(p.request_count(), minimum_read(1, 2));
    // At the vendor's pace, a read within the burst goes at once, however short the
    // deadline.
    let p = provider(&bb, &[], &["PLAT", "WEB"], |t| {
        t.budget = Tuning::vendor().budget;
        t.deadline = Duration::from_secs(1);
        t.quota = 1000;
    });
    assert!(p.read().await.is_ok(), "6 requests fit in the burst");
    // One that, paced, would take longer than the most an operation may take is refused
    // before its first request. (The projects need not exist: nothing is sent.)
    let keys: Vec<String> = (0..30).map(|i| format!("P{i}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let p = provider(&bb, &[], &keys, |t| {
        t.budget = Tuning::vendor().budget;
        t.deadline = Duration::from_secs(10);
        t.max_deadline = Duration::from_secs(30);
        t.quota = 1000;
    });
    let error = p.read().await.unwrap_err().to_string();
    assert!(
        error.contains(
            "at least 62 requests, which at the pace of 1000 an hour take 45 s, longer than the 30 s it may take"
        ),
        "{error}"
    );
    assert_eq!(p.request_count(), 0);
    bb.shutdown().await;
}

/// The time a read waits for its turn under the budget does not count against its
/// deadline, so a large workspace paced to the hour is read in full; the most an operation
/// may take, waits included, still stops it.
#[tokio::test]
async fn a_paced_read_outlasts_the_deadline_but_not_the_maximum() {
    let bb = emulator(|_| {}).await;
    // 7 requests, one every 100 ms: about 600 ms, twice the deadline.
    let pace = |t: &mut Tuning| {
        t.budget = Some(Budget::per(10, Duration::from_secs(1)));
        t.deadline = Duration::from_millis(300);
    };
    let p = provider(&bb, &[("alice", "alice@acme.example")], &["PLAT", "WEB"], pace);
    let start = std::time::Instant::now();
    p.read().await.unwrap();
    assert_eq!(p.request_count(), minimum_read(1, 2));
    assert!(start.elapsed() >= Duration::from_millis(600), "{:?}", start.elapsed());

    let p = provider(&bb, &[("alice", "alice@acme.example")], &["PLAT", "WEB"], |t| {
        pace(t);
        t.max_deadline = Duration::from_millis(400);
    });
    let error = p.read().await.unwrap_err().to_string();
    assert!(
        error.contains("deadline passed: reading this target has taken 400 ms, the most one operation may take even while it waits for the request budget"),
        "{error}"
    );
    assert!(p.request_count() < minimum_read(1, 2), "{}", p.request_count());
    bb.shutdown().await;
}

/// A read refused for a missing scope names the scope the call needs (Bitbucket says
/// only "invalid token"); an access token is told it cannot manage permissions at all.
#[tokio::test]
async fn a_refused_read_names_the_scope_or_the_credential_it_needs() {
    let bb = emulator(|s| {
        s.scopes = Some(
            ["read:user:bitbucket", "read:workspace:bitbucket"]
                .map(str::to_owned)
                .to_vec(),
        );
    })
    .await;
    let error = provider(&bb, &[], &["PLAT"], |_| {})
        .read()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("read:project:bitbucket"), "{error}");
    assert!(error.contains("when a scope is missing"), "{error}");
    assert!(!error.contains(TOKEN), "{error}");

    let bearer = Auth::Bearer(secrecy::SecretString::from(TOKEN));
    let error = provider_as(&bb, bearer, &[], &["PLAT"], |_| {})
        .read()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("access tokens cannot manage permissions"), "{error}");
    bb.shutdown().await;
}

/// Without pruning, a named scope that declares no grants has nothing the plan could
/// change: its lists are not read. An offboarded person brings back the users lists of
/// every named scope, since their every grant is revoked.
#[tokio::test]
async fn a_named_scope_without_grants_is_read_only_when_the_plan_can_use_it() {
    let bb = emulator(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let people = "users:\n  alice: { name: Alice Liddell, email: alice@acme.example }\n  erin: { name: Erin Brockovich, email: erin@acme.example }\n";
    let access = "access:\n  bb:\n    projects:\n      PLAT:\n        repos:\n          tools:\n            users: { alice: read }\n";
    let desired = manifest(dir.path(), &bb.base_url, &format!("{people}{access}"));
    let (planned, requests) = plan(&desired).await;
    // PLAT is named but declares nothing: only PLAT/tools' two lists.
    assert_eq!(
        requests,
        minimum_read(2, 1),
        "{:#?}",
        bb.shared.instruments().requests()
    );
    assert_eq!(lines(&planned), ["+ bb.repo[\"PLAT/tools\"].user[\"alice\"]"]);

    let offboarded = people.replace("erin@acme.example }", "erin@acme.example, active: false }");
    let access = "access:\n  bb:\n    projects:\n      PLAT:\n        repos:\n          infra: {}\n          tools:\n            users: { alice: read }\n";
    let desired = manifest(dir.path(), &bb.base_url, &format!("{offboarded}{access}"));
    let (planned, requests) = plan(&desired).await;
    // PLAT's and PLAT/infra's users lists too, for erin's grants.
    assert_eq!(requests, minimum_read(2, 1) + 2);
    assert_eq!(
        lines(&planned),
        [
            "- bb.repo[\"PLAT/infra\"].user[\"erin\"]",
            "+ bb.repo[\"PLAT/tools\"].user[\"alice\"]"
        ]
    );
    bb.shutdown().await;
}

/// A grant that would give access to more people than the plan's user limit answers
/// 402: its own error, sent once.
#[tokio::test]
async fn a_grant_past_the_plans_user_limit_fails_once_with_what_to_do() {
    let bb = emulator(|s| {
        s.seat_limit = Some(1);
        s.groups
            .push(rollcall::sandbox::atlassian_cloud::state::DirectoryGroup {
                id: "a1000000-0000-4000-8000-0000000000ee".to_owned(),
                name: "outsiders".to_owned(),
                description: None,
                synced: false,
                members: vec!["557058:0000-mallory".to_owned()],
            });
    })
    .await;
    let p = provider(&bb, &[], &["WEB"], |_| {});
    p.read().await.unwrap();
    let before = p.request_count();
    let change = grant("WEB", Principal::Group("outsiders".into()), "read");
    let error = p.apply(std::slice::from_ref(&change)).await.unwrap_err().to_string();
    assert!(error.contains("no seat left"), "{error}");
    assert!(error.contains("user limit"), "{error}");
    assert_eq!(p.request_count() - before, 1);
    bb.shutdown().await;
}
