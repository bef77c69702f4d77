//! What rollcall assumes of a SCIM service, as data. The provider reads a `Profile`
//! instead of branching on a vendor, so another service is one more constant (and one
//! more platform in `platform.rs`).
//!
//! This is the client's view: only what changes the requests rollcall sends. The sandbox
//! emulates the same services with its own, fuller description of how they behave.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// The name a target's `profile:` chooses it by.
    pub name: &'static str,
    /// The `count` asked for on every list page. A server may serve fewer per page (RFC
    /// 7644 §3.4.2.4); the reader pages by what it gets, so asking for more than the cap
    /// costs nothing and asking for less costs requests.
    pub page_size: usize,
    /// Changes are sent as PATCH; otherwise as PUT of the whole resource as read, with
    /// only the managed attributes changed.
    pub patch: bool,
    /// `eq` filters the service accepts, by attribute name: used to find the object a
    /// create collided with. Without one, the reader pages through the full list.
    pub eq_filters: &'static [&'static str],
    /// Send `If-Match` with the version read, when the server gave one.
    pub etag: bool,
    /// A group's `displayName` may change; otherwise a rename is create, move, delete.
    pub group_rename: bool,
    /// `DELETE /Users/{id}` deactivates rather than deletes (and the user then reads as
    /// absent).
    pub delete_user_deactivates: bool,
    /// A deactivated user answers 404 to every call, a group PATCH naming it included.
    pub inactive_user_hidden: bool,
    /// The most members added or removed by one PATCH.
    pub members_per_patch: usize,
    /// `POST /Groups` takes `members` (RFC 7643 §4.2 makes them readWrite), so a new
    /// group is created with its first members rather than filled by a PATCH after.
    pub create_with_members: bool,
    /// The most requests in flight at once; the adaptive limit stays at or below it.
    pub max_in_flight: usize,
}

/// A service that implements the RFCs. 1000 per page and per PATCH are the figures large
/// public SCIM services accept; a server that serves fewer per page is paged as it says.
pub const RFC: Profile = Profile {
    name: "rfc",
    page_size: 1000,
    patch: true,
    eq_filters: &["userName", "externalId", "displayName"],
    etag: true,
    group_rename: true,
    delete_user_deactivates: false,
    inactive_user_hidden: false,
    members_per_patch: 1000,
    create_with_members: true,
    max_in_flight: 16,
};

/// Atlassian's user provisioning API as `atlassian-user-provisioning.openapi.json`
/// describes it. It states no page or PATCH limits and no ETag support: 100, 100 and none
/// are the conservative reading.
pub const ATLASSIAN: Profile = Profile {
    name: "atlassian",
    page_size: 100,
    patch: true,
    eq_filters: &["userName", "externalId", "displayName"],
    etag: false,
    group_rename: false,
    delete_user_deactivates: true,
    inactive_user_hidden: true,
    members_per_patch: 100,
    // Its `ScimGroup` schema marks `members` read-only.
    create_with_members: false,
    // Atlassian's admin APIs rate-limit per organisation and answer 429 beyond it.
    max_in_flight: 8,
};
