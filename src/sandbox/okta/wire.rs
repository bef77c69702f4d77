//! The emulator's side of HTTP: the request as a handler reads it (`Call`), its answers
//! (`Reply`, with the `Link` header Okta pages by), Okta's error body
//! `{errorCode, errorSummary, errorLink, errorId, errorCauses}`, and users and groups as
//! the description's `User` and `Group` schemas shape them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::state::{OktaGroup, OktaState, OktaUser};
use crate::sandbox::host::Incoming;

/// What a handler answers: a status, a JSON body and the `Link` header's entries.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub links: Vec<String>,
}

/// A handler's result: `Err` is an error reply, so that `?` ends a handler early.
pub type Outcome = Result<Reply, Reply>;

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for link in self.links {
            if let Ok(value) = HeaderValue::from_str(&link) {
                headers.append(header::LINK, value);
            }
        }
        response
    }
}

pub fn ok(body: Value) -> Outcome {
    Ok(Reply {
        status: StatusCode::OK,
        body,
        links: Vec::new(),
    })
}

/// Okta's error body. `errorLink` repeats the code, as Okta's does; `errorId` is unique
/// per answer.
pub fn error(status: StatusCode, code: &str, summary: impl Into<String>, causes: &[String]) -> Reply {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Reply {
        status,
        body: json!({
            "errorCode": code,
            "errorSummary": summary.into(),
            "errorLink": code,
            "errorId": format!("oae{n:019}"),
            "errorCauses": causes.iter().map(|c| json!({"errorSummary": c})).collect::<Vec<_>>(),
        }),
        links: Vec::new(),
    }
}

/// 400 for a `search` or `filter` Okta cannot read (`E0000031`).
pub fn bad_search(why: String) -> Reply {
    error(StatusCode::BAD_REQUEST, "E0000031", "Invalid search criteria.", &[why])
}

/// 400 for a parameter out of range (`E0000001`).
pub fn invalid(why: String) -> Reply {
    error(
        StatusCode::BAD_REQUEST,
        "E0000001",
        format!("Api validation failed: {why}"),
        &[why],
    )
}

/// 404 (`E0000007`) as the description's example words it.
pub fn not_found(what: &str) -> Reply {
    error(
        StatusCode::NOT_FOUND,
        "E0000007",
        format!("Not found: Resource not found: {what}"),
        &[],
    )
}

/// 401 (`E0000011`): a missing, wrong or Bearer credential on an SSWS org.
pub fn invalid_token() -> Reply {
    error(StatusCode::UNAUTHORIZED, "E0000011", "Invalid token provided", &[])
}

/// 429 (`E0000047`), the description's example.
pub fn rate_limited() -> Reply {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "E0000047",
        "API call exceeded rate limit due to too many requests.",
        &[],
    )
}

/// A request as a handler reads it.
pub struct Call {
    params: HashMap<String, String>,
    pub query: Vec<(String, String)>,
    /// `http://HOST/api/v1`, for links.
    pub base_url: String,
    /// The request's path under the mount (`/users`), for its `Link` entries.
    pub path: String,
}

impl From<Incoming> for Call {
    fn from(incoming: Incoming) -> Self {
        let mut path = incoming.route.to_owned();
        for (name, value) in &incoming.params {
            path = path.replace(&format!("{{{name}}}"), &crate::http::path_segment(value));
        }
        Call {
            params: incoming.params,
            query: incoming.query,
            base_url: incoming.base_url,
            path,
        }
    }
}

impl Call {
    /// A path parameter the route names (always present when the route matched).
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }

    /// The last value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `limit`: `default` when absent; at least 1; above `max` either refused (a declared
    /// maximum) or served at `max` (`serve_at_most`).
    pub fn limit(&self, default: usize, max: usize, serve_at_most: bool) -> Result<usize, Reply> {
        let Some(text) = self.query("limit") else {
            return Ok(default.min(max));
        };
        let limit: i64 = text
            .trim()
            .parse()
            .map_err(|_| invalid(format!("limit: `{text}` is not a number")))?;
        if limit < 1 {
            return Err(invalid(format!("limit: {limit} is less than 1")));
        }
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        match limit > max {
            true if serve_at_most => Ok(max),
            true => Err(invalid(format!("limit: {limit} is more than {max}"))),
            false => Ok(limit),
        }
    }

    /// The page of `items` (in id order) after the `after` cursor, at most `limit`, with
    /// `rel="self"` and, when more follow, `rel="next"` links carrying the request's own
    /// parameters with the new cursor (the cursor is the last id served: opaque to
    /// clients, which follow the link).
    pub fn page<T>(&self, items: Vec<T>, id: fn(&T) -> &str, limit: usize, render: impl Fn(&T) -> Value) -> Reply {
        let after = self.query("after").unwrap_or_default().to_owned();
        let rest: Vec<T> = items
            .into_iter()
            .filter(|i| after.is_empty() || id(i) > after.as_str())
            .collect();
        let more = rest.len() > limit;
        let page: Vec<Value> = rest.iter().take(limit).map(&render).collect();
        let mut links = vec![format!("<{}>; rel=\"self\"", self.url(None, limit))];
        if more {
            if let Some(last) = rest.get(limit.saturating_sub(1)) {
                links.push(format!("<{}>; rel=\"next\"", self.url(Some(id(last)), limit)));
            }
        }
        Reply {
            status: StatusCode::OK,
            body: Value::Array(page),
            links,
        }
    }

    /// This request's URL with `after` set (or dropped) and `limit` as served.
    fn url(&self, after: Option<&str>, limit: usize) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in &self.query {
            if name != "after" && name != "limit" {
                query.append_pair(name, value);
            }
        }
        if let Some(after) = after {
            query.append_pair("after", after);
        }
        query.append_pair("limit", &limit.to_string());
        format!("{}{}?{}", self.base_url, self.path, query.finish())
    }
}

/// When every emulated object was made: the state holds no history.
const CREATED: &str = "2024-01-02T09:00:00.000Z";

/// A user as `User`: profile values as the state holds them, null ones left out where
/// the schema does not allow null.
pub fn user(base: &str, u: &OktaUser) -> Value {
    let profile: Map<String, Value> = u
        .profile
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let activated = !matches!(u.status.as_str(), "STAGED" | "PROVISIONED");
    json!({
        "id": u.id,
        "status": u.status,
        "created": CREATED,
        "activated": if activated { Value::from(CREATED) } else { Value::Null },
        "statusChanged": CREATED,
        "lastLogin": Value::Null,
        "lastUpdated": CREATED,
        "passwordChanged": Value::Null,
        "type": {"id": "oty1emulatorusertype"},
        "profile": profile,
        "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
        "_links": {"self": {"href": format!("{base}/users/{}", u.id)}},
    })
}

/// A group as `Group`; `stats` adds `_embedded.stats.usersCount` (`expand=stats`).
pub fn group(base: &str, state: &OktaState, g: &OktaGroup, stats: bool) -> Value {
    let mut profile = json!({"name": g.name});
    if let Some(description) = &g.description {
        profile["description"] = Value::from(description.clone());
    }
    let mut value = json!({
        "id": g.id,
        "created": CREATED,
        "lastUpdated": CREATED,
        "lastMembershipUpdated": CREATED,
        "objectClass": ["okta:user_group"],
        "type": g.kind,
        "profile": profile,
        "_links": {
            "users": {"href": format!("{base}/groups/{}/users", g.id)},
            "apps": {"href": format!("{base}/groups/{}/apps", g.id)},
        },
    });
    if stats {
        value["_embedded"] = json!({"stats": {"usersCount": state.members(g).len()}});
    }
    value
}
