//! Microsoft Entra ID, read through Microsoft Graph v1.0 with an app registration's client
//! secret (OAuth 2.0 client credentials; `specs/msgraph-users-groups.openapi.yaml`).
//!
//! What it sends for a [`Query`], every list at Graph's largest page (`$top=999`),
//! following `@odata.nextLink` verbatim:
//!
//! 1. `POST {login_url}/{tenant}/oauth2/v2.0/token`, the form `client_id`,
//!    `client_secret`, `scope`, `grant_type=client_credentials` and no Authorization
//!    header, as Microsoft documents the client-credentials request: one token (renewed,
//!    one more request, only if a read outlasts it);
//! 2. with `everyone`: `GET /v1.0/users?$select=…`;
//! 3. for the groups asked for: `GET /v1.0/groups?$filter=id in (…) or displayName in
//!    (…)&$select=id,displayName`, [`wire::FILTER_VALUES`] names or ids a request;
//! 4. for each distinct group found: `GET /v1.0/groups/{id}/transitiveMembers?$select=…`,
//!    which Graph flattens itself (nested groups counted by the vendor, never walked here).
//!
//! The plain `transitiveMembers` rather than its `microsoft.graph.user` cast: every member
//! comes with its `@odata.type`, so devices, service principals and contacts are counted
//! in `Group::skipped` (the cast would hide them), nested groups are recognised and left
//! out (their members are in the list already), and the description has no cast path on
//! `transitiveMembers` at all.
//!
//! **Requests for a query** (`U` users in the tenant, `G` groups asked for, `T_g` the
//! transitive members of group `g` of every type, nested groups included, over the `D`
//! distinct groups found; `⌈x⌉` rounds up, and an empty list is still one page):
//!
//! ```text
//! 1 + [everyone] · max(1, ⌈U / 999⌉) + ⌈G / 15⌉ + Σ_g max(1, ⌈T_g / 999⌉)
//! ```
//!
//! Retries (429 with `Retry-After`, 503) come on top. Graph counts *resource units* per
//! app and tenant in 10-second buckets (3,500 for a tenant under 50 users); the costliest
//! call here is 4 units (`transitiveMembers` 5, less 1 for `$select`), so the client is
//! paced to 875 requests per 10 seconds and honours `Retry-After` on a 429 beyond that.

mod wire;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::time::Instant;

use super::registry::{Setting, SourceKind};
use super::{Group, Person, Query, Reach, Snapshot, Source, SourceConfig, SourceError};
use crate::http::paging::{self, Page};
use crate::http::{path_segment, Auth, Budget, HttpClient, Idempotent, Operation, Request};
use crate::provider::BoxFuture;

pub static KIND: SourceKind = SourceKind {
    kind: "entra-id",
    summary: "Microsoft Entra ID users and groups, read through Microsoft Graph with an app registration's client secret",
    settings: &[
        Setting {
            name: "tenant",
            required: true,
            about: "the directory (tenant) id, or a verified domain such as contoso.onmicrosoft.com",
        },
        Setting {
            name: "client_id",
            required: true,
            about: "the app registration's application (client) id (`auth.client_id`)",
        },
        Setting {
            name: "login_url",
            required: false,
            about: "the Microsoft identity platform's address (default https://login.microsoftonline.com; a national cloud's otherwise)",
        },
    ],
    secret: ("client_secret", "the app registration's client secret"),
    group_names: "a group's displayName, exactly, or its object id (a GUID)",
    unauthorized: "the client secret (and that it has not expired), the tenant, and the application permissions User.Read.All and GroupMember.Read.All with admin consent",
    schemes: &["https"],
    starttls: None,
    paths: &[],
    build,
    sandbox: Some(&crate::sandbox::entra::KIND),
    sandbox_uses_manifest_secret: false,
};

/// Where tokens come from unless the manifest says otherwise.
const LOGIN_URL: &str = "https://login.microsoftonline.com";

/// The scope a client-credentials token for Graph asks for: every application permission
/// the app was granted, on Graph. The sandbox's token endpoint expects the public cloud's.
const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// Requests in flight at once: Graph's guidance is to keep a client's concurrency modest
/// and let `Retry-After` speak; 8 keeps a large tenant's group reads quick.
const MAX_IN_FLIGHT: usize = 8;

