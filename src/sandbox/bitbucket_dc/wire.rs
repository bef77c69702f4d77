//! The emulator's side of the HTTP contract: reading a request (path parameters, repeated
//! query parameters, JSON bodies), paging, the JSON shapes the API answers with, and the
//! `{"errors":[...]}` body every failure carries.
//!
//! The shapes here are written from the vendor's description (`RestDetailedUser`,
//! `RestApplicationUser`, `RestDetailedGroup`, `RestProject`, `RestRepository`), not shared
//! with the provider: two independent readings catch each other's mistakes.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::state::{DcState, DcUser};
use super::{DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
use crate::sandbox::host::Incoming;

/// The media type the 9.4 description declares for every JSON response.
pub const JSON_UTF8: &str = "application/json;charset=UTF-8";

/// What a handler answers when it succeeds.
pub enum Reply {
    Json(StatusCode, Value),
    /// 204, or a 200 the description declares without a body (the membership calls).
    Empty(StatusCode),
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Reply::Json(status, value) => json_response(status, &value),
            Reply::Empty(status) => status.into_response(),
        }
    }
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut response = (status, value.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    response
}

/// A failure, rendered as the vendor's `{"errors":[{context, message, exceptionName}]}`.
///
/// The description's own examples use `exceptionName: null` for validation errors (with
/// `context` naming the parameter) and a class name otherwise. The class names below are
/// the emulator's choice: the description never lists them, so clients must not rely on them.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub context: Option<String>,
    pub message: String,
    pub exception: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, message: String, exception: &'static str) -> Self {
        ApiError {
            status,
            context: None,
            message,
            exception: Some(exception),
        }
    }

    /// 400 for a parameter or attribute that is missing or malformed.
    pub fn invalid(context: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            context: Some(context.to_owned()),
            message: message.into(),
            exception: None,
        }
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Authentication failed. Please check your credentials and try again.".to_owned(),
            "com.atlassian.bitbucket.auth.IncorrectPasswordAuthenticationException",
        )
    }

    /// The description answers 401, not 403, when an authenticated caller lacks the
    /// permission a resource needs.
    pub fn not_permitted() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "You are not permitted to access this resource".to_owned(),
            "com.atlassian.bitbucket.AuthorisationException",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            message.into(),
            "com.atlassian.bitbucket.AuthorisationException",
        )
    }

    pub fn licence_exceeded() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "This action would exceed the number of users allowed by the server's licence.".to_owned(),
            "com.atlassian.bitbucket.license.LicenseLimitExceededException",
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            message.into(),
            "com.atlassian.bitbucket.IntegrityException",
        )
    }

    pub fn no_such_user(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("User {name} does not exist."),
            "com.atlassian.bitbucket.user.NoSuchUserException",
        )
    }

    pub fn no_such_group(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("Group {name} does not exist."),
            "com.atlassian.bitbucket.user.NoSuchGroupException",
        )
    }

    pub fn no_such_project(key: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("Project {key} does not exist."),
            "com.atlassian.bitbucket.project.NoSuchProjectException",
        )
    }

    pub fn no_such_repository(key: &str, slug: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("Repository {key}/{slug} does not exist."),
            "com.atlassian.bitbucket.repository.NoSuchRepositoryException",
        )
    }

    pub fn not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("No resource is served at {path}."),
            "com.sun.jersey.api.NotFoundException",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "The request HTTP method is not appropriate for the targeted resource.".to_owned(),
            "com.sun.jersey.api.MethodNotAllowedException",
        )
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The request entity must be sent with Content-Type: application/json.".to_owned(),
            "com.sun.jersey.api.UnsupportedMediaTypeException",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "errors": [{
                "context": self.context,
                "message": self.message,
                "exceptionName": self.exception,
            }]
        });
        let mut response = json_response(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Atlassian Bitbucket\""),
            );
        }
        response
    }
}

pub type Outcome = Result<Reply, ApiError>;

/// One request as a handler sees it.
pub struct Call {
    pub params: HashMap<String, String>,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl From<Incoming> for Call {
    fn from(incoming: Incoming) -> Self {
        Call {
            params: incoming.params,
            query: incoming.query,
            headers: incoming.headers,
            body: incoming.body,
        }
    }
}

impl Call {
    /// A path parameter; the router only dispatches here when it matched, so a missing one
    /// means the route table and the handler disagree.
    pub fn path(&self, key: &str) -> Result<&str, ApiError> {
        self.params
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| ApiError::invalid(key, format!("The path parameter {key} is missing.")))
    }

    /// The first value of a query parameter, like the server's single-valued parameters.
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable query parameter, in order, without empty ones.
    pub fn query_all(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A required query parameter; absent or empty is a 400 naming it.
    pub fn required(&self, key: &str) -> Result<&str, ApiError> {
        // A parameter the description types as a single string may not be repeated:
        // silently using one of several names would grant to the wrong principal.
        if self.query_all(key).len() > 1 {
            return Err(ApiError::invalid(
                key,
                format!("The query parameter '{key}' may be given only once."),
            ));
        }
        match self.query(key) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(ApiError::invalid(
                key,
                format!("The query parameter '{key}' is required."),
            )),
        }
    }

    /// An optional query parameter the description types as a single string: absent is
    /// `None`; repeated or empty is a 400 naming it, for the same reason as in `required`.
    pub fn optional(&self, key: &str) -> Result<Option<&str>, ApiError> {
        if !self.query.iter().any(|(k, _)| k == key) {
            return Ok(None);
        }
        self.required(key).map(Some)
    }

