//! The HTTP layer every provider shares: authentication headers, timeouts, request
//! counting, and errors that name the target, the request and the status but never the
//! token. Providers bring their own wire types and error-body parser.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

/// How requests authenticate.
#[derive(Clone)]
pub enum Auth {
    Bearer(SecretString),
    Basic { username: String, token: SecretString },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}:<redacted>)"),
        }
    }
}

/// A failed request. `request` is `METHOD /path?query` without the host and with secret
/// query parameters (a new user's password) masked; the vendor's message is scrubbed of
/// the token.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{target}: {request} failed: {detail}")]
pub struct HttpError {
    pub target: String,
    pub request: String,
    pub status: Option<u16>,
    pub detail: String,
}

impl HttpError {
    pub fn is_status(&self, status: u16) -> bool {
        self.status == Some(status)
    }
}

/// Extracts the vendor's human message from an error body.
pub type ErrorParser = fn(&str) -> Option<String>;

pub struct HttpClient {
    target: String,
    base: url::Url,
    auth: Option<Auth>,
    client: reqwest::Client,
    parse_error: ErrorParser,
    requests: AtomicUsize,
}

impl HttpClient {
    pub fn new(target: &str, base: url::Url, auth: Option<Auth>, parse_error: ErrorParser) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("rollcall/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError {
                target: target.to_owned(),
                request: "client setup".to_owned(),
                status: None,
                detail: e.to_string(),
            })?;
        Ok(HttpClient {
            target: target.to_owned(),
            base,
            auth,
            client,
            parse_error,
            requests: AtomicUsize::new(0),
        })
    }

    pub fn target(&self) -> &str {
        &self.target
    }

    /// How many requests this client has sent: the figure the request-count tests check.
    pub fn request_count(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// Sends a request and returns the body of a 2xx answer.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<String, HttpError> {
        let mut url = self.base.clone();
        {
            let base_path = url.path().trim_end_matches('/').to_owned();
            url.set_path(&format!("{base_path}{path}"));
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let request = describe_request(&method, &url);
        let mut builder: RequestBuilder = self.client.request(method, url).header("Accept", "application/json");
        builder = match &self.auth {
            Some(Auth::Bearer(token)) => builder.bearer_auth(token.expose_secret()),
            Some(Auth::Basic { username, token }) => builder.basic_auth(username, Some(token.expose_secret())),
            None => builder,
        };
        if let Some(body) = body {
            builder = builder.json(body);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let fail = |status: Option<u16>, detail: String| HttpError {
            target: self.target.clone(),
            request: request.clone(),
            status,
            detail: self.redact(&detail),
        };
        let response = builder
            .send()
            .await
            .map_err(|e| fail(None, describe_transport_error(e)))?;
        let status = response.status();
        tracing::debug!(target: "rollcall::http", target_name = %self.target, %request, status = status.as_u16(), "response");
        let text = response
            .text()
            .await
            .map_err(|e| fail(Some(status.as_u16()), describe_transport_error(e)))?;
        if status.is_success() {
            return Ok(text);
        }
        // Scrub before cutting, so a token split by the cut cannot slip through.
        let text = self.redact(&text);
        let vendor = (self.parse_error)(&text).unwrap_or_else(|| snippet(&text));
        Err(fail(
            Some(status.as_u16()),
            format!(
                "{}{}{}",
                status_line(status),
                if vendor.is_empty() { "" } else { ": " },
                vendor
            ),
        ))
    }

    pub async fn get_json<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T, HttpError> {
        let text = self.send(Method::GET, path, query, None).await?;
        serde_json::from_str(&text).map_err(|e| HttpError {
            target: self.target.clone(),
            request: format!("GET {path}"),
            status: Some(200),
            detail: self.redact(&format!("unexpected response body: {e}")),
        })
    }

    /// Removes the token from text that came from a server, in case it was echoed back,
    /// in plain form and as the Basic auth header carries it.
    fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        let (token, basic) = match &self.auth {
            Some(Auth::Bearer(t)) => (t.expose_secret(), None),
            Some(Auth::Basic { username, token }) => {
                let pair = format!("{username}:{}", token.expose_secret());
                (token.expose_secret(), Some(base64(pair.as_bytes())))
            }
            None => return out,
        };
        if !token.is_empty() {
            out = out.replace(token, "<redacted>");
        }
        if let Some(b) = basic {
            out = out.replace(&b, "<redacted>");
        }
        out
    }
}

fn status_line(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// `16 * words` hex digits that nobody can predict: SipHash under the standard library's
/// per-process keys, which come from the operating system's random source.
pub fn random_hex(words: u8) -> String {
    use std::hash::{BuildHasher, Hasher};
    (0..words)
        .map(|i| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u8(i);
            format!("{:016x}", h.finish())
        })
        .collect()
}

/// Query parameters whose values are never shown.
const SECRET_PARAMS: &[&str] = &["password"];

fn describe_request(method: &Method, url: &url::Url) -> String {
    let query: Vec<String> = url
        .query_pairs()
        .map(|(k, v)| {
            let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let v = if SECRET_PARAMS.contains(&k.as_ref()) {
                "<redacted>".to_owned()
            } else {
                enc(&v)
            };
            format!("{}={v}", enc(&k))
        })
        .collect();
    if query.is_empty() {
        format!("{method} {}", url.path())
    } else {
        format!("{method} {}?{}", url.path(), query.join("&"))
    }
}

/// Standard base64, for matching a Basic auth header echoed back by a server.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn describe_transport_error(e: reqwest::Error) -> String {
    // The URL would carry query parameters such as a new user's password: drop it; the
    // error's `request` field names the call.
    let e = e.without_url();
    if e.is_timeout() {
        "the server did not answer in time".to_owned()
    } else if e.is_connect() {
        "cannot connect to the server (is the URL right and the server up?)".to_owned()
    } else {
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        msg
    }
}

fn snippet(body: &str) -> String {
    let trimmed = body.trim();
    let mut out: String = trimmed.chars().take(200).collect();
    if trimmed.chars().count() > 200 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b"admin:token"), "YWRtaW46dG9rZW4=");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }

    #[test]
    fn passwords_are_masked_in_request_descriptions() {
        let url = url::Url::parse("http://h/rest/api/latest/admin/users?name=a&password=hunter2&notify=false").unwrap();
        let shown = describe_request(&Method::POST, &url);
        assert_eq!(
            shown,
            "POST /rest/api/latest/admin/users?name=a&password=<redacted>&notify=false"
        );
        assert!(!shown.contains("hunter2"));
    }
}
