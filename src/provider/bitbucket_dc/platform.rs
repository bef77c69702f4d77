//! Bitbucket Data Center as the core sees it: role words per scope (global, project,
//! repository), the all-users default of a project, what makes an administrator, and the
//! hints for its errors.

use crate::model::Kind;
use crate::platform::{Credentials, Hints, KindRules, Platform, ScopeRoles, SegmentRule, Spec};

pub const PLATFORM: Platform = Platform::new(&SPEC);

pub(crate) const SPEC: Spec = Spec {
    kind: "bitbucket-datacenter",
    profile: None,
    default_profile: true,
    summary: "Bitbucket Data Center (or Server) through its REST API 1.0.",
    profile_summary: "",
    options: &["notify_new_users"],
    required: &[],
    option_words: &[],
    credentials: Credentials::Either,
    // Its REST API has no group rename, and deletes users rather than deactivating them.
    // Deleting a user or a group "removes them from the system. This also removes any
    // permissions that may have been granted to" them (`DELETE /admin/users`,
    // `/admin/groups`): their memberships and grants go with them.
    users: KindRules {
        delete_takes: &[Kind::Memberships, Kind::Permissions],
        ..KindRules::PLAIN
    },
    groups: KindRules {
        delete_takes: &[Kind::Memberships, Kind::Permissions],
        ..KindRules::PLAIN
    },
    memberships: KindRules::PLAIN,
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
            rule: "project keys use `A`-`Z`, `0`-`9` and `_`, starting with `A`-`Z` (like PLAT), as Bitbucket requires",
        },
        SegmentRule {
            kind: "repo",
            key: "repos",
            example: "api",
            noun: "repository slug",
            valid: repo_slug,
            rule: "repository slugs use `a`-`z`, `0`-`9`, `.`, `_` and `-`, starting with `a`-`z` or `0`-`9` (like api-gateway), as Bitbucket requires",
        },
    ],
    scopes: &[
        ScopeRoles {
            path: &[],
            noun: "global permissions",
            key: "global",
            words: &[
                ("read", Some("LICENSED_USER")),
                ("write", Some("PROJECT_CREATE")),
                ("admin", Some("ADMIN")),
            ],
            natives: &["LICENSED_USER", "PROJECT_CREATE", "ADMIN", "SYS_ADMIN"],
            holders: crate::platform::Holders::Both,
        },
        ScopeRoles {
            path: &["project"],
            noun: "project",
            key: "",
            words: &[
                ("read", Some("PROJECT_READ")),
                ("write", Some("PROJECT_WRITE")),
                ("admin", Some("PROJECT_ADMIN")),
            ],
            natives: &["PROJECT_READ", "PROJECT_WRITE", "PROJECT_ADMIN"],
            holders: crate::platform::Holders::Both,
        },
        ScopeRoles {
            path: &["project", "repo"],
            noun: "repository",
            key: "",
            words: &[
                ("read", Some("REPO_READ")),
                ("write", Some("REPO_WRITE")),
                ("admin", Some("REPO_ADMIN")),
            ],
            natives: &["REPO_READ", "REPO_WRITE", "REPO_ADMIN"],
            holders: crate::platform::Holders::Both,
        },
    ],
    defaults: &[ScopeRoles {
        path: &["project"],
        noun: "all-users permission",
        key: "all_users",
        words: &[
            ("none", None),
            ("read", Some("PROJECT_READ")),
            ("write", Some("PROJECT_WRITE")),
        ],
        natives: &["PROJECT_READ", "PROJECT_WRITE"],
        holders: crate::platform::Holders::Both,
    }],
    admin: &["ADMIN", "SYS_ADMIN"],
    // "Project permissions … apply to all repositories in the project", and the highest
    // of global, project and repository permission is what a user has.
    inherited: true,
    group_ids: None,
    bearer_names_account: true,
    hints: Hints {
        auth: "add `auth: { token: ${env:BITBUCKET_TOKEN}, account: NAME }` (Bearer, NAME the account the token belongs to) or `auth: { username: NAME, token: ${env:…} }` (Basic)",
        no_grants: "",
        unauthorized: "check that the target's token is valid and belongs to an account with ADMIN or SYS_ADMIN",
        not_found: "a project or repository named in `access` may not exist on the target: create it there first, or fix the key",
        not_member: "",
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
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && slug.len() <= 255
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys and slugs are ASCII, as the rule the hint states says.
    #[test]
    fn project_keys_and_repo_slugs_follow_their_rule() {
        assert!(project_key("PLAT_2"));
        assert!(!project_key("plat"));
        assert!(!project_key("PLAT_É"));
        assert!(repo_slug("api-gateway.v2"));
        assert!(!repo_slug("café"));
        assert!(!repo_slug("-api"));
        let rule = |kind| PLATFORM.segment(kind).map_or("", |s| s.rule);
        assert!(rule("project").contains("`A`-`Z`"));
        assert!(rule("repo").contains("`a`-`z`"));
    }

    /// The access section's tree follows from the scopes: projects at the top,
    /// repositories in a project, nothing in a repository.
    #[test]
    fn the_access_tree_is_projects_then_repositories() {
        let keys = |kinds: &[&str]| PLATFORM.children(kinds).map(|r| r.key).collect::<Vec<_>>();
        assert_eq!(keys(&[]), ["projects"]);
        assert_eq!(keys(&["project"]), ["repos"]);
        assert!(keys(&["project", "repo"]).is_empty());
        assert!(keys(&["repo"]).is_empty());
    }

    /// The way back from a native permission to the word a manifest writes, as import
    /// uses it: the portable word, else the native name where it has none.
    #[test]
    fn native_permissions_map_back_to_the_words_that_mean_them() {
        let word = |kinds: &[&str], native: &str| PLATFORM.scope_roles(kinds).and_then(|r| r.word(native));
        assert_eq!(word(&[], "LICENSED_USER").as_deref(), Some("read"));
        assert_eq!(word(&[], "SYS_ADMIN").as_deref(), Some("SYS_ADMIN"));
        assert_eq!(word(&["project"], "PROJECT_WRITE").as_deref(), Some("write"));
        assert_eq!(word(&["project", "repo"], "PROJECT_WRITE"), None);
        let default = PLATFORM
            .default_roles(&["project"])
            .and_then(|r| r.word("PROJECT_READ"));
        assert_eq!(default.as_deref(), Some("read"));
    }
}
