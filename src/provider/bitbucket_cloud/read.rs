//! Reading: the token's account, the declared people among the workspace's members, the
//! workspace owner, and the grants of the projects and repositories the manifest names
//! (of every one, for a read of everything). Every list at `pagelen=100`, following
//! `next`, all at once under the adaptive limit and the budget's pace.
//!
//! A named scope's lists are read only where the plan can use them. The plan compares
//! grants in the scopes that declare some; in the others it plans nothing (a live grant
//! there is unmanaged) unless permissions are pruned or a renamed group's grants move
//! (`ReadScope::all_grants`: every named scope is read), or someone is offboarded, whose
//! every grant is revoked: then the users lists of every named scope are read, and the
//! groups lists only where grants are declared. What a skipped list costs is a line in
//! the unmanaged list, as with Data Center's per-container reads; the notes on shadowed
//! grants compare declared grants only.

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;

use crate::http::paging::{self, Page};
use crate::http::Request;
use crate::model::{Address, Principal, Resource, ResourceId, UserAttrs};

use super::convert::{self, email_queries, Scope};
use super::*;

/// One list to read.
#[derive(Debug)]
enum Read {
    /// `GET /2.0/user`: the token's account.
    Me,
    /// The members whose emails one query names.
    Members(String),
    /// The workspace's owner.
    Owners,
    Users(Scope),
    Groups(Scope),
}

/// What one list gave.
enum Raw {
    Me(wire::Account),
    Members(Vec<wire::Membership>),
    Owners(Vec<wire::Membership>),
    Users(Scope, Vec<wire::UserPermission>),
    Groups(Scope, Vec<wire::GroupPermission>),
}

