//! The Buildkite provider: one organization per target (the `organization:` option),
//! through the GraphQL API at `{url}/v1`, and the one REST call GraphQL lacks (enabling
//! teams) at the REST API's host.
//!
//! Buildkite meters GraphQL in complexity points, not requests: a document may request
//! at most 50,000, and the organization's and the user's five-minute windows charge
//! what each query actually returned. So every document is estimated before it is sent
//! (`cost`), pages are sized to what is left of the windows, and a query that would not
//! fit waits for the reset instead of running into a 429 (`graphql`). A read is one
//! paged query per connection (members, invitations, teams with their first members and
//! pipelines), and continuation pages only for the teams that need them (`read`).
//! Changes go as aliased mutations, up to 25 a document, each answering on its own
//! (`write`).

mod convert;
mod cost;
mod documents;
mod graphql;
mod platform;
mod read;
mod wire;
mod write;

pub use platform::PLATFORM;
pub use read::read_cost;

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::desired::ReadScope;
use crate::http::{Auth, ErrorKind, HttpClient, HttpError, Reached, RetryPolicy, DEFAULT_DEADLINE, MAX_DEADLINE};
use crate::model::ResourceMap;
use crate::plan::Change;
use crate::provider::{BoxFuture, Findings, Provider, ProviderError};

use convert::Ids;
use graphql::Graphql;

/// The most mutations one document carries: a failed document fails only these, and
/// each answers on its own.
pub const BATCH_LIMIT: usize = 25;
/// The most requests in flight; the complexity windows, not parallelism, bound the rate.
const MAX_IN_FLIGHT: usize = 4;

/// What the provider waits by: the vendor's figures from [`Tuning::vendor`], or a test's.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub retry: RetryPolicy,
    /// The longest one wait for a complexity window's reset (the windows are five
    /// minutes; a little more covers a clock's skew).
    pub max_wait: Duration,
    /// How long reading the organization or applying a plan to it may take, besides
    /// its waits for the complexity windows, which move it out up to `max_deadline`.
    pub deadline: Duration,
    pub max_deadline: Duration,
}

impl Tuning {
    /// Buildkite's figures. Its 429 has no `Retry-After` but `RateLimit-Reset`, up to the
    /// window's five minutes: the client honours waits that long.
    pub fn vendor() -> Tuning {
        Tuning {
            retry: RetryPolicy {
                max_server_wait: Duration::from_secs(310),
                ..RetryPolicy::default()
            },
            max_wait: Duration::from_secs(310),
            deadline: DEFAULT_DEADLINE,
            max_deadline: MAX_DEADLINE,
        }
    }
}

fn setup_error(target: &str, detail: impl Into<String>) -> HttpError {
    HttpError {
        target: target.to_owned(),
        request: "client setup".to_owned(),
        kind: ErrorKind::Setup,
        status: None,
        detail: detail.into(),
        ambiguous: false,
        attempts: 0,
    }
}

