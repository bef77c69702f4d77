//! Between the wire and the model: a directory group as a `Group` with its description,
//! which groups the caller cannot change (synced from an identity provider), what a
//! member is called in the plan, and the chunks the searches take.

use crate::model::{Attributes, Resource};

use super::wire;

/// Why a group's members are fixed for rollcall, if they are: an identity provider syncs
/// it (SCIM), or the directory does not let the caller change it.
pub fn fixed(group: &wire::Group) -> Option<&'static str> {
    let synced = group.external_synced == Some(true)
        || group
            .managed_by
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("external"));
    if synced {
        return Some("synced from an identity provider: managed there");
    }
    let modifiable = group.management_access.as_ref().and_then(|a| a.modifiable);
    (modifiable == Some(false)).then_some("Atlassian Administration does not let this API key modify it")
}

/// A group as the model holds it: its description, when it has one.
pub fn group(group: &wire::Group) -> Resource {
    let mut attributes = Attributes::new();
    if let Some(d) = group.description.as_deref().filter(|d| !d.is_empty()) {
        attributes.insert("description".to_owned(), d.to_owned());
    }
    Resource::Group { attributes }
}

/// The group id inside a user's expanded group: the id itself, or the last segment of
/// its ARI (`ari:cloud:identity::group/{id}`).
pub fn group_id(id: &str) -> &str {
    match id.strip_prefix("ari:") {
        Some(_) => id.rsplit('/').next().unwrap_or(id),
        None => id,
    }
}

/// What an undeclared member is called in the plan: its email, else its account id.
pub fn member_name(user: &wire::User) -> String {
    user.email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map_or_else(|| user.account_id.clone(), str::to_owned)
}

/// `items` in chunks of at most `size`, none empty; the searches take at most 100 names
/// or emails, and 10 group ids, per request.
pub fn chunks<T: Clone>(items: &[T], size: usize) -> Vec<Vec<T>> {
    items.chunks(size.max(1)).map(<[T]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group_of(json: &str) -> wire::Group {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn synced_and_unmodifiable_groups_are_fixed() {
        let synced = group_of(r#"{"id":"g","name":"eng","externalSynced":true}"#);
        assert_eq!(fixed(&synced), Some("synced from an identity provider: managed there"));
        let external = group_of(r#"{"id":"g","name":"eng","managedBy":"external"}"#);
        assert!(fixed(&external).is_some());
        let locked = group_of(r#"{"id":"g","name":"eng","managementAccess":{"modifiable":false}}"#);
        assert!(fixed(&locked).is_some_and(|w| w.contains("modify")));
        let ours = group_of(
            r#"{"id":"g","name":"eng","externalSynced":false,"managedBy":"admins","managementAccess":{"modifiable":true}}"#,
        );
        assert_eq!(fixed(&ours), None);
    }

    #[test]
    fn a_group_keeps_its_description_only_when_it_has_one() {
        let described = group(&group_of(r#"{"id":"g","name":"eng","description":"Engineers"}"#));
        assert_eq!(
            described.attributes(),
            [("description".to_owned(), "Engineers".to_owned())]
        );
        assert_eq!(
            group(&group_of(r#"{"id":"g","name":"eng","description":""}"#)),
            Resource::group()
        );
        assert_eq!(group(&group_of(r#"{"id":"g","name":"eng"}"#)), Resource::group());
    }

    #[test]
    fn expanded_group_ids_may_be_aris() {
        assert_eq!(group_id("ari:cloud:identity::group/1234-abcd"), "1234-abcd");
        assert_eq!(group_id("1234-abcd"), "1234-abcd");
    }

    #[test]
    fn undeclared_members_go_by_email_else_account_id() {
        let with: wire::User = serde_json::from_str(r#"{"accountId":"a1","email":"x@example.com"}"#).unwrap();
        let without: wire::User = serde_json::from_str(r#"{"accountId":"a2","email":" "}"#).unwrap();
        assert_eq!(member_name(&with), "x@example.com");
        assert_eq!(member_name(&without), "a2");
    }

    #[test]
    fn searches_are_chunked_to_their_limits() {
        let names: Vec<u32> = (0..250).collect();
        let sizes: Vec<usize> = chunks(&names, 100).iter().map(Vec::len).collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert!(chunks::<u32>(&[], 100).is_empty());
        assert_eq!(chunks(&names[..10], 10).len(), 1);
        assert_eq!(chunks(&names[..11], 10).len(), 2);
    }
}
