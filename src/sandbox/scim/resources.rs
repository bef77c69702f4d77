//! `/Users` and `/Groups`: listing (filter, sort, paging, projection), create, get,
//! replace, PATCH and delete, each consulting the profile where providers differ.
//!
//! PUT and PATCH share one path: PATCH applies its operations to the resource's JSON and
//! the result is read back exactly as a PUT body is, so both validate the same way and a
//! PATCH can never leave a resource a PUT could not have made.

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::filter::{get_ci, parse_filter, parse_path, AttrPath, Filter};
use super::profile::{FilterSupport, ScimProfile};
use super::schema::{self, group_attrs, user_attrs, Attr, Kind, Scope, GROUP_SCHEMA, USER_SCHEMA};
use super::state::{Email, Member, Meta, Name, ScimGroup, ScimState, ScimUser};
use super::wire::{sort_key, Call, Outcome, Reply, ScimError, LIST_SCHEMA, PATCH_SCHEMA};

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

// ----- listing -----

/// A page of `items`. Only a filter or a sort needs every item as JSON; otherwise only
/// the page's items are rendered, so reading a large directory page by page costs each
/// request its page, not the whole directory.
fn list<T>(
    call: &Call,
    profile: &ScimProfile,
    support: FilterSupport,
    attrs: &'static [Attr],
    items: Vec<&T>,
    to_json: impl Fn(&T) -> Value,
) -> Outcome {
    let sorting = profile.sorting && call.query("sortBy").is_some();
    if call.query("filter").is_none() && !sorting {
        let (start, count) = window(call, profile)?;
        let projection = call.projection();
        let page: Vec<Value> = items
            .iter()
            .skip(start - 1)
            .take(count)
            .map(|item| projection.apply(to_json(item)))
            .collect();
        return Ok(page_reply(start, items.len(), page));
    }
    let mut resources: Vec<Value> = items.iter().map(|item| to_json(item)).collect();
    if let Some(text) = call.query("filter") {
        let invalid = |e: String| ScimError::bad("invalidFilter", clip(format!("{e} in filter {text}")));
        let filter = parse_filter(text).map_err(invalid)?;
        check_supported(&filter, support)?;
        let scope = Scope::resource(attrs);
        filter.check(scope).map_err(invalid)?;
        resources.retain(|r| filter.matches(r, scope));
    }
    if let (true, Some(by)) = (profile.sorting, call.query("sortBy")) {
        let descending = call
            .query("sortOrder")
            .is_some_and(|o| o.eq_ignore_ascii_case("descending"));
        // Absent values sort last either way (RFC 7644 §3.4.2.3).
        resources.sort_by(|a, b| match (sort_key(a, by), sort_key(b, by)) {
            (Some(x), Some(y)) if descending => y.cmp(&x),
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
    }
    let (start, count) = window(call, profile)?;
    let total = resources.len();
    let projection = call.projection();
    let page: Vec<Value> = resources
        .into_iter()
        .skip(start - 1)
        .take(count)
        .map(|r| projection.apply(r))
        .collect();
    Ok(page_reply(start, total, page))
}

/// The 1-based start and how many items to serve, from `startIndex` and `count`.
fn window(call: &Call, profile: &ScimProfile) -> Result<(usize, usize), ScimError> {
    let start = integer(call, "startIndex")?.unwrap_or(1).max(1);
    let start = usize::try_from(start).unwrap_or(usize::MAX);
    // A negative count means 0 (§3.4.2.4); a larger one than the cap is served as the cap.
    let count = integer(call, "count")?
        .map_or(profile.max_results, |c| usize::try_from(c.max(0)).unwrap_or(0))
        .min(profile.max_results);
    Ok((start, count))
}

fn page_reply(start: usize, total: usize, page: Vec<Value>) -> Reply {
    Reply::ok(json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "itemsPerPage": page.len(),
        "startIndex": start,
        "Resources": page,
    }))
}

