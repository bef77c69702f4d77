//! The organisation the contract declares, as plain data (people, groups and their members,
//! grants), and the manifest it is written as. The suite states its expectations in these
//! terms, never in rollcall's own model types, so it reads the same whatever shape the
//! model takes.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::TARGET;

#[derive(Debug, Clone)]
pub struct Person {
    /// The rollcall name: the manifest's key.
    pub key: String,
    pub name: String,
    pub email: String,
    pub active: bool,
    /// The username on the target, where it is not the key (`ids`).
    pub username: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    /// Rollcall names.
    pub members: Vec<String>,
    pub renamed_from: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Holder {
    User(String),
    Group(String),
}

/// Where a grant is made: the instance, or the one project or repository the target has
/// for the contract (`targets::Scopes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Instance,
    Project,
    Repository,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub scope: Scope,
    pub holder: Holder,
    /// A role word (`read`, `write`, `admin`) or the platform's own permission name.
    pub role: String,
}

/// Where grants go on a platform: the manifest's keys, the project and repository the
/// fresh target has, and who may hold a grant at each scope.
#[derive(Debug, Clone)]
pub struct Scopes {
    /// The key of the instance's grants under `access.TARGET` (`global`).
    pub instance_key: &'static str,
    /// The key projects are listed under (`projects`), and the one grants go to.
    pub projects_key: &'static str,
    pub project: &'static str,
    /// The repository in the project grants go to, where the platform has repositories.
    pub repository: Option<&'static str>,
    /// The scopes where a person may hold a grant, and where a group may.
    pub users_at: &'static [Scope],
    pub groups_at: &'static [Scope],
}

impl Scopes {
    /// Whether the platform can express `grant`.
    pub fn admits(&self, grant: &Grant) -> bool {
        let at = match grant.holder {
            Holder::User(_) => self.users_at,
            Holder::Group(_) => self.groups_at,
        };
        at.contains(&grant.scope) && (grant.scope != Scope::Repository || self.repository.is_some())
    }
}

#[derive(Debug, Clone, Default)]
pub struct Org {
    pub people: Vec<Person>,
    pub groups: Vec<Group>,
    pub grants: Vec<Grant>,
    /// `policy.prune` kinds turned on.
    pub prune: Vec<&'static str>,
}

pub const PEOPLE: usize = 55;
pub const GROUPS: usize = 11;

pub fn person_key(n: usize) -> String {
    format!("person{n:02}")
}

pub fn group_name(g: usize) -> String {
    format!("team{g:02}")
}

impl Person {
    pub fn new(key: &str, name: &str, email: &str) -> Self {
        Person {
            key: key.to_owned(),
            name: name.to_owned(),
            email: email.to_owned(),
            active: true,
            username: None,
        }
    }
}

impl Org {
    /// 55 people in 11 groups of 10 consecutive people (the last wraps around to the
    /// first five), one of them known on the target by another username where the
    /// platform has `usernames`, and pruning of memberships on. With `scopes`: every group
    /// licensed at the instance, and a few groups and people granted on the project and
    /// the repository, each where the platform can hold it.
    pub fn standard(scopes: Option<&Scopes>, usernames: bool) -> Org {
        let mut people: Vec<Person> = (0..PEOPLE)
            .map(|n| {
                Person::new(
                    &person_key(n),
                    &format!("Person Number{n}"),
                    &format!("person{n}@example.com"),
                )
            })
            .collect();
        if usernames {
            people[7].username = Some("p7.alt".to_owned());
        }
        let groups = (0..GROUPS)
            .map(|g| {
                let members: BTreeSet<String> = (g * 5..g * 5 + 10).map(|n| person_key(n % PEOPLE)).collect();
                Group {
                    name: group_name(g),
                    members: members.into_iter().collect(),
                    renamed_from: None,
                }
            })
            .collect();
        let mut org = Org {
            people,
            groups,
            grants: Vec::new(),
            prune: vec!["memberships"],
        };
        if let Some(scopes) = scopes {
            let group = |g: usize| Holder::Group(group_name(g));
            let user = |n: usize| Holder::User(person_key(n));
            for g in 0..GROUPS {
                org.grant(Scope::Instance, group(g), "read");
            }
            org.grant(Scope::Project, group(0), "write");
            org.grant(Scope::Project, group(1), "read");
            org.grant(Scope::Project, user(0), "admin");
            org.grant(Scope::Repository, group(2), "write");
            org.grant(Scope::Repository, group(3), "read");
            org.grant(Scope::Repository, user(1), "read");
            org.grants.retain(|g| scopes.admits(g));
        }
        org
    }

