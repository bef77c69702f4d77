//! `/api/latest/admin/permissions/users|groups`: global permissions (LICENSED_USER,
//! PROJECT_CREATE, ADMIN, SYS_ADMIN) granted directly to users and to groups.

use axum::http::StatusCode;

use super::access::{self, Principal, ADMIN, GLOBAL_PERMISSIONS};
use super::change::{Change, Place};
use super::state::DcState;
use super::wire::{matches, ApiError, Call, Outcome, Reply};

pub(crate) fn list_users(call: &Call, state: &mut DcState) -> Outcome {
    list(Principal::User, call, state)
}
pub(crate) fn list_groups(call: &Call, state: &mut DcState) -> Outcome {
    list(Principal::Group, call, state)
}
pub(crate) fn grant_users(call: &Call, state: &mut DcState) -> Outcome {
    grant(Principal::User, call, state)
}
pub(crate) fn grant_groups(call: &Call, state: &mut DcState) -> Outcome {
    grant(Principal::Group, call, state)
}
pub(crate) fn revoke_users(call: &Call, state: &mut DcState) -> Outcome {
    revoke(Principal::User, call, state)
}
pub(crate) fn revoke_groups(call: &Call, state: &mut DcState) -> Outcome {
    revoke(Principal::Group, call, state)
}

/// Principals granted a global permission directly (a user's permission through a group is
/// not listed under the user). `filter` matches the name only, as the description says.
fn list(kind: Principal, call: &Call, state: &mut DcState) -> Outcome {
    access::require_global(state, ADMIN)?;
    let paging = call.paging()?;
    let filter = call.filter();
    let values = kind
        .grants(&state.global)
        .iter()
        .filter(|(name, _)| matches(filter.as_deref(), &[name.as_str()]))
        .filter_map(|(name, permission)| kind.permitted(state, name, permission))
        .collect();
    Ok(paging.page(values))
}

/// 409 unless the operator ranks at least as high as the principal being changed.
fn check_not_above_operator(kind: Principal, state: &DcState, name: &str) -> Result<(), ApiError> {
    if kind.global_level(state, name) > access::global_level(state, &state.operator) {
        return Err(ApiError::conflict(format!(
            "You cannot change the permissions of {name} because they have a higher permission level than you."
        )));
    }
    Ok(())
}

/// `PUT ...?name=a&name=b&permission=P`: replaces each principal's global permission.
/// All names must exist, or nothing changes.
fn grant(kind: Principal, call: &Call, state: &mut DcState) -> Outcome {
    access::require_global(state, ADMIN)?;
    let names = call.required_all("name")?;
    let permission = call.required("permission")?;
    let level = access::rank(GLOBAL_PERMISSIONS, permission);
    if level == 0 {
        return Err(ApiError::invalid(
            "permission",
            format!("{permission} is not a global permission."),
        ));
    }
    let keys = names
        .iter()
        .map(|name| kind.find(state, name))
        .collect::<Result<Vec<_>, _>>()?;
    // "The authenticated user must have ... the permission they are attempting to grant",
    // answered with 401 like every other missing permission.
    if level > access::global_level(state, &state.operator) {
        return Err(ApiError::not_permitted());
    }
    for key in &keys {
        check_not_above_operator(kind, state, key)?;
    }
    let level = access::global_level(state, &state.operator);
    let licensed = access::licensed_before(state);
    let mut change = Change::new(state);
    for key in &keys {
        change.set_grant(&Place::Global, kind, key, Some(permission));
    }
    access::check_licence(licensed, &change)?;
    access::check_not_demoting_self(level, &change)?;
    change.commit();
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}

/// `DELETE ...?name=`: revokes every global permission granted directly to the principal.
fn revoke(kind: Principal, call: &Call, state: &mut DcState) -> Outcome {
    access::require_global(state, ADMIN)?;
    let name = call.required("name")?;
    let key = kind.find(state, name)?;
    check_not_above_operator(kind, state, &key)?;
    let level = access::global_level(state, &state.operator);
    let mut change = Change::new(state);
    change.set_grant(&Place::Global, kind, &key, None);
    access::check_not_demoting_self(level, &change)?;
    change.commit();
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}
