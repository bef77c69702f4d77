//! Signing in as Google asks a server-to-server client to: the service account's JSON key
//! file is read, a JWT (`RS256`, `kid` = the key's id) claiming the read-only directory
//! scopes for the impersonated admin (`sub`) is signed with its private key, and the
//! token endpoint exchanges it (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`)
//! for an access token good for an hour.
//!
//! The private key and the signed assertion are secrets: neither is ever formatted into
//! an error, and both are named to the token client's `redact`, so an answer that echoes
//! them is scrubbed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use reqwest::Method;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use secrecy::SecretString;
use serde::Deserialize;

use super::wire;
use crate::http::{HttpClient, Idempotent, Request};
use crate::source::SourceError;

/// The scopes a read needs, space-separated as the `scope` claim takes them: people, and
/// groups' members (which `members.list` accepts without the wider group scope).
pub const SCOPES: &str = "https://www.googleapis.com/auth/admin.directory.user.readonly https://www.googleapis.com/auth/admin.directory.group.member.readonly";

/// What an assertion may claim: Google refuses one valid for more than an hour.
const ASSERTION_LIFETIME: u64 = 3_600;

/// A service account's key, as far as signing in needs it.
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key_id: String,
    pub token_uri: String,
    key: RsaKeyPair,
    /// The key's PEM, for the token client's `redact`.
    pem: SecretString,
}

/// The key file's fields rollcall reads; Google's files have more (project, client id,
/// certificate URLs), which are not needed.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key: Option<String>,
    private_key_id: Option<String>,
    token_uri: Option<String>,
}

impl ServiceAccount {
    /// Reads the key file's text. Errors name the field at fault, never a value.
    pub fn parse(source: &str, text: &str) -> Result<ServiceAccount, SourceError> {
        let setup = |message: String| SourceError::Setup {
            source_name: source.to_owned(),
            message,
        };
        // serde_json may quote a value it did not expect; only where it stopped is shown.
        let file: KeyFile = serde_json::from_str(text).map_err(|e| {
            setup(format!(
                "the `key` is not a service account's JSON key file (not JSON of that shape at line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if file.kind.as_deref() != Some("service_account") {
            return Err(setup(
                "the `key` is not a service account's key file (its `type` is not `service_account`)".to_owned(),
            ));
        }
        let field = |value: Option<String>, name: &str| {
            value
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| setup(format!("the service account key has no `{name}`")))
        };
        let client_email = field(file.client_email, "client_email")?;
        let private_key_id = field(file.private_key_id, "private_key_id")?;
        let pem = field(file.private_key, "private_key")?;
        let token_uri = file
            .token_uri
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "https://oauth2.googleapis.com/token".to_owned());
        let der = pkcs8_der(&pem).map_err(setup)?;
        let key = RsaKeyPair::from_pkcs8(&der).map_err(|e| {
            setup(format!(
                "the service account's `private_key` is not an RSA private key ring can use ({e})"
            ))
        })?;
        Ok(ServiceAccount {
            client_email,
            private_key_id,
            token_uri,
            key,
            pem: SecretString::from(pem),
        })
    }

    /// The signed JWT asking the token endpoint at `audience` for `subject`'s token.
    pub fn assertion(&self, subject: &str, audience: &str, now: u64) -> Result<String, String> {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": self.private_key_id});
        let claims = serde_json::json!({
            "iss": self.client_email,
            "sub": subject,
            "scope": SCOPES,
            "aud": audience,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        });
        let signed = format!("{}.{}", b64.encode(header.to_string()), b64.encode(claims.to_string()));
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "the service account's key could not sign the sign-in request".to_owned())?;
        Ok(format!("{signed}.{}", b64.encode(signature)))
    }
}

/// The DER inside a `-----BEGIN PRIVATE KEY-----` (PKCS#8) block, as Google writes keys.
fn pkcs8_der(pem: &str) -> Result<Vec<u8>, String> {
    let pem = pem.trim();
    if pem.contains("BEGIN RSA PRIVATE KEY") {
        return Err(
            "the service account's `private_key` is PKCS#1; Google's keys are PKCS#8 (`BEGIN PRIVATE KEY`)".to_owned(),
        );
    }
    if !pem.starts_with("-----BEGIN PRIVATE KEY-----") || !pem.ends_with("-----END PRIVATE KEY-----") {
        return Err("the service account's `private_key` is not a PEM `PRIVATE KEY` block".to_owned());
    }
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .flat_map(|line| line.chars().filter(|c| !c.is_whitespace()))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| "the service account's `private_key` is not valid base64 inside its PEM block".to_owned())
}

/// An access token and how long it lasts.
pub struct Token {
    pub access_token: SecretString,
    pub expires_in: Duration,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<u64>,
}

/// Exchanges a fresh assertion for an access token at `token_url`. Its requests are
/// added to `spent`.
pub async fn access_token(
    source: &str,
    key: &ServiceAccount,
    subject: &str,
    token_url: &url::Url,
    spent: &AtomicUsize,
) -> Result<Token, SourceError> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let assertion = key
        .assertion(subject, token_url.as_str(), now)
        .map_err(|message| SourceError::Setup {
            source_name: source.to_owned(),
            message,
        })?;
    let assertion = SecretString::from(assertion);
    let mut origin = token_url.clone();
    origin.set_path("/");
    origin.set_query(None);
    let client = HttpClient::builder(source, origin)
        .error_parser(wire::token_error)
        .redact(assertion.clone())
        .redact(key.pem.clone())
        .build()?;
    // Asking twice for a token gives two tokens and changes nothing.
    let request = Request::new(Method::POST, token_url.path(), Idempotent::Yes).form(vec![
        (
            "grant_type",
            SecretString::from("urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ),
        ("assertion", assertion),
    ]);
    let answer = client.json::<TokenAnswer>(request).await;
    spent.fetch_add(client.request_count(), Ordering::Relaxed);
    let answer = answer?;
    Ok(Token {
        access_token: SecretString::from(answer.access_token),
        expires_in: Duration::from_secs(answer.expires_in.unwrap_or(ASSERTION_LIFETIME)),
    })
}
