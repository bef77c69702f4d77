//! The operations: the identity platform's token endpoint (client credentials) and the
//! Graph reads of users, groups and memberships. Each checks the request fully before
//! answering, in Graph's words where it refuses.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use axum::http::{header, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{json, Map, Value};

use super::state::{DirectoryGroup, EntraState};
use super::wire::{bad_request, graph_error, identity_error, page, Call, Outcome, Reply};

/// The one scope the emulator grants: Graph's, every permission the app holds.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// The properties of `microsoft.graph.user` Graph returns when `$select` names none.
const USER_DEFAULT: &[&str] = &[
    "id",
    "displayName",
    "givenName",
    "surname",
    "jobTitle",
    "mail",
    "officeLocation",
    "preferredLanguage",
    "userPrincipalName",
];

/// Every user property the emulator knows (its state's fields).
const USER_PROPERTIES: &[&str] = &[
    "id",
    "userPrincipalName",
    "displayName",
    "accountEnabled",
    "mail",
    "department",
    "givenName",
    "surname",
    "jobTitle",
    "employeeId",
    "employeeType",
    "companyName",
    "officeLocation",
    "city",
    "country",
    "usageLocation",
    "preferredLanguage",
    "mailNickname",
    "onPremisesSamAccountName",
    "userType",
];

const GROUP_PROPERTIES: &[&str] = &[
    "id",
    "displayName",
    "description",
    "mailNickname",
    "securityEnabled",
    "mailEnabled",
    "groupTypes",
];

