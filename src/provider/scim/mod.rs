//! The SCIM 2.0 provider (RFC 7643/7644), for any SCIM service: users, groups and group
//! members. What differs between services is data, a [`Profile`].
//!
//! Reading is two paged lists, `/Users` and `/Groups` (members come inside each group), at
//! the largest page size the profile names, read at the same time. Objects are matched by
//! `userName` and `displayName` without regard to case, as RFC 7643 makes both
//! case-insensitive. What a change needs later (the server's id, the version for
//! `If-Match`, the object as read for a PUT) is remembered from the read and from each
//! answer.
//!
//! Writes change only what the plan changes: PATCH operations on the managed attributes,
//! or, where the profile has no PATCH, a PUT of the object as read with only those
//! attributes changed, so nothing the manifest does not manage is cleared.

mod platform;
mod profile;
mod wire;

pub use platform::{profile_of, ATLASSIAN_PLATFORM, RFC_PLATFORM};

/// The provider of a target, for the registry.
pub(crate) fn provider(
    config: &crate::desired::TargetConfig,
    base: url::Url,
    auth: Option<Auth>,
) -> Result<Box<dyn Provider>, HttpError> {
    let profile = platform::profile_of(config.platform).unwrap_or(RFC);
    Ok(Box::new(Scim::new(&config.name, base, auth, profile)?))
}

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::future::try_join;
use reqwest::Method;
use serde_json::{json, Map, Value};
use tokio::sync::OwnedMutexGuard;

use crate::http::paging::{self, Page};
use crate::http::{Auth, HttpClient, HttpError, Idempotent, Operation, Request};
use crate::model::{Address, Resource, ResourceId, ResourceMap, UserAttrs};
use crate::plan::{Action, Change};
use crate::provider::{BoxFuture, Provider, ProviderError};

pub use profile::{Profile, ProfileName, ATLASSIAN, RFC};

