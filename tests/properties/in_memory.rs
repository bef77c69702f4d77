//! What the design promises of a plan that is applied, checked over generated pairs of a
//! manifest and live state, through the in-memory provider (which refuses what a server
//! refuses, so a change out of order fails instead of passing).
//!
//! Each case writes a manifest for a Bitbucket Data Center target and a SCIM target (rfc
//! or atlassian): people (some offboarded, some with another username on one target),
//! groups (some on one target only, some renamed), access on Data Center, and a policy
//! (pruning, protected names, delete limits, minimum administrators). Live state for each
//! target is drawn from the same names and from others, some spelled in another case, with
//! memberships, grants in scopes the manifest names and in others, and project defaults
//! (`generated` draws both).
//! A manifest that does not resolve, or a plan the safety rules refuse, ends the case; the
//! others are applied, and then:
//!
//! 1. every change is applied;
//! 2. live state read again plans to nothing;
//! 3. nothing outside ownership and the prune policy changed: a live object the manifest
//!    neither declares nor owns through a declared principal, of a kind not pruned, and
//!    not hanging off a principal the plan removes or renames, is still there as it was;
//!    nothing appeared that the manifest does not declare (but for what a rename moves);
//!    and nothing that is or names a protected principal changed;
//! 4. each change arrived after every change it depends on in `plan::graph::build` (a
//!    removal a delete takes along never arrives: it is done where its delete arrives).
//!
//! The shares of cases that resolve, have changes, are refused and are applied are
//! printed and held to lower bounds, so the generators are seen to reach the apply stage.

use std::collections::{BTreeMap, BTreeSet};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError, TestRunner};
use rollcall::desired::Desired;
use rollcall::engine::ErrorKind;
use rollcall::model::{Address, Kind, Principal, Resource, ResourceId, ResourceMap, Scope};
use rollcall::plan::Plan;
use rollcall::provider::memory::{Journal, MemoryProvider};
use rollcall::provider::Provider;

use super::generated::{live, manifest, Tape, BB, DIR};
use super::{config, layout, Layout};

// ---------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------

/// How the cases went, for the shares the test asserts and prints.
#[derive(Debug, Default, Clone)]
struct Counts {
    cases: usize,
    resolved: usize,
    /// Resolved, but `policy.protect` names nobody live or declared (a read-time error).
    unknown_protected: usize,
    with_changes: usize,
    refused: usize,
    /// Refused plans by the rules that refused them (a plan may break several).
    refused_by: BTreeMap<String, usize>,
    applied: usize,
    applied_with_changes: usize,
    changes_applied: usize,
}

/// An id with user and group names lower-cased: how the platforms match them.
fn key(id: &ResourceId) -> ResourceId {
    id.map_names(&str::to_lowercase, &str::to_lowercase)
}

fn principal_key(p: &Principal) -> Principal {
    match p {
        Principal::User(n) => Principal::User(n.to_lowercase()),
        Principal::Group(n) => Principal::Group(n.to_lowercase()),
    }
}

/// The object of `state` that `address` names, matched as the platforms match names.
fn find<'s>(state: &'s ResourceMap, address: &Address) -> Option<(&'s Address, &'s Resource)> {
    let wanted = key(&address.id);
    state
        .iter()
        .find(|(a, _)| a.target == address.target && key(&a.id) == wanted)
}

/// What ownership and the prune policy allow a plan to change on one target, worked out
/// from the manifest and live state alone (not from the plan). Names are lower-cased.
struct Ownership<'a> {
    desired: &'a Desired,
    declared: BTreeSet<ResourceId>,
    offboarded: BTreeSet<String>,
    /// Groups the manifest renames: old name to new.
    group_renames: BTreeMap<String, String>,
    /// Live accounts found as a declared person's by externalId under another username:
    /// old username to new.
    user_renames: BTreeMap<String, String>,
    /// Scopes whose grants are read (the root always).
    read_scopes: BTreeSet<Scope>,
    protect: BTreeSet<String>,
}

