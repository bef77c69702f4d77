//! Access: one target's grants as the manifest's `access` section, native permissions
//! written as the manifest's role words (or the native name where the manifest takes it
//! and has no word). A grant the manifest cannot state exactly (a permission with no
//! word at its scope, a holder or a project it does not declare) becomes a comment where
//! it would have been, never a weaker grant.

use std::collections::BTreeMap;

use super::facts::{Facts, Holder};
use super::groups::Groups;
use super::people::People;
use super::yaml::{Item, Node};
use super::NOT_IMPORTED;
use crate::model::Scope;
use crate::platform::Platform;

/// One scope's entry as it will be written: its grants, and the entries of the scopes
/// under it by the segment kind's key and the segment's name.
#[derive(Debug, Default)]
struct Entry {
    default: Option<String>,
    users: BTreeMap<String, String>,
    groups: BTreeMap<String, String>,
    /// Grants here the manifest cannot state, written beside the grants.
    notes: Vec<String>,
    /// Grants under this scope on a scope the manifest cannot name, written at the top
    /// of the entry.
    unnamed: Vec<String>,
    children: BTreeMap<&'static str, BTreeMap<String, Entry>>,
}

impl Entry {
    /// The entry of `scope` under this one (the root's), or the entry where a note about
    /// it belongs and why: the deepest one whose scope the manifest can name.
    fn find(&mut self, platform: Platform, scope: &Scope) -> Result<&mut Entry, (&mut Entry, String)> {
        let mut entry = self;
        let mut kinds: Vec<&str> = Vec::new();
        for segment in scope.segments() {
            let rule = platform.children(&kinds).find(|r| r.kind == segment.kind);
            let why = match rule {
                None => Some(format!("a manifest's `access` has no {}s there", segment.kind)),
                Some(rule) if !(rule.valid)(&segment.name) => {
                    Some(format!("`{}` is not a {} a manifest takes", segment.name, rule.noun))
                }
                Some(_) => None,
            };
            match (rule, why) {
                (Some(rule), None) => {
                    kinds.push(rule.kind);
                    entry = entry
                        .children
                        .entry(rule.key)
                        .or_default()
                        .entry(segment.name.to_string())
                        .or_default();
                }
                (_, why) => return Err((entry, why.unwrap_or_default())),
            }
        }
        Ok(entry)
    }

    fn has_grants(&self) -> bool {
        !(self.users.is_empty() && self.groups.is_empty() && self.notes.is_empty())
    }

    fn items(&self, platform: Platform, kinds: &mut Vec<&'static str>) -> Vec<Item> {
        let mut items: Vec<Item> = self.unnamed.iter().cloned().map(Item::Comment).collect();
        if let (Some(word), Some(roles)) = (&self.default, platform.default_roles(kinds)) {
            items.push(Item::scalar(roles.key, word.clone()));
        }
        let mut grants = Vec::new();
        for (section, map) in [("users", &self.users), ("groups", &self.groups)] {
            if !map.is_empty() {
                let entries = map.iter().map(|(k, v)| Item::scalar(k.clone(), v.clone())).collect();
                grants.push(Item::entry(section, Node::Map(entries)));
            }
        }
        grants.extend(self.notes.iter().cloned().map(Item::Comment));
        match platform.scope_roles(kinds).map(|r| r.key) {
            Some(key) if !key.is_empty() && self.has_grants() => items.push(Item::entry(key, Node::Map(grants))),
            _ => items.extend(grants),
        }
        for rule in platform.children(kinds) {
            let Some(named) = self.children.get(rule.key) else {
                continue;
            };
            kinds.push(rule.kind);
            let entries = named
                .iter()
                .map(|(name, entry)| Item::entry(name.clone(), Node::Map(entry.items(platform, kinds))))
                .collect();
            kinds.pop();
            items.push(Item::entry(rule.key, Node::Map(entries)));
        }
        items
    }
}

/// The `access` entry of `target`, or nothing when it has no grants at all.
pub(super) fn access(
    target: &str,
    platform: Platform,
    facts: &Facts,
    people: &People,
    groups: &Groups,
) -> Option<Item> {
    let mut root = Entry::default();
    for grant in &facts.grants {
        let slot = match root.find(platform, &grant.scope) {
            Ok(slot) => slot,
            Err((slot, why)) => {
                slot.unnamed.push(format!(
                    "{NOT_IMPORTED} {}: {} holds `{}` there, but {why}",
                    grant.scope,
                    holder(&grant.holder),
                    grant.permission
                ));
                continue;
            }
        };
        let kinds = grant.scope.kinds();
        let roles = match &grant.holder {
            Holder::Everyone => platform.default_roles(&kinds),
            _ => platform.scope_roles(&kinds),
        };
        let word = roles.and_then(|r| r.word(&grant.permission));
        let Some(word) = word else {
            slot.notes.push(format!(
                "{NOT_IMPORTED} {} holds `{}` here, for which a manifest has no word at this scope",
                holder(&grant.holder),
                grant.permission
            ));
            continue;
        };
        if let Some(why) = facts.fixed.get(&grant.holder) {
            slot.notes.push(format!(
                "{NOT_IMPORTED} {} holds `{word}` here, but {why}",
                holder(&grant.holder)
            ));
            continue;
        }
        match &grant.holder {
            Holder::Everyone => slot.default = Some(word),
            // Where people are made elsewhere the read names those the directory has
            // by their key and anyone else by the platform's own id.
            Holder::User(u) if platform.users().external && people.key(target, u).is_none() => {
                slot.notes.push(format!(
                    "{NOT_IMPORTED} account `{u}` holds `{word}` here, but no imported directory has a person it is (by email): import the directory target it takes its principals from (`principals_from`) with it"
                ));
            }
            Holder::Group(g) if platform.groups().external => match groups.declared_name(g) {
                Some(name) => {
                    slot.groups.insert(name.to_owned(), word);
                }
                None => slot.notes.push(format!(
                    "{NOT_IMPORTED} group `{g}` holds `{word}` here, but no imported directory group has this {}: if it is one whose {} is not derived from its name, give that group `ids: {{ {target}: {g} }}`",
                    platform.spec().group_ids.as_ref().map_or("name", |r| r.noun),
                    platform.spec().group_ids.as_ref().map_or("name", |r| r.noun),
                )),
            },
            Holder::User(u) => match people.key(target, u) {
                Some(key) => {
                    slot.users.insert(key.to_owned(), word);
                }
                None => slot.notes.push(format!(
                    "{NOT_IMPORTED} user `{u}` holds `{word}` here, but is not a declared user (see people.yaml)"
                )),
            },
            Holder::Group(g) => match groups.name(target, g) {
                Some(name) => {
                    slot.groups.insert(name.to_owned(), word);
                }
                None => slot.notes.push(format!(
                    "{NOT_IMPORTED} group `{g}` holds `{word}` here, but is not a declared group (see groups.yaml)"
                )),
            },
        }
    }
    let items = root.items(platform, &mut Vec::new());
    (!items.is_empty()).then(|| Item::entry(target, Node::Map(items)))
}

fn holder(h: &Holder) -> String {
    match h {
        Holder::User(u) => format!("user `{u}`"),
        Holder::Group(g) => format!("group `{g}`"),
        Holder::Everyone => "the default for everyone".to_owned(),
    }
}
