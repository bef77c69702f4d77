//! Between the wire and the model: a directory group as a `Group` with its description,
//! which groups the caller cannot change (synced from an identity provider), what a
//! member is called in the plan, and the chunks the searches take.

use crate::model::{Attributes, Resource};
use std::collections::{BTreeMap, HashMap};

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

/// What each undeclared person is called, by account id: their nickname where it is a
/// valid user name that no other person read has (declared names included, without
/// regard to case), so an import declares them as people write them; else
/// `member_name`.
pub fn undeclared_names<'a>(
    users: impl IntoIterator<Item = &'a wire::User>,
    declared: impl IntoIterator<Item = &'a str>,
) -> HashMap<String, String> {
    let mut unique: BTreeMap<String, &wire::User> = BTreeMap::new();
    for u in users {
        unique.entry(u.account_id.clone()).or_insert(u);
    }
    let nickname = |u: &wire::User| {
        u.nickname
            .as_deref()
            .map(str::trim)
            .filter(|n| crate::resolve::valid_name(crate::resolve::NameKind::User, n))
            .map(str::to_lowercase)
    };
    let mut taken: HashMap<String, usize> = HashMap::new();
    for name in declared {
        *taken.entry(name.to_lowercase()).or_default() += 2;
    }
    for u in unique.values() {
        if let Some(n) = nickname(u) {
            *taken.entry(n).or_default() += 1;
        }
    }
    unique
        .into_values()
        .map(|u| {
            let name = match (nickname(u), u.nickname.as_deref()) {
                (Some(n), Some(spelled)) if taken.get(&n) == Some(&1) => spelled.trim().to_owned(),
                _ => member_name(u),
            };
            (u.account_id.clone(), name)
        })
        .collect()
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

    /// An undeclared person is their nickname where only they have it, else their email.
    #[test]
    fn undeclared_people_are_named_by_a_nickname_only_they_have() {
        let user = |id: &str, nickname: &str, email: &str| -> wire::User {
            serde_json::from_value(serde_json::json!({"accountId": id, "nickname": nickname, "email": email})).unwrap()
        };
        let users = [
            user("1", "lena", "lena@x.example"),
            user("2", "Max", "max@x.example"),
            user("3", "max", "max2@x.example"),
            user("4", "Ann", "ann@x.example"),
            user("5", "not a name!", "odd@x.example"),
        ];
        let names = undeclared_names(&users, ["ann"]);
        assert_eq!(names["1"], "lena");
        assert_eq!(
            (names["2"].as_str(), names["3"].as_str()),
            ("max@x.example", "max2@x.example")
        );
        assert_eq!(names["4"], "ann@x.example", "a declared person has that name");
        assert_eq!(names["5"], "odd@x.example");
    }
}
