//! The emulator's side of HTTP: the request as a handler reads it (`Call`), its answers
//! (`Reply`), Graph's error body `{"error":{"code","message","innerError"}}`, the
//! identity platform's `{"error","error_description",…}`, and Graph's paging: `$top`
//! from 1 to 999 (100 when absent) and an `@odata.nextLink` carrying an opaque
//! `$skiptoken` bound to the list it pages.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::sandbox::host::Incoming;

/// An answer: a status, a JSON body, and the headers the vendor adds.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: Vec<(&'static str, String)>,
}

/// A handler's result: `Err` is an error reply, so that `?` ends a handler early.
pub type Outcome = Result<Reply, Reply>;

impl Reply {
    pub fn json(status: StatusCode, body: Value) -> Reply {
        Reply {
            status,
            body,
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body.to_string()).into_response();
        let headers = response.headers_mut();
        // Graph names its OData flavour in the media type.
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(
                "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
            ),
        );
        for (name, value) in self.headers {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                headers.insert(name, value);
            }
        }
        response
    }
}

/// Graph's error body (`microsoft.graph.ODataErrors.ODataError`), with the `innerError`
/// Graph adds to every error.
pub fn graph_error(status: StatusCode, code: &str, message: impl Into<String>) -> Reply {
    Reply::json(
        status,
        json!({"error": {
            "code": code,
            "message": message.into(),
            "innerError": {
                "date": jiff::Timestamp::now().to_string(),
                "request-id": crate::sandbox::atlassian_cloud::state::derived_uuid(code).trim_matches(['{', '}']),
            },
        }}),
    )
}

pub fn bad_request(code: &str, message: impl Into<String>) -> Reply {
    graph_error(StatusCode::BAD_REQUEST, code, message)
}

/// The identity platform's error body, as its token endpoint answers a bad request.
pub fn identity_error(status: StatusCode, error: &str, description: impl Into<String>) -> Reply {
    let description = format!(
        "{}\r\nTrace ID: 00000000-0000-0000-0000-000000000000\r\nCorrelation ID: 00000000-0000-0000-0000-000000000000\r\nTimestamp: {}",
        description.into(),
        jiff::Timestamp::now()
    );
    // The description's `AADSTS` number; an answer Microsoft does not document has none,
    // and its list is empty rather than a made-up code.
    let codes: Vec<u32> = description
        .strip_prefix("AADSTS")
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .into_iter()
        .collect();
    Reply::json(
        status,
        json!({
            "error": error,
            "error_description": description,
            "error_codes": codes,
            "timestamp": jiff::Timestamp::now().to_string(),
            "trace_id": "00000000-0000-0000-0000-000000000000",
            "correlation_id": "00000000-0000-0000-0000-000000000000",
        }),
    )
}

/// A request as a handler reads it.
pub struct Call {
    pub route: &'static str,
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

    /// A query parameter's last value.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The request's path: the route's template with its parameters.
    pub fn path(&self) -> String {
        self.route
            .split('/')
            .map(
                |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => crate::http::path_segment(self.param(name)),
                    None => segment.to_owned(),
                },
            )
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// Graph's default page when `$top` is absent.
pub const DEFAULT_PAGE: usize = 100;
/// Graph's largest page.
pub const MAX_PAGE: usize = 999;

/// One page of `items`, from where the request's `$skiptoken` says, of `$top` items, with
/// an `@odata.nextLink` unless it is the last.
pub fn page(call: &Call, context: &str, items: Vec<Value>) -> Outcome {
    let top = match call.query("$top") {
        None => DEFAULT_PAGE,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return Err(bad_request(
                    "Request_UnsupportedQuery",
                    format!("Invalid page size specified: '{text}'. Must be between 1 and {MAX_PAGE} inclusive."),
                ))
            }
        },
    };
    let list = list_fingerprint(call);
    let start = match call.query("$skiptoken") {
        None => 0,
        Some(token) => read_skiptoken(token, &list)
            .filter(|start| *start <= items.len())
            .ok_or_else(|| {
                bad_request(
                    "Directory_ExpiredPageToken",
                    "The specified page token value has expired and can no longer be included in your request.",
                )
            })?,
    };
    let end = (start + top).min(items.len());
    let mut body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#{context}", call.base_url),
        "value": items[start..end].to_vec(),
    });
    if end < items.len() {
        // Graph's nextLink repeats the request's options as sent and adds the token.
        let mut link = format!("{}{}?", call.base_url, call.path());
        let mut first = true;
        for (name, value) in call.query.iter().filter(|(n, _)| n != "$skiptoken") {
            if !first {
                link.push('&');
            }
            first = false;
            link.push_str(&format!("{name}={}", encode(value)));
        }
        if !first {
            link.push('&');
        }
        link.push_str(&format!("$skiptoken={}", skiptoken(end, &list)));
        body["@odata.nextLink"] = Value::String(link);
    }
    Ok(Reply::json(StatusCode::OK, body))
}

/// A query value as Graph writes it in a link: reserved characters percent-encoded,
/// commas and quotes left as they are.
fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
        .replace("%2C", ",")
        .replace("%27", "'")
}

/// What a `$skiptoken` belongs to: the path and every option but the token, so a token
/// cannot be replayed on another list.
fn list_fingerprint(call: &Call) -> String {
    let mut hasher = Sha256::new();
    hasher.update(call.path().as_bytes());
    for (name, value) in call.query.iter().filter(|(n, _)| n != "$skiptoken" && n != "$top") {
        hasher.update(format!("\n{name}={value}").as_bytes());
    }
    hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Opaque to clients, as Graph's: a prefix, the offset and the list's fingerprint.
fn skiptoken(offset: usize, list: &str) -> String {
    format!("RFNwdAIAAQAAA{offset:08x}{list}")
}

fn read_skiptoken(token: &str, list: &str) -> Option<usize> {
    let rest = token.strip_prefix("RFNwdAIAAQAAA")?;
    let (offset, fingerprint) = (rest.get(..8)?, rest.get(8..)?);
    if fingerprint != list {
        return None;
    }
    usize::from_str_radix(offset, 16).ok()
}