fn integer(call: &Call, name: &str) -> Result<Option<i64>, ScimError> {
    call.query(name)
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| ScimError::bad("invalidValue", format!("{name} must be an integer, not {v}")))
        })
        .transpose()
}

/// Refuses what a restricted profile does not filter on, as 400 `invalidFilter`.
fn check_supported(filter: &Filter, support: FilterSupport) -> Result<(), ScimError> {
    let FilterSupport::SingleEq(allowed) = support else {
        return Ok(());
    };
    let ok = matches!(
        filter,
        Filter::Compare(AttrPath { attr, filter: None, sub: None }, super::filter::CompareOp::Eq, Value::String(_))
            if allowed.iter().any(|a| a.eq_ignore_ascii_case(attr))
    );
    if ok {
        Ok(())
    } else {
        Err(ScimError::bad(
            "invalidFilter",
            format!("Only a single `eq` on {} is supported.", allowed.join(" or ")),
        ))
    }
}

/// Users a client can see: an inactive user is gone when DELETE means deactivate.
fn visible(user: &ScimUser, profile: &ScimProfile) -> bool {
    user.is_active() || !profile.delete_user_deactivates
}

pub(crate) fn list_users(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
    let users = state.users.iter().filter(|u| visible(u, profile)).collect();
    list(call, profile, profile.user_filter, user_attrs(profile), users, |u| {
        user_json(u, profile, &call.base_url)
    })
}

pub(crate) fn list_groups(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
    let groups = state.groups.iter().collect();
    list(call, profile, profile.group_filter, group_attrs(profile), groups, |g| {
        group_json(g, profile, &call.base_url)
    })
}

// ----- reading request bodies -----

