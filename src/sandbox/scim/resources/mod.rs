//! `/Users` and `/Groups`: listing (filter, sort, paging, projection), create, get,
//! replace, PATCH and delete, each consulting the profile where providers differ.
//!
//! PUT and PATCH share one path: PATCH applies its operations to the resource's JSON and
//! the result is read back exactly as a PUT body is, so both validate the same way and a
//! PATCH can never leave a resource a PUT could not have made.
//!
//! `users` and `groups` hold the handlers; `listing` pages, filters and sorts; `input`
//! reads and checks request bodies; `patch` applies PatchOp operations. This module renders
//! resources and holds what both handlers share.

pub(super) mod groups;
mod input;
mod listing;
mod patch;
pub(super) mod users;

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use super::profile::ScimProfile;
use super::schema::{self, Attr, GROUP_SCHEMA, USER_SCHEMA};
use super::state::{Meta, ScimGroup, ScimUser};
use super::wire::{Call, Reply, ScimError};

use input::require_schema;
use patch::apply_patch;

// ----- rendering -----

fn meta_json(meta: &Meta, kind: &str, location: String, profile: &ScimProfile) -> Value {
    let mut value = json!({
        "resourceType": kind,
        "created": meta.created,
        "lastModified": meta.last_modified,
        "location": location,
    });
    if let (true, Some(object)) = (profile.etag, value.as_object_mut()) {
        object.insert("version".to_owned(), Value::from(meta.etag()));
    }
    value
}

fn user_json(user: &ScimUser, profile: &ScimProfile, base: &str) -> Value {
    let mut value = serde_json::to_value(user).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.insert("schemas".to_owned(), json!([USER_SCHEMA]));
        let location = format!("{base}/Users/{}", user.id);
        object.insert("meta".to_owned(), meta_json(&user.meta, "User", location, profile));
    }
    value
}

fn group_json(group: &ScimGroup, profile: &ScimProfile, base: &str) -> Value {
    let mut value = serde_json::to_value(group).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.insert("schemas".to_owned(), json!([GROUP_SCHEMA]));
        // `display` is optional (RFC 7643 §4.2) and left out: echoing a name the client did
        // not send makes a PATCH's answer differ from what it asked for.
        let members: Vec<Value> = group
            .members
            .iter()
            .map(|m| json!({"value": m.value, "$ref": format!("{base}/Users/{}", m.value)}))
            .collect();
        if !members.is_empty() {
            object.insert("members".to_owned(), Value::Array(members));
        }
        let location = format!("{base}/Groups/{}", group.id);
        object.insert("meta".to_owned(), meta_json(&group.meta, "Group", location, profile));
    }
    value
}

/// A single resource's answer: its projection, with `ETag` when the profile has them.
fn resource_reply(call: &Call, status: StatusCode, body: Value, meta: &Meta, profile: &ScimProfile) -> Reply {
    Reply {
        status,
        body: Some(call.projection().apply(body)),
        etag: profile.etag.then(|| meta.etag()),
        location: None,
    }
}

/// A 304 for `If-None-Match`: no body, but the `ETag` a 200 would carry (RFC 7232 §4.1
/// requires it), so a client that revalidates learns the version it holds is current.
fn not_modified(meta: &Meta) -> Reply {
    Reply {
        etag: Some(meta.etag()),
        ..Reply::empty(StatusCode::NOT_MODIFIED)
    }
}

fn created(call: &Call, body: Value, meta: &Meta, profile: &ScimProfile, location: String) -> Reply {
    let mut reply = resource_reply(call, StatusCode::CREATED, body, meta, profile);
    reply.location = Some(location);
    reply
}

// ----- shared by users and groups -----

/// Users a client can see: an inactive user is gone when DELETE means deactivate.
fn visible(user: &ScimUser, profile: &ScimProfile) -> bool {
    user.is_active() || !profile.delete_user_deactivates
}

/// userName is caseExact false (RFC 7643 §4.1.1): compared as the state file's own check
/// compares it, so a state the emulator accepts always loads again. ASCII names, the
/// usual case, are compared without lowercasing copies: a create compares its name with
/// every user's.
fn same_name(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.to_lowercase() == b.to_lowercase()
}

/// The attributes a PUT gives: the body's, which must name the resource's core schema.
fn replaced(call: &Call, core_schema: &str, attrs: &'static [Attr]) -> Result<Map<String, Value>, ScimError> {
    let body = call.json()?;
    require_schema(&body, core_schema)?;
    Ok(schema::canonical(attrs, &body))
}

/// The attributes a PATCH leaves: the resource as it is, with the request's operations
/// applied in order.
fn patched(
    call: &Call,
    profile: &ScimProfile,
    current: &impl serde::Serialize,
    attrs: &'static [Attr],
) -> Result<Map<String, Value>, ScimError> {
    if !profile.patch {
        return Err(ScimError::not_implemented("PATCH is not supported."));
    }
    let current = serde_json::to_value(current).unwrap_or(Value::Null);
    let mut doc = schema::canonical(attrs, &current);
    apply_patch(&mut doc, attrs, &call.json()?, profile)?;
    Ok(doc)
}

/// An error detail that quotes a client's filter or path, cut to a readable length: the
/// input may be as long as the server accepts a URL or body, and quoting it whole would
/// answer a 100 kB request with a 200 kB error.
fn clip(mut detail: String) -> String {
    if crate::text::cut(&mut detail, 300) {
        detail.push('…');
    }
    detail
}
