//! `/api/latest/admin/users`: list, create, update and delete users of the internal
//! directory.

use axum::http::StatusCode;
use serde::Deserialize;

use super::access::{self, ADMIN, LICENSED_USER};
use super::state::{DcState, DcUser};
use super::wire::{detailed_user, matches, ApiError, Call, Outcome, Reply};

/// `GET /admin/users`: `filter` matches name, display name or email address.
pub(crate) fn list(call: &Call, state: &mut DcState) -> Outcome {
    access::require_global(state, LICENSED_USER)?;
    let paging = call.paging()?;
    let filter = call.filter();
    let values = state
        .users
        .iter()
        .filter(|(name, u)| matches(filter.as_deref(), &[name.as_str(), &u.display_name, &u.email]))
        .map(|(name, u)| detailed_user(state, name, u))
        .collect();
    Ok(paging.page(values))
}

/// The description's length rules for names (`The name should be between 1 and 255
/// characters.`) and a minimal e-mail check.
fn check_text(context: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() || value.chars().count() > 255 {
        return Err(ApiError::invalid(
            context,
            format!("The {context} should be between 1 and 255 characters."),
        ));
    }
    Ok(())
}

fn check_email(context: &str, value: &str) -> Result<(), ApiError> {
    check_text(context, value)?;
    match value.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(()),
        _ => Err(ApiError::invalid(context, "The email should be a valid email address.")),
    }
}

/// `POST /admin/users`: every detail comes in the query string, there is no body.
pub(crate) fn create(call: &Call, state: &mut DcState) -> Outcome {
    access::require_global(state, ADMIN)?;
    let name = call.required("name")?;
    let display_name = call.required("displayName")?;
    let email = call.required("emailAddress")?;
    check_text("name", name)?;
    check_text("displayName", display_name)?;
    check_email("emailAddress", email)?;
    // "If present and not false": `notify` alone (even empty) means notify.
    let notify = call.query("notify").is_some_and(|v| v != "false");
    if !notify && call.query("password").is_none_or(str::is_empty) {
        return Err(ApiError::invalid(
            "password",
            "A password is required unless the user is notified.",
        ));
    }
    let add_to_default_group = call.boolean("addToDefaultGroup")?.unwrap_or(true);
    if access::find_user(state, name).is_some() {
        return Err(ApiError::conflict(format!(
            "A user with the name {name} already exists."
        )));
    }
    // The sandbox has no default group. On a real instance the default group is what
    // usually grants LICENSED_USER, so joining it at the licence limit is refused (403);
    // the emulator refuses the same request but, when it succeeds, adds the user to no
    // group: a new sandbox user holds no licence until a permission is granted.
    if add_to_default_group {
        if let Some(limit) = state.licence_limit {
            if access::licensed_count(state) >= limit {
                return Err(ApiError::licence_exceeded());
            }
        }
    }
    state.users.insert(
        name.to_owned(),
        DcUser {
            display_name: display_name.to_owned(),
            email: email.to_owned(),
            active: true,
        },
    );
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}

/// `UserUpdate`: `name` identifies the user, the other fields change only when given.
#[derive(Deserialize)]
struct UserUpdate {
    name: Option<String>,
    #[serde(rename = "displayName")]
    display_name: Option<String>,
    email: Option<String>,
}

/// `PUT /admin/users`: returns the updated `RestDetailedUser`.
pub(crate) fn update(call: &Call, state: &mut DcState) -> Outcome {
    access::require_global(state, ADMIN)?;
    let update: UserUpdate = call.json()?;
    let name = update
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::invalid("name", "The name of the user to update is required."))?;
    let key = access::find_user(state, &name).ok_or_else(|| ApiError::no_such_user(&name))?;
    // The description answers 401 when the caller ranks below the user being updated.
    if access::global_level(state, &key) > access::global_level(state, &state.operator) {
        return Err(ApiError::not_permitted());
    }
    if let Some(display_name) = &update.display_name {
        check_text("displayName", display_name)?;
    }
    if let Some(email) = &update.email {
        check_email("email", email)?;
    }
    let user = state.users.get_mut(&key).ok_or_else(|| ApiError::no_such_user(&name))?;
    if let Some(display_name) = update.display_name {
        user.display_name = display_name;
    }
    if let Some(email) = update.email {
        user.email = email;
    }
    let user = user.clone();
    Ok(Reply::Json(StatusCode::OK, detailed_user(state, &key, &user)))
}

/// `DELETE /admin/users?name=`: 200 with the deleted user; the user's memberships and
/// every permission granted to it go too.
pub(crate) fn delete(call: &Call, state: &mut DcState) -> Outcome {
    access::require_global(state, ADMIN)?;
    let name = call.required("name")?;
    let key = access::find_user(state, name).ok_or_else(|| ApiError::no_such_user(name))?;
    if key == state.operator {
        return Err(ApiError::conflict("You cannot delete yourself."));
    }
    if access::global_level(state, &key) > access::global_level(state, &state.operator) {
        return Err(ApiError::forbidden(format!(
            "You cannot delete {key} because they have a higher permission level than you."
        )));
    }
    let user = state
        .users
        .get(&key)
        .cloned()
        .ok_or_else(|| ApiError::no_such_user(name))?;
    let body = detailed_user(state, &key, &user);
    access::forget_user(state, &key);
    Ok(Reply::Json(StatusCode::OK, body))
}
