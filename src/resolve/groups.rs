//! Groups: each `groups:` entry on the targets it names, with its members (declared
//! users, and those its sources give), its identifiers where a platform names groups its
//! own way, and its renames.

use super::*;
use crate::model::Attributes;

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
        // Maintainers are members with the maintainer's role where the platform keeps
        // one, plain members elsewhere.
        let listed = raw
            .members
            .iter()
            .map(|m| (m, false))
            .chain(raw.maintainers.iter().map(|m| (m, true)));
        for (member, maintainer) in listed {
            let at = origin(decl.file, member);
            if !seen.insert(member.value.clone()) {
                let (message, hint) = if maintainer && raw.members.iter().any(|m| m.value == member.value) {
                    (
                        format!("`{}` is both a member and a maintainer of group `{name}`", member.value),
                        "a maintainer is a member: list them under `maintainers` only",
                    )
                } else {
                    (
                        format!("`{}` is listed twice in the members of group `{name}`", member.value),
                        "list each member once",
                    )
                };
                self.error(at, message, hint);
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
                            let role = desired
                                .targets
                                .get(target)
                                .and_then(|t| t.platform.spec().member_roles.as_ref());
                            let attributes = role
                                .map(|r| {
                                    let value = if maintainer { r.maintainer } else { r.member };
                                    Attributes::from([(r.attribute.to_owned(), value.to_owned())])
                                })
                                .unwrap_or_default();
                            desired.resources.insert(address, Resource::Membership { attributes });
                        }
                    }
                }
            }
        }
        self.group_ids(name, decl, targets, &on, desired);
        // The group's attributes, each on the targets whose platform keeps it, as the
        // platform's native value.
        let flag = raw
            .default_team
            .as_ref()
            .map(|b| Spanned::new(b.value.to_string(), b.referenced, b.defined));
        let declared = [
            ("description", raw.description.as_ref().map(|d| (d.clone(), None))),
            ("privacy", raw.privacy.as_ref().map(|v| (v.value.clone(), Some(v)))),
            (
                "default_member_role",
                raw.default_member_role.as_ref().map(|v| (v.value.clone(), Some(v))),
            ),
            ("default_team", flag.as_ref().map(|v| (v.value.clone(), Some(v)))),
        ];
        let platforms: Vec<(&String, crate::platform::Platform)> = on
            .iter()
            .filter_map(|t| desired.targets.get(t).map(|c| (t, c.platform)))
            .filter(|(_, p)| !p.groups().external)
            .collect();
        let mut attributes: BTreeMap<&String, Attributes> = BTreeMap::new();
        for (field, value) in &declared {
            let Some((value, at)) = value else { continue };
            let mut stored = false;
            for (target, platform) in &platforms {
                let Some(rule) = platform.group_attribute(field) else {
                    continue;
                };
                stored = true;
                match rule.native(value) {
                    Some(native) => {
                        attributes
                            .entry(target)
                            .or_default()
                            .insert((*field).to_owned(), native);
                    }
                    None => {
                        if let Some(at) = at {
                            self.error(
                                origin(decl.file, at),
                                format!("group `{name}` has an invalid `{field}` `{value}`"),
                                format!("`{field}` is one of {}", rule.valid()),
                            );
                        }
                        break;
                    }
                }
            }
            // A setting (not free text) no target of the group stores would be lost.
            if let (false, Some(at)) = (stored, at) {
                self.error(
                    origin(decl.file, at),
                    format!("group `{name}` sets `{field}`, which none of its targets stores"),
                    format!(
                        "remove it, or give the group a target whose platform has it ({})",
                        crate::provider::registry::kinds_where(|p| p.group_attribute(field).is_some()).join(", ")
                    ),
                );
            }
        }
        for (target, _) in &platforms {
            desired.resources.insert(
                Address::new(target, ResourceId::Group { name: name.into() }),
                Resource::Group {
                    attributes: attributes.remove(target).unwrap_or_default(),
                },
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
