//! The provider contract: the promises every provider keeps, checked against every target
//! it can meet (its emulator and, where one exists, a third-party server). A fresh target
//! reads; what a manifest creates, updates, takes away, deletes and renames is applied,
//! and the next plan is empty; a read costs a few bulk lists and an apply from empty a
//! request per object, both as derived from the platform's description.
//!
//! The suite talks to rollcall as a user does: it writes manifests to a directory, plans
//! and applies with the library's public functions, and reads each plan as the JSON
//! document `plan --json` prints. What it expects is stated in its own terms (`org`) and
//! in what the platform can do (`targets::Platform`), so a provider joins it with a
//! `targets` function and a line in `contract!` below. This module drives rollcall;
//! `cases` holds the cases.

mod cases;
mod org;
mod targets;

use rollcall::apply::execute;
use serde_json::Value;

use org::Org;
use targets::Target;

/// The target's name in every manifest the suite writes.
pub const TARGET: &str = "target";

/// One change of a plan, as the JSON document has it.
#[derive(Debug, Clone)]
struct Change {
    action: String,
    address: String,
    reason: Option<String>,
    renamed_from: Option<String>,
    renamed_to: Option<String>,
    after: Value,
}

impl Change {
    fn line(&self) -> String {
        let sign = match self.action.as_str() {
            "create" => '+',
            "update" => '~',
            _ => '-',
        };
        format!("{sign} {}", self.address)
    }

    /// A deactivation: an update whose result is an inactive account.
    fn deactivates(&self) -> bool {
        self.action == "update" && self.after.get("active") == Some(&Value::Bool(false))
    }
}

/// A plan as the JSON document `plan --json` prints.
struct Doc(Value);

impl Doc {
    fn changes(&self) -> Vec<Change> {
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        self.0["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| Change {
                action: text(c, "action").unwrap(),
                address: text(c, "address").unwrap(),
                reason: text(c, "reason"),
                renamed_from: text(c, "renamed_from"),
                renamed_to: text(c, "renamed_to"),
                after: c["after"].clone(),
            })
            .collect()
    }

    fn lines(&self) -> Vec<String> {
        self.changes().iter().map(Change::line).collect()
    }

    /// (create, update, delete) over the whole plan.
    fn summary(&self) -> (u64, u64, u64) {
        let n = |k: &str| self.0["summary"][k].as_u64().unwrap();
        (n("create"), n("update"), n("delete"))
    }

    fn unmanaged(&self) -> Vec<String> {
        let all = self.0["unmanaged"].as_array().unwrap().iter();
        all.map(|u| u["address"].as_str().unwrap().to_owned()).collect()
    }
}

/// A plan made and reviewed against the target, still connected so it can be applied.
struct Planned {
    doc: Doc,
    plan: rollcall::plan::Reviewed,
    connected: rollcall::connect::Connected,
    /// Requests the read took.
    read: usize,
    _manifests: tempfile::TempDir,
}

impl Planned {
    /// Runs every change; each must be applied. Returns the plan and the requests the
    /// apply took.
    async fn apply(self) -> (Doc, usize) {
        let provider = &self.connected.providers[TARGET];
        let before = provider.request_count();
        let report = execute(&self.plan, &self.connected.providers, 4, |_, _| {}).await;
        let failures: Vec<String> = report
            .outcomes
            .iter()
            .filter(|(_, o)| !o.done())
            .map(|(c, o)| format!("{}: {o:?}", c.address))
            .collect();
        assert!(failures.is_empty(), "{failures:#?}");
        let writes = provider.request_count() - before;
        self.connected.shutdown().await;
        (self.doc, writes)
    }

    async fn close(self) {
        self.connected.shutdown().await;
    }
}

