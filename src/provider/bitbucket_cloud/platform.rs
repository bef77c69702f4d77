//! Bitbucket Cloud as the core sees it: a workspace whose people and groups are made in
//! the Atlassian organisation's directory (external here), role words for projects and
//! repositories, group slugs, and the hints for its errors.

use crate::platform::{Credentials, GroupIds, Hints, KindRules, Platform, ScopeRoles, SegmentRule, Spec};

pub const PLATFORM: Platform = Platform::new(&SPEC);

pub(crate) const SPEC: Spec = Spec {
    kind: "bitbucket-cloud",
    profile: None,
    default_profile: true,
    summary: "Bitbucket Cloud, one workspace, through its 2.0 API: project and repository permissions.",
    profile_summary: "",
    options: &["workspace"],
    required: &["workspace"],
    option_words: &[],
    // Only Atlassian API tokens (Basic, the account's email and the token) may manage
    // permissions: access tokens "can't be used to manipulate or query repository,
    // project, or workspace permissions", and JWT and OAuth are refused on the writes.
    credentials: Credentials::Basic,
    // The 2.0 API cannot add, remove or change workspace members, groups or group
    // members: they are made in the organisation's directory and only referred to here.
    users: KindRules::EXTERNAL,
    groups: KindRules::EXTERNAL,
    memberships: KindRules::EXTERNAL,
    permissions: KindRules::PLAIN,
    group_attributes: &[],
    member_roles: None,
    users_by_email: false,
    segments: &[
        SegmentRule {
            kind: "project",
            key: "projects",
            example: "PLAT",
            noun: "project key",
            valid: project_key,
            rule: "project keys use `A`-`Z`, `0`-`9` and `_`, starting with `A`-`Z` (like PLAT), as Bitbucket Cloud shows them",
        },
        SegmentRule {
            kind: "repo",
            key: "repos",
            example: "api",
            noun: "repository slug",
            valid: repo_slug,
            rule: "repository slugs use `a`-`z`, `0`-`9`, `.`, `_` and `-`, starting with `a`-`z`, `0`-`9` or `_` (like api-gateway), as Bitbucket Cloud makes them",
        },
    ],
    // No root scope: workspace permissions are read-only in the 2.0 API.
    scopes: &[
        ScopeRoles {
            path: &["project"],
            noun: "project",
            key: "",
            words: &[("read", Some("read")), ("write", Some("write")), ("admin", Some("admin"))],
            natives: &["read", "write", "create-repo", "admin"],
            holders: crate::platform::Holders::Both,
        },
        ScopeRoles {
            path: &["project", "repo"],
            noun: "repository",
            key: "",
            words: &[("read", Some("read")), ("write", Some("write")), ("admin", Some("admin"))],
            natives: &["read", "write", "admin"],
            holders: crate::platform::Holders::Both,
        },
    ],
    defaults: &[],
    // Workspace administrators are not grants rollcall can see or give.
    admin: &[],
    // "Project permissions … are inherited by every repository in the project", and the
    // highest of workspace, project and repository access applies.
    inherited: true,
    group_ids: Some(GroupIds {
        noun: "slug",
        derive: derive_slug,
        valid: group_slug,
        rule: "a Bitbucket group slug uses `a`-`z`, `0`-`9`, `-`, `_` and `.`: the group's name in lower case with spaces as dashes, unless Bitbucket made it otherwise (set `ids: { TARGET: SLUG }` to the slug Bitbucket shows)",
    }),
    bearer_names_account: false,
    hints: Hints {
        auth: "add `auth: { username: YOUR_ATLASSIAN_EMAIL, token: \"${env:BITBUCKET_API_TOKEN}\" }`: an Atlassian API token with the scopes read:user:bitbucket, read:workspace:bitbucket, read:project:bitbucket, read:repository:bitbucket, admin:project:bitbucket, admin:repository:bitbucket, write:permission:bitbucket and delete:permission:bitbucket; repository, project and workspace access tokens (Bearer) cannot read or change permissions",
        no_grants: "",
        unauthorized: "check the API token and its scopes (read:user:bitbucket, read:workspace:bitbucket, read:project:bitbucket, read:repository:bitbucket, and for changes admin:project:bitbucket, admin:repository:bitbucket, write:permission:bitbucket, delete:permission:bitbucket): Bitbucket says \"Token is invalid, expired, or not supported for this endpoint\" for a missing scope too; the account must administer the workspace",
        not_found: "the workspace (the target's `workspace:` slug), a project key or a repository slug named in `access` may not exist on Bitbucket Cloud: fix it, or create it there first",
        not_member: "give them access to the workspace through the organization's directory: add them to a group with Bitbucket access, in the manifest where a directory target provides this one (`principals_from`), or else in Atlassian Administration",
    },
};