/// The provider of a target, for the registry.
pub(crate) fn provider(
    config: &crate::desired::TargetConfig,
    base: url::Url,
    auth: Option<Auth>,
    parallelism: usize,
) -> Result<Box<dyn Provider>, HttpError> {
    let Some(organization) = config.settings.get("organization") else {
        return Err(setup_error(&config.name, "the target names no `organization`"));
    };
    let sso = config
        .settings
        .get("sso_assigns")
        .map(|v| {
            v.split(',')
                .map(|w| w.trim().to_owned())
                .filter(|w| !w.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Ok(Box::new(Buildkite::new(
        Settings {
            target: config.name.clone(),
            organization: organization.clone(),
            account: config.account.clone(),
            sso_assigns: sso,
            scope: config.scope.clone(),
        },
        base,
        auth,
        parallelism.min(MAX_IN_FLIGHT),
        Tuning::vendor(),
    )?))
}

/// What a target says about its organization.
#[derive(Debug, Clone)]
pub struct Settings {
    pub target: String,
    /// The organization's slug.
    pub organization: String,
    /// The person the token belongs to (`auth.account`): never removed or demoted.
    pub account: Option<String>,
    /// What the organization's SSO sets at each login (`role`, `teams`).
    pub sso_assigns: Vec<String>,
    pub scope: ReadScope,
}

pub struct Buildkite {
    settings: Settings,
    gql: Graphql,
    /// The REST API, for enabling teams.
    rest: HttpClient,
    /// Node ids as the last read (and the writes since) found them.
    ids: Mutex<Ids>,
    findings: Mutex<Findings>,
}

/// The REST API's base for a GraphQL URL: Buildkite serves GraphQL at
/// `graphql.buildkite.com` and REST at `api.buildkite.com`; any other host (a sandbox, a
/// proxy) serves both.
pub fn rest_base(graphql: &url::Url) -> url::Url {
    let mut rest = graphql.clone();
    if let Some(host) = graphql.host_str().and_then(|h| h.strip_prefix("graphql.")) {
        let api = format!("api.{host}");
        // A host that was valid stays valid with another first label.
        if rest.set_host(Some(&api)).is_err() {
            return graphql.clone();
        }
    }
    rest
}

impl Buildkite {
    pub fn new(
        settings: Settings,
        base: url::Url,
        auth: Option<Auth>,
        max_in_flight: usize,
        tuning: Tuning,
    ) -> Result<Self, HttpError> {
        let client = |base: url::Url| {
            HttpClient::builder(&settings.target, base)
                .auth(auth.clone())
                .error_parser(wire::error_message)
                .retry_policy(tuning.retry.clone())
                .deadline(tuning.deadline)
                .max_deadline(tuning.max_deadline)
                .max_in_flight(max_in_flight)
                .build()
        };
        let rest = client(rest_base(&base))?;
        let gql = Graphql::new(client(base)?, tuning.max_wait);
        Ok(Buildkite {
            settings,
            gql,
            rest,
            ids: Mutex::new(Ids::default()),
            findings: Mutex::new(Findings::default()),
        })
    }

    fn target(&self) -> &str {
        &self.settings.target
    }

    fn ids(&self) -> MutexGuard<'_, Ids> {
        // Maps written whole under the lock: a panic elsewhere cannot leave them torn.
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn findings_mut(&self) -> MutexGuard<'_, Findings> {
        self.findings.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Provider for Buildkite {
    fn read(&self) -> BoxFuture<'_, Result<ResourceMap, ProviderError>> {
        Box::pin(async move {
            let (live, ids, findings) = self.read_all().await?;
            *self.ids() = ids;
            *self.findings_mut() = findings;
            Ok(live)
        })
    }

    /// Mutations share documents, but invitations have their own: an invitation names
    /// its person's teams by id, so it goes after the document that creates or renames
    /// them (the engine orders steps by what their changes wait for), never beside it.
    fn batch_key(&self, change: &Change) -> Option<String> {
        let invitation = matches!(change.address.id, crate::model::ResourceId::User { .. })
            && change.action == crate::plan::Action::Create;
        Some(if invitation { "invitations" } else { "mutations" }.to_owned())
    }

    fn batch_limit(&self) -> usize {
        BATCH_LIMIT
    }

    fn batch_admits(&self, batch: &mut dyn Iterator<Item = &Change>, change: &Change) -> bool {
        write::admits(batch, change)
    }

    fn rides_with(&self, change: &Change, host: &Change) -> bool {
        write::rides_with(change, host)
    }

    fn apply<'a>(&'a self, changes: &'a [Change]) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(self.apply_batch(changes))
    }

    fn findings(&self) -> Findings {
        self.findings_mut().clone()
    }

    fn request_count(&self) -> usize {
        self.gql.http.request_count() + self.rest.request_count()
    }

    fn retry_count(&self) -> usize {
        self.gql.http.retry_count() + self.rest.retry_count()
    }

    fn concurrency(&self) -> Reached {
        self.gql.http.concurrency()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rest_api_is_beside_the_graphql_one() {
        let url = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(
            rest_base(&url("https://graphql.buildkite.com")).as_str(),
            "https://api.buildkite.com/"
        );
        assert_eq!(
            rest_base(&url("http://127.0.0.1:4000/")).as_str(),
            "http://127.0.0.1:4000/"
        );
    }
}
