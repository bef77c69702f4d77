//! The Bitbucket Data Center REST API's JSON shapes, as far as rollcall reads them. These
//! stay inside the provider; `convert` turns them into the model.

use serde::Deserialize;

/// `{size, limit, isLastPage, start, nextPageStart, values}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub values: Vec<T>,
    #[serde(default)]
    pub is_last_page: bool,
    #[serde(default)]
    pub next_page_start: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub email_address: String,
}

#[derive(Debug, Deserialize)]
pub struct Group {
    pub name: String,
}

/// `RestProject`, as far as listing the projects needs.
#[derive(Debug, Deserialize)]
pub struct Project {
    pub key: String,
}

/// `RestRepository`, as far as listing a project's repositories needs.
#[derive(Debug, Deserialize)]
pub struct Repository {
    pub slug: String,
}

#[derive(Debug, Deserialize)]
pub struct PermittedUser {
    pub user: User,
    pub permission: String,
}

#[derive(Debug, Deserialize)]
pub struct PermittedGroup {
    pub group: Group,
    pub permission: String,
}

#[derive(Debug, Deserialize)]
pub struct Permitted {
    pub permitted: bool,
}

/// `{"errors":[{"context":…,"message":"…","exceptionName":"…"}]}`.
#[derive(Debug, Deserialize)]
pub struct Errors {
    pub errors: Vec<ErrorMessage>,
}

#[derive(Debug, Deserialize)]
pub struct ErrorMessage {
    #[serde(default)]
    pub message: Option<String>,
}

/// The vendor's messages from an error body, joined.
pub fn error_message(body: &str) -> Option<String> {
    let parsed: Errors = serde_json::from_str(body).ok()?;
    let messages: Vec<String> = parsed.errors.into_iter().filter_map(|e| e.message).collect();
    (!messages.is_empty()).then(|| messages.join("; "))
}
