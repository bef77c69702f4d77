//! Effective access: what each person can do, and through what, on every target, worked
//! out with each platform's own rules (which grants a scope inherits, the "everyone"
//! default, who is an administrator), all of them data the platform declares.
//!
//! It answers from any state of a target: the manifest's (`rollcall access DIR`), live
//! (`--live`), or live with a plan's changes made (the plan's "Effect on people").

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::{ResourceMap, Scope};
use crate::platform::Platform;
use state::State;

pub mod compute;
pub mod effect;
pub mod html;
pub mod render;
pub mod state;
#[cfg(test)]
mod tests;

/// Everyone's access on the targets asked about, as `rollcall access` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// What the report answers from: `manifest` or `live`.
    pub from: String,
    /// The digest of the manifests the report was made from (`sha256:…`).
    pub manifest_digest: String,
    /// When the report was made, RFC 3339 in UTC (`SOURCE_DATE_EPOCH` fixes it).
    pub generated_at: String,
    /// The filters it was made with, as given (`--who`, `--on`), for the reader.
    pub filters: Vec<String>,
    /// Sorted by person, then target, then resource.
    pub entries: Vec<Entry>,
}

/// One person's access to one resource of one target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Entry {
    /// The person: the manifest's name for them, else their name on the target.
    pub person: String,
    /// Their username on the target, where it is not `person` (`cdiaz` for `carol`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Their email, where the target knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub target: String,
    /// The resource, as `--on` names it after `TARGET:`: `global`, `API`, `API/payments`,
    /// a group's name on a platform whose access is membership, `account`.
    pub resource: String,
    /// What the resource is, in the platform's words: `project`, `repository`, `group`.
    pub noun: String,
    /// `read`, `write` or `admin`; `member` where access is membership.
    pub level: String,
    /// Everything that gives the person this level here, strongest first.
    pub reasons: Vec<Reason>,
}

/// One way a person holds their level on a resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Reason {
    /// The grant, default or membership, in the platform's own words: the permission
    /// alone where it is granted on the resource itself (`REPO_ADMIN`), else with where
    /// it is granted (`PROJECT_WRITE on project API`, `ADMIN on global permissions`,
    /// `PROJECT_READ for all users on project PLAT`); `member` for a group's membership.
    pub grant: String,
    /// The group it comes through, if not held directly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

impl Reason {
    /// `REPO_ADMIN via release-managers`.
    pub fn text(&self) -> String {
        match &self.via {
            Some(g) => format!("{} via {g}", self.grant),
            None => self.grant.clone(),
        }
    }
}

/// A target as access needs it: its platform, and the target its principals come from.
#[derive(Debug, Clone, Copy)]
pub struct TargetRef<'a> {
    pub name: &'a str,
    pub platform: Platform,
    pub principals_from: Option<&'a str>,
    /// The manifest's people by their name, to their username here.
    pub usernames: Option<&'a BTreeMap<String, String>>,
    /// People only invited there (lower-cased usernames): what their invitation carries
    /// is no access until they accept.
    pub invited: Option<&'a BTreeSet<String>>,
    /// What was read of the target, where not all of it (a plan's read): what it left
    /// out is said beside the plan's effect.
    pub read: Option<&'a crate::desired::ReadScope>,
    /// Groups whose members that read left out (`Findings::unread_members`).
    pub unread_members: Option<&'a BTreeSet<String>>,
}

impl TargetRef<'_> {
    /// The target's state from per-target resource maps (live state): its own, and its
    /// principals' target's people and memberships.
    pub fn state(&self, maps: &BTreeMap<String, ResourceMap>) -> State {
        let mut state = State::new(self.name, self.platform, self.principals_from);
        for source in std::iter::once(self.name).chain(self.principals_from) {
            if let Some(map) = maps.get(source) {
                state.load(map);
            }
        }
        if let Some(names) = self.usernames {
            state.declare(names);
        }
        for name in self.invited.into_iter().flatten() {
            state.invited(name);
        }
        state
    }

    /// The target's state from one map of every target's resources (the manifest's).
    pub fn declared_state(&self, map: &ResourceMap) -> State {
        let mut state = State::new(self.name, self.platform, self.principals_from);
        state.load(map);
        if let Some(names) = self.usernames {
            state.declare(names);
        }
        state
    }
}

