//! Buildkite's complexity points: what a document may cost before it is sent, and what
//! is left of the time windows after each answer.
//!
//! The vendor's rules (GraphQL resource limits): every object, interface or union a
//! document selects costs 1 and a scalar or enum 0; a connection's `node` counts once per
//! element its `first` may return, and what is selected inside it is multiplied with it
//! (`organization { pipelines(first: 500) { edges { node { slug } } } }` is 1 + 1 + 1 +
//! 500). A document whose *requested* complexity passes 50,000 is refused before it runs.
//! The time windows (per organization, 20,000 points in five minutes; per user, 5,000 by
//! default) charge the *actual* complexity, counted the same way over what came back,
//! and answer 429 once a window is used up.
//!
//! So the provider estimates each document's requested complexity before sending it
//! ([`requested`]), sizes pages to fit both the single-query limit and what is left of
//! the windows, and [`Window`] keeps what the `RateLimit-*` headers said: a query that
//! would cost more than is left waits for the window's reset instead of being sent
//! into a 429. A wait longer than the tuning allows, or past the operation's deadline,
//! fails at once with what it would take.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use apollo_compiler::ast::{Definition, Document, Selection, Value};
use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// The most requested complexity one document may have.
pub const MAX_REQUESTED: u64 = 50_000;

/// The requested complexity of `document` with `variables` (a `first` given as a
/// variable is read from them), or why it cannot be told: the text does not parse, or a
/// connection's size is neither a literal nor a variable given.
pub fn requested(document: &str, variables: &serde_json::Value) -> Result<u64, String> {
    let doc = Document::parse(document, "document.graphql").map_err(|e| format!("the document does not parse: {e}"))?;
    let fragments: BTreeMap<&str, &[Selection]> = doc
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::FragmentDefinition(f) => Some((f.name.as_str(), f.selection_set.as_slice())),
            _ => None,
        })
        .collect();
    let walk = Walk {
        variables,
        fragments: &fragments,
    };
    let mut total = 0u64;
    for definition in &doc.definitions {
        if let Definition::OperationDefinition(op) = definition {
            total = total.saturating_add(walk.selections(&op.selection_set, 1, None, 0)?);
        }
    }
    Ok(total)
}

struct Walk<'a> {
    variables: &'a serde_json::Value,
    fragments: &'a BTreeMap<&'a str, &'a [Selection]>,
}

impl Walk<'_> {
    /// The cost of a selection set whose every object counts `times` times. `size` is
    /// the `first` of the connection these selections are directly inside, for its
    /// `edges { node }`.
    fn selections(&self, set: &[Selection], times: u64, size: Option<u64>, depth: usize) -> Result<u64, String> {
        // Fragments cannot nest forever in a valid document; this bounds a broken one.
        if depth > 64 {
            return Err("the document nests deeper than 64 levels".to_owned());
        }
        let mut total = 0u64;
        for selection in set {
            let cost = match selection {
                Selection::Field(field) => {
                    if field.selection_set.is_empty() {
                        // A scalar or an enum.
                        continue;
                    }
                    let name = field.name.as_str();
                    // In a connection, `edges` counts once and passes the connection's
                    // size to its `node`, which counts once per element, as does
                    // `nodes`; whatever is selected inside counts as often as they do.
                    let (here, inner) = match (name, size) {
                        ("edges", _) => (times, self.selections(&field.selection_set, times, size, depth + 1)?),
                        ("node" | "nodes", Some(n)) => {
                            let here = times.saturating_mul(n);
                            (here, self.selections(&field.selection_set, here, None, depth + 1)?)
                        }
                        _ => {
                            let first = self.first(field)?;
                            (times, self.selections(&field.selection_set, times, first, depth + 1)?)
                        }
                    };
                    here.saturating_add(inner)
                }
                Selection::InlineFragment(f) => self.selections(&f.selection_set, times, size, depth + 1)?,
                Selection::FragmentSpread(s) => match self.fragments.get(s.fragment_name.as_str()) {
                    Some(set) => self.selections(set, times, size, depth + 1)?,
                    None => return Err(format!("fragment `{}` is not defined", s.fragment_name)),
                },
            };
            total = total.saturating_add(cost);
        }
        Ok(total)
    }

    /// A field's `first` (or `last`): how many elements its connection may return.
    fn first(&self, field: &apollo_compiler::ast::Field) -> Result<Option<u64>, String> {
        let Some(arg) = field.arguments.iter().find(|a| a.name == "first" || a.name == "last") else {
            return Ok(None);
        };
        let n = match arg.value.as_ref() {
            Value::Int(i) => i.as_str().parse::<u64>().ok(),
            Value::Variable(name) => self.variables.get(name.as_str()).and_then(serde_json::Value::as_u64),
            Value::Null => None,
            _ => None,
        };
        match n {
            Some(n) => Ok(Some(n)),
            None => Err(format!(
                "`{}`'s `{}` is not a number the document or its variables give",
                field.name, arg.name
            )),
        }
    }
}

