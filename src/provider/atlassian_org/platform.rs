//! An Atlassian organization's directory as the core sees it: groups and their members,
//! nothing granted (access is membership), and people who join by invitation or SCIM,
//! so they are found here by email and never created.

use crate::model::Kind;
use crate::platform::{Credentials, Hints, KindRules, Platform, Spec};

pub const PLATFORM: Platform = Platform::new(&SPEC);

pub(crate) static SPEC: Spec = Spec {
    kind: "atlassian-organization",
    profile: None,
    default_profile: true,
    summary: "The groups of an Atlassian organization's directory and their members, through the Organizations REST API (v2). `url` is https://api.atlassian.com; `organization` and `directory` are the ids Atlassian Administration shows.",
    profile_summary: "",
    options: &["organization", "directory"],
    required: &["organization", "directory"],
    option_words: &[],
    credentials: Credentials::Bearer,
    // The API has no call that makes an account: people are invited or provisioned by
    // SCIM, and this target only finds them (by email).
    users: KindRules::EXTERNAL,
    // No rename in the v2 API (no PUT or PATCH on a group), so a renamed group is a
    // replacement. "Delete a group … This removes any app access and permissions granted
    // by this group from all members": the memberships go with it.
    // The Organizations API has no PUT or PATCH on a group: its description is set when
    // it is created, and kept.
    groups: KindRules {
        delete_takes: &[Kind::Memberships],
        attributes_on_create_only: true,
        ..KindRules::PLAIN
    },
    memberships: KindRules::PLAIN,
    // No grants exist here (no scopes); nothing to change either.
    permissions: KindRules::PLAIN,
    // Sent when a group is created. The API cannot change it afterwards: a description
    // the manifest sets differently is noted, not planned (`attributes_on_create_only`).
    // One the manifest does not set is not managed.
    group_attributes: &[crate::platform::GroupAttribute::text("description")],
    member_roles: None,
    users_by_email: false,
    segments: &[],
    scopes: &[],
    defaults: &[],
    admin: &[],
    inherited: false,
    group_ids: None,
    // An organization API key belongs to no user.
    bearer_names_account: false,
    hints: Hints {
        auth: "add `auth: { token: ${env:ATLASSIAN_ORG_API_KEY} }`, an organization API key (Bearer)",
        no_grants: "in an Atlassian organization's directory, access is membership: list people under a group's `members`, and grant the group on the platform that reads it (`principals_from`)",
        unauthorized: "check that the token is an organization API key created by an organization admin under Atlassian Administration → Settings → API keys, not expired; a scoped key needs `read:directories:admin`, `read:groups:admin` and the group write scopes (`write:group:admin`), or use a key without scopes",
        not_found: "check the target's `organization` and `directory`: the ids in Atlassian Administration (the organization id in its URL, the directory's under Directory); `url` is https://api.atlassian.com",
        not_member: "invite them to the organization in Atlassian Administration (Directory → Users → Invite users), or provision them by SCIM from the identity provider; plan again once they are in the directory",
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    /// People are found, never made; groups are replaced rather than renamed, and their
    /// delete takes their members.
    #[test]
    fn people_are_external_and_groups_are_replaced_not_renamed() {
        assert!(PLATFORM.users().external);
        assert!(!PLATFORM.groups().external);
        assert!(!PLATFORM.groups().rename);
        assert_eq!(PLATFORM.groups().delete_takes, [Kind::Memberships]);
        assert!(!PLATFORM.rules(Kind::Memberships).external);
        assert!(!PLATFORM.has_grants());
        assert!(!PLATFORM.spec().hints.not_member.is_empty());
        assert!(!PLATFORM.spec().hints.no_grants.is_empty());
    }

    /// Both ids are needed to name a directory, and the key is Bearer, of no account.
    #[test]
    fn a_target_names_its_organization_and_directory() {
        assert!(PLATFORM.accepts_option("organization"));
        assert!(PLATFORM.accepts_option("directory"));
        assert!(!PLATFORM.accepts_option("workspace"));
        assert_eq!(SPEC.required, ["organization", "directory"]);
        assert_eq!(SPEC.credentials, Credentials::Bearer);
        assert!(!SPEC.bearer_names_account);
        assert_eq!(
            SPEC.group_attributes.iter().map(|a| a.field).collect::<Vec<_>>(),
            ["description"]
        );
        assert_eq!(PLATFORM.children(&[]).count(), 0);
    }
}