/// What `--who` and `--on` ask for: entries of these people (by name or email, any
/// case), on these resources (`TARGET`, or `TARGET:PATH` and what is inside it).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub who: Vec<String>,
    pub on: Vec<String>,
}

impl Filter {
    fn person(&self, p: &state::Person) -> bool {
        self.who.is_empty()
            || self.who.iter().any(|w| {
                p.name.eq_ignore_ascii_case(w)
                    || p.declared_as.as_deref().is_some_and(|d| d.eq_ignore_ascii_case(w))
                    || p.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(w))
            })
    }

    /// Whether `--on` asks for this resource of a target: the one it names and, where the
    /// platform has grants, the scopes inside it. A group's name, where access is
    /// membership, is a whole name, `/` and all, never a path.
    fn resource(&self, target: &str, grants: bool, resource: &str) -> bool {
        self.on.is_empty()
            || self.on.iter().any(|on| match on.split_once(':') {
                None => on == target,
                Some((t, path)) => {
                    let (resource, path) = (fold(resource), fold(path));
                    t == target
                        && (resource == path
                            || grants && resource.strip_prefix(&path).is_some_and(|rest| rest.starts_with('/')))
                }
            })
    }

    /// The scopes `--on` names on this target, so that a scope nothing is granted on
    /// directly is still answered (a repository inside a project with grants).
    fn scopes(&self, state: &State) -> BTreeSet<Scope> {
        self.on
            .iter()
            .filter_map(|on| on.split_once(':'))
            .filter(|(t, _)| *t == state.target)
            .filter_map(|(_, path)| compute::scope_named(state.platform, path))
            .collect()
    }
}

/// A name as `--on` matches it: in any case, as the platforms match names and as the
/// states key them.
fn fold(name: &str) -> String {
    name.to_lowercase()
}

/// A `--on` path refused on its target, with what it could have meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownResource {
    pub message: String,
    pub hint: String,
}

/// An `--on` path as its target spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub path: String,
    /// Nothing is granted on it itself: it is taken to be inside the scope that encloses
    /// it (a repository answered through its project), which rollcall cannot confirm.
    pub inferred: bool,
    /// For an inferred path, a known one a letter or two from it, which may be what was
    /// meant.
    pub near: Option<String>,
}