impl<'a> Ownership<'a> {
    fn new(desired: &'a Desired, target: &str, before: &ResourceMap) -> Self {
        let declared: BTreeSet<ResourceId> = desired
            .resources
            .keys()
            .filter(|a| a.target == target)
            .map(|a| key(&a.id))
            .collect();
        let group_renames = desired
            .renames
            .get(target)
            .into_iter()
            .flatten()
            .map(|(old, new)| (old.to_lowercase(), new.to_lowercase()))
            .collect();
        let mut by_external: BTreeMap<String, String> = BTreeMap::new();
        for (a, r) in desired.resources.iter().filter(|(a, _)| a.target == target) {
            if let (ResourceId::User { name }, Resource::User(u)) = (&a.id, r) {
                if let Some(x) = &u.external_id {
                    by_external.insert(x.to_lowercase(), name.as_str().to_lowercase());
                }
            }
        }
        let mut user_renames = BTreeMap::new();
        for (a, r) in before {
            if let (ResourceId::User { name }, Resource::User(u)) = (&a.id, r) {
                let Some(x) = &u.external_id else { continue };
                if let Some(new) = by_external
                    .get(&x.to_lowercase())
                    .filter(|n| **n != name.as_str().to_lowercase())
                {
                    user_renames.insert(name.as_str().to_lowercase(), new.clone());
                }
            }
        }
        Ownership {
            desired,
            declared,
            offboarded: desired
                .offboarded
                .get(target)
                .into_iter()
                .flatten()
                .map(|u| u.to_lowercase())
                .collect(),
            group_renames,
            user_renames,
            read_scopes: desired
                .targets
                .get(target)
                .map(|c| c.scope.scopes.iter().cloned().chain([Scope::root()]).collect())
                .unwrap_or_default(),
            protect: desired.policy.protect.iter().map(|n| n.to_lowercase()).collect(),
        }
    }

    fn prunes(&self, kind: Kind) -> bool {
        self.desired.policy.prunes(kind)
    }

    fn declared_principal(&self, p: &Principal) -> bool {
        let p = principal_key(p);
        self.declared.contains(&p.id()) || matches!(&p, Principal::User(u) if self.offboarded.contains(u.as_str()))
    }

    /// A live principal the plan may delete, deactivate or rename, taking what hangs off
    /// it along.
    fn removable(&self, p: &Principal) -> bool {
        let p = principal_key(p);
        match &p {
            Principal::User(u) => {
                self.offboarded.contains(u.as_str())
                    || self.user_renames.contains_key(u.as_str())
                    || (self.prunes(Kind::Users) && !self.declared.contains(&p.id()))
            }
            Principal::Group(g) => {
                self.group_renames.contains_key(g.as_str())
                    || (self.prunes(Kind::Groups) && !self.declared.contains(&p.id()))
            }
        }
    }

    /// Whether the plan may change or remove this live object.
    fn may_change(&self, id: &ResourceId) -> bool {
        if self.declared.contains(&key(id)) {
            return true;
        }
        if let Some(p) = id.as_principal() {
            return self.removable(&p);
        }
        if id.principals().iter().any(|p| self.removable(p)) {
            return true;
        }
        let read = id.scope().is_none_or(|s| self.read_scopes.contains(s));
        let owned = id.owner().is_none_or(|o| self.declared_principal(&o));
        read && owned && self.prunes(id.kind())
    }

    /// Whether an object the plan made may be there: declared, or moved or carried by a
    /// rename.
    fn may_appear(&self, id: &ResourceId) -> bool {
        let renamed = |p: &Principal| match principal_key(p) {
            Principal::User(u) => self.user_renames.values().any(|new| *new == u),
            Principal::Group(g) => self.group_renames.values().any(|new| *new == g),
        };
        self.declared.contains(&key(id)) || id.principals().iter().any(renamed)
    }

