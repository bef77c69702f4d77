//! The identity sources rollcall reads, one line each: the `kind` a manifest names, the
//! settings and the secret it takes, how its reader is built and, where it has one, its
//! emulator for `sandbox:` sources. Nothing else names a source kind.

use super::{Reach, Source, SourceConfig, SourceError};
use crate::sandbox::launch::SandboxKind;

/// One kind of identity source.
pub struct SourceKind {
    /// What a manifest's `kind:` says (`okta`).
    pub kind: &'static str,
    /// One line for the JSON Schema and `rollcall sources`.
    pub summary: &'static str,
    /// The settings it takes besides `url` and its secret.
    pub settings: &'static [Setting],
    /// The `auth` field that holds its secret (`token`, `client_secret`, `key`,
    /// `password`) and what that secret is, for errors.
    pub secret: (&'static str, &'static str),
    /// How a group is named in `members_from` and `people.groups`, for hints.
    pub group_names: &'static str,
    /// What to check when the source answers 401 or 403.
    pub unauthorized: &'static str,
    /// The URL schemes it takes (`https`; `ldaps` for LDAP). Plain `http` is taken where
    /// `https` is, to a loopback address only.
    pub schemes: &'static [&'static str],
    /// The clear-text scheme a connection may be upgraded from with StartTLS (`ldap`):
    /// taken with `starttls: true`, or to a loopback address.
    pub starttls: Option<&'static str>,
    /// The settings that name a file, made relative to the manifest directory.
    pub paths: &'static [&'static str],
    pub build: Build,
    /// Its emulator, started for a `sandbox:PATH` url; None where the tests use a real
    /// server (LDAP: OpenLDAP).
    pub sandbox: Option<&'static SandboxKind>,
    /// Whether its sandbox checks the manifest's secret itself (a service account key
    /// whose public half the state holds) rather than a token made for the run.
    pub sandbox_uses_manifest_secret: bool,
}

/// A setting of a source kind: where the manifest writes it (`tenant`, or
/// `auth.client_id`), and whether it is required.
pub struct Setting {
    pub name: &'static str,
    pub required: bool,
    pub about: &'static str,
}

/// Builds a source's reader.
pub type Build = fn(&SourceConfig, Reach) -> Result<Box<dyn Source>, SourceError>;

pub static KINDS: &[&SourceKind] = &[
    &super::okta::KIND,
    &super::entra::KIND,
    &super::google::KIND,
    &super::ldap::KIND,
];

/// The kind a manifest names.
pub fn find(kind: &str) -> Option<&'static SourceKind> {
    KINDS.iter().copied().find(|k| k.kind == kind)
}

/// Every kind's name, in registry order.
pub fn kinds() -> Vec<&'static str> {
    KINDS.iter().map(|k| k.kind).collect()
}

impl std::fmt::Debug for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind)
    }
}
