//! What a plan says besides its changes: changes it holds back because they cannot run
//! yet (a person the target does not have and no target of the plan provides), changes
//! it leaves out because the platform fixes what they would change (a workspace's
//! owner, a group an identity provider syncs), grants that would change nothing (inside
//! a scope where their holder has as much), the identifiers a platform will be sent for
//! groups it names its own way, and what the providers found while reading.
//!
//! Everything here is asked of the platform's data (`KindRules::external`,
//! `Spec::inherited`, `Spec::group_ids`) and of what the providers reported
//! (`provider::Findings`); no vendor is named.

use std::collections::{BTreeMap, BTreeSet};

use crate::desired::Desired;
use crate::model::{Address, Kind, Principal, Resource, ResourceId, ResourceMap};
use crate::plan::{Action, Change};
use crate::provider::Findings;

/// Something the plan says that is not a change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Note {
    pub target: String,
    /// The object it is about, if one.
    pub address: Option<Address>,
    pub text: String,
}

/// A change the plan holds back: it cannot run until something outside the plan happens
/// (a person is given access to the target). Listed with why and what to do; not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub change: Change,
    pub why: String,
    pub hint: String,
}

/// Splits off the changes that name a principal the platform fixes, as notes.
pub fn fixed(changes: Vec<Change>, findings: &BTreeMap<String, Findings>) -> (Vec<Change>, Vec<Note>) {
    let mut notes = Vec::new();
    let mut kept = Vec::with_capacity(changes.len());
    for change in changes {
        let fixed = findings.get(change.address.target.as_str()).and_then(|f| {
            let named = named(&change.address.id);
            f.fixed.iter().find(|(p, _)| {
                named
                    .iter()
                    .any(|n| n.name().eq_ignore_ascii_case(p.name()) && same_kind(n, p))
            })
        });
        match fixed {
            Some((_, why)) => notes.push(Note {
                target: change.address.target.to_string(),
                address: Some(change.address.clone()),
                text: format!("left out of the plan ({}): {why}", describe(&change)),
            }),
            None => kept.push(change),
        }
    }
    (kept, notes)
}

/// Splits off the updates of attributes a platform sets only at creation (a directory
/// group's description), as notes: no request could make them.
pub fn create_only(changes: Vec<Change>, desired: &Desired) -> (Vec<Change>, Vec<Note>) {
    let mut notes = Vec::new();
    let mut kept = Vec::with_capacity(changes.len());
    for change in changes {
        let fixed = change.action == Action::Update
            && change.renames().is_none()
            && desired
                .targets
                .get(change.address.target.as_str())
                .is_some_and(|t| t.platform.rules(change.address.id.kind()).attributes_on_create_only);
        if !fixed {
            kept.push(change);
            continue;
        }
        let values = |r: &Option<Resource>| r.as_ref().map(Resource::attributes).unwrap_or_default();
        let (before, after) = (values(&change.before), values(&change.after));
        let differ: Vec<String> = after
            .iter()
            .filter(|a| !before.contains(a))
            .map(|(k, v)| {
                let live = before.iter().find(|(b, _)| b == k).map_or("none", |(_, v)| v.as_str());
                format!("`{k}` is {live:?} there, the manifest says {v:?}")
            })
            .collect();
        notes.push(Note {
            target: change.address.target.to_string(),
            address: Some(change.address.clone()),
            text: format!(
                "not planned: {}; the platform sets it only when it creates the object, so change it on the target by hand or in the manifest",
                differ.join(", ")
            ),
        });
    }
    (kept, notes)
}

/// Holds back each change that gives something to a principal made on another target
/// (`KindRules::external`) which this target does not have, unless the target it takes
/// its principals from makes it in this plan: a person must be given access there (or
/// a group created there) before a grant here can name them.
pub fn hold(changes: Vec<Change>, desired: &Desired, live: &BTreeMap<String, ResourceMap>) -> (Vec<Change>, Vec<Held>) {
    // A change held on the directory provides nothing: what waits for it is held too, so
    // hold until nothing more is.
    let (mut kept, mut held) = hold_once(changes, desired, live, &[]);
    loop {
        let (again, more) = hold_once(kept, desired, live, &held);
        kept = again;
        if more.is_empty() {
            return (kept, held);
        }
        held.extend(more);
    }
}

