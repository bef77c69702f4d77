//! SCIM wire shapes (RFC 7643 resources, RFC 7644 list responses and errors), only as far
//! as rollcall reads them. Everything else a server sends is kept as raw JSON where a PUT
//! must send it back untouched.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::model::UserAttrs;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const MEDIA_TYPE: &str = "application/scim+json";

/// RFC 7644 §3.4.2: one page of a list.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    /// REQUIRED by RFC 7644, but a service may leave it out: then the list ends at an
    /// empty page.
    #[serde(default)]
    pub total_results: Option<usize>,
    /// Absent when there are no results (RFC 7644 §3.4.2: "Resources" is REQUIRED only
    /// if totalResults is non-zero).
    #[serde(default, rename = "Resources")]
    pub resources: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub user_name: String,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub name: Option<Name>,
    #[serde(default)]
    pub emails: Vec<Email>,
    /// RFC 7643 §4.1.1 leaves an absent `active` to the provider; every server seen
    /// treats it as active.
    #[serde(default)]
    pub active: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct Name {
    #[serde(default)]
    pub formatted: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Email {
    pub value: String,
    #[serde(default)]
    pub primary: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub members: Vec<Member>,
}

#[derive(Debug, Deserialize)]
pub struct Member {
    pub value: String,
    /// `User` or `Group`; nested groups are not memberships rollcall manages.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

impl User {
    /// The attributes rollcall manages, as the model has them. An empty externalId is
    /// none.
    pub fn attrs(&self) -> UserAttrs {
        UserAttrs {
            display_name: self.shown_name(),
            email: self.email(),
            active: Some(self.active.unwrap_or(true)),
            external_id: self.external_id.clone().filter(|x| !x.is_empty()),
        }
    }

    /// The display name: `displayName`, else the formatted name.
    pub fn shown_name(&self) -> String {
        self.display_name
            .clone()
            .or_else(|| self.name.as_ref().and_then(|n| n.formatted.clone()))
            .unwrap_or_default()
    }

    /// The primary email, else the first.
    pub fn email(&self) -> String {
        self.emails
            .iter()
            .find(|e| e.primary == Some(true))
            .or_else(|| self.emails.first())
            .map(|e| e.value.clone())
            .unwrap_or_default()
    }
}

/// The parts of a full name SCIM has, split at the last space: `givenName` and
/// `familyName` are what many services (Atlassian among them) show, `formatted` the whole.
pub fn name(full: &str) -> Value {
    let full = full.trim();
    match full.rsplit_once(' ') {
        Some((given, family)) => json!({"formatted": full, "givenName": given.trim(), "familyName": family}),
        None => json!({"formatted": full, "givenName": full, "familyName": full}),
    }
}

/// A string value inside a filter: quoted, with `"` and `\` escaped (RFC 7644 §3.4.2.2
/// uses JSON string syntax).
pub fn filter_eq(attribute: &str, value: &str) -> String {
    format!("{attribute} eq {}", Value::String(value.to_owned()))
}

/// The vendor's message from a SCIM error body (RFC 7644 §3.12): `detail`, with the
/// `scimType` in front when there is one.
pub fn error_message(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let detail = v.get("detail").and_then(Value::as_str).map(str::trim);
    let scim_type = v.get("scimType").and_then(Value::as_str);
    match (scim_type, detail) {
        (Some(t), Some(d)) if !d.is_empty() => Some(format!("{t}: {d}")),
        (Some(t), _) => Some(t.to_owned()),
        (None, Some(d)) if !d.is_empty() => Some(d.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_give_scim_type_and_detail() {
        let body = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"userName taken"}"#;
        assert_eq!(error_message(body).as_deref(), Some("uniqueness: userName taken"));
        assert_eq!(
            error_message(r#"{"status":404,"detail":"no such user"}"#).as_deref(),
            Some("no such user")
        );
        assert_eq!(error_message("<html>"), None);
    }

    #[test]
    fn filter_values_are_quoted_as_json_strings() {
        assert_eq!(filter_eq("userName", r#"a"b\c"#), r#"userName eq "a\"b\\c""#);
    }

    #[test]
    fn names_split_at_the_last_space() {
        assert_eq!(name("Grace Hopper-Lee")["givenName"], "Grace");
        assert_eq!(name("Ana María López")["familyName"], "López");
        assert_eq!(name("Cher")["familyName"], "Cher");
    }
}
