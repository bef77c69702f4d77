//! `resolve`: raw manifest files to a checked `Desired`. Merges the files, checks names and
//! references, translates role words to each platform's permission names, and collects
//! every problem with its location instead of stopping at the first.

mod access;
mod groups;
mod names;
mod policy;
mod roles;
mod sources;
mod targets;

pub use sources::inject_sourced;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_saphyr::Spanned;

use names::join;
pub use names::{did_you_mean, is_email, is_loopback, valid_name, NameKind};

use crate::desired::{AuthConfig, Desired, Endpoint, GroupId, Platform, Policy, ReadScope, SecretRef, TargetConfig};
use crate::manifest::raw::{RawAccess, RawGroup, RawTarget, RawUser, SpannedMap};
use crate::manifest::{Diagnostic, Loaded, Origin, Sources};
use crate::model::{Address, Kind, Principal, Resource, ResourceId, Scope, UserAttrs};
use crate::platform::Credentials;

/// Resolves loaded files. On any problem returns all of them, sorted by file and line.
pub fn resolve(loaded: &Loaded) -> Result<Desired, Vec<Diagnostic>> {
    // Until the sources are read, people they provide are unknown: references to them,
    // and people declared in part for a source to complete, wait for that.
    let unsourced = loaded.sourced.is_none() && loaded.files.iter().any(|(_, f)| !f.sources.0.is_empty());
    let mut r = Resolver {
        sources: &loaded.sources,
        problems: Vec::new(),
        partial: loaded.incomplete,
        unsourced,
        taken_usernames: BTreeMap::new(),
        sourced: loaded.sourced.as_deref(),
    };
    let desired = r.run(loaded);
    if r.problems.is_empty() {
        Ok(desired)
    } else {
        let mut problems = r.problems;
        problems.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        Err(problems)
    }
}

struct Resolver<'a> {
    sources: &'a Sources,
    problems: Vec<Diagnostic>,
    /// Some files failed to parse: skip the checks their declarations would satisfy.
    partial: bool,
    /// The manifests declare identity sources that were not read: a person declared in
    /// part may be completed by one, and a user a reference names may come from one.
    unsourced: bool,
    /// (target, lower-cased username) to the person who has it there.
    taken_usernames: BTreeMap<(String, String), String>,
    /// What the sources provide, once read: why each sourced person and member is wanted.
    sourced: Option<&'a crate::source::select::Sourced>,
}

/// A declaration with the file it came from.
struct Decl<'a, T> {
    file: usize,
    key: &'a Spanned<String>,
    value: &'a T,
}

/// Each file's path, length and text, in path order: moving, renaming or editing any
/// manifest changes the digest; the order files were found in does not.
fn manifest_digest(sources: &crate::manifest::diagnostic::Sources) -> String {
    let mut files: Vec<_> = sources.files.iter().collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let mut bytes = Vec::new();
    for f in files {
        for part in [f.name.as_bytes(), f.text.as_bytes()] {
            bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
            bytes.extend_from_slice(part);
        }
    }
    crate::desired::digest(&bytes)
}

/// Never leave a target without an administrator.
const DEFAULT_MIN_ADMINS: usize = 1;

fn origin<T>(file: usize, s: &Spanned<T>) -> Origin {
    Origin {
        file,
        location: s.referenced,
    }
}

impl<'a> Resolver<'a> {
    fn error(&mut self, at: Origin, message: String, hint: impl Into<String>) {
        let d = self.sources.diagnostic(at, message).with_hint(hint);
        self.problems.push(d);
    }

    /// A name that refers to something not declared. When some file failed to parse,
    /// its declarations are missing, so these would be noise: they wait for a clean parse.
    /// A name that refers to a user not declared: a source may provide them, so until the
    /// sources are read this waits too.
    fn user_reference_error(&mut self, at: Origin, message: String, hint: impl Into<String>) {
        if !self.unsourced {
            self.reference_error(at, message, hint);
        }
    }

    fn reference_error(&mut self, at: Origin, message: String, hint: impl Into<String>) {
        if !self.partial {
            self.error(at, message, hint);
        }
    }

