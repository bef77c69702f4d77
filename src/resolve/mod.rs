//! `resolve`: raw manifest files to a checked `Desired`. Merges the files, checks names and
//! references, translates role words to each platform's permission names, and collects
//! every problem with its location instead of stopping at the first.

mod names;
mod protect;
mod roles;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_saphyr::Spanned;

pub use names::{did_you_mean, is_loopback};
use names::{is_email, join, valid_name, NameKind};
use roles::{all_users_permission, Scope};

use crate::desired::{AuthConfig, Desired, Endpoint, Platform, Policy, ReadScope, SecretRef, TargetConfig};
use crate::manifest::raw::{RawAccess, RawGrants, RawGroup, RawTarget, RawUser, RoleValue, SpannedMap, TargetKind};
use crate::manifest::{Diagnostic, Loaded, Origin, Sources};
use crate::model::{Address, Kind, Principal, Resource, ResourceId, UserAttrs};

/// Resolves loaded files. On any problem returns all of them, sorted by file and line.
pub fn resolve(loaded: &Loaded) -> Result<Desired, Vec<Diagnostic>> {
    let mut r = Resolver {
        sources: &loaded.sources,
        problems: Vec::new(),
        partial: loaded.incomplete,
        taken_usernames: BTreeMap::new(),
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
    /// (target, lower-cased username) to the person who has it there.
    taken_usernames: BTreeMap<(String, String), String>,
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

/// Never leave a Bitbucket Data Center instance without an administrator.
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

        let mut lower_groups: BTreeMap<String, &str> = BTreeMap::new();
        for (name, decl) in &groups {
            self.check_name(NameKind::Group, decl.file, decl.key);
            if let Some(other) = lower_groups.insert(name.to_lowercase(), name) {
                self.error(
                    origin(decl.file, decl.key),
                    format!("groups `{other}` and `{name}` differ only in case"),
                    "group names are case-insensitive on Bitbucket: they would be the same group; keep one",
                );
            }
            self.group(name, decl, &target_names, &users, &usernames, &mut desired);
        }
        self.renames(&groups, &target_names, &mut desired);

        self.access(files, &targets, &users, &groups, &usernames, &mut desired);
        self.policy(files, &usernames, &mut desired);
        self.protected_grants(files, &desired);
        read_scope(&mut desired);
        desired
    }

    /// A manifest that names no target would plan nothing and say "no changes": that
    /// reads as "live state matches", so it is an error naming what is missing.
    fn no_targets(&mut self, loaded: &Loaded, users: usize, groups: usize) {
        if loaded.sources.files.is_empty() {
            return; // "no manifest files" says it already
        }
        let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let message = match (users, groups) {
            (0, 0) => {
                "no target declared: the manifests declare nothing to manage, and nowhere to manage it".to_owned()
            }
            (u, g) => format!(
                "no target declared: the manifests declare {} and {} but no `targets:` to manage them on",
                count(u, "user"),
                count(g, "group")
            ),
        };
        self.problems.push(Diagnostic {
            file: loaded.dir.display().to_string(),
            line: 0,
            column: 0,
            message,
            hint: Some(
                "add a `targets:` section naming each platform, e.g. `targets: { bitbucket: { kind: bitbucket-datacenter, url: \"https://git.example.com\", auth: { username: svc, token: \"${env:BITBUCKET_TOKEN}\" } } }`, or `url: sandbox:PATH` for the built-in emulator (docs/manifest.md)"
                    .to_owned(),
            ),
            snippet: None,
            note: None,
        });
    }

    fn target(&mut self, dir: &Path, name: &str, file: usize, raw: &RawTarget) -> Option<TargetConfig> {
        let platform = match (raw.kind.value, &raw.profile) {
            (TargetKind::Scim, profile) => Platform::Scim(profile.as_ref().map(|p| p.value).unwrap_or_default()),
            (TargetKind::BitbucketDatacenter, None) => Platform::BitbucketDatacenter,
            (TargetKind::BitbucketDatacenter, Some(profile)) => {
                self.error(
                    origin(file, profile),
                    format!("target `{name}` is not a SCIM target but sets `profile`"),
                    "`profile` chooses a SCIM dialect (rfc, atlassian); remove it, or set `kind: scim`",
                );
                return None;
            }
        };
        if let (Platform::Scim(_), Some(notify)) = (platform, &raw.notify_new_users) {
            self.error(
                origin(file, notify),
                format!("target `{name}` is a SCIM target but sets `notify_new_users`"),
                "a SCIM service invites people its own way (or through single sign-on); remove it",
            );
        }
        let url_at = origin(file, &raw.url);
        let url = raw.url.value.trim();
        let endpoint = if let Some(path) = url.strip_prefix("sandbox:") {
            if path.is_empty() {
                self.error(
                    url_at,
                    "`sandbox:` needs the path of a state file".into(),
                    "for example `url: sandbox:../sandbox/bitbucket.yaml`, relative to the manifest directory",
                );
                return None;
            }
            Endpoint::Sandbox(dir.join(path))
        } else {
            match url::Url::parse(url) {
                Ok(u) if !u.username().is_empty() || u.password().is_some() => {
                    let d = self
                        .sources
                        .diagnostic(url_at, format!("target `{name}` has credentials in its URL"))
                        .redacted(self.sources, url_at)
                        .with_hint("remove them from the URL (it is printed in plans) and use `auth` with a `${env:…}` or `${file:…}` token; if a real password was committed, change it");
                    self.problems.push(d);
                    return None;
                }
                Ok(u) if u.scheme() == "https" => Endpoint::Url(u),
                Ok(u) if u.scheme() == "http" && is_loopback(&u) => Endpoint::Url(u),
                Ok(u) if u.scheme() == "http" => {
                    self.error(url_at, format!("target `{name}` uses plain http to a remote host"), "use https://; plain http is accepted for loopback addresses (127.0.0.1, localhost) only, because the token would travel in clear text");
                    return None;
                }
                Ok(u) => {
                    self.error(
                        url_at,
                        format!("target `{name}` has an unsupported URL scheme `{}`", u.scheme()),
                        "use https://HOST or sandbox:PATH",
                    );
                    return None;
                }
                Err(e) => {
                    // It did not parse, so it may hide credentials: never quote it.
                    let d = self
                        .sources
                        .diagnostic(url_at, format!("target `{name}` has an invalid URL: {e}"))
                        .redacted(self.sources, url_at)
                        .with_hint("use https://HOST or sandbox:PATH");
                    self.problems.push(d);
                    return None;
                }
            }
        };
        let auth = match &raw.auth {
            Some(a) => Some(AuthConfig {
                username: a.username.clone(),
                token: self.secret_ref(dir, file, &a.token)?,
            }),
            None => None,
        };
        let account = match raw.auth.as_ref().map(|a| (&a.username, &a.account)) {
            Some((Some(user), None)) => Some(user.clone()),
            Some((None, Some(account))) => Some(account.value.clone()),
            Some((Some(_), Some(account))) => {
                self.error(
                    origin(file, account),
                    format!("target `{name}` sets both `username` and `account`"),
                    "with Basic auth the username is the account rollcall works as: remove `account`",
                );
                return None;
            }
            // A SCIM token (an Atlassian directory API key) belongs to no user.
            Some((None, None)) if matches!(platform, Platform::Scim(_)) => None,
            Some((None, None)) => {
                self.error(
                    origin(file, &raw.auth.as_ref()?.token),
                    format!("target `{name}` uses a Bearer token without naming its `account`"),
                    "add `account: NAME`, the user the token belongs to, so rollcall can refuse to delete, unlicense or demote it",
                );
                return None;
            }
            None => None,
        };
        if auth.is_none() && matches!(endpoint, Endpoint::Url(_)) {
            let hint = match platform {
                Platform::BitbucketDatacenter => "add `auth: { token: ${env:BITBUCKET_TOKEN}, account: NAME }` (Bearer, NAME the account the token belongs to) or `auth: { username: NAME, token: ${env:…} }` (Basic)",
                Platform::Scim(_) => "add `auth: { token: ${env:SCIM_TOKEN} }`, the service's bearer token (for Atlassian, the directory's API key)",
            };
            self.error(url_at, format!("target `{name}` has no `auth`"), hint);
            return None;
        }
        Some(TargetConfig {
            name: name.to_owned(),
            platform,
            endpoint,
            url: url.to_owned(),
            auth,
            account,
            notify_new_users: raw.notify_new_users.as_ref().is_none_or(|n| n.value),
            scope: ReadScope::default(),
        })
    }

    fn secret_ref(&mut self, dir: &Path, file: usize, token: &Spanned<String>) -> Option<SecretRef> {
        let parsed = SecretRef::parse(&token.value).map(|r| match r {
            SecretRef::File(path) => SecretRef::File(dir.join(path)),
            env => env,
        });
        if parsed.is_none() {
            // Never echo the value: it may be a real token pasted by mistake.
            let at = origin(file, token);
            let d = self
                .sources
                .diagnostic(at, "a token must be a reference, not a literal value")
                .redacted(self.sources, at)
                .with_hint("write `${env:NAME}` to read it from an environment variable or `${file:PATH}` to read it from a file; if a real token was committed, revoke it");
            self.problems.push(d);
        }
        parsed
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
        let email = raw.email.value.trim();
        if !is_email(email) {
            self.error(
                origin(decl.file, &raw.email),
                format!("user `{name}` has an invalid email address `{email}`"),
                "write an address like name@example.com",
            );
        }
        if raw.name.value.chars().any(char::is_control) {
            self.error(
                origin(decl.file, &raw.name),
                format!("user `{name}` has control characters in their name"),
                "write the name on one line, without tabs or escapes",
            );
        }
        if raw.name.value.trim().is_empty() {
            self.error(
                origin(decl.file, &raw.name),
                format!("user `{name}` has an empty name"),
                "give the person's full name; it becomes their display name",
            );
        }
        for (target, id) in &raw.ids.0 {
            if !targets.contains(&target.value) {
                self.unknown_target(decl.file, target, targets);
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
            // Bitbucket matches usernames without regard to case: `Dave` is `dave`.
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
            let mut attrs = UserAttrs::new(raw.name.value.trim(), email);
            let user_active = desired
                .targets
                .get(target)
                .is_some_and(|t| t.platform.capabilities().user_active);
            if user_active {
                // The account is kept and marked inactive; externalId carries the
                // rollcall name so the service and its other clients can match it.
                attrs.active = Some(raw.active);
                attrs.external_id = Some(name.to_owned());
            }
            if !raw.active {
                desired
                    .offboarded
                    .entry(target.clone())
                    .or_default()
                    .insert(username.clone());
            }
            if raw.active || user_active {
                desired.resources.insert(
                    Address::new(target, ResourceId::User { name: username }),
                    Resource::User(attrs),
                );
            }
        }
    }

    fn group(
        &mut self,
        name: &str,
        decl: &Decl<'_, RawGroup>,
        targets: &BTreeSet<String>,
        users: &BTreeMap<String, Decl<'_, RawUser>>,
        usernames: &BTreeMap<String, BTreeMap<String, String>>,
        desired: &mut Desired,
    ) {
        let raw = decl.value;
        let on: Vec<String> = match &raw.targets {
            Some(list) => {
                let mut on = Vec::new();
                for t in list {
                    if targets.contains(&t.value) {
                        on.push(t.value.clone());
                    } else {
                        self.unknown_target(decl.file, t, targets);
                    }
                }
                on
            }
            None => targets.iter().cloned().collect(),
        };
        let mut seen = BTreeSet::new();
        for member in &raw.members {
            let at = origin(decl.file, member);
            if !seen.insert(member.value.clone()) {
                self.error(
                    at,
                    format!("`{}` is listed twice in the members of group `{name}`", member.value),
                    "list each member once",
                );
                continue;
            }
            match users.get(&member.value) {
                None => {
                    let hint = did_you_mean(&member.value, users.keys()).map_or_else(
                        || format!("declare `{}` under `users:`", member.value),
                        |s| {
                            format!(
                                "did you mean `{s}`? Otherwise declare `{}` under `users:`",
                                member.value
                            )
                        },
                    );
                    self.reference_error(
                        at,
                        format!(
                            "`{}` in the members of group `{name}` is not a declared user",
                            member.value
                        ),
                        hint,
                    );
                }
                Some(user) if !user.value.active => {} // offboarded: the membership is removed
                Some(_) => {
                    for target in &on {
                        if let Some(username) = usernames.get(target).and_then(|m| m.get(&member.value)) {
                            desired.resources.insert(
                                Address::new(
                                    target,
                                    ResourceId::Membership {
                                        group: name.to_owned(),
                                        user: username.clone(),
                                    },
                                ),
                                Resource::Membership,
                            );
                        }
                    }
                }
            }
        }
        for target in &on {
            desired.resources.insert(
                Address::new(target, ResourceId::Group { name: name.to_owned() }),
                Resource::Group,
            );
        }
    }

    /// Checks each `renamed_from` and records the rename on the group's targets.
    fn renames(
        &mut self,
        groups: &BTreeMap<String, Decl<'_, RawGroup>>,
        targets: &BTreeSet<String>,
        desired: &mut Desired,
    ) {
        let declared: BTreeMap<String, &str> = groups.keys().map(|g| (g.to_lowercase(), g.as_str())).collect();
        let mut claimed: BTreeMap<String, &str> = BTreeMap::new();
        for (name, decl) in groups {
            let Some(old) = &decl.value.renamed_from else { continue };
            let at = origin(decl.file, old);
            let lower = old.value.to_lowercase();
            if !valid_name(NameKind::Group, &old.value) {
                self.error(
                    at,
                    format!("invalid group name `{}` in `renamed_from`", old.value),
                    NameKind::Group.rule(),
                );
            } else if let Some(other) = declared.get(&lower) {
                let hint = if *other == name.as_str() {
                    "a group cannot be renamed from its own name; remove `renamed_from`".to_owned()
                } else {
                    format!(
                        "`{other}` is declared, so it is not a previous name; remove `renamed_from` or the other group"
                    )
                };
                self.error(
                    at,
                    format!("group `{name}` is renamed from `{}`, a declared group", old.value),
                    hint,
                );
            } else if let Some(first) = claimed.insert(lower, name) {
                self.error(
                    at,
                    format!("groups `{first}` and `{name}` are both renamed from `{}`", old.value),
                    "a group can be renamed into one group only; keep one `renamed_from`",
                );
            } else {
                let on: Vec<&String> = match &decl.value.targets {
                    Some(list) => list.iter().map(|t| &t.value).filter(|t| targets.contains(*t)).collect(),
                    None => targets.iter().collect(),
                };
                for target in on {
                    desired
                        .renames
                        .entry(target.clone())
                        .or_default()
                        .insert(old.value.clone(), name.clone());
                }
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

    #[allow(clippy::too_many_arguments)]
    fn access(
        &mut self,
        files: &[(usize, crate::manifest::RawFile)],
        targets: &BTreeMap<String, Decl<'_, RawTarget>>,
        users: &BTreeMap<String, Decl<'_, RawUser>>,
        groups: &BTreeMap<String, Decl<'_, RawGroup>>,
        usernames: &BTreeMap<String, BTreeMap<String, String>>,
        desired: &mut Desired,
    ) {
        let target_names: BTreeSet<String> = targets.keys().cloned().collect();
        // Which targets each group exists on.
        let group_targets: BTreeMap<&str, BTreeSet<&str>> = groups
            .iter()
            .map(|(g, d)| {
                let on = match &d.value.targets {
                    Some(list) => list.iter().map(|t| t.value.as_str()).collect(),
                    None => target_names.iter().map(String::as_str).collect(),
                };
                (g.as_str(), on)
            })
            .collect();
        let ctx = Principals {
            users,
            groups,
            group_targets: &group_targets,
            usernames,
        };
        let mut global_seen: BTreeMap<String, Origin> = BTreeMap::new();
        let mut projects_seen: BTreeMap<(String, String), Origin> = BTreeMap::new();
        for (file, raw) in files {
            for (target_key, access) in &raw.access.0 {
                let target = target_key.value.as_str();
                if !targets.contains_key(target) {
                    self.unknown_target(*file, target_key, &target_names);
                    continue;
                }
                self.target_access(
                    *file,
                    target_key,
                    access,
                    &ctx,
                    &mut global_seen,
                    &mut projects_seen,
                    desired,
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn target_access(
        &mut self,
        file: usize,
        target_key: &Spanned<String>,
        access: &RawAccess,
        ctx: &Principals<'_>,
        global_seen: &mut BTreeMap<String, Origin>,
        projects_seen: &mut BTreeMap<(String, String), Origin>,
        desired: &mut Desired,
    ) {
        let target = target_key.value.as_str();
        if let Some(config) = desired
            .targets
            .get(target)
            .filter(|t| t.platform != Platform::BitbucketDatacenter)
        {
            self.error(
                origin(file, target_key),
                format!(
                    "target `{target}` is a {} target, which has no permissions to grant",
                    config.platform.kind()
                ),
                "on a SCIM service, access is membership: list people under a group's `members`",
            );
            return;
        }
        if let Some(global) = &access.global {
            let at = origin(file, target_key);
            if let Some(first) = global_seen.get(target) {
                let first_at = self.where_is(*first);
                self.error(
                    at,
                    format!("global permissions of target `{target}` are set in more than one file"),
                    format!("they are first set at {first_at}; keep them in one place"),
                );
            } else {
                global_seen.insert(target.to_owned(), at);
                self.grants(file, target, global, Scope::Global, ctx, desired);
            }
        }
        for (key, project) in &access.projects.0 {
            let at = origin(file, key);
            if let Some(first) = projects_seen.get(&(target.to_owned(), key.value.clone())) {
                let first_at = self.where_is(*first);
                self.error(
                    at,
                    format!(
                        "project `{}` of target `{target}` is configured in more than one file",
                        key.value
                    ),
                    format!("it is first configured at {first_at}; keep one definition"),
                );
                continue;
            }
            projects_seen.insert((target.to_owned(), key.value.clone()), at);
            if !valid_name(NameKind::Project, &key.value) {
                self.error(
                    at,
                    format!("invalid project key `{}`", key.value),
                    NameKind::Project.rule(),
                );
                continue;
            }
            let repos: BTreeSet<String> = project.repos.0.iter().map(|(r, _)| r.value.clone()).collect();
            if let Some(config) = desired.targets.get_mut(target) {
                config.scope.projects.insert(key.value.clone(), repos);
            }
            if let Some(all) = &project.all_users {
                match all_users_permission(&all.value) {
                    Some(permission) => {
                        desired.resources.insert(
                            Address::new(
                                target,
                                ResourceId::ProjectDefault {
                                    project: key.value.clone(),
                                },
                            ),
                            Resource::ProjectDefault { permission },
                        );
                    }
                    None => self.error(
                        origin(file, all),
                        format!("`{}` is not a valid all-users permission", all.value),
                        "use `none`, `read` or `write` (PROJECT_READ, PROJECT_WRITE)",
                    ),
                }
            }
            let project_grants = RawGrantsRef {
                users: &project.users,
                groups: &project.groups,
            };
            self.grants_ref(file, target, project_grants, Scope::Project(&key.value), ctx, desired);
            for (repo, grants) in &project.repos.0 {
                if !valid_name(NameKind::Repo, &repo.value) {
                    self.error(
                        origin(file, repo),
                        format!("invalid repository slug `{}`", repo.value),
                        NameKind::Repo.rule(),
                    );
                    continue;
                }
                self.grants(file, target, grants, Scope::Repo(&key.value, &repo.value), ctx, desired);
            }
        }
    }

    fn grants(
        &mut self,
        file: usize,
        target: &str,
        g: &RawGrants,
        scope: Scope<'_>,
        ctx: &Principals<'_>,
        desired: &mut Desired,
    ) {
        self.grants_ref(
            file,
            target,
            RawGrantsRef {
                users: &g.users,
                groups: &g.groups,
            },
            scope,
            ctx,
            desired,
        );
    }

    fn grants_ref(
        &mut self,
        file: usize,
        target: &str,
        g: RawGrantsRef<'_>,
        scope: Scope<'_>,
        ctx: &Principals<'_>,
        desired: &mut Desired,
    ) {
        // The role is checked first: it is wrong or right whatever the principal is.
        for (key, role) in &g.users.0 {
            let at = origin(file, key);
            let permission = self.role(file, role, scope);
            let Some(user) = ctx.users.get(&key.value) else {
                let hint = did_you_mean(&key.value, ctx.users.keys()).map_or_else(
                    || format!("declare `{}` under `users:`", key.value),
                    |s| format!("did you mean `{s}`?"),
                );
                self.reference_error(
                    at,
                    format!("permission granted to `{}`, who is not a declared user", key.value),
                    hint,
                );
                continue;
            };
            let Some(permission) = permission else {
                continue;
            };
            if !user.value.active {
                continue; // offboarded people hold no permissions
            }
            let Some(username) = ctx.usernames.get(target).and_then(|m| m.get(&key.value)) else {
                continue;
            };
            desired.resources.insert(
                Address::new(target, scope.id(Principal::User(username.clone()))),
                Resource::Permission { permission },
            );
        }
        for (key, role) in &g.groups.0 {
            let at = origin(file, key);
            let permission = self.role(file, role, scope);
            match ctx.group_targets.get(key.value.as_str()) {
                None => {
                    let hint = did_you_mean(&key.value, ctx.groups.keys()).map_or_else(
                        || format!("declare `{}` under `groups:`", key.value),
                        |s| format!("did you mean `{s}`?"),
                    );
                    self.reference_error(
                        at,
                        format!("permission granted to `{}`, which is not a declared group", key.value),
                        hint,
                    );
                    continue;
                }
                Some(on) if !on.contains(target) => {
                    self.reference_error(
                        at,
                        format!("group `{}` is not on target `{target}`", key.value),
                        format!("add `{target}` to the group's `targets:`"),
                    );
                    continue;
                }
                Some(_) => {}
            }
            let Some(permission) = permission else {
                continue;
            };
            desired.resources.insert(
                Address::new(target, scope.id(Principal::Group(key.value.clone()))),
                Resource::Permission { permission },
            );
        }
    }

    fn role(&mut self, file: usize, role: &RoleValue, scope: Scope<'_>) -> Option<String> {
        let word = role.0.value.trim();
        let found = scope.permission(word);
        if found.is_none() {
            self.error(
                origin(file, &role.0),
                format!("`{word}` is not a valid role for {}", scope.describe()),
                format!("use {}", scope.valid_roles()),
            );
        }
        found
    }

    fn policy(
        &mut self,
        files: &[(usize, crate::manifest::RawFile)],
        usernames: &BTreeMap<String, BTreeMap<String, String>>,
        desired: &mut Desired,
    ) {
        let mut first: Option<Origin> = None;
        for (file, raw) in files {
            let Some(policy) = &raw.policy else { continue };
            let at = origin(*file, policy);
            if let Some(f) = first {
                let first_at = self.where_is(f);
                self.error(
                    at,
                    "`policy` is set in more than one file".into(),
                    format!("it is first set at {first_at}; keep one"),
                );
                continue;
            }
            first = Some(at);
            let p = &policy.value.prune;
            for (on, kind) in [
                (p.users, Kind::Users),
                (p.groups, Kind::Groups),
                (p.memberships, Kind::Memberships),
                (p.permissions, Kind::Permissions),
            ] {
                if on {
                    desired.policy.prune.insert(kind);
                }
            }
            let mut protected: BTreeMap<String, &str> = BTreeMap::new();
            for name in &policy.value.protect {
                let at = origin(*file, name);
                if !valid_name(NameKind::User, &name.value) && !valid_name(NameKind::Group, &name.value) {
                    self.error(
                        at,
                        format!("invalid name `{}` in `policy.protect`", name.value),
                        "list user and group names as they are on the target",
                    );
                } else if protected.insert(name.value.to_lowercase(), &name.value).is_some() {
                    self.error(
                        at,
                        format!("`{}` is listed twice in `policy.protect`", name.value),
                        "names are matched without regard to case; keep one",
                    );
                } else {
                    desired.policy.protect.insert(name.value.clone());
                    // A declared person is protected under their username on every
                    // target too (`ids`), which is what the rules compare.
                    let mut declared = false;
                    for names in usernames.values() {
                        if let Some(username) = names.get(&name.value) {
                            desired.policy.protect.insert(username.clone());
                            declared = true;
                        }
                    }
                    let lower = name.value.to_lowercase();
                    declared |= desired
                        .resources
                        .keys()
                        .any(|a| a.id.as_principal().is_some_and(|p| p.name().to_lowercase() == lower));
                    if !declared {
                        desired.protect_undeclared.insert(name.value.clone());
                    }
                }
            }
            let limits = &policy.value.limits;
            let defaults = crate::desired::Limits::default();
            let percent = match &limits.max_delete_percent {
                Some(p) if p.value > 100 => {
                    self.error(
                        origin(*file, p),
                        format!("`max_delete_percent` is {}, more than 100", p.value),
                        "a share of the live objects of a kind, from 0 to 100",
                    );
                    defaults.max_delete_percent
                }
                Some(p) => p.value,
                None => defaults.max_delete_percent,
            };
            desired.policy.limits = crate::desired::Limits {
                max_deletes: limits.max_deletes,
                max_delete_percent: percent,
                min_existing: limits.min_existing.unwrap_or(defaults.min_existing),
            };
            desired.policy.min_admins = policy.value.min_admins.unwrap_or(DEFAULT_MIN_ADMINS);
        }
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
            .filter(|a| &a.target == name)
            .filter_map(|a| match &a.id {
                ResourceId::Group { name } => Some(name.clone()),
                _ => None,
            })
            // A renamed group's members are read under its old name, to move them.
            .chain(desired.renames.get(name).into_iter().flat_map(|r| r.keys().cloned()))
            .collect();
        config.scope.member_users = desired.offboarded.get(name).cloned().unwrap_or_default();
    }
}

struct Principals<'a> {
    users: &'a BTreeMap<String, Decl<'a, RawUser>>,
    groups: &'a BTreeMap<String, Decl<'a, RawGroup>>,
    group_targets: &'a BTreeMap<&'a str, BTreeSet<&'a str>>,
    usernames: &'a BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Clone, Copy)]
struct RawGrantsRef<'a> {
    users: &'a SpannedMap<RoleValue>,
    groups: &'a SpannedMap<RoleValue>,
}
