//! The complexity of a GraphQL request, as `specs/buildkite-docs-graphql-graphql-resource-limits.md`
//! describes it.
//!
//! The cost model:
//!
//! - a field whose type is a scalar or an enum costs 0; one whose type is an object, an
//!   interface or a union costs 1 plus the cost of its selection;
//! - a connection (a field returning a `…Connection` type) costs 1, plus its selection,
//!   where its `edges` (or `nodes`) field costs 1 plus the page size times the cost of
//!   one edge's selection: the docs' `pipelines(first: 500) { edges { node { slug } } }`
//!   is 1 + 1 + 500 × 1, and with `organization` around it 503;
//! - the page size is `first` (or `last`, the larger if both), and 500 when neither is
//!   given, as the docs warn ("Not providing those may default to 500"); nested
//!   connections multiply;
//! - fragments on the parent's own type always count; of the fragments on other types
//!   (a `node(id:)` with `... on Team` and `... on TeamMember`) only the most costly
//!   counts, as only one type can answer;
//! - a list of objects that is not a connection (`invitationEdges`) is requested as one.
//!
//! The **requested** complexity is that walk over the document before execution. The
//! **actual** complexity is the same model over the answer: each object in `data` costs
//! 1, an `edges` list (any list of objects) costs 1 plus its items' selections (an edge
//! object itself costs nothing: the docs count `edges` once and each `node`), so the
//! docs' query over 10 pipelines costs 13.

use std::collections::BTreeMap;

use apollo_compiler::executable::{Field, Operation, Selection, SelectionSet};
use apollo_compiler::response::{JsonMap, JsonValue};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ast, ExecutableDocument, Schema};

/// The page size of a connection that names no `first` or `last`.
pub const DEFAULT_PAGE: u64 = 500;

/// What the requested-complexity walk reads.
pub struct Requested<'a> {
    pub schema: &'a Valid<Schema>,
    pub document: &'a Valid<ExecutableDocument>,
    /// The coerced variables, for `first: $n`.
    pub variables: &'a JsonMap,
}

impl Requested<'_> {
    /// The requested complexity of `operation`.
    pub fn of(&self, operation: &Operation) -> u64 {
        self.selection(&operation.selection_set, None)
    }

    /// The cost of a selection set; inside a connection `page` is its page size, which its
    /// `edges` and `nodes` multiply by.
    fn selection(&self, set: &SelectionSet, page: Option<u64>) -> u64 {
        let mut always = 0u64;
        let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
        let mut add = |condition: Option<&str>, cost: u64| match condition {
            Some(ty) if ty != set.ty.as_str() && !self.is_abstract_supertype(ty, set.ty.as_str()) => {
                *by_type.entry(ty.to_owned()).or_default() += cost;
            }
            _ => always = always.saturating_add(cost),
        };
        for selection in &set.selections {
            match selection {
                Selection::Field(field) => add(None, self.field(field, page)),
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = self.document.fragments.get(&spread.fragment_name) {
                        let cost = self.selection(&fragment.selection_set, page);
                        add(Some(fragment.type_condition().as_str()), cost);
                    }
                }
                Selection::InlineFragment(inline) => {
                    let cost = self.selection(&inline.selection_set, page);
                    add(inline.type_condition.as_ref().map(|t| t.as_str()), cost);
                }
            }
        }
        always.saturating_add(by_type.values().copied().max().unwrap_or(0))
    }

    /// Whether `condition` is an interface or union that `ty` is one of: a fragment on it
    /// always applies.
    fn is_abstract_supertype(&self, condition: &str, ty: &str) -> bool {
        match self.schema.types.get(condition) {
            Some(ExtendedType::Interface(_)) => match self.schema.types.get(ty) {
                Some(ExtendedType::Object(object)) => {
                    object.implements_interfaces.iter().any(|i| i.as_str() == condition)
                }
                Some(ExtendedType::Interface(interface)) => {
                    interface.implements_interfaces.iter().any(|i| i.as_str() == condition)
                }
                _ => false,
            },
            Some(ExtendedType::Union(union)) => union.members.iter().any(|m| m.as_str() == ty),
            _ => false,
        }
    }

    fn field(&self, field: &Field, page: Option<u64>) -> u64 {
        let type_name = field.definition.ty.inner_named_type();
        let leaf = matches!(
            self.schema.types.get(type_name),
            Some(ExtendedType::Scalar(_) | ExtendedType::Enum(_)) | None
        );
        if leaf {
            return 0;
        }
        if let Some(size) = page.filter(|_| matches!(field.name.as_str(), "edges" | "nodes")) {
            let one = self.selection(&field.selection_set, None);
            return 1u64.saturating_add(size.saturating_mul(one));
        }
        let inner = if is_connection(type_name.as_str()) {
            Some(self.page_size(field))
        } else {
            None
        };
        1u64.saturating_add(self.selection(&field.selection_set, inner))
    }

    /// `first` or `last` (the larger), or the default page.
    fn page_size(&self, field: &Field) -> u64 {
        let read = |name: &str| -> Option<u64> {
            let value = field.specified_argument_by_name(name)?;
            match value.as_ref() {
                ast::Value::Int(n) => n.try_to_i32().ok().map(|n| n.max(0) as u64),
                ast::Value::Variable(var) => self
                    .variables
                    .get(var.as_str())
                    .and_then(JsonValue::as_i64)
                    .map(|n| n.max(0) as u64),
                _ => None,
            }
        };
        match (read("first"), read("last")) {
            (None, None) => DEFAULT_PAGE,
            (a, b) => a.unwrap_or(0).max(b.unwrap_or(0)),
        }
    }
}

