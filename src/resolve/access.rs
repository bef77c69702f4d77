//! The `access` section: per target, who is granted what on which scope, role words
//! translated to the platform's permissions. The section's keys are the platform's
//! (`platform::Spec`): each scope's entry is read against what the platform declares
//! for a scope with those segment kinds, to any depth.

use super::*;
use crate::manifest::raw::AccessValue;
use crate::platform::Platform;

/// What the walk of one target's entry needs besides the resolver.
struct Walk<'w> {
    file: usize,
    target: &'w str,
    platform: Platform,
    principals: &'w Principals<'w>,
    /// Where each scope was first configured, by (target, scope, key): a scope's entry,
    /// or the root's keyed grants, may be written in one file only.
    seen: &'w mut BTreeMap<(String, Scope, &'static str), Origin>,
}

struct Principals<'a> {
    users: &'a BTreeMap<String, Decl<'a, RawUser>>,
    groups: &'a BTreeMap<String, Decl<'a, RawGroup>>,
    group_targets: &'a BTreeMap<&'a str, BTreeSet<&'a str>>,
    usernames: &'a BTreeMap<String, BTreeMap<String, String>>,
    /// `policy.protect`, lower-cased: the manifest may not grant to these.
    protect: BTreeSet<String>,
}

/// The keys that hold grants in a scope's entry.
const USERS: &str = "users";
const GROUPS: &str = "groups";

