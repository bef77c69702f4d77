//! From Google's users and members to a `Snapshot`: each person's fields, their other
//! text attributes under the vendor's names (nested ones dotted: `name.givenName`,
//! `organizations.title`, `externalIds.organization`, `customSchemas.HR.level`), and each
//! group's members among the directory's people, the rest skipped and counted.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::wire::{Member, User};
use crate::source::{Person, Snapshot};

/// Fields that are the person's own (`id`, `login`, `status`) or carry nothing a manifest
/// could map (`kind`, `etag`).
const NOT_ATTRIBUTES: &[&str] = &["id", "kind", "etag", "suspended", "archived"];

/// The snapshot of `users` (the whole users list) and each group's derived members;
/// `everyone` keeps every person, otherwise only the groups' members.
pub fn snapshot(users: Vec<User>, groups: Vec<(String, Vec<Member>)>, everyone: bool) -> Snapshot {
    let directory: BTreeMap<String, Person> = users.iter().filter_map(person).map(|p| (p.id.clone(), p)).collect();
    let mut snapshot = Snapshot::default();
    for (name, members) in groups {
        let mut group = super::group(&name);
        for member in members {
            let person = member
                .id
                .as_ref()
                .filter(|_| member.kind.as_deref() == Some("USER"))
                .and_then(|id| directory.get(id));
            match person {
                Some(person) => {
                    group.members.insert(person.id.clone());
                    snapshot.people.insert(person.id.clone(), person.clone());
                }
                // A nested group (its people are listed too), the whole customer, or a
                // user from outside the listed directory (another domain).
                None => group.skipped += 1,
            }
        }
        snapshot.groups.insert(name, group);
    }
    if everyone {
        snapshot.people.extend(directory);
    }
    snapshot
}

/// One user as a person; None for an entry without an id (never sent by Google).
fn person(user: &User) -> Option<Person> {
    let id = user.get("id")?.as_str()?.to_owned();
    let text = |key: &str| {
        user.get(key)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let flag = |key: &str| user.get(key).and_then(Value::as_bool).unwrap_or(false);
    let (suspended, archived) = (flag("suspended"), flag("archived"));
    let status = if archived {
        "archived"
    } else if suspended {
        "suspended"
    } else {
        "active"
    };
    let mut attributes = BTreeMap::new();
    for (key, value) in user {
        if !NOT_ATTRIBUTES.contains(&key.as_str()) {
            flatten(key, value, &mut attributes);
        }
    }
    let name = user.get("name").and_then(Value::as_object);
    let name_part = |key: &str| {
        name.and_then(|n| n.get(key))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    Some(Person {
        id,
        login: text("primaryEmail"),
        email: text("primaryEmail"),
        display_name: name_part("displayName").or_else(|| name_part("fullName")),
        department: attributes.get("organizations.department").cloned(),
        status: status.to_owned(),
        active: !suspended && !archived,
        attributes,
    })
}

/// `value` under `key`: text, numbers and booleans as text; objects by their fields;
/// lists of objects by the primary entry (or the first), and `externalIds` by their
/// `type` (`externalIds.organization` is the employee id); lists of text joined by commas.
fn flatten(key: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::String(s) if !s.is_empty() => {
            out.insert(key.to_owned(), s.clone());
        }
        Value::Bool(b) => {
            out.insert(key.to_owned(), b.to_string());
        }
        Value::Number(n) => {
            out.insert(key.to_owned(), n.to_string());
        }
        Value::Object(fields) => {
            for (k, v) in fields {
                flatten(&format!("{key}.{k}"), v, out);
            }
        }
        Value::Array(items) if key == "externalIds" => {
            for item in items.iter().filter_map(Value::as_object) {
                let kind = item.get("type").and_then(Value::as_str).unwrap_or("custom");
                let kind = match kind {
                    "custom" => item.get("customType").and_then(Value::as_str).unwrap_or("custom"),
                    other => other,
                };
                if let Some(v) = item.get("value").and_then(Value::as_str) {
                    out.entry(format!("{key}.{kind}")).or_insert_with(|| v.to_owned());
                }
            }
        }
        Value::Array(items) => {
            if let Some(entry) = primary(items) {
                for (k, v) in entry {
                    if k != "primary" {
                        flatten(&format!("{key}.{k}"), v, out);
                    }
                }
            } else {
                let texts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                if !texts.is_empty() {
                    out.insert(key.to_owned(), texts.join(","));
                }
            }
        }
        _ => {}
    }
}

/// A list's entry marked `primary`, or its first object.
fn primary(items: &[Value]) -> Option<&Map<String, Value>> {
    let objects = || items.iter().filter_map(Value::as_object);
    objects()
        .find(|o| o.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| objects().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_a_person_with_attributes_under_googles_names() {
        let user: User = serde_json::from_value(serde_json::json!({
            "kind": "admin#directory#user",
            "id": "101",
            "primaryEmail": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace", "fullName": "Ada Lovelace"},
            "suspended": true,
            "orgUnitPath": "/Engineering",
            "organizations": [{"title": "Engineer"}, {"department": "Research", "primary": true}],
            "externalIds": [{"type": "organization", "value": "E-7"}],
            "aliases": ["ada.l@example.com", "al@example.com"],
            "customSchemas": {"HR": {"level": "L5"}},
        }))
        .unwrap();
        let p = person(&user).unwrap();
        assert_eq!(p.login.as_deref(), Some("ada@example.com"));
        assert_eq!(p.display_name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(p.department.as_deref(), Some("Research"));
        assert_eq!((p.status.as_str(), p.active), ("suspended", false));
        let a = &p.attributes;
        assert_eq!(a["name.givenName"], "Ada");
        assert_eq!(a["orgUnitPath"], "/Engineering");
        assert_eq!(a["externalIds.organization"], "E-7");
        assert_eq!(a["aliases"], "ada.l@example.com,al@example.com");
        assert_eq!(a["customSchemas.HR.level"], "L5");
        assert!(!a.contains_key("organizations.title"), "{a:?}");
        assert!(!a.contains_key("kind") && !a.contains_key("id"));
    }
}
