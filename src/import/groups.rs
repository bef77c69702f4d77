//! Groups: live groups merged across targets by name (without regard to case), each on
//! the targets where it exists, with the declared people who are members on all of
//! them, those whose role makes them maintainers (`Spec::member_roles`) apart, and the
//! settings its targets store (`Spec::group_attributes`) in the manifest's words. A
//! membership or a setting the manifest cannot state without changing it somewhere
//! else, or a member it does not declare, becomes a comment under the group.

use std::collections::{BTreeMap, BTreeSet};

use super::facts::Holder;
use super::people::{list, People};
use super::{Context, NOT_IMPORTED};
use crate::platform::GroupAttribute;
use crate::resolve::{valid_name, NameKind};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Group {
    /// The targets it exists on.
    pub targets: BTreeSet<String>,
    /// Declared people, by key: plain members, and members the platform gives the
    /// maintainer's role.
    pub members: BTreeSet<String>,
    pub maintainers: BTreeSet<String>,
    /// The settings, in the platform's order: `privacy: secret`.
    pub settings: Vec<Setting>,
    /// Memberships left out, one comment each.
    pub notes: Vec<String>,
}

/// One setting in the manifest's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Setting {
    pub field: &'static str,
    pub word: String,
    /// Free text (a description), written first, as a person would.
    pub text: bool,
    /// Its words are `true` and `false`: the manifest takes a boolean.
    pub flag: bool,
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
                notes: vec![format!("{NOT_IMPORTED} its members on `{target}`: {why}")],
                ..Group::default()
            },
            None => {
                let mut group = members(&index, people, lower, on);
                settings(cx, spellings, &mut group);
                group
            }
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
    /// On targets whose platform gives members a role: whether each member, by
    /// (target, lower-cased group name, username), has the maintainer's.
    maintains: BTreeMap<(String, String, String), bool>,
}

impl Index {
    fn new(cx: &Context<'_>) -> Index {
        let mut index = Index {
            members: BTreeMap::new(),
            accounts: BTreeSet::new(),
            maintains: BTreeMap::new(),
        };
        for (target, facts) in &cx.facts {
            let roles = cx
                .targets
                .get(target)
                .and_then(|t| t.platform.spec().member_roles.as_ref());
            if let Some(roles) = roles {
                for (group, username) in &facts.members {
                    let role = facts.roles.get(&(group.clone(), username.clone()));
                    let role = role.and_then(|a| a.get(roles.attribute));
                    index.maintains.insert(
                        (target.clone(), group.to_lowercase(), username.clone()),
                        role.is_some_and(|r| r == roles.maintainer),
                    );
                }
            }
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

/// The group's members: declared people who are members on every target it is on,
/// maintainers apart where each target that gives roles agrees they are one.
fn members(index: &Index, people: &People, lower: &str, on: BTreeSet<String>) -> Group {
    // Key to the username it has on each target where that person is a member.
    let mut found: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut notes = Vec::new();
    for target in &on {
        let listed = index.members.get(&(target.clone(), lower.to_owned()));
        for username in listed.into_iter().flatten() {
            match people.key(target, username) {
                Some(key) => {
                    found
                        .entry(key.to_owned())
                        .or_default()
                        .insert(target.clone(), username.clone());
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
    let mut group = Group {
        targets: on,
        ..Group::default()
    };
    for (key, usernames) in found {
        if !usernames.keys().eq(group.targets.iter()) {
            let missing = group.targets.iter().filter(|t| !usernames.contains_key(*t));
            notes.push(format!(
                "{NOT_IMPORTED} `{key}` is a member on {} but not on {}, where listing it here would add it",
                list(usernames.keys().map(String::as_str)),
                list(missing.map(String::as_str))
            ));
            continue;
        }
        // Their role on each target that gives one.
        let roles: BTreeMap<&String, bool> = usernames
            .iter()
            .filter_map(|(t, u)| {
                let maintains = index.maintains.get(&(t.clone(), lower.to_owned(), u.clone()))?;
                Some((t, *maintains))
            })
            .collect();
        if roles.values().all(|m| *m) && !roles.is_empty() {
            group.maintainers.insert(key);
        } else if roles.values().all(|m| !*m) {
            group.members.insert(key);
        } else {
            let on = |want: bool| list(roles.iter().filter(|(_, m)| **m == want).map(|(t, _)| t.as_str()));
            notes.push(format!(
                "{NOT_IMPORTED} `{key}` maintains the group on {} but is a plain member on {}, and a manifest gives one role on all",
                on(true),
                on(false)
            ));
        }
    }
    notes.sort();
    group.notes = notes;
    group
}

/// The settings the group's targets store, where they agree, in the manifest's words.
/// A target that stores a setting but has none set counts as free text left empty.
fn settings(cx: &Context<'_>, spellings: &BTreeMap<String, BTreeSet<String>>, group: &mut Group) {
    // Field to the value on each target that stores it, and the attribute's rule.
    let mut values: BTreeMap<&'static str, (BTreeMap<&String, String>, &GroupAttribute)> = BTreeMap::new();
    let mut order: Vec<&'static str> = Vec::new();
    for (spelling, targets) in spellings {
        for target in targets {
            let Some(config) = cx.targets.get(target) else { continue };
            let live = cx.facts.get(target).and_then(|f| f.settings.get(spelling));
            for rule in config.platform.spec().group_attributes {
                let value = live.and_then(|a| a.get(rule.field)).cloned().unwrap_or_default();
                if !order.contains(&rule.field) {
                    order.push(rule.field);
                }
                values
                    .entry(rule.field)
                    .or_insert((BTreeMap::new(), rule))
                    .0
                    .insert(target, value);
            }
        }
    }
    for field in order {
        let Some((on, rule)) = values.get(field) else { continue };
        let distinct: BTreeSet<&String> = on.values().collect();
        match distinct.into_iter().collect::<Vec<_>>().as_slice() {
            // Nothing set: nothing to state.
            [value] if value.is_empty() => {}
            [value] if rule.values.is_empty() || rule.native(value).is_some() => {
                let words: BTreeSet<&str> = rule.values.iter().map(|(w, _)| *w).collect();
                group.settings.push(Setting {
                    field,
                    word: rule.word(value),
                    text: rule.values.is_empty(),
                    flag: words == BTreeSet::from(["true", "false"]),
                });
            }
            [value] => group.notes.push(format!(
                "{NOT_IMPORTED} `{field}` is `{value}`, which a manifest cannot state ({})",
                rule.valid()
            )),
            _ => {
                let each: Vec<String> = on.iter().map(|(t, v)| format!("`{v}` on `{t}`")).collect();
                group.notes.push(format!(
                    "{NOT_IMPORTED} `{field}` differs between its targets ({}), and a manifest sets one for all",
                    each.join(", ")
                ));
            }
        }
    }
}
