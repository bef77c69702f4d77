//! One GraphQL request, from its JSON body to its answer: the document parsed and
//! validated against the vendor's schema (`specs/buildkite.schema.graphql`, embedded) by
//! apollo-compiler, the variables coerced to their declared types, the requested
//! complexity held to the single-query limit, then the operation executed by
//! apollo-compiler's executor over the emulator's objects (`resolve`, `mutations`).
//!
//! Every answer here is HTTP 200, as graphql-ruby (which serves Buildkite's API) answers
//! a document it refuses; the complexity limit's refusal is documented as a 200 too. The
//! time-based limits' 429 is decided before this runs (`limiter`).

use std::cell::RefCell;
use std::sync::LazyLock;

use apollo_compiler::request::coerce_variable_values;
use apollo_compiler::resolvers::Execution;
use apollo_compiler::response::{GraphQLError, JsonMap};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use serde::Deserialize;
use serde_json::{json, Value};

use super::cost::{self, Requested};
use super::resolve::{Bound, Ctx, Obj};
use super::state::{BkState, Limits};

/// How apollo-compiler's executor opens the message of a resolver's error.
const RESOLVER_ERROR: &str = "resolver error: ";

/// The vendor's schema, as the docs are generated from it.
const SCHEMA_SDL: &str = include_str!("../../../specs/buildkite.schema.graphql");

static SCHEMA: LazyLock<Result<Valid<Schema>, String>> = LazyLock::new(|| {
    Schema::parse_and_validate(SCHEMA_SDL, "buildkite.schema.graphql").map_err(|e| e.errors.to_string())
});

/// The parsed and validated schema.
pub fn schema() -> Result<&'static Valid<Schema>, String> {
    SCHEMA.as_ref().map_err(Clone::clone)
}

/// A request body, as `POST /v1` takes it.
#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    query: Option<String>,
    /// An object, or (as the docs' curl example sends it) a string holding one.
    #[serde(default)]
    variables: Option<Value>,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
}

/// What a request produced.
pub struct Answer {
    pub body: Value,
    /// The requested complexity, once the document was valid.
    pub requested: Option<u64>,
    /// The actual complexity, once it ran.
    pub actual: Option<u64>,
}

fn refused(errors: Vec<Value>) -> Answer {
    Answer {
        body: json!({ "errors": errors }),
        requested: None,
        actual: None,
    }
}

fn message(text: impl Into<String>) -> Value {
    json!({ "message": text.into() })
}

fn error_json(error: &GraphQLError) -> Value {
    serde_json::to_value(error).unwrap_or_else(|_| message(error.message.clone()))
}

/// Answers one request body over `state`.
pub fn answer(body: &[u8], state: &mut BkState, limits: Limits) -> Answer {
    let schema = match schema() {
        Ok(schema) => schema,
        Err(e) => return refused(vec![message(format!("the emulator's schema does not load: {e}"))]),
    };
    let body: Body = match serde_json::from_slice(body) {
        Ok(body) => body,
        Err(e) => return refused(vec![message(format!("The request body is not JSON: {e}"))]),
    };
    let Some(query) = body.query.filter(|q| !q.trim().is_empty()) else {
        return refused(vec![message("No query string was present")]);
    };
    let variables: JsonMap = match body.variables {
        None | Some(Value::Null) => JsonMap::new(),
        Some(Value::String(text)) if text.trim().is_empty() => JsonMap::new(),
        Some(Value::String(text)) => match serde_json::from_str(&text) {
            Ok(map) => map,
            Err(e) => return refused(vec![message(format!("Variables are not a JSON object: {e}"))]),
        },
        Some(value) => match serde_json::from_value(value) {
            Ok(map) => map,
            Err(e) => return refused(vec![message(format!("Variables are not a JSON object: {e}"))]),
        },
    };
    let document = match ExecutableDocument::parse_and_validate(schema, query, "query.graphql") {
        Ok(document) => document,
        Err(invalid) => return refused(invalid.errors.iter().map(|d| error_json(&d.to_json())).collect()),
    };
    let operation = match document.operations.get(body.operation_name.as_deref()) {
        Ok(operation) => operation,
        Err(e) => return refused(vec![error_json(&e.to_graphql_error(&document.sources))]),
    };
    let coerced = match coerce_variable_values(schema, operation, &variables) {
        Ok(coerced) => coerced,
        Err(e) => return refused(vec![error_json(&e.to_graphql_error(&document.sources))]),
    };
    let requested = Requested {
        schema,
        document: &document,
        variables: &coerced,
    }
    .of(operation);
    if requested > limits.max_complexity {
        return Answer {
            body: json!({ "errors": [message(format!(
                "Query has complexity of {requested}, which exceeds max complexity of {}",
                limits.max_complexity
            ))] }),
            requested: Some(requested),
            actual: None,
        };
    }
    let root = if operation.operation_type.is_mutation() {
        Obj::Mutation
    } else {
        Obj::Query
    };
    let cx = Ctx {
        state: RefCell::new(state),
        limits,
    };
    let executed = Execution::new(schema, &document)
        .operation(operation)
        .coerced_variable_values(&coerced)
        .execute_sync(&Bound { cx: &cx, obj: root });
    match executed {
        Ok(mut response) => {
            // The executor words a resolver's error as "resolver error: …"; the vendor's
            // message is the error alone.
            for error in &mut response.errors {
                if let Some(message) = error.message.strip_prefix(RESOLVER_ERROR) {
                    error.message = message.to_owned();
                }
            }
            let actual = response.data.as_ref().map_or(0, cost::actual);
            let body = serde_json::to_value(&response)
                .unwrap_or_else(|e| json!({ "errors": [message(format!("the answer does not serialize: {e}"))] }));
            Answer {
                body,
                requested: Some(requested),
                actual: Some(actual),
            }
        }
        Err(e) => refused(vec![error_json(&e.to_graphql_error(&document.sources))]),
    }
}