    /// The object a live one is once renames are made (lower-cased).
    fn carried(&self, id: &ResourceId) -> ResourceId {
        let rename = |map: &BTreeMap<String, String>, n: &str| {
            let n = n.to_lowercase();
            map.get(&n).cloned().unwrap_or(n)
        };
        id.map_names(&|u| rename(&self.user_renames, u), &|g| rename(&self.group_renames, g))
    }

    /// Whether the object is or names a principal `policy.protect` lists.
    fn protected(&self, id: &ResourceId) -> bool {
        id.as_principal()
            .into_iter()
            .chain(id.principals())
            .any(|p| self.protect.contains(&p.name().to_lowercase()))
    }
}

/// (3): nothing outside ownership and the prune policy changed, nothing appeared that
/// was not asked for, and nothing protected changed (a member of a protected group who
/// is renamed stays a member, under the new name).
fn check_ownership(desired: &Desired, target: &str, before: &ResourceMap, after: &ResourceMap) -> Result<(), String> {
    let owner = Ownership::new(desired, target, before);
    let in_after = |id: &ResourceId| find(after, &Address::new(target, id.clone())).map(|(_, r)| r);
    for (a, r) in before {
        let kept = in_after(&a.id) == Some(r);
        if !kept && !owner.may_change(&a.id) {
            return Err(format!("{a} changed, though the manifest neither declares nor owns it"));
        }
        if owner.protected(&a.id) && in_after(&owner.carried(&a.id)) != Some(r) {
            return Err(format!("{a} changed, though it names a protected principal"));
        }
    }
    let in_before: BTreeMap<ResourceId, &Resource> = before.iter().map(|(a, r)| (owner.carried(&a.id), r)).collect();
    for (a, r) in after {
        if find(before, a).is_none() && !owner.may_appear(&a.id) {
            return Err(format!("{a} appeared, though the manifest does not declare it"));
        }
        if owner.protected(&a.id) && in_before.get(&key(&a.id)) != Some(&r) {
            return Err(format!("{a} changed, though it names a protected principal"));
        }
    }
    Ok(())
}

/// (4): each change arrived after every change it depends on.
/// A removal that a delete takes along never arrives: it is done where its delete arrives.
fn check_order(plan: &Plan, arrived: &[rollcall::plan::Change]) -> Result<(), String> {
    let carriers = rollcall::plan::graph::carriers(&plan.changes, &plan.targets);
    let arrivals = |c: &rollcall::plan::Change| -> Vec<usize> {
        arrived
            .iter()
            .enumerate()
            .filter(|(_, a)| *a == c)
            .map(|(i, _)| i)
            .collect()
    };
    let mut position = Vec::with_capacity(plan.changes.len());
    for (i, c) in plan.changes.iter().enumerate() {
        let at = arrivals(c);
        match (carriers[i], &at[..]) {
            (None, [one]) => position.push(*one),
            (Some(by), []) => match arrivals(&plan.changes[by])[..] {
                [one] => position.push(one),
                _ => {
                    return Err(format!(
                        "{}, which carries {}, did not arrive once",
                        plan.changes[by].address, c.address
                    ))
                }
            },
            (Some(_), _) => return Err(format!("{} arrived, though a delete takes it along", c.address)),
            (None, _) => return Err(format!("{} arrived {} times", c.address, at.len())),
        }
    }
    let graph = rollcall::plan::graph::build(&plan.changes, &plan.targets);
    for e in graph.raw_edges() {
        let (before, after) = (e.source().index(), e.target().index());
        if position[before] > position[after] {
            return Err(format!(
                "{} {} arrived before {} {}, which it waits for",
                plan.changes[after].action.symbol(),
                plan.changes[after].address,
                plan.changes[before].action.symbol(),
                plan.changes[before].address,
            ));
        }
    }
    Ok(())
}