/// What the answers' headers say about one of the two windows (the organization's, the
/// user's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quota {
    remaining: i64,
    limit: i64,
    /// When the window resets.
    reset: Instant,
}

/// The tighter of Buildkite's two windows as the last answer described them, the points
/// the provider's own queries were charged, and the waits for a reset.
pub struct Window {
    state: Mutex<State>,
    /// The longest one wait for a reset may be (the windows are five minutes).
    max_wait: Duration,
    /// The target whose windows these are, for the live display of waits.
    target: String,
}

#[derive(Debug, Default)]
struct State {
    /// The tighter window, once an answer has described it.
    quota: Option<Quota>,
    /// Points reserved by queries sent and not answered yet.
    reserved: i64,
    /// The actual points charged, as `RateLimit-Complexity-Actual` said.
    used: u64,
    /// The requested complexity of every document sent.
    requested: u64,
    /// The waits for a reset not yet told to the HTTP client's clock, from and until.
    waits: Vec<(Instant, Instant)>,
    /// By document: the actual points its last answer was charged per point it
    /// requested. A page of teams requests each team's first 100 members and pipelines
    /// and is charged for the 20 it has: sizing pages by what was requested would leave
    /// most of a window unspent, so they are sized by what such a page was charged.
    ratios: BTreeMap<String, f64>,
}

/// How much a window has left, for a remark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Left {
    pub remaining: i64,
    pub limit: i64,
    pub reset_in: Duration,
}

impl Window {
    pub fn new(max_wait: Duration) -> Window {
        Window {
            state: Mutex::new(State::default()),
            max_wait,
            target: String::new(),
        }
    }

