//! Writing: one request per change. A group create is not safe to send twice (a second
//! copy answers 409 and hides whether the first landed), so an answer lost to it is read
//! back by name before anything is sent again. Adding a member is: a repeat answers 409
//! "already in the group", which after an uncertain earlier attempt means done; so are
//! the deletes, whose 404 after an uncertain attempt means done.

use reqwest::Method;
use serde_json::{json, Value};

use super::*;
use crate::http::{Idempotent, Request};

/// Searches for a group just created before its create is called lost to a directory
/// that does not list it yet: 0.25 s, 0.5 s and 1 s apart.
const LOOKUPS: u32 = 4;
use crate::model::{Resource, ResourceId};

impl AtlassianOrg {
    pub(super) async fn apply_one(&self, change: &Change) -> Result<(), ProviderError> {
        match (&change.address.id, change.action) {
            (ResourceId::Group { name }, Action::Create) => self.create_group(change, name).await,
            // The plan notes such a change rather than planning it
            // (`KindRules::attributes_on_create_only`); one that gets here is refused.
            (ResourceId::Group { .. }, Action::Update) => Err(self.fail(
                change,
                "the Organizations API sets a group's description only when it creates the group: change it in Atlassian Administration, or make the manifest's `description` what the directory has",
            )),
            (ResourceId::Group { name }, Action::Delete) => self.delete_group(change, name).await,
            (ResourceId::Membership { group, user }, Action::Create) => self.add_member(change, group, user).await,
            (ResourceId::Membership { group, user }, Action::Delete) => {
                self.remove_member(change, group, user).await
            }
            (ResourceId::User { .. }, _) => Err(self.fail(
                change,
                "people join an Atlassian organization by invitation or SCIM; the Organizations API does not create, change or delete accounts",
            )),
            _ => Err(self.fail(change, "an Atlassian organization's directory has no such object")),
        }
    }

    fn group_id(&self, change: &Change, name: &str) -> Result<String, ProviderError> {
        self.known().groups.get(&name.to_lowercase()).cloned().ok_or_else(|| {
            self.fail(
                change,
                format!("group `{name}` was not in the directory when it was read; plan again"),
            )
        })
    }

    fn account_id(&self, change: &Change, name: &str) -> Result<String, ProviderError> {
        self.known().users.get(&name.to_lowercase()).cloned().ok_or_else(|| {
            self.fail(
                change,
                format!("`{name}` was not in the directory when it was read; plan again"),
            )
        })
    }

    /// The group of this name in the directory, read back.
    async fn find_group(&self, name: &str) -> Result<Option<wire::Group>, HttpError> {
        Ok(self.groups_named(&[name.to_owned()]).await?.into_iter().next())
    }

