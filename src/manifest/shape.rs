//! Holds a file's YAML tree to the manifest's shape and reports every place it differs,
//! in the manifest's words: which field (`groups.devops.members`), what it must be, what
//! was found, and how to write it.
//!
//! The expectations are not written down twice: they are the JSON Schema that `schemars`
//! derives from `raw::RawFile`, the same one `rollcall schema` prints. Its field
//! descriptions and examples become the hints. Value rules the schema only hints at
//! (a token's `${...}` form, names, roles) are `resolve`'s, which says more about them.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{Map, Value as Json};
use serde_saphyr::Location;

use super::tree::{Node, Value};

/// One place where a file departs from the manifest's shape.
#[derive(Debug)]
pub(crate) struct Problem {
    pub at: Location,
    pub message: String,
    pub hint: String,
}

/// Every shape problem in `root`, in file order.
pub(crate) fn check(root: &Node) -> Vec<Problem> {
    let schema = schema();
    let mut walk = Walk {
        defs: schema.get("$defs").and_then(Json::as_object),
        problems: Vec::new(),
    };
    walk.node(root, root.at, None, schema, &mut Vec::new());
    walk.problems
}

/// The keys a manifest file may have at its top.
pub(crate) fn top_level_keys() -> Vec<String> {
    schema()
        .get("properties")
        .and_then(Json::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// The manifest's JSON Schema, built once.
fn schema() -> &'static Json {
    static SCHEMA: OnceLock<Json> = OnceLock::new();
    SCHEMA.get_or_init(|| schemars::schema_for!(super::RawFile).to_value())
}

/// The way to a node from the top of the file: keys, and positions in lists.
type Path = Vec<Step>;

#[derive(Clone)]
enum Step {
    Key(String),
    /// A position in a list, counted from 1.
    Item(usize),
}

/// The path as the manifest would spell it: `` `groups.devops.members` ``, or
/// `` item 2 of `policy.protect` `` for a list's item.
fn show_path(path: &[Step]) -> String {
    if let Some((Step::Item(n), rest)) = path.split_last() {
        return format!("item {n} of {}", show_path(rest));
    }
    if path.is_empty() {
        return "the file".to_owned();
    }
    let parts: Vec<String> = path
        .iter()
        .map(|step| match step {
            Step::Item(n) => format!("[{n}]"),
            Step::Key(key) if !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || "-_@".contains(c)) => {
                key.clone()
            }
            Step::Key(key) => format!("\"{}\"", key.replace('"', "\\\"")),
        })
        .collect();
    format!("`{}`", parts.join("."))
}

struct Walk<'s> {
    defs: Option<&'s Map<String, Json>>,
    problems: Vec<Problem>,
}

/// What the schema says a node must be, after following `$ref` and taking `null` out of
/// `anyOf [X, null]` (an `Option`).
struct Expect<'s> {
    schema: &'s Json,
    nullable: bool,
    description: Option<&'s str>,
    example: Option<&'s Json>,
}

