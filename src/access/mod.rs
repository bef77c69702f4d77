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

    fn resource(&self, target: &str, resource: &str) -> bool {
        self.on.is_empty()
            || self.on.iter().any(|on| match on.split_once(':') {
                None => on == target,
                // Paths are spelt as the target does (`resource_named`); a live read may
                // spell a name otherwise than the manifests, which the platform accepts.
                Some((t, path)) => {
                    let (resource, path) = (resource.to_lowercase(), path.to_lowercase());
                    t == target
                        && (resource == path || resource.strip_prefix(&path).is_some_and(|rest| rest.starts_with('/')))
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

/// A `--on` path that names nothing on its target, with what it could have meant.
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
}

/// Spells an `--on` path (after `TARGET:`) as the target does, matching each name without
/// regard to case, as the platforms match them. A scope inside one the states name is
/// taken as written (a repository nothing is granted on answers through its project)
/// unless it is one letter or two from a name the states know, which is taken for a typo;
/// a path that names nothing, or has an empty name, is an error rather than an empty
/// answer.
pub fn resource_named(states: &[&State], target: &str, path: &str) -> Result<Named, UnknownResource> {
    let unknown = |why: String, hint: String| UnknownResource {
        message: format!("--on {target}:{path}: {why}"),
        hint,
    };
    if path.split('/').any(str::is_empty) {
        return Err(unknown(
            "a path is names joined by `/`, with none empty".to_owned(),
            format!("write `--on {target}:{}`", path.trim_matches('/')),
        ));
    }
    let mut known: BTreeSet<String> = BTreeSet::new();
    let mut platform = None;
    for state in states.iter().filter(|s| s.target == target) {
        platform = Some(state.platform);
        if !state.platform.has_grants() {
            known.extend(state.groups.values().cloned());
            if !state.platform.users().external {
                known.insert("account".to_owned());
            }
            continue;
        }
        known.insert(compute::describe(state, &compute::Res::Scope(Scope::root())).0);
        for scope in state.scopes() {
            let names: Vec<&str> = scope.segments().iter().map(|s| s.name.as_str()).collect();
            for depth in 1..=names.len() {
                known.insert(names[..depth].join("/"));
            }
        }
    }
    let find = |p: &str| known.iter().find(|k| k.eq_ignore_ascii_case(p)).cloned();
    let named = |path: String, inferred: bool| Ok(Named { path, inferred });
    if let Some(found) = find(path) {
        return named(found, false);
    }
    let near = crate::resolve::did_you_mean(path, known.iter());
    if let Some(platform) = platform.filter(|p| p.has_grants()) {
        if path.eq_ignore_ascii_case("global") {
            return named("global".to_owned(), false);
        }
        if let Some((parent, last)) = path.rsplit_once('/') {
            if let (Some(parent), Some(_), None) = (find(parent), compute::scope_named(platform, path), near) {
                return named(format!("{parent}/{last}"), true);
            }
        }
    }
    let hint = match near {
        Some(s) => format!("did you mean `{target}:{s}`?"),
        None if known.is_empty() => format!("nothing on {target} holds or gives access"),
        None => {
            let some: Vec<&str> = known.iter().take(8).map(String::as_str).collect();
            let more = if known.len() > some.len() { ", …" } else { "" };
            format!("{target} has {}{more}", some.join(", "))
        }
    };
    Err(unknown(format!("nothing on {target} is named `{path}`"), hint))
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
            if !filter.resource(&state.target, &resource) {
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
