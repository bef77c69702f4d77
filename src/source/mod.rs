//! Identity sources: where people and group memberships come from when the manifest does
//! not list them by hand (Okta, Microsoft Entra ID, Google Workspace, LDAP).
//!
//! A source is read, never written. Its reader answers one question, a [`Query`]: the
//! members of these groups, nested groups counted, and (when the manifest selects
//! people without naming groups) everyone. The answer is a [`Snapshot`] in the source's
//! own terms (ids, logins, statuses, attributes under the vendor's names); `select`
//! turns it into people and memberships in the manifest's terms, the same way for every
//! vendor, and `resolve` merges those with what the manifest declares by hand.
//!
//! Sources are not targets: nothing is diffed or applied on them, so they have no
//! `Platform`, no scopes and no provider. Each kind is one line of [`registry::KINDS`]:
//! the settings it takes, the secret it needs, how to build its reader and its emulator.

pub mod entra;
pub mod google;
pub mod ldap;
pub mod okta;
pub mod read;
pub mod record;
pub mod registry;
pub mod select;
pub mod spec;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use secrecy::SecretString;

use crate::desired::{Endpoint, SecretRef};
use crate::http::HttpError;
use crate::provider::BoxFuture;

/// A source as the manifest declares it, checked by `resolve`.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Its name in the manifest (`okta`), which `members_from` entries start with.
    pub name: String,
    pub kind: &'static registry::SourceKind,
    pub endpoint: Endpoint,
    /// The URL as the manifest wrote it, for display.
    pub url: String,
    /// The kind's settings by name (`tenant`, `client_id`, `customer`, `subject`,
    /// `base_dn`, `bind_dn`, `schema`, `starttls`), as the manifest set them; the kind
    /// lists which it takes and which it requires.
    pub settings: BTreeMap<String, String>,
    /// The one secret the kind needs (an API token, a client secret, a service account
    /// key, a bind password), by reference. None only for a sandbox.
    pub secret: Option<SecretRef>,
}

impl SourceConfig {
    /// A setting's value, trimmed; None when unset or blank.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// A setting the kind requires, or the error naming it.
    pub fn required(&self, key: &str) -> Result<&str, SourceError> {
        self.setting(key).ok_or_else(|| SourceError::Setup {
            source_name: self.name.clone(),
            message: format!("the source sets no `{key}`"),
        })
    }
}

/// How a reader reaches its source: the base URL (a sandbox's loopback address
/// included), whether that is the built-in emulator (which serves a token endpoint on
/// the same address), and the secret, read from where the manifest points.
pub struct Reach {
    pub base: url::Url,
    pub sandboxed: bool,
    pub secret: SecretString,
    /// The most requests in flight at once, before the reader's own cap.
    pub parallelism: usize,
}

/// What a reader is asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Groups by the name the manifest gives them (a group's name, or an id or
    /// distinguished name where the kind takes one): each one's members, nested groups
    /// counted, and every member as a person.
    pub groups: BTreeSet<String>,
    /// Every person the source has, whatever their groups (the manifest selects people
    /// by attributes alone).
    pub everyone: bool,
}

/// What a source answered, in its own terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Every person read, by the source's id: the members of the groups asked for and,
    /// when asked, everyone.
    pub people: BTreeMap<String, Person>,
    /// Each group asked for, by the name it was asked by.
    pub groups: BTreeMap<String, Group>,
}

/// A person as the source has them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    /// The source's id (Okta's `00u…`, a Graph object id, a Google id, an LDAP DN).
    pub id: String,
    /// The sign-in name (Okta `login`, Graph `userPrincipalName`, Google
    /// `primaryEmail`, LDAP `uid` or `sAMAccountName`).
    pub login: Option<String>,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub department: Option<String>,
    /// The source's own word for the account's state (Okta `ACTIVE`, `SUSPENDED`, …;
    /// `enabled`/`disabled` for Graph and LDAP; `active`/`suspended`/`archived` for
    /// Google), which a manifest's `status` filter names.
    pub status: String,
    /// Whether the kind counts the account as able to sign in (its default for a
    /// manifest that lists no statuses).
    pub active: bool,
    /// Every text attribute read, under the vendor's name (those the fields above hold
    /// included), for a manifest's `map` and `attribute:NAME` username rule.
    pub attributes: BTreeMap<String, String>,
}

/// A group as the source has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    /// The source's id for the group.
    pub id: String,
    /// Its name there, as the source spells it.
    pub name: String,
    /// Its members, nested groups counted, by person id (each one in `Snapshot::people`).
    pub members: BTreeSet<String>,
    /// Members that are not people (devices, service principals, contacts, members from
    /// outside the directory), left out and counted.
    pub skipped: usize,
}

/// Reads one source. Implementations keep their vendor's wire types to themselves.
pub trait Source: Send + Sync {
    /// Answers the query with bulk paged lists at the vendor's largest page. A group
    /// that does not exist is an error (`SourceError::NotFound`), never an empty group.
    fn read<'a>(&'a self, query: &'a Query) -> BoxFuture<'a, Result<Snapshot, SourceError>>;

    /// Requests sent so far (token requests included), for the tests of request counts
    /// and for `--verbose`.
    fn requests(&self) -> usize;
}

/// Why a source could not be read. Never carries a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Http(#[from] HttpError),
    /// A group the manifest names that the source does not have.
    #[error("{source_name}: no group `{group}`{why}")]
    NotFound {
        source_name: String,
        group: String,
        /// More on what was looked for (` (searched by displayName)`), or empty.
        why: String,
    },
    /// A name the source has more than once (Graph's display names are not unique).
    #[error("{source_name}: `{group}` names {count} groups; name it by id")]
    Ambiguous {
        source_name: String,
        group: String,
        count: usize,
    },
    /// The source answered something rollcall cannot use (an LDAP error, a bad token
    /// answer), with the vendor's message.
    #[error("{source_name}: {message}")]
    Protocol { source_name: String, message: String },
    /// The source is declared wrong or its secret is unusable (a key that is no RSA
    /// private key, a missing setting).
    #[error("{source_name}: {message}")]
    Setup { source_name: String, message: String },
}
