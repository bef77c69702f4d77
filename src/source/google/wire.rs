//! The Directory API's JSON as the reader reads it (`Users`, `Members` and their items,
//! from the discovery document's schemas), and Google's two error bodies: the API's
//! `{"error":{"code","message","errors":[{"reason",…}],"status"}}` and the token
//! endpoint's OAuth `{"error","error_description"}`.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::http::HttpError;

/// A page of `users.list`. Each user is kept as its JSON object: every text field is an
/// attribute a manifest may map, so none is dropped by a fixed struct.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Users {
    #[serde(default)]
    pub users: Vec<User>,
    pub next_page_token: Option<String>,
}

pub type User = Map<String, Value>;

/// A page of `members.list`; an empty group's page has no `members` at all.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Members {
    #[serde(default)]
    pub members: Vec<Member>,
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Member {
    pub id: Option<String>,
    /// `USER`, `GROUP`, `CUSTOMER` (everyone in the account) or `EXTERNAL`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// The message of an API error, with the first reason (`notFound`,
/// `userRateLimitExceeded`), which tells a quota refusal from a permission one.
pub fn google_error(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let error = value.get("error")?;
    if let Some(text) = error.as_str() {
        return token_error(body).or_else(|| Some(text.to_owned()));
    }
    let message = error.get("message").and_then(Value::as_str).unwrap_or("");
    let reason = error
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|errors| errors.first())
        .and_then(|e| e.get("reason"))
        .and_then(Value::as_str);
    match reason {
        Some(reason) => Some(format!("{message} ({reason})")),
        None if !message.is_empty() => Some(message.to_owned()),
        None => None,
    }
}

/// The token endpoint's OAuth error: `invalid_grant: Invalid JWT Signature.`
pub fn token_error(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let error = value.get("error")?.as_str()?;
    match value.get("error_description").and_then(Value::as_str) {
        Some(description) => Some(format!("{error}: {description}")),
        None => Some(error.to_owned()),
    }
}

/// Reasons Google gives, with a 403, for a request over quota (its documentation asks
/// for exponential backoff on each).
const QUOTA_REASONS: &[&str] = &["(userRateLimitExceeded)", "(rateLimitExceeded)", "(quotaExceeded)"];

/// Whether a failure is Google's 403 over quota rather than a refusal.
pub fn is_quota(error: &HttpError) -> bool {
    error.is_status(403) && QUOTA_REASONS.iter().any(|r| error.detail.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_with_their_reason() {
        let not_found = r#"{"error":{"code":404,"message":"Resource Not Found: groupKey","errors":[{"message":"Resource Not Found: groupKey","domain":"global","reason":"notFound"}]}}"#;
        assert_eq!(
            google_error(not_found).as_deref(),
            Some("Resource Not Found: groupKey (notFound)")
        );
        let grant = r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#;
        assert_eq!(
            token_error(grant).as_deref(),
            Some("invalid_grant: Invalid JWT Signature.")
        );
        assert_eq!(
            google_error(grant).as_deref(),
            Some("invalid_grant: Invalid JWT Signature.")
        );
        assert_eq!(google_error("<html>"), None);
    }
}
