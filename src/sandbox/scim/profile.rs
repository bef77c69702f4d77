//! What distinguishes one SCIM service provider from another, as data: the handlers read a
//! `ScimProfile` instead of branching on a vendor, so a third profile is one more constant
//! and one more `ProfileName`. The emulator's own reading of the services: the provider
//! has its own, and the two share no code.

use serde::{Deserialize, Serialize};

/// The services the emulator can be, as a state file's `profile:` names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileName {
    /// RFC 7643/7644 as written.
    #[default]
    Rfc,
    /// Atlassian's user provisioning API.
    Atlassian,
}

impl ProfileName {
    pub const fn as_str(self) -> &'static str {
        match self {
            ProfileName::Rfc => "rfc",
            ProfileName::Atlassian => "atlassian",
        }
    }
}

/// Which filters `GET /Users` and `GET /Groups` accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterSupport {
    /// RFC 7644 §3.4.2.2: every operator, `and`/`or`/`not`, grouping and value paths.
    Full,
    /// One `attr eq "value"` on one of these attributes (case-insensitive names); anything
    /// else is 400 `invalidFilter`.
    SingleEq(&'static [&'static str]),
}

/// A service provider's behaviour, consulted by every handler and published by the
/// discovery endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScimProfile {
    pub name: ProfileName,
    pub user_filter: FilterSupport,
    pub group_filter: FilterSupport,
    /// PATCH is served (with `path`, value filters and all three ops).
    pub patch: bool,
    /// The page size cap: a larger `count` is served as this many.
    pub max_results: usize,
    /// Weak ETags from `meta.version`, `If-Match` (412) and `If-None-Match` (304).
    pub etag: bool,
    /// `DELETE /Users/{id}` sets `active: false` instead of deleting, and an inactive user
    /// is then invisible (404) until created again with the same `userName`.
    pub delete_user_deactivates: bool,
    /// A group's `displayName` may change after creation (else 400 `mutability`).
    pub group_rename: bool,
    /// The most members one PATCH request may add or remove (else 400 `tooMany`).
    pub max_members_per_patch: Option<usize>,
    /// Group `displayName`s are unique, without regard to case (else 409 `uniqueness`).
    pub unique_group_names: bool,
    /// Every user has an email, exactly one of them primary (else 400 `invalidValue`, or
    /// `mutability` for a PATCH removing them); the published User schema marks `emails`
    /// required.
    pub email_required: bool,
    /// `sortBy`/`sortOrder` are honoured (else ignored).
    pub sorting: bool,
    /// `POST /Bulk` is served (no profile does yet: it answers 501).
    pub bulk: bool,
    /// A group's `members` in its POST are kept (else ignored, as for an attribute the
    /// service's schema marks read-only: Atlassian's `ScimGroup.members`).
    pub members_on_create: bool,
}

/// How the sandbox behaves for a profile a state file (or a target) names. The names are
/// the SCIM provider's: a target and its sandbox speak of the same dialects.
pub fn emulated(name: ProfileName) -> ScimProfile {
    match name {
        ProfileName::Rfc => RFC,
        ProfileName::Atlassian => ATLASSIAN,
    }
}

/// A service provider implementing everything RFC 7644 makes optional, except bulk. The
/// page cap is the emulator's choice (the RFC leaves it to the provider).
pub const RFC: ScimProfile = ScimProfile {
    name: ProfileName::Rfc,
    user_filter: FilterSupport::Full,
    group_filter: FilterSupport::Full,
    patch: true,
    max_results: 200,
    etag: true,
    delete_user_deactivates: false,
    group_rename: true,
    max_members_per_patch: None,
    // RFC 7643 §4.2 does not make a group's name unique; its schema says `uniqueness: none`.
    unique_group_names: false,
    email_required: false,
    sorting: true,
    bulk: false,
    members_on_create: true,
};

/// Atlassian Cloud user provisioning, per `atlassian-user-provisioning.openapi.json`:
/// users filter on a single `eq` on `userName` or `externalId`, groups on `displayName`;
/// no sorting; DELETE of a user deactivates it and later operations answer 404; group
/// renames are not supported; group names are unique; a user needs an email, one of them
/// primary. The description gives no page cap, ETag or bulk support:
/// 100, none and none are assumptions, the most conservative reading.
pub const ATLASSIAN: ScimProfile = ScimProfile {
    name: ProfileName::Atlassian,
    user_filter: FilterSupport::SingleEq(&["userName", "externalId"]),
    group_filter: FilterSupport::SingleEq(&["displayName"]),
    patch: true,
    max_results: 100,
    etag: false,
    delete_user_deactivates: true,
    group_rename: false,
    // The description states no per-request limit (only 70,000 users per directory and
    // 20,000 synced users per group), so none is imposed.
    max_members_per_patch: None,
    // POST /Groups: "An attempt to create a group with an existing name fails with a 409".
    unique_group_names: true,
    // The ScimUser schema's `emails`: "This field is required during user creation or
    // modification. One value must be marked as primary." POST /Users adds that "a user
    // account can only be created if it has an email address on a verified domain", which
    // a sandbox has no domains to check.
    email_required: true,
    sorting: false,
    bulk: false,
    members_on_create: false,
};