/// Spells an `--on` path (after `TARGET:`) as the target does, matching each name in any
/// case ([`fold`]). Where the platform has grants, a path is the scope's names joined by
/// `/`, none empty, or the root's key: every name but the last must be one the states
/// know (the root encloses the first); the last may be unknown, since a scope nothing is
/// granted on is in no state, and is then taken as written, answered through what encloses
/// it, with any known name it nearly matches. Where access is membership, the path is a
/// group's whole name (or `account`), and must be known. Where the target's read listed
/// every scope it has (`listed`: a read of everything), those are known too, and a last
/// name that is none of them is an error: the scope does not exist.
pub fn resource_named(
    states: &[&State],
    listed: Option<&BTreeSet<Scope>>,
    target: &str,
    path: &str,
) -> Result<Named, UnknownResource> {
    let states: Vec<&State> = states.iter().copied().filter(|s| s.target == target).collect();
    let platform = states.first().map(|s| s.platform);
    let grants = platform.is_some_and(|p| p.has_grants());
    // Every name the states know, by its folded spelling; the first state's spelling wins.
    let mut known: BTreeMap<String, String> = BTreeMap::new();
    let paths = |scope: &Scope| -> Vec<String> {
        let segments: Vec<&str> = scope.segments().iter().map(|s| s.name.as_str()).collect();
        (1..=segments.len()).map(|depth| segments[..depth].join("/")).collect()
    };
    for state in &states {
        let mut names: Vec<String> = Vec::new();
        if grants {
            for scope in state.scopes().iter().chain(listed.into_iter().flatten()) {
                names.extend(paths(scope));
            }
        } else {
            names.extend(state.groups.values().cloned());
            if !state.platform.users().external {
                names.push("account".to_owned());
            }
        }
        for name in names {
            known.entry(fold(&name)).or_insert(name);
        }
    }
    // What a whole path names, and what a near miss may have meant: the known names and
    // the root's key (which is no name inside a path).
    let mut whole = known.clone();
    if let Some(root) = platform.and_then(compute::root_key) {
        whole.insert(fold(root), root.to_owned());
    }
    let near = |p: &str| crate::resolve::did_you_mean(&fold(p), whole.keys()).and_then(|k| whole.get(k).cloned());
    let unknown = |name: &str, hint: Option<String>| UnknownResource {
        message: format!("--on {target}:{path}: nothing on {target} is named `{name}`"),
        hint: hint.unwrap_or_else(|| match known.len() {
            0 => format!("nothing on {target} holds or gives access"),
            n => {
                let some: Vec<&str> = known.values().take(8).map(String::as_str).collect();
                format!(
                    "{target} has {}{}",
                    some.join(", "),
                    if n > some.len() { ", …" } else { "" }
                )
            }
        }),
    };
    let did_you_mean = |s: String| format!("did you mean `{target}:{s}`?");
    let exact = |path: &str| Named {
        path: path.to_owned(),
        inferred: false,
        near: None,
    };
    if let Some(found) = whole.get(&fold(path)) {
        return Ok(exact(found));
    }
    let Some(platform) = platform.filter(|_| grants) else {
        return Err(unknown(path, near(path).map(did_you_mean)));
    };
    let names: Vec<&str> = path.split('/').collect();
    if names.iter().any(|n| n.is_empty()) {
        let some: Vec<&str> = names.into_iter().filter(|n| !n.is_empty()).collect();
        return Err(UnknownResource {
            message: format!("--on {target}:{path}: a path is names joined by `/`, with none empty"),
            hint: format!("write `--on {target}:{}`", some.join("/")),
        });
    }
    // The enclosing scope must be known, spelt as the target spells it.
    let mut parent = String::new();
    for depth in 1..names.len() {
        let (ancestor, rest) = (names[..depth].join("/"), names[depth..].join("/"));
        match known.get(&fold(&ancestor)) {
            Some(found) => parent = found.clone(),
            None => {
                return Err(unknown(
                    &ancestor,
                    near(&ancestor).map(|n| did_you_mean(format!("{n}/{rest}"))),
                ))
            }
        }
    }
    let last = names.last().copied().unwrap_or_default();
    let spelt = if parent.is_empty() {
        last.to_owned()
    } else {
        format!("{parent}/{last}")
    };
    if compute::scope_named(platform, &spelt).is_none() {
        return Err(UnknownResource {
            message: format!("--on {target}:{path}: nothing on {target} is inside `{parent}`"),
            hint: format!("write `--on {target}:{parent}`"),
        });
    }
    if listed.is_some() {
        return Err(unknown(&spelt, near(&spelt).map(did_you_mean)));
    }
    Ok(Named {
        near: near(&spelt),
        path: spelt,
        inferred: true,
    })
}

/// Every entry of a target's effective access the filter asks for, in order of person,
/// then resource (the root first, a scope before those inside it).
pub fn entries(state: &State, filter: &Filter) -> Vec<Entry> {
    entries_over(state, filter, &state.scopes())
}

/// [`entries`], answering on these scopes too (and on those `--on` names): to compare
/// two states of a target on the same scopes.
pub fn entries_over(state: &State, filter: &Filter, scopes: &BTreeSet<Scope>) -> Vec<Entry> {
    let mut scopes = scopes.clone();
    scopes.extend(filter.scopes(state));
    let asked = compute::Asked::new(state, &scopes);
    let mut out = Vec::new();
    for (key, person) in &state.people {
        if !filter.person(person) {
            continue;
        }
        for (res, cell) in compute::person(state, key, &asked) {
            let (resource, noun) = compute::describe(state, &res);
            if !filter.resource(&state.target, state.platform.has_grants(), &resource) {
                continue;
            }
            out.push(Entry {
                person: person.shown().to_owned(),
                account: person.account(),
                email: person.email.clone(),
                target: state.target.clone(),
                resource,
                noun,
                level: compute::level_word(&res, cell.rank).to_owned(),
                reasons: cell.reasons.into_iter().collect(),
            });
        }
    }
    out
}
