//! The emulator's side of HTTP for both APIs: the request as a handler reads it (`Call`),
//! the answers (`Reply`), and each API's error body: Bitbucket's
//! `{"type":"error","error":{"message","detail"}}`, the Organizations API's v2
//! `{"errors":[{id,status,code,title,detail}]}` and its gateway's `{code,message}`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::sandbox::host::Incoming;

/// What a handler answers; an error is a `Reply` too, in its API's words.
#[derive(Debug)]
pub enum Reply {
    Json(StatusCode, Value),
    Empty(StatusCode),
    /// Bitbucket's rate limiter answers in plain text.
    Text(StatusCode, &'static str),
}

/// A handler's result: `Err` is an error reply, so that `?` ends a handler early.
pub type Outcome = Result<Reply, Reply>;

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Reply::Json(status, value) => {
                let mut response = (status, value.to_string()).into_response();
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                response
            }
            Reply::Empty(status) => status.into_response(),
            Reply::Text(status, text) => {
                let mut response = (status, text).into_response();
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                response
            }
        }
    }
}

pub fn ok(value: Value) -> Outcome {
    Ok(Reply::Json(StatusCode::OK, value))
}

/// A Bitbucket error body.
pub fn bb_error(status: StatusCode, message: impl Into<String>, detail: Option<String>) -> Reply {
    let mut error = json!({"message": message.into()});
    if let Some(detail) = detail {
        error["detail"] = Value::String(detail);
    }
    Reply::Json(status, json!({"type": "error", "error": error}))
}

pub fn bb_bad(message: impl Into<String>) -> Reply {
    bb_error(StatusCode::BAD_REQUEST, message, None)
}

pub fn bb_not_found(message: impl Into<String>) -> Reply {
    bb_error(StatusCode::NOT_FOUND, message, None)
}

/// Bitbucket's 429: plain text, no `Retry-After`, no rate headers.
pub const RATE_LIMITED: &str = "Rate limit for this resource has been exceeded";

/// An Organizations API v2 error: `code` is the vendor's `ADMIN-<status>-<n>` form.
pub fn org_error(status: StatusCode, code: &str, title: &str, detail: impl Into<String>) -> Reply {
    Reply::Json(
        status,
        json!({"errors": [{
            "id": crate::sandbox::atlassian_cloud::state::derived_uuid(code).trim_matches(['{', '}']),
            "status": status.as_u16().to_string(),
            "code": code,
            "title": title,
            "detail": detail.into(),
        }]}),
    )
}

pub fn org_bad(detail: impl Into<String>) -> Reply {
    org_error(StatusCode::BAD_REQUEST, "ADMIN-400", "Bad Request", detail)
}

pub fn org_not_found(detail: impl Into<String>) -> Reply {
    org_error(StatusCode::NOT_FOUND, "ADMIN-404", "Not Found", detail)
}

/// The API gateway's answer (`ProxyError`) to missing or wrong credentials, in front of
/// every Organizations API route.
pub fn gateway(status: StatusCode, message: &str) -> Reply {
    Reply::Json(status, json!({"code": status.as_u16(), "message": message}))
}

/// A request as a handler reads it.
pub struct Call {
    pub route: &'static str,
    pub method: Method,
    params: HashMap<String, String>,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// `http://HOST` (the emulator is served at the root), for links.
    pub base_url: String,
}

impl From<Incoming> for Call {
    fn from(incoming: Incoming) -> Self {
        Call {
            route: incoming.route,
            method: incoming.method,
            params: incoming.params,
            query: incoming.query,
            headers: incoming.headers,
            body: incoming.body,
            base_url: incoming.base_url,
        }
    }
}

impl Call {
    /// A path parameter the route names (always present when the route matched).
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }

    /// The last value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a query parameter (`groupIds=a&groupIds=b`).
    pub fn query_all(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The request's path: the route's template with its parameters, encoded.
    pub fn path(&self) -> String {
        let mut path = String::new();
        for (i, segment) in self.route.split('/').enumerate() {
            if i > 0 {
                path.push('/');
            }
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => path.push_str(&encode_segment(self.param(name))),
                None => path.push_str(segment),
            }
        }
        path
    }

    /// The body as JSON; an empty body is `null`.
    pub fn json(&self) -> Result<Value, String> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| format!("the body is not JSON: {e}"))
    }
}

/// A path segment percent-encoded: RFC 3986's unreserved characters and the sub-delims
/// and `:`/`@` a segment may hold stay (account ids are `557058:…`), anything else is
/// `%XX` (a space too: `+` means a plus in a path).
fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~:@!$&'()*+,;=".contains(&byte);
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode_segment;

    #[test]
    fn path_segments_keep_account_ids_readable() {
        assert_eq!(encode_segment("557058:abc"), "557058:abc");
        assert_eq!(encode_segment("{a b}/c"), "%7Ba%20b%7D%2Fc");
    }
}