fn hold_once(
    changes: Vec<Change>,
    desired: &Desired,
    live: &BTreeMap<String, ResourceMap>,
    held_before: &[Held],
) -> (Vec<Change>, Vec<Held>) {
    let held_on = |target: &str, p: &Principal| {
        held_before
            .iter()
            .any(|h| h.change.address.target == target && named(&h.change.address.id).contains(p))
    };
    // What each target's changes give to each principal: created, or given a membership.
    let mut provided: BTreeSet<(String, Kind, String)> = BTreeSet::new();
    for c in changes.iter().filter(|c| c.action != Action::Delete) {
        for p in named(&c.address.id) {
            provided.insert((c.address.target.to_string(), kind_of(&p), p.name().to_lowercase()));
        }
    }
    let has = |target: &str, p: &Principal| {
        live.get(target)
            .is_some_and(|m| m.contains_key(&Address::new(target, p.id())))
    };
    let mut held = Vec::new();
    let mut kept = Vec::with_capacity(changes.len());
    for change in changes {
        let target = change.address.target.as_str();
        let Some(config) = desired.targets.get(target) else {
            kept.push(change);
            continue;
        };
        let platform = config.platform;
        let named = if change.action == Action::Delete {
            Vec::new()
        } else {
            change.address.id.principals()
        };
        let wanting = named.into_iter().find(|p| {
            let kind = kind_of(p);
            if !platform.rules(kind).external || has(target, p) {
                return false;
            }
            let from = config.principals_from.as_deref();
            let made = from.is_some_and(|f| provided.contains(&(f.to_owned(), kind, p.name().to_lowercase())));
            // A group on the directory is visible here (after a while): only people
            // need the directory to give them access to this target.
            let exists = from.is_some_and(|f| kind == Kind::Groups && has(f, p));
            // A group this target cannot list is only known missing where a
            // directory says so.
            let unknowable = kind == Kind::Groups && from.is_none();
            !(made || exists || unknowable)
        });
        let Some(p) = wanting else {
            kept.push(change);
            continue;
        };
        let (why, hint) = match (&p, config.principals_from.as_deref()) {
            (Principal::User(name), from) => {
                let email = config
                    .scope
                    .people
                    .get(name.as_str())
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                let why = match from {
                    Some(f) if held_on(f, &p) => format!(
                        "`{name}`{email} is not on `{target}`, and `{f}` cannot provide them yet: its change for them is held too"
                    ),
                    Some(f) if has(f, &p) => {
                        format!("`{name}`{email} is on `{f}` without access to `{target}`, and the plan gives none")
                    }
                    Some(f) => {
                        format!("`{name}`{email} is not on `{target}`, and `{f}` does not provide them in this plan")
                    }
                    None => format!("`{name}`{email} is not on `{target}`"),
                };
                (why, platform.spec().hints.not_member.to_owned())
            }
            (Principal::Group(name), from) => {
                // Held only where a directory target is named (see `unknowable`).
                let f = from.unwrap_or_default();
                (
                    format!("group `{name}` is not declared on `{f}`, which makes `{target}`'s groups"),
                    format!("add `{f}` to the group's `targets:` so that `{f}` makes it, or create it there by hand"),
                )
            }
        };
        held.push(Held { change, why, hint });
    }
    (kept, held)
}

/// Notes each grant the plan creates or changes inside a scope where the same
/// principal is granted as much or more, on a platform where the highest grant applies.
pub fn shadowed(changes: &[Change], desired: &Desired) -> Vec<Note> {
    let mut notes = Vec::new();
    for change in changes.iter().filter(|c| c.action != Action::Delete) {
        let (ResourceId::Grant { scope, principal }, Some(Resource::Permission { permission })) =
            (&change.address.id, &change.after)
        else {
            continue;
        };
        let target = change.address.target.as_str();
        let Some(platform) = desired
            .targets
            .get(target)
            .map(|t| t.platform)
            .filter(|p| p.spec().inherited)
        else {
            continue;
        };
        let level = |kinds: &[&str], native: &str| platform.scope_roles(kinds).and_then(|r| r.level(native));
        let Some(mine) = level(&scope.kinds(), permission) else {
            continue;
        };
        let segments = scope.segments();
        // The root is no scope of content: a global licence or the right to create
        // projects is not read access to every project, so only enclosing scopes below
        // the root are compared.
        for depth in (1..segments.len()).rev() {
            let mut outer = crate::model::Scope::root();
            for s in &segments[..depth] {
                outer = outer.child(&s.kind, &s.name);
            }
            let id = ResourceId::Grant {
                scope: outer.clone(),
                principal: principal.clone(),
            };
            let Some(Resource::Permission { permission: theirs }) = desired.resources.get(&Address::new(target, id))
            else {
                continue;
            };
            if level(&outer.kinds(), theirs).is_some_and(|l| l >= mine) {
                let noun = platform.scope_roles(&outer.kinds()).map_or("scope", |r| r.noun);
                let place = if outer.is_root() {
                    noun.to_owned()
                } else {
                    format!("{noun} {}", outer_name(&outer))
                };
                notes.push(Note {
                    target: target.to_owned(),
                    address: Some(change.address.clone()),
                    text: format!(
                        "no effect: {} has `{theirs}` on {place}, which holds here too; the highest grant applies",
                        who(principal)
                    ),
                });
                break;
            }
        }
    }
    notes
}

