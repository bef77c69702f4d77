//! Buildkite as the core sees it: an organization whose members are people found by
//! email (invited, never created), teams with their settings and members' roles, the
//! organization's admin role as a grant at the root, and team access to pipelines.

use crate::model::Kind;
use crate::platform::{
    Credentials, GroupAttribute, Hints, Holders, KindRules, MemberRoles, Platform, ScopeRoles, SegmentRule, Spec,
};

pub const PLATFORM: Platform = Platform::new(&SPEC);

pub(crate) const SPEC: Spec = Spec {
    kind: "buildkite",
    profile: None,
    default_profile: true,
    summary: "A Buildkite organization through its GraphQL API: members, teams and their members, and team access to pipelines.",
    profile_summary: "",
    // `sso_assigns` names what the organization's identity provider sets at each login
    // (`role`, `teams`); rollcall then leaves those to it.
    options: &["organization", "sso_assigns"],
    required: &["organization"],
    option_words: &[("sso_assigns", &["role", "teams"])],
    // "API access using basic HTTP authentication is not supported".
    credentials: Credentials::Bearer,
    // A member is invited (no API makes accounts) and removed; their name and email are
    // their own. Removing a member takes their team memberships and their role along.
    // Being a member is all the account there is here: an offboarded person is removed,
    // as Buildkite's own SCIM deprovisioning does (their Buildkite account stays theirs).
    users: KindRules {
        attributes_fixed: true,
        offboard_removes: true,
        created_as: Some("invited: they become a member, with the teams and role the plan gives them, when they accept"),
        delete_takes: &[Kind::Memberships, Kind::Permissions],
        ..KindRules::PLAIN
    },
    // `teamUpdate` renames a team in place; `teamDelete` takes its members and its
    // pipeline access along.
    groups: KindRules {
        rename: true,
        delete_takes: &[Kind::Memberships, Kind::Permissions],
        ..KindRules::PLAIN
    },
    memberships: KindRules::PLAIN,
    permissions: KindRules::PLAIN,
    group_attributes: &[
        GroupAttribute::text("description"),
        GroupAttribute {
            field: "privacy",
            values: &[("visible", "VISIBLE"), ("secret", "SECRET")],
        },
        GroupAttribute {
            field: "default_member_role",
            values: &[("member", "MEMBER"), ("maintainer", "MAINTAINER")],
        },
        GroupAttribute {
            field: "default_team",
            values: &[("true", "true"), ("false", "false")],
        },
    ],
    member_roles: Some(MemberRoles {
        attribute: "role",
        member: "MEMBER",
        maintainer: "MAINTAINER",
    }),
    users_by_email: true,
    segments: &[SegmentRule {
        kind: "pipeline",
        key: "pipelines",
        example: "deploy-api",
        noun: "pipeline slug",
        valid: pipeline_slug,
        rule: "pipeline slugs use `a`-`z`, `0`-`9` and `-`, as Buildkite makes them from the pipeline's name (like deploy-api)",
    }],
    scopes: &[
        // The organization role: every member is a member; `admin` is the grant.
        ScopeRoles {
            path: &[],
            noun: "organization role",
            key: "organization",
            words: &[("admin", Some("ADMIN"))],
            natives: &["ADMIN"],
            holders: Holders::Users,
        },
        // "Pipeline access is granted to teams", never to a person.
        ScopeRoles {
            path: &["pipeline"],
            noun: "pipeline",
            key: "",
            words: &[
                ("read", Some("READ_ONLY")),
                ("write", Some("BUILD_AND_READ")),
                ("admin", Some("MANAGE_BUILD_AND_READ")),
            ],
            natives: &["READ_ONLY", "BUILD_AND_READ", "MANAGE_BUILD_AND_READ"],
            holders: Holders::Groups,
        },
    ],
    defaults: &[],
    admin: &["ADMIN"],
    // A person's access to a pipeline is the highest of their teams'; teams do not nest.
    inherited: false,
    group_ids: None,
    // Tokens belong to a user, whom the safety rules protect.
    bearer_names_account: true,
    hints: Hints {
        auth: "add `auth: { token: \"${env:BUILDKITE_API_TOKEN}\", account: NAME }`: an API access token with GraphQL API access, of an organization administrator, and NAME the person it belongs to",
        no_grants: "",
        unauthorized: "check the API access token: it needs \"Enable GraphQL API access\", must belong to an administrator of the organization, and the organization must allow the token (Settings > API access)",
        not_found: "the organization (the target's `organization:` slug) or a pipeline slug named in `access` may not exist on Buildkite: fix it, or create the pipeline there first",
        not_member: "",
    },
};

/// Buildkite makes a pipeline's slug from its name: lower case, runs of other characters
/// as one dash.
fn pipeline_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 255
        && !slug.starts_with('-')
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pipelines at the top, the organization role at the root, for the right holders.
    #[test]
    fn roles_and_pipeline_access_map_to_the_vendors_words() {
        let keys: Vec<&str> = PLATFORM.children(&[]).map(|r| r.key).collect();
        assert_eq!(keys, ["pipelines"]);
        let root = PLATFORM.scope_roles(&[]);
        assert_eq!(root.and_then(|r| r.permission("admin")), Some(Some("ADMIN".to_owned())));
        assert!(root.is_some_and(|r| r.holders.admits(true) && !r.holders.admits(false)));
        let pipeline = PLATFORM.scope_roles(&["pipeline"]);
        assert_eq!(
            pipeline.and_then(|r| r.permission("write")),
            Some(Some("BUILD_AND_READ".to_owned()))
        );
        assert_eq!(pipeline.and_then(|r| r.level("MANAGE_BUILD_AND_READ")), Some(2));
        assert!(pipeline.is_some_and(|r| !r.holders.admits(true)));
        assert!(PLATFORM.is_admin(&crate::model::Scope::root(), "ADMIN"));
    }

    #[test]
    fn team_settings_take_the_vendors_values() {
        let privacy = PLATFORM.group_attribute("privacy");
        assert_eq!(privacy.and_then(|a| a.native("Secret")).as_deref(), Some("SECRET"));
        assert_eq!(privacy.and_then(|a| a.native("open")), None);
        assert_eq!(privacy.map(|a| a.word("VISIBLE")).as_deref(), Some("visible"));
        let role = PLATFORM.group_attribute("default_member_role");
        assert_eq!(role.and_then(|a| a.native("MAINTAINER")).as_deref(), Some("MAINTAINER"));
        assert!(pipeline_slug("deploy-api-2"));
        assert!(!pipeline_slug("Deploy"));
        assert!(!pipeline_slug("-x"));
    }
}