    fn where_is(&self, at: Origin) -> String {
        let name = self.sources.files.get(at.file).map(|f| f.name.as_str()).unwrap_or("?");
        format!("{name}:{}:{}", at.location.line(), at.location.column())
    }

    /// Merges one top-level section across files, reporting names defined twice.
    fn merge<'b, T>(
        &mut self,
        what: &str,
        files: impl Iterator<Item = (usize, &'b SpannedMap<T>)>,
    ) -> BTreeMap<String, Decl<'b, T>> {
        let mut merged: BTreeMap<String, Decl<'b, T>> = BTreeMap::new();
        for (file, map) in files {
            for (key, value) in &map.0 {
                if let Some(first) = merged.get(&key.value) {
                    let first_at = self.where_is(origin(first.file, first.key));
                    self.error(
                        origin(file, key),
                        format!("{what} `{}` is defined more than once", key.value),
                        format!("it is first defined at {first_at}; keep one definition"),
                    );
                    continue;
                }
                merged.insert(key.value.clone(), Decl { file, key, value });
            }
        }
        merged
    }

    fn run(&mut self, loaded: &Loaded) -> Desired {
        let files = &loaded.files;
        let targets = self.merge("target", files.iter().map(|(i, f)| (*i, &f.targets)));
        let users = self.merge("user", files.iter().map(|(i, f)| (*i, &f.users)));
        let groups = self.merge("group", files.iter().map(|(i, f)| (*i, &f.groups)));

        let mut desired = Desired {
            targets: BTreeMap::new(),
            resources: BTreeMap::new(),
            offboarded: BTreeMap::new(),
            renames: BTreeMap::new(),
            manifest_digest: manifest_digest(&loaded.sources),
            manifest_dir: loaded.dir.clone(),
            protect_undeclared: BTreeSet::new(),
            sourcing: None,
            sourced: loaded.sourced.clone(),
            provenance: BTreeMap::new(),
            followed: BTreeMap::new(),
            usernames: BTreeMap::new(),
            policy: Policy {
                min_admins: DEFAULT_MIN_ADMINS,
                ..Policy::default()
            },
        };

        for (name, decl) in &targets {
            self.check_name(NameKind::Target, decl.file, decl.key);
            if let Some(config) = self.target(&loaded.dir, name, decl.file, decl.value) {
                desired.targets.insert(name.clone(), config);
            }
        }
        self.principals_from(&targets, &mut desired);
        let target_names: BTreeSet<String> = targets.keys().cloned().collect();
        if targets.is_empty() && !self.partial {
            self.no_targets(loaded, users.len(), groups.len());
        }

        // Users: per target, the username each person has there.
        let mut usernames: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (name, decl) in &users {
            self.check_name(NameKind::User, decl.file, decl.key);
            self.user(name, decl, &target_names, &mut usernames, &mut desired);
        }
        desired.usernames.clone_from(&usernames);

        let mut lower_groups: BTreeMap<String, &str> = BTreeMap::new();
        for (name, decl) in &groups {
            self.check_name(NameKind::Group, decl.file, decl.key);
            if let Some(other) = lower_groups.insert(name.to_lowercase(), name) {
                self.error(
                    origin(decl.file, decl.key),
                    format!("groups `{other}` and `{name}` differ only in case"),
                    "group names are matched without regard to case on every target: they would be the same group; keep one",
                );
            }
            self.group(name, decl, &target_names, &users, &usernames, &mut desired);
        }
        self.renames(&groups, &target_names, &mut desired);
        desired.sourcing = self.sourcing(loaded, &groups);
        if let Some(sourcing) = &desired.sourcing {
            desired.followed = sourcing
                .feeds
                .iter()
                .map(|(group, feeds)| (group.clone(), feeds.iter().map(|f| f.label()).collect()))
                .collect();
        }

        // Policy first: the access section may not grant to what it protects.
        self.policy(files, &usernames, &mut desired);
        self.access(files, &targets, &users, &groups, &usernames, &mut desired);
        read_scope(&mut desired);
        desired
    }

    fn user(
        &mut self,
        name: &str,
        decl: &Decl<'_, RawUser>,
        targets: &BTreeSet<String>,
        usernames: &mut BTreeMap<String, BTreeMap<String, String>>,
        desired: &mut Desired,
    ) {
        let raw = decl.value;
        let (Some(display), Some(address)) = (&raw.name, &raw.email) else {
            // In a manifest whose sources were not read, a person declared in part may
            // be completed by a source: nothing to say until it is.
            if !self.unsourced {
                let missing: Vec<&str> = [("name", raw.name.is_none()), ("email", raw.email.is_none())]
                    .into_iter()
                    .filter_map(|(field, absent)| absent.then_some(field))
                    .collect();
                self.error(
                    origin(decl.file, decl.key),
                    format!("user `{name}` has no {}", missing.join(" and no ")),
                    "give the person's `name` and `email`, or let an identity source provide a person of this name (`sources:`, `people:`)",
                );
            }
            return;
        };
        let active = raw.active.unwrap_or(true);
        let email = address.value.trim();
        if !is_email(email) {
            self.error(
                origin(decl.file, address),
                format!("user `{name}` has an invalid email address `{email}`"),
                "write an address like name@example.com",
            );
        }
        if display.value.chars().any(char::is_control) {
            self.error(
                origin(decl.file, display),
                format!("user `{name}` has control characters in their name"),
                "write the name on one line, without tabs or escapes",
            );
        }
        if display.value.trim().is_empty() {
            self.error(
                origin(decl.file, display),
                format!("user `{name}` has an empty name"),
                "give the person's full name; it becomes their display name",
            );
        }
        for (target, id) in &raw.ids.0 {
            if !targets.contains(&target.value) {
                self.unknown_target(decl.file, target, targets);
            }
            // Where people are made elsewhere they are found by email, and named on the
            // target as everywhere: an id there would name them apart from the target
            // that provides them.
            if desired
                .targets
                .get(&target.value)
                .is_some_and(|t| t.platform.users().external || t.platform.spec().users_by_email)
            {
                self.error(
                    origin(decl.file, target),
                    format!(
                        "user `{name}` has an id for target `{}`, where people are found by email",
                        target.value
                    ),
                    "remove it: on this platform a person is their email, and keeps their rollcall name",
                );
            }
            if !valid_name(NameKind::User, id) {
                self.error(
                    origin(decl.file, target),
                    format!("user `{name}` has an invalid id `{id}` for target `{}`", target.value),
                    NameKind::User.rule(),
                );
            }
        }
        for target in targets {
            let username = raw
                .ids
                .0
                .iter()
                .find(|(t, _)| &t.value == target)
                .map(|(_, id)| id.clone())
                .unwrap_or_else(|| name.to_owned());
            let names = usernames.entry(target.clone()).or_default();
            // Usernames match without regard to case on every platform rollcall serves
            // (each provider's platform folds case the same way): `Dave` is `dave`.
            let taken = self.taken_usernames.entry((target.clone(), username.to_lowercase()));
            if let std::collections::btree_map::Entry::Occupied(entry) = taken {
                let other = entry.get().clone();
                let theirs = names.get(&other).cloned().unwrap_or_default();
                self.error(
                    origin(decl.file, decl.key),
                    if theirs == username {
                        format!("users `{other}` and `{name}` both have the username `{username}` on target `{target}`")
                    } else {
                        format!("users `{other}` and `{name}` have the usernames `{theirs}` and `{username}` on target `{target}`, which differ only in case (usernames are case-insensitive)")
                    },
                    "give one of them a different id under `ids:`",
                );
                continue;
            }
            taken.or_insert_with(|| name.to_owned());
            names.insert(name.to_owned(), username.clone());
            let mut attrs = UserAttrs::new(display.value.trim(), email);
            let user_active = desired
                .targets
                .get(target)
                .is_some_and(|t| t.platform.users().deactivate);
            if user_active {
                // The account is kept and marked inactive; externalId carries the
                // rollcall name so the service and its other clients can match it.
                attrs.active = Some(active);
                attrs.external_id = Some(name.to_owned());
            }
            if !active {
                if let Some(why) = self.inactive_source(name) {
                    let address = Address::new(
                        target,
                        ResourceId::User {
                            name: username.as_str().into(),
                        },
                    );
                    desired.provenance.insert(address, why);
                }
                desired
                    .offboarded
                    .entry(target.clone())
                    .or_default()
                    .insert(username.clone());
            }
            // Where the platform's people are made elsewhere, they are found by email,
            // and none is an object of this target's plan.
            if let Some(config) = desired.targets.get_mut(target).filter(|t| t.platform.users().external) {
                config.scope.people.insert(username.clone(), email.to_owned());
                continue;
            }
            // Where people have no username of their own, the provider finds them by
            // email too; they are this target's objects all the same.
            if let Some(config) = desired
                .targets
                .get_mut(target)
                .filter(|t| t.platform.spec().users_by_email)
            {
                config.scope.people.insert(username.clone(), email.to_owned());
            }
            if active || user_active {
                let address = Address::new(target, ResourceId::User { name: username.into() });
                if let Some(why) = self.person_source(name) {
                    desired.provenance.insert(address.clone(), why);
                }
                desired.resources.insert(address, Resource::User(Box::new(attrs)));
            }
        }
    }

    fn unknown_target(&mut self, file: usize, t: &Spanned<String>, targets: &BTreeSet<String>) {
        let hint = match did_you_mean(&t.value, targets.iter()) {
            Some(s) => format!("did you mean `{s}`? Targets are declared under `targets:`"),
            None => format!(
                "declare `{}` under `targets:`, or use one of: {}",
                t.value,
                join(targets)
            ),
        };
        self.reference_error(origin(file, t), format!("unknown target `{}`", t.value), hint);
    }

    fn check_name(&mut self, kind: NameKind, file: usize, key: &Spanned<String>) {
        if !valid_name(kind, &key.value) {
            self.error(
                origin(file, key),
                format!("invalid {} name `{}`", kind.noun(), key.value),
                kind.rule(),
            );
        }
    }
}

