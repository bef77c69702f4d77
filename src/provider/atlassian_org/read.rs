//! Reading: the groups searched by name (or all of them), the declared people searched
//! by email, and the members of the groups found, from the users search by group id with
//! each user's groups expanded. The people and the groups go at once; the members follow
//! the groups, whose ids they need.
//!
//! Requests, at 100 a page: `⌈names / 100⌉` group searches (one page each, as 100 exact
//! names match at most 100 groups), or the pages of every group when all are read;
//! `⌈emails / 100⌉` people searches; and per 10 groups found one users search, a page
//! per 100 distinct members of those 10 (at least one). An offboarded person in groups
//! beyond these costs one more search per 10 of those groups. A read of everything
//! (`rollcall import`) also lists every account, a page per 100, so that people in no
//! group are seen too.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::future::{try_join, try_join_all};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::*;
use crate::http::paging::{self, Page};
use crate::http::{Idempotent, Request};
use crate::model::{Address, Principal, Resource, ResourceId, UserAttrs};

impl AtlassianOrg {
    /// Every page of one search: `what` under the directory (`/groups/search`), with
    /// `body` and the largest page; each next page sends the cursor the last one gave.
    pub(super) async fn search<T: DeserializeOwned>(&self, what: &str, body: Value) -> Result<Vec<T>, HttpError> {
        let path = self.path(what);
        let label = format!("POST {path}");
        paging::by_cursor(&self.http, &label, |cursor| {
            let mut body = body.clone();
            if let Some(fields) = body.as_object_mut() {
                fields.insert("limit".to_owned(), json!(PAGE_LIMIT));
                if let Some(c) = cursor {
                    fields.insert("cursor".to_owned(), json!(c));
                }
            }
            // A search changes nothing: safe to send twice.
            let request = Request::new(Method::POST, path.clone(), Idempotent::Yes).json(body);
            async move {
                let page: wire::Page<T> = self.http.json(request).await?;
                let next = page.next();
                Ok(Page::cursor(page.data, next.is_some(), next))
            }
        })
        .await
    }

    /// The groups of these names (exact, without regard to case), at most 100 a search.
    pub(super) async fn groups_named(&self, names: &[String]) -> Result<Vec<wire::Group>, HttpError> {
        let searches = convert::chunks(names, NAMES_PER_SEARCH)
            .into_iter()
            .map(|chunk| self.search::<wire::Group>("/groups/search", json!({ "groupNames": chunk })));
        let wanted: BTreeSet<String> = names.iter().map(|n| n.to_lowercase()).collect();
        let mut found: Vec<wire::Group> = try_join_all(searches).await?.into_iter().flatten().collect();
        // Only exact names: a server that read the list as a search term would otherwise
        // hand the plan groups nobody asked about.
        found.retain(|g| wanted.contains(&g.name.to_lowercase()));
        Ok(found)
    }

    /// The groups the plan can need: those the manifest declares or renames from, or
    /// every group of the directory when the plan prunes or imports.
    async fn read_groups(&self) -> Result<Vec<wire::Group>, ProviderError> {
        let groups = if self.scope.everything || self.scope.all_group_members {
            self.search::<wire::Group>("/groups/search", json!({})).await?
        } else {
            let mut names: Vec<String> = Vec::new();
            let mut seen = BTreeSet::new();
            for name in &self.scope.member_groups {
                if seen.insert(name.to_lowercase()) {
                    names.push(name.clone());
                }
            }
            self.groups_named(&names).await?
        };
        // Names are unique in a directory (a second create answers 409), and rollcall
        // knows groups by name: two of one name, or one listed twice while paging, cannot
        // be planned against.
        let mut by_name: HashMap<String, &wire::Group> = HashMap::new();
        let mut out = Vec::with_capacity(groups.len());
        for g in &groups {
            match by_name.get(&g.name.to_lowercase()) {
                Some(other) if other.id == g.id => continue,
                Some(other) => {
                    return Err(ProviderError::Ambiguous {
                        target: self.target.clone(),
                        address: Address::new(
                            &self.target,
                            ResourceId::Group {
                                name: g.name.as_str().into(),
                            },
                        )
                        .to_string(),
                        why: format!(
                        "the directory has two groups of this name (ids `{}` and `{}`); delete or rename one of them",
                        other.id, g.id
                    ),
                    })
                }
                None => {
                    by_name.insert(g.name.to_lowercase(), g);
                    out.push(g.clone());
                }
            }
        }
        Ok(out)
    }

