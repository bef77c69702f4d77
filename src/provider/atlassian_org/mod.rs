//! The Atlassian organization directory provider: groups and their members through the
//! Organizations REST API v2, under
//! `{base}/admin/v2/orgs/{organization}/directories/{directory}`.
//!
//! People are not made here (they join by invitation or SCIM): the read finds the
//! declared ones by email and names them by their rollcall name. Groups are read by name
//! (the declared ones and those renamed from), or all of them when the plan prunes or
//! imports; their members come from the users search by group id, so members nobody
//! declared are seen too. Searches run at the vendor's largest page, 100, paged by
//! cursor, at the same time under the target's cap on requests in flight.
//!
//! Writes are one request per change: a group created (with its description) or
//! deleted, a member added or removed. What a write needs later (a group's id, a
//! member's account id) is remembered from the read and from each create.

mod convert;
mod platform;
mod read;
mod wire;
mod write;

pub use platform::PLATFORM;

use crate::http::path_segment as seg;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::desired::ReadScope;
use crate::http::{Auth, ErrorKind, HttpClient, HttpError, Operation, Reached};
use crate::model::ResourceMap;
use crate::plan::{Action, Change};
use crate::provider::{BoxFuture, Findings, Provider, ProviderError};

/// The provider of a target, for the registry.
pub(crate) fn provider(
    config: &crate::desired::TargetConfig,
    base: url::Url,
    auth: Option<Auth>,
    parallelism: usize,
) -> Result<Box<dyn Provider>, HttpError> {
    let setting = |key: &str| {
        config
            .settings
            .get(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| HttpError {
                target: config.name.clone(),
                request: String::new(),
                kind: ErrorKind::Setup,
                status: None,
                detail: format!("the target sets no `{key}`: the id Atlassian Administration shows"),
                ambiguous: false,
                attempts: 0,
            })
    };
    Ok(Box::new(AtlassianOrg::new(
        &config.name,
        base,
        auth,
        &setting("organization")?,
        &setting("directory")?,
        config.scope.clone(),
        parallelism.min(MAX_IN_FLIGHT),
    )?))
}

/// The vendor's largest page (`limit`, 1 to 100, on both searches).
const PAGE_LIMIT: usize = 100;
/// The most `groupNames` or `emails` one search takes.
const NAMES_PER_SEARCH: usize = 100;
/// The most `groupIds` one users search takes.
const GROUPS_PER_SEARCH: usize = 10;
/// Atlassian publishes no rate for these calls; as for its SCIM API, a modest cap, and
/// the adaptive limit, `X-RateLimit-*` and 429s do the rest.
const MAX_IN_FLIGHT: usize = 8;
use crate::provider::SENDS;

pub struct AtlassianOrg {
    target: String,
    http: HttpClient,
    scope: ReadScope,
    /// `/admin/v2/orgs/{organization}/directories/{directory}`, encoded.
    directory: String,
    known: Mutex<Known>,
    findings: Mutex<Findings>,
}

/// What the provider knows of live objects, by lower-cased name.
#[derive(Debug, Default)]
struct Known {
    /// Group ids, by group name.
    groups: HashMap<String, String>,
    /// Account ids, by the name the plan gives the person (rollcall name, or email or
    /// account id for a member nobody declared).
    users: HashMap<String, String>,
}

impl AtlassianOrg {
    pub fn new(
        target: &str,
        base: url::Url,
        auth: Option<Auth>,
        organization: &str,
        directory: &str,
        scope: ReadScope,
        max_in_flight: usize,
    ) -> Result<Self, HttpError> {
        let http = HttpClient::builder(target, base)
            .auth(auth)
            .error_parser(wire::error_message)
            .max_in_flight(max_in_flight)
            .build()?;
        Ok(AtlassianOrg {
            target: target.to_owned(),
            http,
            scope,
            directory: format!("/admin/v2/orgs/{}/directories/{}", seg(organization), seg(directory)),
            known: Mutex::new(Known::default()),
            findings: Mutex::new(Findings::default()),
        })
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        // A panic while holding the lock leaves at worst a map missing an entry, which
        // a later change reports as not found; keep going with what is there.
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn path(&self, rest: &str) -> String {
        format!("{}{rest}", self.directory)
    }

    fn fail(&self, change: &Change, why: impl Into<String>) -> ProviderError {
        ProviderError::Unsupported {
            target: self.target.clone(),
            address: change.address.to_string(),
            why: why.into(),
        }
    }
}

impl Provider for AtlassianOrg {
    fn read(&self) -> BoxFuture<'_, Result<ResourceMap, ProviderError>> {
        Box::pin(self.read_all())
    }

    /// Every write names one group and at most one account: nothing shares a request.
    fn batch_key(&self, _change: &Change) -> Option<String> {
        None
    }

    fn apply<'a>(&'a self, changes: &'a [Change]) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            self.http.begin(Operation::Apply);
            for change in changes {
                self.apply_one(change).await?;
            }
            Ok(())
        })
    }

    fn findings(&self) -> Findings {
        self.findings.lock().unwrap_or_else(PoisonError::into_inner).clone()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_percent_encoded_into_the_directory_path() {
        let org = AtlassianOrg::new(
            "org",
            url::Url::parse("https://api.atlassian.com").unwrap(),
            None,
            "0a1b-2c",
            "d/1 x",
            ReadScope::default(),
            8,
        )
        .unwrap();
        assert_eq!(
            org.path("/groups"),
            "/admin/v2/orgs/0a1b-2c/directories/d%2F1%20x/groups"
        );
    }
}
