//! SCIM 2.0 services as the core sees them: one platform per profile. Users have
//! `active`, a `userName` can change, and access is membership, so there are no grants.

use super::profile::{Profile, ATLASSIAN, RFC};
use crate::model::Kind;
use crate::platform::{Credentials, Hints, KindRules, Platform, Spec};

pub const RFC_PLATFORM: Platform = Platform::new(&RFC_SPEC);
pub const ATLASSIAN_PLATFORM: Platform = Platform::new(&ATLASSIAN_SPEC);

static RFC_SPEC: Spec = spec(
    &RFC,
    true,
    "RFC 7643/7644 as written: PATCH, filters, ETags where the server sends them, group renames, DELETE deletes.",
);
static ATLASSIAN_SPEC: Spec = spec(
    &ATLASSIAN,
    false,
    "Atlassian's user provisioning API (Atlassian Cloud, Bitbucket Cloud): filters only `eq` on userName/externalId/displayName, no renaming groups, DELETE deactivates.",
);

const fn spec(profile: &Profile, default_profile: bool, profile_summary: &'static str) -> Spec {
    Spec {
        kind: "scim",
        profile: Some(profile.name),
        default_profile,
        summary: "Any SCIM 2.0 service (RFC 7643/7644), Atlassian's user provisioning included: users and groups with their members. `url` is the SCIM base URL, to which `/Users` and `/Groups` are appended.",
        profile_summary,
        options: &["profile"],
        required: &[],
        option_words: &[],
        credentials: Credentials::Bearer,
        users: KindRules {
            read_only: false,
            // SCIM's userName is readWrite (RFC 7643 §4.1.1).
            rename: true,
            deactivate: true,
            offboard_removes: false,
            created_as: None,
            delete_deactivates: profile.delete_user_deactivates,
            // Atlassian: a deactivated user answers 404 to everything, group PATCHes
            // naming it included.
            inactive_hidden: profile.inactive_user_hidden,
            // RFC 7644 §3.6 only makes a deleted user vanish from queries, and RFC 7643
            // §2.3.7 leaves referential integrity to the service ("MAY"): a group may keep
            // listing the deleted member (scim2-server does), so its memberships are
            // removed first. A deactivation (Atlassian's delete) keeps them all.
            delete_takes: &[],
            attributes_fixed: false,
            external: false,
            attributes_on_create_only: false,
        },
        groups: KindRules {
            rename: profile.group_rename,
            // A deleted group's `members` go with it.
            delete_takes: &[Kind::Memberships],
            ..KindRules::PLAIN
        },
        memberships: KindRules::PLAIN,
        // No grants exist here (no scopes); nothing to change either.
        permissions: KindRules::PLAIN,
        group_attributes: &[],
        member_roles: None,
        users_by_email: false,
        segments: &[],
        scopes: &[],
        defaults: &[],
        admin: &[],
        inherited: false,
        group_ids: None,
        // A SCIM token (an Atlassian directory API key) belongs to no user.
        bearer_names_account: false,
        hints: Hints {
            auth: "add `auth: { token: ${env:SCIM_TOKEN} }`, the service's bearer token (for Atlassian, the directory's API key)",
            no_grants: "on a SCIM service, access is membership: list people under a group's `members`",
            unauthorized: "check that the target's token is a valid SCIM bearer token for this service (for Atlassian, the directory's API key)",
            not_found: "check the target's url: it is the SCIM base URL, to which /Users and /Groups are appended (for Atlassian, https://api.atlassian.com/scim/directory/DIRECTORY_ID)",
            not_member: "",
        },
    }
}

/// The client's profile of a SCIM platform.
pub fn profile_of(platform: Platform) -> Option<Profile> {
    [RFC, ATLASSIAN]
        .into_iter()
        .find(|p| Some(p.name) == platform.profile())
}
