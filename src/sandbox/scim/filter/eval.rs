//! Filters and paths against the schema and a resource: what parses but RFC 7644 still
//! refuses, and whether a resource's JSON matches, comparing with or without case as the
//! attribute's schema says.

use serde_json::Value;

use super::{AttrPath, CompareOp, Filter};
use crate::sandbox::scim::schema::{self, Attr, Kind, Scope};

/// The member of `object` named `name`, ignoring case.
pub fn get_ci<'v>(object: &'v Value, name: &str) -> Option<&'v Value> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

impl Filter {
    /// Refuses what parses but RFC 7644 §3.4.2.2 still makes `invalidFilter`: a comparison
    /// on a complex attribute ("a fully qualified sub-attribute MUST be specified"), `gt`,
    /// `ge`, `lt` or `le` on a boolean ("SHALL cause a failed response"), and a value filter
    /// on an attribute with no sub-attributes. Names the schema does not know pass: they
    /// have no value, so they match nothing (§3.4.2.1).
    pub(crate) fn check(&self, scope: Scope) -> Result<(), String> {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.check(scope)?;
                b.check(scope)
            }
            Filter::Not(a) => a.check(scope),
            Filter::Present(path) => path.check(scope).map(|_| ()),
            Filter::Compare(path, op, _) => match path.check(scope)? {
                Some(target) if target.kind == Kind::Complex => Err(format!(
                    "{} is complex: compare one of its sub-attributes, as in {}.value",
                    path.attr, path.attr
                )),
                Some(target)
                    if target.kind == Kind::Boolean
                        && matches!(op, CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le) =>
                {
                    Err(format!("{} is a boolean: it has no order", target.name))
                }
                _ => Ok(()),
            },
        }
    }

    /// Whether `resource` (a JSON object whose attributes `scope` describes) matches.
    pub(crate) fn matches(&self, resource: &Value, scope: Scope) -> bool {
        match self {
            Filter::And(a, b) => a.matches(resource, scope) && b.matches(resource, scope),
            Filter::Or(a, b) => a.matches(resource, scope) || b.matches(resource, scope),
            Filter::Not(a) => !a.matches(resource, scope),
            Filter::Present(path) => path_values(resource, path, scope).iter().any(|v| {
                !matches!(v, Value::Null) && v.as_str() != Some("") && v.as_array().is_none_or(|a| !a.is_empty())
            }),
            Filter::Compare(path, op, expected) => {
                // The schema says whether the attribute reached compares with case; one it
                // does not know compares without, the RFC's default (RFC 7643 §2.2).
                let exact = path.target(scope).is_some_and(|a| a.case_exact);
                let found = path_values(resource, path, scope);
                if found.is_empty() {
                    // Absent compares unequal to everything, so `ne` matches.
                    return *op == CompareOp::Ne;
                }
                found.iter().any(|v| compare(v, *op, expected, exact))
            }
        }
    }
}

impl AttrPath {
    /// The attribute this path reaches in `scope`, `None` when the schema has none; a
    /// bracket filter is checked against the sub-attributes it is read in.
    fn check(&self, scope: Scope) -> Result<Option<&'static Attr>, String> {
        let Some(def) = scope.find(&self.attr) else {
            return Ok(None);
        };
        if let Some(filter) = &self.filter {
            if def.sub.is_empty() {
                return Err(format!("{} has no sub-attributes to filter on", def.name));
            }
            filter.check(Scope::within(def))?;
        }
        Ok(self.target(scope))
    }

    /// The attribute this path reaches in `scope`, unchecked.
    fn target(&self, scope: Scope) -> Option<&'static Attr> {
        let def = scope.find(&self.attr)?;
        match &self.sub {
            None => Some(def),
            Some(sub) => schema::find(def.sub, sub),
        }
    }
}

/// The values `path` reaches in `resource`: elements of a multi-valued attribute are
/// each a value, and a bracket filter keeps only the matching elements.
fn path_values(resource: &Value, path: &AttrPath, scope: Scope) -> Vec<Value> {
    let Some(top) = get_ci(resource, &path.attr) else {
        // `meta.x` and the like: `attr` may itself be complex.
        return Vec::new();
    };
    let elements: Vec<&Value> = match top {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let inner = scope.find(&path.attr).map_or(Scope::unknown(), Scope::within);
    let kept = elements
        .into_iter()
        .filter(|e| path.filter.as_ref().is_none_or(|f| f.matches(e, inner)));
    match &path.sub {
        None => kept.cloned().collect(),
        Some(sub) => kept.filter_map(|e| get_ci(e, sub).cloned()).collect(),
    }
}

fn compare(actual: &Value, op: CompareOp, expected: &Value, exact: bool) -> bool {
    use std::cmp::Ordering;
    let ordering = match (actual, expected) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = if exact {
                (a.clone(), b.clone())
            } else {
                (a.to_lowercase(), b.to_lowercase())
            };
            match op {
                CompareOp::Co => return a.contains(&b),
                CompareOp::Sw => return a.starts_with(&b),
                CompareOp::Ew => return a.ends_with(&b),
                _ => a.cmp(&b),
            }
        }
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
            _ => return false,
        },
        (Value::Bool(a), Value::Bool(b)) => match op {
            CompareOp::Eq => return a == b,
            CompareOp::Ne => return a != b,
            _ => return false,
        },
        (_, Value::Null) => return op == CompareOp::Ne,
        _ => return op == CompareOp::Ne,
    };
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}