    /// A required, repeatable query parameter with at least one value.
    pub fn required_all(&self, key: &str) -> Result<Vec<&str>, ApiError> {
        let values = self.query_all(key);
        if values.is_empty() {
            return Err(ApiError::invalid(
                key,
                format!("At least one '{key}' query parameter is required."),
            ));
        }
        Ok(values)
    }

    /// A boolean query parameter. The server's JAX-RS layer reads anything but `true` as
    /// false; the emulator is stricter and refuses values other than `true`/`false`, so a
    /// client typo cannot silently mean "false".
    pub fn boolean(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.query(key) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::invalid(
                key,
                format!("'{v}' is not a valid value for '{key}'; use true or false."),
            )),
        }
    }

    /// The `filter` parameter, lower-cased for case-insensitive substring matching.
    pub fn filter(&self) -> Option<String> {
        self.query("filter").filter(|f| !f.is_empty()).map(str::to_lowercase)
    }

    pub fn paging(&self) -> Result<Paging, ApiError> {
        let number = |key: &str| -> Result<Option<usize>, ApiError> {
            match self.query(key) {
                None | Some("") => Ok(None),
                Some(v) => v
                    .parse::<usize>()
                    .map(Some)
                    .map_err(|_| ApiError::invalid(key, format!("'{v}' is not a valid value for '{key}'."))),
            }
        };
        let start = number("start")?.unwrap_or(0);
        let limit = match number("limit")? {
            None => DEFAULT_PAGE_LIMIT,
            // A page of nothing cannot make progress; the emulator refuses it rather than
            // guess what the server does (not stated in the description).
            Some(0) => return Err(ApiError::invalid("limit", "The limit must be at least 1.")),
            // Like the server's page.max setting: capped, and the response says so.
            Some(n) => n.min(MAX_PAGE_LIMIT),
        };
        Ok(Paging { start, limit })
    }

    /// The JSON request entity. The server only consumes `application/json`: anything else,
    /// or no Content-Type at all, is 415; unparseable or mistyped JSON is 400.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let is_json = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::unsupported_media_type());
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::invalid("body", format!("The request entity is not valid: {e}")))
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub start: usize,
    pub limit: usize,
}

impl Paging {
    /// One page of `values`, which the caller has already sorted. `nextPageStart` is only
    /// present when another page exists, as the description's narrative says.
    pub fn page(self, values: Vec<Value>) -> Reply {
        let total = values.len();
        let slice: Vec<Value> = values.into_iter().skip(self.start).take(self.limit).collect();
        let size = slice.len();
        let is_last = self.start.saturating_add(size) >= total;
        let mut body = json!({
            "size": size,
            "limit": self.limit,
            "isLastPage": is_last,
            "start": self.start,
            "values": slice,
        });
        if !is_last {
            body["nextPageStart"] = json!(self.start + size);
        }
        Reply::Json(StatusCode::OK, body)
    }
}

/// Case-insensitive substring match for `filter` (already lower-cased).
pub fn matches(filter: Option<&str>, fields: &[&str]) -> bool {
    match filter {
        None => true,
        Some(f) => fields.iter().any(|field| field.to_lowercase().contains(f)),
    }
}

/// A stable positive id for a name: the state file has no ids, and clients may keep the
/// ids they saw, so they must not change between requests or runs (FNV-1a, 31 bits).
pub fn stable_id(kind: &str, name: &str) -> i64 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in kind.bytes().chain([0u8]).chain(name.bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    i64::from((hash & 0x7fff_ffff).max(1))
}

/// The user slug. Bitbucket derives it from the name, replacing characters that are not
/// URL-safe; the exact rule is not in the description, so the emulator lower-cases and
/// replaces anything outside `[a-z0-9._-]` with `_` (e.g. `jane@example.com` →
/// `jane_example.com`).
pub fn user_slug(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `RestApplicationUser`.
pub fn application_user(name: &str, user: &DcUser) -> Value {
    json!({
        "name": name,
        "emailAddress": user.email,
        "active": user.active,
        "displayName": user.display_name,
        "id": stable_id("user", name),
        "slug": user_slug(name),
        "type": "NORMAL",
    })
}

/// `RestDetailedUser`: the application user plus the directory's view of it. Every sandbox
/// user lives in the internal directory, so details and groups are always mutable.
pub fn detailed_user(state: &DcState, name: &str, user: &DcUser) -> Value {
    let mut value = application_user(name, user);
    value["directoryName"] = json!("Bitbucket Internal Directory");
    value["deletable"] = json!(name != state.operator);
    value["mutableDetails"] = json!(true);
    value["mutableGroups"] = json!(true);
    value
}

/// `RestDetailedGroup`.
pub fn detailed_group(name: &str) -> Value {
    json!({ "name": name, "deletable": true })
}

/// `RestProject`. The state has no description or public flag; the emulator reports the
/// defaults of a new project.
pub fn project(key: &str, name: &str) -> Value {
    let name = if name.is_empty() { key } else { name };
    json!({
        "key": key,
        "id": stable_id("project", key),
        "name": name,
        "public": false,
        "type": "NORMAL",
        "scope": "PROJECT",
    })
}

/// `RestRepository`. The state keeps only the slug, so the name is the slug.
pub fn repository(key: &str, project_name: &str, slug: &str) -> Value {
    json!({
        "slug": slug,
        "id": stable_id("repo", &format!("{key}/{slug}")),
        "name": slug,
        "scmId": "git",
        "state": "AVAILABLE",
        "statusMessage": "Available",
        "forkable": true,
        "public": false,
        "archived": false,
        "scope": "REPOSITORY",
        "project": project(key, project_name),
    })
}
