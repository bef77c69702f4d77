//! Google Workspace through the Admin SDK Directory API: the members of groups named by
//! their email, nested groups counted by Google (`includeDerivedMembership=true`), and
//! the directory's people in one bulk list.
//!
//! # Requests
//!
//! A read signs in once (`auth`: a JWT signed with the service account's key, exchanged
//! at the token endpoint for an hour's access token, impersonating the `subject` admin),
//! then sends, all at once under the client's limit:
//!
//! - per group asked for, `GET admin/directory/v1/groups/{groupKey}/members` with
//!   `includeDerivedMembership=true&maxResults=200` (200 is the documented maximum),
//!   following `nextPageToken`;
//! - one list of the directory's people, `GET admin/directory/v1/users` with
//!   `customer=…` (or `domain=…`) `&maxResults=500&projection=full` (500 is the maximum),
//!   following `nextPageToken`. Members are matched to it by id: never one GET per
//!   person.
//!
//! With `m_g` the entries of group `g`'s derived membership (people, nested groups and
//! other members alike) and `U` the people the users list holds, a read sends at least
//!
//! ```text
//! 1 + Σ_g max(1, ⌈m_g / 200⌉) + max(1, ⌈U / 500⌉)
//! ```
//!
//! requests (the 1 is the token, sent once per hour of the reader's life), and exactly
//! that when nothing is retried. A query that names no group and does not ask for
//! everyone sends none.
//!
//! # Limits
//!
//! Google's default quota is 2,400 queries a minute per user per project; the client is
//! paced to it. Over quota Google answers 403 `userRateLimitExceeded` (or
//! `rateLimitExceeded`, `quotaExceeded`), not 429, which the shared client does not
//! retry: `read` retries those itself with truncated exponential backoff (1 s, 2 s, …,
//! 32 s, plus up to a second of jitter), as Google's documentation asks.

mod auth;
mod convert;
mod wire;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use secrecy::ExposeSecret;
use tokio::time::Instant;

use super::registry::{Setting, SourceKind};
use super::{Group, Query, Reach, Snapshot, Source, SourceConfig, SourceError};
use crate::http::paging::{self, Page};
use crate::http::{path_segment, Auth, Budget, HttpClient, HttpError, Operation, Request};
use crate::provider::BoxFuture;

pub static KIND: SourceKind = SourceKind {
    kind: "google-workspace",
    summary: "Google Workspace (Admin SDK Directory API): groups by email, nested members counted, read with a service account",
    settings: &[
        Setting {
            name: "subject",
            required: true,
            about: "the admin the service account impersonates (domain-wide delegation), `auth.subject`",
        },
        Setting {
            name: "customer",
            required: false,
            about: "the customer whose people are listed: `my_customer` (the default) or a customer id",
        },
        Setting {
            name: "domain",
            required: false,
            about: "list only this domain's people, instead of the whole customer",
        },
    ],
    secret: ("key", "a service account's JSON key file"),
    group_names: "a group's email address (or an alias, or Google's group id)",
    unauthorized: "that the service account has domain-wide delegation for the scopes admin.directory.user.readonly and admin.directory.group.member.readonly, and that `subject` is an admin allowed to read users and groups",
    schemes: &["https"],
    starttls: None,
    paths: &[],
    build,
    sandbox: Some(&crate::sandbox::google::KIND),
    sandbox_uses_manifest_secret: true,
};

/// Members per page: the documented maximum of `members.list`.
pub const MEMBERS_PAGE: usize = 200;
/// People per page: the documented maximum of `users.list`.
pub const USERS_PAGE: usize = 500;
/// Google's default quota: queries a minute per user per project.
const QUOTA_PER_MINUTE: u32 = 2_400;
/// Retries of a request Google refused for quota, waiting 1 s, 2 s, … 32 s: together
/// more than the minute a per-minute quota takes to refill.
const QUOTA_RETRIES: u32 = 6;

