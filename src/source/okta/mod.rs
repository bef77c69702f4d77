//! Okta as an identity source, read through the Management API
//! (`specs/okta-management.openapi.yaml`) with an API token sent as
//! `Authorization: SSWS <token>`.
//!
//! A group is named by its `profile.name`, exactly as Okta spells it, or by its id
//! (`00g…`). Okta has no nested groups: membership is direct, and the description
//! declares no transitive call, so a group's members are its member list.
//!
//! # Calls
//!
//! - `GET /api/v1/groups?search=profile.name eq "A" or id eq "00g…" or …&limit=200`:
//!   the groups asked for, [`NAMES_PER_SEARCH`] names a search, matched exactly here
//!   (Okta's search compares values without regard to case);
//! - `GET /api/v1/groups/{id}/users?limit=1000`: each group's members, as whole users;
//! - `GET /api/v1/users?filter=status eq "ACTIVE" or … (every status)&limit=200`: everyone,
//!   when asked. A plain list leaves out `DEPROVISIONED` people (those who left), whom
//!   the core needs to offboard; a `filter` lists them (the description says so) and,
//!   unlike `search`, is not eventually consistent.
//!
//! Every list follows the `Link: <…>; rel="next"` header verbatim, on the org's own
//! origin only. Member lists run at once under the client's limit; each list's pages run
//! one after another, since each page's link is in the answer to the last.
//!
//! # Requests
//!
//! For `g` distinct names asked, of which the `k` distinct groups found have `m_i`
//! members, and `u` people in the org (every status) when everyone is asked:
//!
//! ```text
//! requests = ⌈g / 20⌉ + Σᵢ₌₁..ₖ max(1, ⌈mᵢ / 1000⌉) + (everyone ? max(1, ⌈u / 200⌉) : 0)
//! ```
//!
//! (a search whose matches, compared without case, exceed a page of 200 costs a page
//! more). No request is made per person or per member.

mod read;
pub mod wire;

use secrecy::SecretString;

use super::registry::{Setting, SourceKind};
use super::{Query, Reach, Snapshot, Source, SourceConfig, SourceError};
use crate::http::{Auth, HttpClient};
use crate::provider::BoxFuture;

/// Names (with their id alternative) in one group search. The description sets no bound
/// on a search's length, only that "an overly complex or long search query can result in
/// an error"; 20 names keep the URL of a search of long names well under the 8 KiB that
/// servers commonly take.
pub const NAMES_PER_SEARCH: usize = 20;

/// Users a page: the description's default for `GET /api/v1/users` and no maximum is
/// declared; Okta's documentation gives 200 as the most a page holds.
pub const USERS_PAGE: usize = 200;

/// Groups a page of a search: Okta allows up to 10,000 but recommends at most 200, and a
/// search of 20 names matches few groups, so the page size costs nothing here.
pub const GROUPS_PAGE: usize = 200;

/// Members a page: the description's default for `GET /api/v1/groups/{id}/users`, the
/// largest it names (no maximum is declared). Okta recommends 200 for response times;
/// 1,000 spends five times fewer of the org's per-minute requests on large groups.
pub const MEMBERS_PAGE: usize = 1000;

/// At most this many requests in flight: Okta's org-wide concurrency limit (75 API
/// requests at once, per its help pages) is shared with every other integration.
const MAX_IN_FLIGHT: usize = 8;

/// The statuses the description lists (`UserStatus`), for a filter that lists everyone.
pub const STATUSES: &[&str] = &[
    "ACTIVE",
    "DEPROVISIONED",
    "LOCKED_OUT",
    "PASSWORD_EXPIRED",
    "PROVISIONED",
    "RECOVERY",
    "STAGED",
    "SUSPENDED",
];

/// The statuses in which a person can sign in: `PASSWORD_EXPIRED` and `LOCKED_OUT` still
/// have an account that works once they act, `RECOVERY` is mid-reset. `STAGED` and
/// `PROVISIONED` have not activated, `SUSPENDED` and `DEPROVISIONED` are shut out.
pub const SIGN_IN: &[&str] = &["ACTIVE", "PASSWORD_EXPIRED", "LOCKED_OUT", "RECOVERY"];

pub static KIND: SourceKind = SourceKind {
    kind: "okta",
    summary: "Okta: people and group members read through the Management API with an API token",
    settings: &[] as &[Setting],
    secret: ("token", "an Okta API token, sent as `SSWS`"),
    group_names: "a group's `profile.name` exactly as Okta spells it, or its id (`00g…`)",
    unauthorized: "the token must be a valid Okta API token (Security > API > Tokens), sent as `SSWS`, of an administrator who may read users and groups (Read-Only Administrator is enough); a token unused for 30 days expires",
    schemes: &["https"],
    starttls: None,
    paths: &[],
    build,
    sandbox: Some(&crate::sandbox::okta::KIND),
    sandbox_uses_manifest_secret: false,
};

/// The reader of one Okta org.
pub struct Okta {
    name: String,
    http: HttpClient,
}

fn build(config: &SourceConfig, reach: Reach) -> Result<Box<dyn Source>, SourceError> {
    Ok(Box::new(Okta::new(&config.name, reach)?))
}

impl Okta {
    /// A reader of the org at `reach.base`, named `name` in errors.
    pub fn new(name: &str, reach: Reach) -> Result<Okta, SourceError> {
        let token: SecretString = reach.secret;
        let http = HttpClient::builder(name, reach.base)
            .auth(Some(Auth::Scheme { scheme: "SSWS", token }))
            .error_parser(wire::error_message)
            .max_in_flight(reach.parallelism.clamp(1, MAX_IN_FLIGHT))
            .build()?;
        Ok(Okta {
            name: name.to_owned(),
            http,
        })
    }
}

impl Source for Okta {
    fn read<'a>(&'a self, query: &'a Query) -> BoxFuture<'a, Result<Snapshot, SourceError>> {
        Box::pin(self.read_query(query))
    }

    fn requests(&self) -> usize {
        self.http.request_count()
    }
}
