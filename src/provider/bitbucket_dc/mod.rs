//! The Bitbucket Data Center provider: REST API 1.0 under `{base}/rest/api/latest`.
//!
//! Reading uses the paged admin and permission lists at the largest page size, all at
//! once with a per-target cap on requests in flight. The only per-object lists are the
//! members of each group (the API has no bulk membership list) and the permissions of the
//! projects and repositories the manifest names (of every one, listed first, when the
//! read scope asks for everything).

mod convert;
mod platform;
mod wire;

pub use platform::PLATFORM;
#[cfg(test)]
pub(crate) use platform::SPEC;

/// The provider of a target, for the registry.
pub(crate) fn provider(
    config: &crate::desired::TargetConfig,
    base: url::Url,
    auth: Option<Auth>,
) -> Result<Box<dyn Provider>, HttpError> {
    Ok(Box::new(BitbucketDc::new(
        &config.name,
        base,
        auth,
        config.scope.clone(),
        config.notify_new_users,
    )?))
}

use std::collections::BTreeSet;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::desired::ReadScope;
use crate::http::paging::{self, Page};
use crate::http::{Auth, HttpClient, HttpError, Idempotent, Operation, Request};
use crate::model::{Address, Principal, Resource, ResourceId, ResourceMap};
use crate::plan::{Action, Change};
use crate::provider::{BoxFuture, Provider, ProviderError};

use convert::Scope;

/// Bitbucket's cap on `limit` (the server's `page.max` default).
const PAGE_LIMIT: usize = 1000;
/// Requests in flight per target while reading.
const READ_CONCURRENCY: usize = 8;
const API: &str = "/rest/api/latest";

pub struct BitbucketDc {
    target: String,
    http: HttpClient,
    scope: ReadScope,
    notify_new_users: bool,
}

impl BitbucketDc {
    pub fn new(
        target: &str,
        base: url::Url,
        auth: Option<Auth>,
        scope: ReadScope,
        notify_new_users: bool,
    ) -> Result<Self, HttpError> {
        let http = HttpClient::builder(target, base)
            .auth(auth)
            .error_parser(wire::error_message)
            .build()?;
        Ok(BitbucketDc {
            target: target.to_owned(),
            http,
            scope,
            notify_new_users,
        })
    }

    /// Every page of a list, following `nextPageStart` until `isLastPage`.
    async fn list<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<T>, HttpError> {
        let path = format!("{API}{path}");
        paging::by_offset(&self.http, &format!("GET {path}"), 0, |start| {
            let request = Request::get(&path)
                .queries(query)
                .query("start", start)
                .query("limit", PAGE_LIMIT);
            async move {
                let page: wire::Page<T> = self.http.json(request).await?;
                Ok(Page::start_limit(page.values, page.is_last_page, page.next_page_start))
            }
        })
        .await
    }

    async fn read_all(&self) -> Result<ResourceMap, ProviderError> {
        self.http.begin(Operation::Read);
        // Each read is one paged list; they run together, capped per target.
        let mut reads: Vec<Read> = vec![Read::Users(None), Read::Groups(None), Read::Grants(Scope::Global)];
        for scope in self.scopes().await? {
            if let Scope::Project(project) = &scope {
                reads.push(Read::Default(project.clone()));
            }
            if !matches!(scope, Scope::Global) {
                reads.push(Read::Grants(scope));
            }
        }
        let mut live = ResourceMap::new();
        let results: Vec<Vec<(Address, Resource)>> = stream::iter(reads.into_iter().map(|r| self.read_one(r)))
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        // Members of the declared groups (all groups when groups are pruned), of groups
        // holding ADMIN or SYS_ADMIN (the safety rules count administrators), and the
        // groups of offboarded people and of the token's own account: per container, so
        // only what the plan and its checks need.
        let mut wanted: BTreeSet<String> = self.scope.member_groups.iter().map(|g| g.to_lowercase()).collect();
        wanted.extend(results.iter().flatten().filter_map(|(a, r)| match (&a.id, r) {
            (
                ResourceId::Grant {
                    scope,
                    principal: Principal::Group(g),
                },
                Resource::Permission { permission },
            ) if PLATFORM.is_admin(scope, permission) => Some(g.to_lowercase()),
            _ => None,
        }));
        let mut member_reads: Vec<Read> = results
            .iter()
            .flatten()
            .filter_map(|(a, _)| match &a.id {
                ResourceId::Group { name } => Some(name.clone()),
                _ => None,
            })
            .filter(|g| self.scope.all_group_members || wanted.contains(&g.to_lowercase()))
            .map(Read::Members)
            .collect();
        let live_users: BTreeSet<String> = results
            .iter()
            .flatten()
            .filter_map(|(a, _)| match &a.id {
                ResourceId::User { name } => Some(name.to_lowercase()),
                _ => None,
            })
            .collect();
        member_reads.extend(
            self.scope
                .member_users
                .iter()
                .filter(|u| live_users.contains(&u.to_lowercase()))
                .cloned()
                .map(Read::GroupsOf),
        );
        live.extend(results.into_iter().flatten());
        let members: Vec<Vec<(Address, Resource)>> = stream::iter(member_reads.into_iter().map(|r| self.read_one(r)))
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        live.extend(members.into_iter().flatten());
        Ok(live)
    }