    /// `self` with `other`'s people, groups and grants added (residents first).
    pub fn and(mut self, other: Org) -> Org {
        self.people.extend(other.people);
        self.groups.extend(other.groups);
        self.grants.extend(other.grants);
        self.prune.extend(other.prune);
        self
    }

    pub fn grant(&mut self, scope: Scope, holder: Holder, role: &str) {
        self.grants.push(Grant {
            scope,
            holder,
            role: role.to_owned(),
        });
    }

    pub fn person(&mut self, key: &str) -> &mut Person {
        let found = self.people.iter_mut().find(|p| p.key == key);
        found.unwrap_or_else(|| panic!("no person {key}"))
    }

    pub fn group(&mut self, name: &str) -> &mut Group {
        let found = self.groups.iter_mut().find(|g| g.name == name);
        found.unwrap_or_else(|| panic!("no group {name}"))
    }

    pub fn is_active(&self, key: &str) -> bool {
        self.people.iter().any(|p| p.key == key && p.active)
    }

    /// (group, member) for every member that is an active person: an inactive person
    /// listed as a member has no effect.
    pub fn memberships(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for g in &self.groups {
            for m in &g.members {
                if self.is_active(m) {
                    out.push((g.name.clone(), m.clone()));
                }
            }
        }
        out
    }

    /// The manifest: `users`, `groups`, `access` (where the platform has `scopes`) and
    /// `policy`.
    pub fn yaml(&self, scopes: Option<&Scopes>) -> String {
        let mut m = String::from("users:\n");
        if self.people.is_empty() {
            m = String::from("users: {}\n");
        }
        for p in &self.people {
            let mut fields = format!("name: {}, email: {}", p.name, p.email);
            if !p.active {
                fields.push_str(", active: false");
            }
            if let Some(username) = &p.username {
                let _ = write!(fields, ", ids: {{ {TARGET}: {username} }}");
            }
            let _ = writeln!(m, "  {}: {{ {fields} }}", p.key);
        }
        if !self.groups.is_empty() {
            m.push_str("groups:\n");
        }
        for g in &self.groups {
            let _ = writeln!(m, "  {}:", g.name);
            if let Some(old) = &g.renamed_from {
                let _ = writeln!(m, "    renamed_from: {old}");
            }
            let _ = writeln!(m, "    members: [{}]", g.members.join(", "));
        }
        if let Some(scopes) = scopes.filter(|_| !self.grants.is_empty()) {
            m.push_str(&self.access(scopes));
        }
        m.push_str("policy:\n  prune: {");
        let prune: Vec<String> = self.prune.iter().map(|k| format!(" {k}: true")).collect();
        let _ = writeln!(m, "{} }}", prune.join(","));
        m
    }

    fn access(&self, scopes: &Scopes) -> String {
        let section = |scope: Scope, indent: &str| {
            let mut out = String::new();
            for (kind, users) in [("users", true), ("groups", false)] {
                let entries: Vec<String> = self
                    .grants
                    .iter()
                    .filter(|g| g.scope == scope)
                    .filter_map(|g| match (&g.holder, users) {
                        (Holder::User(n), true) | (Holder::Group(n), false) => Some(format!("{n}: {}", g.role)),
                        _ => None,
                    })
                    .collect();
                if !entries.is_empty() {
                    let _ = writeln!(out, "{indent}{kind}: {{ {} }}", entries.join(", "));
                }
            }
            out
        };
        let mut m = format!("access:\n  {TARGET}:\n");
        let global = section(Scope::Instance, "      ");
        if !global.is_empty() {
            let _ = write!(m, "    {}:\n{global}", scopes.instance_key);
        }
        let project = section(Scope::Project, "        ");
        let repository = section(Scope::Repository, "            ");
        if !project.is_empty() || !repository.is_empty() {
            let _ = write!(m, "    {}:\n      {}:\n{project}", scopes.projects_key, scopes.project);
            if let Some(repo) = scopes.repository.filter(|_| !repository.is_empty()) {
                let _ = write!(m, "        repos:\n          {repo}:\n{repository}");
            }
        }
        m
    }

    /// How many projects and repositories the manifest names.
    pub fn named_scopes(&self) -> (usize, usize) {
        let project = self.grants.iter().any(|g| g.scope != Scope::Instance);
        let repository = self.grants.iter().any(|g| g.scope == Scope::Repository);
        (usize::from(project), usize::from(repository))
    }
}
