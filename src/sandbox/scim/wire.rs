//! The emulator's side of the SCIM HTTP contract: reading a request (query, JSON body,
//! `If-Match`), the `application/scim+json` replies with `ETag` and `Location`, the RFC
//! 7644 §3.12 error body, and `attributes`/`excludedAttributes` projection.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::filter::get_ci;
use crate::sandbox::host::Incoming;

pub const SCIM_JSON: &str = "application/scim+json";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A failure as RFC 7644 §3.12 renders it: `status` is a string, `scimType` only for 400s
/// (and 409 `uniqueness`).
#[derive(Debug)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, detail)
    }
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, Some("uniqueness"), detail)
    }
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            None,
            "Authorization failure: a valid Bearer token is required.",
        )
    }
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            "The HTTP method is not allowed on this endpoint.",
        )
    }
    pub fn not_implemented(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, None, detail)
    }
    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            "The resource changed: its version no longer matches If-Match.",
        )
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let (Some(kind), Some(object)) = (self.scim_type, body.as_object_mut()) {
            object.insert("scimType".to_owned(), Value::from(kind));
        }
        let mut response = scim_response(self.status, Some(&body));
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A successful answer.
pub struct Reply {
    pub status: StatusCode,
    pub body: Option<Value>,
    pub etag: Option<String>,
    pub location: Option<String>,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Reply {
            status: StatusCode::OK,
            body: Some(body),
            etag: None,
            location: None,
        }
    }
    pub fn empty(status: StatusCode) -> Self {
        Reply {
            status,
            body: None,
            etag: None,
            location: None,
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = scim_response(self.status, self.body.as_ref());
        let headers = response.headers_mut();
        if let Some(value) = self.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
            headers.insert(header::ETAG, value);
        }
        if let Some(value) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(header::LOCATION, value);
        }
        response
    }
}

fn scim_response(status: StatusCode, body: Option<&Value>) -> Response {
    match body {
        None => status.into_response(),
        Some(value) => {
            let mut response = (status, value.to_string()).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
            response
        }
    }
}

pub type Outcome = Result<Reply, ScimError>;

/// One request, as the handlers see it.
pub struct Call {
    pub params: HashMap<String, String>,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The absolute SCIM base URL (`http://host/scim/v2`), for `Location` and `meta.location`.
    pub base_url: String,
}

impl From<Incoming> for Call {
    fn from(incoming: Incoming) -> Self {
        Call {
            params: incoming.params,
            query: incoming.query,
            headers: incoming.headers,
            body: incoming.body,
            base_url: incoming.base_url,
        }
    }
}

impl Call {
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }

    /// A query parameter; SCIM's parameter names are matched ignoring case, as the RFC's
    /// attribute names are.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Result<Value, ScimError> {
        let value: Value = serde_json::from_slice(&self.body)
            .map_err(|e| ScimError::bad("invalidSyntax", format!("The body is not valid JSON: {e}")))?;
        if value.is_object() {
            Ok(value)
        } else {
            Err(ScimError::bad("invalidSyntax", "The body must be a JSON object."))
        }
    }

    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// RFC 7232 `If-Match` against the resource's current ETag: `*` or any listed tag.
    pub fn check_if_match(&self, current: &str) -> Result<(), ScimError> {
        match self.header(header::IF_MATCH) {
            Some(wanted) if !etag_listed(wanted, current) => Err(ScimError::precondition_failed()),
            _ => Ok(()),
        }
    }

    /// Whether `If-None-Match` names the current ETag (then GET answers 304).
    pub fn not_modified(&self, current: &str) -> bool {
        self.header(header::IF_NONE_MATCH)
            .is_some_and(|wanted| etag_listed(wanted, current))
    }

    /// `attributes` / `excludedAttributes`, split at commas.
    pub fn projection(&self) -> Projection {
        let split = |v: &str| -> Vec<String> {
            v.split(',')
                .map(|s| strip_urn(s.trim()))
                .filter(|s| !s.is_empty())
                .collect()
        };
        Projection {
            attributes: self.query("attributes").map(split).unwrap_or_default(),
            excluded: self.query("excludedAttributes").map(split).unwrap_or_default(),
        }
    }
}

