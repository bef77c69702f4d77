//! Setting up a target's [`HttpClient`]: every setting with a default fit for Data
//! Center and SCIM, which a provider changes where its vendor differs.

use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use secrecy::SecretString;

use super::*;

/// Sets up an [`HttpClient`]; every setting has a default fit for Data Center and SCIM.
pub struct ClientBuilder {
    target: String,
    base: url::Url,
    auth: Option<Auth>,
    parse_error: ErrorParser,
    classifier: Option<Classifier>,
    media_type: &'static str,
    policy: RetryPolicy,
    max_in_flight: usize,
    budget: Option<Budget>,
    max_body: usize,
    deadline: Duration,
    max_deadline: Duration,
    also_redact: Vec<SecretString>,
}

impl ClientBuilder {
    pub fn auth(mut self, auth: Option<Auth>) -> Self {
        self.auth = auth;
        self
    }

    /// Reads the vendor's message out of a failure's body (the default shows the body's
    /// start).
    pub fn error_parser(mut self, parse: ErrorParser) -> Self {
        self.parse_error = parse;
        self
    }

    /// Declares which 2xx answers are failures (GraphQL's `errors`: see
    /// [`graphql_errors`](super::graphql_errors)).
    pub fn classifier(mut self, classify: Classifier) -> Self {
        self.classifier = Some(classify);
        self
    }

    /// Sends and asks for this JSON media type instead of `application/json` (SCIM's
    /// `application/scim+json`).
    pub fn media_type(mut self, media_type: &'static str) -> Self {
        self.media_type = media_type;
        self
    }

    /// Replaces the retry policy (tests shorten it; 1 attempt turns retries off).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Caps the attempts on the wire at once to this target (at least 1); the adaptive
    /// limit moves between 1 and this.
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max.max(1);
        self
    }

    /// Paces requests to the vendor's published quota.
    pub fn budget(mut self, budget: Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The largest answer read, in bytes.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// How long one operation (reading the target, applying a plan to it) may take, not
    /// counting its waits for the budget.
    pub fn deadline(mut self, limit: Duration) -> Self {
        self.deadline = limit;
        self
    }

    /// How long one operation may take in all, its waits for the budget included (never
    /// less than the deadline).
    pub fn max_deadline(mut self, max: Duration) -> Self {
        self.max_deadline = max;
        self
    }

    /// A secret the requests carry other than as credentials (a client secret or signed
    /// assertion in a token request's form), scrubbed like them from whatever the server
    /// sends back.
    pub fn redact(mut self, secret: SecretString) -> Self {
        self.also_redact.push(secret);
        self
    }

    pub fn build(self) -> Result<HttpClient, HttpError> {
        // The total timeout is set per attempt, from the retry policy.
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("rollcall/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError {
                target: self.target.clone(),
                request: "client setup".to_owned(),
                kind: ErrorKind::Setup,
                status: None,
                detail: e.to_string(),
                ambiguous: false,
                attempts: 0,
            })?;
        Ok(HttpClient {
            redactor: Redactor::new(self.auth.as_ref(), self.also_redact),
            target: self.target,
            base: self.base,
            auth: self.auth,
            client,
            parse_error: self.parse_error,
            classifier: self.classifier,
            media_type: self.media_type,
            policy: self.policy,
            limiter: Limiter::new(self.max_in_flight),
            pacer: Pacer::new(self.budget),
            max_body: self.max_body,
            clock: Clock::new(self.deadline, self.max_deadline),
            requests: AtomicUsize::new(0),
            retries: AtomicUsize::new(0),
            answered: AtomicUsize::new(0),
        })
    }
}

fn no_parser(_: &str) -> Option<String> {
    None
}

impl HttpClient {
    pub fn builder(target: &str, base: url::Url) -> ClientBuilder {
        ClientBuilder {
            target: target.to_owned(),
            base,
            auth: None,
            parse_error: no_parser,
            classifier: None,
            media_type: "application/json",
            policy: RetryPolicy::default(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            budget: None,
            max_body: DEFAULT_MAX_BODY,
            deadline: DEFAULT_DEADLINE,
            max_deadline: MAX_DEADLINE,
            also_redact: Vec::new(),
        }
    }
}