/// Whether a type is a Relay connection (every Buildkite connection is named so).
pub fn is_connection(type_name: &str) -> bool {
    type_name.ends_with("Connection")
}

/// The actual complexity of an answer's `data`.
pub fn actual(data: &JsonMap) -> u64 {
    data.values().map(value).fold(0, u64::saturating_add)
}

fn value(v: &JsonValue) -> u64 {
    match v {
        JsonValue::Object(map) => 1u64.saturating_add(actual(map)),
        JsonValue::Array(items) if items.iter().any(JsonValue::is_object) => items
            .iter()
            .map(|item| match item {
                JsonValue::Object(map) => actual(map),
                _ => 0,
            })
            .fold(1, u64::saturating_add),
        JsonValue::Array(items) => items.iter().map(value).fold(0, u64::saturating_add),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::buildkite::graphql::schema;

    fn requested(query: &str, variables: serde_json::Value) -> u64 {
        let schema = schema().unwrap();
        let document = ExecutableDocument::parse_and_validate(schema, query, "q.graphql").unwrap();
        let variables: JsonMap = serde_json::from_value(variables).unwrap();
        let operation = document.operations.get(None).unwrap();
        Requested {
            schema,
            document: &document,
            variables: &variables,
        }
        .of(operation)
    }

    #[test]
    fn the_docs_example_is_503_requested() {
        let query = r#"query { organization(slug: "o") { pipelines(first: 500) { edges { node { slug } } } } }"#;
        assert_eq!(requested(query, serde_json::json!({})), 503);
    }

    #[test]
    fn no_first_is_a_page_of_500_and_variables_count() {
        let query = r#"query { organization(slug: "o") { pipelines { edges { node { slug } } } } }"#;
        assert_eq!(requested(query, serde_json::json!({})), 503);
        let query =
            r#"query($n: Int) { organization(slug: "o") { pipelines(first: $n) { edges { node { slug } } } } }"#;
        assert_eq!(requested(query, serde_json::json!({"n": 10})), 13);
    }

    #[test]
    fn nested_connections_multiply_and_page_info_is_an_object() {
        let query = r#"{ organization(slug: "o") { teams(first: 50) { count pageInfo { hasNextPage }
            edges { node { slug members(first: 100) { edges { node { role user { email } } } } } } } } }"#;
        // organization 1 + teams (1 + pageInfo 1 + edges (1 + 50 × node (1 + members (1 + edges (1 + 100 × (node 1 + user 1))))))
        let member_page = 1 + 1 + 100 * 2;
        assert_eq!(
            requested(query, serde_json::json!({})),
            1 + 1 + 1 + 1 + 50 * (1 + member_page)
        );
    }

    #[test]
    fn fragments_on_other_types_count_the_costliest() {
        let query = r#"{ node(id: "x") { id ... on Team { organization { slug } }
            ... on TeamMember { user { email } team { slug } } } }"#;
        // node 1 + max(Team 1, TeamMember 2)
        assert_eq!(requested(query, serde_json::json!({})), 3);
    }

    #[test]
    fn the_docs_example_is_13_actual_over_10_pipelines() {
        let edges: Vec<_> = (0..10)
            .map(|i| serde_json::json!({"node": {"slug": format!("p{i}")}}))
            .collect();
        let data: JsonMap = serde_json::from_value(serde_json::json!({
            "organization": {"pipelines": {"edges": edges}}
        }))
        .unwrap();
        assert_eq!(actual(&data), 13);
        let empty: JsonMap = serde_json::from_value(serde_json::json!({"organization": null})).unwrap();
        assert_eq!(actual(&empty), 0);
    }
}