fn etag_listed(list: &str, current: &str) -> bool {
    list.split(',').map(str::trim).any(|tag| tag == "*" || tag == current)
}

/// `urn:...:User:name.givenName` to `name.givenName`.
fn strip_urn(name: &str) -> String {
    if name.to_ascii_lowercase().starts_with("urn:") {
        name.rsplit_once(':').map_or(name, |(_, n)| n).to_owned()
    } else {
        name.to_owned()
    }
}

/// RFC 7644 §3.4.2.5: which attributes a response carries. `id` and `schemas` are always
/// returned, whatever was asked.
#[derive(Debug, Default)]
pub struct Projection {
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

const ALWAYS: &[&str] = &["id", "schemas"];

impl Projection {
    pub fn apply(&self, resource: Value) -> Value {
        let Value::Object(map) = resource else {
            return resource;
        };
        let mut out = serde_json::Map::new();
        for (key, value) in map {
            if ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(&key)) {
                out.insert(key, value);
                continue;
            }
            if !self.attributes.is_empty() {
                if let Some(kept) = self.keep(&key, value) {
                    out.insert(key, kept);
                }
                continue;
            }
            if let Some(kept) = self.drop_excluded(&key, value) {
                out.insert(key, kept);
            }
        }
        Value::Object(out)
    }

    /// With `attributes`: the whole attribute if named, or only its named sub-attributes.
    fn keep(&self, key: &str, value: Value) -> Option<Value> {
        if self.attributes.iter().any(|a| a.eq_ignore_ascii_case(key)) {
            return Some(value);
        }
        let subs: Vec<&str> = self
            .attributes
            .iter()
            .filter_map(|a| a.split_once('.'))
            .filter(|(top, _)| top.eq_ignore_ascii_case(key))
            .map(|(_, sub)| sub)
            .collect();
        if subs.is_empty() {
            return None;
        }
        Some(select_subs(value, |name| {
            subs.iter().any(|s| s.eq_ignore_ascii_case(name))
        }))
    }

    fn drop_excluded(&self, key: &str, value: Value) -> Option<Value> {
        if self.excluded.iter().any(|a| a.eq_ignore_ascii_case(key)) {
            return None;
        }
        let subs: Vec<&str> = self
            .excluded
            .iter()
            .filter_map(|a| a.split_once('.'))
            .filter(|(top, _)| top.eq_ignore_ascii_case(key))
            .map(|(_, sub)| sub)
            .collect();
        if subs.is_empty() {
            return Some(value);
        }
        Some(select_subs(value, |name| {
            !subs.iter().any(|s| s.eq_ignore_ascii_case(name))
        }))
    }
}

/// Keeps the sub-attributes `keep` accepts, in a complex value or each element of a
/// multi-valued one.
fn select_subs(value: Value, keep: impl Fn(&str) -> bool + Copy) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.into_iter().filter(|(k, _)| keep(k)).collect()),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| select_subs(v, keep)).collect()),
        other => other,
    }
}

/// The string an attribute sorts by (`sortBy`), `None` when absent.
pub fn sort_key(resource: &Value, path: &str) -> Option<String> {
    let path = strip_urn(path);
    let (top, sub) = match path.split_once('.') {
        Some((t, s)) => (t, Some(s)),
        None => (path.as_str(), None),
    };
    let mut value = get_ci(resource, top)?;
    if let Value::Array(items) = value {
        // RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its primary (else first) value.
        value = items
            .iter()
            .find(|i| get_ci(i, "primary") == Some(&Value::Bool(true)))
            .or_else(|| items.first())?;
    }
    if let Some(sub) = sub {
        value = get_ci(value, sub)?;
    } else if value.is_object() {
        value = get_ci(value, "value")?;
    }
    Some(match value {
        Value::String(s) => s.to_lowercase(),
        other => other.to_string(),
    })
}