fn build(config: &SourceConfig, reach: Reach) -> Result<Box<dyn Source>, SourceError> {
    let setup = |message: String| SourceError::Setup {
        source_name: config.name.clone(),
        message,
    };
    let tenant = config.required("tenant")?.to_owned();
    let client_id = config.required("client_id")?.to_owned();
    // Graph's paths are written with their version (`/v1.0/users`): a URL that names it
    // too is the same Graph.
    let mut graph_base = reach.base.clone();
    let path = graph_base.path().trim_end_matches('/').to_owned();
    if let Some(root) = path.strip_suffix("/v1.0") {
        graph_base.set_path(root);
    }
    // The emulator serves the token endpoint itself; a real tenant's is Microsoft's.
    let login = if reach.sandboxed {
        graph_base.clone()
    } else {
        let text = config.setting("login_url").unwrap_or(LOGIN_URL);
        let url = url::Url::parse(text).map_err(|e| setup(format!("`login_url` {text} is not a URL: {e}")))?;
        if url.scheme() != "https" {
            return Err(setup(format!(
                "`login_url` {text} must be https: it receives the client secret"
            )));
        }
        url
    };
    // A national cloud's Graph (graph.microsoft.us, …) wants its own origin as the scope.
    let scope = if reach.sandboxed {
        GRAPH_SCOPE.to_owned()
    } else {
        format!("{}/.default", reach.base.origin().ascii_serialization())
    };
    // The client id and secret go in the form, as Microsoft documents the request
    // (`client_secret_post`): no Authorization header. The secret is scrubbed from
    // anything the endpoint answers, as sent and as the form encoded it.
    let encoded: String = url::form_urlencoded::byte_serialize(reach.secret.expose_secret().as_bytes()).collect();
    let token = HttpClient::builder(&config.name, login)
        .auth(None)
        .redact(reach.secret.clone())
        .redact(SecretString::from(encoded))
        .error_parser(wire::token_error)
        .max_in_flight(1)
        .build()?;
    let token = Arc::new(token);
    Ok(Box::new(EntraSource {
        name: config.name.clone(),
        tenant,
        client_id,
        scope,
        graph_base,
        secret: reach.secret,
        parallelism: reach.parallelism.clamp(1, MAX_IN_FLIGHT),
        clients: Mutex::new(vec![Arc::clone(&token)]),
        token,
        session: tokio::sync::Mutex::new(None),
    }))
}

/// The reader of one Entra ID tenant.
struct EntraSource {
    name: String,
    tenant: String,
    client_id: String,
    scope: String,
    graph_base: url::Url,
    secret: SecretString,
    parallelism: usize,
    /// Sends the token requests: no credentials of its own, the client id and secret in
    /// each request's form.
    token: Arc<HttpClient>,
    /// Every client made so far (the token client, one Graph client per token), for
    /// `requests`.
    clients: Mutex<Vec<Arc<HttpClient>>>,
    session: tokio::sync::Mutex<Option<Session>>,
}

/// A Graph client carrying one access token, and when to stop using it.
struct Session {
    graph: Arc<HttpClient>,
    renew_at: Instant,
}