impl<'s> Walk<'s> {
    fn resolve(&self, schema: &'s Json) -> Expect<'s> {
        let mut out = Expect {
            schema,
            nullable: false,
            description: None,
            example: None,
        };
        let mut current = schema;
        // A field's own description and example win over its type's.
        for _ in 0..8 {
            if out.description.is_none() {
                out.description = current.get("description").and_then(Json::as_str);
            }
            if out.example.is_none() {
                out.example = current.get("examples").and_then(|e| e.get(0));
            }
            if let Some(reference) = current.get("$ref").and_then(Json::as_str) {
                let name = reference.trim_start_matches("#/$defs/");
                match self.defs.and_then(|d| d.get(name)) {
                    Some(def) => current = def,
                    None => break,
                }
            } else if let Some(branches) = current.get("anyOf").and_then(Json::as_array) {
                let (null, other): (Vec<&Json>, Vec<&Json>) = branches
                    .iter()
                    .partition(|b| b.get("type").and_then(Json::as_str) == Some("null"));
                out.nullable |= !null.is_empty();
                match other.first() {
                    Some(next) if other.len() == 1 => current = next,
                    _ => break,
                }
            } else {
                break;
            }
        }
        out.schema = current;
        out
    }

    fn problem(&mut self, at: Location, message: String, hint: String) {
        self.problems.push(Problem { at, message, hint });
    }

    /// Checks `node` against `schema`. `at` is where to point: the node itself, or for a
    /// missing value (`alice:` and nothing after it) the key it belongs to. `key` is the
    /// key the node is the value of: a missing field is shown there.
    fn node(&mut self, node: &Node, at: Location, key: Option<Location>, schema: &'s Json, path: &mut Path) {
        let expect = self.resolve(schema);
        if matches!(node.value, Value::Null) && (expect.nullable || types(expect.schema).contains(&"null")) {
            return;
        }
        if let Some(options) = constants(expect.schema) {
            let text = node.scalar_text();
            if !text.as_ref().is_some_and(|t| options.contains(&t.as_str())) {
                let listed: Vec<String> = options.iter().map(|o| format!("`{o}`")).collect();
                let hint = match text.as_deref().and_then(|t| closest(t, options.iter().copied())) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => meanings(expect.schema).unwrap_or_else(|| format!("write one of {}", listed.join(", "))),
                };
                self.problem(
                    at,
                    format!(
                        "{} must be one of {}; found {}",
                        show_path(path),
                        listed.join(", "),
                        found(node)
                    ),
                    hint,
                );
            }
            return;
        }
        let allowed = types(expect.schema);
        if !fits(node, &allowed) {
            let hint = type_hint(node, &allowed, path, &expect);
            self.problem(
                at,
                format!(
                    "{} must be {}; found {}",
                    show_path(path),
                    wanted(&allowed, expect.schema),
                    found(node)
                ),
                hint,
            );
            return;
        }
        match &node.value {
            Value::Int(n) => self.number(*n, at, &expect, path),
            Value::List(items) => {
                if let Some(item_schema) = expect.schema.get("items") {
                    let before = self.problems.len();
                    for (i, item) in items.iter().enumerate() {
                        path.push(Step::Item(i + 1));
                        self.node(item, item.at, None, item_schema, path);
                        path.pop();
                    }
                    // An item's schema says little; the list's example shows the form.
                    if let (Some(example), Some(Step::Key(name))) = (expect.example, path.last()) {
                        for p in &mut self.problems[before..] {
                            if p.hint == NO_HINT {
                                p.hint = format!("write the list like `{name}: {}`", flow(example));
                            }
                        }
                    }
                }
            }
            Value::Map(entries) => self.mapping(key.unwrap_or(node.at), entries, &expect, path),
            _ => {}
        }
    }

    /// A whole number must fit its field: not below the schema's minimum (the fields are
    /// unsigned) nor past what the field can hold. A maximum that is a rule rather than
    /// a type (a percentage) is `resolve`'s, which reports it with the rest.
    fn number(&mut self, n: i128, at: Location, expect: &Expect<'s>, path: &Path) {
        let min = expect.schema.get("minimum").and_then(Json::as_i64).map(i128::from);
        if min.is_some_and(|m| n < m) || n > i128::from(u64::MAX) {
            self.problem(
                at,
                format!(
                    "{} must be {}; found {n}",
                    show_path(path),
                    wanted(&["integer"], expect.schema)
                ),
                first_sentence(expect.description).unwrap_or_else(|| NO_HINT.to_owned()),
            );
        }
    }

