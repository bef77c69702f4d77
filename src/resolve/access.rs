//! The `access` section: per target, who is granted what on which scope, role words
//! translated to the platform's permissions.

use super::*;
use crate::platform::Platform;

impl Resolver<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn access(
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
        let Some(platform) = desired.targets.get(target).map(|t| t.platform) else {
            return; // the target itself was reported
        };
        if !platform.has_grants() {
            self.error(
                origin(file, target_key),
                format!(
                    "target `{target}` is a {} target, which has no permissions to grant",
                    platform.kind()
                ),
                platform.spec().hints.no_grants,
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
                self.grants(file, target, global, &Scope::root(), ctx, desired);
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
            if !self.segment_name(platform, PROJECT, file, key) {
                continue;
            }
            let scope = Scope::root().child(PROJECT, &key.value);
            // Every scope the manifest names is read, so one it empties is pruned too.
            if let Some(config) = desired.targets.get_mut(target) {
                config.scope.scopes.insert(scope.clone());
                let repos = project.repos.0.iter().map(|(r, _)| scope.child(REPO, &r.value));
                config.scope.scopes.extend(repos);
            }
            if let Some(all) = &project.all_users {
                match roles::default(platform, &scope, &all.value) {
                    Ok(permission) => {
                        desired.resources.insert(
                            Address::new(target, ResourceId::Default { scope: scope.clone() }),
                            Resource::Default { permission },
                        );
                    }
                    Err((message, hint)) => self.error(origin(file, all), message, hint),
                }
            }
            let project_grants = RawGrantsRef {
                users: &project.users,
                groups: &project.groups,
            };
            self.grants_ref(file, target, project_grants, &scope, ctx, desired);
            for (repo, grants) in &project.repos.0 {
                if !self.segment_name(platform, REPO, file, repo) {
                    continue;
                }
                self.grants(file, target, grants, &scope.child(REPO, &repo.value), ctx, desired);
            }
        }
    }

    fn grants(
        &mut self,
        file: usize,
        target: &str,
        g: &RawGrants,
        scope: &Scope,
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
        scope: &Scope,
        ctx: &Principals<'_>,
        desired: &mut Desired,
    ) {
        // The role is checked first: it is wrong or right whatever the principal is.
        for (key, role) in &g.users.0 {
            let at = origin(file, key);
            let permission = self.role(file, role, target, scope, desired);
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
                Address::new(
                    target,
                    ResourceId::Grant {
                        scope: scope.clone(),
                        principal: Principal::User(username.clone()),
                    },
                ),
                Resource::Permission { permission },
            );
        }
        for (key, role) in &g.groups.0 {
            let at = origin(file, key);
            let permission = self.role(file, role, target, scope, desired);
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
                Address::new(
                    target,
                    ResourceId::Grant {
                        scope: scope.clone(),
                        principal: Principal::Group(key.value.clone()),
                    },
                ),
                Resource::Permission { permission },
            );
        }
    }

    /// Whether a scope segment's name is one the platform accepts; reports it if not.
    fn segment_name(&mut self, platform: Platform, kind: &str, file: usize, name: &Spanned<String>) -> bool {
        let Some(rule) = platform.segment(kind) else {
            self.error(
                origin(file, name),
                format!("a {} target has no {kind}s", platform.label()),
                "remove this entry, or grant it on a target whose platform has them",
            );
            return false;
        };
        let valid = (rule.valid)(&name.value);
        if !valid {
            self.error(
                origin(file, name),
                format!("invalid {} `{}`", rule.noun, name.value),
                rule.rule,
            );
        }
        valid
    }

    fn role(
        &mut self,
        file: usize,
        role: &RoleValue,
        target: &str,
        scope: &Scope,
        desired: &Desired,
    ) -> Option<String> {
        let platform = desired.targets.get(target)?.platform;
        match roles::grant(platform, scope, &role.0.value) {
            Ok(permission) => Some(permission),
            Err((message, hint)) => {
                self.error(origin(file, &role.0), message, hint);
                None
            }
        }
    }
}

/// The scope segments of the `access` section's shape: `projects:` and their `repos:`.
const PROJECT: &str = "project";
const REPO: &str = "repo";

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
