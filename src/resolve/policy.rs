//! The `policy` section: pruning, protected names, delete limits, minimum administrators.

use super::*;

impl Resolver<'_> {
    pub(super) fn policy(
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
}
