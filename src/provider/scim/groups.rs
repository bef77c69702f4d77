//! Groups: creating one with its first members, and adding and removing members, all of
//! one group's in one PATCH (or PUT) per batch.

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
        let mut listed = Vec::new();
        for c in members {
            if let ResourceId::Membership { user, .. } = &c.address.id {
                listed.push(json!({"value": self.lookup(c, Collection::Users, user)?.id}));
            }
        }
        let body = json!({"schemas": [wire::GROUP_SCHEMA], "displayName": name, "members": listed});
        for sends in 1..=SENDS {
            let request = Request::new(Method::POST, "/Groups", Idempotent::No)
                .json(body.clone())
                .resent(sends > 1);
            match self.http.send(request).await {
                Ok(reply) => {
                    let (object, _) = self.object_from("/Groups", &reply)?;
                    self.remember(Collection::Groups, name, Some(object));
                    return Ok(());
                }
                // A group is only its name: one that exists (created meanwhile, or by the
                // lost attempt) is this one. Its members are whatever they are; the
                // planned member changes go ahead and the next plan shows any difference.
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

    /// Adds and removes members of one group, as many per request as the profile allows:
    /// one PATCH with an `add` listing the new members and a `remove` per leaving one.
    pub(super) async fn members(&self, changes: &[Change], group: &str) -> Result<(), ProviderError> {
        let Some(first) = changes.first() else {
            return Ok(());
        };
        // Each member's id, and whether it joins (else it leaves).
        let mut ids: Vec<(String, bool)> = Vec::new();
        for c in changes {
            if let ResourceId::Membership { user, .. } = &c.address.id {
                ids.push((self.lookup(c, Collection::Users, user)?.id, c.action != Action::Delete));
            }
        }
        for chunk in ids.chunks(self.profile.members_per_patch.max(1)) {
            let (_writing, object) = self.hold(first, Collection::Groups, group).await?;
            let path = format!("/Groups/{}", object.id);
            let patch = self.profile.patch;
            let adds: Vec<&str> = chunk
                .iter()
                .filter(|(_, add)| *add)
                .map(|(id, _)| id.as_str())
                .collect();
            let removes: Vec<&str> = chunk
                .iter()
                .filter(|(_, add)| !*add)
                .map(|(id, _)| id.as_str())
                .collect();
            let build = |object: &Object| {
                let mut updated = object.raw.clone();
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
                let body = if patch {
                    let mut ops: Vec<Value> = Vec::new();
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
            // A second PUT of the list, or a second removal, leaves what the first does; a
            // second `add` may list a member twice on a service that does not merge them.
            let idempotent = if patch && !adds.is_empty() {
                Idempotent::No
            } else {
                Idempotent::Yes
            };
            // Every member where the write leaves it (`done`), or where the plan saw it.
            let as_left = |raw: &Value, done: bool| {
                let members = member_ids(raw);
                chunk
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
            self.remember(Collection::Groups, group, Some(next));
        }
        Ok(())
    }
}
