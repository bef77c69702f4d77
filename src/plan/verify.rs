//! `verify`: is a saved plan exactly what its manifests give against live state now?
//! `apply FILE` and `show FILE` plan again from the manifests the file names and compare
//! the two; any difference (a hand edit of the file, or a change the manifests would now
//! make that the reviewers did not see) is a reason to refuse. Each difference is
//! described for people, naming the object and both sides.

use std::collections::BTreeMap;
use std::path::Path;

use crate::desired::{Desired, Endpoint, SecretRef, TargetConfig};
use crate::model::Address;
use crate::plan::file::as_written;
use crate::plan::stale::describe;
use crate::plan::{Change, Plan};

/// How the saved plan differs from the manifests it names, before anything is read: other
/// manifests, or a policy or target the file was edited to change.
pub fn against_manifests(saved: &Plan, desired: &Desired) -> Vec<String> {
    if saved.manifest_digest != desired.manifest_digest {
        // Every other difference would follow from that one.
        return vec![format!(
            "the manifests in {} are not the ones the plan was made from: their digest is {}, the plan's {}",
            desired.manifest_dir.display(),
            desired.manifest_digest,
            saved.manifest_digest
        )];
    }
    let mut out = Vec::new();
    if saved.policy != desired.policy {
        out.push(
            "the plan file's `policy` is not the manifests' policy: the file was edited (the manifests' policy applies)"
                .to_owned(),
        );
    }
    out.extend(targets(saved, desired));
    out
}

/// How the saved plan's changes differ from `fresh`, the plan its manifests give against
/// live state now. The unmanaged objects are for display: they may change freely.
pub fn against_fresh(saved: &Plan, fresh: &Plan) -> Vec<String> {
    changes(saved, fresh)
}

fn targets(saved: &Plan, desired: &Desired) -> Vec<String> {
    let mut out = Vec::new();
    let fresh_by_name: BTreeMap<&str, &TargetConfig> =
        desired.targets.iter().map(|(name, t)| (name.as_str(), t)).collect();
    let saved_by_name: BTreeMap<&str, &TargetConfig> =
        saved.targets.iter().map(|t| (t.name.as_str(), &t.config)).collect();
    for (name, s) in &saved_by_name {
        let Some(f) = fresh_by_name.get(name) else {
            out.push(format!(
                "the plan file has target `{name}`, which the manifests do not declare"
            ));
            continue;
        };
        let files = (saved.manifest_dir.as_path(), desired.manifest_dir.as_path());
        for what in target_differences(s, f, files) {
            out.push(format!("target `{name}`: {what}"));
        }
    }
    for name in fresh_by_name.keys().filter(|n| !saved_by_name.contains_key(*n)) {
        out.push(format!(
            "the manifests declare target `{name}`, which the plan file does not have"
        ));
    }
    out
}

/// How the saved target's connection differs from the manifests': where it goes, as whom,
/// with which token reference. Files (a sandbox's state, a token file) are compared as the
/// manifests name them, relative to each side's manifest directory, so a plan file moved
/// with `--manifests DIR` still matches.
fn target_differences(saved: &TargetConfig, fresh: &TargetConfig, dirs: (&Path, &Path)) -> Vec<String> {
    let mut out = Vec::new();
    if saved.platform != fresh.platform {
        out.push(format!(
            "the plan file says it is {}, the manifests say {}",
            saved.platform.label(),
            fresh.platform.label()
        ));
    }
    let same_endpoint = match (&saved.endpoint, &fresh.endpoint) {
        (Endpoint::Url(a), Endpoint::Url(b)) => a == b && saved.url == fresh.url,
        (Endpoint::Sandbox(_), Endpoint::Sandbox(_)) => saved.url == fresh.url,
        _ => false,
    };
    if !same_endpoint {
        out.push(format!(
            "the plan file connects to {}, the manifests to {}",
            saved.url, fresh.url
        ));
    }
    let auth = |c: &TargetConfig, dir: &Path| {
        c.auth.as_ref().map(|a| {
            let token = match &a.token {
                SecretRef::File(path) => SecretRef::File(as_written(dir, path).to_owned()).to_reference(),
                SecretRef::Env(_) => a.token.to_reference(),
            };
            (a.username.clone(), token)
        })
    };
    if auth(saved, dirs.0) != auth(fresh, dirs.1) {
        out.push("the plan file's credentials (username or token reference) are not the manifests'".to_owned());
    }
    if fresh.account.is_some() && saved.account != fresh.account {
        out.push(format!(
            "the plan file works as account {}, the manifests as {}",
            saved.account.as_deref().unwrap_or("(none)"),
            fresh.account.as_deref().unwrap_or("(none)")
        ));
    }
    if saved.notify_new_users != fresh.notify_new_users {
        out.push("the plan file's `notify_new_users` is not the manifests'".to_owned());
    }
    if saved.settings != fresh.settings {
        out.push("the plan file's platform options (`settings`) are not the manifests'".to_owned());
    }
    out
}

/// Accounts the plan file names that are not the ones the targets report now (a sandbox
/// names its operator; a Bearer target's account comes from the manifests, checked above).
pub fn against_accounts(saved: &Plan, accounts: &BTreeMap<String, String>) -> Vec<String> {
    saved
        .targets
        .iter()
        .filter_map(|t| {
            let (Some(said), Some(is)) = (&t.account, accounts.get(&t.name)) else {
                return None;
            };
            (!said.eq_ignore_ascii_case(is)).then(|| {
                format!(
                    "target `{}`: the plan file works as account `{said}`, the target's is `{is}`",
                    t.name
                )
            })
        })
        .collect()
}

