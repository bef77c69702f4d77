//! Access: one target's grants as the manifest's `access` section, native permissions
//! written as the manifest's role words (or the native name where the manifest takes it
//! and has no word). A grant the manifest cannot state exactly (a permission with no
//! word at its scope, a holder or a project it does not declare) becomes a comment where
//! it would have been, never a weaker grant.

use std::collections::BTreeMap;

use super::facts::{Facts, Holder, Scope};
use super::groups::Groups;
use super::people::People;
use super::yaml::{Item, Node};
use super::NOT_IMPORTED;
use crate::platform::Platform;

/// The grants of one scope, as they will be written.
#[derive(Debug, Default)]
struct Grants {
    all_users: Option<String>,
    users: BTreeMap<String, String>,
    groups: BTreeMap<String, String>,
    notes: Vec<String>,
}

impl Grants {
    fn items(&self) -> Vec<Item> {
        let mut items = Vec::new();
        if let Some(word) = &self.all_users {
            items.push(Item::scalar("all_users", word.clone()));
        }
        for (section, map) in [("users", &self.users), ("groups", &self.groups)] {
            if !map.is_empty() {
                let entries = map.iter().map(|(k, v)| Item::scalar(k.clone(), v.clone())).collect();
                items.push(Item::entry(section, Node::Map(entries)));
            }
        }
        items.extend(self.notes.iter().cloned().map(Item::Comment));
        items
    }

    fn is_empty(&self) -> bool {
        self.all_users.is_none() && self.users.is_empty() && self.groups.is_empty() && self.notes.is_empty()
    }
}

#[derive(Debug, Default)]
struct Project {
    grants: Grants,
    repos: BTreeMap<String, Grants>,
}

/// The `access` entry of `target`, or nothing when it has no grants at all.
pub(super) fn access(
    target: &str,
    platform: Platform,
    facts: &Facts,
    people: &People,
    groups: &Groups,
) -> Option<Item> {
    // A name the platform's rule for that segment accepts, as the manifest will check it.
    let valid = |kind: &str, name: &str| platform.segment(kind).is_some_and(|rule| (rule.valid)(name));
    let mut global = Grants::default();
    let mut projects: BTreeMap<String, Project> = BTreeMap::new();
    let mut notes = Vec::new();
    for grant in &facts.grants {
        let slot = match &grant.scope {
            Scope::Global => &mut global,
            Scope::Project(p) | Scope::Repo(p, _) if !valid("project", p) => {
                notes.push(format!(
                    "{NOT_IMPORTED} project `{p}`: {} holds `{}` there, but `{p}` is not a key a manifest takes",
                    holder(&grant.holder),
                    grant.permission
                ));
                continue;
            }
            Scope::Project(p) => &mut projects.entry(p.clone()).or_default().grants,
            Scope::Repo(p, r) if !valid("repo", r) => {
                let project = projects.entry(p.clone()).or_default();
                project.grants.notes.push(format!(
                    "{NOT_IMPORTED} repository `{r}`: {} holds `{}` there, but `{r}` is not a slug a manifest takes",
                    holder(&grant.holder),
                    grant.permission
                ));
                continue;
            }
            Scope::Repo(p, r) => {
                let project = projects.entry(p.clone()).or_default();
                project.repos.entry(r.clone()).or_default()
            }
        };
        let kinds = grant.scope.kinds();
        let roles = match &grant.holder {
            Holder::AllUsers => platform.default_roles(kinds),
            _ => platform.scope_roles(kinds),
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
        match &grant.holder {
            Holder::AllUsers => slot.all_users = Some(word),
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
    let mut items: Vec<Item> = notes.into_iter().map(Item::Comment).collect();
    if !global.is_empty() {
        items.push(Item::entry("global", Node::Map(global.items())));
    }
    if !projects.is_empty() {
        let entries = projects
            .into_iter()
            .map(|(key, project)| {
                let mut inner = project.grants.items();
                if !project.repos.is_empty() {
                    let repos = project
                        .repos
                        .into_iter()
                        .map(|(slug, grants)| Item::entry(slug, Node::Map(grants.items())))
                        .collect();
                    inner.push(Item::entry("repos", Node::Map(repos)));
                }
                Item::entry(key, Node::Map(inner))
            })
            .collect();
        items.push(Item::entry("projects", Node::Map(entries)));
    }
    (!items.is_empty()).then(|| Item::entry(target, Node::Map(items)))
}

fn holder(h: &Holder) -> String {
    match h {
        Holder::User(u) => format!("user `{u}`"),
        Holder::Group(g) => format!("group `{g}`"),
        Holder::AllUsers => "`all_users`".to_owned(),
    }
}
