//! Between the wire and the model: where a permission list lives, how a grant's holder is
//! named (a declared person by their rollcall name, a declared group by its manifest
//! name, anyone else by the identifier Bitbucket gives), and the members query by email.

pub use crate::http::path_segment as seg;
use std::collections::BTreeMap;

use crate::desired::ReadScope;
use crate::model::{self, Address, Principal, Resource, ResourceId};

use super::wire;

/// The segment kinds of Bitbucket's scopes, as the platform spec names them.
pub const PROJECT: &str = "project";
pub const REPO: &str = "repo";

/// The most addresses one `user.email IN (…)` query may hold, per the description.
pub const EMAILS_PER_QUERY: usize = 90;

/// Where a permission list lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Project(String),
    /// A repository, by its project's key (the manifest's path) and its slug.
    Repo(String, String),
}

impl Scope {
    pub fn path(&self) -> model::Scope {
        match self {
            Scope::Project(p) => model::Scope::root().child(PROJECT, p),
            Scope::Repo(p, r) => model::Scope::root().child(PROJECT, p).child(REPO, r),
        }
    }

    pub fn from_path(path: &model::Scope) -> Option<Scope> {
        match path.segments() {
            [p] if p.kind == PROJECT => Some(Scope::Project(p.name.to_string())),
            [p, r] if p.kind == PROJECT && r.kind == REPO => Some(Scope::Repo(p.name.to_string(), r.name.to_string())),
            _ => None,
        }
    }

    /// `…/permissions-config` of this scope. A repository is addressed by the workspace
    /// and its slug alone; its project is the manifest's grouping.
    pub fn base(&self, workspace: &str) -> String {
        let ws = seg(workspace);
        match self {
            Scope::Project(p) => format!("/2.0/workspaces/{ws}/projects/{}/permissions-config", seg(p)),
            Scope::Repo(_, r) => format!("/2.0/repositories/{ws}/{}/permissions-config", seg(r)),
        }
    }

    pub fn noun(&self) -> &'static str {
        match self {
            Scope::Project(_) => "project",
            Scope::Repo(..) => "repository",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Scope::Project(p) => format!("project {p}"),
            Scope::Repo(p, r) => format!("repository {p}/{r}"),
        }
    }

    /// The description's `x-atlassian-oauth2-scopes` of the permission lists here.
    pub fn read_scope(&self) -> &'static str {
        match self {
            Scope::Project(_) => "read:project:bitbucket",
            Scope::Repo(..) => "read:repository:bitbucket",
        }
    }

    /// The scope a PUT or DELETE here needs besides `write:`/`delete:permission:bitbucket`.
    pub fn admin_scope(&self) -> &'static str {
        match self {
            Scope::Project(_) => "admin:project:bitbucket",
            Scope::Repo(..) => "admin:repository:bitbucket",
        }
    }
}

/// How grants' holders are named both ways: people by rollcall name ↔ account id (from
/// the members query), groups by manifest name ↔ slug (from the manifest's `ids` or the
/// derived slug). Names match without regard to case, as everywhere in rollcall.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// Lower-cased rollcall name → account id.
    accounts: BTreeMap<String, String>,
    /// Account id → rollcall name.
    people: BTreeMap<String, String>,
    /// Lower-cased group name → slug.
    slugs: BTreeMap<String, String>,
    /// Lower-cased slug → group name.
    groups: BTreeMap<String, String>,
}

impl Names {
    /// The groups the manifest declares, by their slug on this target.
    pub fn from_scope(scope: &ReadScope) -> Names {
        let mut names = Names::default();
        for (name, id) in &scope.group_ids {
            names.slugs.insert(name.to_lowercase(), id.id.clone());
            names.groups.insert(id.id.to_lowercase(), name.clone());
        }
        names
    }

    pub fn learn_person(&mut self, name: &str, account_id: &str) {
        self.accounts.insert(name.to_lowercase(), account_id.to_owned());
        self.people.insert(account_id.to_owned(), name.to_owned());
    }

    pub fn account(&self, name: &str) -> Option<&str> {
        self.accounts.get(&name.to_lowercase()).map(String::as_str)
    }

    pub fn person(&self, account_id: &str) -> Option<&str> {
        self.people.get(account_id).map(String::as_str)
    }