/// Fills in which groups' members and which users' groups each target must read.
fn read_scope(desired: &mut Desired) {
    // A deleted group or user takes its memberships along; read them all so the plan can
    // list each one.
    let read_all_members = desired.policy.prunes(Kind::Groups) || desired.policy.prunes(Kind::Users);
    for (name, config) in desired.targets.iter_mut() {
        config.scope.all_group_members = read_all_members;
        config.scope.member_groups = desired
            .resources
            .keys()
            .filter(|a| a.target == name)
            .filter_map(|a| match &a.id {
                ResourceId::Group { name } => Some(name.to_string()),
                _ => None,
            })
            // A renamed group's members are read under its old name, to move them.
            .chain(desired.renames.get(name).into_iter().flat_map(|r| r.keys().cloned()))
            .collect();
        config.scope.member_users = desired.offboarded.get(name).cloned().unwrap_or_default();
        // A live default is planned against only when declared or pruned: read no other.
        let platform = config.platform;
        config.scope.defaults = if desired.policy.prunes(Kind::Permissions) {
            config
                .scope
                .scopes
                .iter()
                .filter(|s| platform.default_roles(&s.kinds()).is_some())
                .cloned()
                .collect()
        } else {
            desired
                .resources
                .keys()
                .filter(|a| a.target == name)
                .filter_map(|a| match &a.id {
                    ResourceId::Default { scope } => Some(scope.clone()),
                    _ => None,
                })
                .collect()
        };
        // Where the plan compares grants: the scopes that declare some, or every named
        // scope when permissions are pruned or a renamed group's grants may move.
        config.scope.grant_scopes = desired
            .resources
            .keys()
            .filter(|a| a.target == name)
            .filter_map(|a| match &a.id {
                ResourceId::Grant { scope, .. } => Some(scope.clone()),
                _ => None,
            })
            .collect();
        config.scope.all_grants =
            desired.policy.prunes(Kind::Permissions) || desired.renames.get(name).is_some_and(|r| !r.is_empty());
    }
}
