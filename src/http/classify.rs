//! Which 2xx answers are failures all the same. A provider declares it per client: GraphQL
//! answers HTTP 200 with `{"errors": […]}` for a query over its complexity budget or a
//! mutation that did not happen, and such an answer must fail like a 4xx, with the
//! vendor's message, not be read as data.

use serde::Deserialize;

/// Reads a 2xx body and returns the vendor's message when it reports a failure.
pub type Classifier = fn(&str) -> Option<String>;

/// GraphQL's error list (the GraphQL specification, "Response Format"): any entry makes
/// the answer a failure, partial `data` or not, since a change half made is not made.
/// The messages are joined with `; `.
pub fn graphql_errors(body: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Response {
        #[serde(default)]
        errors: Option<Vec<Error>>,
    }
    #[derive(Deserialize)]
    struct Error {
        #[serde(default)]
        message: Option<String>,
    }
    let errors = serde_json::from_str::<Response>(body).ok()?.errors?;
    if errors.is_empty() {
        return None;
    }
    let messages: Vec<String> = errors
        .into_iter()
        .map(|e| e.message.unwrap_or_else(|| "an error without a message".to_owned()))
        .collect();
    Some(messages.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphql_errors_are_failures_with_their_messages() {
        let over_budget = r#"{"data":null,"errors":[{"message":"Query has complexity of 60000, which exceeds max complexity of 50000"}]}"#;
        assert_eq!(
            graphql_errors(over_budget).as_deref(),
            Some("Query has complexity of 60000, which exceeds max complexity of 50000")
        );
        let two = r#"{"data":{"a":1},"errors":[{"message":"first"},{"path":["x"]}]}"#;
        assert_eq!(
            graphql_errors(two).as_deref(),
            Some("first; an error without a message")
        );
        for fine in [
            r#"{"data":{"organization":{"members":{"edges":[]}}}}"#,
            r#"{"data":{},"errors":[]}"#,
            r#"{"data":{},"errors":null}"#,
            "",
            "not json",
        ] {
            assert_eq!(graphql_errors(fine), None, "{fine}");
        }
    }
}