    /// The slug a group is sent as: its declared or derived slug, else (an undeclared
    /// group, named by the slug it was read under) the name itself.
    pub fn slug(&self, group: &str) -> String {
        self.slugs
            .get(&group.to_lowercase())
            .cloned()
            .unwrap_or_else(|| group.to_owned())
    }

    /// The slug was the manifest's `ids`, not derived.
    pub fn group_of(&self, slug: &str) -> Option<&str> {
        self.groups.get(&slug.to_lowercase()).map(String::as_str)
    }

    /// A user grant's holder: the declared person with that account, else the account id.
    pub fn user_principal(&self, account: &wire::Account) -> Option<Principal> {
        let id = account.id()?;
        Some(Principal::User(self.person(id).unwrap_or(id).into()))
    }

    /// A group grant's holder: the declared group with that slug, else the slug.
    pub fn group_principal(&self, group: &wire::Group) -> Principal {
        Principal::Group(self.group_of(&group.slug).unwrap_or(&group.slug).into())
    }
}

/// A grant as read. `none` is no access, not a grant.
pub fn grant(target: &str, scope: &Scope, principal: Principal, permission: String) -> Option<(Address, Resource)> {
    (permission != "none").then(|| {
        (
            Address::new(
                target,
                ResourceId::Grant {
                    scope: scope.path(),
                    principal,
                },
            ),
            Resource::Permission { permission },
        )
    })
}

/// BBQL queries finding members by email, at most [`EMAILS_PER_QUERY`] addresses each:
/// `user.email IN ("a@x","b@x")`. A `"` or `\` in an address is escaped, so no address
/// can end the string early.
pub fn email_queries<'a>(emails: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let quoted: Vec<String> = emails
        .into_iter()
        .map(|e| format!("\"{}\"", e.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    quoted
        .chunks(EMAILS_PER_QUERY)
        .map(|chunk| format!("user.email IN ({})", chunk.join(",")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::GroupId;

    #[test]
    fn emails_go_ninety_to_a_query() {
        let emails: Vec<String> = (0..181).map(|i| format!("p{i}@example.org")).collect();
        let queries = email_queries(emails.iter().map(String::as_str));
        assert_eq!(queries.len(), 3);
        assert_eq!(queries[0].matches('@').count(), 90);
        assert_eq!(queries[1].matches('@').count(), 90);
        assert_eq!(queries[2], "user.email IN (\"p180@example.org\")");
        assert!(email_queries(std::iter::empty()).is_empty());
        assert_eq!(email_queries(["a\"b@x"]), ["user.email IN (\"a\\\"b@x\")".to_owned()]);
    }

    #[test]
    fn holders_are_named_by_the_manifest_where_it_declares_them() {
        let mut scope = ReadScope::default();
        scope.group_ids.insert(
            "Platform Team".into(),
            GroupId {
                id: "platform-team".into(),
                declared: false,
            },
        );
        let mut names = Names::from_scope(&scope);
        names.learn_person("ada", "557058:1");
        let account = |id: &str| wire::Account {
            account_id: Some(id.into()),
            uuid: None,
            display_name: String::new(),
            email: None,
        };
        assert_eq!(
            names.user_principal(&account("557058:1")),
            Some(Principal::User("ada".into()))
        );
        assert_eq!(
            names.user_principal(&account("557058:9")),
            Some(Principal::User("557058:9".into()))
        );
        let group = |slug: &str| wire::Group { slug: slug.into() };
        assert_eq!(
            names.group_principal(&group("platform-team")),
            Principal::Group("Platform Team".into())
        );
        assert_eq!(names.group_principal(&group("ops")), Principal::Group("ops".into()));
        assert_eq!(names.slug("platform team"), "platform-team");
        assert_eq!(names.slug("ops"), "ops");
        assert_eq!(names.account("ADA"), Some("557058:1"));
    }

    #[test]
    fn scopes_map_to_their_permission_paths() {
        let repo = Scope::Repo("PLAT".into(), "api".into());
        assert_eq!(repo.base("acme"), "/2.0/repositories/acme/api/permissions-config");
        assert_eq!(
            Scope::Project("PLAT".into()).base("acme"),
            "/2.0/workspaces/acme/projects/PLAT/permissions-config"
        );
        assert_eq!(Scope::from_path(&repo.path()), Some(repo));
        assert_eq!(Scope::from_path(&model::Scope::root()), None);
        assert!(grant(
            "t",
            &Scope::Project("P".into()),
            Principal::User("a".into()),
            "none".into()
        )
        .is_none());
    }
}