/// RFC 7643 §3: `schemas` is REQUIRED and "MUST contain at least one value, which SHALL be
/// the base schema for the resource"; Atlassian's ScimUser and ScimGroup say the same ("This
/// field is required during user creation or modification"). So a POST or PUT body without
/// the resource's core URN is 400 `invalidSyntax` (the body "did not conform to the request
/// schema", RFC 7644 §3.12). A PATCH body names the PatchOp URN instead (`apply_patch`).
fn require_schema(body: &Value, urn: &str) -> Result<(), ScimError> {
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
struct UserInput {
    user_name: Option<String>,
    external_id: Option<String>,
    name: Option<Name>,
    display_name: Option<String>,
    #[serde(default)]
    emails: Vec<Email>,
    active: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupInput {
    display_name: Option<String>,
    external_id: Option<String>,
    #[serde(default)]
    members: Vec<MemberInput>,
}

/// A member as a client sends it: `value` is what counts; `$ref` (the tester and some
/// clients send it) points at the same user.
#[derive(Deserialize)]
struct MemberInput {
    value: String,
}

fn read<T: serde::de::DeserializeOwned>(attrs: Map<String, Value>) -> Result<T, ScimError> {
    serde_json::from_value(Value::Object(attrs)).map_err(|e| ScimError::bad("invalidValue", e.to_string()))
}

/// A POST or PUT body (or a PATCH's result) without a required attribute: 400
/// `invalidValue`, RFC 7644 §3.12's "A required value was missing" (§3.5.1 says a PUT
/// MUST carry every required attribute but names no error). A PATCH that removes one is
/// refused earlier, with `mutability` (`apply_patch`).
fn require_all(attrs: &Map<String, Value>, table: &[Attr]) -> Result<(), ScimError> {
    match schema::missing_required(attrs, table).first() {
        Some(missing) => Err(ScimError::bad("invalidValue", format!("{missing} is required."))),
        None => Ok(()),
    }
}

fn user_input(attrs: Map<String, Value>, profile: &ScimProfile) -> Result<UserInput, ScimError> {
    require_all(&attrs, user_attrs(profile))?;
    check_primaries(&attrs, user_attrs(profile))?;
    // `require_all` saw an email; Atlassian also wants one of them marked primary.
    if profile.email_required && primaries(&attrs, "emails").is_empty() {
        return Err(ScimError::bad("invalidValue", "One of emails must be primary."));
    }
    read(attrs)
}

/// The multi-valued attributes of `table` whose values may be marked `primary`.
fn with_primary(table: &'static [Attr]) -> impl Iterator<Item = &'static Attr> {
    table
        .iter()
        .filter(|def| def.multi && schema::find(def.sub, "primary").is_some())
}

fn is_primary(value: &Value) -> bool {
    value.get("primary") == Some(&Value::Bool(true))
}

/// The values of `key` marked primary.
fn primaries<'a>(attrs: &'a Map<String, Value>, key: &str) -> Vec<&'a Value> {
    match attrs.get(key) {
        Some(Value::Array(items)) => items.iter().filter(|v| is_primary(v)).collect(),
        _ => Vec::new(),
    }
}

/// RFC 7643 §2.4: "The primary attribute value "true" MUST appear no more than once";
/// two are 400 `invalidValue`.
fn check_primaries(attrs: &Map<String, Value>, table: &'static [Attr]) -> Result<(), ScimError> {
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
fn group_input(
    attrs: Map<String, Value>,
    state: &ScimState,
    profile: &ScimProfile,
    current: &[Member],
) -> Result<GroupInput, ScimError> {
    require_all(&attrs, group_attrs(profile))?;
    let input: GroupInput = read(attrs)?;
    for member in &input.members {
        // A member being added must be a user the client can see: a deactivated Atlassian
        // user answers 404 to "any future operation", so adding one is refused exactly as
        // an unknown id is. One already in the group may stay, so a PUT restating the
        // members, or a PATCH about someone else, does not fail over it.
        let kept = current.iter().any(|m| m.value == member.value);
        let known = state
            .users
            .iter()
            .any(|u| u.id == member.value && (kept || visible(u, profile)));
        if !known {
            return Err(ScimError::bad(
                "invalidValue",
                format!("No user has id {}.", member.value),
            ));
        }
    }
    Ok(input)
}

/// The members of a group input, once each.
fn members_of(input: &GroupInput) -> Vec<Member> {
    let mut members: Vec<Member> = input
        .members
        .iter()
        .map(|m| Member { value: m.value.clone() })
        .collect();
    members.sort();
    members.dedup();
    members
}

fn apply_user(user: &mut ScimUser, input: UserInput) {
    user.user_name = input.user_name.unwrap_or_default();
    user.external_id = input.external_id;
    user.name = input.name;
    user.display_name = input.display_name;
    user.emails = input.emails;
    user.active = input.active;
}

/// userName is caseExact false (RFC 7643 §4.1.1): compared as the state file's own check
/// compares it, so a state the emulator accepts always loads again.
fn same_name(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

fn user_name_taken(state: &ScimState, name: &str, except: &str) -> bool {
    state
        .users
        .iter()
        .any(|u| u.id != except && same_name(&u.user_name, name))
}

/// Whether another group has this name, when the profile makes names unique (RFC 7643
/// does not: two groups may share a `displayName` under `rfc`).
fn group_name_taken(state: &ScimState, profile: &ScimProfile, name: &str, except: &str) -> bool {
    profile.unique_group_names
        && state
            .groups
            .iter()
            .any(|g| g.id != except && same_name(&g.display_name, name))
}

fn created(call: &Call, body: Value, meta: &Meta, profile: &ScimProfile, location: String) -> Reply {
    let mut reply = resource_reply(call, StatusCode::CREATED, body, meta, profile);
    reply.location = Some(location);
    reply
}

// ----- users -----

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

pub(crate) fn create_user(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
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

pub(crate) fn get_user(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
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

pub(crate) fn replace_user(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
    let index = user_to_change(call, state, profile)?;
    let attrs = replaced(call, USER_SCHEMA, user_attrs(profile))?;
    write_user(call, state, profile, index, attrs)
}

pub(crate) fn patch_user(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
    // The precondition comes before the operations are even read: a stale client gets 412
    // whatever its body holds, and nothing is applied, not even to a copy.
    let index = user_to_change(call, state, profile)?;
    let doc = patched(call, profile, &state.users[index], user_attrs(profile))?;
    write_user(call, state, profile, index, doc)
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

pub(crate) fn delete_user(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
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

// ----- groups -----

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

pub(crate) fn create_group(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
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
        members: members_of(&input),
        meta: Meta::new(state.tick()),
    };
    let location = format!("{}/Groups/{}", call.base_url, group.id);
    let body = group_json(&group, profile, &call.base_url);
    let reply = created(call, body, &group.meta, profile, location);
    state.groups.push(group);
    Ok(reply)
}

pub(crate) fn get_group(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
    let group = &state.groups[find_group(state, call.param("id"))?];
    if profile.etag && call.not_modified(&group.meta.etag()) {
        return Ok(not_modified(&group.meta));
    }
    let body = group_json(group, profile, &call.base_url);
    Ok(resource_reply(call, StatusCode::OK, body, &group.meta, profile))
}

pub(crate) fn replace_group(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
    let index = group_to_change(call, state, profile)?;
    let attrs = replaced(call, GROUP_SCHEMA, group_attrs(profile))?;
    write_group(call, state, profile, index, attrs)
}

pub(crate) fn patch_group(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
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

pub(crate) fn delete_group(call: &Call, state: &mut ScimState, profile: &ScimProfile) -> Outcome {
    let index = group_to_change(call, state, profile)?;
    state.groups.remove(index);
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

// ----- PATCH -----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatchKind {
    Add,
    Remove,
    Replace,
}

/// Applies a PatchOp body (RFC 7644 §3.5.2) to `doc`, all operations or none.
fn apply_patch(
    doc: &mut Map<String, Value>,
    attrs: &'static [Attr],
    body: &Value,
    profile: &ScimProfile,
) -> Result<(), ScimError> {
    let declares_patch = get_ci(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(PATCH_SCHEMA)));
    if !declares_patch {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("schemas must contain {PATCH_SCHEMA}."),
        ));
    }
    // `Operations` per the RFC; attribute names are case-insensitive, which also covers
    // the Atlassian description's `operations`.
    let operations = get_ci(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::bad("invalidSyntax", "Operations must be a list."))?;
    let mut members_touched = 0;
    for operation in operations {
        let op = match get_ci(operation, "op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("add") => PatchKind::Add,
            Some("remove") => PatchKind::Remove,
            Some("replace") => PatchKind::Replace,
            other => {
                return Err(ScimError::bad(
                    "invalidSyntax",
                    format!("Unknown op {}.", other.unwrap_or("(none)")),
                ));
            }
        };
        let path = match get_ci(operation, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) => Some(p.as_str()),
            Some(_) => return Err(ScimError::bad("invalidPath", "path must be a string.")),
        };
        let value = get_ci(operation, "value");
        if path.is_some_and(|p| p.to_ascii_lowercase().starts_with("members"))
            || (path.is_none() && value.and_then(|v| get_ci(v, "members")).is_some())
        {
            members_touched += value
                .map(|v| match get_ci(v, "members").unwrap_or(v) {
                    Value::Array(items) => items.len(),
                    _ => 1,
                })
                .unwrap_or(1);
        }
        let missing_before = schema::missing_required(doc, attrs);
        let primary_before: Vec<(&str, Vec<Value>)> = with_primary(attrs)
            .map(|def| (def.name, primaries(doc, def.name).into_iter().cloned().collect()))
            .collect();
        apply_op(doc, attrs, op, path, value)?;
        demote_former_primaries(doc, &primary_before);
        // RFC 7644 §3.5.2.2: "If an attribute is removed or becomes unassigned and is defined
        // as a required attribute ..., the server SHALL return ... mutability". Checked after
        // each operation, so a replace with `[]` or a removed required sub-attribute counts.
        if let Some(lost) = schema::missing_required(doc, attrs)
            .into_iter()
            .find(|m| !missing_before.contains(m))
        {
            return Err(ScimError::bad(
                "mutability",
                format!("{lost} is required: it cannot be removed or left unassigned."),
            ));
        }
    }
    if let Some(max) = profile.max_members_per_patch {
        if members_touched > max {
            return Err(ScimError::bad(
                "tooMany",
                format!("At most {max} members may be changed in one request; this one changes {members_touched}."),
            ));
        }
    }
    doc.retain(|_, v| !v.is_null());
    Ok(())
}

fn apply_op(
    doc: &mut Map<String, Value>,
    attrs: &'static [Attr],
    op: PatchKind,
    path: Option<&str>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    // `{"op":"remove","path":"members","value":[{"value":"<id>"}]}` is what Azure AD (Entra
    // ID) sends to remove members, but RFC 7644 §3.5.2.2 gives a remove no value: its target
    // is the path alone, so a provider reading the RFC removes every member. Accepting it
    // would let a client pass here and empty groups there; refusing it (as scim2-models does
    // by default) sends the client to `members[value eq "<id>"]`, which every provider reads
    // alike. `invalidValue` is RFC 7644 §3.12's "value ... not compatible with the
    // operation". The Atlassian description documents no remove with a value either.
    if op == PatchKind::Remove && value.is_some_and(|v| !v.is_null()) {
        return Err(ScimError::bad(
            "invalidValue",
            "A remove carries no value: name what to remove in its path, as members[value eq \"<id>\"].",
        ));
    }
    let Some(text) = path else {
        if op == PatchKind::Remove {
            return Err(ScimError::bad("noTarget", "remove needs a path."));
        }
        let object = value
            .and_then(Value::as_object)
            .ok_or_else(|| ScimError::bad("invalidValue", "Without a path, value must be an object."))?;
        for (key, inner) in object {
            if schema::is_read_only_common(key) {
                continue;
            }
            apply_op(doc, attrs, op, Some(key), Some(inner))?;
        }
        return Ok(());
    };
    let path = parse_path(text).map_err(|e| ScimError::bad("invalidPath", clip(format!("{e} in path {text}"))))?;
    if schema::is_read_only_common(&path.attr) {
        return Err(ScimError::bad("mutability", format!("{} is read-only.", path.attr)));
    }
    let def = schema::find(attrs, &path.attr)
        .ok_or_else(|| ScimError::bad("invalidPath", format!("No attribute {}.", path.attr)))?;
    let sub = match &path.sub {
        None => None,
        Some(name) => {
            let sub = schema::find(def.sub, name)
                .ok_or_else(|| ScimError::bad("invalidPath", format!("No attribute {}.{name}.", def.name)))?;
            if sub.read_only {
                return Err(ScimError::bad(
                    "mutability",
                    format!("{}.{} is read-only.", def.name, sub.name),
                ));
            }
            Some(sub)
        }
    };
    if def.read_only {
        return Err(ScimError::bad("mutability", format!("{} is read-only.", def.name)));
    }
    if path.filter.is_some() && !def.multi {
        return Err(ScimError::bad(
            "invalidPath",
            format!("{} is not multi-valued.", def.name),
        ));
    }
    // A path filter is read against the attribute's sub-attributes, and refused as a query
    // filter would be (RFC 7644 §3.12 lists `invalidFilter` for PATCH path filters).
    let scope = Scope::within(def);
    if let Some(filter) = &path.filter {
        filter
            .check(scope)
            .map_err(|e| ScimError::bad("invalidFilter", clip(format!("{e} in path {text}"))))?;
    }
    let key = def.name;
    let needs_value = || {
        value
            .filter(|v| !v.is_null())
            .ok_or_else(|| ScimError::bad("invalidValue", format!("{:?} needs a value.", op)))
    };
    match (op, &path.filter, sub) {
        (PatchKind::Remove, None, None) => {
            doc.remove(key);
        }
        (PatchKind::Remove, None, Some(sub)) => {
            for element in elements(doc, key) {
                if let Some(object) = element.as_object_mut() {
                    object.remove(sub.name);
                }
            }
        }
        (PatchKind::Remove, Some(filter), None) => {
            // Removing values that are not there is a success (RFC 7644 §3.5.2.2).
            if let Some(Value::Array(items)) = doc.get_mut(key) {
                items.retain(|e| !filter.matches(e, scope));
            }
        }
        (PatchKind::Remove, Some(filter), Some(sub)) => {
            for element in elements(doc, key) {
                if filter.matches(element, scope) {
                    if let Some(object) = element.as_object_mut() {
                        object.remove(sub.name);
                    }
                }
            }
        }
        (_, None, None) => {
            let new = schema::canonical_value(def, needs_value()?);
            if def.multi {
                let list = as_list(&new);
                if op == PatchKind::Add {
                    let items = doc.entry(key).or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(items) = items {
                        for item in list {
                            if !items.contains(&item) {
                                items.push(item);
                            }
                        }
                    }
                } else {
                    doc.insert(key.to_owned(), Value::Array(list));
                }
            } else if def.kind == Kind::Complex {
                // Both add and replace merge sub-attributes into a complex value (§3.5.2.1, §3.5.2.3).
                merge(doc.entry(key).or_insert_with(|| json!({})), &new);
            } else {
                doc.insert(key.to_owned(), new);
            }
        }
        (_, None, Some(sub)) => {
            let new = needs_value()?.clone();
            if def.multi {
                let targets = elements(doc, key);
                if targets.is_empty() {
                    return Err(ScimError::bad("noTarget", format!("{} has no values.", def.name)));
                }
                for element in targets {
                    merge(element, &json!({ sub.name: new.clone() }));
                }
            } else {
                merge(doc.entry(key).or_insert_with(|| json!({})), &json!({ sub.name: new }));
            }
        }
        (_, Some(filter), sub) => {
            let new = needs_value()?;
            let patch = match sub {
                Some(sub) => json!({ sub.name: new.clone() }),
                None => Value::Object(schema::canonical(def.sub, new)),
            };
            let targets: Vec<&mut Value> = elements(doc, key)
                .into_iter()
                .filter(|e| filter.matches(e, scope))
                .collect();
            if targets.is_empty() {
                return Err(ScimError::bad(
                    "noTarget",
                    format!("No value of {} matches {text}.", def.name),
                ));
            }
            for element in targets {
                merge(element, &patch);
            }
        }
    }
    Ok(())
}

/// RFC 7644 §3.5.2: "a PATCH operation that sets a value's "primary" sub-attribute to
/// "true" SHALL cause the server to automatically set "primary" to "false" for any other
/// values". A value is newly primary when it was not among `before`, the primary values
/// ahead of the operation; if there is one, those former ones stop being primary. An
/// operation that marks two values primary itself is left for `check_primaries` to refuse.
fn demote_former_primaries(doc: &mut Map<String, Value>, before: &[(&str, Vec<Value>)]) {
    for (key, former) in before {
        let Some(Value::Array(items)) = doc.get_mut(*key) else {
            continue;
        };
        if !items.iter().any(|v| is_primary(v) && !former.contains(v)) {
            continue;
        }
        for item in items.iter_mut() {
            if is_primary(item) && former.contains(item) {
                if let Some(object) = item.as_object_mut() {
                    object.insert("primary".to_owned(), Value::Bool(false));
                }
            }
        }
    }
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// The values of `key`: each element of a multi-valued attribute, or the one complex value.
fn elements<'d>(doc: &'d mut Map<String, Value>, key: &str) -> Vec<&'d mut Value> {
    match doc.get_mut(key) {
        Some(Value::Array(items)) => items.iter_mut().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    }
}

fn merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(target), Some(patch)) => {
            for (k, v) in patch {
                target.insert(k.clone(), v.clone());
            }
        }
        _ => *target = patch.clone(),
    }
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
