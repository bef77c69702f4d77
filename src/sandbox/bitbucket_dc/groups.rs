//! `/api/latest/admin/groups` and group membership: list, create and delete groups, list
//! a group's members or a user's groups, add and remove members.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde::Deserialize;

use super::access::{self, ADMIN, LICENSED_USER};
use super::change::Change;
use super::state::DcState;
use super::wire::{detailed_group, detailed_user, matches, ApiError, Call, Outcome, Reply};

/// `GET /admin/groups`: `filter` matches the group name.
pub(crate) fn list(call: &Call, state: &mut DcState) -> Outcome {
    access::require_global(state, LICENSED_USER)?;
    let paging = call.paging()?;
    let filter = call.filter();
    let values = state
        .groups
        .keys()
        .filter(|name| matches(filter.as_deref(), &[name.as_str()]))
        .map(|name| detailed_group(name))
        .collect();
    Ok(paging.page(values))
}

/// `POST /admin/groups?name=`: 200 with the new group (not 201).
pub(crate) fn create(call: &Call, state: &mut DcState) -> Outcome {
    access::require_global(state, ADMIN)?;
    let name = call.required("name")?;
    if name.trim().is_empty() || name.chars().count() > 255 {
        return Err(ApiError::invalid(
            "name",
            "The name should be between 1 and 255 characters.",
        ));
    }
    if access::find_group(state, name).is_some() {
        return Err(ApiError::conflict(format!(
            "A group with the name {name} already exists."
        )));
    }
    state.groups.insert(name.to_owned(), BTreeSet::new());
    Ok(Reply::Json(StatusCode::OK, detailed_group(name)))
}

/// `DELETE /admin/groups?name=`: 200 with the deleted group; its grants go too.
pub(crate) fn delete(call: &Call, state: &mut DcState) -> Outcome {
    access::require_global(state, ADMIN)?;
    let name = call.required("name")?;
    let key = access::find_group(state, name).ok_or_else(|| ApiError::no_such_group(name))?;
    check_group_not_above_operator(state, &key)?;
    let level = access::global_level(state, &state.operator);
    let mut change = Change::new(state);
    change.delete_group(&key);
    access::check_not_demoting_self(level, &change)?;
    change.commit();
    Ok(Reply::Json(StatusCode::OK, detailed_group(&key)))
}

/// 403 when the group's global permission is above the operator's own (deleting it, or
/// changing its members, is reserved to someone at least as powerful).
fn check_group_not_above_operator(state: &DcState, group: &str) -> Result<(), ApiError> {
    if access::group_global_level(state, group) > access::global_level(state, &state.operator) {
        return Err(ApiError::forbidden(format!(
            "The group {group} has a higher permission level than you."
        )));
    }
    Ok(())
}

/// `GET /admin/groups/more-members?context=GROUP`: the group's members as
/// `RestDetailedUser`, `filter` matching name, display name or email address.
///
/// The description lists only 200 and 401 here, so an unknown group gives an empty page
/// rather than a 404.
pub(crate) fn members(call: &Call, state: &mut DcState) -> Outcome {
    access::require_global(state, LICENSED_USER)?;
    let context = call.required("context")?;
    let paging = call.paging()?;
    let filter = call.filter();
    let members = access::find_group(state, context)
        .and_then(|g| state.groups.get(&g))
        .cloned()
        .unwrap_or_default();
    let values = members
        .iter()
        .filter_map(|name| state.users.get(name).map(|u| (name, u)))
        .filter(|(name, u)| matches(filter.as_deref(), &[name.as_str(), &u.display_name, &u.email]))
        .map(|(name, u)| detailed_user(state, name, u))
        .collect();
    Ok(paging.page(values))
}

/// `GET /admin/users/more-members?context=USER`: the user's groups. The description's
/// text for this operation is copied from another one (it speaks of "users that are not
/// members of a group" and calls `context` a group); the operation id, `findGroupsForUser`,
/// says what it does. `filter` matches group names. Unknown user: empty page, as above.
pub(crate) fn groups_of_user(call: &Call, state: &mut DcState) -> Outcome {
    access::require_global(state, LICENSED_USER)?;
    let context = call.required("context")?;
    let paging = call.paging()?;
    let filter = call.filter();
    let values = match access::find_user(state, context) {
        Some(user) => access::groups_of(state, &user)
            .filter(|g| matches(filter.as_deref(), &[g]))
            .map(detailed_group)
            .collect(),
        None => Vec::new(),
    };
    Ok(paging.page(values))
}

/// `GroupAndUsers`: `users` is required by the schema.
#[derive(Deserialize)]
struct GroupAndUsers {
    group: Option<String>,
    users: Vec<String>,
}

