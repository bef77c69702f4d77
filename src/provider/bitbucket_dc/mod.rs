//! The Bitbucket Data Center provider: REST API 1.0 under `{base}/rest/api/latest`.
//!
//! Reading uses the paged admin and permission lists at the largest page size, all at
//! once with a per-target cap on requests in flight. The only per-object lists are the
//! members of each group (the API has no bulk membership list), the permissions of the
//! projects and repositories the manifest names (of every one, listed first, when the
//! read scope asks for everything) and the all-users default of the projects whose
//! default the plan compares.

mod convert;
mod platform;
mod read;
mod wire;
mod write;

pub use platform::PLATFORM;
#[cfg(test)]
pub(crate) use platform::SPEC;

use crate::http::path_segment as seg;
use std::collections::BTreeSet;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::desired::ReadScope;
use crate::http::paging::{self, Page};
use crate::http::{Auth, HttpClient, HttpError, Idempotent, Operation, Reached, Request};
use crate::model::{Address, Principal, Resource, ResourceId, ResourceMap};
use crate::plan::{Action, Change};
use crate::provider::{BoxFuture, Provider, ProviderError};

use convert::Scope;

/// The provider of a target, for the registry.
pub(crate) fn provider(
    config: &crate::desired::TargetConfig,
    base: url::Url,
    auth: Option<Auth>,
    parallelism: usize,
) -> Result<Box<dyn Provider>, HttpError> {
    Ok(Box::new(BitbucketDc::new(
        &config.name,
        base,
        auth,
        config.scope.clone(),
        config.notify_new_users,
        parallelism.min(MAX_IN_FLIGHT),
    )?))
}

/// Bitbucket's cap on `limit` (the server's `page.max` default).
const PAGE_LIMIT: usize = 1000;
/// The most requests in flight to one instance: a self-hosted server that rate-limits
/// per user (a token bucket, 60 requests and 5 a second in Atlassian's example) answers
/// 429 long before this, and the adaptive limit backs off there.
const MAX_IN_FLIGHT: usize = 32;
const API: &str = "/rest/api/latest";

pub struct BitbucketDc {
    target: String,
    http: HttpClient,
    scope: ReadScope,
    notify_new_users: bool,
    /// What the last read found beyond live state: the groups whose members it left
    /// out, and every scope where it listed them all.
    findings: std::sync::Mutex<crate::provider::Findings>,
}

impl BitbucketDc {
    pub fn new(
        target: &str,
        base: url::Url,
        auth: Option<Auth>,
        scope: ReadScope,
        notify_new_users: bool,
        max_in_flight: usize,
    ) -> Result<Self, HttpError> {
        let http = HttpClient::builder(target, base)
            .auth(auth)
            .error_parser(wire::error_message)
            .max_in_flight(max_in_flight)
            .build()?;
        Ok(BitbucketDc {
            target: target.to_owned(),
            http,
            scope,
            notify_new_users,
            findings: std::sync::Mutex::default(),
        })
    }

    fn unsupported(&self, change: &Change, why: &str) -> ProviderError {
        ProviderError::Unsupported {
            target: self.target.clone(),
            address: change.address.to_string(),
            why: why.to_owned(),
        }
    }
}

use crate::provider::SENDS;

/// What reading back found of the changes a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadBack {
    /// Live state is what the changes leave.
    Applied,
    /// Live state is what the plan saw before them: nothing landed.
    Untouched,
    /// Neither: someone else's change, or part of a batch.
    Other,
}

#[derive(Debug)]
enum Read {
    /// Users, all or those whose name, display name or email contains the filter.
    Users(Option<String>),
    /// Groups, all or those whose name contains the filter.
    Groups(Option<String>),
    Members(String),
    /// The groups of one user.
    GroupsOf(String),
    Grants(Scope),
    Default(String),
}

fn filter_query(filter: Option<String>) -> Vec<(&'static str, String)> {
    filter.map(|f| ("filter", f)).into_iter().collect()
}