pub struct Scim {
    target: String,
    http: HttpClient,
    profile: Profile,
    known: Mutex<Known>,
    /// One lock per object id: writes to one object go one at a time, each with the
    /// version the previous one left, so rollcall's own changes never fail each other's
    /// `If-Match` (adding and removing members of a group may run at the same time).
    writing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// What the provider knows of the live objects, by lower-cased `userName`/`displayName`.
#[derive(Default)]
struct Known {
    users: HashMap<String, Object>,
    groups: HashMap<String, Object>,
}

impl Known {
    fn of(&mut self, collection: Collection) -> &mut HashMap<String, Object> {
        match collection {
            Collection::Users => &mut self.users,
            Collection::Groups => &mut self.groups,
        }
    }
}

/// A live object: the server's id, its version for `If-Match`, and the object as last
/// seen, for a PUT and for the attributes a change keeps (the other emails).
#[derive(Debug, Clone)]
struct Object {
    id: String,
    version: Option<String>,
    raw: Value,
}

impl Object {
    /// An object as a list or a lookup gave it, with `meta.version` as its version.
    fn listed(id: String, raw: Value) -> Object {
        let version = version_of(&raw);
        Object { id, version, raw }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collection {
    Users,
    Groups,
}

impl Collection {
    fn path(self) -> &'static str {
        match self {
            Collection::Users => "/Users",
            Collection::Groups => "/Groups",
        }
    }

    /// The attribute objects of this collection are matched by.
    fn key(self) -> &'static str {
        match self {
            Collection::Users => "userName",
            Collection::Groups => "displayName",
        }
    }
}

/// How many times one write is sent at most: once, and again only after reading back
/// showed the last copy did not land (its answer lost) or met a version moved for another
/// reason (412).
const SENDS: u32 = 3;

/// One attribute a change sets, as a PATCH `replace` path and value.
type Set = (&'static str, Value);

impl Scim {
    pub fn new(target: &str, base: url::Url, auth: Option<Auth>, profile: Profile) -> Result<Self, HttpError> {
        let http = HttpClient::builder(target, base)
            .auth(auth)
            .error_parser(wire::error_message)
            .media_type(wire::MEDIA_TYPE)
            .build()?;
        Ok(Scim {
            target: target.to_owned(),
            http,
            profile,
            known: Mutex::new(Known::default()),
            writing: Mutex::new(HashMap::new()),
        })
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than losing them; keep going with what is there.
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn object(&self, collection: Collection, name: &str) -> Option<Object> {
        self.known().of(collection).get(&name.to_lowercase()).cloned()
    }

    fn remember(&self, collection: Collection, name: &str, object: Option<Object>) {
        let mut known = self.known();
        let map = known.of(collection);
        match object {
            Some(o) => map.insert(name.to_lowercase(), o),
            None => map.remove(&name.to_lowercase()),
        };
    }

    /// Every page of a list. Pages advance by what the server served, which may be fewer
    /// than asked for (RFC 7644 §3.4.2.4), until `totalResults` are in.
    async fn list(&self, collection: Collection, filter: Option<String>) -> Result<Vec<Value>, HttpError> {
        let path = collection.path();
        let out = paging::by_offset(&self.http, &format!("GET {path}"), 1, |start| {
            let mut request = Request::get(path)
                .query("startIndex", start)
                .query("count", self.profile.page_size);
            if let Some(f) = &filter {
                request = request.query("filter", f);
            }
            async move {
                let page: wire::ListResponse = self.http.json(request).await?;
                let total = page.total_results.map(|t| t as u64);
                Ok(Page::start_index(start, page.resources, total))
            }
        })
        .await?;
        // A list that repeats objects means the paging is not what it says: a short or
        // doubled read would plan creates and deletes that are wrong.
        let mut seen = std::collections::HashSet::new();
        for r in &out {
            let id = r.get("id").and_then(Value::as_str).unwrap_or_default();
            if !seen.insert(id) {
                return Err(self.bad_answer(
                    path,
                    format!("the server listed `{id}` twice while paging; its paging is unreliable"),
                ));
            }
        }
        Ok(out)
    }

    fn bad_answer(&self, path: &str, detail: String) -> HttpError {
        self.http.bad_answer(&format!("GET {path}"), detail)
    }

    fn parse<T: serde::de::DeserializeOwned>(&self, path: &str, raw: &Value) -> Result<T, HttpError> {
        serde_json::from_value(raw.clone()).map_err(|e| self.bad_answer(path, format!("unexpected object: {e}")))
    }

    /// The object an answer describes, with its version: the `ETag` header, else
    /// `meta.version`.
    fn object_from(&self, path: &str, reply: &crate::http::Reply) -> Result<(Object, Value), HttpError> {
        let raw: Value = serde_json::from_str(&reply.body)
            .map_err(|e| self.bad_answer(path, format!("unexpected response body: {e}")))?;
        let id = raw
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| self.bad_answer(path, "the answer has no `id`".to_owned()))?
            .to_owned();
        let version = reply.etag.clone().or_else(|| version_of(&raw));
        Ok((
            Object {
                id,
                version,
                raw: raw.clone(),
            },
            raw,
        ))
    }

    fn if_match<'a>(&self, object: &'a Object) -> Option<&'a str> {
        if self.profile.etag {
            object.version.as_deref()
        } else {
            None
        }
    }

    async fn read_all(&self) -> Result<ResourceMap, ProviderError> {
        self.http.begin(Operation::Read);
        let (users, groups) = try_join(self.list(Collection::Users, None), self.list(Collection::Groups, None)).await?;
        let mut out = ResourceMap::new();
        let mut known = Known::default();
        let mut names_by_id: HashMap<String, String> = HashMap::new();
        for raw in users {
            let u: wire::User = self.parse("/Users", &raw)?;
            let attrs = u.attrs();
            out.insert(
                Address::new(
                    &self.target,
                    ResourceId::User {
                        name: u.user_name.clone(),
                    },
                ),
                Resource::User(attrs),
            );
            names_by_id.insert(u.id.clone(), u.user_name.clone());
            known
                .users
                .insert(u.user_name.to_lowercase(), Object::listed(u.id, raw));
        }
        for raw in groups {
            let g: wire::Group = self.parse("/Groups", &raw)?;
            out.insert(
                Address::new(
                    &self.target,
                    ResourceId::Group {
                        name: g.display_name.clone(),
                    },
                ),
                Resource::group(),
            );
            for m in &g.members {
                // Members that are groups, or users this list does not show (a
                // deactivated user on a service that hides them), are not memberships
                // rollcall manages.
                let is_user = m.kind.as_deref().is_none_or(|k| k.eq_ignore_ascii_case("user"));
                if let Some(user) = names_by_id.get(&m.value).filter(|_| is_user) {
                    let id = ResourceId::Membership {
                        group: g.display_name.clone(),
                        user: user.clone(),
                    };
                    out.insert(Address::new(&self.target, id), Resource::membership());
                }
            }
            let object = Object::listed(g.id, raw);
            // RFC 7643 does not make displayName unique, and some services (scim2-server)
            // accept a second group of the same name. rollcall matches groups by name, so
            // two of one name cannot be told apart: say so rather than pick one.
            if let Some(other) = known.groups.get(&g.display_name.to_lowercase()) {
                return Err(ProviderError::Ambiguous {
                    target: self.target.clone(),
                    address: Address::new(
                        &self.target,
                        ResourceId::Group {
                            name: g.display_name.clone(),
                        },
                    )
                    .to_string(),
                    why: format!(
                        "the service has two groups of this name (ids `{}` and `{}`); delete or rename one of them",
                        other.id, object.id
                    ),
                });
            }
            known.groups.insert(g.display_name.to_lowercase(), object);
        }
        *self.known() = known;
        Ok(out)
    }