/// `UserAndGroups`: `groups` is required by the schema.
#[derive(Deserialize)]
struct UserAndGroups {
    user: Option<String>,
    groups: Vec<String>,
}

/// `UserPickerContext` / `GroupPickerContext`: the same two fields, their meaning swapped
/// between the two removal calls.
#[derive(Deserialize)]
struct PickerContext {
    context: Option<String>,
    #[serde(rename = "itemName")]
    item_name: Option<String>,
}

fn required_field(value: Option<String>, context: &str) -> Result<String, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::invalid(context, format!("The {context} is required.")))
}

/// Adds every (user, group) pair or none: all names must exist (404), no group may rank
/// above the operator (403) and the licence must hold (403).
fn add_memberships(state: &mut DcState, users: &[String], groups: &[String]) -> Outcome {
    // Both lists are `uniqueItems: true` in the description.
    for (field, list) in [("users", users), ("groups", groups)] {
        let distinct: std::collections::BTreeSet<&String> = list.iter().collect();
        if distinct.len() != list.len() {
            return Err(ApiError::invalid(
                field,
                format!("'{field}' lists the same name more than once."),
            ));
        }
    }
    let mut user_keys = Vec::with_capacity(users.len());
    for user in users {
        user_keys.push(access::find_user(state, user).ok_or_else(|| ApiError::no_such_user(user))?);
    }
    let mut group_keys = Vec::with_capacity(groups.len());
    for group in groups {
        let key = access::find_group(state, group).ok_or_else(|| ApiError::no_such_group(group))?;
        check_group_not_above_operator(state, &key)?;
        group_keys.push(key);
    }
    let licensed = access::licensed_before(state);
    let mut change = Change::new(state);
    for group in &group_keys {
        for user in &user_keys {
            change.join(group, user);
        }
    }
    access::check_licence(licensed, &change)?;
    change.commit();
    Ok(Reply::Empty(StatusCode::OK))
}

/// `POST /admin/groups/add-users` with `{"group": "g", "users": ["u1", ...]}`.
pub(crate) fn add_users(call: &Call, state: &mut DcState) -> Outcome {
    access::require_global(state, ADMIN)?;
    let body: GroupAndUsers = call.json()?;
    let group = required_field(body.group, "group")?;
    add_memberships(state, &body.users, &[group])
}

/// `POST /admin/users/add-groups` with `{"user": "u", "groups": ["g1", ...]}`.
pub(crate) fn add_groups(call: &Call, state: &mut DcState) -> Outcome {
    access::require_global(state, ADMIN)?;
    let body: UserAndGroups = call.json()?;
    let user = required_field(body.user, "user")?;
    add_memberships(state, &[user], &body.groups)
}

/// Removes one membership. Removing someone who is not a member succeeds and changes
/// nothing.
///
/// Removing the operator from the group its global permission comes from is refused with
/// 409, like the other self-demoting calls; the description lists no 409 for the two
/// removal calls (only 403 "the group has a higher permission level than the context
/// user"), so a real server may answer 403 instead. Either way it is refused.
fn remove_membership(state: &mut DcState, user: &str, group: &str) -> Outcome {
    let user_key = access::find_user(state, user).ok_or_else(|| ApiError::no_such_user(user))?;
    let group_key = access::find_group(state, group).ok_or_else(|| ApiError::no_such_group(group))?;
    check_group_not_above_operator(state, &group_key)?;
    let level = access::global_level(state, &state.operator);
    let mut change = Change::new(state);
    change.leave(&group_key, &user_key);
    access::check_not_demoting_self(level, &change)?;
    change.commit();
    Ok(Reply::Empty(StatusCode::OK))
}

/// `POST /admin/groups/remove-user` with `{"context": group, "itemName": user}`.
/// Marked deprecated in favour of a `/rest/users/remove-groups` the 9.4 description does
/// not contain, so it is still the call to use.
pub(crate) fn remove_user(call: &Call, state: &mut DcState) -> Outcome {
    access::require_global(state, ADMIN)?;
    let body: PickerContext = call.json()?;
    let group = required_field(body.context, "context")?;
    let user = required_field(body.item_name, "itemName")?;
    remove_membership(state, &user, &group)
}

/// `POST /admin/users/remove-group` with `{"context": user, "itemName": group}`.
pub(crate) fn remove_group(call: &Call, state: &mut DcState) -> Outcome {
    access::require_global(state, ADMIN)?;
    let body: PickerContext = call.json()?;
    let user = required_field(body.context, "context")?;
    let group = required_field(body.item_name, "itemName")?;
    remove_membership(state, &user, &group)
}