/// `POST /{tenant}/oauth2/v2.0/token`, client credentials, checked in this order: the
/// tenant, the form, every field it needs, the grant type, the client id, the secret, the
/// scope. The client authenticates with `client_id` and `client_secret` in the form, or
/// with HTTP Basic credentials (then `client_id` in the form is optional and must agree).
///
/// The answers are the identity platform's (`AADSTS…` codes as Microsoft's clients and
/// error reference quote them); the order it checks in is not documented, so this one
/// follows RFC 6749 §4.4.2 (authenticate the client, then look at what it asks for).
pub fn token(call: &Call, state: &mut EntraState) -> Outcome {
    let tenant = call.param("tenant");
    if !state.is_tenant(tenant) {
        return Err(identity_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
        ));
    }
    let form_type = call
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    // Without the form's media type the identity platform reads no body at all: the first
    // field it misses is the grant type.
    let form: Vec<(String, String)> = if form_type {
        url::form_urlencoded::parse(&call.body).into_owned().collect()
    } else {
        Vec::new()
    };
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    // Basic credentials, when the Authorization header is Basic; any other scheme (a
    // Bearer token) is no client credential and is not read.
    let basic = call
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(super::basic_credentials);
    if basic.is_some() && field("client_secret").is_some() {
        // RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in
        // each request." What the identity platform answers is not documented.
        return Err(identity_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request carries client credentials twice: in the Authorization header and as client_secret in the body. Use one authentication method.",
        ));
    }
    let client_id = match (&basic, field("client_id")) {
        (Some((id, _)), Some(form_id)) if !id.eq_ignore_ascii_case(form_id) => {
            return Err(identity_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                // Not documented by Microsoft either: worded plainly, with no AADSTS code.
                "The client_id in the request body is not the client id of the Authorization header.",
            ));
        }
        (Some((id, _)), _) => Some(id.as_str()),
        (None, id) => id,
    };
    for (name, value) in [
        ("grant_type", field("grant_type")),
        ("client_id", client_id),
        ("scope", field("scope")),
    ] {
        if value.is_none() {
            return Err(identity_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("AADSTS900144: The request body must contain the following parameter: '{name}'."),
            ));
        }
    }
    let grant_type = field("grant_type").unwrap_or_default();
    if grant_type != "client_credentials" {
        return Err(identity_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("AADSTS70003: The app requested an unsupported grant type '{grant_type}'."),
        ));
    }
    let client_id = client_id.unwrap_or_default();
    if !client_id.eq_ignore_ascii_case(&state.client_id) {
        return Err(identity_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        ));
    }
    let secret = match &basic {
        Some((_, secret)) => Some(secret.as_str()).filter(|s| !s.is_empty()),
        None => field("client_secret"),
    };
    let Some(secret) = secret else {
        return Err(identity_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };
    // With no secret set (an emulator started without one), nothing matches.
    let known = state
        .client_secret
        .as_ref()
        .is_some_and(|known| !known.expose_secret().is_empty() && known.expose_secret() == secret);
    if !known {
        return Err(super::invalid_client());
    }
    let scope = field("scope").unwrap_or_default();
    if scope != GRAPH_SCOPE {
        return Err(identity_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            format!(
                "AADSTS1002012: The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    }
    let access_token = format!(
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{}",
        crate::http::random_hex(32).map_err(|e| identity_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            e.to_string()
        ))?
    );
    let now = Instant::now();
    state.issued.retain(|_, expires| *expires > now);
    state.issued.insert(
        access_token.clone(),
        now + Duration::from_secs(state.token_lifetime_secs),
    );
    Ok(Reply::json(
        StatusCode::OK,
        json!({
            "token_type": "Bearer",
            "expires_in": state.token_lifetime_secs,
            "ext_expires_in": state.token_lifetime_secs,
            "access_token": access_token,
        }),
    ))
}

/// `GET /v1.0/users`.
pub fn list_users(call: &Call, state: &mut EntraState) -> Outcome {
    refuse_unsupported(call, &["$filter"])?;
    let select = selection(call, USER_PROPERTIES, "microsoft.graph.user")?;
    let items = state
        .users
        .iter()
        .map(|u| project(&object(u), select.as_deref().unwrap_or(USER_DEFAULT)))
        .collect();
    page(call, "users", items)
}

/// `GET /v1.0/groups`, with the `$filter` forms `id`/`displayName` `eq '…'` and `in
/// ('…', …)`, joined by `or`.
pub fn list_groups(call: &Call, state: &mut EntraState) -> Outcome {
    refuse_unsupported(call, &[])?;
    let select = selection(call, GROUP_PROPERTIES, "microsoft.graph.group")?;
    let filter = match call.query("$filter") {
        None => None,
        Some(text) => Some(parse_filter(text).map_err(|message| bad_request("Request_UnsupportedQuery", message))?),
    };
    let items = state
        .groups
        .iter()
        .filter(|g| filter.as_ref().is_none_or(|clauses| matches(g, clauses)))
        .map(|g| project(&group_object(g), select.as_deref().unwrap_or(GROUP_PROPERTIES)))
        .collect();
    page(call, "groups", items)
}

/// `GET /v1.0/groups/{group-id}`.
pub fn get_group(call: &Call, state: &mut EntraState) -> Outcome {
    let group = find_group(call, state)?;
    let select = selection(call, GROUP_PROPERTIES, "microsoft.graph.group")?;
    let mut body = project(&group_object(group), select.as_deref().unwrap_or(GROUP_PROPERTIES));
    body["@odata.context"] = Value::String(format!("{}/v1.0/$metadata#groups/$entity", call.base_url));
    Ok(Reply::json(StatusCode::OK, body))
}

/// `GET /v1.0/groups/{group-id}/members`: direct members, of every type.
pub fn members(call: &Call, state: &mut EntraState) -> Outcome {
    refuse_unsupported(call, &["$filter"])?;
    let group = find_group(call, state)?;
    let select = directory_selection(call)?;
    let items = group
        .members
        .iter()
        .filter_map(|id| directory_object(state, id, select.as_deref()))
        .collect();
    page(call, "directoryObjects", items)
}

/// `GET /v1.0/groups/{group-id}/transitiveMembers`: every member, nested groups walked
/// (each nested group listed too, as Graph does), each object once.
pub fn transitive_members(call: &Call, state: &mut EntraState) -> Outcome {
    refuse_unsupported(call, &["$filter"])?;
    let group = find_group(call, state)?;
    let select = directory_selection(call)?;
    let mut seen: HashSet<String> = HashSet::from([group.id.to_lowercase()]);
    let mut queue: Vec<String> = group.members.clone();
    let mut items = Vec::new();
    let mut at = 0;
    while at < queue.len() {
        let id = queue[at].clone();
        at += 1;
        if !seen.insert(id.to_lowercase()) {
            continue;
        }
        if let Some(nested) = state.group(&id) {
            queue.extend(nested.members.iter().cloned());
        }
        if let Some(item) = directory_object(state, &id, select.as_deref()) {
            items.push(item);
        }
    }
    page(call, "directoryObjects", items)
}

fn find_group<'a>(call: &Call, state: &'a EntraState) -> Result<&'a DirectoryGroup, Reply> {
    let id = call.param("group-id");
    state.group(id).ok_or_else(|| {
        graph_error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
        )
    })
}

