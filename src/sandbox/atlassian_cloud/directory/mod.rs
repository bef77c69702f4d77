//! The Organizations REST API operations on the organization directory, under `/admin`:
//! the organization and its directories (here), accounts (`users`), groups and their
//! memberships (`groups`). Paths name the organization and the directory by id; a
//! directory of `-` means every directory the caller manages, here the one.

pub mod groups;
pub mod users;

use serde_json::{json, Map, Value};

use super::paging;
use super::state::{CloudState, DirectoryGroup, DirectoryUser, UserStatus};
use super::wire::{ok, org_bad, org_not_found, Call, Outcome, Reply};

/// The organization the path names.
pub fn organization(call: &Call, state: &CloudState) -> Result<(), Reply> {
    let wanted = call.param("orgId");
    if wanted == state.organization.id {
        Ok(())
    } else {
        Err(org_not_found(format!("Organization {wanted} was not found.")))
    }
}

/// The organization and the directory the path names.
pub fn directory(call: &Call, state: &CloudState) -> Result<(), Reply> {
    organization(call, state)?;
    let wanted = call.param("directoryId");
    if wanted == "-" || wanted == state.directory.id {
        Ok(())
    } else {
        Err(org_not_found(format!("Directory {wanted} was not found.")))
    }
}

/// A search body: a JSON object (an empty body is an empty search) whose keys are among
/// `known`.
pub fn search_body(call: &Call, known: &[&str]) -> Result<Map<String, Value>, Reply> {
    let body = call.json().map_err(org_bad)?;
    let object = match body {
        Value::Null => Map::new(),
        Value::Object(object) => object,
        _ => return Err(org_bad("The request body must be a JSON object.")),
    };
    if let Some(unknown) = object.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(org_bad(format!("Unrecognized field \"{unknown}\".")));
    }
    Ok(object)
}

/// Refuses a described filter the emulator does not model (product resources, roles,
/// MFA, …): answering as if it were not there would list more than the vendor does.
pub fn unmodelled(body: &Map<String, Value>, filters: &[&str]) -> Result<(), Reply> {
    match filters.iter().find(|f| body.contains_key(**f)) {
        Some(filter) => Err(org_bad(format!("The sandbox does not filter by {filter}."))),
        None => Ok(()),
    }
}

/// A list of strings from a search body (or a query), with the description's bounds.
pub fn strings(value: Option<&Value>, name: &str, max: usize) -> Result<Option<Vec<String>>, Reply> {
    let Some(value) = value else {
        return Ok(None);
    };
    let list: Option<Vec<String>> = value
        .as_array()
        .and_then(|items| items.iter().map(|v| v.as_str().map(str::to_owned)).collect());
    let list = list.ok_or_else(|| org_bad(format!("{name} must be a list of strings.")))?;
    if list.is_empty() || list.len() > max {
        return Err(org_bad(format!("{name} must have between 1 and {max} items.")));
    }
    Ok(Some(list))
}

/// `limit` from a search body.
pub fn limit(value: Option<&Value>) -> Result<Option<i64>, Reply> {
    match value {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| org_bad("limit must be an integer.")),
    }
}

/// `limit` from a query.
pub fn query_limit(call: &Call) -> Result<Option<i64>, Reply> {
    match call.query("limit") {
        None => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| org_bad(format!("limit must be an integer, not {text}."))),
    }
}

/// A query list, given as repeated names (`groupIds=a&groupIds=b`).
pub fn query_list(call: &Call, name: &str, max: usize) -> Result<Option<Vec<String>>, Reply> {
    let values = call.query_all(name);
    if values.is_empty() {
        return Ok(None);
    }
    if values.len() > max {
        return Err(org_bad(format!("{name} must have between 1 and {max} items.")));
    }
    Ok(Some(values.into_iter().map(str::to_owned).collect()))
}

/// `MultiDirectoryUser`; with `groups`, the groups the account is in.
pub fn user_json(state: &CloudState, user: &DirectoryUser, groups: bool) -> Value {
    let (account_status, membership_status) = match user.status {
        UserStatus::Active => ("active", "active"),
        UserStatus::Suspended => ("active", "suspended"),
        UserStatus::NotInvited => ("active", "no_membership"),
        UserStatus::Deactivated | UserStatus::ForDeletion => ("inactive", "suspended"),
    };
    let mut value = json!({
        "accountId": user.account_id,
        "accountType": "atlassian",
        "status": user.status.as_str(),
        "accountStatus": account_status,
        "membershipStatus": membership_status,
        "name": user.name,
        "nickname": user.nickname.clone().unwrap_or_else(|| user.name.clone()),
        "email": user.email,
        "emailVerified": true,
        "claimStatus": "managed",
        "managementSource": if in_synced_group(state, user) { "synced" } else { "invited" },
    });
    if groups {
        value["groups"] = state
            .groups
            .iter()
            .filter(|g| g.members.contains(&user.account_id))
            .map(|g| json!({"id": g.id, "name": g.name}))
            .collect();
    }
    value
}

/// An account an identity provider manages: a member of a synced group.
fn in_synced_group(state: &CloudState, user: &DirectoryUser) -> bool {
    state
        .groups
        .iter()
        .any(|g| g.synced && g.members.contains(&user.account_id))
}

/// `MultiDirectoryGroup`; `managementAccess` and `externalSynced` say whether an identity
/// provider owns it (then it is read-only here).
pub fn group_json(state: &CloudState, group: &DirectoryGroup, user_count: bool) -> Value {
    let mut value = json!({
        "id": group.id,
        "name": group.name,
        "directoryId": state.directory.id,
        "managementAccess": {"readable": true, "modifiable": !group.synced, "deletable": !group.synced},
        "externalSynced": group.synced,
    });
    if let Some(description) = &group.description {
        value["description"] = Value::String(description.clone());
    }
    if user_count {
        value["counts"] = json!({"users": group.members.len()});
    }
    value
}

/// `GET /v1/orgs`: the one organization.
pub fn orgs(call: &Call, state: &mut CloudState) -> Outcome {
    let org = &state.organization;
    let base = format!("{}/admin/v1/orgs/{}", call.base_url, org.id);
    ok(json!({
        "data": [{
            "id": org.id,
            "type": "orgs",
            "attributes": {"name": org.name},
            "relationships": {
                "domains": {"links": {"related": format!("{base}/domains")}},
                "users": {"links": {"related": format!("{base}/users")}},
            },
            "links": {"self": base},
        }],
        "links": {"self": format!("{}/admin/v1/orgs", call.base_url)},
    }))
}

/// `GET /v2/orgs/{orgId}/directories`: the one managed directory.
pub fn directories(call: &Call, state: &mut CloudState) -> Outcome {
    organization(call, state)?;
    let items = vec![json!({"directoryId": state.directory.id, "name": state.directory.name})];
    ok(paging::cursor(items, call.query("cursor"), query_limit(call)?, 20)?)
}