impl Resolver<'_> {
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
        let principals = Principals {
            users,
            groups,
            group_targets: &group_targets,
            usernames,
            protect: desired.policy.protect.iter().map(|n| n.to_lowercase()).collect(),
        };
        let mut seen = BTreeMap::new();
        for (file, raw) in files {
            for (target_key, access) in &raw.access.0 {
                let target = target_key.value.as_str();
                if !targets.contains_key(target) {
                    self.unknown_target(*file, target_key, &target_names);
                    continue;
                }
                let Some(platform) = desired.targets.get(target).map(|t| t.platform) else {
                    continue; // the target itself was reported
                };
                if !platform.has_grants() {
                    self.error(
                        origin(*file, target_key),
                        format!(
                            "target `{target}` is a {} target, which has no permissions to grant",
                            platform.kind()
                        ),
                        platform.spec().hints.no_grants,
                    );
                    continue;
                }
                let mut walk = Walk {
                    file: *file,
                    target,
                    platform,
                    principals: &principals,
                    seen: &mut seen,
                };
                self.scope_entry(&mut walk, access, &Scope::root(), false, desired);
            }
        }
    }

    /// Reads the entry of `scope`. `keyed` is the entry under the key of the scope's
    /// grants (`global`), which holds only `users` and `groups`.
    fn scope_entry(&mut self, w: &mut Walk<'_>, entry: &RawAccess, scope: &Scope, keyed: bool, desired: &mut Desired) {
        let kinds = scope.kinds();
        let roles = w.platform.scope_roles(&kinds);
        let grants_here = roles.filter(|r| keyed || r.key.is_empty()).is_some();
        for (key, value) in &entry.0 {
            let k = key.value.as_str();
            if grants_here && (k == USERS || k == GROUPS) {
                if let Some(map) = self.entries(w, key, value, scope) {
                    self.grants(w, k == USERS, map, scope, desired);
                }
                continue;
            }
            if !keyed {
                if let Some(roles) = roles.filter(|r| !r.key.is_empty() && r.key == k) {
                    if self.first_time(w, key, scope, roles.key) {
                        if let Some(map) = self.entries(w, key, value, scope) {
                            self.scope_entry(w, map, scope, true, desired);
                        }
                    }
                    continue;
                }
                if let Some(roles) = w.platform.default_roles(&kinds).filter(|r| r.key == k) {
                    match &value.value {
                        AccessValue::Text(word) => match roles::default(w.platform, scope, word) {
                            Ok(permission) => {
                                desired.resources.insert(
                                    Address::new(w.target, ResourceId::Default { scope: scope.clone() }),
                                    Resource::Default { permission },
                                );
                            }
                            Err((message, hint)) => self.error(origin(w.file, value), message, hint),
                        },
                        other => self.error(
                            origin(w.file, value),
                            format!("`{k}` must be a role word; found {}", other.describe()),
                            format!("use {}", roles.valid()),
                        ),
                    }
                    continue;
                }
                if let Some(rule) = w.platform.children(&kinds).find(|r| r.key == k) {
                    if let Some(map) = self.entries(w, key, value, scope) {
                        self.segments(w, rule, map, scope, desired);
                    }
                    continue;
                }
            }
            let allowed = allowed_keys(w.platform, &kinds, keyed);
            let owned: Vec<String> = allowed.iter().map(|a| (*a).to_owned()).collect();
            let hint = match did_you_mean(k, owned.iter()) {
                Some(near) => format!("did you mean `{near}`?"),
                None if allowed.is_empty() => "remove this entry".to_owned(),
                None => format!(
                    "use {}",
                    allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
                ),
            };
            self.error(
                origin(w.file, key),
                format!(
                    "`{k}` is not part of {} on a {} target",
                    where_in(w.platform, w.target, scope, keyed),
                    w.platform.label()
                ),
                hint,
            );
        }
    }

    /// The named child scopes of one segment kind under `parent`.
    fn segments(
        &mut self,
        w: &mut Walk<'_>,
        rule: &'static crate::platform::SegmentRule,
        map: &RawAccess,
        parent: &Scope,
        desired: &mut Desired,
    ) {
        for (name, value) in &map.0 {
            let scope = parent.child(rule.kind, &name.value);
            if !self.first_time(w, name, &scope, "") {
                continue;
            }
            if !(rule.valid)(&name.value) {
                self.error(
                    origin(w.file, name),
                    format!("invalid {} `{}`", rule.noun, name.value),
                    rule.rule,
                );
                continue;
            }
            // Every scope the manifest names is read, so one it empties is pruned too.
            if let Some(config) = desired.targets.get_mut(w.target) {
                config.scope.scopes.insert(scope.clone());
            }
            if let Some(entry) = self.entries(w, name, value, &scope) {
                self.scope_entry(w, entry, &scope, false, desired);
            }
        }
    }

    /// The entries of a value that must be a mapping; reports it if it is not.
    fn entries<'v>(
        &mut self,
        w: &Walk<'_>,
        key: &Spanned<String>,
        value: &'v Spanned<AccessValue>,
        scope: &Scope,
    ) -> Option<&'v RawAccess> {
        match &value.value {
            AccessValue::Entries(entries) => Some(entries),
            other => {
                self.error(
                    origin(w.file, value),
                    format!(
                        "`{}` in {} must be a mapping; found {}",
                        key.value,
                        where_in(w.platform, w.target, scope, false),
                        other.describe()
                    ),
                    "write its entries under it, one per line: `name: value`",
                );
                None
            }
        }
    }

    /// Records where a scope's entry (or the root's keyed grants) is configured; reports
    /// a second place and answers false.
    fn first_time(&mut self, w: &mut Walk<'_>, key: &Spanned<String>, scope: &Scope, what: &'static str) -> bool {
        let at = origin(w.file, key);
        let slot = (w.target.to_owned(), scope.clone(), what);
        let Some(first) = w.seen.get(&slot).copied() else {
            w.seen.insert(slot, at);
            return true;
        };
        let first_at = self.where_is(first);
        let name = scope_name(w.platform, scope);
        self.error(
            at,
            if what.is_empty() {
                format!("{name} of target `{}` is configured in more than one file", w.target)
            } else {
                format!("{name} of target `{}` are set in more than one file", w.target)
            },
            format!("it is first configured at {first_at}; keep it in one place"),
        );
        false
    }

    /// The `users` or `groups` of a scope.
    fn grants(&mut self, w: &Walk<'_>, users: bool, map: &RawAccess, scope: &Scope, desired: &mut Desired) {
        for (key, value) in &map.0 {
            let at = origin(w.file, key);
            let noun = if users { "user" } else { "group" };
            if w.principals.protect.contains(&key.value.to_lowercase()) {
                self.error(
                    at,
                    format!(
                        "{noun} `{}` is granted a permission in {}, but `policy.protect` lists it",
                        key.value,
                        where_in(w.platform, w.target, scope, true)
                    ),
                    format!(
                        "rollcall never changes a protected {noun}, so a plan with this grant would be refused: remove the grant (the {noun}'s live permissions stay as they are), or take `{}` out of `policy.protect`",
                        key.value
                    ),
                );
            }
            // Some scopes take grants to one kind of holder only (a team's pipeline access).
            if w.platform
                .scope_roles(&scope.kinds())
                .is_some_and(|r| !r.holders.admits(users))
            {
                let (other, key_name) = if users {
                    ("groups", "groups")
                } else {
                    ("people", "users")
                };
                self.error(
                    at,
                    format!(
                        "{noun} `{}` is granted a permission in {}, which {} grants to {other} only",
                        key.value,
                        where_in(w.platform, w.target, scope, true),
                        w.platform.kind(),
                    ),
                    format!(
                        "grant it under `{key_name}:` instead{}",
                        if users {
                            " (a group the person is in)"
                        } else {
                            " (to each of the group's members)"
                        }
                    ),
                );
                continue;
            }
            // The role is checked first: it is wrong or right whatever the principal is.
            let permission = match &value.value {
                AccessValue::Text(word) => match roles::grant(w.platform, scope, word) {
                    Ok(permission) => Some(permission),
                    Err((message, hint)) => {
                        self.error(origin(w.file, value), message, hint);
                        None
                    }
                },
                other => {
                    self.error(
                        origin(w.file, value),
                        format!(
                            "the role of `{}` must be a role word; found {}",
                            key.value,
                            other.describe()
                        ),
                        w.platform
                            .scope_roles(&scope.kinds())
                            .map_or_else(String::new, |r| format!("use {}", r.valid())),
                    );
                    None
                }
            };
            let principal = if users {
                self.granted_user(w, key)
            } else {
                self.granted_group(w, key)
            };
            let (Some(principal), Some(permission)) = (principal, permission) else {
                continue;
            };
            desired.resources.insert(
                Address::new(
                    w.target,
                    ResourceId::Grant {
                        scope: scope.clone(),
                        principal,
                    },
                ),
                Resource::Permission { permission },
            );
        }
    }

    /// The principal a user grant names on the target, if it is a declared, active user.
    fn granted_user(&mut self, w: &Walk<'_>, key: &Spanned<String>) -> Option<Principal> {
        let Some(user) = w.principals.users.get(&key.value) else {
            let hint = did_you_mean(&key.value, w.principals.users.keys()).map_or_else(
                || format!("declare `{}` under `users:`", key.value),
                |s| format!("did you mean `{s}`?"),
            );
            self.user_reference_error(
                origin(w.file, key),
                format!("permission granted to `{}`, who is not a declared user", key.value),
                hint,
            );
            return None;
        };
        if user.value.active == Some(false) {
            return None; // offboarded people hold no permissions
        }
        let username = w.principals.usernames.get(w.target)?.get(&key.value)?;
        Some(Principal::User(username.as_str().into()))
    }

    /// The principal a group grant names, if the group is declared on the target.
    fn granted_group(&mut self, w: &Walk<'_>, key: &Spanned<String>) -> Option<Principal> {
        let at = origin(w.file, key);
        match w.principals.group_targets.get(key.value.as_str()) {
            None => {
                let hint = did_you_mean(&key.value, w.principals.groups.keys()).map_or_else(
                    || format!("declare `{}` under `groups:`", key.value),
                    |s| format!("did you mean `{s}`?"),
                );
                self.reference_error(
                    at,
                    format!("permission granted to `{}`, which is not a declared group", key.value),
                    hint,
                );
                None
            }
            Some(on) if !on.contains(w.target) => {
                self.reference_error(
                    at,
                    format!("group `{}` is not on target `{}`", key.value, w.target),
                    format!("add `{}` to the group's `targets:`", w.target),
                );
                None
            }
            Some(_) => Some(Principal::Group(key.value.as_str().into())),
        }
    }
}