    /// The scopes whose permissions are read: the ones the manifest names, or, when the
    /// read scope asks for everything, every project and repository the target lists (a
    /// request per project for its repositories).
    async fn scopes(&self) -> Result<Vec<Scope>, HttpError> {
        if !self.scope.everything {
            return Ok(self.scope.scopes.iter().filter_map(Scope::from_path).collect());
        }
        let keys: Vec<String> = self
            .list::<wire::Project>("/projects", &[])
            .await?
            .into_iter()
            .map(|p| p.key)
            .collect();
        let repos = keys.into_iter().map(|key| async move {
            let slugs = self
                .list::<wire::Repository>(&format!("/projects/{}/repos", seg(&key)), &[])
                .await?;
            Ok::<_, HttpError>((key, slugs))
        });
        let listed: Vec<(String, Vec<wire::Repository>)> = stream::iter(repos)
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut scopes = Vec::new();
        for (key, repos) in listed {
            scopes.extend(repos.into_iter().map(|r| Scope::Repo(key.clone(), r.slug)));
            scopes.push(Scope::Project(key));
        }
        Ok(scopes)
    }

    async fn read_one(&self, read: Read) -> Result<Vec<(Address, Resource)>, ProviderError> {
        let t = self.target.as_str();
        Ok(match read {
            Read::Users(filter) => self
                .list::<wire::User>("/admin/users", &filter_query(filter))
                .await?
                .into_iter()
                .map(|u| convert::user(t, u))
                .collect(),
            Read::Groups(filter) => self
                .list::<wire::Group>("/admin/groups", &filter_query(filter))
                .await?
                .into_iter()
                .map(|g| (Address::new(t, ResourceId::Group { name: g.name }), Resource::group()))
                .collect(),
            Read::Members(group) => self
                .list::<wire::User>("/admin/groups/more-members", &[("context", group.clone())])
                .await?
                .into_iter()
                .map(|u| {
                    (
                        Address::new(
                            t,
                            ResourceId::Membership {
                                group: group.clone(),
                                user: u.name,
                            },
                        ),
                        Resource::membership(),
                    )
                })
                .collect(),
            Read::GroupsOf(user) => self
                .list::<wire::Group>("/admin/users/more-members", &[("context", user.clone())])
                .await?
                .into_iter()
                .map(|g| {
                    (
                        Address::new(
                            t,
                            ResourceId::Membership {
                                group: g.name,
                                user: user.clone(),
                            },
                        ),
                        Resource::membership(),
                    )
                })
                .collect(),
            Read::Grants(scope) => {
                let base = permissions_path(&scope);
                let users = self.list::<wire::PermittedUser>(&format!("{base}/users"), &[]).await?;
                let groups = self
                    .list::<wire::PermittedGroup>(&format!("{base}/groups"), &[])
                    .await?;
                users
                    .into_iter()
                    .map(|p| convert::user_grant(t, &scope, p))
                    .chain(groups.into_iter().map(|p| convert::group_grant(t, &scope, p)))
                    .collect()
            }
            Read::Default(project) => {
                let key = seg(&project);
                let read: wire::Permitted = self
                    .http
                    .json(Request::get(format!(
                        "{API}/projects/{key}/permissions/PROJECT_READ/all"
                    )))
                    .await?;
                let write: wire::Permitted = self
                    .http
                    .json(Request::get(format!(
                        "{API}/projects/{key}/permissions/PROJECT_WRITE/all"
                    )))
                    .await?;
                convert::project_default(t, &project, read.permitted, write.permitted)
                    .into_iter()
                    .collect()
            }
        })
    }

