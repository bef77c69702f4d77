//! Writing: one request per batch of changes, and a write whose answer was lost read back
//! before it is called failed or sent again.

use super::*;

impl BitbucketDc {
    /// Every write but a create is safe to send twice here (an update, a delete, members
    /// added or removed, a permission or flag set to a value): the client retries it after
    /// any failure worth another attempt, and `apply` confirms an ambiguous outcome by
    /// reading back.
    pub(super) async fn send(
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
    pub(super) async fn create(
        &self,
        changes: &[Change],
        path: &str,
        query: &[(&str, String)],
    ) -> Result<(), ProviderError> {
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

    pub(super) async fn apply_batch(&self, changes: &[Change]) -> Result<(), ProviderError> {
        let Some(first) = changes.first() else { return Ok(()) };
        match (&first.address.id, first.action, &first.after) {
            (ResourceId::User { name }, Action::Create, Some(Resource::User(u))) => {
                let mut q = vec![
                    ("name", name.to_string()),
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
                self.send(Method::DELETE, "/admin/users", &[("name", name.to_string())], None)
                    .await
            }
            (ResourceId::Group { name }, Action::Create, _) => {
                self.create(changes, "/admin/groups", &[("name", name.to_string())])
                    .await
            }
            (ResourceId::Group { name }, Action::Delete, _) => {
                self.send(Method::DELETE, "/admin/groups", &[("name", name.to_string())], None)
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
                let had = match &first.before {
                    Some(Resource::Default { permission }) => permission.clone(),
                    _ => None,
                };
                let Some(Scope::Project(project)) = Scope::from_path(scope) else {
                    return Err(
                        self.unsupported(first, "Bitbucket Data Center has an all-users default on projects only")
                    );
                };
                let wanted = match after {
                    Some(Resource::Default { permission }) => permission.clone(),
                    _ => None,
                };
                self.set_project_default(&project, had.as_deref(), wanted.as_deref())
                    .await
            }
            (id, action, after) => {
                let Some((scope, principal)) = grant_scope(id) else {
                    return Err(self.unsupported(first, "this kind of change has no Bitbucket Data Center call"));
                };
                let base = permissions_path(&scope);
                let (kind, name) = match &principal {
                    Principal::User(n) => ("users", n.to_string()),
                    Principal::Group(n) => ("groups", n.to_string()),
                };
                match (action, after) {
                    (Action::Create | Action::Update, Some(Resource::Permission { permission })) => {
                        let mut q: Vec<(&str, String)> = changes
                            .iter()
                            .filter_map(|c| grant_scope(&c.address.id))
                            .map(|(_, p)| match p {
                                Principal::User(n) | Principal::Group(n) => ("name", n.to_string()),
                            })
                            .collect();
                        q.push(("permission", permission.clone()));
                        self.send(Method::PUT, &format!("{base}/{kind}"), &q, None).await
                    }
                    (Action::Delete, _) if changes.len() == 1 => {
                        self.send(Method::DELETE, &format!("{base}/{kind}"), &[("name", name)], None)
                            .await
                    }
                    // A user's and a group's grants on one project or repository, revoked
                    // in one call; `batch_key` and `batch_admits` made the batch.
                    (Action::Delete, _) if !matches!(scope, Scope::Global) => {
                        let q: Vec<(&str, String)> = changes
                            .iter()
                            .filter_map(|c| grant_scope(&c.address.id))
                            .map(|(_, p)| match p {
                                Principal::User(n) => ("user", n.to_string()),
                                Principal::Group(n) => ("group", n.to_string()),
                            })
                            .collect();
                        self.send(Method::DELETE, &base, &q, None).await
                    }
                    _ => Err(self.unsupported(first, "a permission change needs a permission")),
                }
            }
        }
    }

    /// The API holds the default as two flags; clear the stronger one before granting the
    /// weaker, so the result never briefly exceeds what the manifest asks for. Only flags
    /// the plan saw set are cleared: `had` is the default as read (`PROJECT_WRITE` when
    /// the write flag is set, whatever the read flag), so clearing a flag it shows unset
    /// would change nothing.
    pub(super) async fn set_project_default(
        &self,
        project: &str,
        had: Option<&str>,
        wanted: Option<&str>,
    ) -> Result<(), ProviderError> {
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
        let had_write = had == Some("PROJECT_WRITE");
        match wanted {
            Some("PROJECT_WRITE") => set("PROJECT_WRITE", true).await,
            Some("PROJECT_READ") => {
                if had_write {
                    set("PROJECT_WRITE", false).await?;
                }
                set("PROJECT_READ", true).await
            }
            _ => {
                if had_write {
                    set("PROJECT_WRITE", false).await?;
                }
                // Under a write flag the read flag may be set or not; clear it either way.
                if had.is_some() {
                    set("PROJECT_READ", false).await?;
                }
                Ok(())
            }
        }
    }

    /// An attempt may have been applied before its answer was lost, so the final error (a
    /// 409 "already exists", a 404 on a delete, or a timeout) may describe a change that
    /// in fact went through. Read back each change's object: if live state is what the
    /// changes leave, they are applied; otherwise the error stands.
    pub(super) async fn confirm(&self, changes: &[Change], error: HttpError) -> Result<(), ProviderError> {
        if self.read_back(changes).await? != ReadBack::Applied {
            return Err(error.into());
        }
        tracing::debug!(target: "rollcall::http", target_name = %self.target, changes = changes.len(), "an uncertain request had been applied; confirmed by reading back");
        Ok(())
    }

    /// Reads each change's object as it is now and compares it with the change. Changes
    /// of one batch that live in one list (a revoke's user and group on one scope) read it
    /// once.
    pub(super) async fn read_back(&self, changes: &[Change]) -> Result<ReadBack, ProviderError> {
        let (mut applied, mut untouched) = (true, true);
        let mut lists: Vec<(String, Vec<(Address, Resource)>)> = Vec::new();
        for c in changes {
            // A scope Bitbucket has no list for cannot be read back: nothing is known.
            let Some(read) = container(&c.address.id) else {
                return Ok(ReadBack::Other);
            };
            let list = format!("{read:?}");
            if !lists.iter().any(|(l, _)| *l == list) {
                let found = self.read_one(read).await?;
                lists.push((list.clone(), found));
            }
            let found = lists
                .iter()
                .find(|(l, _)| *l == list)
                .map_or(&[][..], |(_, f)| f.as_slice());
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
}
