//! One LDAP session: connect (LDAPS, or StartTLS on `ldap://`), simple bind, and
//! searches paged with the RFC 2696 control, each operation counted. Errors name the
//! source and the server's result code and text; the password goes only into the bind
//! request and is scrubbed from every message all the same.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ldap3::controls::{MakeCritical, PagedResults as PagedControl};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult, Scope, SearchEntry};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use secrecy::{ExposeSecret, SecretString};

use super::schema::Entry;
use crate::source::SourceError;

/// Entries asked for per page. OpenLDAP's default `sizelimit` is 500 and a page larger
/// than the server's hard limit is refused or cut there, so 500 is the largest page
/// that works on a default OpenLDAP; Active Directory's default MaxPageSize is 1000, so
/// 500 is within it too (a directory of N people costs twice the pages it would at
/// 1000, a few requests more, for one setting that works on both).
pub const PAGE_SIZE: i32 = 500;

/// RFC 2696's control, which ldap3 does not export by name.
const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";

/// Connecting (TCP and TLS) gives up after this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// One operation (a bind, one page) gives up when the server is silent this long
/// (ldap3 restarts the timer with each entry): Active Directory's default
/// MaxQueryDuration is 120 seconds, after which it ends a search itself.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(120);

/// The TLS a source trusts: the webpki roots, plus the manifest's private CA.
pub fn tls_config(ca_file: Option<&std::path::Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    if let Some(path) = ca_file {
        let shown = path.display();
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| format!("cannot read ca_file {shown}: {e}"))?;
        let mut added = 0;
        for cert in certs {
            let cert = cert.map_err(|e| format!("ca_file {shown}: {e}"))?;
            roots.add(cert).map_err(|e| format!("ca_file {shown}: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("ca_file {shown} holds no PEM certificate"));
        }
    }
    // The provider named rather than the process default: the tree has more than one,
    // and `ClientConfig::builder()` refuses to pick.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Where and how to connect.
pub struct Target<'a> {
    pub source_name: &'a str,
    pub url: &'a str,
    pub starttls: bool,
    pub tls: Option<Arc<ClientConfig>>,
    pub bind_dn: &'a str,
    pub password: &'a SecretString,
}

/// A bound session.
pub struct Session<'a> {
    ldap: Ldap,
    source_name: &'a str,
    password: &'a SecretString,
    requests: &'a AtomicUsize,
}

impl<'a> Session<'a> {
    /// Connects and binds: one operation, two with StartTLS (its extended request).
    pub async fn open(target: Target<'a>, requests: &'a AtomicUsize) -> Result<Session<'a>, SourceError> {
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(CONNECT_TIMEOUT)
            .set_starttls(target.starttls);
        if let Some(tls) = target.tls {
            settings = settings.set_config(tls);
        }
        if target.starttls {
            requests.fetch_add(1, Ordering::Relaxed);
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, target.url).await.map_err(|e| {
            protocol(
                target.source_name,
                target.password,
                format!("cannot connect to {}: {}", target.url, describe(&e)),
            )
        })?;
        ldap3::drive!(conn);
        requests.fetch_add(1, Ordering::Relaxed);
        // ldap3's timeout holds for the next operation only: set before each one.
        let bound = ldap
            .with_timeout(OPERATION_TIMEOUT)
            .simple_bind(target.bind_dn, target.password.expose_secret())
            .await;
        let session = Session {
            ldap,
            source_name: target.source_name,
            password: target.password,
            requests,
        };
        match bound {
            Ok(result) if result.rc == 0 => Ok(session),
            Ok(result) => Err(session.fail(format!(
                "bind as `{}` refused: {}",
                target.bind_dn,
                result_text(&result)
            ))),
            Err(e) => Err(session.fail(format!("bind as `{}` failed: {}", target.bind_dn, describe(&e)))),
        }
    }

    /// A handle for one more search on the same connection (searches run side by side).
    pub fn handle(&self) -> Searcher<'a> {
        Searcher {
            ldap: self.ldap.clone(),
            source_name: self.source_name,
            password: self.password,
            requests: self.requests,
        }
    }

    /// Ends the session politely. An unbind has no answer, so it is not counted.
    pub async fn close(mut self) {
        let _ = self.ldap.unbind().await;
    }

    fn fail(&self, message: String) -> SourceError {
        protocol(self.source_name, self.password, message)
    }
}

/// Runs paged searches on a session's connection.
pub struct Searcher<'a> {
    ldap: Ldap,
    source_name: &'a str,
    password: &'a SecretString,
    requests: &'a AtomicUsize,
}

