//! Okta's JSON as the reader needs it (`specs/okta-management.openapi.yaml`): a `User`
//! and a `Group` as the list calls return them, and the error body
//! `{errorCode, errorSummary, errorLink, errorId, errorCauses[]}`. Everything else an
//! answer carries (`credentials`, `_links`, timestamps) is ignored.

use serde::Deserialize;
use serde_json::{Map, Value};

/// A user (`User`): the id, the status word and the whole profile, whose attributes the
/// org may extend, so it is kept as a map rather than a fixed set of fields.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub profile: Map<String, Value>,
}

impl User {
    /// A profile attribute that is text; `None` when absent, null, or of another type.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.profile.get(name).and_then(Value::as_str)
    }
}

/// A group (`Group`): its id and the name it is asked by.
#[derive(Debug, Clone, Deserialize)]
pub struct Group {
    pub id: String,
    #[serde(default)]
    pub profile: GroupProfile,
}

/// `OktaUserGroupProfile` or `OktaActiveDirectoryGroupProfile`: both have `name`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GroupProfile {
    #[serde(default)]
    pub name: Option<String>,
}

/// Okta's error body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Error {
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    error_summary: Option<String>,
    #[serde(default)]
    error_causes: Vec<Cause>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cause {
    #[serde(default)]
    error_summary: Option<String>,
}

/// The vendor's message from an error body: `Invalid token provided (E0000011)`, with
/// the causes after it when there are any.
pub fn error_message(body: &str) -> Option<String> {
    let error: Error = serde_json::from_str(body).ok()?;
    let summary = error.error_summary.filter(|s| !s.trim().is_empty())?;
    let mut message = match error.error_code {
        Some(code) if !code.is_empty() => format!("{summary} ({code})"),
        _ => summary,
    };
    let causes: Vec<String> = error
        .error_causes
        .into_iter()
        .filter_map(|c| c.error_summary)
        .filter(|s| !s.trim().is_empty())
        .collect();
    if !causes.is_empty() {
        message.push_str(": ");
        message.push_str(&causes.join("; "));
    }
    Some(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_the_summary_with_its_code_and_causes() {
        let body = r#"{"errorCode":"E0000011","errorSummary":"Invalid token provided","errorLink":"E0000011","errorId":"oae1","errorCauses":[]}"#;
        assert_eq!(
            error_message(body).as_deref(),
            Some("Invalid token provided (E0000011)")
        );
        let body = r#"{"errorCode":"E0000031","errorSummary":"Invalid search criteria.","errorCauses":[{"errorSummary":"Invalid search operator: ne"}]}"#;
        assert_eq!(
            error_message(body).as_deref(),
            Some("Invalid search criteria. (E0000031): Invalid search operator: ne")
        );
        assert_eq!(error_message("<html>gateway</html>"), None);
        assert_eq!(error_message(r#"{"errorCode":"E1"}"#), None);
    }
}
