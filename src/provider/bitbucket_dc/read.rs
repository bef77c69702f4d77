//! Reading: the instance-wide lists, the scopes the manifest names (or every project and
//! repository, for a read of everything), and per container what the plan needs.

use super::*;

impl BitbucketDc {
    /// Every page of a list, following `nextPageStart` until `isLastPage`.
    pub(super) async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, HttpError> {
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

    pub(super) async fn read_all(&self) -> Result<ResourceMap, ProviderError> {
        self.http.begin(Operation::Read);
        // Each read is one paged list; they run together, capped per target.
        let mut reads: Vec<Read> = vec![Read::Users(None), Read::Groups(None), Read::Grants(Scope::Global)];
        let scopes = self.scopes().await?;
        let listed = self.scope.everything.then(|| {
            scopes
                .iter()
                .filter(|s| !matches!(s, Scope::Global))
                .map(Scope::path)
                .collect()
        });
        for scope in scopes {
            // Two requests per project: only where the plan compares the default (a read
            // of everything reads every one, for import).
            let compared = self.scope.everything || self.scope.defaults.contains(&scope.path());
            if let (Scope::Project(project), true) = (&scope, compared) {
                reads.push(Read::Default(project.clone()));
            }
            if !matches!(scope, Scope::Global) {
                reads.push(Read::Grants(scope));
            }
        }
        let mut live = ResourceMap::new();
        let results: Vec<Vec<(Address, Resource)>> = stream::iter(reads.into_iter().map(|r| self.read_one(r)))
            .buffer_unordered(self.http.max_in_flight())
            .try_collect()
            .await?;
        // Members of the declared groups (all groups when groups are pruned), of groups
        // holding ADMIN or SYS_ADMIN (the safety rules count administrators), and the
        // groups of offboarded people and of the token's own account: per container, so
        // only what the plan and its checks need. The other groups are reported unread,
        // for the plan to say what its effect on people could not count.
        let mut wanted: BTreeSet<String> = self.scope.member_groups.iter().map(|g| g.to_lowercase()).collect();
        wanted.extend(results.iter().flatten().filter_map(|(a, r)| match (&a.id, r) {
            (
                ResourceId::Grant {
                    scope,
                    principal: Principal::Group(g),
                },
                Resource::Permission { permission },
            ) if PLATFORM.is_admin(scope, permission) => Some(g.as_str().to_lowercase()),
            _ => None,
        }));
        let (read, unread): (Vec<String>, Vec<String>) = results
            .iter()
            .flatten()
            .filter_map(|(a, _)| match &a.id {
                ResourceId::Group { name } => Some(name.to_string()),
                _ => None,
            })
            .partition(|g| self.scope.all_group_members || wanted.contains(&g.to_lowercase()));
        *self.findings.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = crate::provider::Findings {
            unread_members: unread.into_iter().collect(),
            listed,
            ..Default::default()
        };
        let mut member_reads: Vec<Read> = read.into_iter().map(Read::Members).collect();
        let live_users: BTreeSet<String> = results
            .iter()
            .flatten()
            .filter_map(|(a, _)| match &a.id {
                ResourceId::User { name } => Some(name.as_str().to_lowercase()),
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
            .buffer_unordered(self.http.max_in_flight())
            .try_collect()
            .await?;
        live.extend(members.into_iter().flatten());
        Ok(live)
    }

    /// The scopes whose permissions are read: the ones the manifest names, or, when the
    /// read scope asks for everything, every project and repository the target lists (a
    /// request per project for its repositories).
    pub(super) async fn scopes(&self) -> Result<Vec<Scope>, HttpError> {
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
            .buffer_unordered(self.http.max_in_flight())
            .try_collect()
            .await?;
        let mut scopes = Vec::new();
        for (key, repos) in listed {
            scopes.extend(repos.into_iter().map(|r| Scope::Repo(key.clone(), r.slug)));
            scopes.push(Scope::Project(key));
        }
        Ok(scopes)
    }

    pub(super) async fn read_one(&self, read: Read) -> Result<Vec<(Address, Resource)>, ProviderError> {
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
                .map(|g| {
                    (
                        Address::new(t, ResourceId::Group { name: g.name.into() }),
                        Resource::group(),
                    )
                })
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
                                group: group.as_str().into(),
                                user: u.name.into(),
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
                                group: g.name.into(),
                                user: user.as_str().into(),
                            },
                        ),
                        Resource::membership(),
                    )
                })
                .collect(),
            // Two lists, users and groups. A project's or repository's `permissions/search`
            // would be one, but the description says it returns "direct and implied
            // permissions" (a superset of these lists) and gives its answer no schema, so
            // nothing in it tells a direct grant from one implied by a project or global
            // permission: read as grants, implied ones would be revoked or changed.
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
}