    /// Finds an object by its name: with an `eq` filter where the profile has one, else by
    /// reading the whole list.
    async fn find(&self, collection: Collection, name: &str) -> Result<Option<Value>, HttpError> {
        Ok(self.find_all(collection, name).await?.into_iter().next())
    }

    /// Every object of that name (more than one only where names are not unique).
    async fn find_all(&self, collection: Collection, name: &str) -> Result<Vec<Value>, HttpError> {
        let key = collection.key();
        let filter = self
            .profile
            .eq_filters
            .contains(&key)
            .then(|| wire::filter_eq(key, name));
        let mut found = self.list(collection, filter).await?;
        found.retain(|r| {
            r.get(key)
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(name))
        });
        Ok(found)
    }

    fn fail(&self, change: &Change, why: impl Into<String>) -> ProviderError {
        ProviderError::Unsupported {
            target: self.target.clone(),
            address: change.address.to_string(),
            why: why.into(),
        }
    }

    /// A 412 is someone else's change between the read and this write: reported, never
    /// retried over it.
    fn conflict(&self, change: &Change, e: HttpError) -> ProviderError {
        if e.is_status(412) {
            ProviderError::Conflict {
                target: self.target.clone(),
                address: change.address.to_string(),
                why: format!("{} (If-Match did not match)", e.detail),
            }
        } else {
            ProviderError::Http(e)
        }
    }

    /// The object, held for writing: with the version the last write to it left.
    async fn hold(
        &self,
        change: &Change,
        collection: Collection,
        name: &str,
    ) -> Result<(OwnedMutexGuard<()>, Object), ProviderError> {
        let id = self.lookup(change, collection, name)?.id;
        let lock = {
            let mut writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
            writing.entry(id).or_default().clone()
        };
        let guard = lock.lock_owned().await;
        Ok((guard, self.lookup(change, collection, name)?))
    }

    fn lookup(&self, change: &Change, collection: Collection, name: &str) -> Result<Object, ProviderError> {
        self.object(collection, name).ok_or_else(|| {
            self.fail(
                change,
                format!(
                    "{} `{name}` was not found on the service when it was read; plan again",
                    match collection {
                        Collection::Users => "user",
                        Collection::Groups => "group",
                    }
                ),
            )
        })
    }

    async fn create_user(&self, change: &Change, name: &str, attrs: &UserAttrs) -> Result<(), ProviderError> {
        let mut body = json!({
            "schemas": [wire::USER_SCHEMA],
            "userName": name,
            "displayName": attrs.display_name,
            "name": wire::name(&attrs.display_name),
            "emails": [{"value": attrs.email, "type": "work", "primary": true}],
            "active": attrs.active.unwrap_or(true),
        });
        if let Some(id) = &attrs.external_id {
            body["externalId"] = json!(id);
        }
        let mut sends = 0;
        loop {
            sends += 1;
            let request = Request::new(Method::POST, "/Users", Idempotent::No)
                .json(body.clone())
                .resent(sends > 1);
            let e = match self.http.send(request).await {
                Ok(reply) => {
                    let (object, _) = self.object_from("/Users", &reply)?;
                    self.remember(Collection::Users, name, Some(object));
                    return Ok(());
                }
                // `uniqueness`: the userName exists (created by someone else, or by an
                // earlier copy of this request whose answer was lost), or this copy's
                // answer was lost: look it up.
                Err(e) if e.is_status(409) || e.may_have_been_applied() => e,
                Err(e) => return Err(e.into()),
            };
            match self.find(Collection::Users, name).await? {
                // Adopted if it is this person.
                Some(raw) => return self.adopt_user(change, name, attrs, raw).await,
                // The lost attempt did not create it: nothing landed, send it again.
                None if e.may_have_been_applied() && sends < SENDS => continue,
                None => return Err(e.into()),
            }
        }
    }

    /// Takes over the account found under this userName when it is this person's.
    async fn adopt_user(
        &self,
        change: &Change,
        name: &str,
        attrs: &UserAttrs,
        raw: Value,
    ) -> Result<(), ProviderError> {
        let u: wire::User = self.parse("/Users", &raw)?;
        let ours = match (&u.external_id, &attrs.external_id) {
            (Some(theirs), Some(mine)) if !theirs.is_empty() => theirs.eq_ignore_ascii_case(mine),
            _ => u.emails.iter().any(|e| e.value.eq_ignore_ascii_case(&attrs.email)),
        };
        if !ours {
            return Err(self.fail(
                change,
                format!(
                    "userName `{}` is taken by another account (externalId {}, email {:?}); give this person another id under `ids:`, or remove that account",
                    u.user_name,
                    u.external_id.as_deref().map_or_else(|| "none".to_owned(), |x| format!("`{x}`")),
                    u.email()
                ),
            ));
        }
        let live = u.attrs();
        let object = Object::listed(u.id, raw);
        self.remember(Collection::Users, name, Some(object.clone()));
        tracing::info!(target: "rollcall::scim", target_name = %self.target, user = name, "adopted the existing account");
        let sets = user_sets(&object.raw, &live, attrs);
        if sets.is_empty() {
            return Ok(());
        }
        self.modify(change, Collection::Users, name, object, sets, |raw| {
            same_user(raw, &live)
        })
        .await
    }

    /// Sets attributes on an object: PATCH `replace` operations, or a PUT of the object
    /// as last seen with those attributes changed. `unchanged` says whether an object read
    /// after a 412 still has, in what this change is about, what the plan saw.
    async fn modify(
        &self,
        change: &Change,
        collection: Collection,
        name: &str,
        object: Object,
        sets: Vec<Set>,
        unchanged: impl Fn(&Value) -> bool,
    ) -> Result<(), ProviderError> {
        let path = format!("{}/{}", collection.path(), object.id);
        let patch = self.profile.patch;
        let build = |object: &Object| {
            let mut updated = object.raw.clone();
            for (path, value) in &sets {
                set_path(&mut updated, path, value.clone());
            }
            let body = if patch {
                let ops: Vec<Value> = sets
                    .iter()
                    .map(|(p, v)| json!({"op": "replace", "path": p, "value": v}))
                    .collect();
                json!({"schemas": [wire::PATCH_SCHEMA], "Operations": ops})
            } else {
                put_body(&updated)
            };
            (body, updated)
        };
        let method = if patch { Method::PATCH } else { Method::PUT };
        let holds = |raw: &Value| sets.iter().all(|(p, v)| holds(raw, p, v));
        // Setting attributes to values, or putting the whole object, twice leaves what once
        // does.
        let next = self
            .write(change, method, Idempotent::Yes, &path, object, build, holds, unchanged)
            .await?;
        // A renamed group is known by its new name from now on.
        let new_name = sets
            .iter()
            .find(|(p, _)| *p == collection.key())
            .and_then(|(_, v)| v.as_str().map(str::to_owned));
        match new_name {
            Some(new) => {
                self.remember(collection, name, None);
                self.remember(collection, &new, Some(next));
            }
            None => self.remember(collection, name, Some(next)),
        }
        Ok(())
    }

    /// Sends one conditional write, its body built from the object as last seen, and
    /// returns the object after it. On a 412, or when the answer was lost to a write not
    /// safe to send twice, the object is read back:
    /// - already as the write would leave it (an earlier attempt of this very write whose
    ///   answer was lost, or the same change made by someone else): done;
    /// - unchanged in what the write is about: the version moved for another reason (a
    ///   service may version a user with its group memberships, which rollcall's own
    ///   member changes touch), or the lost write did not land, so it is sent once more
    ///   with the new version (at most [`SENDS`] times in all);
    /// - anything else is someone else's change: reported, not overwritten.
    ///
    /// A write sent with `If-Match` is safe to send twice whatever it does: a second copy
    /// of one that landed fails its precondition instead of applying again.
    #[allow(clippy::too_many_arguments)]
    async fn write(
        &self,
        change: &Change,
        method: Method,
        idempotent: Idempotent,
        path: &str,
        object: Object,
        build: impl Fn(&Object) -> (Value, Value),
        holds: impl Fn(&Value) -> bool,
        unchanged: impl Fn(&Value) -> bool,
    ) -> Result<Object, ProviderError> {
        let mut object = object;
        let mut sends = 0;
        loop {
            sends += 1;
            let (body, updated) = build(&object);
            let if_match = self.if_match(&object);
            let idempotent = if if_match.is_some() {
                Idempotent::Yes
            } else {
                idempotent
            };
            let request = Request::new(method.clone(), path, idempotent)
                .json(body)
                .if_match(if_match)
                .resent(sends > 1);
            let e = match self.http.send(request).await {
                Ok(reply) => return self.after_write(path, &reply, object, updated),
                Err(e) if e.is_status(412) || e.may_have_been_applied() => e,
                Err(e) => return Err(e.into()),
            };
            let reply = self.http.send(Request::get(path)).await?;
            let (fresh, raw) = self.object_from(path, &reply)?;
            if holds(&raw) {
                return Ok(fresh);
            }
            if sends >= SENDS || !unchanged(&raw) {
                return Err(self.conflict(change, e));
            }
            object = fresh;
        }
    }

    /// The object after a successful write: the answer's when it sent one (200), else the
    /// local copy with the change made (204), with the new version either way.
    fn after_write(
        &self,
        path: &str,
        reply: &crate::http::Reply,
        before: Object,
        updated: Value,
    ) -> Result<Object, ProviderError> {
        if reply.body.trim().is_empty() {
            return Ok(Object {
                id: before.id,
                version: reply.etag.clone(),
                raw: updated,
            });
        }
        Ok(self.object_from(path, reply)?.0)
    }

    /// Deletes an object with `If-Match`. On a 412 it is read back: gone is done;
    /// unchanged in what rollcall manages (`unchanged`) is deleted with the new version;
    /// else the 412 is someone else's change, reported.
    async fn delete(
        &self,
        change: &Change,
        collection: Collection,
        name: &str,
        unchanged: impl Fn(&Value) -> bool,
    ) -> Result<(), ProviderError> {
        let (_writing, mut object) = self.hold(change, collection, name).await?;
        let path = format!("{}/{}", collection.path(), object.id);
        let mut sent_again = false;
        loop {
            // Deleting twice leaves what deleting once does; the second answers 404.
            let request = Request::new(Method::DELETE, &path, Idempotent::Yes).if_match(self.if_match(&object));
            let e = match self.http.send(request).await {
                Ok(_) => break,
                // Gone already, by an earlier attempt of this request or by someone else:
                // either way what the plan wanted.
                Err(e) if e.is_status(404) => break,
                Err(e) if e.is_status(412) => e,
                Err(e) => return Err(e.into()),
            };
            let (fresh, raw) = match self.http.send(Request::get(&path)).await {
                Ok(reply) => self.object_from(&path, &reply)?,
                Err(gone) if gone.is_status(404) => break,
                Err(other) => return Err(other.into()),
            };
            if sent_again || !unchanged(&raw) {
                return Err(self.conflict(change, e));
            }
            object = fresh;
            sent_again = true;
        }
        self.remember(collection, name, None);
        Ok(())
    }

    /// Creates a group. RFC 7643 does not make group names unique, and some services
    /// (scim2-server) accept a second group of one name, so a create whose answer was lost
    /// is not simply sent again: the group is looked up first, and adopted if it is there.
    async fn create_group(&self, change: &Change, name: &str) -> Result<(), ProviderError> {
        let body = json!({"schemas": [wire::GROUP_SCHEMA], "displayName": name, "members": []});
        for sends in 1..=SENDS {
            let request = Request::new(Method::POST, "/Groups", Idempotent::No)
                .json(body.clone())
                .resent(sends > 1);
            match self.http.send(request).await {
                Ok(reply) => {
                    let (object, _) = self.object_from("/Groups", &reply)?;
                    self.remember(Collection::Groups, name, Some(object));
                    return Ok(());
                }
                // A group is only its name: one that exists (created meanwhile, or by the
                // lost attempt) is this one. Its members are whatever they are; the
                // planned member changes go ahead and the next plan shows any difference.
                Err(e) if e.is_status(409) || e.may_have_been_applied() => {
                    match self.find_all(Collection::Groups, name).await?.as_slice() {
                        [] if e.may_have_been_applied() => continue, // the lost attempt did not create it
                        [] => return Err(self.conflict(change, e)),
                        [raw] => {
                            let id = raw.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
                            self.remember(Collection::Groups, name, Some(Object::listed(id, raw.clone())));
                            return Ok(());
                        }
                        [..] => {
                            return Err(self.fail(
                                change,
                                format!("the service has several groups named `{name}`; delete all but one"),
                            ))
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(self.fail(
            change,
            format!("the create was lost {SENDS} times in a row; plan again"),
        ))
    }

    /// Adds or removes members of one group, as many per request as the profile allows.
    async fn members(&self, changes: &[Change], group: &str, add: bool) -> Result<(), ProviderError> {
        let Some(first) = changes.first() else {
            return Ok(());
        };
        let mut ids = Vec::new();
        for c in changes {
            if let ResourceId::Membership { user, .. } = &c.address.id {
                ids.push(self.lookup(c, Collection::Users, user)?.id);
            }
        }
        for chunk in ids.chunks(self.profile.members_per_patch.max(1)) {
            let (_writing, object) = self.hold(first, Collection::Groups, group).await?;
            let path = format!("/Groups/{}", object.id);
            let patch = self.profile.patch;
            let build = |object: &Object| {
                let mut updated = object.raw.clone();
                let mut members: Vec<Value> = updated
                    .get("members")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if add {
                    members.extend(chunk.iter().map(|id| json!({"value": id})));
                } else {
                    members.retain(|m| {
                        !chunk
                            .iter()
                            .any(|id| m.get("value").and_then(Value::as_str) == Some(id))
                    });
                }
                set_path(&mut updated, "members", Value::Array(members));
                let body = if !patch {
                    put_body(&updated)
                } else if add {
                    let value: Vec<Value> = chunk.iter().map(|id| json!({"value": id})).collect();
                    let ops = [json!({"op": "add", "path": "members", "value": value})];
                    json!({"schemas": [wire::PATCH_SCHEMA], "Operations": ops})
                } else {
                    let ops: Vec<Value> = chunk
                        .iter()
                        .map(|id| json!({"op": "remove", "path": format!("members[{}]", wire::filter_eq("value", id))}))
                        .collect();
                    json!({"schemas": [wire::PATCH_SCHEMA], "Operations": ops})
                };
                (body, updated)
            };
            let method = if patch { Method::PATCH } else { Method::PUT };
            // A second PUT of the list, or a second removal, leaves what the first does; a
            // second `add` may list a member twice on a service that does not merge them.
            let idempotent = if patch && add { Idempotent::No } else { Idempotent::Yes };
            let present = |raw: &Value, wanted: bool| {
                let members = member_ids(raw);
                chunk.iter().all(|id| members.contains(&id.as_str()) == wanted)
            };
            let next = self
                .write(
                    first,
                    method,
                    idempotent,
                    &path,
                    object,
                    build,
                    |raw| present(raw, add),
                    |raw| present(raw, !add),
                )
                .await?;
            self.remember(Collection::Groups, group, Some(next));
        }
        Ok(())
    }

    async fn apply_one(&self, c: &Change) -> Result<(), ProviderError> {
        match (&c.address.id, c.action, &c.after) {
            (ResourceId::User { name }, Action::Create, Some(Resource::User(attrs))) => {
                self.create_user(c, name, attrs).await
            }
            (ResourceId::User { name }, Action::Update, Some(Resource::User(after))) => {
                // A renamed account is found under its old username.
                let current = c.renames().unwrap_or(name);
                let renamed_already =
                    self.object(Collection::Users, current).is_none() && self.object(Collection::Users, name).is_some();
                if c.renames().is_some() && renamed_already {
                    return Ok(());
                }
                let (_writing, object) = self.hold(c, Collection::Users, current).await?;
                let before = match &c.before {
                    Some(Resource::User(b)) => b.clone(),
                    _ => return Err(self.fail(c, "an update without the user's attributes as read")),
                };
                let mut sets = user_sets(&object.raw, &before, after);
                if current != name {
                    sets.insert(0, ("userName", json!(name)));
                }
                if sets.is_empty() {
                    return Ok(());
                }
                self.modify(c, Collection::Users, current, object, sets, |raw| {
                    same_user(raw, &before)
                })
                .await
            }
            (ResourceId::User { name }, Action::Delete, before) => {
                let unchanged = |raw: &Value| matches!(before, Some(Resource::User(b)) if same_user(raw, b));
                self.delete(c, Collection::Users, name, unchanged).await
            }
            (ResourceId::Group { name }, Action::Create, _) => self.create_group(c, name).await,
            (ResourceId::Group { name }, Action::Update, _) => {
                let Some(old) = c.renames() else {
                    return Ok(()); // a group has no other attribute rollcall sets
                };
                if !self.profile.group_rename {
                    return Err(self.fail(c, format!("{} cannot rename groups", self.profile.name.as_str())));
                }
                match (
                    self.object(Collection::Groups, old),
                    self.object(Collection::Groups, name),
                ) {
                    (None, Some(_)) => return Ok(()), // renamed already
                    (Some(_), Some(_)) => {
                        return Err(self.fail(c, format!("a group named `{name}` exists already; plan again")))
                    }
                    _ => {}
                }
                let (_writing, object) = self.hold(c, Collection::Groups, old).await?;
                let named_old = |raw: &Value| {
                    raw.get("displayName")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.eq_ignore_ascii_case(old))
                };
                let sets = vec![("displayName", json!(name))];
                self.modify(c, Collection::Groups, old, object, sets, named_old).await
            }
            (ResourceId::Group { name }, Action::Delete, _) => {
                // The members as read: a group that gained or lost any since is not the
                // group the plan deletes.
                let read = self.lookup(c, Collection::Groups, name)?;
                let mut members: Vec<&str> = member_ids(&read.raw);
                members.sort_unstable();
                let unchanged = |raw: &Value| {
                    let mut now = member_ids(raw);
                    now.sort_unstable();
                    now == members
                };
                self.delete(c, Collection::Groups, name, unchanged).await
            }
            (ResourceId::Membership { group, .. }, action, _) => {
                self.members(std::slice::from_ref(c), group, action != Action::Delete)
                    .await
            }
            _ => Err(self.fail(c, "a SCIM service has no such object")),
        }
    }
}

/// The attributes to set to take a user from `before` to `after`. Emails other than the
/// managed (primary) one are kept.
fn user_sets(raw: &Value, before: &UserAttrs, after: &UserAttrs) -> Vec<Set> {
    let mut out: Vec<Set> = Vec::new();
    if before.display_name != after.display_name {
        out.push(("displayName", json!(after.display_name)));
        let name = wire::name(&after.display_name);
        for part in ["formatted", "givenName", "familyName"] {
            let path = match part {
                "formatted" => "name.formatted",
                "givenName" => "name.givenName",
                _ => "name.familyName",
            };
            out.push((path, name[part].clone()));
        }
    }
    if before.email != after.email {
        out.push(("emails", emails_with(raw, &after.email)));
    }
    if after.external_id.is_some() && before.external_id != after.external_id {
        out.push(("externalId", json!(after.external_id)));
    }
    if after.active.is_some() && before.active != after.active {
        out.push(("active", json!(after.active)));
    }
    out
}

/// Whether the object has the value a `replace` of `path` set: for `emails`, the managed
/// (primary) address.
fn holds(raw: &Value, path: &str, value: &Value) -> bool {
    let mut at = Some(raw);
    for part in path.split('.') {
        at = at.and_then(|v| v.get(part));
    }
    let primary = |emails: &Value| {
        let list = emails.as_array()?;
        list.iter()
            .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
            .or_else(|| list.first())
            .and_then(|e| e.get("value"))
            .and_then(Value::as_str)
            .map(str::to_lowercase)
    };
    match (path, at) {
        ("emails", Some(found)) => primary(found).is_some() && primary(found) == primary(value),
        (_, found) => found == Some(value),
    }
}

/// Whether a user object has the managed attributes `attrs`.
fn same_user(raw: &Value, attrs: &UserAttrs) -> bool {
    serde_json::from_value::<wire::User>(raw.clone()).is_ok_and(|u| u.attrs() == *attrs)
}

/// The ids of a group's members as the object lists them.
fn member_ids(raw: &Value) -> Vec<&str> {
    raw.get("members")
        .and_then(Value::as_array)
        .map(|m| {
            m.iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

/// The user's emails with the primary one (else the first) changed to `email`.
fn emails_with(raw: &Value, email: &str) -> Value {
    let mut emails: Vec<Value> = raw.get("emails").and_then(Value::as_array).cloned().unwrap_or_default();
    let primary = emails
        .iter()
        .position(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .or(if emails.is_empty() { None } else { Some(0) });
    match primary {
        Some(i) => {
            if let Some(Value::Object(e)) = emails.get_mut(i) {
                e.insert("value".to_owned(), json!(email));
                e.insert("primary".to_owned(), json!(true));
            }
        }
        None => emails.push(json!({"value": email, "type": "work", "primary": true})),
    }
    Value::Array(emails)
}

/// Sets `a` or `a.b` on a JSON object, creating the parent as needed.
fn set_path(object: &mut Value, path: &str, value: Value) {
    let Value::Object(map) = object else { return };
    match path.split_once('.') {
        None => {
            map.insert(path.to_owned(), value);
        }
        Some((parent, child)) => {
            let entry = map
                .entry(parent.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            set_path(entry, child, value);
        }
    }
}

/// A PUT body: the object as read without what the server owns (`meta`, a user's
/// read-only `groups`).
fn put_body(object: &Value) -> Value {
    let mut body = object.clone();
    if let Value::Object(map) = &mut body {
        map.remove("meta");
        map.remove("groups");
    }
    body
}

fn version_of(raw: &Value) -> Option<String> {
    raw.get("meta")?.get("version")?.as_str().map(str::to_owned)
}

impl Provider for Scim {
    fn read(&self) -> BoxFuture<'_, Result<ResourceMap, ProviderError>> {
        Box::pin(self.read_all())
    }

    /// Members added to (or removed from) one group go together, as many per PATCH as
    /// the profile allows.
    fn batch_key(&self, change: &Change) -> Option<String> {
        match &change.address.id {
            ResourceId::Membership { group, .. } => Some(format!(
                "{}:{}",
                if change.action == Action::Delete {
                    "remove"
                } else {
                    "add"
                },
                group.to_lowercase()
            )),
            _ => None,
        }
    }

    fn batch_limit(&self) -> usize {
        self.profile.members_per_patch
    }

    fn apply<'a>(&'a self, changes: &'a [Change]) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            self.http.begin(Operation::Apply);
            match changes {
                [] => Ok(()),
                [one] => self.apply_one(one).await,
                [first, ..] => match &first.address.id {
                    ResourceId::Membership { group, .. } => {
                        self.members(changes, group, first.action != Action::Delete).await
                    }
                    _ => {
                        for c in changes {
                            self.apply_one(c).await?;
                        }
                        Ok(())
                    }
                },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_email_keeps_the_other_addresses() {
        let raw = json!({"emails": [
            {"value": "home@example.org", "type": "home"},
            {"value": "old@example.com", "type": "work", "primary": true}
        ]});
        let emails = emails_with(&raw, "new@example.com");
        assert_eq!(emails[0]["value"], "home@example.org");
        assert_eq!(emails[1]["value"], "new@example.com");
        assert_eq!(emails[1]["primary"], true);
        assert_eq!(emails_with(&json!({}), "a@b.c")[0]["type"], "work");
    }

    #[test]
    fn only_changed_attributes_are_set() {
        let before = UserAttrs {
            display_name: "Ann Lee".into(),
            email: "ann@example.com".into(),
            active: Some(true),
            external_id: None,
        };
        let after = UserAttrs {
            active: Some(false),
            external_id: Some("ann".into()),
            ..before.clone()
        };
        let paths: Vec<&str> = user_sets(&json!({}), &before, &after).iter().map(|(p, _)| *p).collect();
        assert_eq!(paths, ["externalId", "active"]);
    }

    #[test]
    fn nested_paths_create_their_parent_and_puts_drop_server_fields() {
        let mut v = json!({"id": "1", "meta": {"version": "W/\"1\""}, "groups": []});
        set_path(&mut v, "name.formatted", json!("Ann"));
        assert_eq!(v["name"]["formatted"], "Ann");
        let body = put_body(&v);
        assert!(body.get("meta").is_none() && body.get("groups").is_none());
        assert_eq!(body["id"], "1");
    }
}
