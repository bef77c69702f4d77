//! The JSON of SCIM objects as read: which attributes differ, member ids, emails, paths
//! set inside an object, the body of a PUT, the version for `If-Match`.

use super::*;

/// The attributes to set to take a user from `before` to `after`. Emails other than the
/// managed (primary) one are kept.
pub(super) fn user_sets(raw: &Value, before: &UserAttrs, after: &UserAttrs) -> Vec<Set> {
    let mut out: Vec<Set> = Vec::new();
    if before.display_name != after.display_name {
        out.push(("displayName", json!(after.display_name)));
        let name = wire::name(&after.display_name);
        for part in ["formatted", "givenName", "familyName"] {
            let path = match part {
                "formatted" => "name.formatted",
                "givenName" => "name.givenName",
                _ => "name.familyName",
            };
            out.push((path, name[part].clone()));
        }
    }
    if before.email != after.email {
        out.push(("emails", emails_with(raw, &after.email)));
    }
    if after.external_id.is_some() && before.external_id != after.external_id {
        out.push(("externalId", json!(after.external_id)));
    }
    if after.active.is_some() && before.active != after.active {
        out.push(("active", json!(after.active)));
    }
    out
}

/// Whether the object has the value a `replace` of `path` set: for `emails`, the managed
/// (primary) address.
pub(super) fn holds(raw: &Value, path: &str, value: &Value) -> bool {
    let mut at = Some(raw);
    for part in path.split('.') {
        at = at.and_then(|v| v.get(part));
    }
    let primary = |emails: &Value| {
        let list = emails.as_array()?;
        list.iter()
            .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
            .or_else(|| list.first())
            .and_then(|e| e.get("value"))
            .and_then(Value::as_str)
            .map(str::to_lowercase)
    };
    match (path, at) {
        ("emails", Some(found)) => primary(found).is_some() && primary(found) == primary(value),
        (_, found) => found == Some(value),
    }
}

/// Whether a user object has the managed attributes `attrs`.
pub(super) fn same_user(raw: &Value, attrs: &UserAttrs) -> bool {
    serde_json::from_value::<wire::User>(raw.clone()).is_ok_and(|u| u.attrs() == *attrs)
}

/// The ids of a group's members as the object lists them.
pub(super) fn member_ids(raw: &Value) -> Vec<&str> {
    raw.get("members")
        .and_then(Value::as_array)
        .map(|m| {
            m.iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

/// The user's emails with the primary one (else the first) changed to `email`.
pub(super) fn emails_with(raw: &Value, email: &str) -> Value {
    let mut emails: Vec<Value> = raw.get("emails").and_then(Value::as_array).cloned().unwrap_or_default();
    let primary = emails
        .iter()
        .position(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .or(if emails.is_empty() { None } else { Some(0) });
    match primary {
        Some(i) => {
            if let Some(Value::Object(e)) = emails.get_mut(i) {
                e.insert("value".to_owned(), json!(email));
                e.insert("primary".to_owned(), json!(true));
            }
        }
        None => emails.push(json!({"value": email, "type": "work", "primary": true})),
    }
    Value::Array(emails)
}

/// Sets `a` or `a.b` on a JSON object, creating the parent as needed.
pub(super) fn set_path(object: &mut Value, path: &str, value: Value) {
    let Value::Object(map) = object else { return };
    match path.split_once('.') {
        None => {
            map.insert(path.to_owned(), value);
        }
        Some((parent, child)) => {
            let entry = map
                .entry(parent.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            set_path(entry, child, value);
        }
    }
}

/// A PUT body: the object as read without what the server owns (`meta`, a user's
/// read-only `groups`).
pub(super) fn put_body(object: &Value) -> Value {
    let mut body = object.clone();
    if let Value::Object(map) = &mut body {
        map.remove("meta");
        map.remove("groups");
    }
    body
}

pub(super) fn version_of(raw: &Value) -> Option<String> {
    raw.get("meta")?.get("version")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_email_keeps_the_other_addresses() {
        let raw = json!({"emails": [
            {"value": "home@example.org", "type": "home"},
            {"value": "old@example.com", "type": "work", "primary": true}
        ]});
        let emails = emails_with(&raw, "new@example.com");
        assert_eq!(emails[0]["value"], "home@example.org");
        assert_eq!(emails[1]["value"], "new@example.com");
        assert_eq!(emails[1]["primary"], true);
        assert_eq!(emails_with(&json!({}), "a@b.c")[0]["type"], "work");
    }

    #[test]
    fn only_changed_attributes_are_set() {
        let before = UserAttrs {
            display_name: "Ann Lee".into(),
            email: "ann@example.com".into(),
            active: Some(true),
            external_id: None,
        };
        let after = UserAttrs {
            active: Some(false),
            external_id: Some("ann".into()),
            ..before.clone()
        };
        let paths: Vec<&str> = user_sets(&json!({}), &before, &after).iter().map(|(p, _)| *p).collect();
        assert_eq!(paths, ["externalId", "active"]);
    }

    #[test]
    fn nested_paths_create_their_parent_and_puts_drop_server_fields() {
        let mut v = json!({"id": "1", "meta": {"version": "W/\"1\""}, "groups": []});
        set_path(&mut v, "name.formatted", json!("Ann"));
        assert_eq!(v["name"]["formatted"], "Ann");
        let body = put_body(&v);
        assert!(body.get("meta").is_none() && body.get("groups").is_none());
        assert_eq!(body["id"], "1");
    }
}
