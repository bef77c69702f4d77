//! The GraphQL client: `POST {url}/v1` with the Bearer token, through the project's
//! HTTP client (retries, the deadline, 429 waited out until `RateLimit-Reset`), each
//! document's complexity estimated first and paced by what is left of Buildkite's
//! windows ([`Window`]).
//!
//! GraphQL answers HTTP 200 with `errors` for what did not happen: a query with any is
//! an error carrying the vendor's messages and paths; a batch of aliased mutations
//! answers per alias, so its errors are handed back by alias and the others count as
//! applied.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::http::{ErrorKind, HttpClient, HttpError, Idempotent, Operation, Request};

use super::cost::{self, Window, MAX_REQUESTED};
use super::wire;

/// Where the GraphQL endpoint is under the target's URL.
pub const PATH: &str = "/v1";

pub struct Graphql {
    pub(super) http: HttpClient,
    pub(super) window: Window,
}

/// What a batch of mutations answered: each alias's data, and the errors by alias (an
/// error naming no alias fails the whole batch).
#[derive(Debug, Default)]
pub struct Answers {
    pub data: BTreeMap<String, Value>,
    pub errors: BTreeMap<String, String>,
}

impl Graphql {
    pub fn new(http: HttpClient, max_wait: Duration) -> Graphql {
        let window = Window::new(max_wait).of_target(http.target());
        Graphql { http, window }
    }

    /// Starts the operation's clock in the HTTP client: each read anew, an apply's
    /// batches on one clock started by the first.
    pub fn begin(&self, operation: Operation) {
        self.http.begin(operation);
    }

    /// The latest a wait for a complexity window may end: the operation's hard
    /// maximum, since such waits move its deadline out as the budget's own do (the
    /// windows are a quota, and waiting for them says nothing about the target's
    /// health).
    pub fn deadline(&self) -> Instant {
        self.http.latest_end()
    }

    /// Tells the HTTP client's clock about the waits for the windows since the last
    /// call, so its deadline moves out by them.
    pub fn settle_waits(&self) {
        for (from, until) in self.window.take_waits() {
            self.http.excuse(from, until);
        }
    }

    fn error(&self, what: &str, kind: ErrorKind, detail: String) -> HttpError {
        HttpError {
            target: self.http.target().to_owned(),
            request: format!("POST {PATH} ({what})"),
            kind,
            status: None,
            detail,
            ambiguous: false,
            attempts: 0,
        }
    }

    /// Sends one document, paced; the answer's body parsed as GraphQL's response.
    async fn post(
        &self,
        what: &str,
        document: &str,
        variables: Value,
        idempotent: Idempotent,
        resent: bool,
    ) -> Result<wire::Response, HttpError> {
        let cost = cost::requested(document, &variables).map_err(|why| {
            self.error(
                what,
                ErrorKind::Setup,
                format!("the document's cost cannot be told: {why}"),
            )
        })?;
        if cost > MAX_REQUESTED {
            return Err(self.error(
                what,
                ErrorKind::Setup,
                format!("the document requests {cost} complexity points, more than the {MAX_REQUESTED} Buildkite allows one query"),
            ));
        }
        // The windows charge what an answer holds, not what was asked: the reservation
        // is what this document was charged per point asked last time.
        let expected = self.window.expected(document, cost);
        let admitted = self.window.admit(expected, self.deadline()).await;
        self.settle_waits();
        admitted.map_err(|why| self.error(what, ErrorKind::Throttled, why))?;
        let request = Request::new(Method::POST, PATH, idempotent)
            .json(json!({ "query": document, "variables": variables }))
            .resent(resent);
        let reply = self.http.send(request).await;
        self.window
            .observe(document, reply.as_ref().ok().map(|r| &r.headers), cost, expected);
        let reply = reply.map_err(|mut e| {
            e.request = format!("{} ({what})", e.request);
            e
        })?;
        serde_json::from_str(&reply.body).map_err(|e| {
            self.http.bad_answer(
                &format!("POST {PATH} ({what})"),
                format!("unexpected response body: {e}"),
            )
        })
    }

    /// A query; any error in the answer fails it with the vendor's messages.
    pub async fn query<T: DeserializeOwned>(
        &self,
        what: &str,
        document: &str,
        variables: Value,
    ) -> Result<T, HttpError> {
        let answer = self.post(what, document, variables, Idempotent::Yes, false).await?;
        if let Some(errors) = answer.errors.filter(|e| !e.is_empty()) {
            let messages: Vec<String> = errors.iter().map(wire::Error::describe).collect();
            return Err(HttpError {
                status: Some(200),
                ..self.error(
                    what,
                    ErrorKind::Rejected,
                    format!("HTTP 200 with errors: {}", messages.join("; ")),
                )
            });
        }
        let data = answer.data.unwrap_or(Value::Null);
        serde_json::from_value(data).map_err(|e| {
            self.http
                .bad_answer(&format!("POST {PATH} ({what})"), format!("unexpected data: {e}"))
        })
    }

    /// A batch of aliased mutations, not safe to send twice: an answer lost on the way
    /// comes back as `ErrorKind::MayHaveBeenApplied` and the caller reads back. Errors
    /// that name no alias of the batch fail it when nothing in it applied (the document
    /// refused whole).
    pub async fn mutate(
        &self,
        what: &str,
        document: &str,
        variables: Value,
        aliases: &[String],
        resent: bool,
    ) -> Result<Answers, HttpError> {
        let answer = self.post(what, document, variables, Idempotent::No, resent).await?;
        let mut out = Answers::default();
        if let Some(Value::Object(data)) = answer.data {
            out.data = data.into_iter().filter(|(_, v)| !v.is_null()).collect();
        }
        let mut whole = Vec::new();
        for error in answer.errors.unwrap_or_default() {
            match error.alias().filter(|a| aliases.iter().any(|x| x == a)) {
                Some(alias) => {
                    let entry = out.errors.entry(alias.to_owned()).or_default();
                    if !entry.is_empty() {
                        entry.push_str("; ");
                    }
                    entry.push_str(&error.message());
                }
                None => whole.push(error.describe()),
            }
        }
        // Errors about no alias: when nothing applied, the document was refused whole;
        // otherwise they are about the aliases that answered nothing.
        if !whole.is_empty() && !out.data.is_empty() {
            for alias in aliases {
                if !out.data.contains_key(alias) && !out.errors.contains_key(alias) {
                    out.errors.insert(alias.clone(), whole.join("; "));
                }
            }
        } else if !whole.is_empty() {
            return Err(HttpError {
                status: Some(200),
                ..self.error(
                    what,
                    ErrorKind::Rejected,
                    format!("HTTP 200 with errors: {}", whole.join("; ")),
                )
            });
        }
        // An alias with neither data nor an error said nothing of what happened: not
        // counted as applied.
        for alias in aliases {
            if !out.data.contains_key(alias) && !out.errors.contains_key(alias) {
                out.errors
                    .insert(alias.clone(), "Buildkite answered nothing for it".to_owned());
            }
        }
        Ok(out)
    }
}
