//! Reading a query: the groups found by a few searches, then their member lists and,
//! when asked, everyone, each list followed by its `Link` header to the end.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;

use super::wire;
use super::{Okta, GROUPS_PAGE, MEMBERS_PAGE, NAMES_PER_SEARCH, SIGN_IN, STATUSES, USERS_PAGE};
use crate::http::paging::{self, Page};
use crate::http::{path_segment, HttpError, Operation, Request};
use crate::source::{Group, Person, Query, Snapshot, SourceError};

impl Okta {
    pub(super) async fn read_query(&self, query: &Query) -> Result<Snapshot, SourceError> {
        self.http.begin(Operation::Read);
        let names: Vec<&str> = query.groups.iter().map(String::as_str).collect();
        let searches = names.chunks(NAMES_PER_SEARCH).map(search_for).collect::<Vec<_>>();
        // The searches and the list of everyone do not depend on each other.
        let found = stream::iter(searches.into_iter().map(|search| self.search_groups(search)))
            .buffer_unordered(self.http.max_in_flight())
            .try_concat();
        let everyone = async {
            if query.everyone {
                self.everyone().await.map(Some)
            } else {
                Ok(None)
            }
        };
        let (mut found, everyone) = futures_util::try_join!(found, everyone)?;
        // A group two searches both matched (by its name in one, its id in another) is
        // one group.
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found.dedup_by(|a, b| a.id == b.id);

        // Each name to its one group: by id first (an id is unique), else by exact name.
        let mut asked: BTreeMap<String, wire::Group> = BTreeMap::new();
        for name in &names {
            let by_id: Vec<&wire::Group> = found.iter().filter(|g| g.id == *name).collect();
            let matches: Vec<&wire::Group> = if by_id.is_empty() {
                found
                    .iter()
                    .filter(|g| g.profile.name.as_deref() == Some(name))
                    .collect()
            } else {
                by_id
            };
            match matches.as_slice() {
                [one] => {
                    asked.insert((*name).to_owned(), (*one).clone());
                }
                [] => return Err(self.not_found(name, &found)),
                many => {
                    return Err(SourceError::Ambiguous {
                        source_name: self.name.clone(),
                        group: (*name).to_owned(),
                        count: many.len(),
                    })
                }
            }
        }

        // Each group's members once, however many names it was asked by.
        let ids: BTreeSet<String> = asked.values().map(|g| g.id.clone()).collect();
        let lists = ids.into_iter().map(|id| async move {
            let users = self.members(&id).await?;
            Ok::<_, HttpError>((id, users))
        });
        let members: BTreeMap<String, Vec<wire::User>> = stream::iter(lists)
            .buffer_unordered(self.http.max_in_flight())
            .try_collect()
            .await?;

        let mut snapshot = Snapshot::default();
        for user in everyone
            .into_iter()
            .flatten()
            .chain(members.values().flatten().cloned())
        {
            snapshot.people.entry(user.id.clone()).or_insert_with(|| person(&user));
        }
        for (name, group) in asked {
            let members = members
                .get(&group.id)
                .map(|users| users.iter().map(|u| u.id.clone()).collect())
                .unwrap_or_default();
            snapshot.groups.insert(
                name,
                Group {
                    name: group.profile.name.clone().unwrap_or_else(|| group.id.clone()),
                    id: group.id,
                    members,
                    skipped: 0,
                },
            );
        }
        Ok(snapshot)
    }

    /// The groups one search matches (without regard to case, as Okta compares).
    async fn search_groups(&self, search: String) -> Result<Vec<wire::Group>, HttpError> {
        let query = [("search", search), ("limit", GROUPS_PAGE.to_string())];
        self.list("/api/v1/groups", &query).await
    }

    /// A group's direct members (Okta has no other kind).
    async fn members(&self, id: &str) -> Result<Vec<wire::User>, HttpError> {
        let path = format!("/api/v1/groups/{}/users", path_segment(id));
        self.list(&path, &[("limit", MEMBERS_PAGE.to_string())]).await
    }

    /// Every person in the org, whatever their status.
    async fn everyone(&self) -> Result<Vec<wire::User>, HttpError> {
        let filter = STATUSES
            .iter()
            .map(|s| format!("status eq \"{s}\""))
            .collect::<Vec<_>>()
            .join(" or ");
        let query = [("filter", filter), ("limit", USERS_PAGE.to_string())];
        self.list("/api/v1/users", &query).await
    }

