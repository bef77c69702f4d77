//! Groups: creating one, and adding or removing members, all of one group's in one
//! PATCH (or PUT) per batch.

use super::*;

impl Scim {
    /// Creates a group. RFC 7643 does not make group names unique, and some services
    /// (scim2-server) accept a second group of one name, so a create whose answer was lost
    /// is not simply sent again: the group is looked up first, and adopted if it is there.
    pub(super) async fn create_group(&self, change: &Change, name: &str) -> Result<(), ProviderError> {
        let body = json!({"schemas": [wire::GROUP_SCHEMA], "displayName": name, "members": []});
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
                            return Ok(());
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

    /// Adds or removes members of one group, as many per request as the profile allows.
    pub(super) async fn members(&self, changes: &[Change], group: &str, add: bool) -> Result<(), ProviderError> {
        let Some(first) = changes.first() else {
            return Ok(());
        };
        let mut ids = Vec::new();
        for c in changes {
            if let ResourceId::Membership { user, .. } = &c.address.id {
                ids.push(self.lookup(c, Collection::Users, user)?.id);
            }
        }
        for chunk in ids.chunks(self.profile.members_per_patch.max(1)) {
            let (_writing, object) = self.hold(first, Collection::Groups, group).await?;
            let path = format!("/Groups/{}", object.id);
            let patch = self.profile.patch;
            let build = |object: &Object| {
                let mut updated = object.raw.clone();
                let mut members: Vec<Value> = updated
                    .get("members")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if add {
                    members.extend(chunk.iter().map(|id| json!({"value": id})));
                } else {
                    members.retain(|m| {
                        !chunk
                            .iter()
                            .any(|id| m.get("value").and_then(Value::as_str) == Some(id))
                    });
                }
                set_path(&mut updated, "members", Value::Array(members));
                let body = if !patch {
                    put_body(&updated)
                } else if add {
                    let value: Vec<Value> = chunk.iter().map(|id| json!({"value": id})).collect();
                    let ops = [json!({"op": "add", "path": "members", "value": value})];
                    json!({"schemas": [wire::PATCH_SCHEMA], "Operations": ops})
                } else {
                    let ops: Vec<Value> = chunk
                        .iter()
                        .map(|id| json!({"op": "remove", "path": format!("members[{}]", wire::filter_eq("value", id))}))
                        .collect();
                    json!({"schemas": [wire::PATCH_SCHEMA], "Operations": ops})
                };
                (body, updated)
            };
            let method = if patch { Method::PATCH } else { Method::PUT };
            // A second PUT of the list, or a second removal, leaves what the first does; a
            // second `add` may list a member twice on a service that does not merge them.
            let idempotent = if patch && add { Idempotent::No } else { Idempotent::Yes };
            let present = |raw: &Value, wanted: bool| {
                let members = member_ids(raw);
                chunk.iter().all(|id| members.contains(&id.as_str()) == wanted)
            };
            let next = self
                .write(
                    first,
                    method,
                    idempotent,
                    &path,
                    object,
                    build,
                    |raw| present(raw, add),
                    |raw| present(raw, !add),
                )
                .await?;
            self.remember(Collection::Groups, group, Some(next));
        }
        Ok(())
    }
}
