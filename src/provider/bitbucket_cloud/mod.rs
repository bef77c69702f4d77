//! The Bitbucket Cloud provider: the 2.0 API under `{base}/2.0`, one workspace per
//! target (the `workspace:` option).
//!
//! What the API manages is explicit project and repository permissions; people, groups
//! and group members are made in the Atlassian organisation's directory and only
//! referred to here (`KindRules::external`). So a read is: the token's account, the
//! declared people found by email among the workspace's members (their account ids are
//! what grants name), the workspace owner (whose access Bitbucket fixes), and two
//! permission lists (groups, users) per project and repository the manifest names.
//! There is no bulk list of explicit grants, and the account's budget is 1,000 requests
//! an hour, so a read costs what the manifest names and says what it cost.
//!
//! Each grant change is one idempotent request (`PUT` or `DELETE` on the holder's
//! permission). Before any change of an apply, `preflight` proves the token has the
//! write scopes, since Bitbucket reports a missing scope only as an invalid token.

mod convert;
mod platform;
mod read;
mod wire;
mod write;

pub use platform::PLATFORM;

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::desired::ReadScope;
use crate::http::{
    Auth, Budget, ErrorKind, HttpClient, HttpError, Operation, Reached, RetryPolicy, DEFAULT_DEADLINE, MAX_DEADLINE,
};
use crate::model::ResourceMap;
use crate::plan::Change;
use crate::provider::{BoxFuture, Findings, Provider, ProviderError};

use convert::Names;

/// The vendor's quota: 1,000 requests per rolling hour per user. Access tokens get more
/// ("scaled" limits), but they cannot touch permissions, so rollcall is always on this.
pub const HOURLY_QUOTA: u32 = 1000;
/// Requests that may go back to back before pacing starts. A small plan (a few projects
/// and repositories: 3 requests plus 2 per scope to read, one per change to apply) runs
/// at once; a larger one is spaced. 50 is 5% of the hour, so a burst leaves another
/// client of the same account most of its budget, and short bursts of this size are
/// what Bitbucket has been seen to accept before it answers 429 to a burst alone.
pub const BURST: u32 = 50;
const HOUR: Duration = Duration::from_secs(3600);
/// The most requests in flight: pacing, not parallelism, bounds the rate here.
const MAX_IN_FLIGHT: usize = 8;
/// Bitbucket's maximum `pagelen`.
pub(crate) const PAGE_LEN: usize = 100;

/// What the provider paces, retries and waits by: the vendor's figures from
/// [`Tuning::vendor`], or a test's or a benchmark's.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// The pace requests are sent at; `None` sends them as fast as the limit allows.
    pub budget: Option<Budget>,
    /// The account's requests per hour, for the read's remark and the check that a read
    /// fits in it.
    pub quota: u32,
    pub retry: RetryPolicy,
    /// How long a write waits for a person or group the directory has just made to be
    /// visible in the workspace.
    pub visible_wait: Duration,
    /// The first wait between two looks; it doubles, to at most 15 s.
    pub visible_step: Duration,
    /// How long reading the workspace or applying a plan to it may take, not counting
    /// the waits for the budget: those are most of a large plan's time.
    pub deadline: Duration,
    /// How long reading the workspace or applying a plan to it may take in all, the
    /// waits for the budget included.
    pub max_deadline: Duration,
}

impl Tuning {
    /// Bitbucket Cloud's published figures.
    ///
    /// The pace: the burst comes on top of the rate, so the rate is what the burst leaves
    /// of the quota, 950 an hour (one every 3.79 s): no rolling hour ever holds more than
    /// the quota, however the requests fall (see [`Budget::rolling`]).
    ///
    /// The retry: Bitbucket's 429 is `text/plain` without `Retry-After` or rate headers,
    /// so the client has no wait to honour and falls back to its backoff; starting at 1 s
    /// and doubling to 30 s (6 attempts, up to about a minute of waiting) outlasts a
    /// burst limit, where 100 ms steps would spend the attempts within a second. A quota
    /// used up for the hour still fails within the minute, with the vendor's message.
    pub fn vendor() -> Tuning {
        Tuning {
            budget: Some(Budget::rolling(HOURLY_QUOTA, HOUR, BURST)),
            quota: HOURLY_QUOTA,
            retry: RetryPolicy {
                base_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(30),
                ..RetryPolicy::default()
            },
            visible_wait: Duration::from_secs(120),
            visible_step: Duration::from_secs(2),
            deadline: DEFAULT_DEADLINE,
            max_deadline: MAX_DEADLINE,
        }
    }
}

