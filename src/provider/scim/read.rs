//! Reading: the two paged lists, `/Users` and `/Groups`, and the filtered lookups a
//! write uses to find the object it collided with or may have made.

use super::*;

impl Scim {
    /// Every page of a list. Pages advance by what the server served, which may be fewer
    /// than asked for (RFC 7644 §3.4.2.4), until `totalResults` are in.
    pub(super) async fn list(&self, collection: Collection, filter: Option<String>) -> Result<Vec<Value>, HttpError> {
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

    pub(super) async fn read_all(&self) -> Result<ResourceMap, ProviderError> {
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
                        name: u.user_name.as_str().into(),
                    },
                ),
                Resource::User(Box::new(attrs)),
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
                        name: g.display_name.as_str().into(),
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
                        group: g.display_name.as_str().into(),
                        user: user.as_str().into(),
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
                            name: g.display_name.as_str().into(),
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
    pub(super) async fn find(&self, collection: Collection, name: &str) -> Result<Option<Value>, HttpError> {
        Ok(self.find_all(collection, name).await?.into_iter().next())
    }

    /// Every object of that name (more than one only where names are not unique).
    pub(super) async fn find_all(&self, collection: Collection, name: &str) -> Result<Vec<Value>, HttpError> {
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
}
