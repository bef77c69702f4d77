//! Reading request bodies: the core schema a POST or PUT must name, the attributes a user
//! or group body carries, the required ones, `primary` values, members that exist, and
//! the names that must stay unique.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{same_name, visible};
use crate::sandbox::scim::filter::get_ci;
use crate::sandbox::scim::profile::ScimProfile;
use crate::sandbox::scim::schema::{self, group_attrs, user_attrs, Attr};
use crate::sandbox::scim::state::{Email, Member, Name, ScimState, ScimUser};
use crate::sandbox::scim::wire::ScimError;

/// RFC 7643 §3: `schemas` is REQUIRED and "MUST contain at least one value, which SHALL be
/// the base schema for the resource"; Atlassian's ScimUser and ScimGroup say the same ("This
/// field is required during user creation or modification"). So a POST or PUT body without
/// the resource's core URN is 400 `invalidSyntax` (the body "did not conform to the request
/// schema", RFC 7644 §3.12). A PATCH body names the PatchOp URN instead (`apply_patch`).
pub(super) fn require_schema(body: &Value, urn: &str) -> Result<(), ScimError> {
    let declared = get_ci(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(urn)));
    if declared {
        Ok(())
    } else {
        Err(ScimError::bad("invalidSyntax", format!("schemas must contain {urn}.")))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UserInput {
    pub(super) user_name: Option<String>,
    pub(super) external_id: Option<String>,
    pub(super) name: Option<Name>,
    pub(super) display_name: Option<String>,
    #[serde(default)]
    pub(super) emails: Vec<Email>,
    pub(super) active: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GroupInput {
    pub(super) display_name: Option<String>,
    pub(super) external_id: Option<String>,
    #[serde(default)]
    pub(super) members: Vec<MemberInput>,
}

/// A member as a client sends it: `value` is what counts; `$ref` (the tester and some
/// clients send it) points at the same user.
#[derive(Deserialize)]
pub(super) struct MemberInput {
    value: String,
}

pub(super) fn read<T: serde::de::DeserializeOwned>(attrs: Map<String, Value>) -> Result<T, ScimError> {
    serde_json::from_value(Value::Object(attrs)).map_err(|e| ScimError::bad("invalidValue", e.to_string()))
}

/// A POST or PUT body (or a PATCH's result) without a required attribute: 400
/// `invalidValue`, RFC 7644 §3.12's "A required value was missing" (§3.5.1 says a PUT
/// MUST carry every required attribute but names no error). A PATCH that removes one is
/// refused earlier, with `mutability` (`apply_patch`).
pub(super) fn require_all(attrs: &Map<String, Value>, table: &[Attr]) -> Result<(), ScimError> {
    match schema::missing_required(attrs, table).first() {
        Some(missing) => Err(ScimError::bad("invalidValue", format!("{missing} is required."))),
        None => Ok(()),
    }
}

pub(super) fn user_input(attrs: Map<String, Value>, profile: &ScimProfile) -> Result<UserInput, ScimError> {
    require_all(&attrs, user_attrs(profile))?;
    check_primaries(&attrs, user_attrs(profile))?;
    // `require_all` saw an email; Atlassian also wants one of them marked primary.
    if profile.email_required && primaries(&attrs, "emails").is_empty() {
        return Err(ScimError::bad("invalidValue", "One of emails must be primary."));
    }
    read(attrs)
}

/// The multi-valued attributes of `table` whose values may be marked `primary`.
pub(super) fn with_primary(table: &'static [Attr]) -> impl Iterator<Item = &'static Attr> {
    table
        .iter()
        .filter(|def| def.multi && schema::find(def.sub, "primary").is_some())
}

pub(super) fn is_primary(value: &Value) -> bool {
    value.get("primary") == Some(&Value::Bool(true))
}

/// The values of `key` marked primary.
pub(super) fn primaries<'a>(attrs: &'a Map<String, Value>, key: &str) -> Vec<&'a Value> {
    match attrs.get(key) {
        Some(Value::Array(items)) => items.iter().filter(|v| is_primary(v)).collect(),
        _ => Vec::new(),
    }
}

/// RFC 7643 §2.4: "The primary attribute value "true" MUST appear no more than once";
/// two are 400 `invalidValue`.
pub(super) fn check_primaries(attrs: &Map<String, Value>, table: &'static [Attr]) -> Result<(), ScimError> {
    for def in with_primary(table) {
        if primaries(attrs, def.name).len() > 1 {
            return Err(ScimError::bad(
                "invalidValue",
                format!("At most one of {} may be primary.", def.name),
            ));
        }
    }
    Ok(())
}

/// A group body, or a PATCH's result, for a group whose members are now `current` (none
/// for a POST).
pub(super) fn group_input(
    attrs: Map<String, Value>,
    state: &ScimState,
    profile: &ScimProfile,
    current: &[Member],
) -> Result<GroupInput, ScimError> {
    require_all(&attrs, group_attrs(profile))?;
    let input: GroupInput = read(attrs)?;
    // A member being added must be a user the client can see: a deactivated Atlassian
    // user answers 404 to "any future operation", so adding one is refused exactly as an
    // unknown id is. One already in the group may stay, so a PUT restating the members,
    // or a PATCH about someone else, does not fail over it. One pass over the users with
    // sets, not a search per member: a group may hold tens of thousands of members.
    let kept: HashSet<&str> = current.iter().map(|m| m.value.as_str()).collect();
    let wanted: HashSet<&str> = input.members.iter().map(|m| m.value.as_str()).collect();
    let known: HashSet<&str> = state
        .users
        .iter()
        .map(|u| (u, u.id.as_str()))
        .filter(|(u, id)| wanted.contains(id) && (kept.contains(id) || visible(u, profile)))
        .map(|(_, id)| id)
        .collect();
    if let Some(unknown) = input.members.iter().find(|m| !known.contains(m.value.as_str())) {
        return Err(ScimError::bad(
            "invalidValue",
            format!("No user has id {}.", unknown.value),
        ));
    }
    Ok(input)
}

/// The members of a group input, once each.
pub(super) fn members_of(input: &GroupInput) -> Vec<Member> {
    let mut members: Vec<Member> = input
        .members
        .iter()
        .map(|m| Member { value: m.value.clone() })
        .collect();
    members.sort();
    members.dedup();
    members
}

pub(super) fn apply_user(user: &mut ScimUser, input: UserInput) {
    user.user_name = input.user_name.unwrap_or_default();
    user.external_id = input.external_id;
    user.name = input.name;
    user.display_name = input.display_name;
    user.emails = input.emails;
    user.active = input.active;
}

pub(super) fn user_name_taken(state: &ScimState, name: &str, except: &str) -> bool {
    state
        .users
        .iter()
        .any(|u| u.id != except && same_name(&u.user_name, name))
}

/// Whether another group has this name, when the profile makes names unique (RFC 7643
/// does not: two groups may share a `displayName` under `rfc`).
pub(super) fn group_name_taken(state: &ScimState, profile: &ScimProfile, name: &str, except: &str) -> bool {
    profile.unique_group_names
        && state
            .groups
            .iter()
            .any(|g| g.id != except && same_name(&g.display_name, name))
}
