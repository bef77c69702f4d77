//! The signed-in user, its workspaces, the workspace's members and their roles, and the
//! cross-workspace reads the vendor removed (CHANGE-2770), which answer 410.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::{query, user_json, workspace, workspace_json};
use crate::sandbox::atlassian_cloud::paging;
use crate::sandbox::atlassian_cloud::state::{CloudState, DirectoryUser};
use crate::sandbox::atlassian_cloud::view::View;
use crate::sandbox::atlassian_cloud::wire::{bb_bad, bb_error, bb_not_found, ok, Call, Outcome, Reply};

/// The most addresses one `user.email IN (...)` filter may name.
pub const MAX_EMAILS: usize = 90;

/// `GET /user`: the operator.
pub fn me(_: &Call, state: &mut CloudState) -> Outcome {
    let user = state
        .user(&state.operator)
        .ok_or_else(|| bb_not_found("The token's user is not in the directory."))?;
    ok(user_json(user))
}

/// `GET /user/workspaces`: the one workspace, with the operator's role in it. The
/// description predates this endpoint (CHANGE-3022); the item's shape is the changelog's
/// `workspace_access`: whether the user administers the workspace, and the workspace.
pub fn my_workspaces(call: &Call, state: &mut CloudState) -> Outcome {
    let workspace = &state.workspace;
    let admin = View::new(state).is_admin(&state.operator);
    let item = json!({
        "type": "workspace_access",
        "administrator": admin,
        "workspace": workspace_json(call, workspace),
    });
    ok(paging::bitbucket(call, vec![item])?)
}

fn membership(call: &Call, state: &CloudState, user: &DirectoryUser, permission: Option<&str>) -> Value {
    let workspace = &state.workspace;
    let mut value = json!({
        "type": "workspace_membership",
        "user": user_json(user),
        "workspace": workspace_json(call, workspace),
        "links": {"self": {"href": format!(
            "{}/2.0/workspaces/{}/members/{}", call.base_url, workspace.slug, user.account_id
        )}},
    });
    if let Some(permission) = permission {
        value["permission"] = Value::String(permission.to_owned());
    }
    value
}

/// `GET /workspaces/{workspace}/members`, with `q=user.email IN (...)` (at most 90
/// addresses) and `fields=+values.user.email`, which reveals only the filtered addresses.
pub fn members(call: &Call, state: &mut CloudState) -> Outcome {
    workspace(call, state)?;
    let conditions = query(call, &["user.email"])?.unwrap_or_default();
    for condition in &conditions {
        if condition.values.len() > MAX_EMAILS {
            return Err(bb_bad(format!(
                "Too many email addresses: at most {MAX_EMAILS} may be given, {} were",
                condition.values.len()
            )));
        }
    }
    let by_email = !conditions.is_empty();
    let reveal = by_email
        && call
            .query("fields")
            .is_some_and(|f| f.split(',').any(|field| field.trim() == "+values.user.email"));
    let view = View::new(state);
    let items = view
        .members()
        .into_iter()
        .filter(|u| conditions.iter().all(|c| c.holds(&u.email, true, |_| None)))
        .map(|u| {
            let mut value = membership(call, state, u, None);
            if reveal {
                value["user"]["email"] = Value::String(u.email.clone());
            }
            value
        })
        .collect();
    ok(paging::bitbucket(call, items)?)
}

/// `GET /workspaces/{workspace}/members/{member}`: by account id or `{uuid}`.
pub fn member(call: &Call, state: &mut CloudState) -> Outcome {
    workspace(call, state)?;
    let wanted = call.param("member");
    let view = View::new(state);
    let user = state
        .user_by_any_id(wanted)
        .filter(|u| view.is_member(&u.account_id))
        .ok_or_else(|| {
            bb_not_found(format!(
                "'{wanted}' is not a member of workspace '{}'.",
                state.workspace.slug
            ))
        })?;
    ok(membership(call, state, user, None))
}

/// `GET /workspaces/{workspace}/permissions`: members and their role (`owner` for the
/// admins, `member` otherwise), filtered by `q=permission="owner"`.
pub fn roles(call: &Call, state: &mut CloudState) -> Outcome {
    workspace(call, state)?;
    let conditions = query(call, &["permission"])?.unwrap_or_default();
    let view = View::new(state);
    let items = view
        .members()
        .into_iter()
        .map(|u| {
            (
                u,
                if view.is_admin(&u.account_id) {
                    "owner"
                } else {
                    "member"
                },
            )
        })
        .filter(|(_, role)| conditions.iter().all(|c| c.holds(role, false, |_| None)))
        .map(|(u, role)| membership(call, state, u, Some(role)))
        .collect();
    ok(paging::bitbucket(call, items)?)
}

/// `GET /workspaces`, `GET /user/permissions/workspaces`,
/// `GET /user/permissions/repositories`: removed by CHANGE-2770; the vendor answers 410.
pub fn removed(_: &Call, _: &mut CloudState) -> Outcome {
    Err(gone())
}

fn gone() -> Reply {
    let mut reply = bb_error(
        StatusCode::GONE,
        "CHANGE-2770 - Functionality has been deprecated",
        Some("This API is no longer supported. Use the workspace-scoped APIs instead.".to_owned()),
    );
    if let Reply::Json(_, body) = &mut reply {
        body["error"]["data"] = json!({
            "announcement_url": "https://developer.atlassian.com/cloud/bitbucket/changelog/#CHANGE-2770"
        });
    }
    reply
}
