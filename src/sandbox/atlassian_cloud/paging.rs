//! Paging, both ways the two APIs do it: Bitbucket's numbered pages
//! (`{size, page, pagelen, next, previous, values}`, `next` an absolute URL back to this
//! server) and the Organizations API's cursors (`{data, links: {self, prev, next}}`,
//! `next` an opaque value to send back as `cursor`).

use base64::Engine as _;
use serde_json::{json, Value};

use super::wire::{bb_bad, org_error, Call, Reply};

/// Bitbucket's page sizes: "pagelen" at least 10 and at most 100; a value outside is
/// refused with a 400, as the vendor refuses a page larger than its cap.
pub const MIN_PAGELEN: usize = 10;
pub const MAX_PAGELEN: usize = 100;
pub const DEFAULT_PAGELEN: usize = 10;

/// One page of `items` as the request's `page` and `pagelen` ask.
pub fn bitbucket(call: &Call, items: Vec<Value>) -> Result<Value, Reply> {
    let number = |name: &str, default: usize| -> Result<usize, Reply> {
        match call.query(name) {
            None => Ok(default),
            Some(text) => text
                .parse::<usize>()
                .map_err(|_| bb_bad(format!("Invalid {name}: `{text}` is not a number"))),
        }
    };
    let pagelen = number("pagelen", DEFAULT_PAGELEN)?;
    if !(MIN_PAGELEN..=MAX_PAGELEN).contains(&pagelen) {
        return Err(bb_bad(format!(
            "Invalid pagelen: {pagelen}; it must be between {MIN_PAGELEN} and {MAX_PAGELEN}"
        )));
    }
    let page = number("page", 1)?;
    if page == 0 {
        return Err(bb_bad("Invalid page: pages are numbered from 1"));
    }
    let size = items.len();
    let start = (page - 1).saturating_mul(pagelen);
    let values: Vec<Value> = items.into_iter().skip(start).take(pagelen).collect();
    let mut body = json!({"size": size, "page": page, "pagelen": pagelen, "values": values});
    if start.saturating_add(pagelen) < size {
        body["next"] = Value::String(page_url(call, page + 1));
    }
    if page > 1 {
        body["previous"] = Value::String(page_url(call, page - 1));
    }
    Ok(body)
}

/// This request's URL on page `page`, its other query parameters kept.
fn page_url(call: &Call, page: usize) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in &call.query {
        if name != "page" {
            query.append_pair(name, value);
        }
    }
    query.append_pair("page", &page.to_string());
    format!("{}{}?{}", call.base_url, call.path(), query.finish())
}

/// The Organizations API's page limits: `limit` 1 to 100.
pub const MAX_LIMIT: usize = 100;

/// A cursor page of `items`: `cursor` (from the request) says where it starts, `limit`
/// how many; `links.next` is the cursor of the next page.
pub fn cursor(items: Vec<Value>, cursor: Option<&str>, limit: Option<i64>, default: usize) -> Result<Value, Reply> {
    let limit = match limit {
        None => default,
        Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(org_error(
                axum::http::StatusCode::BAD_REQUEST,
                "ADMIN-400",
                "Bad Request",
                format!("limit must be between 1 and {MAX_LIMIT}, not {n}"),
            ))
        }
    };
    let start = match cursor {
        None => 0,
        Some(text) => decode(text).ok_or_else(|| {
            org_error(
                axum::http::StatusCode::BAD_REQUEST,
                "ADMIN-400-1",
                "Invalid page cursor",
                "The page cursor is not valid.",
            )
        })?,
    };
    let more = start.saturating_add(limit) < items.len();
    let data: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    let mut links = json!({"self": encode(start)});
    if more {
        links["next"] = Value::String(encode(start + limit));
    }
    if start > 0 {
        links["prev"] = Value::String(encode(start.saturating_sub(limit)));
    }
    Ok(json!({"data": data, "links": links}))
}

fn encode(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn decode(cursor: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix("offset:")?.parse().ok()
}
