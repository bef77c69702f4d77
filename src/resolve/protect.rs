//! What `policy.protect` rules out before any live state is read: the manifest granting
//! a permission to a user or group it also protects. rollcall never changes a protected
//! principal, so such a grant could only make every plan that needs it refused.

use std::collections::BTreeSet;

use crate::manifest::raw::{RawGrants, SpannedMap};
use crate::manifest::RawFile;

use super::{origin, Resolver};
use crate::desired::Desired;

impl Resolver<'_> {
    /// Reports every grant in `access` to a name `policy.protect` lists (matched without
    /// regard to case, as the safety rules match them).
    pub(super) fn protected_grants(&mut self, files: &[(usize, RawFile)], desired: &Desired) {
        let protect: BTreeSet<String> = desired.policy.protect.iter().map(|n| n.to_lowercase()).collect();
        if protect.is_empty() {
            return;
        }
        for (file, raw) in files {
            for (target, access) in &raw.access.0 {
                let mut scopes: Vec<(String, &SpannedMap<_>, &SpannedMap<_>)> = Vec::new();
                if let Some(global) = &access.global {
                    scopes.push((
                        format!("the global permissions of `{}`", target.value),
                        &global.users,
                        &global.groups,
                    ));
                }
                for (key, project) in &access.projects.0 {
                    scopes.push((format!("project `{}`", key.value), &project.users, &project.groups));
                    for (slug, repo) in &project.repos.0 {
                        let RawGrants { users, groups } = repo;
                        scopes.push((format!("repository `{}/{}`", key.value, slug.value), users, groups));
                    }
                }
                for (scope, users, groups) in scopes {
                    for (noun, map) in [("user", users), ("group", groups)] {
                        for (name, _) in &map.0 {
                            if protect.contains(&name.value.to_lowercase()) {
                                self.error(
                                    origin(*file, name),
                                    format!(
                                        "{noun} `{}` is granted a permission in {scope}, but `policy.protect` lists it",
                                        name.value
                                    ),
                                    format!(
                                        "rollcall never changes a protected {noun}, so a plan with this grant would be refused: remove the grant (the {noun}'s live permissions stay as they are), or take `{}` out of `policy.protect`",
                                        name.value
                                    ),
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