/// Query options the emulator does not serve on this operation: refused rather than
/// ignored, so no client is told it filtered what it did not.
fn refuse_unsupported(call: &Call, also: &[&str]) -> Result<(), Reply> {
    for (name, _) in &call.query {
        if ["$search", "$orderby", "$count", "$expand", "$skip"].contains(&name.as_str())
            || also.contains(&name.as_str())
        {
            return Err(bad_request(
                "Request_UnsupportedQuery",
                format!("The query option '{name}' is not supported on this request by the sandbox."),
            ));
        }
    }
    Ok(())
}

/// The `$select` list, each property known to `type_name`, or `None` without one.
fn selection(call: &Call, known: &[&str], type_name: &str) -> Result<Option<Vec<&'static str>>, Reply> {
    let Some(text) = call.query("$select") else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for name in text.split(',').map(str::trim) {
        match known.iter().find(|k| **k == name) {
            Some(known) => out.push(lookup(known)),
            None => {
                return Err(bad_request(
                    "Request_BadRequest",
                    format!("Could not find a property named '{name}' on type '{type_name}'."),
                ))
            }
        }
    }
    Ok(Some(out))
}

/// The `&'static str` of a known property name.
fn lookup(name: &str) -> &'static str {
    USER_PROPERTIES
        .iter()
        .chain(GROUP_PROPERTIES)
        .find(|k| **k == name)
        .copied()
        .unwrap_or("id")
}

/// `$select` on a list of directory objects: each property must be one of a user's or a
/// group's; each object answers those its type has.
fn directory_selection(call: &Call) -> Result<Option<Vec<&'static str>>, Reply> {
    let known: Vec<&str> = USER_PROPERTIES.iter().chain(GROUP_PROPERTIES).copied().collect();
    selection(call, &known, "microsoft.graph.directoryObject")
}

fn object(value: &impl serde::Serialize) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

fn group_object(group: &DirectoryGroup) -> Map<String, Value> {
    let mut map = object(group);
    map.remove("members");
    map
}

/// The selected properties of an object (`id` always), a property the object lacks as
/// `null`, as Graph answers.
fn project(object: &Map<String, Value>, select: &[&str]) -> Value {
    let mut out = Map::new();
    if let Some(id) = object.get("id") {
        out.insert("id".to_owned(), id.clone());
    }
    for name in select {
        out.insert((*name).to_owned(), object.get(*name).cloned().unwrap_or(Value::Null));
    }
    Value::Object(out)
}

/// A member as a directory object: its `@odata.type`, then what `$select` names of the
/// properties its type has (without `$select`, its type's default set).
fn directory_object(state: &EntraState, id: &str, select: Option<&[&str]>) -> Option<Value> {
    let item = if let Some(user) = state.users.iter().find(|u| u.id.eq_ignore_ascii_case(id)) {
        let chosen: Vec<&str> = select
            .unwrap_or(USER_DEFAULT)
            .iter()
            .copied()
            .filter(|p| USER_PROPERTIES.contains(p))
            .collect();
        let mut item = project(&object(user), &chosen);
        item["@odata.type"] = json!("#microsoft.graph.user");
        item
    } else if let Some(group) = state.group(id) {
        let chosen: Vec<&str> = select
            .unwrap_or(GROUP_PROPERTIES)
            .iter()
            .copied()
            .filter(|p| GROUP_PROPERTIES.contains(p))
            .collect();
        let mut item = project(&group_object(group), &chosen);
        item["@odata.type"] = json!("#microsoft.graph.group");
        item
    } else {
        let other = state.objects.iter().find(|o| o.id.eq_ignore_ascii_case(id))?;
        let mut item = json!({"id": other.id});
        if select.is_none_or(|s| s.contains(&"displayName")) {
            item["displayName"] = json!(other.display_name);
        }
        item["@odata.type"] = json!(format!("#microsoft.graph.{}", other.kind));
        item
    };
    Some(item)
}

/// One clause of a group `$filter`: a property and the values it may equal.
#[derive(Debug, PartialEq)]
struct Clause {
    property: String,
    values: Vec<String>,
}

/// The values in one filter, as Graph bounds an `in` list.
const MAX_FILTER_VALUES: usize = 15;