fn build(config: &SourceConfig, reach: Reach) -> Result<Box<dyn Source>, SourceError> {
    let subject = config.required("subject")?.to_owned();
    let directory = match (config.setting("customer"), config.setting("domain")) {
        (Some(_), Some(_)) => {
            return Err(SourceError::Setup {
                source_name: config.name.clone(),
                message: "the source sets both `customer` and `domain`; Google lists people by one of them".to_owned(),
            })
        }
        (_, Some(domain)) => ("domain", domain.to_owned()),
        (customer, None) => ("customer", customer.unwrap_or("my_customer").to_owned()),
    };
    let key = auth::ServiceAccount::parse(&config.name, reach.secret.expose_secret())?;
    let token_url = if reach.sandboxed {
        // The emulator serves the token endpoint beside the API and checks `aud` against
        // it; the key file's `token_uri` names Google's.
        reach.base.join("token")
    } else {
        url::Url::parse(&key.token_uri)
    }
    .map_err(|e| SourceError::Setup {
        source_name: config.name.clone(),
        message: format!("the token endpoint is not a URL: {e}"),
    })?;
    Ok(Box::new(GoogleSource {
        name: config.name.clone(),
        base: reach.base,
        token_url,
        key,
        subject,
        directory,
        parallelism: reach.parallelism.max(1),
        session: Mutex::new(None),
        spent: Arc::new(AtomicUsize::new(0)),
    }))
}

/// The reader of one `google-workspace` source.
pub struct GoogleSource {
    name: String,
    base: url::Url,
    token_url: url::Url,
    key: auth::ServiceAccount,
    subject: String,
    /// `("customer", "my_customer")` or `("domain", "example.com")`: the users list's
    /// parameter.
    directory: (&'static str, String),
    parallelism: usize,
    /// The API client with the current access token, and when the token runs out.
    session: Mutex<Option<(Arc<HttpClient>, Instant)>>,
    /// Requests of the token clients and of API clients whose token ran out.
    spent: Arc<AtomicUsize>,
}

impl GoogleSource {
    /// The API client, signing in first when there is no token or it is about to run out.
    async fn api(&self) -> Result<Arc<HttpClient>, SourceError> {
        let current = self.session.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some((client, until)) = current {
            if Instant::now() < until {
                return Ok(client);
            }
        }
        let token = auth::access_token(&self.name, &self.key, &self.subject, &self.token_url, &self.spent).await?;
        let api = HttpClient::builder(&self.name, self.base.clone())
            .auth(Some(Auth::Bearer(token.access_token)))
            .error_parser(wire::google_error)
            .max_in_flight(self.parallelism)
            .budget(Budget::per(QUOTA_PER_MINUTE, Duration::from_secs(60)).with_burst(QUOTA_PER_MINUTE / 60))
            .build()?;
        let api = Arc::new(api);
        // A minute's margin, so no request goes out with a token about to run out.
        let until = Instant::now() + token.expires_in.saturating_sub(Duration::from_secs(60));
        let old = self
            .session
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace((Arc::clone(&api), until));
        if let Some((old, _)) = old {
            self.spent.fetch_add(old.request_count(), Ordering::Relaxed);
        }
        Ok(api)
    }

    /// Every page of a list, following `nextPageToken`.
    async fn list<T, P>(
        &self,
        api: &HttpClient,
        path: &str,
        query: &[(&str, String)],
        items: fn(P) -> (Vec<T>, Option<String>),
    ) -> Result<Vec<T>, HttpError>
    where
        P: serde::de::DeserializeOwned,
    {
        let what = format!("GET {path}");
        paging::by_cursor(api, &what, |token| {
            let mut request = Request::get(path).queries(query);
            if let Some(token) = token {
                request = request.query("pageToken", token);
            }
            async move {
                let page: P = with_quota_retries(|| api.json(request.clone())).await?;
                let (items, next) = items(page);
                let more = next.is_some();
                Ok(Page::cursor(items, more, next))
            }
        })
        .await
    }

