//! One handler per operation the emulator serves, as the description has them: list,
//! get and a user's groups under `/users`; list, get and a group's member users under
//! `/groups`. Lists are in id order and paged by an `after` cursor with `Link` headers.

use serde_json::Value;

use super::expr::{self, Op, Rules};
use super::state::{OktaState, OktaUser};
use super::wire::{self, bad_search, invalid, not_found, ok, Call, Outcome};

/// The most users a page holds: the description's default, and the most Okta's
/// documentation says a page of users holds; a larger `limit` is served at this.
pub const USERS_MAX: usize = 200;
/// `q` finds at most this many users by default (the description's "defaults to 10").
pub const USERS_Q_DEFAULT: usize = 10;
/// The description's declared maximum for a page of groups; a larger `limit` is refused.
pub const GROUPS_MAX: usize = 10_000;
/// `q` on groups: "the default limit for a query is 300".
pub const GROUPS_Q_DEFAULT: usize = 300;
/// A group's members a page: the description's default. It declares no maximum; the
/// emulator serves at most this many, so a client that asks for more still has to page.
pub const MEMBERS_MAX: usize = 1000;

/// The top-level user properties `search` reads besides `profile.*` (the description).
const USER_SEARCH: &[&str] = &[
    "id",
    "status",
    "created",
    "activated",
    "statusChanged",
    "lastUpdated",
    "type.id",
];
/// The only properties `filter` reads on users.
const USER_FILTER: &[&str] = &[
    "status",
    "lastUpdated",
    "id",
    "profile.login",
    "profile.email",
    "profile.firstName",
    "profile.lastName",
];
/// The top-level group properties `search` reads besides `profile.*`.
const GROUP_SEARCH: &[&str] = &[
    "id",
    "created",
    "lastMembershipUpdated",
    "lastUpdated",
    "type",
    "source.id",
];
/// The only properties `filter` reads on groups.
const GROUP_FILTER: &[&str] = &["id", "type", "lastUpdated", "lastMembershipUpdated"];
/// Timestamps, which take the inequalities.
const DATES: &[&str] = &[
    "created",
    "activated",
    "statusChanged",
    "lastUpdated",
    "lastMembershipUpdated",
];

fn comparison(op: Op) -> bool {
    matches!(op, Op::Gt | Op::Ge | Op::Lt | Op::Le)
}

/// Users' `search`: any profile attribute or the listed properties; `co` only on four
/// profile attributes. Values compare without regard to case.
const USERS_SEARCH: Rules = Rules {
    attribute: |a| a.starts_with("profile.") || USER_SEARCH.contains(&a),
    operator: |a, op| {
        op != Op::Co
            || [
                "profile.firstName",
                "profile.lastName",
                "profile.email",
                "profile.login",
            ]
            .contains(&a)
    },
    case_sensitive: false,
};

/// Users' `filter`: seven properties, `eq` only except `lastUpdated`. Case-sensitive.
const USERS_FILTER: Rules = Rules {
    attribute: |a| USER_FILTER.contains(&a),
    operator: |a, op| op == Op::Eq || (a == "lastUpdated" && comparison(op)),
    case_sensitive: true,
};

/// Groups' `search`: `sw`, `eq`, `co` (`co` on the name and description only), and the
/// inequalities on timestamps, which the description's examples use. The description
/// says for users, and Okta's documentation for search in general, that values compare
/// without regard to case.
const GROUPS_SEARCH: Rules = Rules {
    attribute: |a| a.starts_with("profile.") || GROUP_SEARCH.contains(&a),
    operator: |a, op| match op {
        Op::Eq | Op::Sw => true,
        Op::Co => a == "profile.name" || a == "profile.description",
        _ => DATES.contains(&a),
    },
    case_sensitive: false,
};

/// Groups' `filter`: four properties, `eq`, and the inequalities on the timestamps.
const GROUPS_FILTER: Rules = Rules {
    attribute: |a| GROUP_FILTER.contains(&a),
    operator: |a, op| op == Op::Eq || (DATES.contains(&a) && comparison(op)),
    case_sensitive: true,
};

/// The one expression parameter a list was given (`search` or `filter`), parsed; both
/// at once is refused.
fn expression(call: &Call, search: &Rules, filter: &Rules) -> Result<Option<(expr::Expr, bool)>, wire::Reply> {
    match (call.query("search"), call.query("filter")) {
        (Some(_), Some(_)) => Err(bad_search("`search` and `filter` cannot be combined".to_owned())),
        (Some(s), None) => Ok(Some((
            expr::parse(s, search).map_err(bad_search)?,
            search.case_sensitive,
        ))),
        (None, Some(f)) => Ok(Some((
            expr::parse(f, filter).map_err(bad_search)?,
            filter.case_sensitive,
        ))),
        (None, None) => Ok(None),
    }
}

/// A user's property as text, for expressions.
fn user_attr(u: &OktaUser, attr: &str) -> Option<String> {
    match attr {
        "id" => Some(u.id.clone()),
        "status" => Some(u.status.clone()),
        "type.id" => Some("oty1emulatorusertype".to_owned()),
        "created" | "statusChanged" | "lastUpdated" => Some(CREATED.to_owned()),
        "activated" => (!matches!(u.status.as_str(), "STAGED" | "PROVISIONED")).then(|| CREATED.to_owned()),
        _ => attr
            .strip_prefix("profile.")
            .and_then(|name| match u.profile.get(name)? {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            }),
    }
}

const CREATED: &str = "2024-01-02T09:00:00.000Z";

fn sorted_users(state: &OktaState, keep: impl Fn(&OktaUser) -> bool) -> Vec<&OktaUser> {
    let mut users: Vec<&OktaUser> = state.users.iter().filter(|u| keep(u)).collect();
    users.sort_by(|a, b| a.id.cmp(&b.id));
    users
}