    /// Every page of a list: the first at `path` with `query`, then each `rel="next"`
    /// link as Okta gives it (the client sends it only to the org's own origin).
    async fn list<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<T>, HttpError> {
        let what = format!("GET {path}");
        paging::by_link(&self.http, &what, |next| {
            let request = match next {
                None => Request::get(path).queries(query),
                Some(link) => Request::link(link),
            };
            let what = &what;
            async move {
                let reply = self.http.send(request).await?;
                let items: Vec<T> = serde_json::from_str(&reply.body)
                    .map_err(|e| self.http.bad_answer(what, format!("unexpected response body: {e}")))?;
                Ok(Page::next_link(items, reply.next_link))
            }
        })
        .await
    }

    /// No group of that name or id; a group whose name differs only in case is named,
    /// since names match exactly.
    fn not_found(&self, name: &str, found: &[wire::Group]) -> SourceError {
        let near: Vec<&str> = found
            .iter()
            .filter_map(|g| g.profile.name.as_deref())
            .filter(|n| n.to_lowercase() == name.to_lowercase())
            .collect();
        let why = match near.as_slice() {
            [] => " (searched by `profile.name` and id; Okta's search is eventually consistent, so a group made moments ago may not show yet)".to_owned(),
            near => format!(
                " (names match exactly, case included; Okta has {})",
                near.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            ),
        };
        SourceError::NotFound {
            source_name: self.name.clone(),
            group: name.to_owned(),
            why,
        }
    }
}

/// The search for a few names: each by `profile.name`, and by `id` as well when it
/// looks like an Okta group id.
fn search_for(names: &[&str]) -> String {
    names
        .iter()
        .flat_map(|name| {
            let by_name = format!("profile.name eq {}", quoted(name));
            let by_id = looks_like_id(name).then(|| format!("id eq {}", quoted(name)));
            std::iter::once(by_name).chain(by_id)
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// A string value in Okta's expression syntax: in double quotes, with `"` and `\`
/// escaped by a backslash (vendor documentation, "Special characters"; the description
/// only says the expression is URL encoded, which the client does).
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Okta ids are 20 characters; a group's start with `00g`.
fn looks_like_id(name: &str) -> bool {
    name.len() == 20 && name.starts_with("00g") && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A user as a `Person`: the profile's `login`, `email`, `displayName` (else the first
/// and last names) and `department`, the status word, and every other text attribute of
/// the profile under its own name.
fn person(user: &wire::User) -> Person {
    let status = user.status.clone().unwrap_or_default();
    let display_name = user.text("displayName").map(str::to_owned).or_else(|| {
        let name = [user.text("firstName"), user.text("lastName")]
            .into_iter()
            .flatten()
            .filter(|s| !s.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        (!name.is_empty()).then_some(name)
    });
    let attributes = user
        .profile
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
        .collect();
    Person {
        id: user.id.clone(),
        login: user.text("login").map(str::to_owned),
        email: user.text("email").map(str::to_owned),
        display_name,
        department: user.text("department").map(str::to_owned),
        active: SIGN_IN.contains(&status.as_str()),
        status,
        attributes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_names_each_group_by_name_and_ids_also_by_id() {
        assert_eq!(
            search_for(&["Eng \"core\"", "00gabcdefghij1234567"]),
            r#"profile.name eq "Eng \"core\"" or profile.name eq "00gabcdefghij1234567" or id eq "00gabcdefghij1234567""#
        );
        assert!(!looks_like_id("00g-short"));
    }

    #[test]
    fn a_person_has_the_profile_and_the_vendors_sense_of_active() {
        let user: wire::User = serde_json::from_value(serde_json::json!({
            "id": "00u1", "status": "LOCKED_OUT",
            "profile": {"login": "a@x.io", "email": "a@x.io", "firstName": "Ann", "lastName": "Lee",
                        "department": "Eng", "costCenter": "10", "mobilePhone": null, "tags": ["a"]}
        }))
        .unwrap();
        let p = person(&user);
        assert_eq!(p.display_name.as_deref(), Some("Ann Lee"));
        assert!(p.active);
        assert_eq!(p.status, "LOCKED_OUT");
        assert_eq!(p.attributes.get("costCenter").map(String::as_str), Some("10"));
        assert_eq!(p.attributes.get("firstName").map(String::as_str), Some("Ann"));
        // Every text attribute, those `Person`'s fields hold too (a manifest's `map` and
        // `attribute:` rules name them by Okta's names); a list is no text.
        assert!(p.attributes.contains_key("login") && !p.attributes.contains_key("tags"));
        let staged: wire::User = serde_json::from_value(serde_json::json!({"id": "00u2", "status": "STAGED"})).unwrap();
        assert!(!person(&staged).active);
    }
}