    /// A group's members, nested groups' members included, as Google lists them.
    async fn members(&self, api: &HttpClient, group: &str) -> Result<Vec<wire::Member>, SourceError> {
        let path = format!("/admin/directory/v1/groups/{}/members", path_segment(group));
        let query = [
            ("includeDerivedMembership", "true".to_owned()),
            ("maxResults", MEMBERS_PAGE.to_string()),
        ];
        self.list(api, &path, &query, |page: wire::Members| {
            (page.members, page.next_page_token)
        })
        .await
        .map_err(|e| {
            if e.is_status(404) {
                SourceError::NotFound {
                    source_name: self.name.clone(),
                    group: group.to_owned(),
                    why: " (looked up by email, alias or id)".to_owned(),
                }
            } else {
                SourceError::Http(e)
            }
        })
    }

    /// Every person of the customer (or domain), with every field (`projection=full`).
    async fn users(&self, api: &HttpClient) -> Result<Vec<wire::User>, SourceError> {
        let query = [
            (self.directory.0, self.directory.1.clone()),
            ("maxResults", USERS_PAGE.to_string()),
            ("projection", "full".to_owned()),
        ];
        let users = self
            .list(api, "/admin/directory/v1/users", &query, |page: wire::Users| {
                (page.users, page.next_page_token)
            })
            .await?;
        Ok(users)
    }

    async fn read_query(&self, query: &Query) -> Result<Snapshot, SourceError> {
        if query.groups.is_empty() && !query.everyone {
            return Ok(Snapshot::default());
        }
        let api = self.api().await?;
        let api = api.as_ref();
        // Each read has its own deadline, whether or not its token is new.
        api.begin(Operation::Read);
        // The users list and every group's members at once; each list's pages follow
        // one another, as page tokens do.
        let users = self.users(api);
        // Owned names: a closure over borrowed ones makes the future not `Send` for every
        // lifetime, which the boxed future needs.
        let names: Vec<String> = query.groups.iter().cloned().collect();
        let groups = stream::iter(names.into_iter().map(|name| async move {
            let members = self.members(api, &name).await?;
            Ok::<_, SourceError>((name, members))
        }))
        .buffer_unordered(self.parallelism)
        .try_collect::<Vec<_>>();
        let (users, groups) = futures_util::try_join!(users, groups)?;
        Ok(convert::snapshot(users, groups, query.everyone))
    }
}

/// Sends a request again while Google refuses it for quota (a 403 the shared client does
/// not retry), with truncated exponential backoff and jitter.
async fn with_quota_retries<T, F, Fut>(mut send: F) -> Result<T, HttpError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, HttpError>>,
{
    let mut retry = 0;
    loop {
        match send().await {
            Err(e) if retry < QUOTA_RETRIES && wire::is_quota(&e) => {
                let jitter = jitter_ms();
                tokio::time::sleep(Duration::from_secs(1 << retry) + Duration::from_millis(jitter)).await;
                retry += 1;
            }
            other => return other,
        }
    }
}

/// Up to a second, so readers refused together do not come back together.
fn jitter_ms() -> u64 {
    // Without randomness the wait is the plain backoff, which still keeps the quota.
    getrandom::u64().unwrap_or(0) % 1_000
}

impl Source for GoogleSource {
    fn read<'a>(&'a self, query: &'a Query) -> BoxFuture<'a, Result<Snapshot, SourceError>> {
        Box::pin(self.read_query(query))
    }

    fn requests(&self) -> usize {
        let current = self
            .session
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, |(api, _)| api.request_count());
        self.spent.load(Ordering::Relaxed) + current
    }
}

/// A group in the snapshot: Google's members list does not give the group's id or name,
/// and reading them would cost a request per group, so both are the key it was asked by.
fn group(name: &str) -> Group {
    Group {
        id: name.to_owned(),
        name: name.to_owned(),
        ..Group::default()
    }
}
