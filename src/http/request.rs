//! A request as a provider describes it: method, path (or a link the server gave), query,
//! JSON body, `If-Match`, and whether it is safe to send twice. The client decides what
//! to retry from that statement alone, never from the method.

use reqwest::Method;

/// Whether a request may be sent again when it may already have reached the server.
///
/// `Yes` for reads, and for writes whose second copy changes nothing more than the first
/// (a PUT of a whole object, a DELETE, a permission set to a value, a conditional write
/// whose second copy fails its `If-Match`). `No` for writes a second copy could repeat: a
/// create (a second user, group or invitation, or a 409 that hides what happened), a
/// PATCH that adds without a precondition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotent {
    Yes,
    No,
}

/// Where a request goes: a path under the target's base URL, or a URL the server gave
/// (a `next` link), which must point at the target's own origin.
#[derive(Debug, Clone)]
pub(super) enum Location {
    Path(String),
    Link(String),
}

/// A request's body: JSON in the client's media type, or an HTML form (an OAuth token
/// request), whose values are kept secret since they carry client secrets.
#[derive(Debug, Clone)]
pub(super) enum Body {
    Json(serde_json::Value),
    Form(Vec<(String, secrecy::SecretString)>),
}

#[derive(Debug, Clone)]
pub struct Request {
    pub(super) method: Method,
    pub(super) location: Location,
    pub(super) query: Vec<(String, String)>,
    pub(super) body: Option<Body>,
    pub(super) if_match: Option<String>,
    pub(super) idempotent: Idempotent,
    /// Sent again by the provider after reading back showed the last copy did not land:
    /// counted as a retry.
    pub(super) resent: bool,
}

impl Request {
    /// A request to `path` under the target's base URL, stating whether it is safe to
    /// send twice.
    pub fn new(method: Method, path: impl Into<String>, idempotent: Idempotent) -> Self {
        Request {
            method,
            location: Location::Path(path.into()),
            query: Vec::new(),
            body: None,
            if_match: None,
            idempotent,
            resent: false,
        }
    }

    /// A GET, which is always safe to send twice.
    pub fn get(path: impl Into<String>) -> Self {
        Request::new(Method::GET, path, Idempotent::Yes)
    }

    /// A GET of an absolute URL the server handed out (a `next` link). The client sends
    /// it only if it is on the target's own scheme, host and port, so a link cannot lead
    /// the token elsewhere.
    pub fn link(url: impl Into<String>) -> Self {
        Request {
            location: Location::Link(url.into()),
            ..Request::get(String::new())
        }
    }

    pub fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_owned(), value.to_string()));
        self
    }

    pub fn queries(mut self, pairs: &[(&str, String)]) -> Self {
        self.query
            .extend(pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        self
    }

    /// The JSON body, sent with the client's media type.
    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Some(Body::Json(body));
        self
    }

    /// An `application/x-www-form-urlencoded` body. Values are secrets: the client never
    /// logs or reports them (name each one to the builder's `redact` as well, so an echo
    /// in an answer is scrubbed).
    pub fn form(mut self, pairs: Vec<(&str, secrecy::SecretString)>) -> Self {
        self.body = Some(Body::Form(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
        self
    }

    /// `If-Match` with this version, when there is one.
    pub fn if_match(mut self, version: Option<&str>) -> Self {
        self.if_match = version.map(str::to_owned);
        self
    }

    /// Marks a request the provider sends again after reading back showed that its last
    /// copy, which got no answer, had not been applied.
    pub fn resent(mut self, resent: bool) -> Self {
        self.resent = resent;
        self
    }

    /// The URL to send to, or why there is none.
    pub(super) fn url(&self, base: &url::Url) -> Result<url::Url, String> {
        let mut url = match &self.location {
            Location::Path(path) => {
                let mut url = base.clone();
                let base_path = url.path().trim_end_matches('/').to_owned();
                url.set_path(&format!("{base_path}{path}"));
                url
            }
            Location::Link(link) => {
                let url = base
                    .join(link)
                    .map_err(|e| format!("the server's link `{link}` is not a URL: {e}"))?;
                if url.origin() != base.origin() {
                    return Err(format!(
                        "the server's link points to {}, not to the target's {}; rollcall sends the token only to the target",
                        url.origin().ascii_serialization(),
                        base.origin().ascii_serialization()
                    ));
                }
                url
            }
        };
        if !self.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(self.query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        Ok(url)
    }
}

/// A value as one path segment: percent-encoded, so a name or id the provider did not
/// check (a read of everything lists whatever the target has) cannot change the path.
/// Form encoding writes a space as `+`, which a path reads as a plus sign; every `+` it
/// leaves was a space (a real `+` becomes `%2B`).
pub fn path_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_go_under_the_base_and_links_must_stay_on_its_origin() {
        let base = url::Url::parse("https://api.example.org/2.0/").unwrap();
        let url = Request::get("/users").query("page", 2).url(&base).unwrap();
        assert_eq!(url.as_str(), "https://api.example.org/2.0/users?page=2");
        let next = Request::link("https://api.example.org/2.0/users?page=3")
            .url(&base)
            .unwrap();
        assert_eq!(next.as_str(), "https://api.example.org/2.0/users?page=3");
        for elsewhere in [
            "https://evil.example/2.0/users?page=3",
            "http://api.example.org/2.0/users",
            "https://api.example.org:8443/2.0/users",
        ] {
            let why = Request::link(elsewhere).url(&base).unwrap_err();
            assert!(why.contains("sends the token only to the target"), "{why}");
        }
    }
}