/// For each group a change names on a target that identifies groups its own way, the
/// identifier the provider will send, where the manifest did not set it.
pub fn group_ids(changes: &[Change], desired: &Desired) -> Vec<Note> {
    let mut derived: BTreeMap<&str, BTreeMap<String, &str>> = BTreeMap::new();
    for change in changes {
        let target = change.address.target.as_str();
        let Some(config) = desired.targets.get(target) else {
            continue;
        };
        for p in named(&change.address.id) {
            let Principal::Group(name) = &p else { continue };
            if let Some(id) = config.scope.group_ids.get(name.as_str()).filter(|id| !id.declared) {
                derived
                    .entry(target)
                    .or_default()
                    .insert(name.to_string(), id.id.as_str());
            }
        }
    }
    let mut notes = Vec::new();
    for (target, groups) in derived {
        let Some(rule) = desired
            .targets
            .get(target)
            .and_then(|c| c.platform.spec().group_ids.as_ref())
        else {
            continue;
        };
        let list: Vec<String> = groups
            .iter()
            .map(|(name, id)| {
                if name == id {
                    format!("`{id}`")
                } else {
                    format!("`{name}` as `{id}`")
                }
            })
            .collect();
        notes.push(Note {
            target: target.to_owned(),
            address: None,
            text: format!(
                "groups are sent by the {noun} derived from their names: {}; if `{target}` knows one by another {noun}, set the group's `ids: {{ {target}: … }}`",
                list.join(", "),
                noun = rule.noun
            ),
        });
    }
    notes
}

/// What a provider remarked on its read, as notes on its target.
pub fn remarks(findings: &BTreeMap<String, Findings>) -> Vec<Note> {
    findings
        .iter()
        .flat_map(|(target, f)| {
            f.remarks.iter().map(move |text| Note {
                target: target.clone(),
                address: None,
                text: text.clone(),
            })
        })
        .collect()
}

/// Splits off the changes of a kind the target leaves to something else (its SSO sets
/// roles or team memberships at each login), as notes.
pub fn left_alone(changes: Vec<Change>, findings: &BTreeMap<String, Findings>) -> (Vec<Change>, Vec<Note>) {
    let mut notes = Vec::new();
    let mut kept = Vec::with_capacity(changes.len());
    for change in changes {
        let owner = findings
            .get(change.address.target.as_str())
            .and_then(|f| f.left_alone.iter().find(|l| l.covers(&change.address.id)));
        match owner {
            Some(l) => notes.push(Note {
                target: change.address.target.to_string(),
                address: Some(change.address.clone()),
                text: format!("left out of the plan ({}): {}", describe(&change), l.why),
            }),
            None => kept.push(change),
        }
    }
    (kept, notes)
}

/// Holds back each change to what a principal has while the principal exists only as
/// an invitation not accepted yet (nothing can be given to or taken from them until
/// they accept), and lists each such principal once. Removing the principal itself (the
/// invitation) is not held.
pub fn pending(changes: Vec<Change>, findings: &BTreeMap<String, Findings>) -> (Vec<Change>, Vec<Held>, Vec<Note>) {
    let mut held = Vec::new();
    let mut kept = Vec::with_capacity(changes.len());
    let waiting = |target: &str, p: &Principal| {
        findings.get(target).and_then(|f| {
            f.pending
                .iter()
                .find(|(q, _)| same_kind(p, q) && q.name().eq_ignore_ascii_case(p.name()))
        })
    };
    for change in changes {
        let target = change.address.target.to_string();
        let found = change
            .address
            .id
            .principals()
            .into_iter()
            .find_map(|p| waiting(&target, &p));
        match found {
            Some((p, why)) => held.push(Held {
                why: format!("{} is invited, not a member yet: {why}", who(p)),
                hint: "it is made once they accept; plan again then".to_owned(),
                change,
            }),
            None => kept.push(change),
        }
    }
    let notes = findings
        .iter()
        .flat_map(|(target, f)| {
            f.pending.iter().map(move |(p, why)| Note {
                target: target.clone(),
                address: Some(Address::new(target, p.id())),
                text: format!("invited, not a member yet: {why}"),
            })
        })
        .collect();
    (kept, held, notes)
}

/// Every principal an object names: itself, or those its membership or grant refers to.
fn named(id: &ResourceId) -> Vec<Principal> {
    match id.as_principal() {
        Some(p) => vec![p],
        None => id.principals(),
    }
}

fn kind_of(p: &Principal) -> Kind {
    match p {
        Principal::User(_) => Kind::Users,
        Principal::Group(_) => Kind::Groups,
    }
}

fn same_kind(a: &Principal, b: &Principal) -> bool {
    kind_of(a) == kind_of(b)
}

fn who(p: &Principal) -> String {
    match p {
        Principal::User(n) => format!("user `{n}`"),
        Principal::Group(n) => format!("group `{n}`"),
    }
}

fn outer_name(scope: &crate::model::Scope) -> String {
    scope
        .segments()
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join("/")
}

fn describe(change: &Change) -> String {
    let what = match change.action {
        Action::Create => "a create",
        Action::Update => "a change",
        Action::Delete => "a removal",
    };
    match &change.after {
        Some(Resource::Permission { permission }) => format!("{what} to `{permission}`"),
        _ => what.to_owned(),
    }
}

#[cfg(test)]
mod tests;