    /// Every write but a create is safe to send twice here (an update, a delete, members
    /// added or removed, a permission or flag set to a value): the client retries it after
    /// any failure worth another attempt, and `apply` confirms an ambiguous outcome by
    /// reading back.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<serde_json::Value>,
    ) -> Result<(), ProviderError> {
        let mut request = Request::new(method, format!("{API}{path}"), Idempotent::Yes).queries(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.http.send(request).await?;
        Ok(())
    }

    /// A create is not safe to send twice: a second copy answers 409 and hides whether the
    /// first landed. When its answer is lost, the object is read back instead: there as
    /// planned, the change is done; absent, nothing landed and it is sent again (at most
    /// [`SENDS`] copies in all); anything else, the change failed.
    async fn create(&self, changes: &[Change], path: &str, query: &[(&str, String)]) -> Result<(), ProviderError> {
        let request = Request::new(Method::POST, format!("{API}{path}"), Idempotent::No).queries(query);
        let mut sends = 0;
        loop {
            sends += 1;
            let mut e = match self.http.send(request.clone().resent(sends > 1)).await {
                Ok(_) => return Ok(()),
                Err(e) if e.may_have_been_applied() => e,
                Err(e) => return Err(e.into()),
            };
            match self.read_back(changes).await? {
                ReadBack::Applied => {
                    tracing::debug!(target: "rollcall::http", target_name = %self.target, request = %e.request, "a create whose answer was lost had been applied; confirmed by reading back");
                    return Ok(());
                }
                ReadBack::Untouched if sends < SENDS => continue,
                ReadBack::Untouched => {
                    e.detail.push_str("; reading back found it not applied");
                    return Err(e.into());
                }
                ReadBack::Other => {
                    e.detail
                        .push_str("; reading back found the object, but not as the change leaves it");
                    return Err(e.into());
                }
            }
        }
    }

    async fn apply_batch(&self, changes: &[Change]) -> Result<(), ProviderError> {
        let Some(first) = changes.first() else { return Ok(()) };
        match (&first.address.id, first.action, &first.after) {
            (ResourceId::User { name }, Action::Create, Some(Resource::User(u))) => {
                let mut q = vec![
                    ("name", name.clone()),
                    ("displayName", u.display_name.clone()),
                    ("emailAddress", u.email.clone()),
                    // Memberships are the manifest's business, not the instance default's.
                    ("addToDefaultGroup", "false".to_owned()),
                    ("notify", self.notify_new_users.to_string()),
                ];
                if !self.notify_new_users {
                    // A throwaway password nobody knows: the person resets it or signs in via SSO.
                    let password = crate::http::random_hex(32).map_err(|e| {
                        self.unsupported(first, &format!("no random password could be made for it: {e}"))
                    })?;
                    q.push(("password", password));
                }
                self.create(changes, "/admin/users", &q).await
            }
            (ResourceId::User { name }, Action::Update, Some(Resource::User(u))) => {
                let body = json!({ "name": name, "displayName": u.display_name, "email": u.email });
                self.send(Method::PUT, "/admin/users", &[], Some(body)).await
            }
            (ResourceId::User { name }, Action::Delete, _) => {
                self.send(Method::DELETE, "/admin/users", &[("name", name.clone())], None)
                    .await
            }
            (ResourceId::Group { name }, Action::Create, _) => {
                self.create(changes, "/admin/groups", &[("name", name.clone())]).await
            }
            (ResourceId::Group { name }, Action::Delete, _) => {
                self.send(Method::DELETE, "/admin/groups", &[("name", name.clone())], None)
                    .await
            }
            (ResourceId::Membership { group, .. }, Action::Create, _) => {
                let users: Vec<&str> = changes
                    .iter()
                    .filter_map(|c| match &c.address.id {
                        ResourceId::Membership { user, .. } => Some(user.as_str()),
                        _ => None,
                    })
                    .collect();
                self.send(
                    Method::POST,
                    "/admin/groups/add-users",
                    &[],
                    Some(json!({ "group": group, "users": users })),
                )
                .await
            }
            (ResourceId::Membership { group, user }, Action::Delete, _) => {
                // `groups/remove-user` is deprecated in the 9.4 description; this is its
                // documented counterpart.
                self.send(
                    Method::POST,
                    "/admin/users/remove-group",
                    &[],
                    Some(json!({ "context": user, "itemName": group })),
                )
                .await
            }
            (ResourceId::Default { scope }, _, after) => {
                let Some(Scope::Project(project)) = Scope::from_path(scope) else {
                    return Err(
                        self.unsupported(first, "Bitbucket Data Center has an all-users default on projects only")
                    );
                };
                let wanted = match after {
                    Some(Resource::Default { permission }) => permission.clone(),
                    _ => None,
                };
                self.set_project_default(&project, wanted.as_deref()).await
            }
            (id, action, after) => {
                let Some((scope, principal)) = grant_scope(id) else {
                    return Err(self.unsupported(first, "this kind of change has no Bitbucket Data Center call"));
                };
                let base = permissions_path(&scope);
                let (kind, name) = match &principal {
                    Principal::User(n) => ("users", n.clone()),
                    Principal::Group(n) => ("groups", n.clone()),
                };
                match (action, after) {
                    (Action::Create | Action::Update, Some(Resource::Permission { permission })) => {
                        let mut q: Vec<(&str, String)> = changes
                            .iter()
                            .filter_map(|c| grant_scope(&c.address.id))
                            .map(|(_, p)| match p {
                                Principal::User(n) | Principal::Group(n) => ("name", n),
                            })
                            .collect();
                        q.push(("permission", permission.clone()));
                        self.send(Method::PUT, &format!("{base}/{kind}"), &q, None).await
                    }
                    (Action::Delete, _) => {
                        self.send(Method::DELETE, &format!("{base}/{kind}"), &[("name", name)], None)
                            .await
                    }
                    _ => Err(self.unsupported(first, "a permission change needs a permission")),
                }
            }
        }
    }

    /// The API holds the default as two flags; clear the stronger one before granting the
    /// weaker, so the result never briefly exceeds what the manifest asks for.
    async fn set_project_default(&self, project: &str, wanted: Option<&str>) -> Result<(), ProviderError> {
        let key = seg(project);
        let key = key.as_str();
        let set = |perm: &'static str, allow: bool| async move {
            self.send(
                Method::POST,
                &format!("/projects/{key}/permissions/{perm}/all"),
                &[("allow", allow.to_string())],
                None,
            )
            .await
        };
        match wanted {
            Some("PROJECT_WRITE") => set("PROJECT_WRITE", true).await,
            Some("PROJECT_READ") => {
                set("PROJECT_WRITE", false).await?;
                set("PROJECT_READ", true).await
            }
            _ => {
                set("PROJECT_WRITE", false).await?;
                set("PROJECT_READ", false).await
            }
        }
    }

    /// An attempt may have been applied before its answer was lost, so the final error (a
    /// 409 "already exists", a 404 on a delete, or a timeout) may describe a change that
    /// in fact went through. Read back each change's object: if live state is what the
    /// changes leave, they are applied; otherwise the error stands.
    async fn confirm(&self, changes: &[Change], error: HttpError) -> Result<(), ProviderError> {
        if self.read_back(changes).await? != ReadBack::Applied {
            return Err(error.into());
        }
        tracing::debug!(target: "rollcall::http", target_name = %self.target, changes = changes.len(), "an uncertain request had been applied; confirmed by reading back");
        Ok(())
    }

    /// Reads each change's object as it is now and compares it with the change.
    async fn read_back(&self, changes: &[Change]) -> Result<ReadBack, ProviderError> {
        let (mut applied, mut untouched) = (true, true);
        for c in changes {
            // A scope Bitbucket has no list for cannot be read back: nothing is known.
            let Some(read) = container(&c.address.id) else {
                return Ok(ReadBack::Other);
            };
            let found = self.read_one(read).await?;
            let want = c.address.to_string().to_lowercase();
            let live = found
                .iter()
                .find(|(a, _)| a.to_string().to_lowercase() == want)
                .map(|(_, r)| r);
            let is = |expected: Option<&Resource>| match (expected, live) {
                (None, None) => true,
                (Some(Resource::Default { permission: None }), None) => true,
                (Some(expected), Some(live)) => expected == live,
                _ => false,
            };
            applied &= is(c.after.as_ref());
            untouched &= is(c.before.as_ref());
        }
        Ok(if applied {
            ReadBack::Applied
        } else if untouched {
            ReadBack::Untouched
        } else {
            ReadBack::Other
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

/// How many times a create whose answer was lost is sent, when reading back shows
/// each earlier copy did not land.
const SENDS: u32 = 3;

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
        ResourceId::User { name } => Read::Users(Some(name.clone())),
        ResourceId::Group { name } => Read::Groups(Some(name.clone())),
        ResourceId::Membership { group, .. } => Read::Members(group.clone()),
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

/// Project keys and slugs are validated to URL-safe characters by `resolve`; encoding
/// anyway keeps a strange live name (a read of everything lists whatever the target has)
/// from changing the path. Form encoding writes a space as `+`, which a path reads as a
/// plus sign; every `+` it leaves was a space (a real `+` becomes `%2B`).
fn seg(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl Provider for BitbucketDc {
    fn read(&self) -> BoxFuture<'_, Result<ResourceMap, ProviderError>> {
        Box::pin(self.read_all())
    }

    fn batch_key(&self, change: &Change) -> Option<String> {
        if let (ResourceId::Membership { group, .. }, Action::Create) = (&change.address.id, change.action) {
            return Some(format!("add-users {group}"));
        }
        // Global and repository grants take several `name`s per call; project grants
        // take one.
        let (Some((scope, principal)), Action::Create | Action::Update, Some(Resource::Permission { permission })) =
            (grant_scope(&change.address.id), change.action, &change.after)
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
