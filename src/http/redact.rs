//! Keeping secrets out of errors and logs: the token (plain, and as the Basic header
//! carries it) wherever a server echoes it, and secret query parameters (a new user's
//! password) in the description of a request. Everything the layer shows passes through
//! here first.

use base64::Engine as _;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};

use super::client::Auth;

/// Query parameters whose values are never shown.
const SECRET_PARAMS: &[&str] = &["password"];

/// The forms of the target's credentials that may turn up in what a server sends back.
pub(super) struct Redactor {
    secrets: Vec<SecretString>,
}

impl Redactor {
    pub(super) fn new(auth: Option<&Auth>, also: Vec<SecretString>) -> Self {
        let mut secrets = match auth {
            Some(Auth::Bearer(token) | Auth::Scheme { token, .. }) => vec![token.clone()],
            Some(Auth::Basic { username, token }) => {
                let pair = format!("{username}:{}", token.expose_secret());
                let header = base64::engine::general_purpose::STANDARD.encode(pair);
                vec![token.clone(), SecretString::from(header)]
            }
            None => Vec::new(),
        };
        secrets.extend(also);
        Redactor { secrets }
    }

    /// `text` with every form of the credentials replaced by `<redacted>`.
    pub(super) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            let secret = secret.expose_secret();
            if !secret.is_empty() {
                out = out.replace(secret, "<redacted>");
            }
        }
        out
    }
}

/// `text` without the values of `url`'s secret query parameters, for an answer that may
/// echo the request (a server quoting the password it refused).
pub(super) fn mask_params(text: &str, url: &url::Url) -> String {
    let mut out = text.to_owned();
    for (k, v) in url.query_pairs() {
        if SECRET_PARAMS.contains(&k.as_ref()) && !v.is_empty() {
            out = out.replace(v.as_ref(), "<redacted>");
        }
    }
    out
}

/// `METHOD /path?query` without the host, secret parameters masked.
pub(super) fn describe(method: &Method, url: &url::Url) -> String {
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

/// The first 200 characters of a body, for a message. Scrub before cutting, so a token
/// split by the cut cannot slip through.
pub(super) fn snippet(body: &str) -> String {
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
    fn a_token_is_redacted_plain_and_as_the_basic_header_carries_it() {
        let auth = Auth::Basic {
            username: "admin".into(),
            token: "token".into(),
        };
        // `YWRtaW46dG9rZW4=` is base64 of `admin:token`.
        assert_eq!(
            Redactor::new(Some(&auth), Vec::new()).scrub("sent Basic YWRtaW46dG9rZW4= and token"),
            "sent Basic <redacted> and <redacted>"
        );
        let bearer = Auth::Bearer("s3cret".into());
        assert_eq!(
            Redactor::new(Some(&bearer), Vec::new()).scrub("Bearer s3cret"),
            "Bearer <redacted>"
        );
        assert_eq!(
            Redactor::new(None, Vec::new()).scrub("nothing to hide"),
            "nothing to hide"
        );
    }

    #[test]
    fn passwords_are_masked_in_request_descriptions() {
        let url = url::Url::parse("http://h/rest/api/latest/admin/users?name=a&password=hunter2&notify=false").unwrap();
        let shown = describe(&Method::POST, &url);
        assert_eq!(
            shown,
            "POST /rest/api/latest/admin/users?name=a&password=<redacted>&notify=false"
        );
        assert!(!shown.contains("hunter2"));
    }
}