fn changes(saved: &Plan, fresh: &Plan) -> Vec<String> {
    let index =
        |p: &Plan| -> BTreeMap<Address, Change> { p.changes.iter().map(|c| (c.address.clone(), c.clone())).collect() };
    let (saved, fresh) = (index(saved), index(fresh));
    let mut out = Vec::new();
    for (address, s) in &saved {
        match fresh.get(address) {
            None => out.push(format!(
                "{address}: the plan file would {} it; the manifests plan no change to it",
                verb(s)
            )),
            Some(f) if f != s => out.push(format!("{address}: {}", what_differs(s, f))),
            Some(_) => {}
        }
    }
    for (address, f) in &fresh {
        if !saved.contains_key(address) {
            out.push(format!(
                "{address}: the manifests would {} it; the plan file has no change to it",
                verb(f)
            ));
        }
    }
    out
}

/// The first field in which two changes to one object differ, both sides named.
fn what_differs(s: &Change, f: &Change) -> String {
    let quoted = |v: &Option<String>| v.as_deref().map_or("none".to_owned(), |v| format!("`{v}`"));
    if s.action != f.action || s.after != f.after {
        format!(
            "the plan file would {} it to {}; the manifests would {} it to {}",
            verb(s),
            describe(s.after.as_ref()),
            verb(f),
            describe(f.after.as_ref())
        )
    } else if s.before != f.before {
        format!(
            "the plan file expects to find {}; the manifests' plan expects {}",
            describe(s.before.as_ref()),
            describe(f.before.as_ref())
        )
    } else if s.reason != f.reason {
        format!(
            "the plan file gives the reason {}; the manifests give {}",
            quoted(&s.reason),
            quoted(&f.reason)
        )
    } else {
        format!(
            "the plan file renames it from {} to {}; the manifests from {} to {}",
            quoted(&s.renamed_from),
            quoted(&s.renamed_to),
            quoted(&f.renamed_from),
            quoted(&f.renamed_to)
        )
    }
}

fn verb(c: &Change) -> &'static str {
    match c.action {
        crate::plan::Action::Create => "create",
        crate::plan::Action::Update => "change",
        crate::plan::Action::Delete => "delete",
    }
}

/// Refuses a plan whose identity sources give something else now: the people whose
/// fingerprints moved (joined, left or changed), named, at most 20.
pub fn against_sources(plan: &Plan, desired: &Desired) -> Vec<String> {
    let now = desired.sources_summary();
    match (&plan.sources, &now) {
        (None, None) => Vec::new(),
        (Some(_), None) => vec!["the plan was made with identity sources the manifests no longer declare".to_owned()],
        (None, Some(_)) => {
            vec!["the manifests now take people from identity sources the plan was made without".to_owned()]
        }
        (Some(was), Some(now)) if was.digest == now.digest => Vec::new(),
        (Some(was), Some(now)) => {
            const SHOWN: usize = 20;
            let changed = was.changed_people(now);
            let mut names: Vec<String> = changed.iter().take(SHOWN).cloned().collect();
            if changed.len() > SHOWN {
                names.push(format!("and {} more", changed.len() - SHOWN));
            }
            vec![format!(
                "the identity sources give something else than when the plan was made ({} then, {} now): {}",
                was.digest,
                now.digest,
                names.join(", ")
            )]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Resource, ResourceId};
    use crate::plan::Action;

    fn change(name: &str, action: Action) -> Change {
        let group = Resource::group();
        Change {
            address: Address::new("bb", ResourceId::Group { name: name.into() }),
            action,
            before: (action != Action::Create).then(|| group.clone()),
            after: (action != Action::Delete).then_some(group),
            reason: None,
            renamed_from: None,
            renamed_to: None,
        }
    }

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            changes,
            manifest_digest: "sha256:1".to_owned(),
            ..Plan::default()
        }
    }

    fn desired(digest: &str) -> Desired {
        Desired {
            targets: BTreeMap::new(),
            resources: BTreeMap::new(),
            offboarded: BTreeMap::new(),
            policy: Default::default(),
            renames: BTreeMap::new(),
            manifest_digest: digest.to_owned(),
            manifest_dir: Default::default(),
            protect_undeclared: Default::default(),
            sourcing: None,
            sourced: None,
            provenance: Default::default(),
            followed: Default::default(),
            usernames: Default::default(),
        }
    }

    #[test]
    fn the_same_plan_has_no_differences() {
        let p = plan(vec![change("a", Action::Create)]);
        assert!(against_fresh(&p, &p.clone()).is_empty());
        assert!(against_manifests(&p, &desired("sha256:1")).is_empty());
    }

    #[test]
    fn a_change_only_one_side_has_is_named_once_per_side() {
        let saved = plan(vec![change("a", Action::Create), change("b", Action::Delete)]);
        let fresh = plan(vec![change("a", Action::Create), change("c", Action::Create)]);
        let d = against_fresh(&saved, &fresh);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(
            d[0].starts_with("bb.group[\"b\"]: the plan file would delete it"),
            "{d:?}"
        );
        assert!(
            d[1].starts_with("bb.group[\"c\"]: the manifests would create it"),
            "{d:?}"
        );
    }

    #[test]
    fn other_manifests_are_the_only_difference_named() {
        let mut saved = plan(vec![]);
        saved.policy.protect.insert("admin".to_owned());
        let d = against_manifests(&saved, &desired("sha256:2"));
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].contains("not the ones the plan was made from"), "{d:?}");
    }

    #[test]
    fn an_edited_policy_is_a_difference() {
        let mut saved = plan(vec![]);
        saved.policy.protect.insert("admin".to_owned());
        let d = against_manifests(&saved, &desired("sha256:1"));
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].contains("`policy`"), "{d:?}");
    }
}
