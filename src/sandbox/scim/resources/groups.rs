//! `/Groups`: list, create, get, replace, PATCH and delete; renames only where the
//! profile allows them.

use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::input::{group_input, group_name_taken, members_of, require_schema};
use super::listing::list as list_page;
use super::{created, group_json, not_modified, patched, replaced, resource_reply};
use crate::sandbox::scim::profile::ScimProfile;
use crate::sandbox::scim::schema::{self, group_attrs, GROUP_SCHEMA};
use crate::sandbox::scim::state::{Meta, ScimGroup, ScimState};
use crate::sandbox::scim::wire::{Call, Outcome, Reply, ScimError};

pub(crate) fn list(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
    let groups = state.groups.iter().collect();
    list_page(call, profile, profile.group_filter, group_attrs(profile), groups, |g| {
        group_json(g, profile, &call.base_url)
    })
}

fn find_group(state: &ScimState, id: &str) -> Result<usize, ScimError> {
    state
        .groups
        .iter()
        .position(|g| g.id == id)
        .ok_or_else(|| ScimError::not_found(format!("Group {id} not found")))
}

/// The group a PUT, PATCH or DELETE targets, once its `If-Match` holds.
fn group_to_change(call: &Call, state: &ScimState, profile: &ScimProfile) -> Result<usize, ScimError> {
    let index = find_group(state, call.param("id"))?;
    if profile.etag {
        call.check_if_match(&state.groups[index].meta.etag())?;
    }
    Ok(index)
}

pub(crate) fn create(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
    let body = call.json()?;
    require_schema(&body, GROUP_SCHEMA)?;
    let input = group_input(schema::canonical(group_attrs(profile), &body), state, profile, &[])?;
    let name = input.display_name.clone().unwrap_or_default();
    if group_name_taken(state, profile, &name, "") {
        return Err(ScimError::uniqueness(format!("A group named {name} already exists.")));
    }
    let group = ScimGroup {
        id: state.next_id(),
        display_name: name,
        external_id: input.external_id.clone(),
        members: if profile.members_on_create {
            members_of(&input)
        } else {
            Vec::new()
        },
        meta: Meta::new(state.tick()),
    };
    let location = format!("{}/Groups/{}", call.base_url, group.id);
    let body = group_json(&group, profile, &call.base_url);
    let reply = created(call, body, &group.meta, profile, location);
    state.groups.push(group);
    Ok(reply)
}

pub(crate) fn get(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
    let group = &state.groups[find_group(state, call.param("id"))?];
    if profile.etag && call.not_modified(&group.meta.etag()) {
        return Ok(not_modified(&group.meta));
    }
    let body = group_json(group, profile, &call.base_url);
    Ok(resource_reply(call, StatusCode::OK, body, &group.meta, profile))
}

pub(crate) fn replace(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
    let index = group_to_change(call, state, profile)?;
    let attrs = replaced(call, GROUP_SCHEMA, group_attrs(profile))?;
    write_group(call, state, profile, index, attrs)
}

pub(crate) fn patch(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
    // As for users: 412 before the operations are read.
    let index = group_to_change(call, state, profile)?;
    let doc = patched(call, profile, &state.groups[index], group_attrs(profile))?;
    write_group(call, state, profile, index, doc)
}

/// The end of PUT and PATCH: `attrs` become the attributes of the group at `index`.
fn write_group(
    call: &Call,
    state: &mut ScimState,
    profile: &ScimProfile,
    index: usize,
    attrs: Map<String, Value>,
) -> Outcome {
    let input = group_input(attrs, state, profile, &state.groups[index].members)?;
    let name = input.display_name.clone().unwrap_or_default();
    if name != state.groups[index].display_name {
        if !profile.group_rename {
            return Err(ScimError::bad("mutability", "A group's displayName cannot be changed."));
        }
        if group_name_taken(state, profile, &name, call.param("id")) {
            return Err(ScimError::uniqueness(format!("A group named {name} already exists.")));
        }
    }
    let mut group = state.groups[index].clone();
    group.display_name = name;
    group.members = members_of(&input);
    group.external_id = input.external_id;
    if group != state.groups[index] {
        group.meta.touch(state.tick());
    }
    state.groups[index] = group.clone();
    let body = group_json(&group, profile, &call.base_url);
    Ok(resource_reply(call, StatusCode::OK, body, &group.meta, profile))
}

pub(crate) fn delete(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
    let index = group_to_change(call, state, profile)?;
    state.groups.remove(index);
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}