    /// The declared people in the directory, by email (exact), at most 100 a search, each
    /// with the name the plan knows them by.
    async fn read_people(&self) -> Result<Vec<(String, wire::User)>, ProviderError> {
        let mut names_by_email: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, email) in &self.scope.people {
            names_by_email
                .entry(email.trim().to_lowercase())
                .or_default()
                .push(name.clone());
        }
        let emails: Vec<String> = names_by_email.keys().cloned().collect();
        let searches = convert::chunks(&emails, NAMES_PER_SEARCH)
            .into_iter()
            // Their groups come along at no extra request: an offboarded person's
            // memberships are removed wherever they are.
            .map(|chunk| self.search::<wire::User>("/users/search", json!({ "emails": chunk, "expand": ["groups"] })));
        let mut out = Vec::new();
        for user in try_join_all(searches).await?.into_iter().flatten() {
            let email = user.email.as_deref().unwrap_or_default().trim().to_lowercase();
            for name in names_by_email.get(&email).into_iter().flatten() {
                out.push((name.clone(), user.clone()));
            }
        }
        Ok(out)
    }

    /// Every account of the directory, for a read of everything (`rollcall import`): one
    /// unfiltered users search, a page per 100 people. Nothing otherwise: a plan knows
    /// the people it needs by their email.
    async fn read_everyone(&self) -> Result<Vec<wire::User>, ProviderError> {
        if !self.scope.everything {
            return Ok(Vec::new());
        }
        Ok(self.search::<wire::User>("/users/search", json!({})).await?)
    }

    /// The members of these groups: per 10 groups one users search by group id, with each
    /// user's groups expanded to tell which of the 10 they are in.
    async fn read_members(&self, groups: &[wire::Group]) -> Result<Vec<(String, wire::User)>, ProviderError> {
        let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
        let searches = convert::chunks(&ids, GROUPS_PER_SEARCH)
            .into_iter()
            .map(|chunk| async move {
                let users = self
                    .search::<wire::User>("/users/search", json!({ "groupIds": chunk, "expand": ["groups"] }))
                    .await?;
                Ok::<_, HttpError>((chunk, users))
            });
        let read: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        let mut out = Vec::new();
        for (chunk, users) in try_join_all(searches).await? {
            for user in users {
                match &user.groups {
                    Some(list) => {
                        for g in list {
                            let id = convert::group_id(&g.id);
                            if read.contains(id) {
                                out.push((id.to_owned(), user.clone()));
                            }
                        }
                    }
                    // Without its groups a user found by one group id is a member of it.
                    None if chunk.len() == 1 => out.push((chunk[0].clone(), user.clone())),
                    None => {
                        return Err(self
                            .http
                            .bad_answer(
                                &format!("POST {}", self.path("/users/search")),
                                format!(
                                    "account `{}` came without its groups although they were asked for (`expand: [\"groups\"]`)",
                                    user.account_id
                                ),
                            )
                            .into())
                    }
                }
            }
        }
        Ok(out)
    }

    /// The groups of each offboarded person that the read did not cover, found by id
    /// (10 a search) so whether they are synced is known, with that person's membership
    /// of each: the plan removes every membership an offboarded person has. Costs
    /// nothing when they are in no other group.
    async fn offboarded_groups(
        &self,
        people: &[(String, wire::User)],
        groups: &mut Vec<wire::Group>,
        members: &mut Vec<(String, wire::User)>,
    ) -> Result<(), ProviderError> {
        let offboarded: BTreeSet<String> = self.scope.member_users.iter().map(|u| u.to_lowercase()).collect();
        let read: BTreeSet<String> = groups.iter().map(|g| g.id.clone()).collect();
        let mut wanted: Vec<(String, wire::User)> = Vec::new();
        for (_, u) in people.iter().filter(|(n, _)| offboarded.contains(&n.to_lowercase())) {
            for g in u.groups.iter().flatten() {
                let id = convert::group_id(&g.id);
                if !read.contains(id) {
                    wanted.push((id.to_owned(), u.clone()));
                }
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = wanted
            .iter()
            .map(|(id, _)| id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let searches = convert::chunks(&ids, GROUPS_PER_SEARCH)
            .into_iter()
            .map(|chunk| self.search::<wire::Group>("/groups/search", json!({ "groupIds": chunk })));
        let found: Vec<wire::Group> = try_join_all(searches).await?.into_iter().flatten().collect();
        let found_ids: BTreeSet<&str> = found.iter().map(|g| g.id.as_str()).collect();
        members.extend(wanted.into_iter().filter(|(id, _)| found_ids.contains(id.as_str())));
        groups.extend(found.into_iter().filter(|g| !read.contains(&g.id)));
        Ok(())
    }

    pub(super) async fn read_all(&self) -> Result<ResourceMap, ProviderError> {
        self.http.begin(Operation::Read);
        let groups_and_members = async {
            let groups = self.read_groups().await?;
            let members = self.read_members(&groups).await?;
            Ok::<_, ProviderError>((groups, members))
        };
        let people_and_everyone = try_join(self.read_people(), self.read_everyone());
        let ((mut groups, mut members), (people, everyone)) = try_join(groups_and_members, people_and_everyone).await?;
        self.offboarded_groups(&people, &mut groups, &mut members).await?;

        let mut out = ResourceMap::new();
        let mut known = Known::default();
        let mut findings = Findings::default();
        let user = |name: &str| Address::new(&self.target, ResourceId::User { name: name.into() });

        // Declared people by their rollcall name; anyone else by email or account id.
        let mut names_by_account: HashMap<String, String> = HashMap::new();
        for (name, u) in &people {
            names_by_account.insert(u.account_id.clone(), name.clone());
            known.users.insert(name.to_lowercase(), u.account_id.clone());
            out.insert(user(name), Resource::User(Box::new(attrs(u, name))));
        }
        let mut group_names: HashMap<&str, &str> = HashMap::new();
        for g in &groups {
            group_names.insert(g.id.as_str(), g.name.as_str());
            known.groups.insert(g.name.to_lowercase(), g.id.clone());
            out.insert(
                Address::new(
                    &self.target,
                    ResourceId::Group {
                        name: g.name.as_str().into(),
                    },
                ),
                convert::group(g),
            );
            if let Some(why) = convert::fixed(g) {
                findings
                    .fixed
                    .push((Principal::Group(g.name.as_str().into()), why.to_owned()));
            }
        }
        // Anyone else by nickname where it is theirs alone, else email, else id.
        let undeclared = convert::undeclared_names(
            everyone
                .iter()
                .chain(members.iter().map(|(_, u)| u))
                .filter(|u| !names_by_account.contains_key(&u.account_id)),
            people.iter().map(|(name, _)| name.as_str()),
        );
        let name_of = |u: &wire::User| {
            undeclared
                .get(&u.account_id)
                .cloned()
                .unwrap_or_else(|| convert::member_name(u))
        };
        // On import, everyone in the directory, members of no group included (a person
        // with access to Bitbucket through a grant alone is one).
        for u in &everyone {
            if names_by_account.contains_key(&u.account_id) {
                continue;
            }
            let name = name_of(u);
            known.users.insert(name.to_lowercase(), u.account_id.clone());
            names_by_account.insert(u.account_id.clone(), name.clone());
            out.insert(user(&name), Resource::User(Box::new(attrs(u, &name))));
        }
        for (group_id, u) in &members {
            let Some(group) = group_names.get(group_id.as_str()) else {
                continue;
            };
            let name = match names_by_account.get(&u.account_id) {
                Some(name) => name.clone(),
                None => {
                    let name = name_of(u);
                    known.users.insert(name.to_lowercase(), u.account_id.clone());
                    names_by_account.insert(u.account_id.clone(), name.clone());
                    out.insert(user(&name), Resource::User(Box::new(attrs(u, &name))));
                    name
                }
            };
            let id = ResourceId::Membership {
                group: (*group).into(),
                user: name.as_str().into(),
            };
            out.insert(Address::new(&self.target, id), Resource::membership());
        }
        *self.known() = known;
        *self.findings.lock().unwrap_or_else(PoisonError::into_inner) = findings;
        Ok(out)
    }
}

/// A person as live state holds them: their full name (else the plan's name) and email.
fn attrs(u: &wire::User, name: &str) -> UserAttrs {
    let display = u.name.as_deref().filter(|n| !n.trim().is_empty()).unwrap_or(name);
    UserAttrs::new(display, u.email.as_deref().unwrap_or_default())
}
