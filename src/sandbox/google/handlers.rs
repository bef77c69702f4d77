//! The Directory API operations the emulator serves: `users.list`, `groups.get` and
//! `members.list` (with `includeDerivedMembership`), as the discovery document describes
//! them: page sizes and their maxima, `pageToken`/`nextPageToken`, the lists' `kind`
//! and `etag`, and empty lists left out of the answer, as Google leaves them out.

use std::collections::BTreeSet;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::state::{GoogleState, Group, User};
use super::wire::{bad_request, not_authorized, not_found, ok, Call, Outcome, Reply};

/// `users.list`: default 100, at most 500 (the description's `maximum`).
const USERS_DEFAULT: usize = 100;
const USERS_MAX: usize = 500;
/// `members.list`: default 200, "Max allowed value is 200".
const MEMBERS_DEFAULT: usize = 200;
const MEMBERS_MAX: usize = 200;

/// An opaque page token naming the list and where its next page starts.
fn page_token(list: &str, offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{list}:{offset}"))
}

/// Where the page a token names starts; a token of another list, or not one of ours,
/// is refused as Google refuses a bad token.
fn page_start(call: &Call, list: &str) -> Result<usize, Reply> {
    let Some(token) = call.query("pageToken") else {
        return Ok(0);
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|t| String::from_utf8(t).ok())
        .and_then(|t| t.strip_prefix(&format!("{list}:")).and_then(|o| o.parse().ok()))
        .ok_or_else(|| bad_request("Invalid page token."))
}

fn etag(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(seed.as_bytes());
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// A page of `items` from `start`, with the token of the next page if there is one.
fn page<T: Clone>(items: &[T], start: usize, size: usize) -> (Vec<T>, Option<usize>) {
    let end = start.saturating_add(size).min(items.len());
    let page = items.get(start..end).map(<[T]>::to_vec).unwrap_or_default();
    (page, (end < items.len()).then_some(end))
}

/// `GET admin/directory/v1/users`.
pub fn list_users(call: &Call, state: &mut GoogleState) -> Outcome {
    call.only(&[
        "customer",
        "domain",
        "maxResults",
        "pageToken",
        "projection",
        "viewType",
    ])?;
    let size = call.max_results(USERS_DEFAULT, USERS_MAX)?;
    match call.query("projection") {
        None | Some("basic" | "full") => {}
        // `custom` needs `customFieldMask`, and the state holds no custom schemas.
        Some(other) => return Err(bad_request(&format!("Invalid value at 'projection' ({other})"))),
    }
    if call.query("viewType").is_some_and(|v| v != "admin_view") {
        return Err(bad_request("The sandbox serves only viewType=admin_view."));
    }
    // Either `customer` or `domain` is required; a customer or domain that is not the
    // account's is refused as not the admin's to read.
    let users: Vec<&User> = match (call.query("customer"), call.query("domain")) {
        (Some(customer), _) => {
            if customer != "my_customer" && customer != state.customer_id {
                return Err(not_authorized());
            }
            state.users.iter().collect()
        }
        (None, Some(domain)) => {
            let domain = domain.to_lowercase();
            if !state.domains.iter().any(|d| d.to_lowercase() == domain) {
                return Err(not_authorized());
            }
            state
                .users
                .iter()
                .filter(|u| {
                    u.primary_email
                        .rsplit_once('@')
                        .is_some_and(|(_, d)| d.to_lowercase() == domain)
                })
                .collect()
        }
        (None, None) => return Err(bad_request("Bad Request")),
    };
    let start = page_start(call, "users")?;
    let (users, next) = page(&users, start, size);
    let mut body = json!({"kind": "admin#directory#users", "etag": etag(&format!("users:{start}"))});
    if !users.is_empty() {
        body["users"] = Value::Array(users.iter().map(|u| user(u, &state.customer_id)).collect());
    }
    if let Some(next) = next {
        body["nextPageToken"] = Value::from(page_token("users", next));
    }
    ok(body)
}

/// A person as `users.list` shows them (the fields the state holds, and fixed values for
/// the rest of what Google always sends).
fn user(u: &User, customer_id: &str) -> Value {
    let mut v = json!({
        "kind": "admin#directory#user",
        "id": u.id,
        "etag": etag(&u.id),
        "primaryEmail": u.primary_email,
        "name": {
            "givenName": u.given_name,
            "familyName": u.family_name,
            "fullName": format!("{} {}", u.given_name, u.family_name),
        },
        "isAdmin": u.is_admin,
        "isDelegatedAdmin": false,
        "lastLoginTime": "1970-01-01T00:00:00.000Z",
        "creationTime": "2024-01-15T09:00:00.000Z",
        "agreedToTerms": true,
        "suspended": u.suspended,
        "archived": u.archived,
        "changePasswordAtNextLogin": false,
        "ipWhitelisted": false,
        "emails": [{"address": u.primary_email, "primary": true}],
        "customerId": customer_id,
        "orgUnitPath": u.org_unit_path,
        "isMailboxSetup": true,
        "isEnrolledIn2Sv": false,
        "isEnforcedIn2Sv": false,
        "includeInGlobalAddressList": true,
    });
    if u.suspended {
        v["suspensionReason"] = Value::from("ADMIN");
    }
    if !u.aliases.is_empty() {
        v["aliases"] = json!(u.aliases);
    }
    if u.department.is_some() || u.title.is_some() {
        let mut org = Map::new();
        if let Some(title) = &u.title {
            org.insert("title".to_owned(), Value::from(title.as_str()));
        }
        if let Some(department) = &u.department {
            org.insert("department".to_owned(), Value::from(department.as_str()));
        }
        org.insert("primary".to_owned(), Value::Bool(true));
        org.insert("customType".to_owned(), Value::from(""));
        v["organizations"] = Value::Array(vec![Value::Object(org)]);
    }
    if let Some(employee_id) = &u.employee_id {
        v["externalIds"] = json!([{"value": employee_id, "type": "organization"}]);
    }
    v
}

fn group_of<'a>(call: &Call, state: &'a GoogleState) -> Result<&'a Group, Reply> {
    state.group(call.param("groupKey")).ok_or_else(|| not_found("groupKey"))
}

