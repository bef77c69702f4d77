//! Users: creating one, and adopting an existing account that is this person's (a 409
//! on create, or a create whose answer was lost).

use super::*;

impl Scim {
    pub(super) async fn create_user(
        &self,
        change: &Change,
        name: &str,
        attrs: &UserAttrs,
    ) -> Result<(), ProviderError> {
        let mut body = json!({
            "schemas": [wire::USER_SCHEMA],
            "userName": name,
            "displayName": attrs.display_name,
            "name": wire::name(&attrs.display_name),
            "emails": [{"value": attrs.email, "type": "work", "primary": true}],
            "active": attrs.active.unwrap_or(true),
        });
        if let Some(id) = &attrs.external_id {
            body["externalId"] = json!(id);
        }
        let mut sends = 0;
        loop {
            sends += 1;
            let request = Request::new(Method::POST, "/Users", Idempotent::No)
                .json(body.clone())
                .resent(sends > 1);
            let e = match self.http.send(request).await {
                Ok(reply) => {
                    let (object, _) = self.object_from("/Users", &reply)?;
                    self.remember(Collection::Users, name, Some(object));
                    return Ok(());
                }
                // `uniqueness`: the userName exists (created by someone else, or by an
                // earlier copy of this request whose answer was lost), or this copy's
                // answer was lost: look it up.
                Err(e) if e.is_status(409) || e.may_have_been_applied() => e,
                Err(e) => return Err(e.into()),
            };
            match self.find(Collection::Users, name).await? {
                // Adopted if it is this person.
                Some(raw) => return self.adopt_user(change, name, attrs, raw).await,
                // The lost attempt did not create it: nothing landed, send it again.
                None if e.may_have_been_applied() && sends < SENDS => continue,
                None => return Err(e.into()),
            }
        }
    }

    /// Takes over the account found under this userName when it is this person's.
    pub(super) async fn adopt_user(
        &self,
        change: &Change,
        name: &str,
        attrs: &UserAttrs,
        raw: Value,
    ) -> Result<(), ProviderError> {
        let u: wire::User = self.parse("/Users", &raw)?;
        let ours = match (&u.external_id, &attrs.external_id) {
            (Some(theirs), Some(mine)) if !theirs.is_empty() => theirs.eq_ignore_ascii_case(mine),
            _ => u.emails.iter().any(|e| e.value.eq_ignore_ascii_case(&attrs.email)),
        };
        if !ours {
            return Err(self.fail(
                change,
                format!(
                    "userName `{}` is taken by another account (externalId {}, email {:?}); give this person another id under `ids:`, or remove that account",
                    u.user_name,
                    u.external_id.as_deref().map_or_else(|| "none".to_owned(), |x| format!("`{x}`")),
                    u.email()
                ),
            ));
        }
        let live = u.attrs();
        let object = Object::listed(u.id, raw);
        self.remember(Collection::Users, name, Some(object.clone()));
        tracing::info!(target: "rollcall::scim", target_name = %self.target, user = name, "adopted the existing account");
        let sets = user_sets(&object.raw, &live, attrs);
        if sets.is_empty() {
            return Ok(());
        }
        self.modify(change, Collection::Users, name, object, sets, |raw| {
            same_user(raw, &live)
        })
        .await
    }
}
