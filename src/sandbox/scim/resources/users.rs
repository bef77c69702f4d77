//! `/Users`: list, create, get, replace, PATCH and delete. Deleting deactivates where the
//! profile says so, and a deactivated user is then invisible until created again.

use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::input::{apply_user, require_schema, user_input, user_name_taken};
use super::listing::list as list_page;
use super::{created, not_modified, patched, replaced, resource_reply, same_name, user_json, visible};
use crate::sandbox::scim::profile::ScimProfile;
use crate::sandbox::scim::schema::{self, user_attrs, USER_SCHEMA};
use crate::sandbox::scim::state::{Meta, ScimState, ScimUser};
use crate::sandbox::scim::wire::{Call, Outcome, Reply, ScimError};

pub(crate) fn list(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
    let users = state.users.iter().filter(|u| visible(u, profile)).collect();
    list_page(call, profile, profile.user_filter, user_attrs(profile), users, |u| {
        user_json(u, profile, &call.base_url)
    })
}

fn find_user(state: &ScimState, profile: &ScimProfile, id: &str) -> Result<usize, ScimError> {
    state
        .users
        .iter()
        .position(|u| u.id == id && visible(u, profile))
        .ok_or_else(|| ScimError::not_found(format!("User {id} not found")))
}

/// The user a PUT, PATCH or DELETE targets, once its `If-Match` holds: 404 and 412 come
/// before anything in the body is read, so a stale client learns that first.
fn user_to_change(call: &Call, state: &ScimState, profile: &ScimProfile) -> Result<usize, ScimError> {
    let index = find_user(state, profile, call.param("id"))?;
    if profile.etag {
        call.check_if_match(&state.users[index].meta.etag())?;
    }
    Ok(index)
}

pub(crate) fn create(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
    let body = call.json()?;
    require_schema(&body, USER_SCHEMA)?;
    let input = user_input(schema::canonical(user_attrs(profile), &body), profile)?;
    let name = input.user_name.clone().unwrap_or_default();
    // Creating a deactivated user's userName again reactivates it, keeping its id: the
    // Atlassian description's "until activated again" (how, it does not say).
    if let Some(index) = state
        .users
        .iter()
        .position(|u| !visible(u, profile) && same_name(&u.user_name, &name))
    {
        let at = state.tick();
        let user = &mut state.users[index];
        apply_user(user, input);
        user.active = Some(true);
        user.meta.touch(at);
        let user = user.clone();
        let location = format!("{}/Users/{}", call.base_url, user.id);
        return Ok(created(
            call,
            user_json(&user, profile, &call.base_url),
            &user.meta,
            profile,
            location,
        ));
    }
    if user_name_taken(state, &name, "") {
        return Err(ScimError::uniqueness(format!(
            "A user with userName {name} already exists."
        )));
    }
    let mut user = ScimUser {
        id: state.next_id(),
        user_name: String::new(),
        external_id: None,
        name: None,
        display_name: None,
        emails: Vec::new(),
        active: None,
        meta: Meta::new(state.tick()),
    };
    apply_user(&mut user, input);
    let location = format!("{}/Users/{}", call.base_url, user.id);
    let reply = created(
        call,
        user_json(&user, profile, &call.base_url),
        &user.meta,
        profile,
        location,
    );
    state.users.push(user);
    Ok(reply)
}

pub(crate) fn get(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
    let user = &state.users[find_user(state, profile, call.param("id"))?];
    if profile.etag && call.not_modified(&user.meta.etag()) {
        return Ok(not_modified(&user.meta));
    }
    Ok(resource_reply(
        call,
        StatusCode::OK,
        user_json(user, profile, &call.base_url),
        &user.meta,
        profile,
    ))
}

pub(crate) fn replace(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
    let index = user_to_change(call, state, profile)?;
    let attrs = replaced(call, USER_SCHEMA, user_attrs(profile))?;
    write_user(call, state, profile, index, attrs)
}

pub(crate) fn patch(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
    // The precondition comes before the operations are even read: a stale client gets 412
    // whatever its body holds, and nothing is applied, not even to a copy.
    let index = user_to_change(call, state, profile)?;
    let doc = patched(call, profile, &state.users[index], user_attrs(profile))?;
    write_user(call, state, profile, index, doc)
}

/// The end of PUT and PATCH: `attrs` become the attributes of the user at `index`.
fn write_user(
    call: &Call,
    state: &mut ScimState,
    profile: &ScimProfile,
    index: usize,
    attrs: Map<String, Value>,
) -> Outcome {
    let input = user_input(attrs, profile)?;
    let name = input.user_name.clone().unwrap_or_default();
    if user_name_taken(state, &name, call.param("id")) {
        return Err(ScimError::uniqueness(format!(
            "A user with userName {name} already exists."
        )));
    }
    let mut user = state.users[index].clone();
    apply_user(&mut user, input);
    if user != state.users[index] {
        user.meta.touch(state.tick());
    }
    state.users[index] = user.clone();
    Ok(resource_reply(
        call,
        StatusCode::OK,
        user_json(&user, profile, &call.base_url),
        &user.meta,
        profile,
    ))
}

pub(crate) fn delete(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
    let index = user_to_change(call, state, profile)?;
    // One request, one tick: every resource it changes shows the same time.
    let at = state.tick();
    if profile.delete_user_deactivates {
        let user = &mut state.users[index];
        user.active = Some(false);
        user.meta.touch(at);
    } else {
        let user = state.users.remove(index);
        for group in &mut state.groups {
            let before = group.members.len();
            group.members.retain(|m| m.value != user.id);
            if group.members.len() != before {
                group.meta.touch(at.clone());
            }
        }
    }
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}