/// The provider of a target, for the registry.
pub(crate) fn provider(
    config: &crate::desired::TargetConfig,
    base: url::Url,
    auth: Option<Auth>,
    parallelism: usize,
) -> Result<Box<dyn Provider>, HttpError> {
    let Some(workspace) = config.settings.get("workspace") else {
        return Err(HttpError {
            target: config.name.clone(),
            request: "client setup".to_owned(),
            kind: ErrorKind::Setup,
            status: None,
            detail: "the target names no `workspace`".to_owned(),
            ambiguous: false,
            attempts: 0,
        });
    };
    Ok(Box::new(BitbucketCloud::new(
        &config.name,
        base,
        auth,
        workspace,
        config.scope.clone(),
        parallelism.min(MAX_IN_FLIGHT),
        Tuning::vendor(),
    )?))
}

pub struct BitbucketCloud {
    target: String,
    workspace: String,
    http: HttpClient,
    scope: ReadScope,
    tuning: Tuning,
    /// Account ids and slugs as the last read found them, for the writes.
    names: Mutex<Names>,
    findings: Mutex<Findings>,
}

impl BitbucketCloud {
    pub fn new(
        target: &str,
        base: url::Url,
        auth: Option<Auth>,
        workspace: &str,
        scope: ReadScope,
        max_in_flight: usize,
        tuning: Tuning,
    ) -> Result<Self, HttpError> {
        let mut builder = HttpClient::builder(target, base)
            .auth(auth)
            .error_parser(wire::error_message)
            .retry_policy(tuning.retry.clone())
            .deadline(tuning.deadline)
            .max_deadline(tuning.max_deadline)
            .max_in_flight(max_in_flight);
        if let Some(budget) = tuning.budget {
            builder = builder.budget(budget);
        }
        let names = Names::from_scope(&scope);
        Ok(BitbucketCloud {
            target: target.to_owned(),
            workspace: workspace.to_owned(),
            http: builder.build()?,
            scope,
            tuning,
            names: Mutex::new(names),
            findings: Mutex::new(Findings::default()),
        })
    }

    fn names(&self) -> MutexGuard<'_, Names> {
        // Maps written whole under the lock: a panic elsewhere cannot leave them torn.
        self.names.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn findings_mut(&self) -> MutexGuard<'_, Findings> {
        self.findings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn unsupported(&self, change: &Change, why: impl Into<String>) -> ProviderError {
        ProviderError::Unsupported {
            target: self.target.clone(),
            address: change.address.to_string(),
            why: why.into(),
        }
    }
}

/// Adds to a 401 or 403 what Bitbucket leaves out: which token scopes the call needs
/// (a missing one reads "Token is invalid, expired, or not supported for this
/// endpoint"), or that an access token cannot manage permissions at all.
fn explain(mut e: HttpError, scopes: &str) -> HttpError {
    if !(e.is_status(401) || e.is_status(403)) {
        return e;
    }
    if e.detail.to_lowercase().contains("access token") {
        e.detail.push_str(
            "; repository, project and workspace access tokens cannot manage permissions: use an Atlassian API token (`auth: { username: YOUR_ATLASSIAN_EMAIL, token: … }`)",
        );
    } else if e.is_status(401) {
        e.detail.push_str(&format!(
            "; this call needs an API token with {scopes} (Bitbucket answers \"Token is invalid, expired, or not supported for this endpoint\" when a scope is missing, not only for a bad token)"
        ));
    } else {
        e.detail.push_str(&format!(
            "; this call needs {scopes}, and the account must administer the workspace, project or repository"
        ));
    }
    e
}

impl Provider for BitbucketCloud {
    fn read(&self) -> BoxFuture<'_, Result<ResourceMap, ProviderError>> {
        Box::pin(self.read_all())
    }

    /// Every grant is its own request: the API sets one holder's permission at a time.
    fn batch_key(&self, _change: &Change) -> Option<String> {
        None
    }

    fn batch_limit(&self) -> usize {
        1
    }

    fn preflight<'a>(&'a self, changes: &'a [Change]) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(self.check_scopes(changes))
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
        self.findings_mut().clone()
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