/// `prop eq 'v'` and `prop in ('v1','v2')` on `id` and `displayName`, joined by `or`.
fn parse_filter(text: &str) -> Result<Vec<Clause>, String> {
    let mut rest = text.trim();
    let mut clauses = Vec::new();
    loop {
        let end = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
        let (property, after) = rest.split_at(end);
        if property != "id" && property != "displayName" {
            return Err(format!(
                "Unsupported or invalid query filter clause specified for property '{property}' of resource 'Group'."
            ));
        }
        let after = after.trim_start();
        let mut values = Vec::new();
        rest = if let Some(after) = after.strip_prefix("eq ") {
            let (value, after) = literal(after.trim_start())?;
            values.push(value);
            after
        } else if let Some(after) = after.strip_prefix("in ") {
            let mut after = after
                .trim_start()
                .strip_prefix('(')
                .ok_or("Syntax error: '(' expected after 'in'.")?;
            loop {
                let (value, next) = literal(after.trim_start())?;
                values.push(value);
                let next = next.trim_start();
                if let Some(next) = next.strip_prefix(',') {
                    after = next;
                } else if let Some(next) = next.strip_prefix(')') {
                    break next;
                } else {
                    return Err("Syntax error: ',' or ')' expected in an 'in' list.".to_owned());
                }
            }
        } else {
            return Err(format!(
                "Unsupported query: only 'eq' and 'in' are served on '{property}'."
            ));
        };
        clauses.push(Clause {
            property: property.to_owned(),
            values,
        });
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        rest = rest
            .strip_prefix("or ")
            .ok_or_else(|| format!("Syntax error at '{rest}'."))?
            .trim_start();
    }
    let count: usize = clauses.iter().map(|c| c.values.len()).sum();
    if count > MAX_FILTER_VALUES {
        return Err(format!(
            "Too many values in the filter: {count}; at most {MAX_FILTER_VALUES} are allowed."
        ));
    }
    Ok(clauses)
}

/// A quoted OData string (`''` is a quote), and what follows it.
fn literal(text: &str) -> Result<(String, &str), String> {
    let mut chars = text.char_indices();
    if !matches!(chars.next(), Some((_, '\''))) {
        return Err(format!("Syntax error: a quoted string expected at '{text}'."));
    }
    let mut value = String::new();
    let mut quote = false;
    for (at, c) in chars {
        if quote {
            if c == '\'' {
                value.push('\'');
                quote = false;
                continue;
            }
            return Ok((value, &text[at..]));
        }
        if c == '\'' {
            quote = true;
        } else {
            value.push(c);
        }
    }
    if quote {
        Ok((value, ""))
    } else {
        Err("Syntax error: unterminated string literal.".to_owned())
    }
}

fn matches(group: &DirectoryGroup, clauses: &[Clause]) -> bool {
    clauses.iter().any(|clause| {
        let have = if clause.property == "id" {
            &group.id
        } else {
            &group.display_name
        };
        // Graph compares both without regard to case.
        clause.values.iter().any(|v| v.eq_ignore_ascii_case(have))
    })
}

/// What a request costs in Graph's resource units (ENDPOINTS §8.2, from Microsoft's
/// throttling limits for identity and access): base by operation, `$select` −1,
/// `$expand` +1, `$top` under 20 −1, never below 1.
pub fn cost(call: &Call) -> u32 {
    let base: i32 = match call.route {
        "/v1.0/users" => 2,
        "/v1.0/groups/{group-id}/members" => 3,
        "/v1.0/groups/{group-id}/transitiveMembers" => 5,
        _ => 1,
    };
    let mut cost = base;
    if call.query("$select").is_some() {
        cost -= 1;
    }
    if call.query("$expand").is_some() {
        cost += 1;
    }
    if call
        .query("$top")
        .and_then(|t| t.parse::<u32>().ok())
        .is_some_and(|t| t < 20)
    {
        cost -= 1;
    }
    u32::try_from(cost.max(1)).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_as_graph_writes_them() {
        let clauses = parse_filter("id in ('a') or displayName in ('Eng''s', 'Ops')").unwrap();
        assert_eq!(clauses[1].values, ["Eng's", "Ops"]);
        assert_eq!(parse_filter("displayName eq 'x'").unwrap()[0].values, ["x"]);
        assert!(parse_filter("mail eq 'x'").is_err());
        assert!(parse_filter("displayName eq 'x").is_err());
        let many: Vec<String> = (0..16).map(|n| format!("'{n}'")).collect();
        assert!(parse_filter(&format!("displayName in ({})", many.join(","))).is_err());
    }
}