/// `GET /users`: `q` (no paging, no `DEPROVISIONED`), `search` or `filter` (everyone
/// who matches, `DEPROVISIONED` included), or everyone but `DEPROVISIONED`.
pub fn list_users(call: &Call, state: &mut OktaState) -> Outcome {
    let base = call.base_url.as_str();
    if let Some(q) = call.query("q") {
        let limit = call.limit(USERS_Q_DEFAULT, USERS_MAX, true)?;
        let q = q.to_lowercase();
        let starts = |u: &OktaUser, key: &str| {
            u.profile
                .get(key)
                .and_then(Value::as_str)
                .is_some_and(|v| v.to_lowercase().starts_with(&q))
        };
        let users = sorted_users(state, |u| {
            u.status != "DEPROVISIONED" && (starts(u, "firstName") || starts(u, "lastName") || starts(u, "email"))
        });
        let page: Vec<Value> = users.iter().take(limit).map(|u| wire::user(base, u)).collect();
        return ok(Value::Array(page));
    }
    let limit = call.limit(USERS_MAX, USERS_MAX, true)?;
    let users = match expression(call, &USERS_SEARCH, &USERS_FILTER)? {
        Some((e, case_sensitive)) => sorted_users(state, |u| e.matches(&|a| user_attr(u, a), case_sensitive)),
        None => sorted_users(state, |u| u.status != "DEPROVISIONED"),
    };
    Ok(call.page(users, |u| u.id.as_str(), limit, |u| wire::user(base, u)))
}

/// `GET /users/{id}`: by id, login, or login shortname when only one login has it.
pub fn get_user(call: &Call, state: &mut OktaState) -> Outcome {
    let user = find_user(state, call.param("id")).ok_or_else(|| not_found(&format!("{} (User)", call.param("id"))))?;
    ok(wire::user(&call.base_url, user))
}

fn find_user<'a>(state: &'a OktaState, key: &str) -> Option<&'a OktaUser> {
    state.user(key).or_else(|| {
        let short: Vec<&OktaUser> = state
            .users
            .iter()
            .filter(|u| u.login().split('@').next().is_some_and(|s| s.eq_ignore_ascii_case(key)))
            .collect();
        match short.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    })
}

/// `GET /users/{id}/groups`: every group the user is a direct member of, unpaged (the
/// description declares no paging parameters).
pub fn user_groups(call: &Call, state: &mut OktaState) -> Outcome {
    let user = find_user(state, call.param("id")).ok_or_else(|| not_found(&format!("{} (User)", call.param("id"))))?;
    let mut groups: Vec<Value> = state
        .groups
        .iter()
        .filter(|g| state.members(g).iter().any(|m| m.id == user.id))
        .map(|g| wire::group(&call.base_url, state, g, false))
        .collect();
    groups.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    ok(Value::Array(groups))
}

/// `GET /groups`: `q` (name prefix, no paging), `search` or `filter`, or every group.
pub fn list_groups(call: &Call, state: &mut OktaState) -> Outcome {
    let base = call.base_url.as_str();
    let stats = match call.query("expand") {
        None => false,
        Some("stats") => true,
        // `app` embeds the source app of APP_GROUPs, which the state does not model.
        Some("app") => false,
        Some(other) => return Err(invalid(format!("expand: `{other}` is not `stats` or `app`"))),
    };
    let mut groups: Vec<&super::state::OktaGroup> = state.groups.iter().collect();
    groups.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(q) = call.query("q") {
        let limit = call.limit(GROUPS_Q_DEFAULT, GROUPS_MAX, false)?;
        let q = q.to_lowercase();
        let page: Vec<Value> = groups
            .iter()
            .filter(|g| g.name.to_lowercase().starts_with(&q))
            .take(limit)
            .map(|g| wire::group(base, state, g, stats))
            .collect();
        return ok(Value::Array(page));
    }
    // The description declares no default for a plain list; the emulator serves its
    // maximum, as Okta's documentation says it does.
    let limit = call.limit(GROUPS_MAX, GROUPS_MAX, false)?;
    if let Some((e, case_sensitive)) = expression(call, &GROUPS_SEARCH, &GROUPS_FILTER)? {
        groups.retain(|g| {
            let get = |attr: &str| match attr {
                "id" => Some(g.id.clone()),
                "type" => Some(g.kind.clone()),
                "created" | "lastUpdated" | "lastMembershipUpdated" => Some(CREATED.to_owned()),
                "profile.name" => Some(g.name.clone()),
                "profile.description" => g.description.clone(),
                _ => None,
            };
            e.matches(&get, case_sensitive)
        });
    }
    Ok(call.page(groups, |g| g.id.as_str(), limit, |g| wire::group(base, state, g, stats)))
}

/// `GET /groups/{groupId}`.
pub fn get_group(call: &Call, state: &mut OktaState) -> Outcome {
    let id = call.param("groupId");
    let group = state.group(id).ok_or_else(|| not_found(&format!("{id} (UserGroup)")))?;
    ok(wire::group(&call.base_url, state, group, false))
}

/// `GET /groups/{groupId}/users`: the direct members, whole users, paged.
pub fn group_users(call: &Call, state: &mut OktaState) -> Outcome {
    let id = call.param("groupId");
    let group = state.group(id).ok_or_else(|| not_found(&format!("{id} (UserGroup)")))?;
    let limit = call.limit(MEMBERS_MAX, MEMBERS_MAX, true)?;
    let members = state.members(group);
    let base = call.base_url.as_str();
    Ok(call.page(members, |u| u.id.as_str(), limit, |u| wire::user(base, u)))
}
