//! The Organizations REST API's JSON shapes (v2 directory calls), as far as rollcall
//! reads them, and its two error bodies. These stay inside the provider; `convert` turns
//! them into the model.

use serde::Deserialize;
use serde_json::Value;

/// A search's page: `{"data": […], "links": {"self", "prev", "next"}}`, where `next` is a
/// cursor to send back as `cursor` (`LinkPageCursor`), absent on the last page.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub links: Option<Links>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Links {
    #[serde(default)]
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// The next page's cursor; an empty one is no cursor.
    pub fn next(&self) -> Option<String> {
        self.links
            .as_ref()
            .and_then(|l| l.next.clone())
            .filter(|c| !c.trim().is_empty())
    }
}

/// `MultiDirectoryGroup`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub management_access: Option<ManagementAccess>,
    /// "Indication if group was created via IdP Sync."
    #[serde(default)]
    pub external_synced: Option<bool>,
    /// "external, admins, team-members, or open".
    #[serde(default)]
    pub managed_by: Option<String>,
}

/// What the caller may do with a group.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ManagementAccess {
    #[serde(default)]
    pub modifiable: Option<bool>,
}

/// `MultiDirectoryUser`, as far as rollcall reads it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub account_id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// The short public name the person chose (`MultiDirectoryUser.nickname`).
    #[serde(default)]
    pub nickname: Option<String>,
    /// With `expand: ["groups"]`: the user's groups in the directory searched
    /// (`MultiDirectoryUserGroup`). Absent when the server did not expand them.
    #[serde(default)]
    pub groups: Option<Vec<UserGroup>>,
}

/// `MultiDirectoryUserGroup`: its `id` may be the group's id or its ARI
/// (`ari:cloud:identity::group/{id}`, the description's example).
#[derive(Debug, Clone, Deserialize)]
pub struct UserGroup {
    pub id: String,
}

/// The vendor's message in an error body: the v2 `{"errors": [{id, status, code, title,
/// detail}]}`, each error as `code: detail` (or its title), or the gateway's
/// `ProxyError` `{code, message}` on 401 and 429.
pub fn error_message(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let text = |e: &Value, key: &str| {
        e.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if let Some(errors) = v.get("errors").and_then(Value::as_array) {
        let parts: Vec<String> = errors
            .iter()
            .filter_map(|e| {
                let what = text(e, "detail").or_else(|| text(e, "title"))?;
                Some(match text(e, "code") {
                    Some(code) => format!("{code}: {what}"),
                    None => what,
                })
            })
            .collect();
        if !parts.is_empty() {
            return Some(parts.join("; "));
        }
    }
    text(&v, "message")
        .or_else(|| text(&v, "detail"))
        .or_else(|| text(&v, "title"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_give_the_vendors_message() {
        let v2 = r#"{"errors":[{"id":"e1","status":"409","code":"ADMIN-409","title":"Conflict","detail":"A group with this name already exists."}]}"#;
        assert_eq!(
            error_message(v2).as_deref(),
            Some("ADMIN-409: A group with this name already exists.")
        );
        let titled = r#"{"errors":[{"status":"404","title":"Not Found"},{"detail":"no such directory"}]}"#;
        assert_eq!(error_message(titled).as_deref(), Some("Not Found; no such directory"));
        let proxy = r#"{"code":429,"message":"Rate limit exceeded"}"#;
        assert_eq!(error_message(proxy).as_deref(), Some("Rate limit exceeded"));
        assert_eq!(error_message("<html>"), None);
        assert_eq!(error_message(r#"{"errors":[]}"#), None);
    }

    #[test]
    fn pages_carry_their_cursor() {
        let page: Page<Group> = serde_json::from_str(
            r#"{"data":[{"id":"g1","name":"devs","description":"Developers","directoryId":"d1",
                "managementAccess":{"deletable":true,"modifiable":true,"readable":true},
                "externalSynced":false,"managedBy":"admins"}],
              "links":{"self":"a","next":"kloHX1ZQVasDAkx_P48NYQ"}}"#,
        )
        .unwrap();
        assert_eq!(page.next().as_deref(), Some("kloHX1ZQVasDAkx_P48NYQ"));
        assert_eq!(page.data[0].description.as_deref(), Some("Developers"));
        let last: Page<User> = serde_json::from_str(r#"{"data":[],"links":{"self":"a","next":""}}"#).unwrap();
        assert_eq!(last.next(), None);
        let bare: Page<User> = serde_json::from_str(r#"{"data":[]}"#).unwrap();
        assert_eq!(bare.next(), None);
        assert!(serde_json::from_str::<Page<User>>(r#"{"links":{}}"#).is_err());
    }

    #[test]
    fn users_come_with_their_groups_when_expanded() {
        let user: User = serde_json::from_str(
            r#"{"accountId":"557058:abc","accountType":"atlassian","status":"active","name":"Alice",
                "email":"alice@example.com","managementSource":"invited",
                "groups":[{"id":"ari:cloud:identity::group/g1","name":"devs","description":null}]}"#,
        )
        .unwrap();
        assert_eq!(user.account_id, "557058:abc");
        assert_eq!(user.groups.as_ref().map(Vec::len), Some(1));
        let plain: User = serde_json::from_str(r#"{"accountId":"x"}"#).unwrap();
        assert!(plain.groups.is_none() && plain.email.is_none());
    }
}