/// `GET admin/directory/v1/groups/{groupKey}`.
pub fn get_group(call: &Call, state: &mut GoogleState) -> Outcome {
    call.only(&[])?;
    let group = group_of(call, state)?;
    let mut body = json!({
        "kind": "admin#directory#group",
        "id": group.id,
        "etag": etag(&group.id),
        "email": group.email,
        "name": group.name,
        "directMembersCount": group.members.len().to_string(),
        "description": group.description,
        "adminCreated": true,
    });
    if !group.aliases.is_empty() {
        body["aliases"] = json!(group.aliases);
    }
    ok(body)
}

/// `GET admin/directory/v1/groups/{groupKey}/members`.
pub fn list_members(call: &Call, state: &mut GoogleState) -> Outcome {
    call.only(&["includeDerivedMembership", "maxResults", "pageToken", "roles"])?;
    let size = call.max_results(MEMBERS_DEFAULT, MEMBERS_MAX)?;
    let derived = match call.query("includeDerivedMembership") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(bad_request(&format!("Invalid value '{other}'. Expected a boolean."))),
    };
    let roles: Option<BTreeSet<&str>> = match call.query("roles") {
        None => None,
        Some(roles) => {
            let roles: BTreeSet<&str> = roles.split(',').map(str::trim).collect();
            if roles.iter().any(|r| !["OWNER", "MANAGER", "MEMBER"].contains(r)) {
                return Err(bad_request("Invalid Input: roles"));
            }
            Some(roles)
        }
    };
    let group = group_of(call, state)?;
    let members: Vec<Value> = members(group, state, derived)
        .into_iter()
        .filter(|m| {
            roles.as_ref().is_none_or(|r| {
                m.get("role")
                    .and_then(Value::as_str)
                    .is_some_and(|role| r.contains(role))
            })
        })
        .collect();
    let list = format!("members-{}", group.id);
    let start = page_start(call, &list)?;
    let (page, next) = page(&members, start, size);
    let mut body = json!({"kind": "admin#directory#members", "etag": etag(&format!("{list}:{start}"))});
    if !page.is_empty() {
        body["members"] = Value::Array(page);
    }
    if let Some(next) = next {
        body["nextPageToken"] = Value::from(page_token(&list, next));
    }
    ok(body)
}

/// A group's members, each once: its direct ones and, when `derived`, those of its nested
/// groups at any depth (as `MEMBER`), nested groups themselves included.
fn members(group: &Group, state: &GoogleState, derived: bool) -> Vec<Value> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut queue = vec![(group, true)];
    while let Some((group, direct)) = queue.pop() {
        for m in &group.members {
            let kind = m.kind.as_deref().unwrap_or("USER");
            let email = m.email.as_deref().unwrap_or("");
            let (id, status, nested) = match kind {
                "CUSTOMER" => (state.customer_id.clone(), None, None),
                "GROUP" => match state.group(email) {
                    Some(g) => (g.id.clone(), Some("ACTIVE"), Some(g)),
                    None => continue,
                },
                _ => match state.user(email) {
                    Some(u) => (
                        u.id.clone(),
                        Some(if u.suspended { "SUSPENDED" } else { "ACTIVE" }),
                        None,
                    ),
                    // Someone from outside the account: Google shows its own id for them.
                    None => (outside_id(email), Some("ACTIVE"), None),
                },
            };
            if !seen.insert(id.clone()) {
                continue;
            }
            let role = if direct { m.role.as_str() } else { "MEMBER" };
            let mut v = json!({
                "kind": "admin#directory#member",
                "etag": etag(&format!("{}:{id}", group.id)),
                "id": id,
                "role": role,
                "type": kind,
            });
            if let Some(status) = status {
                v["status"] = Value::from(status);
            }
            if kind != "CUSTOMER" {
                v["email"] = Value::from(email);
            }
            out.push(v);
            if let (true, Some(nested)) = (derived, nested) {
                queue.push((nested, false));
            }
        }
    }
    out
}

/// A stable numeric id for an address outside the account.
fn outside_id(email: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(email.to_lowercase().as_bytes());
    let n = digest.iter().take(8).fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    format!("9{n:020}")
}