/// The keys a scope's entry takes on a platform, in the order a manifest writes them.
fn allowed_keys(platform: Platform, kinds: &[&str], keyed: bool) -> Vec<&'static str> {
    let roles = platform.scope_roles(kinds);
    let mut keys = Vec::new();
    if roles.is_some_and(|r| keyed || r.key.is_empty()) {
        keys.extend([USERS, GROUPS]);
    }
    if keyed {
        return keys;
    }
    keys.extend(roles.map(|r| r.key).filter(|k| !k.is_empty()));
    keys.extend(platform.default_roles(kinds).map(|r| r.key));
    keys.extend(platform.children(kinds).map(|r| r.key));
    keys
}

/// How a message names a scope: `project `PLAT``, or the root's keyed grants.
fn scope_name(platform: Platform, scope: &Scope) -> String {
    match platform.scope_roles(&scope.kinds()) {
        Some(roles) => roles::describe(roles, scope),
        None => scope.to_string(),
    }
}

/// Where in the `access` section an entry is, for a message: `the access of `bitbucket``,
/// `the global permissions of `bitbucket``, `project `PLAT``.
fn where_in(platform: Platform, target: &str, scope: &Scope, keyed: bool) -> String {
    if !scope.is_root() {
        return scope_name(platform, scope);
    }
    match platform.scope_roles(&[]) {
        Some(roles) if keyed => format!("the {} of `{target}`", roles.noun),
        _ => format!("the access of `{target}`"),
    }
}
