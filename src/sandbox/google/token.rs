//! Google's OAuth token endpoint for service accounts, as the emulator serves it at
//! `/token`: a JWT-bearer grant (RFC 7523) whose assertion is checked as Google does
//! (documented at developers.google.com/identity/protocols/oauth2/service-account; the
//! discovery document does not describe the endpoint): `RS256` signed by a service
//! account of the state (verified with the public half its state holds), `aud` this
//! endpoint, at most an hour between `iat` and `exp`, `sub` a person of the account,
//! every scope delegated to the account. The access tokens handed out live in the
//! running emulator, not in its state.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use base64::Engine as _;
use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use serde::Deserialize;
use serde_json::json;

use super::state::GoogleState;
use super::wire::{oauth_error, ok, Call, Outcome, Reply};

/// How long an access token lasts, as Google's `expires_in` says.
const LIFETIME: Duration = Duration::from_secs(3_599);
/// The clock skew Google tolerates in `iat` (its documentation's wording: "a reasonable
/// timeframe"; five minutes here).
const SKEW: u64 = 300;

/// What an access token stands for.
#[derive(Debug, Clone)]
pub struct Grant {
    pub subject: String,
    pub scopes: BTreeSet<String>,
    pub until: Instant,
}

/// The tokens handed out by this run of the emulator.
#[derive(Debug, Default)]
pub struct Tokens {
    issued: HashMap<String, Grant>,
}

impl Tokens {
    /// The grant behind a token still valid.
    pub fn grant(&self, token: &str) -> Option<&Grant> {
        self.issued.get(token).filter(|g| g.until > Instant::now())
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: Option<String>,
    scope: Option<String>,
    aud: String,
    iat: u64,
    exp: u64,
}

fn invalid_grant(description: &str) -> Reply {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// `POST /token`.
pub fn exchange(tokens: &mut Tokens, call: &Call, state: &GoogleState) -> Outcome {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&call.body).into_owned().collect();
    let grant_type = form.get("grant_type").map_or("", String::as_str);
    if grant_type != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {grant_type}"),
        ));
    }
    let assertion = form.get("assertion").map_or("", String::as_str);
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err(invalid_grant("Invalid JWT: it is not three base64url parts."));
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let decode = |part: &str| b64.decode(part).ok();
    let header: Header = decode(header)
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or_else(|| invalid_grant("Invalid JWT: the header is not JSON."))?;
    let claims: Claims = decode(claims)
        .and_then(|c| serde_json::from_slice(&c).ok())
        .ok_or_else(|| invalid_grant("Invalid JWT: the claim set is not JSON with iss, aud, iat and exp."))?;
    if header.alg != "RS256" {
        return Err(invalid_grant("Invalid JWT Signature."));
    }
    let Some(account) = state.service_accounts.iter().find(|a| a.client_email == claims.iss) else {
        return Err(invalid_grant("Invalid grant: account not found"));
    };
    let signature = decode(signature).ok_or_else(|| invalid_grant("Invalid JWT Signature."))?;
    let key = public_key_der(&account.public_key).map_err(|_| invalid_grant("Invalid JWT Signature."))?;
    let signed = assertion.len() - assertion.rsplit('.').next().map_or(0, str::len) - 1;
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key)
        .verify(&assertion.as_bytes()[..signed], &signature)
        .map_err(|_| invalid_grant("Invalid JWT Signature."))?;
    let audience = format!("{}/token", call.base_url);
    if claims.aud != audience {
        return Err(invalid_grant(&format!(
            "Invalid JWT: Failed audience check. The expected value was {audience}."
        )));
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if claims.exp <= claims.iat || claims.exp - claims.iat > 3_600 || claims.iat > now + SKEW || claims.exp <= now {
        return Err(invalid_grant(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        ));
    }
    // Without `sub` the token would be the service account's own, which the Directory
    // API does not let read a customer's users.
    let subject = claims.sub.unwrap_or_default();
    if state.user(&subject).is_none() {
        return Err(invalid_grant("Invalid email or User ID"));
    }
    let scopes: BTreeSet<String> = claims
        .scope
        .unwrap_or_default()
        .split_ascii_whitespace()
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        ));
    }
    if !scopes.iter().all(|s| account.scopes.contains(s)) {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
        ));
    }
    let token = format!(
        "ya29.sandbox-{}",
        crate::http::random_hex(24).map_err(|_| invalid_grant("the sandbox could not make a token"))?
    );
    tokens.issued.retain(|_, g| g.until > Instant::now());
    tokens.issued.insert(
        token.clone(),
        Grant {
            subject,
            scopes,
            until: Instant::now() + LIFETIME,
        },
    );
    ok(json!({"access_token": token, "expires_in": LIFETIME.as_secs(), "token_type": "Bearer"}))
}

/// The DER `RSAPublicKey` of a PEM public key: `RSA PUBLIC KEY` as it is, `PUBLIC KEY`
/// (SubjectPublicKeyInfo) unwrapped, since ring verifies with the former.
pub fn public_key_der(pem: &str) -> Result<Vec<u8>, String> {
    let pem = pem.trim();
    let spki = pem.starts_with("-----BEGIN PUBLIC KEY-----");
    if !spki && !pem.starts_with("-----BEGIN RSA PUBLIC KEY-----") {
        return Err("public_key is not a PEM `PUBLIC KEY` or `RSA PUBLIC KEY` block".to_owned());
    }
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| "public_key is not base64 inside its PEM block".to_owned())?;
    if !spki {
        return Ok(der);
    }
    // SubjectPublicKeyInfo ::= SEQUENCE { algorithm SEQUENCE, subjectPublicKey BIT STRING }
    let bad = || "public_key is not an RSA SubjectPublicKeyInfo".to_owned();
    let (tag, outer, _) = der_item(&der).ok_or_else(bad)?;
    if tag != 0x30 {
        return Err(bad());
    }
    let (tag, _, rest) = der_item(outer).ok_or_else(bad)?;
    if tag != 0x30 {
        return Err(bad());
    }
    let (tag, bits, _) = der_item(rest).ok_or_else(bad)?;
    match bits.split_first() {
        Some((0, key)) if tag == 0x03 => Ok(key.to_vec()),
        _ => Err(bad()),
    }
}

/// One DER item: its tag, its contents, and what follows it.
fn der_item(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}