    /// Names the target, so that a live display can show the waits for its windows.
    pub fn of_target(self, target: &str) -> Window {
        Window {
            target: target.to_owned(),
            ..self
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Plain numbers written whole under the lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The actual points a document may be charged now: what is left of the tighter
    /// window, less what queries in flight reserved; its whole limit once it has reset.
    /// Unknown (no answer yet): the single-query limit.
    pub fn room(&self) -> u64 {
        let state = self.state();
        let left = match state.quota {
            Some(q) if q.reset > Instant::now() => q.remaining,
            Some(q) => q.limit,
            None => i64::try_from(MAX_REQUESTED).unwrap_or(i64::MAX),
        };
        u64::try_from(left.saturating_sub(state.reserved).max(0)).unwrap_or(0)
    }

    /// The actual points per requested point that `document` was last charged; 1 (as
    /// requested) before it has been sent.
    fn ratio(&self, document: &str) -> f64 {
        self.state().ratios.get(document).copied().unwrap_or(1.0)
    }

    /// What a document requesting `cost` points is expected to be charged.
    pub fn expected(&self, document: &str, cost: u64) -> u64 {
        // Rounded up, and never nothing: an answer costs at least its root object.
        ((cost as f64) * self.ratio(document)).ceil().max(1.0) as u64
    }

    /// Waits, if need be, until a document expected to be charged `cost` points fits in
    /// what is left, and reserves them until its answer. A document costing more than
    /// the window's whole limit goes in a fresh window. `deadline` is the latest a wait
    /// may end.
    pub async fn admit(&self, cost: u64, deadline: Instant) -> Result<(), String> {
        let points = i64::try_from(cost).unwrap_or(i64::MAX);
        loop {
            let wait = {
                let mut state = self.state();
                let now = Instant::now();
                match state.quota.filter(|q| q.reset > now) {
                    Some(q) if q.remaining.saturating_sub(state.reserved) < points.min(q.limit.max(1)) => {
                        Some(q.reset - now)
                    }
                    _ => {
                        state.reserved = state.reserved.saturating_add(points);
                        None
                    }
                }
            };
            match wait {
                None => return Ok(()),
                Some(wait) => {
                    self.wait(wait, &format!("a query of {cost} complexity points"), deadline)
                        .await?
                }
            }
        }
    }

    /// How many elements a page of `document` may ask for: at most `max`, as many as
    /// the single-query limit takes when the document requests `fixed` plus `each` per
    /// element, and as many as fit in what is left of the window at what such a page
    /// was last charged. When not even a tenth of `max` (nor 10) fit, it waits for the
    /// window's reset first, rather than reading a large list a few elements at a time;
    /// but a document never charged yet goes with what fits, to learn what it costs
    /// (sized by what it requests, it may well fit many times over).
    pub async fn page(
        &self,
        document: &str,
        fixed: u64,
        each: u64,
        max: u64,
        deadline: Instant,
    ) -> Result<u64, String> {
        let learned = self.state().ratios.contains_key(document);
        let enough = if learned { (max / 10).clamp(1, 10) } else { 1 };
        let ratio = self.ratio(document).max(f64::MIN_POSITIVE);
        let requestable = MAX_REQUESTED.saturating_sub(fixed) / each.max(1);
        loop {
            // The window's room in requested points, at the document's ratio.
            let room = ((self.room() as f64) / ratio).min(u64::MAX as f64) as u64;
            let fit = (room.saturating_sub(fixed) / each.max(1)).min(requestable);
            if fit >= enough {
                return Ok(fit.min(max));
            }
            let reset = {
                let state = self.state();
                let now = Instant::now();
                state.quota.filter(|q| q.reset > now).map(|q| q.reset - now)
            };
            match reset {
                Some(wait) => {
                    let what = format!(
                        "a page of {enough} elements ({} complexity points)",
                        fixed + enough * each
                    );
                    self.wait(wait, &what, deadline).await?;
                }
                // Nothing in flight frees points but answers: the room is what it is.
                None => return Ok(fit.clamp(1, max.max(1))),
            }
        }
    }

    /// Sleeps until the window resets, if that is within the longest wait and before
    /// the deadline; `what` names what is waiting, for the error.
    async fn wait(&self, wait: Duration, what: &str, deadline: Instant) -> Result<(), String> {
        if wait > self.max_wait {
            return Err(format!(
                "{what} does not fit in what is left of Buildkite's complexity window, which resets in {} s, longer than rollcall waits ({} s)",
                wait.as_secs(),
                self.max_wait.as_secs()
            ));
        }
        if Instant::now() + wait > deadline {
            return Err(format!(
                "{what} does not fit in what is left of Buildkite's complexity window, and its reset in {} s comes after the most the operation may take, its waits for the windows included",
                wait.as_secs()
            ));
        }
        tracing::debug!(target: "rollcall::http", what, wait_s = wait.as_secs(), "waiting for Buildkite's complexity window to reset");
        let from = Instant::now();
        crate::http::activity::waiting(&self.target, from + wait, crate::http::activity::Wait::Window);
        tokio::time::sleep(wait).await;
        self.state().waits.push((from, Instant::now()));
        Ok(())
    }

    /// The waits since the last call, from and until, for the operation's clock.
    pub fn take_waits(&self) -> Vec<(Instant, Instant)> {
        std::mem::take(&mut self.state().waits)
    }

    /// Reads the headers of an answer to `document`, which requested `requested` points
    /// (or learns that none came: `headers` is `None`), and releases what its query
    /// reserved.
    pub fn observe(&self, document: &str, headers: Option<&HeaderMap>, requested: u64, reserved: u64) {
        let mut state = self.state();
        state.reserved = (state.reserved - i64::try_from(reserved).unwrap_or(i64::MAX)).max(0);
        state.requested = state.requested.saturating_add(requested);
        let Some(headers) = headers else { return };
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        if let Some(actual) = number("ratelimit-complexity-actual") {
            let actual = u64::try_from(actual.max(0)).unwrap_or(0);
            state.used = state.used.saturating_add(actual);
            if requested > 0 {
                let ratio = (actual as f64 / requested as f64).clamp(0.0, 1.0);
                state.ratios.insert(document.to_owned(), ratio);
            }
        }
        let now = Instant::now();
        let quota = |scope: &str| {
            let remaining = number(&format!("{scope}-remaining"))?;
            let limit = number(&format!("{scope}-limit")).unwrap_or(i64::MAX);
            let reset = number(&format!("{scope}-reset"))?;
            // Beyond a day is no window Buildkite has: a figure that large is held to a
            // day, which no wait accepts, rather than overflowing the clock.
            let reset = Duration::from_secs(u64::try_from(reset.clamp(0, 86_400)).unwrap_or(0));
            Some(Quota {
                remaining,
                limit,
                reset: now + reset,
            })
        };
        let tighter = [quota("ratelimit"), quota("ratelimit-user")]
            .into_iter()
            .flatten()
            .min_by_key(|q| q.remaining);
        if let Some(q) = tighter {
            state.quota = Some(q);
        }
    }

    /// The actual points charged so far and the requested complexity sent.
    pub fn spent(&self) -> (u64, u64) {
        let state = self.state();
        (state.used, state.requested)
    }

    /// What the tighter window has left, as the last answer said.
    pub fn left(&self) -> Option<Left> {
        let state = self.state();
        let now = Instant::now();
        state.quota.map(|q| Left {
            remaining: q.remaining,
            limit: q.limit,
            reset_in: q.reset.saturating_duration_since(now),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_vendors_example_costs_what_its_documentation_says() {
        let doc = r#"query RecentPipelineSlugs {
          organization(slug: "organization-slug") {
            pipelines(first: 500) { edges { node { slug } } }
          }
        }"#;
        assert_eq!(requested(doc, &json!({})), Ok(503));
    }

    #[test]
    fn nested_connections_multiply_and_variables_give_sizes() {
        let doc = r#"query T($n: Int!, $m: Int!) {
          organization(slug: "acme") {
            id
            teams(first: $n) {
              count
              pageInfo { hasNextPage endCursor }
              edges { node { id members(first: $m) { edges { node { id user { id } } } } } }
            }
          }
        }"#;
        // organization 1, teams 1, pageInfo 1, edges 1, then per team: node 1,
        // members 1, edges 1, and per member node 1 and user 1.
        let cost = requested(doc, &json!({"n": 10, "m": 20})).unwrap();
        assert_eq!(cost, 4 + 10 * (3 + 20 * 2));
        assert!(requested(doc, &json!({"n": 10})).is_err());
        assert!(requested("query {", &json!({})).is_err());
    }

    #[test]
    fn inline_fragments_and_aliases_count_like_fields() {
        let doc = r#"query {
          a: node(id: "x") { ... on Team { members(first: 5) { edges { node { id } } } } }
          b: node(id: "y") { id }
        }"#;
        assert_eq!(requested(doc, &json!({})), Ok((1 + 1 + 1 + 5) + 1));
    }

    #[tokio::test(start_paused = true)]
    async fn pages_fit_the_room_left_or_wait_for_a_fresh_window() {
        let window = Window::new(Duration::from_secs(310));
        let deadline = Instant::now() + Duration::from_secs(900);
        assert_eq!(window.page("q", 4, 2, 500, deadline).await, Ok(500));
        window.observe(
            "q",
            Some(&headers(&[("ratelimit-remaining", "104"), ("ratelimit-reset", "60")])),
            0,
            0,
        );
        assert_eq!(window.page("q", 4, 2, 500, deadline).await, Ok(50));
        // That page was charged all it asked for: the document's cost is known now.
        window.observe(
            "q",
            Some(&headers(&[
                ("ratelimit-remaining", "10"),
                ("ratelimit-reset", "60"),
                ("ratelimit-complexity-actual", "104"),
            ])),
            104,
            0,
        );
        let start = Instant::now();
        assert_eq!(window.page("q", 4, 2, 500, deadline).await, Ok(500));
        assert_eq!(Instant::now() - start, Duration::from_secs(60));
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[tokio::test(start_paused = true)]
    async fn a_query_that_does_not_fit_waits_for_the_reset() {
        let window = Window::new(Duration::from_secs(310));
        let deadline = Instant::now() + Duration::from_secs(900);
        // Nothing known: it goes.
        window.admit(100, deadline).await.unwrap();
        window.observe(
            "q",
            Some(&headers(&[
                ("ratelimit-remaining", "15000"),
                ("ratelimit-limit", "20000"),
                ("ratelimit-reset", "200"),
                ("ratelimit-user-remaining", "150"),
                ("ratelimit-user-limit", "5000"),
                ("ratelimit-user-reset", "30"),
                ("ratelimit-complexity-actual", "40"),
            ])),
            100,
            100,
        );
        assert_eq!(window.room(), 150);
        assert_eq!(window.spent(), (40, 100));
        let start = Instant::now();
        window.admit(120, deadline).await.unwrap();
        assert_eq!(Instant::now(), start, "fits");
        assert_eq!(window.room(), 30, "reserved while in flight");
        window.admit(100, deadline).await.unwrap();
        assert_eq!(
            Instant::now() - start,
            Duration::from_secs(30),
            "waited for the user window"
        );
        // A reset longer than rollcall waits fails at once, saying so.
        window.observe(
            "q",
            Some(&headers(&[("ratelimit-remaining", "0"), ("ratelimit-reset", "400")])),
            100,
            100,
        );
        let e = window.admit(10, deadline).await.unwrap_err();
        assert!(e.contains("400 s"), "{e}");
        // So does one past the deadline.
        window.observe(
            "q",
            Some(&headers(&[("ratelimit-remaining", "0"), ("ratelimit-reset", "300")])),
            0,
            0,
        );
        let e = window
            .admit(10, Instant::now() + Duration::from_secs(60))
            .await
            .unwrap_err();
        assert!(e.contains("the most the operation may take"), "{e}");
    }

    /// A page is sized by what a page of the same document was charged, not by what it
    /// requested: a list whose elements hold far less than their nested `first` asks
    /// for gets pages that spend the window, not a fifth of it.
    #[tokio::test(start_paused = true)]
    async fn pages_are_sized_by_what_the_document_was_charged() {
        let window = Window::new(Duration::from_secs(310));
        let deadline = Instant::now() + Duration::from_secs(900);
        let limits = [
            ("ratelimit-remaining", "5000"),
            ("ratelimit-limit", "5000"),
            ("ratelimit-reset", "300"),
        ];
        window.observe("teams", Some(&headers(&limits)), 0, 0);
        // Asked as requested: 5,000 points of room, 4 + 100 per team.
        assert_eq!(window.page("teams", 4, 100, 500, deadline).await, Ok(49));
        // That page asked 4,904 and was charged 981 (a fifth): the next takes five times as
        // many, and the reservation is what it is expected to be charged.
        let charged = [
            ("ratelimit-remaining", "4019"),
            ("ratelimit-limit", "5000"),
            ("ratelimit-reset", "290"),
            ("ratelimit-complexity-actual", "981"),
        ];
        window.observe("teams", Some(&headers(&charged)), 4904, 0);
        assert_eq!(window.page("teams", 4, 100, 500, deadline).await, Ok(200));
        assert_eq!(window.expected("teams", 20_004), 4002);
        // Another document has its own: as requested until it has been charged.
        assert_eq!(window.expected("members", 1000), 1000);
    }

    /// A document never charged yet goes with the few elements that fit, rather than
    /// wait for a fresh window: what it is charged may show that many more fit.
    #[tokio::test(start_paused = true)]
    async fn a_document_not_charged_yet_goes_with_what_fits() {
        let window = Window::new(Duration::from_secs(310));
        let deadline = Instant::now() + Duration::from_secs(900);
        let low = [
            ("ratelimit-remaining", "2900"),
            ("ratelimit-limit", "5000"),
            ("ratelimit-reset", "200"),
        ];
        window.observe("members", Some(&headers(&low)), 0, 0);
        let start = Instant::now();
        assert_eq!(window.page("teams", 4, 407, 500, deadline).await, Ok(7));
        assert_eq!(Instant::now(), start, "no wait");
    }
}
