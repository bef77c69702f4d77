//! Groups: creating one with its first members, renaming one with its member changes,
//! and adding and removing members: all of one group's changes in one request per batch.

use super::*;

impl Scim {
    /// Creates a group, with `members` (membership creates riding with it) in the POST.
    /// RFC 7643 does not make group names unique, and some services (scim2-server) accept
    /// a second group of one name, so a create whose answer was lost is not simply sent
    /// again: the group is looked up first, and adopted if it is there (and then given
    /// the members by a PATCH).
    pub(super) async fn create_group(
        &self,
        change: &Change,
        name: &str,
        members: &[Change],
    ) -> Result<(), ProviderError> {
        let mut ids = Vec::new();
        for c in members {
            if let ResourceId::Membership { user, .. } = &c.address.id {
                ids.push((c, self.lookup(c, Collection::Users, user)?.id));
            }
        }
        let listed: Vec<Value> = ids.iter().map(|(_, id)| json!({"value": id})).collect();
        let body = json!({"schemas": [wire::GROUP_SCHEMA], "displayName": name, "members": listed});
        for sends in 1..=SENDS {
            let request = Request::new(Method::POST, "/Groups", Idempotent::No)
                .json(body.clone())
                .resent(sends > 1);
            match self.http.send(request).await {
                Ok(reply) => {
                    let (object, raw) = self.object_from("/Groups", &reply)?;
                    self.remember(Collection::Groups, name, Some(object));
                    // A service may ignore `members` in a POST and answer the group
                    // without them: those are added by a PATCH, never assumed.
                    let got = json::member_ids(&raw);
                    let missing: Vec<Change> = ids
                        .iter()
                        .filter(|(_, id)| !got.contains(&id.as_str()))
                        .map(|(c, _)| (*c).clone())
                        .collect();
                    return self.members(&missing, name).await;
                }
                // A group is only its name: one that exists (created meanwhile, or by the
                // lost attempt) is this one, and is given the planned members by a PATCH.
                Err(e) if e.is_status(409) || e.may_have_been_applied() => {
                    match self.find_all(Collection::Groups, name).await?.as_slice() {
                        [] if e.may_have_been_applied() => continue, // the lost attempt did not create it
                        [] => return Err(self.conflict(change, e)),
                        [raw] => {
                            let id = raw.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
                            self.remember(Collection::Groups, name, Some(Object::listed(id, raw.clone())));
                            if members.is_empty() {
                                return Ok(());
                            }
                            return self.members(members, name).await;
                        }
                        [..] => {
                            return Err(self.fail(
                                change,
                                format!("the service has several groups named `{name}`; delete all but one"),
                            ))
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(self.fail(
            change,
            format!("the create was lost {SENDS} times in a row; plan again"),
        ))
    }

    /// Renames a group, with `members` (member changes riding with the rename) in the
    /// same request: one PATCH with a `replace` of `displayName` and the member
    /// operations (RFC 7644 §3.5.2 applies a PATCH's operations in order, all or none),
    /// or one PUT of the group as read with all of them made.
    pub(super) async fn rename_group(
        &self,
        change: &Change,
        name: &str,
        old: &str,
        members: &[Change],
    ) -> Result<(), ProviderError> {
        if !self.profile.group_rename {
            return Err(self.fail(change, format!("{} cannot rename groups", self.profile.name)));
        }
        match (
            self.object(Collection::Groups, old),
            self.object(Collection::Groups, name),
        ) {
            // Renamed already (an earlier attempt whose outcome was lost): the members
            // are what is left to do.
            (None, Some(_)) => return self.members(members, name).await,
            (Some(_), Some(_)) => {
                return Err(self.fail(change, format!("a group named `{name}` exists already; plan again")))
            }
            _ => {}
        }
        let ids = self.joining(members)?;
        let mut chunks = ids.chunks(self.profile.members_per_patch.max(1));
        // The rename goes with the first chunk (all of them, as the scheduler batches no
        // more than the limit); the group is known by its new name for any after it.
        self.group_write(change, old, Some(name), chunks.next().unwrap_or_default())
            .await?;
        for chunk in chunks {
            self.group_write(change, name, None, chunk).await?;
        }
        Ok(())
    }

    /// Adds and removes members of one group, as many per request as the profile allows:
    /// one PATCH with an `add` listing the new members and a `remove` per leaving one.
    pub(super) async fn members(&self, changes: &[Change], group: &str) -> Result<(), ProviderError> {
        let Some(first) = changes.first() else {
            return Ok(());
        };
        let ids = self.joining(changes)?;
        for chunk in ids.chunks(self.profile.members_per_patch.max(1)) {
            self.group_write(first, group, None, chunk).await?;
        }
        Ok(())
    }

    /// Each member's id, and whether it joins (else it leaves), for membership changes.
    fn joining(&self, changes: &[Change]) -> Result<Vec<(String, bool)>, ProviderError> {
        let mut ids: Vec<(String, bool)> = Vec::new();
        for c in changes {
            if let ResourceId::Membership { user, .. } = &c.address.id {
                ids.push((self.lookup(c, Collection::Users, user)?.id, c.action != Action::Delete));
            }
        }
        Ok(ids)
    }

    /// One write to the group known as `group`: its rename to `rename`, the member changes
    /// `ids` (each member's id, and whether it joins), or both, as one PATCH, or one PUT
    /// of the group as read with them made.
    async fn group_write(
        &self,
        first: &Change,
        group: &str,
        rename: Option<&str>,
        ids: &[(String, bool)],
    ) -> Result<(), ProviderError> {
        let (_writing, object) = self.hold(first, Collection::Groups, group).await?;
        let path = format!("/Groups/{}", object.id);
        let patch = self.profile.patch;
        let adds: Vec<&str> = ids.iter().filter(|(_, add)| *add).map(|(id, _)| id.as_str()).collect();
        let removes: Vec<&str> = ids.iter().filter(|(_, add)| !*add).map(|(id, _)| id.as_str()).collect();
        let build = |object: &Object| {
            let mut updated = object.raw.clone();
            if let Some(new) = rename {
                set_path(&mut updated, "displayName", json!(new));
            }
            if !ids.is_empty() {
                let mut members: Vec<Value> = updated
                    .get("members")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                members.retain(|m| {
                    !removes
                        .iter()
                        .any(|id| m.get("value").and_then(Value::as_str) == Some(id))
                });
                members.extend(adds.iter().map(|id| json!({"value": id})));
                set_path(&mut updated, "members", Value::Array(members));
            }
            let body =
                if patch {
                    let mut ops: Vec<Value> = Vec::new();
                    if let Some(new) = rename {
                        ops.push(json!({"op": "replace", "path": "displayName", "value": new}));
                    }
                    if !adds.is_empty() {
                        let value: Vec<Value> = adds.iter().map(|id| json!({"value": id})).collect();
                        ops.push(json!({"op": "add", "path": "members", "value": value}));
                    }
                    ops.extend(removes.iter().map(
                        |id| json!({"op": "remove", "path": format!("members[{}]", wire::filter_eq("value", id))}),
                    ));
                    json!({"schemas": [wire::PATCH_SCHEMA], "Operations": ops})
                } else {
                    put_body(&updated)
                };
            (body, updated)
        };
        let method = if patch { Method::PATCH } else { Method::PUT };
        // A second PUT of the group, a second rename or a second removal leaves what the
        // first does; a second `add` may list a member twice on a service that does not
        // merge them.
        let idempotent = if patch && !adds.is_empty() {
            Idempotent::No
        } else {
            Idempotent::Yes
        };
        let named = |raw: &Value, name: &str| {
            raw.get("displayName")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        };
        // The group where the write leaves it (`done`: renamed, every member where it
        // goes), or where the plan saw it (its old name, every member where it was).
        let as_left = |raw: &Value, done: bool| {
            let members = member_ids(raw);
            let name_ok = match rename {
                Some(new) => named(raw, if done { new } else { group }),
                None => true,
            };
            name_ok
                && ids
                    .iter()
                    .all(|(id, add)| members.contains(&id.as_str()) == (*add == done))
        };
        let next = self
            .write(
                first,
                method,
                idempotent,
                &path,
                object,
                build,
                |raw| as_left(raw, true),
                |raw| as_left(raw, false),
            )
            .await?;
        // A renamed group is known by its new name from now on.
        match rename {
            Some(new) => {
                self.remember(Collection::Groups, group, None);
                self.remember(Collection::Groups, new, Some(next));
            }
            None => self.remember(Collection::Groups, group, Some(next)),
        }
        Ok(())
    }
}