impl BitbucketCloud {
    /// Every page of a list, following `next`. `scopes` are the token scopes the list
    /// needs, named when Bitbucket refuses it.
    pub(super) async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        scopes: &str,
    ) -> Result<Vec<T>, HttpError> {
        let what = format!("GET {path}");
        paging::by_link(&self.http, &what, |next| {
            let request = match next {
                None => Request::get(path).queries(query).query("pagelen", PAGE_LEN),
                Some(link) => Request::link(link),
            };
            async move {
                let page: wire::Page<T> = self.http.json(request).await?;
                Ok(Page::next_link(page.values, page.next))
            }
        })
        .await
        .map_err(|e| explain(e, scopes))
    }

    /// The members among `emails` (one query of at most 90).
    pub(super) async fn members(&self, query: String) -> Result<Vec<wire::Membership>, HttpError> {
        let path = format!("/2.0/workspaces/{}/members", convert::seg(&self.workspace));
        let q = [("q", query), ("fields", "+values.user.email".to_owned())];
        self.list(&path, &q, "read:workspace:bitbucket").await
    }

    pub(super) async fn read_all(&self) -> Result<ResourceMap, ProviderError> {
        self.http.begin(Operation::Read);
        let before = self.http.request_count();
        let scopes = self.scopes().await?;
        let every_scope = self.scope.everything.then(|| scopes.iter().map(Scope::path).collect());
        // Each person once, by email; a person the manifest gives no email cannot be
        // found (resolve requires one).
        let mut emails: Vec<String> = self
            .scope
            .people
            .values()
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty())
            .collect();
        emails.sort();
        emails.dedup();
        let queries = email_queries(emails.iter().map(String::as_str));
        // `member_users` holds the offboarded and the token's account (whose groups
        // other platforms read for the safety rules); the offboarded are the declared
        // people among them.
        let offboarded = self
            .scope
            .member_users
            .iter()
            .any(|u| self.scope.people.keys().any(|p| p.eq_ignore_ascii_case(u)));
        let lists: Vec<(Scope, bool, bool)> = scopes
            .into_iter()
            .map(|scope| {
                let compared =
                    self.scope.everything || self.scope.all_grants || self.scope.grant_scopes.contains(&scope.path());
                (scope, compared, compared || offboarded)
            })
            .filter(|(_, groups, users)| *groups || *users)
            .collect();
        // The token's account, the owner, a query per 90 people, the scopes' lists.
        let listed: usize = lists.iter().map(|(_, g, u)| usize::from(*g) + usize::from(*u)).sum();
        let minimum = 2 + queries.len() + listed;
        self.check_budget(
            &format!("reading workspace `{}`", self.workspace),
            minimum,
            "name fewer projects and repositories in `access`, or split them over several targets and runs",
        )?;

        let mut reads = vec![Read::Me, Read::Owners];
        reads.extend(queries.into_iter().map(Read::Members));
        for (scope, groups, users) in lists {
            if groups {
                reads.push(Read::Groups(scope.clone()));
            }
            if users {
                reads.push(Read::Users(scope));
            }
        }
        let raws: Vec<Raw> = stream::iter(reads.into_iter().map(|r| self.read_one(r)))
            .buffer_unordered(self.http.max_in_flight())
            .try_collect()
            .await?;

        let t = self.target.as_str();
        let mut names = Names::from_scope(&self.scope);
        let mut live = ResourceMap::new();
        // People first: the grants name them.
        for raw in &raws {
            let Raw::Members(members) = raw else { continue };
            for m in members {
                let (Some(id), Some(email)) = (m.user.id(), m.user.email.as_deref()) else {
                    continue;
                };
                for (name, _) in self
                    .scope
                    .people
                    .iter()
                    .filter(|(_, e)| e.trim().eq_ignore_ascii_case(email.trim()))
                {
                    names.learn_person(name, id);
                    live.insert(
                        Address::new(
                            t,
                            ResourceId::User {
                                name: name.as_str().into(),
                            },
                        ),
                        Resource::User(Box::new(UserAttrs::new(m.user.display_name.clone(), email))),
                    );
                }
            }
        }
        let mut findings = Findings {
            listed: every_scope,
            ..Findings::default()
        };
        let mut me = None;
        for raw in raws {
            match raw {
                Raw::Me(account) => me = Some(account),
                Raw::Members(_) => {}
                Raw::Owners(owners) => {
                    for owner in owners
                        .iter()
                        .filter(|m| m.permission.as_deref().is_none_or(|p| p == "owner"))
                    {
                        if let Some(name) = owner.user.id().and_then(|id| names.person(id)) {
                            findings.fixed.push((
                                Principal::User(name.into()),
                                "the workspace owner: Bitbucket gives them admin everywhere and refuses explicit grants"
                                    .to_owned(),
                            ));
                        }
                    }
                }
                Raw::Users(scope, grants) => live.extend(grants.into_iter().filter_map(|g| {
                    let principal = names.user_principal(&g.user)?;
                    convert::grant(t, &scope, principal, g.permission)
                })),
                Raw::Groups(scope, grants) => live.extend(grants.into_iter().filter_map(|g| {
                    let principal = names.group_principal(&g.group);
                    convert::grant(t, &scope, principal, g.permission)
                })),
            }
        }
        let used = self.http.request_count() - before;
        findings.usage = Some(self.budget_remark(used, me.as_ref()));
        *self.names() = names;
        *self.findings_mut() = findings;
        Ok(live)
    }

    /// What the read cost, and what is left of the account's hour at most.
    fn budget_remark(&self, used: usize, me: Option<&wire::Account>) -> String {
        let quota = self.tuning.quota as usize;
        let left = quota.saturating_sub(self.http.request_count());
        let who = me
            .map(|a| a.display_name.trim())
            .filter(|name| !name.is_empty())
            .map(|name| format!(" as {name}"))
            .unwrap_or_default();
        format!(
            "reading workspace `{}`{who} took {used} request{} of the account's {} an hour; at most {} are left this hour (rollcall sees only its own requests: other clients of the same account spend from the same budget)",
            self.workspace,
            if used == 1 { "" } else { "s" },
            crate::text::thousands(quota),
            crate::text::thousands(left),
        )
    }

    /// Work that cannot fit in the most an operation may take (`max_deadline`) at the
    /// pace the budget allows fails now with what it would take, rather than after hours
    /// of waiting. `what` names the work, `needed` is its fewest requests, `remedy` says
    /// how to need fewer.
    pub(super) fn check_budget(&self, what: &str, needed: usize, remedy: &str) -> Result<(), HttpError> {
        let fail = |detail: String| HttpError {
            target: self.target.clone(),
            request: what.to_owned(),
            kind: ErrorKind::Throttled,
            status: None,
            detail,
            ambiguous: false,
            attempts: 0,
        };
        let quota = self.tuning.quota as usize;
        // More than an hour's quota is fine: the pacer spreads it over the hours it
        // takes. What cannot finish within the longest an operation may take is refused
        // before its first request, rather than failing hours in.
        if let Some(budget) = self.tuning.budget {
            // Optimistic: the whole burst free again. Only work that certainly cannot
            // finish is refused.
            let spaced = u32::try_from(needed.saturating_sub(BURST as usize)).unwrap_or(u32::MAX);
            let takes = budget.interval().saturating_mul(spaced);
            let max = self.tuning.max_deadline.max(self.tuning.deadline);
            if takes > max {
                return Err(fail(format!(
                    "it needs at least {needed} requests, which at the pace of {quota} an hour take {} s, longer than the {} s it may take; {remedy}",
                    takes.as_secs(),
                    max.as_secs()
                )));
            }
        }
        Ok(())
    }

    /// The scopes whose grants are read: the ones the manifest names, or, for a read of
    /// everything, every project and repository of the workspace (two lists).
    async fn scopes(&self) -> Result<Vec<Scope>, HttpError> {
        if !self.scope.everything {
            return Ok(self.scope.scopes.iter().filter_map(Scope::from_path).collect());
        }
        let ws = convert::seg(&self.workspace);
        let projects_path = format!("/2.0/workspaces/{ws}/projects");
        let repos_path = format!("/2.0/repositories/{ws}");
        let repo_fields = [("fields", "next,values.slug,values.project.key".to_owned())];
        let (projects, repos) = futures_util::try_join!(
            self.list::<wire::Project>(&projects_path, &[], "read:project:bitbucket"),
            self.list::<wire::Repository>(&repos_path, &repo_fields, "read:repository:bitbucket"),
        )?;
        let mut scopes: Vec<Scope> = projects.into_iter().map(|p| Scope::Project(p.key)).collect();
        scopes.extend(
            repos
                .into_iter()
                .filter_map(|r| Some(Scope::Repo(r.project?.key, r.slug))),
        );
        scopes.sort();
        scopes.dedup();
        Ok(scopes)
    }

    async fn read_one(&self, read: Read) -> Result<Raw, ProviderError> {
        let ws = convert::seg(&self.workspace);
        Ok(match read {
            Read::Me => Raw::Me(
                self.http
                    .json(Request::get("/2.0/user"))
                    .await
                    .map_err(|e| explain(e, "read:user:bitbucket"))?,
            ),
            Read::Members(query) => Raw::Members(self.members(query).await?),
            Read::Owners => Raw::Owners(
                self.list(
                    &format!("/2.0/workspaces/{ws}/permissions"),
                    &[("q", "permission=\"owner\"".to_owned())],
                    "read:workspace:bitbucket",
                )
                .await?,
            ),
            Read::Users(scope) => {
                let path = format!("{}/users", scope.base(&self.workspace));
                let grants = self.list(&path, &[], scope.read_scope()).await?;
                Raw::Users(scope, grants)
            }
            Read::Groups(scope) => {
                let path = format!("{}/groups", scope.base(&self.workspace));
                let grants = self.list(&path, &[], scope.read_scope()).await?;
                Raw::Groups(scope, grants)
            }
        })
    }
}
