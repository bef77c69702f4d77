//! Groups: live groups merged across targets by name (without regard to case), each on
//! the targets where it exists, with the declared people who are members on all of
//! them. A membership the manifest cannot list without adding it somewhere else, or of
//! someone it does not declare, becomes a comment under the group.

use std::collections::{BTreeMap, BTreeSet};

use super::facts::Holder;
use super::people::{list, People};
use super::{Context, NOT_IMPORTED};
use crate::resolve::{valid_name, NameKind};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Group {
    /// The targets it exists on.
    pub targets: BTreeSet<String>,
    /// Declared people, by key.
    pub members: BTreeSet<String>,
    /// Memberships left out, one comment each.
    pub notes: Vec<String>,
}

#[derive(Debug, Default)]
pub(super) struct Groups {
    pub declared: BTreeMap<String, Group>,
    /// (name, why) of groups left undeclared.
    pub skipped: Vec<(String, String)>,
    /// (target, lower-cased name) to the declared group's name.
    names: BTreeMap<(String, String), String>,
}

impl Groups {
    /// The declared group this live group on `target` is.
    pub(super) fn name(&self, target: &str, group: &str) -> Option<&str> {
        self.names
            .get(&(target.to_owned(), group.to_lowercase()))
            .map(String::as_str)
    }

    /// The declared group of this name (without regard to case): how a target whose
    /// groups are made elsewhere names one, having none of its own.
    pub(super) fn declared_name(&self, group: &str) -> Option<&str> {
        self.declared
            .keys()
            .find(|name| name.eq_ignore_ascii_case(group))
            .map(String::as_str)
    }
}

pub(super) fn gather(cx: &Context<'_>, people: &People) -> Groups {
    // By lower-cased name: the spellings found, each with its targets.
    let mut found: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (target, facts) in &cx.facts {
        for group in &facts.groups {
            found
                .entry(group.to_lowercase())
                .or_default()
                .entry(group.clone())
                .or_default()
                .insert(target.clone());
        }
    }
    let index = Index::new(cx);
    let mut groups = Groups::default();
    for (lower, spellings) in &found {
        // The spelling of the first target it is on.
        let first = |s: &&BTreeSet<String>| s.iter().next().cloned();
        let Some(name) = spellings.iter().min_by_key(|(_, on)| first(on)).map(|(n, _)| n.clone()) else {
            continue;
        };
        let mut on: BTreeSet<String> = BTreeSet::new();
        let mut twice = None;
        for targets in spellings.values() {
            for t in targets {
                if !on.insert(t.clone()) {
                    twice = Some(t.clone());
                }
            }
        }
        let why = if let Some(target) = twice {
            Some(format!(
                "`{target}` has groups whose names differ only in case ({}), and a manifest matches group names without regard to case",
                list(spellings.keys().map(String::as_str))
            ))
        } else if !valid_name(NameKind::Group, &name) {
            Some("its name is not one a manifest takes for a group".to_owned())
        } else {
            None
        };
        if let Some(why) = why {
            groups.skipped.push((name, why));
            continue;
        }
        for (spelling, targets) in spellings {
            for t in targets {
                groups.names.insert((t.clone(), spelling.to_lowercase()), name.clone());
            }
        }
        // A group the platform fixes (an identity provider syncs it) is declared, so
        // grants can name it, but not its members: rollcall cannot change them, and
        // listing them would only state what the identity provider decides.
        let fixed = spellings.iter().find_map(|(spelling, targets)| {
            targets.iter().find_map(|t| {
                let facts = cx.facts.get(t)?;
                let why = facts.fixed.get(&Holder::Group(spelling.clone()))?;
                Some((t.clone(), why.clone()))
            })
        });
        let group = match fixed {
            Some((target, why)) => Group {
                targets: on,
                members: BTreeSet::new(),
                notes: vec![format!("{NOT_IMPORTED} its members on `{target}`: {why}")],
            },
            None => members(&index, people, lower, on),
        };
        groups.declared.insert(name, group);
    }
    groups
}

/// Members by (target, lower-cased group name), and the lower-cased usernames of each
/// target's accounts: indexes, so that a large organisation is not searched per group.
struct Index {
    members: BTreeMap<(String, String), Vec<String>>,
    accounts: BTreeSet<(String, String)>,
}

impl Index {
    fn new(cx: &Context<'_>) -> Index {
        let mut index = Index {
            members: BTreeMap::new(),
            accounts: BTreeSet::new(),
        };
        for (target, facts) in &cx.facts {
            for (group, username) in &facts.members {
                index
                    .members
                    .entry((target.clone(), group.to_lowercase()))
                    .or_default()
                    .push(username.clone());
            }
            let names = facts.accounts.keys().map(|u| (target.clone(), u.to_lowercase()));
            index.accounts.extend(names);
        }
        index
    }
}

/// The group's members: declared people who are members on every target it is on.
fn members(index: &Index, people: &People, lower: &str, on: BTreeSet<String>) -> Group {
    // Key to the targets where that person is a member.
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut notes = Vec::new();
    for target in &on {
        let listed = index.members.get(&(target.clone(), lower.to_owned()));
        for username in listed.into_iter().flatten() {
            match people.key(target, username) {
                Some(key) => {
                    found.entry(key.to_owned()).or_default().insert(target.clone());
                }
                None if index.accounts.contains(&(target.clone(), username.to_lowercase())) => notes.push(format!(
                    "{NOT_IMPORTED} `{username}`, a member on `{target}`, is not a declared user (see people.yaml)"
                )),
                None => notes.push(format!(
                    "{NOT_IMPORTED} `{username}`, a member on `{target}`, where no account has that name"
                )),
            }
        }
    }
    let mut members = BTreeSet::new();
    for (key, targets) in found {
        if targets == on {
            members.insert(key);
        } else {
            let missing = on.difference(&targets).map(String::as_str);
            notes.push(format!(
                "{NOT_IMPORTED} `{key}` is a member on {} but not on {}, where listing it here would add it",
                list(targets.iter().map(String::as_str)),
                list(missing)
            ));
        }
    }
    notes.sort();
    Group {
        targets: on,
        members,
        notes,
    }
}