/// The one list that shows whether a change's object is as the change leaves it.
fn container(id: &ResourceId) -> Option<Read> {
    Some(match id {
        ResourceId::User { name } => Read::Users(Some(name.to_string())),
        ResourceId::Group { name } => Read::Groups(Some(name.to_string())),
        ResourceId::Membership { group, .. } => Read::Members(group.to_string()),
        ResourceId::Default { scope } => match Scope::from_path(scope)? {
            Scope::Project(project) => Read::Default(project),
            _ => return None,
        },
        ResourceId::Grant { scope, .. } => Read::Grants(Scope::from_path(scope)?),
    })
}

fn grant_scope(id: &ResourceId) -> Option<(Scope, Principal)> {
    match id {
        ResourceId::Grant { scope, principal } => Some((Scope::from_path(scope)?, principal.clone())),
        _ => None,
    }
}

fn permissions_path(scope: &Scope) -> String {
    match scope {
        Scope::Global => "/admin/permissions".to_owned(),
        Scope::Project(p) => format!("/projects/{}/permissions", seg(p)),
        Scope::Repo(p, r) => format!("/projects/{}/repos/{}/permissions", seg(p), seg(r)),
    }
}

impl Provider for BitbucketDc {
    fn read(&self) -> BoxFuture<'_, Result<ResourceMap, ProviderError>> {
        Box::pin(self.read_all())
    }

    fn findings(&self) -> crate::provider::Findings {
        self.findings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn batch_key(&self, change: &Change) -> Option<String> {
        if let (ResourceId::Membership { group, .. }, Action::Create) = (&change.address.id, change.action) {
            return Some(format!("add-users {group}"));
        }
        let (scope, principal) = grant_scope(&change.address.id)?;
        if change.action == Action::Delete {
            // A project's or repository's `DELETE .../permissions?user=&group=` revokes a
            // user's and a group's grants there in one call (`batch_admits` keeps it to
            // one of each); a global revoke takes one `name`.
            return match scope {
                Scope::Global => None,
                Scope::Project(project) => Some(format!("revoke {project}")),
                Scope::Repo(project, repo) => Some(format!("revoke {project}/{repo}")),
            };
        }
        // Global and repository grants take several `name`s per call; project grants
        // take one.
        let (Action::Create | Action::Update, Some(Resource::Permission { permission })) =
            (change.action, &change.after)
        else {
            return None;
        };
        let kind = principal_kind(&principal);
        match scope {
            Scope::Global => Some(format!("global {kind} {permission}")),
            Scope::Repo(project, repo) => Some(format!("repo {project}/{repo} {kind} {permission}")),
            Scope::Project(_) => None,
        }
    }

    /// The description types the revoke's `user` and `group` as one string each (the
    /// grant's `name` is an array): a revoke batch holds at most one user and one group.
    fn batch_admits(&self, batch: &mut dyn Iterator<Item = &Change>, change: &Change) -> bool {
        let (Action::Delete, Some((_, principal))) = (change.action, grant_scope(&change.address.id)) else {
            return true;
        };
        let kind = principal_kind(&principal);
        let mut others = batch.filter_map(|c| grant_scope(&c.address.id));
        !others.any(|(_, p)| principal_kind(&p) == kind)
    }

    fn apply<'a>(&'a self, changes: &'a [Change]) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            self.http.begin(Operation::Apply);
            match self.apply_batch(changes).await {
                // A create whose answer was lost has been read back already.
                Err(ProviderError::Http(e)) if e.ambiguous && !e.may_have_been_applied() => {
                    self.confirm(changes, e).await
                }
                other => other,
            }
        })
    }

    fn request_count(&self) -> usize {
        self.http.request_count()
    }

    fn retry_count(&self) -> usize {
        self.http.retry_count()
    }

    fn concurrency(&self) -> Reached {
        self.http.concurrency()
    }
}

fn principal_kind(p: &Principal) -> &'static str {
    match p {
        Principal::User(_) => "users",
        Principal::Group(_) => "groups",
    }
}

#[cfg(test)]
mod tests {
    use super::seg;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(seg("PLAT"), "PLAT");
        assert_eq!(seg("Bad Repo"), "Bad%20Repo");
        assert_eq!(seg("a+b/c"), "a%2Bb%2Fc");
        assert_eq!(seg("~ALICE"), "%7EALICE");
    }
}