/// Writes `org` as the manifests of `target`, reads the target and plans, with the
/// safety rules checked: the contract's plans are all ones rollcall may apply.
async fn plan(target: &Target, org: &Org) -> Planned {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), &target.token).unwrap();
    std::fs::write(dir.path().join("targets.yaml"), &target.targets_yaml).unwrap();
    let manifest = org.yaml(target.platform.scopes.as_ref());
    std::fs::write(dir.path().join("manifest.yaml"), &manifest).unwrap();
    let desired = match rollcall::engine::load(dir.path()) {
        Ok(d) => d,
        Err(e) => panic!("{}: the manifest did not load: {e:?}\n{manifest}", target.label),
    };
    let rollcall::engine::Live {
        connected,
        states: live,
        findings,
    } = match rollcall::engine::read(&desired).await {
        Ok(read) => read,
        Err(e) => panic!("{}: reading failed: {e:?}", target.label),
    };
    let read = connected.providers[TARGET].request_count();
    // With what the read found (people invited and not members yet, say), as the CLI
    // plans.
    let plan = rollcall::plan::build_with(&desired, &live, &findings).unwrap();
    let plan = match plan.review(&connected.accounts, &live, None) {
        Ok(reviewed) => reviewed,
        Err(refused) => panic!("{}: refused: {:#?}", target.label, refused.0.refusals),
    };
    let doc = Doc(serde_json::from_str(&rollcall::render::json::render(&plan)).unwrap());
    Planned {
        doc,
        plan,
        connected,
        read,
        _manifests: dir,
    }
}

/// Plans `org` and applies it; returns the plan and the requests the apply took. Where
/// the platform invites people, everyone invited then accepts, as people do before the
/// next plan.
async fn apply(target: &Target, org: &Org) -> (Doc, usize) {
    let applied = plan(target, org).await.apply().await;
    if let Some(accept) = &target.accept_invitations {
        accept();
    }
    applied
}

/// Plans `org` once more: after an apply, nothing is left to do.
async fn assert_settled(target: &Target, org: &Org, after: &str) {
    let again = plan(target, org).await;
    assert!(
        again.doc.changes().is_empty(),
        "{}: the plan after {after}: {:#?}",
        target.label,
        again.doc.lines()
    );
    again.close().await;
}

/// The fixture most cases start from: the residents and the standard organisation.
fn standard(target: &Target) -> Org {
    target.residents.clone().and(Org::standard(
        target.platform.scopes.as_ref(),
        target.platform.usernames,
    ))
}

/// The standard organisation, applied.
async fn established(target: &Target) -> Org {
    let org = standard(target);
    apply(target, &org).await;
    org
}

/// One test per case and target. `emulator` targets also run the case that needs
/// injected faults.
macro_rules! contract {
    (@cases $start:expr; $($case:ident)*) => {
        $(
            #[tokio::test(flavor = "multi_thread")]
            async fn $case() {
                super::cases::$case($start.await).await;
            }
        )*
    };
    ($($kind:ident $module:ident => $start:expr;)*) => {
        $(
            mod $module {
                contract!(@cases $start;
                    a_fresh_target_reads
                    creating_everything_then_planning_again_is_empty
                    a_read_is_a_few_bulk_lists
                    updating_attributes_then_planning_again_is_empty
                    moving_members_then_planning_again_is_empty
                    offboarding_takes_access_away
                    deleting_takes_memberships_and_grants_along
                    renaming_a_group_then_planning_again_is_empty
                );
                contract!(@$kind $start);
            }
        )*
    };
    (@emulator $start:expr) => {
        contract!(@cases $start; the_contract_holds_under_injected_faults);
    };
    (@server $start:expr) => {};
}

contract! {
    emulator bitbucket_dc_emulator => super::targets::bitbucket_dc_emulator();
    emulator scim_emulator_rfc => super::targets::scim_emulator("rfc");
    emulator scim_emulator_atlassian => super::targets::scim_emulator("atlassian");
    emulator buildkite_emulator => super::targets::buildkite_emulator();
    server scim2_server => super::targets::scim2_server();
}
