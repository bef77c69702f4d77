//! Groups: each `groups:` entry on the targets it names, with its members (declared
//! users, and those its sources give), its identifiers where a platform names groups its
//! own way, and its renames.

use super::*;

impl Resolver<'_> {
    pub(super) fn group(
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
                    self.user_reference_error(
                        at,
                        format!(
                            "`{}` in the members of group `{name}` is not a declared user",
                            member.value
                        ),
                        hint,
                    );
                }
                Some(user) if user.value.active == Some(false) => {} // offboarded: the membership is removed
                Some(_) => {
                    for target in &on {
                        if desired
                            .targets
                            .get(target)
                            .is_some_and(|t| t.platform.rules(Kind::Memberships).external)
                        {
                            continue;
                        }
                        if let Some(username) = usernames.get(target).and_then(|m| m.get(&member.value)) {
                            let address = Address::new(
                                target,
                                ResourceId::Membership {
                                    group: name.into(),
                                    user: username.as_str().into(),
                                },
                            );
                            if let Some(why) = self.member_source(name, &member.value) {
                                desired.provenance.insert(address.clone(), why);
                            }
                            desired.resources.insert(address, Resource::membership());
                        }
                    }
                }
            }
        }
        self.group_ids(name, decl, targets, &on, desired);
        // The group's attributes, each on the targets whose platform keeps it.
        let declared = [("description", decl.value.description.as_ref())];
        for target in &on {
            if desired
                .targets
                .get(target)
                .is_some_and(|t| t.platform.groups().external)
            {
                continue;
            }
            let kept = desired
                .targets
                .get(target)
                .map_or(&[][..], |t| t.platform.spec().group_attributes);
            let attributes = declared
                .iter()
                .filter(|(field, _)| kept.contains(field))
                .filter_map(|(field, value)| Some(((*field).to_owned(), (*value)?.clone())))
                .collect();
            desired.resources.insert(
                Address::new(target, ResourceId::Group { name: name.into() }),
                Resource::Group { attributes },
            );
        }
    }

    /// Checks a group's `ids` and records its identifier on each of its targets whose
    /// platform names groups its own way: the one `ids` sets, else the one derived from
    /// its name.
    pub(super) fn group_ids(
        &mut self,
        name: &str,
        decl: &Decl<'_, RawGroup>,
        targets: &BTreeSet<String>,
        on: &[String],
        desired: &mut Desired,
    ) {
        for (target, id) in &decl.value.ids.0 {
            let at = origin(decl.file, target);
            if !targets.contains(&target.value) {
                self.unknown_target(decl.file, target, targets);
                continue;
            }
            let Some(platform) = desired.targets.get(&target.value).map(|t| t.platform) else {
                continue;
            };
            match platform.spec().group_ids.as_ref() {
                None => self.error(
                    at,
                    format!("group `{name}` has an id for target `{}`, whose platform names groups by their name", target.value),
                    format!(
                        "remove it: a group's `ids` are for platforms that name groups by an identifier of their own ({})",
                        crate::provider::registry::kinds_where(|p| p.spec().group_ids.is_some()).join(", ")
                    ),
                ),
                Some(rule) if !(rule.valid)(id) => self.error(
                    at,
                    format!("group `{name}` has an invalid {} `{id}` for target `{}`", rule.noun, target.value),
                    rule.rule,
                ),
                Some(_) if !on.contains(&target.value) => self.error(
                    at,
                    format!("group `{name}` has an id for target `{}`, which is not among its `targets:`", target.value),
                    format!("add `{}` to the group's `targets:`, or remove the id", target.value),
                ),
                Some(_) => {}
            }
        }
        for target in on {
            let Some(config) = desired.targets.get_mut(target) else {
                continue;
            };
            let Some(rule) = config.platform.spec().group_ids.as_ref() else {
                continue;
            };
            let declared = decl.value.ids.0.iter().find(|(t, _)| &t.value == target);
            let id = match declared {
                Some((_, id)) => GroupId {
                    id: id.clone(),
                    declared: true,
                },
                None => GroupId {
                    id: (rule.derive)(name),
                    declared: false,
                },
            };
            if let Some((other, _)) = config
                .scope
                .group_ids
                .iter()
                .find(|(_, g)| g.id.eq_ignore_ascii_case(&id.id))
            {
                let message = format!(
                    "groups `{other}` and `{name}` would both be {} `{}` on target `{target}`",
                    rule.noun, id.id
                );
                self.error(
                    origin(decl.file, decl.key),
                    message,
                    format!("give one of them another {} under `ids: {{ {target}: … }}`", rule.noun),
                );
                continue;
            }
            config.scope.group_ids.insert(name.to_owned(), id);
        }
    }

    /// Checks each `renamed_from` and records the rename on the group's targets.
    pub(super) fn renames(
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
}