    async fn create_group(&self, change: &Change, name: &str) -> Result<(), ProviderError> {
        let mut body = json!({ "name": name });
        if let Some(Resource::Group { attributes }) = &change.after {
            if let (Some(d), Some(fields)) = (attributes.get("description"), body.as_object_mut()) {
                fields.insert("description".to_owned(), json!(d));
            }
        }
        let path = self.path("/groups");
        // Whether an earlier copy of this create got no answer: a 409 then is most likely
        // that copy's group.
        let mut lost = false;
        for sends in 1..=SENDS {
            let request = Request::new(Method::POST, path.clone(), Idempotent::No)
                .json(body.clone())
                .resent(sends > 1);
            match self.http.send(request).await {
                Ok(reply) => {
                    let id = match created_id(&reply.body) {
                        Some(id) => id,
                        // The description declares no body for the 201: the new id is
                        // read back by name.
                        None => match self.find_created(name).await? {
                            Some(id) => id,
                            None => {
                                return Err(self.fail(
                                    change,
                                    "the directory answered the create but does not list the group yet; plan again",
                                ))
                            }
                        },
                    };
                    self.remember_group(name, id);
                    return Ok(());
                }
                Err(e) if e.may_have_been_applied() => {
                    lost = true;
                    if let Some(g) = self.find_group(name).await? {
                        self.remember_group(name, g.id);
                        return Ok(());
                    }
                    // Nothing landed: send it again.
                }
                Err(e) if e.is_status(409) && lost => match self.find_group(name).await? {
                    Some(g) => {
                        self.remember_group(name, g.id);
                        return Ok(());
                    }
                    None => return Err(e.into()),
                },
                Err(e) if e.is_status(409) => {
                    return Err(ProviderError::Conflict {
                        target: self.target.clone(),
                        address: change.address.to_string(),
                        why: e.detail,
                    })
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(self.fail(
            change,
            format!("the create's answer was lost {SENDS} times in a row and the group is not there; plan again"),
        ))
    }

    /// The id of a group the directory just created: searched by name, and again a few
    /// times, a little later each, should the search not list it yet (the directory
    /// promises no read-after-write).
    async fn find_created(&self, name: &str) -> Result<Option<String>, HttpError> {
        let mut wait = std::time::Duration::from_millis(250);
        for attempt in 0..LOOKUPS {
            if attempt > 0 {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            if let Some(g) = self.find_group(name).await? {
                return Ok(Some(g.id));
            }
        }
        Ok(None)
    }

    fn remember_group(&self, name: &str, id: String) {
        self.known().groups.insert(name.to_lowercase(), id);
    }

    async fn delete_group(&self, change: &Change, name: &str) -> Result<(), ProviderError> {
        let id = self.group_id(change, name)?;
        let request = Request::new(
            Method::DELETE,
            self.path(&format!("/groups/{}", seg(&id))),
            Idempotent::Yes,
        );
        match self.http.send(request).await {
            Ok(_) => {}
            // Gone by an earlier attempt whose answer was lost.
            Err(e) if e.is_status(404) && e.ambiguous => {}
            Err(e) => return Err(e.into()),
        }
        self.known().groups.remove(&name.to_lowercase());
        Ok(())
    }

    async fn add_member(&self, change: &Change, group: &str, user: &str) -> Result<(), ProviderError> {
        let (group_id, account_id) = (self.group_id(change, group)?, self.account_id(change, user)?);
        let path = self.path(&format!("/groups/{}/memberships", seg(&group_id)));
        // A second copy adds nobody: it answers 409.
        let request = Request::new(Method::POST, path, Idempotent::Yes).json(json!({ "accountId": account_id }));
        match self.http.send(request).await {
            Ok(_) => Ok(()),
            // In the group by an earlier attempt whose answer was lost.
            Err(e) if e.is_status(409) && e.ambiguous => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn remove_member(&self, change: &Change, group: &str, user: &str) -> Result<(), ProviderError> {
        let (group_id, account_id) = (self.group_id(change, group)?, self.account_id(change, user)?);
        let path = self.path(&format!("/groups/{}/memberships/{}", seg(&group_id), seg(&account_id)));
        match self
            .http
            .send(Request::new(Method::DELETE, path, Idempotent::Yes))
            .await
        {
            Ok(_) => Ok(()),
            // Out of the group by an earlier attempt whose answer was lost.
            Err(e) if e.is_status(404) && e.ambiguous => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// The new group's id, where a 201 carries the group (`{"id"}` or `{"data": {"id"}}`).
fn created_id(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let id = v.get("id").or_else(|| v.get("data").and_then(|d| d.get("id")))?;
    id.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::created_id;

    #[test]
    fn a_created_groups_id_is_read_from_the_answer_when_there_is_one() {
        assert_eq!(created_id(r#"{"id":"g1","name":"devs"}"#).as_deref(), Some("g1"));
        assert_eq!(created_id(r#"{"data":{"id":"g2"}}"#).as_deref(), Some("g2"));
        assert_eq!(created_id(""), None);
        assert_eq!(created_id(r#"{"id":""}"#), None);
    }
}