fn project_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && key.len() <= 255
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn repo_slug(slug: &str) -> bool {
    let mut chars = slug.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && slug.len() <= 255
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

/// The legacy groups endpoint's documented rule: "converting spaces to dashes and making
/// all text lower case". Bitbucket does not document how a group made in the
/// organisation's directory gets its slug; this is the rule a manifest's `ids` overrides.
pub(crate) fn derive_slug(name: &str) -> String {
    name.trim().to_lowercase().replace(' ', "-")
}

/// The group object's slug "contains only ASCII characters".
fn group_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 255
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_keys_and_repo_slugs_follow_their_rule() {
        assert!(project_key("PLAT_2"));
        assert!(!project_key("plat"));
        assert!(!project_key("2PLAT"));
        assert!(repo_slug("api-gateway.v2"));
        assert!(repo_slug("_infra"));
        assert!(!repo_slug("café"));
        assert!(!repo_slug("-api"));
    }

    /// The legacy documented example, and what a manifest's group names become.
    #[test]
    fn group_slugs_are_the_name_lower_cased_with_dashes() {
        assert_eq!(derive_slug("Viewer Release Management"), "viewer-release-management");
        assert_eq!(derive_slug("devops"), "devops");
        assert!(group_slug(&derive_slug("Platform Team")));
        assert!(!group_slug("Platform Team"));
        assert!(!group_slug(""));
        let ids = PLATFORM.spec().group_ids.as_ref().map(|g| g.noun);
        assert_eq!(ids, Some("slug"));
    }

    /// Projects at the top, repositories in a project, no grants on the workspace.
    #[test]
    fn the_access_tree_is_projects_then_repositories_and_no_root() {
        let keys = |kinds: &[&str]| PLATFORM.children(kinds).map(|r| r.key).collect::<Vec<_>>();
        assert_eq!(keys(&[]), ["projects"]);
        assert_eq!(keys(&["project"]), ["repos"]);
        assert!(keys(&["project", "repo"]).is_empty());
        assert!(PLATFORM.scope_roles(&[]).is_none());
    }

    /// A project's `create-repo` ranks as write; the words map to themselves.
    #[test]
    fn native_permissions_rank_and_map_back() {
        let project = PLATFORM.scope_roles(&["project"]);
        assert_eq!(project.and_then(|r| r.level("create-repo")), Some(1));
        assert_eq!(project.and_then(|r| r.level("admin")), Some(2));
        assert_eq!(
            project.and_then(|r| r.word("create-repo")).as_deref(),
            Some("create-repo")
        );
        assert_eq!(
            project.and_then(|r| r.permission("Create-Repo")),
            Some(Some("create-repo".to_owned()))
        );
        let repo = PLATFORM.scope_roles(&["project", "repo"]);
        assert_eq!(repo.and_then(|r| r.permission("create-repo")), None);
        assert!(PLATFORM.users().external && PLATFORM.groups().external);
        assert!(!PLATFORM.rules(crate::model::Kind::Permissions).external);
    }
}
