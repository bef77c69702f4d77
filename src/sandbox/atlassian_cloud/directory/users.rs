//! Directory accounts: the search (`POST …/users/search`) and the deprecated list
//! (`GET …/users`), filtered by exact emails, account ids, groups and a search term.

use serde_json::Value;

use super::{directory, limit, query_limit, query_list, search_body, strings, unmodelled, user_json};
use crate::sandbox::atlassian_cloud::paging;
use crate::sandbox::atlassian_cloud::state::{CloudState, DirectoryUser};
use crate::sandbox::atlassian_cloud::wire::{ok, org_bad, Call, Outcome};

/// What a user list filters by.
#[derive(Default)]
struct Filter {
    emails: Option<Vec<String>>,
    account_ids: Option<Vec<String>>,
    group_ids: Option<Vec<String>>,
    search_term: Option<String>,
    /// The directory's `status` values wanted.
    status: Option<Vec<String>>,
}

impl Filter {
    fn keeps(&self, state: &CloudState, user: &DirectoryUser) -> bool {
        let emails = self
            .emails
            .as_ref()
            .is_none_or(|e| e.iter().any(|e| e.eq_ignore_ascii_case(&user.email)));
        let ids = self
            .account_ids
            .as_ref()
            .is_none_or(|ids| ids.contains(&user.account_id));
        let groups = self.group_ids.as_ref().is_none_or(|ids| {
            state
                .groups
                .iter()
                .any(|g| ids.contains(&g.id) && g.members.contains(&user.account_id))
        });
        let term = self.search_term.as_ref().is_none_or(|term| {
            let term = term.to_lowercase();
            [Some(&user.name), Some(&user.email), user.nickname.as_ref()]
                .into_iter()
                .flatten()
                .any(|text| text.to_lowercase().contains(&term))
        });
        let status = self
            .status
            .as_ref()
            .is_none_or(|wanted| wanted.iter().any(|s| s == user.status.as_str()));
        emails && ids && groups && term && status
    }
}

const SEARCH_FIELDS: &[&str] = &[
    "cursor",
    "limit",
    "accountIds",
    "directoryIds",
    "resourceIds",
    "groupIds",
    "mfaEnabled",
    "claimStatus",
    "status",
    "accountStatus",
    "membershipStatus",
    "roleIds",
    "emailDomains",
    "searchTerm",
    "emails",
    "expand",
    "sortBy",
];

/// Described filters the emulator does not model.
const UNMODELLED: &[&str] = &[
    "resourceIds",
    "roleIds",
    "mfaEnabled",
    "claimStatus",
    "accountStatus",
    "membershipStatus",
    "emailDomains",
];

const EXPAND: &[&str] = &["platformRoles", "counts.resources", "productAccess", "groups"];

/// `POST /v2/orgs/{orgId}/directories/{directoryId}/users/search`: `emails` (exact, at
/// most 100), `accountIds`, `groupIds`, `searchTerm`, `expand: ["groups"]`, `cursor` and
/// `limit` (default 50, at most 100).
pub fn search(call: &Call, state: &mut CloudState) -> Outcome {
    directory(call, state)?;
    let body = search_body(call, SEARCH_FIELDS)?;
    unmodelled(&body, UNMODELLED)?;
    let expand = strings(body.get("expand"), "expand", EXPAND.len())?.unwrap_or_default();
    if let Some(unknown) = expand.iter().find(|e| !EXPAND.contains(&e.as_str())) {
        return Err(org_bad(format!("expand: unknown value \"{unknown}\".")));
    }
    let filter = Filter {
        emails: strings(body.get("emails"), "emails", 100)?,
        account_ids: strings(body.get("accountIds"), "accountIds", 10)?,
        group_ids: strings(body.get("groupIds"), "groupIds", 10)?,
        search_term: body.get("searchTerm").and_then(Value::as_str).map(str::to_owned),
        status: strings(body.get("status"), "status", 4)?,
    };
    let groups = expand.iter().any(|e| e == "groups");
    let items = state
        .users
        .iter()
        .filter(|u| filter.keeps(state, u))
        .map(|u| user_json(state, u, groups))
        .collect();
    let cursor = body.get("cursor").and_then(Value::as_str);
    ok(paging::cursor(items, cursor, limit(body.get("limit"))?, 50)?)
}

/// `GET /v2/orgs/{orgId}/directories/{directoryId}/users` (deprecated for the search).
pub fn list(call: &Call, state: &mut CloudState) -> Outcome {
    directory(call, state)?;
    if let Some((name, _)) = call.query.iter().find(|(n, _)| UNMODELLED.contains(&n.as_str())) {
        return Err(org_bad(format!("The sandbox does not filter by {name}.")));
    }
    let filter = Filter {
        emails: None,
        account_ids: query_list(call, "accountIds", 10)?,
        group_ids: query_list(call, "groupIds", 10)?,
        search_term: call.query("searchTerm").map(str::to_owned),
        status: query_list(call, "status", 4)?,
    };
    let items = state
        .users
        .iter()
        .filter(|u| filter.keeps(state, u))
        .map(|u| user_json(state, u, false))
        .collect();
    ok(paging::cursor(items, call.query("cursor"), query_limit(call)?, 20)?)
}
