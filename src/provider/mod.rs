//! Providers: one per platform. A provider reads the live state of its target with bulk
//! list calls and applies changes; it knows its vendor's wire format and nothing else.
//! `memory` is the exception that serves no vendor: live state held in memory, changed
//! as the vendors change theirs, for tests and embedding.

pub mod atlassian_org;
pub mod bitbucket_cloud;
pub mod bitbucket_dc;
pub mod buildkite;
pub mod memory;
pub mod registry;
pub mod scim;

use std::future::Future;
use std::pin::Pin;

use crate::http::HttpError;
use crate::model::ResourceMap;
use crate::plan::Change;

/// How many copies of one write are sent at most: the first, and another only after
/// reading back showed the last copy did not land (its answer lost) or, on SCIM, met a
/// version moved for another reason (412). A lost answer is rare (a few in a hundred on
/// a bad network), so five copies fail only when the target is failing, not by bad luck.
pub(crate) const SENDS: u32 = 5;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Http(#[from] HttpError),
    /// Someone else changed the object between the read and this write (a SCIM 412).
    #[error("{target}: {address} was changed on the server since rollcall read it: {why}; plan again")]
    Conflict {
        target: String,
        address: String,
        why: String,
    },
    /// Live state rollcall cannot plan against as it is.
    #[error("{target}: {address}: {why}")]
    Ambiguous {
        target: String,
        address: String,
        why: String,
    },
    #[error("{target}: {address} cannot be applied: {why}")]
    Unsupported {
        target: String,
        address: String,
        why: String,
    },
    /// The plan names a target no provider was made for.
    #[error("no provider for target `{target}`")]
    Missing { target: String },
    /// Some changes of a batch failed and the others applied (mutations sent in one
    /// GraphQL document, each with its own outcome): each failure by its index in the
    /// batch, with why.
    #[error("{target}: {} of the batch's changes failed: {}", failures.len(), failures.iter().map(|(_, why)| why.as_str()).collect::<Vec<_>>().join("; "))]
    Partial {
        target: String,
        failures: Vec<(usize, String)>,
    },
}

/// What a read found beyond live state, for the plan to say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Facts about the read a reviewer should see: what it cost against the vendor's
    /// quota, a shortcut it took.
    pub remarks: Vec<String>,
    /// Principals whose grants and memberships the platform fixes (a workspace's owner,
    /// a group an identity provider syncs), with why: a change naming one is left out
    /// of the plan and said instead.
    pub fixed: Vec<(crate::model::Principal, String)>,
    /// What the read cost against the vendor's quota (requests used, what is left of
    /// the hour). It varies from run to run (a retried request counts), so it is said
    /// beside the plan, on stderr, never in the plan: the same inputs give the same plan.
    pub usage: Option<String>,
    /// Principals that exist only as an invitation not accepted yet, with why (`invited
    /// on 2026-11-30`): nothing more can be given to them until they accept, so a
    /// change giving them something is held, and the plan lists them.
    pub pending: Vec<(crate::model::Principal, String)>,
    /// Kinds of change the target leaves to something else (an organization's SSO sets
    /// roles and team memberships at each login): such a change is left out of the plan
    /// and said instead.
    pub left_alone: Vec<LeftAlone>,
    /// Groups whose members the read left out (as the target spells them): the plan
    /// reads only what it may change, so access through them is not counted in its
    /// effect on people, which says so.
    pub unread_members: std::collections::BTreeSet<String>,
    /// Every scope the target has (projects and repositories), where the read listed
    /// them all (a read of everything): a scope nothing is granted on is still known to
    /// exist, and one not listed does not.
    pub listed: Option<std::collections::BTreeSet<crate::model::Scope>>,
}

impl Findings {
    /// The people only invited, by lower-cased username: they hold nothing until they
    /// accept.
    pub fn invited(&self) -> std::collections::BTreeSet<String> {
        self.pending
            .iter()
            .filter_map(|(p, _)| match p {
                crate::model::Principal::User(u) => Some(u.as_str().to_lowercase()),
                crate::model::Principal::Group(_) => None,
            })
            .collect()
    }
}

/// A kind of change a target leaves to something else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftAlone {
    pub kind: crate::model::Kind,
    /// Only its grants at the root scope (an organization role), not every grant.
    pub root_only: bool,
    pub why: String,
}

impl LeftAlone {
    /// Whether a change to the object at `id` is of this kind.
    pub fn covers(&self, id: &crate::model::ResourceId) -> bool {
        id.kind() == self.kind && (!self.root_only || id.scope().is_some_and(crate::model::Scope::is_root))
    }
}

/// What every platform implements.
pub trait Provider: Send + Sync {
    /// Reads every object the manifest could touch, with paged bulk lists.
    fn read(&self) -> BoxFuture<'_, Result<ResourceMap, ProviderError>>;

    /// Changes with the same key may be sent in one request (Bitbucket's `add-users`, a
    /// permission granted to several names at once). `None`: the change goes alone.
    fn batch_key(&self, change: &Change) -> Option<String>;

    /// The most changes one batch may hold: a provider that sends a batch in one request
    /// names the request's limit, so a failed request fails only its own changes.
    fn batch_limit(&self) -> usize {
        usize::MAX
    }

    /// Whether `change` may join `batch` (the changes of a batch of its key, not yet
    /// full): a request that names at most one principal of each kind refuses a second of
    /// a kind, and the change goes into another batch of the key, or a new one. The batch
    /// is an iterator so that a provider that never looks at it costs nothing.
    fn batch_admits(&self, _batch: &mut dyn Iterator<Item = &Change>, _change: &Change) -> bool {
        true
    }

    /// The request that makes `host` (the create or the rename of a principal `change`
    /// names) can carry `change` too: a SCIM group created with its first members in the
    /// POST, or renamed and given its new members in one PATCH. The scheduler then sends
    /// them as one batch, `host` first, at most `batch_limit` riding; the graph's order
    /// holds, as the host's request makes the principal before the riders apply.
    fn rides_with(&self, _change: &Change, _host: &Change) -> bool {
        false
    }

    /// Checks, before anything is applied to any target, what only the vendor can tell
    /// and reading did not prove: that the credentials may make these changes (a token
    /// scope the vendor reports only as "invalid token"). It must change nothing. An
    /// error stops the whole apply before its first change.
    fn preflight<'a>(&'a self, _changes: &'a [Change]) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async { Ok(()) })
    }

    /// Applies changes that share a batch key (or a single change): all or nothing as far
    /// as the API allows, or, where one request carries several independent changes (a
    /// GraphQL document of mutations), each with its own outcome, the failed ones in
    /// `ProviderError::Partial`.
    fn apply<'a>(&'a self, changes: &'a [Change]) -> BoxFuture<'a, Result<(), ProviderError>>;

    /// What the last read found beyond live state.
    fn findings(&self) -> Findings {
        Findings::default()
    }

    /// Requests sent so far, retries included.
    fn request_count(&self) -> usize;

    /// Requests sent again after a rate limit, a server error or a dropped connection.
    fn retry_count(&self) -> usize;

    /// How many requests were in flight at once, for `--verbose`.
    fn concurrency(&self) -> crate::http::Reached {
        crate::http::Reached::default()
    }
}
