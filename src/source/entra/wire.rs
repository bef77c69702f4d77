//! Microsoft's JSON as the reader sees it: the identity platform's token answer and
//! error, Graph's collection pages and error body, and the `$filter` that finds groups by
//! name or id. Nothing outside this module knows these shapes.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// The identity platform's answer to a client-credentials request.
#[derive(Debug, Deserialize)]
pub struct TokenAnswer {
    pub token_type: String,
    /// Seconds the token is good for (3599 for Graph).
    pub expires_in: u64,
    pub access_token: String,
}

/// One page of a Graph collection: `{"value": […], "@odata.nextLink": "…"}`. Items are
/// kept as JSON objects: the attributes a person carries are every text property Graph
/// answered, under Graph's names.
#[derive(Debug, Deserialize)]
pub struct Collection {
    #[serde(default)]
    pub value: Vec<BTreeMap<String, Value>>,
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

/// A group as `GET /groups?$select=id,displayName` answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    pub id: String,
    pub display_name: String,
}

impl GroupRef {
    pub fn from_item(item: &BTreeMap<String, Value>) -> Option<GroupRef> {
        Some(GroupRef {
            id: item.get("id")?.as_str()?.to_owned(),
            display_name: item
                .get("displayName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
    }
}

/// The user properties the reader asks for. Graph's default set leaves out
/// `accountEnabled`, `department`, `employeeId`, `onPremisesSamAccountName`,
/// `mailNickname` and `userType` ("Returned only on $select"), so every one is named.
pub const USER_SELECT: &[&str] = &[
    "id",
    "userPrincipalName",
    "mail",
    "displayName",
    "department",
    "accountEnabled",
    "givenName",
    "surname",
    "jobTitle",
    "employeeId",
    "employeeType",
    "companyName",
    "officeLocation",
    "city",
    "country",
    "usageLocation",
    "preferredLanguage",
    "mailNickname",
    "onPremisesSamAccountName",
    "userType",
];

/// Graph's largest page (`$top` 1 to 999; learn.microsoft.com/graph/paging: "Invalid page
/// size specified … Must be between 1 and 999 inclusive").
pub const PAGE_SIZE: usize = 999;

/// Values in one `$filter`'s `in (…)` lists. The description is silent; Microsoft's
/// documentation (learn.microsoft.com/graph/filter-query-parameter) limits a request
/// using `in` to 15 expressions in the filter clause by default, read here as 15 values
/// across the clause's lists. `displayName` and `id` both support `in` (the description's
/// property text for `displayName`; Graph's for `id`).
pub const FILTER_VALUES: usize = 15;

/// `id in ('…')` and `displayName in ('…')`, joined by `or`, for one batch of groups:
/// GUIDs by id, anything else by display name. A quote in a name is doubled (OData).
pub fn group_filter(ids: &[&str], names: &[&str]) -> String {
    let list = |values: &[&str]| {
        values
            .iter()
            .map(|v| format!("'{}'", v.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut clauses = Vec::new();
    if !ids.is_empty() {
        clauses.push(format!("id in ({})", list(ids)));
    }
    if !names.is_empty() {
        clauses.push(format!("displayName in ({})", list(names)));
    }
    clauses.join(" or ")
}

/// Whether a group name is an object id: a GUID, `8-4-4-4-12` hex digits.
pub fn is_guid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Graph's error body, `{"error":{"code","message",…}}`, as `code: message`.
pub fn graph_error(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let error = value.get("error")?;
    let code = error.get("code").and_then(Value::as_str).unwrap_or_default();
    let message = error.get("message").and_then(Value::as_str).unwrap_or_default();
    match (code.is_empty(), message.is_empty()) {
        (true, true) => None,
        (false, true) => Some(code.to_owned()),
        (true, false) => Some(message.to_owned()),
        (false, false) => Some(format!("{code}: {message}")),
    }
}

/// The identity platform's error body, `{"error":"invalid_client","error_description":
/// "AADSTS7000215: …\r\nTrace ID: …"}`, as `error: first line of the description` (the
/// trace and correlation ids that follow help nobody reading a plan).
pub fn token_error(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let error = value.get("error")?.as_str()?;
    let description = value
        .get("error_description")
        .and_then(Value::as_str)
        .and_then(|d| d.lines().next())
        .unwrap_or_default()
        .trim();
    Some(if description.is_empty() {
        error.to_owned()
    } else {
        format!("{error}: {description}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_quote_names_and_split_ids() {
        assert_eq!(
            group_filter(&["0f0e0d0c-0000-0000-0000-000000000001"], &["Eng's", "Ops"]),
            "id in ('0f0e0d0c-0000-0000-0000-000000000001') or displayName in ('Eng''s','Ops')"
        );
        assert_eq!(group_filter(&[], &["Ops"]), "displayName in ('Ops')");
        assert!(is_guid("0f0e0d0c-AAAA-0000-0000-000000000001"));
        assert!(!is_guid("Engineering"));
        assert!(!is_guid("0f0e0d0c-0000-0000-0000-00000000000"));
    }

    #[test]
    fn error_bodies_read_as_the_vendor_words_them() {
        assert_eq!(
            graph_error(r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}"#).as_deref(),
            Some("Authorization_RequestDenied: Insufficient privileges to complete the operation.")
        );
        assert_eq!(
            token_error("{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client secret provided.\\r\\nTrace ID: 1\"}").as_deref(),
            Some("invalid_client: AADSTS7000215: Invalid client secret provided.")
        );
    }
}