fn show(state: &ResourceMap) -> String {
    state
        .iter()
        .map(|(a, r)| format!("  {a} = {}", serde_json::to_string(r).unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn show_changes(plan: &Plan) -> String {
    plan.changes
        .iter()
        .map(|c| {
            format!(
                "  {} {} {}",
                c.action.symbol(),
                c.address,
                c.reason.as_deref().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads every provider's live state.
async fn read_all(providers: &BTreeMap<String, MemoryProvider>) -> BTreeMap<String, ResourceMap> {
    let mut out = BTreeMap::new();
    for (name, p) in providers {
        out.insert(name.clone(), p.read().await.unwrap());
    }
    out
}

/// One case: resolve, plan, review, and for a plan that passes, apply and check.
fn run_case(
    files: &BTreeMap<String, String>,
    mistake: Option<&str>,
    live: &BTreeMap<String, ResourceMap>,
    batch_limit: usize,
    runtime: &tokio::runtime::Runtime,
    counts: &mut Counts,
) -> Result<(), String> {
    counts.cases += 1;
    let tmp = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(tmp.path().join(name), text).unwrap();
    }
    // The generator knows which manifests are wrong: exactly those fail to resolve.
    let desired = match (rollcall::engine::load(tmp.path()), mistake) {
        (Ok(d), None) => d,
        (Err(e), Some(_)) if e.kind == ErrorKind::Manifest => return Ok(()),
        (Ok(_), Some(mistake)) => return Err(format!("a manifest with {mistake} resolved")),
        (Err(e), _) => return Err(format!("a manifest failed to load: {e}\n{:#?}", e.diagnostics)),
    };
    counts.resolved += 1;
    if !rollcall::safety::unknown_protected(&desired, live).is_empty() {
        counts.unknown_protected += 1;
        return Ok(());
    }
    let journal = Journal::default();
    let providers: BTreeMap<String, MemoryProvider> = desired
        .targets
        .iter()
        .map(|(name, config)| {
            let state = live.get(name).cloned().unwrap_or_default();
            let p = MemoryProvider::new(name, config.platform, state)
                .journal(journal.clone())
                .batch_limit(batch_limit);
            // Data Center lists members and grants per container: read as it would.
            let p = if config.platform.kind() == "bitbucket-datacenter" {
                p.read_scope(config.scope.clone())
            } else {
                p
            };
            (name.clone(), p)
        })
        .collect();
    let read = runtime.block_on(read_all(&providers));
    let plan = rollcall::plan::build(&desired, &read).map_err(|e| e.to_string())?;
    let context = || format!("plan:\n{}", show_changes(&plan));
    if !plan.is_empty() {
        counts.with_changes += 1;
    }
    let reviewed = match plan.clone().review(&BTreeMap::new(), &read, None) {
        Ok(r) => r,
        Err(refused) => {
            counts.refused += 1;
            let rules: BTreeSet<String> = refused.0.refusals.iter().map(|r| format!("{:?}", r.rule)).collect();
            for rule in rules {
                *counts.refused_by.entry(rule).or_default() += 1;
            }
            return Ok(());
        }
    };
    let boxed: BTreeMap<String, Box<dyn Provider>> = providers
        .iter()
        .map(|(n, p)| (n.clone(), Box::new(p.clone()) as Box<dyn Provider>))
        .collect();
    let report = runtime.block_on(rollcall::apply::execute(&reviewed, &boxed, 4, |_, _| {}));
    counts.applied += 1;
    if !plan.is_empty() {
        counts.applied_with_changes += 1;
    }
    counts.changes_applied += report.applied();

    // (1) Every change applied.
    if report.outcomes.len() != plan.changes.len() || !report.succeeded() {
        let failed: Vec<String> = report
            .outcomes
            .iter()
            .filter(|(_, o)| *o != rollcall::apply::Outcome::Applied)
            .map(|(c, o)| format!("  {} {}: {o:?}", c.action.symbol(), c.address))
            .collect();
        return Err(format!(
            "not every change applied:\n{}\n{}",
            failed.join("\n"),
            context()
        ));
    }
    // (2) Live state now plans to nothing.
    let again = runtime.block_on(read_all(&providers));
    let replan = rollcall::plan::build(&desired, &again).map_err(|e| e.to_string())?;
    if !replan.is_empty() {
        return Err(format!(
            "planning again after apply gives changes:\n{}\n{}",
            show_changes(&replan),
            context()
        ));
    }
    // (3) Ownership, pruning and protection.
    for (name, p) in &providers {
        let empty = ResourceMap::new();
        let before = live.get(name).unwrap_or(&empty);
        check_ownership(&desired, name, before, &p.state()).map_err(|e| {
            format!(
                "{e}\n{}\nlive before:\n{}\nafter:\n{}",
                context(),
                show(before),
                show(&p.state())
            )
        })?;
    }
    // (4) Dependencies respected.
    let arrived = journal.lock().unwrap().clone();
    check_order(&plan, &arrived).map_err(|e| format!("{e}\n{}", context()))?;
    // (5) The effect on people is the difference of effective access before and after.
    check_effect(&desired, &plan, &read, &again).map_err(|e| {
        let states: Vec<String> = again.values().map(show).collect();
        format!("{e}\n{}\nlive after:\n{}", context(), states.join("\n"))
    })?;
    Ok(())
}

/// Each line of the plan's effect is a real change of someone's access, and every change
/// of access is a line, or inside a scope whose line for the same person says it.
fn check_effect(
    desired: &Desired,
    plan: &Plan,
    before: &BTreeMap<String, ResourceMap>,
    after: &BTreeMap<String, ResourceMap>,
) -> Result<(), String> {
    // Names as the platforms match them: without regard to case.
    type Key = (String, String, String);
    // A user or group renamed in place is the same person or group under the new name.
    let renames = |users: bool| -> BTreeMap<(String, String), String> {
        plan.changes
            .iter()
            .filter_map(|c| {
                match (&c.address.id, c.renames()) {
                    (ResourceId::User { name }, Some(old)) if users => Some((name, old)),
                    (ResourceId::Group { name }, Some(old)) if !users => Some((name, old)),
                    _ => None,
                }
                .map(|(name, old)| {
                    (
                        (c.address.target.to_string(), old.to_lowercase()),
                        name.to_lowercase().to_string(),
                    )
                })
            })
            .collect()
    };
    let (renamed, regrouped) = (renames(true), renames(false));
    let mut levels: BTreeMap<Key, (Option<String>, Option<String>)> = BTreeMap::new();
    for (name, config) in &desired.targets {
        let target = rollcall::access::TargetRef {
            name,
            platform: config.platform,
            principals_from: config.principals_from.as_deref(),
            usernames: desired.usernames.get(name),
            invited: None,
            read: None,
            unread_members: None,
        };
        let (was, now) = (target.state(before), target.state(after));
        let scopes: BTreeSet<Scope> = was.scopes().union(&now.scopes()).cloned().collect();
        let all = rollcall::access::Filter::default();
        for (i, state) in [was, now].iter().enumerate() {
            for e in rollcall::access::entries_over(state, &all, &scopes) {
                // Keyed by username on the target, which renames are stated in.
                let person = e.account.as_ref().unwrap_or(&e.person).to_lowercase();
                let person = renamed
                    .get(&(e.target.clone(), person.clone()))
                    .cloned()
                    .unwrap_or(person);
                let resource = e.resource.to_lowercase();
                let resource = match e.noun.as_str() {
                    "group" => regrouped
                        .get(&(e.target.clone(), resource.clone()))
                        .cloned()
                        .unwrap_or(resource),
                    _ => resource,
                };
                let slot = levels.entry((person, e.target.clone(), resource)).or_default();
                if i == 0 {
                    slot.0 = Some(e.level);
                } else {
                    slot.1 = Some(e.level);
                }
            }
        }
    }
    let shown: BTreeMap<Key, (Option<String>, Option<String>)> = plan
        .effects
        .iter()
        .map(|e| {
            (
                (
                    e.account.as_ref().unwrap_or(&e.person).to_lowercase(),
                    e.target.clone(),
                    e.resource.to_lowercase(),
                ),
                (e.before.clone(), e.after.clone()),
            )
        })
        .collect();
    for (key, levels_shown) in &shown {
        let real = levels.get(key).cloned().unwrap_or_default();
        if &real != levels_shown {
            return Err(format!(
                "the effect says {key:?} goes {levels_shown:?}, but access went {real:?}"
            ));
        }
    }
    for (key, (was, now)) in &levels {
        if was == now || shown.contains_key(key) {
            continue;
        }
        let (person, target, resource) = key;
        let covered = shown.keys().any(|(p, t, r)| {
            p == person && t == target && (resource.starts_with(&format!("{r}/")) || !r.contains('/') && r == "global")
        });
        if !covered {
            return Err(format!(
                "access of {person} on {target}:{resource} went {was:?} -> {now:?}, and the effect does not say so:\n{:#?}",
                plan.effects
            ));
        }
    }
    Ok(())
}

fn case() -> impl Strategy<Value = (Vec<u8>, Vec<u8>, Vec<u8>, Layout, usize)> {
    (
        vec(any::<u8>(), 200),
        vec(any::<u8>(), 400),
        vec(any::<u8>(), 200),
        layout(),
        prop_oneof![3 => Just(usize::MAX), 1 => 1usize..4],
    )
}

#[test]
fn applied_plans_converge_within_ownership_and_in_dependency_order() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let counts = std::cell::RefCell::new(Counts::default());
    // A case takes milliseconds, and the combinations that found bugs (a rename, an
    // offboarding and a deactivated account at once) are rare: more cases than the
    // other properties run, unless PROPTEST_CASES says how many.
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() {
        config().cases
    } else {
        1024
    };
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/properties/in_memory.proptest-regressions",
        ))),
        ..config()
    });
    let result = runner.run(&case(), |(m, bb, dir, layout, batch_limit)| {
        let manifest = manifest(&mut Tape::new(&m));
        let files = manifest.files(&layout);
        let live = BTreeMap::from([
            (BB.to_owned(), live(&mut Tape::new(&bb), BB, false)),
            (DIR.to_owned(), live(&mut Tape::new(&dir), DIR, true)),
        ]);
        let mut c = counts.borrow_mut();
        run_case(&files, manifest.mistake, &live, batch_limit, &runtime, &mut c).map_err(|e| {
            // Line ends as the layout wrote them would garble the message.
            let files: Vec<String> = files
                .iter()
                .map(|(n, t)| format!("--- {n}\n{}", t.replace("\r\n", "\n").replace('\r', "\n")))
                .collect();
            let live: Vec<String> = live.iter().map(|(t, s)| format!("--- live {t}\n{}", show(s))).collect();
            TestCaseError::fail(format!("{e}\n{}\n{}", files.join("\n"), live.join("\n")))
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let c = counts.into_inner();
    let share = |n: usize| n as f64 / c.cases.max(1) as f64;
    let line = |what: &str, n: usize| format!("  {what:<22}{n:>6} ({:.0}%)", 100.0 * share(n));
    let rules: Vec<String> = c.refused_by.iter().map(|(r, n)| format!("{r} {n}")).collect();
    println!(
        "in-memory apply, {} cases:\n{}\n{}\n{}, by rule: {}\n{}\n{}\n  {:<22}{:>6}\n  {:<22}{:>6}",
        c.cases,
        line("resolved", c.resolved),
        line("with changes", c.with_changes),
        line("refused", c.refused),
        rules.join(", "),
        line("applied", c.applied),
        line("applied with changes", c.applied_with_changes),
        "changes applied",
        c.changes_applied,
        "protect names nobody",
        c.unknown_protected,
    );
    assert!(share(c.resolved) >= 0.5, "too few manifests resolve: {c:?}");
    assert!(share(c.with_changes) >= 0.5, "too few plans have changes: {c:?}");
    assert!(
        share(c.applied_with_changes) >= 0.25,
        "too few cases apply changes: {c:?}"
    );
    assert!(
        share(c.refused) >= 0.05,
        "too few plans refused for the safety rules to be exercised: {c:?}"
    );
}
