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

mod groups;
mod json;
mod platform;
mod profile;
mod read;
mod users;
mod wire;

use json::*;

pub use platform::{profile_of, ATLASSIAN_PLATFORM, RFC_PLATFORM};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::future::try_join;
use reqwest::Method;
use serde_json::{json, Map, Value};
use tokio::sync::OwnedMutexGuard;

use crate::http::paging::{self, Page};
use crate::http::{Auth, HttpClient, HttpError, Idempotent, Operation, Reached, Request};
use crate::model::{Address, Resource, ResourceId, ResourceMap, UserAttrs};
use crate::plan::{Action, Change};
use crate::provider::{BoxFuture, Provider, ProviderError};

pub use profile::{Profile, ATLASSIAN, RFC};

/// The provider of a target, for the registry.
pub(crate) fn provider(
    config: &crate::desired::TargetConfig,
    base: url::Url,
    auth: Option<Auth>,
    parallelism: usize,
) -> Result<Box<dyn Provider>, HttpError> {
    let profile = platform::profile_of(config.platform).unwrap_or(RFC);
    let max_in_flight = parallelism.min(profile.max_in_flight);
    Ok(Box::new(Scim::with_max_in_flight(
        &config.name,
        base,
        auth,
        profile,
        max_in_flight,
    )?))
}

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

use crate::provider::SENDS;

/// One attribute a change sets, as a PATCH `replace` path and value.
type Set = (&'static str, Value);

impl Scim {
    /// A provider with the profile's cap on requests in flight.
    pub fn new(target: &str, base: url::Url, auth: Option<Auth>, profile: Profile) -> Result<Self, HttpError> {
        Scim::with_max_in_flight(target, base, auth, profile, profile.max_in_flight)
    }

    pub fn with_max_in_flight(
        target: &str,
        base: url::Url,
        auth: Option<Auth>,
        profile: Profile,
        max_in_flight: usize,
    ) -> Result<Self, HttpError> {
        let http = HttpClient::builder(target, base)
            .auth(auth)
            .error_parser(wire::error_message)
            .media_type(wire::MEDIA_TYPE)
            .max_in_flight(max_in_flight)
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
            (ResourceId::Group { name }, Action::Create, _) => self.create_group(c, name, &[]).await,
            (ResourceId::Group { name }, Action::Update, _) => match c.renames() {
                Some(old) => self.rename_group(c, name, old, &[]).await,
                None => Ok(()), // a group has no other attribute rollcall sets
            },
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
            (ResourceId::Membership { group, .. }, _, _) => self.members(std::slice::from_ref(c), group).await,
            _ => Err(self.fail(c, "a SCIM service has no such object")),
        }
    }
}

impl Provider for Scim {
    fn read(&self) -> BoxFuture<'_, Result<ResourceMap, ProviderError>> {
        Box::pin(self.read_all())
    }

    /// Members added to and removed from one group go together, as many per PATCH as
    /// the profile allows: one PATCH with an `add` and the `remove`s. Without PATCH, one
    /// PUT of the list carries both just as well.
    fn batch_key(&self, change: &Change) -> Option<String> {
        match &change.address.id {
            ResourceId::Membership { group, .. } => Some(format!("members:{}", group.to_lowercase())),
            _ => None,
        }
    }

    fn batch_limit(&self) -> usize {
        self.profile.members_per_patch
    }

    /// A new group's first members go in its POST, where the profile takes them; a
    /// renamed group's member changes go in the PATCH (or PUT) that renames it.
    fn rides_with(&self, change: &Change, host: &Change) -> bool {
        let of_host = matches!(
            (&change.address.id, &host.address.id),
            (ResourceId::Membership { group, .. }, ResourceId::Group { name }) if group.eq_ignore_ascii_case(name)
        );
        let carries = match host.action {
            Action::Create => self.profile.create_with_members && change.action == Action::Create,
            Action::Update => self.profile.group_rename && host.renames().is_some(),
            Action::Delete => false,
        };
        of_host && carries
    }

    fn apply<'a>(&'a self, changes: &'a [Change]) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            self.http.begin(Operation::Apply);
            match changes {
                [] => Ok(()),
                [one] => self.apply_one(one).await,
                [first, members @ ..] => match (&first.address.id, first.action, first.renames()) {
                    (ResourceId::Group { name }, Action::Create, _) => self.create_group(first, name, members).await,
                    (ResourceId::Group { name }, _, Some(old)) => self.rename_group(first, name, old, members).await,
                    (ResourceId::Membership { group, .. }, _, _) => self.members(changes, group).await,
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

    fn concurrency(&self) -> Reached {
        self.http.concurrency()
    }
}