    fn mapping(&mut self, at: Location, entries: &[(Node, Node)], expect: &Expect<'s>, path: &mut Path) {
        let properties = expect.schema.get("properties").and_then(Json::as_object);
        let additional = expect.schema.get("additionalProperties");
        let mut seen: BTreeMap<String, Location> = BTreeMap::new();
        for (key, value) in entries {
            let Some(name) = key.scalar_text() else {
                self.problem(
                    key.at,
                    format!("a key in {} is {}, not a name", show_path(path), found(key)),
                    "write keys as plain names, like `alice:`".to_owned(),
                );
                continue;
            };
            if let Some(first) = seen.get(&name) {
                self.problem(
                    key.at,
                    format!("`{name}` appears twice in {}", show_path(path)),
                    format!(
                        "each key may appear once in a mapping; merge this entry with the one at line {}",
                        first.line()
                    ),
                );
                continue;
            }
            seen.insert(name.clone(), key.at);
            // A key with nothing after it is best shown by the key itself.
            let value_at = if matches!(value.value, Value::Null) {
                key.at
            } else {
                value.at
            };
            let field = properties.and_then(|p| p.get(&name));
            path.push(Step::Key(name.clone()));
            match (field, additional) {
                (Some(schema), _) => self.node(value, value_at, Some(key.at), schema, path),
                (None, Some(Json::Bool(false))) => {
                    let fields: Vec<&str> = properties
                        .map(|p| p.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    path.pop();
                    let hint = match closest(&name, fields.iter().copied()) {
                        Some(near) => format!("did you mean `{near}`? The fields here are {}", fields.join(", ")),
                        None => format!(
                            "the fields here are {}; rollcall schema describes each",
                            fields.join(", ")
                        ),
                    };
                    self.problem(key.at, format!("unknown field `{name}` in {}", show_path(path)), hint);
                    continue;
                }
                (None, Some(schema)) if schema.is_object() => self.node(value, value_at, Some(key.at), schema, path),
                (None, _) => {}
            }
            path.pop();
        }
        let required = expect.schema.get("required").and_then(Json::as_array);
        for field in required.into_iter().flatten().filter_map(Json::as_str) {
            if !seen.contains_key(field) {
                let schema = properties.and_then(|p| p.get(field));
                let hint = match schema.map(|s| self.resolve(s)) {
                    Some(e) => how_to_add(field, &e),
                    None => format!("add `{field}:`"),
                };
                self.problem(at, format!("{} has no `{field}`", show_path(path)), hint);
            }
        }
    }
}

/// The JSON types a schema allows; a schema with none allows anything.
fn types(schema: &Json) -> Vec<&str> {
    match schema.get("type") {
        Some(Json::String(t)) => vec![t.as_str()],
        Some(Json::Array(ts)) => ts.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The values of an enumeration (`oneOf` of constants), if the schema is one.
fn constants(schema: &Json) -> Option<Vec<&str>> {
    let branches = schema.get("oneOf").or_else(|| schema.get("enum"))?.as_array()?;
    branches
        .iter()
        .map(|b| b.get("const").and_then(Json::as_str).or_else(|| b.as_str()))
        .collect()
}

/// Whether a node has one of the allowed types. Text fields take any scalar, as the
/// parser does (`name: 12` is the text "12").
fn fits(node: &Node, allowed: &[&str]) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let has = |t: &str| allowed.contains(&t);
    match &node.value {
        Value::Null => has("null"),
        Value::Bool(_) => has("boolean") || has("string"),
        Value::Int(_) => has("integer") || has("number") || has("string"),
        Value::Float(_) => has("number") || has("string"),
        Value::Text(_) => has("string"),
        Value::List(_) => has("array"),
        Value::Map(_) => has("object"),
    }
}

/// What a schema asks for, in words.
fn wanted(allowed: &[&str], schema: &Json) -> String {
    let main = allowed.iter().find(|t| **t != "null").copied().unwrap_or("null");
    match main {
        "string" => "text".to_owned(),
        "boolean" => "`true` or `false`".to_owned(),
        "integer" => {
            let min = schema.get("minimum").and_then(Json::as_i64);
            let max = schema.get("maximum").and_then(Json::as_i64);
            match (min, max) {
                (Some(a), Some(b)) => format!("a whole number from {a} to {b}"),
                (Some(a), None) => format!("a whole number, {a} or more"),
                _ => "a whole number".to_owned(),
            }
        }
        "number" => "a number".to_owned(),
        "array" => "a list".to_owned(),
        "object" => match schema.get("properties").and_then(Json::as_object) {
            Some(fields) => format!(
                "a mapping of fields ({})",
                fields.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
            ),
            None => "a mapping of names to entries".to_owned(),
        },
        _ => "empty".to_owned(),
    }
}

/// What a node is, in words, quoting short text (long text is cut: a message is one line).
fn found(node: &Node) -> String {
    match &node.value {
        Value::Null => "nothing".to_owned(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Int(n) => format!("the number {n}"),
        Value::Float(f) => format!("the number {f}"),
        Value::Text(t) => {
            let cut: String = t.chars().take(40).collect();
            let more = if cut.len() < t.len() { "…" } else { "" };
            format!("the text `{}{more}`", cut.replace('`', "'"))
        }
        Value::List(_) => "a list".to_owned(),
        Value::Map(_) => "a mapping".to_owned(),
    }
}

/// The fix for a node of the wrong type: the YAML 1.1 boolean trap, else the field's
/// example, else what its description says.
fn type_hint(node: &Node, allowed: &[&str], path: &Path, expect: &Expect<'_>) -> String {
    let key = match path.last() {
        Some(Step::Key(k)) => Some(k),
        _ => None,
    };
    if allowed.contains(&"boolean") {
        if let Value::Text(t) = &node.value {
            if YAML11_BOOLEANS.contains(&t.to_ascii_lowercase().as_str()) {
                return "write true or false; YAML 1.1 words such as yes, no, on and off are not booleans here"
                    .to_owned();
            }
        }
    }
    let example = expect.example.map(flow);
    let about = first_sentence(expect.description);
    match (example, key, about) {
        (Some(e), Some(k), Some(a)) => format!("{a}; write it like `{k}: {e}`"),
        (Some(e), Some(k), None) => format!("write it like `{k}: {e}`"),
        (Some(e), None, _) => format!("write it like `{e}`"),
        (None, _, Some(a)) => a,
        (None, _, None) => NO_HINT.to_owned(),
    }
}

/// The hint for a missing required field.
fn how_to_add(field: &str, expect: &Expect<'_>) -> String {
    if let Some(e) = expect.example {
        return format!("add `{field}: {}`", flow(e));
    }
    if let Some(options) = constants(expect.schema) {
        return format!("add `{field}:` with one of {}", options.join(", "));
    }
    match first_sentence(expect.description) {
        Some(about) => format!("add `{field}:`, {about}"),
        None => format!("add `{field}:`"),
    }
}

/// The hint when the schema says nothing more about a value.
const NO_HINT: &str = "rollcall schema describes every field";

const YAML11_BOOLEANS: [&str; 8] = ["yes", "no", "y", "n", "on", "off", "true", "false"];

/// The first sentence of a schema description, as the middle of a sentence.
fn first_sentence(description: Option<&str>) -> Option<String> {
    let text = description?.replace('\n', " ");
    let end = text.find(". ").map_or(text.len(), |i| i + 1);
    Some(lower_first(text[..end].trim_end_matches('.')))
}

/// What each value of an enumeration means, from the schema: "`scim`: Any SCIM 2.0
/// service ...; ...".
fn meanings(schema: &Json) -> Option<String> {
    let branches = schema.get("oneOf")?.as_array()?;
    let parts: Option<Vec<String>> = branches
        .iter()
        .map(|b| {
            let value = b.get("const")?.as_str()?;
            let about = b.get("description").and_then(Json::as_str)?.replace('\n', " ");
            let end = about.find(". ").unwrap_or(about.len());
            Some(format!("`{value}`: {}", about[..end].trim_end_matches('.')))
        })
        .collect();
    Some(parts?.join("; "))
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A JSON example written as YAML flow, the way a manifest would say it.
fn flow(value: &Json) -> String {
    match value {
        Json::Null => "~".to_owned(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) if plain(s) => s.clone(),
        Json::String(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
        Json::Array(items) => format!("[{}]", items.iter().map(flow).collect::<Vec<_>>().join(", ")),
        Json::Object(fields) => format!(
            "{{ {} }}",
            fields
                .iter()
                .map(|(k, v)| format!("{k}: {}", flow(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Whether text can be written unquoted inside `[ ]` or `{ }`.
fn plain(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| "-?:&*!|>'\"%@`#".contains(c) || c.is_whitespace())
        && !s.contains(|c: char| ",[]{}#$".contains(c))
        && !s.contains(": ")
}

/// The closest of `known` to `name`, for "did you mean".
fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<String> {
    let owned: Vec<String> = known.map(str::to_owned).collect();
    crate::resolve::did_you_mean(name, owned.iter()).cloned()
}
