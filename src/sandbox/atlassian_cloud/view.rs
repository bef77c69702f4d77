//! Bitbucket's view of the organization directory: which groups and memberships it has
//! seen, given `propagation_ms` (a group created, or a person added to or removed from a
//! group, shows in Bitbucket only that long after), who is a workspace member, and what
//! access each member has.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::state::{slug, CloudState, DirectoryGroup, DirectoryUser, Level, Project, Repo};

pub struct View<'a> {
    pub state: &'a CloudState,
    now: Instant,
    delay: Duration,
}

impl<'a> View<'a> {
    pub fn new(state: &'a CloudState) -> Self {
        View {
            state,
            now: Instant::now(),
            delay: Duration::from_millis(state.propagation_ms),
        }
    }

    /// Whether a change made at `at` (none recorded: long ago) has reached Bitbucket.
    fn arrived(&self, at: Option<&Instant>) -> bool {
        at.is_none_or(|at| self.now.duration_since(*at) >= self.delay)
    }

    pub fn group_visible(&self, group: &DirectoryGroup) -> bool {
        self.arrived(self.state.clock.created.get(&group.id))
    }

    /// The directory group Bitbucket knows by `group_slug`, once it has arrived.
    pub fn group_by_slug(&self, group_slug: &str) -> Option<&'a DirectoryGroup> {
        self.state
            .groups
            .iter()
            .find(|g| slug(&g.name) == group_slug && self.group_visible(g))
    }

    /// Whether Bitbucket sees `account` in `group`: a join counts once it has arrived, a
    /// departure only once it has arrived too.
    pub fn in_group(&self, group: &DirectoryGroup, account: &str) -> bool {
        let key = (group.id.clone(), account.to_owned());
        if group.members.iter().any(|m| m == account) {
            self.arrived(self.state.clock.joined.get(&key))
        } else {
            self.state
                .clock
                .left
                .get(&key)
                .is_some_and(|at| !self.arrived(Some(at)))
        }
    }

    /// Accounts Bitbucket sees in `group`, members now or still on their way out.
    pub fn group_members(&self, group: &DirectoryGroup) -> Vec<&'a DirectoryUser> {
        self.state
            .users
            .iter()
            .filter(|u| self.in_group(group, &u.account_id))
            .collect()
    }

    /// The workspace's admins: its owner and the operator (the token's user, a workspace
    /// admin). Both show as `owner` in `/permissions` and are admin everywhere.
    pub fn is_admin(&self, account: &str) -> bool {
        account == self.state.workspace.owner || account == self.state.operator
    }

    /// A workspace member: the owner, an account invited directly, or a member of an
    /// access group (once group and membership have arrived). An account the directory
    /// has suspended or deactivated has no product access, so it is no member.
    pub fn is_member(&self, account: &str) -> bool {
        let workspace = &self.state.workspace;
        let active = self
            .state
            .user(account)
            .is_some_and(|u| u.status == super::state::UserStatus::Active);
        if !active {
            return false;
        }
        self.is_admin(account)
            || workspace.members.iter().any(|m| m == account)
            || workspace.access_groups.iter().any(|name| {
                self.state
                    .groups
                    .iter()
                    .any(|g| g.name == *name && self.group_visible(g) && self.in_group(g, account))
            })
    }

    pub fn members(&self) -> Vec<&'a DirectoryUser> {
        self.state
            .users
            .iter()
            .filter(|u| self.is_member(&u.account_id))
            .collect()
    }

    /// The highest of `account`'s grants in `groups` (by slug) and `users`.
    fn granted(
        &self,
        account: &str,
        groups: &std::collections::BTreeMap<String, Level>,
        users: &std::collections::BTreeMap<String, Level>,
    ) -> Option<Level> {
        let direct = users.get(account).copied();
        let via_groups = groups
            .iter()
            .filter(|(s, _)| self.group_by_slug(s).is_some_and(|g| self.in_group(g, account)))
            .map(|(_, level)| *level);
        direct.into_iter().chain(via_groups).max()
    }

    /// `account`'s effective permission on `repo` of `project`: the highest of workspace
    /// admin, the project's grants (create-repo is write on repositories) and the
    /// repository's, direct or through a group. A lower repository grant never narrows a
    /// higher project grant.
    pub fn repo_level(&self, account: &str, project: &Project, repo: &Repo) -> Option<Level> {
        if !self.is_member(account) {
            return None;
        }
        if self.is_admin(account) {
            return Some(Level::Admin);
        }
        let from_project = self
            .granted(account, &project.groups, &project.users)
            .map(Level::on_repos);
        let from_repo = self.granted(account, &repo.groups, &repo.users);
        from_project.max(from_repo)
    }

    /// The accounts that take a seat: the admins and everyone an explicit grant reaches,
    /// with `extra` (a grant about to be made) counted as made.
    pub fn seats(&self, extra: Option<Principal<'_>>) -> usize {
        let add = |principal: Principal<'_>, seated: &mut BTreeSet<String>| match principal {
            Principal::User(account) => {
                seated.insert(account.to_owned());
            }
            Principal::Group(group_slug) => {
                if let Some(group) = self.group_by_slug(group_slug) {
                    seated.extend(self.group_members(group).iter().map(|u| u.account_id.clone()));
                }
            }
        };
        let mut all: BTreeSet<String> = [&self.state.workspace.owner, &self.state.operator]
            .into_iter()
            .cloned()
            .collect();
        for project in &self.state.workspace.projects {
            let grants = std::iter::once((&project.groups, &project.users))
                .chain(project.repos.iter().map(|r| (&r.groups, &r.users)));
            for (groups, users) in grants {
                for group_slug in groups.keys() {
                    add(Principal::Group(group_slug), &mut all);
                }
                for account in users.keys() {
                    add(Principal::User(account), &mut all);
                }
            }
        }
        if let Some(extra) = extra {
            add(extra, &mut all);
        }
        all.len()
    }
}

/// Who a grant is to.
#[derive(Debug, Clone, Copy)]
pub enum Principal<'a> {
    User(&'a str),
    Group(&'a str),
}