impl EntraSource {
    /// The Graph client with a token good for a while yet, asking for one if needed.
    async fn graph(&self) -> Result<Arc<HttpClient>, SourceError> {
        let mut session = self.session.lock().await;
        if let Some(current) = session.as_ref().filter(|s| Instant::now() < s.renew_at) {
            return Ok(Arc::clone(&current.graph));
        }
        let asked = Instant::now();
        let answer = self.ask_token().await?;
        if !answer.token_type.eq_ignore_ascii_case("bearer") {
            return Err(self.protocol(format!(
                "the token endpoint answered a `{}` token, not a Bearer token",
                answer.token_type
            )));
        }
        let lifetime = Duration::from_secs(answer.expires_in);
        // Renewed a little before it runs out (a minute, or a quarter of a short life), so
        // no page is sent with a token that expires on the way.
        let margin = Duration::from_secs(60).min(lifetime / 4);
        let graph = HttpClient::builder(&self.name, self.graph_base.clone())
            .auth(Some(Auth::Bearer(SecretString::from(answer.access_token))))
            .error_parser(wire::graph_error)
            .max_in_flight(self.parallelism)
            // The costliest call is 4 resource units and the smallest tenant's bucket 3,500
            // per 10 s: 875 requests per 10 s can never empty it.
            .budget(Budget::per(875, Duration::from_secs(10)))
            .redact(self.secret.clone())
            .build()?;
        graph.begin(Operation::Read);
        let graph = Arc::new(graph);
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&graph));
        *session = Some(Session {
            graph: Arc::clone(&graph),
            renew_at: asked + lifetime - margin,
        });
        Ok(graph)
    }

    async fn ask_token(&self) -> Result<wire::TokenAnswer, SourceError> {
        let path = format!("/{}/oauth2/v2.0/token", path_segment(&self.tenant));
        // Asking again for a token changes nothing: safe to send twice.
        let request = Request::new(Method::POST, path, Idempotent::Yes).form(vec![
            ("client_id", SecretString::from(self.client_id.clone())),
            ("client_secret", self.secret.clone()),
            ("scope", SecretString::from(self.scope.clone())),
            ("grant_type", SecretString::from("client_credentials")),
        ]);
        Ok(self.token.json(request).await?)
    }

    /// Every item of a Graph list, first page at `path` with `query`, then each
    /// `@odata.nextLink` as Graph wrote it (the pager sends it only to Graph's origin).
    async fn list(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<BTreeMap<String, Value>>, SourceError> {
        let first = self.graph().await?;
        let what = format!("GET {path}");
        let (first, what) = (&first, what.as_str());
        let items = paging::by_link(first, what, |next| async move {
            let request = match next {
                None => Request::get(path).queries(query),
                Some(link) => Request::link(link),
            };
            let graph = self.graph().await.map_err(|e| match e {
                SourceError::Http(e) => e,
                other => first.bad_answer(what, other.to_string()),
            })?;
            let page: wire::Collection = graph.json(request).await?;
            Ok(Page::next_link(page.value, page.next_link))
        })
        .await?;
        Ok(items)
    }

    /// The groups asked for, by the name they were asked by: GUIDs by object id, other
    /// names by exact display name, [`wire::FILTER_VALUES`] a request.
    async fn resolve(&self, asked: &BTreeSet<String>) -> Result<BTreeMap<String, wire::GroupRef>, SourceError> {
        let asked: Vec<&str> = asked.iter().map(String::as_str).collect();
        // Owned batches: a stream over borrowed ones is not `Send` for every lifetime.
        let batches: Vec<Vec<String>> = asked
            .chunks(wire::FILTER_VALUES)
            .map(|batch| batch.iter().map(|n| (*n).to_owned()).collect())
            .collect();
        let found: Vec<wire::GroupRef> = stream::iter(batches)
            .map(|batch: Vec<String>| async move {
                let (ids, names): (Vec<&str>, Vec<&str>) =
                    batch.iter().map(String::as_str).partition(|n| wire::is_guid(n));
                let query = [
                    ("$filter", wire::group_filter(&ids, &names)),
                    ("$select", "id,displayName".to_owned()),
                    ("$top", wire::PAGE_SIZE.to_string()),
                ];
                let items = self.list("/v1.0/groups", &query).await?;
                Ok::<_, SourceError>(items.iter().filter_map(wire::GroupRef::from_item).collect::<Vec<_>>())
            })
            .buffer_unordered(self.parallelism)
            .try_concat()
            .await?;
        let mut out = BTreeMap::new();
        for name in asked {
            let matches: Vec<&wire::GroupRef> = if wire::is_guid(name) {
                found.iter().filter(|g| g.id.eq_ignore_ascii_case(name)).collect()
            } else {
                // Graph compares display names without regard to case; the manifest names
                // a group exactly.
                found.iter().filter(|g| g.display_name == name).collect()
            };
            let by = if wire::is_guid(name) {
                "object id"
            } else {
                "displayName"
            };
            match matches.as_slice() {
                [] => {
                    return Err(SourceError::NotFound {
                        source_name: self.name.clone(),
                        group: name.to_owned(),
                        why: format!(" (searched by {by})"),
                    })
                }
                [one] => {
                    out.insert(name.to_owned(), (*one).clone());
                }
                many => {
                    return Err(SourceError::Ambiguous {
                        source_name: self.name.clone(),
                        group: name.to_owned(),
                        count: many.len(),
                    })
                }
            }
        }
        Ok(out)
    }

    /// A group's members, nested groups flattened by Graph: people, and how many members
    /// were neither people nor groups.
    async fn members(&self, group: &wire::GroupRef) -> Result<(Vec<Person>, usize), SourceError> {
        let path = format!("/v1.0/groups/{}/transitiveMembers", path_segment(&group.id));
        let items = self.list(&path, &user_query()).await.map_err(|e| match e {
            // Deleted between finding it and reading it.
            SourceError::Http(e) if e.is_status(404) => SourceError::NotFound {
                source_name: self.name.clone(),
                group: group.display_name.clone(),
                why: format!(" (object id {} is gone)", group.id),
            },
            other => other,
        })?;
        let mut people = Vec::new();
        let mut skipped = 0;
        for item in &items {
            match item.get("@odata.type").and_then(Value::as_str) {
                Some("#microsoft.graph.user") => people.push(self.person(item)?),
                // A nested group: Graph lists its members too, so it is neither a person
                // nor left out.
                Some("#microsoft.graph.group") => {}
                // Devices, service principals, contacts, and anything typed otherwise.
                _ => skipped += 1,
            }
        }
        Ok((people, skipped))
    }

    fn person(&self, item: &BTreeMap<String, Value>) -> Result<Person, SourceError> {
        let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_owned);
        let id = text("id").ok_or_else(|| self.protocol("Graph listed a user without an `id`".to_owned()))?;
        // Returned on `$select`; an account Graph does not say is enabled cannot be
        // counted on to sign in.
        let enabled = item.get("accountEnabled").and_then(Value::as_bool).unwrap_or(false);
        let attributes = item
            .iter()
            .filter(|(key, _)| !key.starts_with('@'))
            .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
            .collect();
        Ok(Person {
            id,
            login: text("userPrincipalName"),
            email: text("mail"),
            display_name: text("displayName"),
            department: text("department"),
            status: if enabled { "enabled" } else { "disabled" }.to_owned(),
            active: enabled,
            attributes,
        })
    }

    fn protocol(&self, message: String) -> SourceError {
        SourceError::Protocol {
            source_name: self.name.clone(),
            message,
        }
    }

    async fn read_all(&self, query: &Query) -> Result<Snapshot, SourceError> {
        // A fresh token for each read: reads are minutes apart at most once a plan.
        *self.session.lock().await = None;
        let mut snapshot = Snapshot::default();
        if query.everyone {
            for item in self.list("/v1.0/users", &user_query()).await? {
                let person = self.person(&item)?;
                snapshot.people.insert(person.id.clone(), person);
            }
        }
        if query.groups.is_empty() {
            // No group to look up: the token alone (and `everyone`) is the whole read.
            if !query.everyone {
                self.graph().await?;
            }
            return Ok(snapshot);
        }
        let resolved = self.resolve(&query.groups).await?;
        // Two names for one group (its name and its id) read it once.
        let distinct: BTreeMap<&str, &wire::GroupRef> = resolved.values().map(|g| (g.id.as_str(), g)).collect();
        let distinct: Vec<wire::GroupRef> = distinct.into_values().cloned().collect();
        let read: BTreeMap<String, (Vec<Person>, usize)> = stream::iter(distinct)
            .map(|group: wire::GroupRef| async move {
                let read = self.members(&group).await?;
                Ok::<_, SourceError>((group.id, read))
            })
            .buffer_unordered(self.parallelism)
            .try_collect()
            .await?;
        for (asked, group) in resolved {
            let Some((people, skipped)) = read.get(&group.id) else {
                continue;
            };
            let members = people.iter().map(|p| p.id.clone()).collect();
            for person in people {
                snapshot
                    .people
                    .entry(person.id.clone())
                    .or_insert_with(|| person.clone());
            }
            snapshot.groups.insert(
                asked,
                Group {
                    id: group.id,
                    name: group.display_name,
                    members,
                    skipped: *skipped,
                },
            );
        }
        Ok(snapshot)
    }
}

/// `$select` with every user property the reader uses, at the largest page.
fn user_query() -> [(&'static str, String); 2] {
    [
        ("$select", wire::USER_SELECT.join(",")),
        ("$top", wire::PAGE_SIZE.to_string()),
    ]
}

impl Source for EntraSource {
    fn read<'a>(&'a self, query: &'a Query) -> BoxFuture<'a, Result<Snapshot, SourceError>> {
        Box::pin(self.read_all(query))
    }

    fn requests(&self) -> usize {
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|c| c.request_count())
            .sum()
    }
}
