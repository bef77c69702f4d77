//! Listing `/Users` and `/Groups`: filter, sort, `startIndex`/`count` paging and the
//! projection, consulting the profile for what it filters on, whether it sorts and its
//! page cap.

use serde_json::{json, Value};

use super::clip;
use crate::sandbox::scim::filter::{parse_filter, AttrPath, CompareOp, Filter};
use crate::sandbox::scim::profile::{FilterSupport, ScimProfile};
use crate::sandbox::scim::schema::{Attr, Scope};
use crate::sandbox::scim::wire::{sort_key, Call, Outcome, Reply, ScimError, LIST_SCHEMA};

/// A page of `items`. Only a filter or a sort needs every item as JSON; otherwise only
/// the page's items are rendered, so reading a large directory page by page costs each
/// request its page, not the whole directory.
pub(super) fn list<T>(
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
        Filter::Compare(AttrPath { attr, filter: None, sub: None }, CompareOp::Eq, Value::String(_))
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
