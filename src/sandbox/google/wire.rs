//! The emulator's side of HTTP: the request as a handler reads it (`Call`), the answers
//! (`Reply`), Google's API error body `{"error":{"code","message","errors":[{message,
//! domain,reason}],"status"}}`, the OAuth token endpoint's `{"error",
//! "error_description"}`, and the HTML page Google's front end serves for a URL it does
//! not know.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::sandbox::host::Incoming;

#[derive(Debug)]
pub enum Reply {
    Json(StatusCode, Value),
    Html(StatusCode, &'static str),
}

/// A handler's result: `Err` is an error reply, so that `?` ends a handler early.
pub type Outcome = Result<Reply, Reply>;

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let (status, body, media) = match self {
            Reply::Json(status, value) => (status, value.to_string(), "application/json; charset=UTF-8"),
            Reply::Html(status, page) => (status, page.to_owned(), "text/html; charset=UTF-8"),
        };
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
        response
    }
}

pub fn ok(value: Value) -> Outcome {
    Ok(Reply::Json(StatusCode::OK, value))
}

/// An API error, as the Directory API words it.
pub fn error(status: StatusCode, message: &str, domain: &str, reason: &str) -> Reply {
    let mut error = json!({
        "code": status.as_u16(),
        "message": message,
        "errors": [{"message": message, "domain": domain, "reason": reason}],
    });
    let word = match status.as_u16() {
        400 => Some("INVALID_ARGUMENT"),
        401 => Some("UNAUTHENTICATED"),
        403 => Some("PERMISSION_DENIED"),
        503 => Some("UNAVAILABLE"),
        // Google's 404 for a missing resource carries no `status`.
        _ => None,
    };
    if let Some(word) = word {
        error["status"] = Value::from(word);
    }
    Reply::Json(status, json!({ "error": error }))
}

pub fn bad_request(message: &str) -> Reply {
    error(StatusCode::BAD_REQUEST, message, "global", "invalid")
}

/// A parameter outside its range, as Google says it.
pub fn out_of_range(value: &str, max: usize) -> Reply {
    bad_request(&format!(
        "Invalid value '{value}'. Values must be within the range: [1, {max}]"
    ))
}

pub fn not_found(what: &str) -> Reply {
    error(
        StatusCode::NOT_FOUND,
        &format!("Resource Not Found: {what}"),
        "global",
        "notFound",
    )
}

pub fn unauthenticated() -> Reply {
    error(
        StatusCode::UNAUTHORIZED,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "global",
        "authError",
    )
}

/// A token without the route's scope.
pub fn insufficient_scopes() -> Reply {
    error(
        StatusCode::FORBIDDEN,
        "Request had insufficient authentication scopes.",
        "global",
        "insufficientPermissions",
    )
}

/// A token of someone who is no admin, or a customer or domain not theirs.
pub fn not_authorized() -> Reply {
    error(
        StatusCode::FORBIDDEN,
        "Not Authorized to access this resource/api",
        "global",
        "forbidden",
    )
}

/// Over the per-user quota: Google's 403, not a 429, and no `Retry-After`.
pub fn over_quota() -> Reply {
    error(
        StatusCode::FORBIDDEN,
        "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'admin.googleapis.com' for consumer 'project_number:100000000000'.",
        "usageLimits",
        "userRateLimitExceeded",
    )
}

pub fn unavailable() -> Reply {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "The service is currently unavailable.",
        "global",
        "backendError",
    )
}

/// The token endpoint's OAuth error (RFC 6749 §5.2, as Google words it).
pub fn oauth_error(status: StatusCode, error: &str, description: &str) -> Reply {
    Reply::Json(status, json!({"error": error, "error_description": description}))
}

/// Google's front end answers an unknown URL (or a method a path does not take) with its
/// HTML 404 page, not the API's JSON.
pub const NOT_FOUND_PAGE: &str = "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n  <p><b>404.</b> <ins>That’s an error.</ins>\n  <p>The requested URL was not found on this server.  <ins>That’s all we know.</ins>\n";

/// A request as a handler reads it.
pub struct Call {
    pub route: &'static str,
    params: HashMap<String, String>,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// `http://HOST` (the emulator is served at the root): the token endpoint's audience.
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
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }

    /// A query parameter's last value.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Refuses parameters the method does not take, as Google's front end does, and
    /// those of the method the emulator does not serve (answering as if they were not
    /// there would be more lenient than Google).
    pub fn only(&self, served: &[&str]) -> Result<(), Reply> {
        // System parameters every Google API takes that change no content here.
        const SYSTEM: &[&str] = &["prettyPrint", "alt", "quotaUser"];
        match self
            .query
            .iter()
            .find(|(k, _)| !served.contains(&k.as_str()) && !SYSTEM.contains(&k.as_str()))
        {
            Some((k, _)) => Err(bad_request(&format!(
                "Invalid JSON payload received. Unknown name \"{k}\": Cannot bind query parameter. (The sandbox does not serve it.)"
            ))),
            None => Ok(()),
        }
    }

    /// `maxResults`, 1 to `max`, `default` when absent.
    pub fn max_results(&self, default: usize, max: usize) -> Result<usize, Reply> {
        match self.query("maxResults") {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(out_of_range(v, max)),
            },
        }
    }

    /// The bearer token, if the request carries one.
    pub fn bearer(&self) -> Option<&str> {
        bearer(&self.headers)
    }
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    bearer_token(headers.get(header::AUTHORIZATION)?.to_str().ok()?)
}

/// The token of an `Authorization: Bearer …` value, the scheme in any case.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