impl Searcher<'_> {
    /// Every entry under `base` that `filter` matches, a page of [`PAGE_SIZE`] per
    /// request (paged by hand rather than with ldap3's adapter, which hides the pages), following the server's cookie until it sends an empty one. The paging
    /// control is critical: a server that cannot page refuses the search rather than
    /// answering a list cut at its size limit. Any result but success is an error, so
    /// a list is whole or not at all.
    pub async fn search(&mut self, base: &str, filter: &str, attributes: &[&str]) -> Result<Vec<Entry>, SourceError> {
        let mut entries = Vec::new();
        let mut cookie: Vec<u8> = Vec::new();
        loop {
            let control = PagedControl {
                size: PAGE_SIZE,
                cookie: std::mem::take(&mut cookie),
            };
            self.requests.fetch_add(1, Ordering::Relaxed);
            let answer = self
                .ldap
                .with_timeout(OPERATION_TIMEOUT)
                .with_controls(control.critical())
                .search(base, Scope::Subtree, filter, attributes)
                .await
                .map_err(|e| self.fail(format!("search `{filter}` under `{base}` failed: {}", describe(&e))))?;
            let result = answer.1;
            if result.rc != 0 {
                return Err(self.fail(format!(
                    "search `{filter}` under `{base}` refused: {}",
                    result_text(&result)
                )));
            }
            for entry in answer.0 {
                // Continuation references (Active Directory's DomainDnsZones and the
                // like) point at other partitions; people are not there.
                if entry.is_ref() || entry.is_intermediate() {
                    continue;
                }
                let entry = SearchEntry::construct(entry);
                entries.push(Entry::new(entry.dn, entry.attrs));
            }
            match next_cookie(&result) {
                Some(next) if !next.is_empty() => cookie = next,
                _ => return Ok(entries),
            }
        }
    }

    fn fail(&self, message: String) -> SourceError {
        protocol(self.source_name, self.password, message)
    }
}

/// The cookie of the paged results control in a search's result, read here rather
/// than with the library's parser, which panics on a malformed value.
fn next_cookie(result: &LdapResult) -> Option<Vec<u8>> {
    let raw = result.ctrls.iter().find(|c| c.1.ctype == PAGED_RESULTS_OID)?;
    parse_paged_value(raw.1.val.as_deref()?)
}

/// `realSearchControlValue ::= SEQUENCE { size INTEGER, cookie OCTET STRING }` in BER.
fn parse_paged_value(value: &[u8]) -> Option<Vec<u8>> {
    let (rest, sequence) = read_tlv(value, 0x30)?;
    if !rest.is_empty() {
        return None;
    }
    let (after_size, _size) = read_tlv(sequence, 0x02)?;
    let (_, cookie) = read_tlv(after_size, 0x04)?;
    Some(cookie.to_vec())
}

/// One BER element with the given tag: (what follows it, its contents).
fn read_tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&len_byte, rest) = rest.split_first()?;
    let (len, rest) = if len_byte & 0x80 == 0 {
        (usize::from(len_byte), rest)
    } else {
        let count = usize::from(len_byte & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return None;
    }
    Some((&rest[len..], &rest[..len]))
}

/// An LDAP result as people read it: `49 invalidCredentials: <server's text>`.
fn result_text(result: &LdapResult) -> String {
    let shown = result.to_string();
    // ldap3 writes `rc=49 (invalidCredentials), dn: "", text: "…"`; keep code, name
    // and the server's text.
    let name = shown
        .split_once('(')
        .and_then(|(_, r)| r.split_once(')'))
        .map(|(n, _)| n)
        .unwrap_or("unknown");
    let text = result.text.trim();
    if text.is_empty() {
        format!("{} {name}", result.rc)
    } else {
        format!("{} {name}: {text}", result.rc)
    }
}

/// A client-side failure (refused connection, TLS, timeout) in a few words.
fn describe(error: &LdapError) -> String {
    match error {
        LdapError::LdapResult { result } => result_text(result),
        other => other.to_string(),
    }
}

/// The error for a source, with the password scrubbed should a server ever echo it.
fn protocol(source_name: &str, password: &SecretString, message: String) -> SourceError {
    let secret = password.expose_secret();
    let message = if secret.len() >= 4 {
        message.replace(secret, "[redacted]")
    } else {
        message
    };
    SourceError::Protocol {
        source_name: source_name.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paged_value_parses_and_never_panics() {
        // SEQUENCE { INTEGER 0, OCTET STRING "ab" }
        assert_eq!(
            parse_paged_value(&[0x30, 0x07, 0x02, 0x01, 0x00, 0x04, 0x02, b'a', b'b']),
            Some(b"ab".to_vec())
        );
        assert_eq!(
            parse_paged_value(&[0x30, 0x05, 0x02, 0x01, 0x00, 0x04, 0x00]),
            Some(vec![])
        );
        // Long-form length.
        let mut long = vec![0x30, 0x81, 0x86, 0x02, 0x01, 0x00, 0x04, 0x81, 0x80];
        long.extend([7u8; 0x80]);
        assert_eq!(parse_paged_value(&long).map(|c| c.len()), Some(0x80));
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x09, 0x02],
            &[0x31, 0x00],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
        ] {
            assert_eq!(parse_paged_value(bad), None);
        }
    }

    #[test]
    fn the_password_never_shows() {
        let password = SecretString::from("hunter2-secret");
        let e = protocol("corp", &password, "server said hunter2-secret".to_owned());
        assert_eq!(e.to_string(), "corp: server said [redacted]");
    }
}
