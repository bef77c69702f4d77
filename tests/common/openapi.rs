//! Response bodies against a vendor's OpenAPI 3.0 description: finds the schema the
//! description documents for an operation, a status and a media type, reads that OpenAPI
//! 3.0 Schema Object as JSON Schema draft 4 (the dialect OpenAPI 3.0 extends) and
//! validates a body with `jsonschema`, reporting every error with its JSON pointer.
//!
//! OpenAPI 3.0 schemas are not JSON Schema. The reading here:
//! - `nullable: true` adds `null` to `type` (and to `enum`, which would refuse it otherwise);
//! - `format: int32`/`int64` bound an integer (JSON Schema's `format` checks strings only),
//!   `float`/`double` allow any number, `byte` is base64, `binary` and `password` any string;
//! - `readOnly`, `writeOnly`, `example`, `xml`, `externalDocs`, `discriminator`,
//!   `deprecated` and `x-` extensions are annotations: they constrain nothing. (`writeOnly`
//!   says a property SHOULD NOT be sent in a response: advice, not a shape.)
//! - keywords beside a `$ref` are ignored, as the Reference Object says;
//! - any other keyword is refused, so a description using something this reading does not
//!   know fails the check instead of being validated more loosely than it says.
//!
//! Nothing is relaxed here. Where a description is wrong about its vendor, the test
//! changes that one keyword with `Description::depart`, giving the reason.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{json, Map, Value};

/// A parsed OpenAPI 3.0 description from the project's `specs/` directory.
pub struct Description {
    file: String,
    doc: Value,
}

/// What a response was checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// The body matched the schema documented for its media type.
    Schema,
    /// The description documents no body, and there was none.
    NoBody,
    /// The description names a media type but gives it no schema: the body is not checked.
    NoSchema,
}

/// JSON Schema keywords OpenAPI 3.0 takes over unchanged (with subschemas handled apart).
const KEPT: &[&str] = &[
    "title",
    "description",
    "default",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "required",
    "enum",
    "type",
];

/// OpenAPI 3.0 keywords that annotate a schema without constraining the instance.
const ANNOTATIONS: &[&str] = &[
    "readOnly",
    "writeOnly",
    "example",
    "xml",
    "externalDocs",
    "discriminator",
    "deprecated",
];

const SCHEMA_REFS: &str = "#/components/schemas/";
const RESPONSE_REFS: &str = "#/components/responses/";

impl Description {
    /// Loads `specs/<file>` (JSON, or YAML for a `.yaml` file); panics if it is not an
    /// OpenAPI 3.0 document.
    pub fn load(file: &str) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs").join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Okta and Microsoft publish theirs as YAML.
        let doc: Value = if file.ends_with(".yaml") {
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
        };
        Self::from_value(file, doc)
    }

    /// A description given as a value; `name` names it in errors.
    pub fn from_value(name: &str, doc: Value) -> Self {
        let version = doc["openapi"].as_str().unwrap_or_default();
        assert!(
            version.starts_with("3.0."),
            "{name}: OpenAPI {version:?}, this reads 3.0"
        );
        Description {
            file: name.to_owned(),
            doc,
        }
    }

    /// Sets `keyword` of the object at `at` (path segments from the document root, not
    /// escaped) to `value`, because the description is wrong about its vendor for `reason`.
    /// Panics if nothing is at `at` or the keyword already has that value, so a departure a
    /// corrected description no longer needs is noticed and removed.
    pub fn depart(mut self, at: &[&str], keyword: &str, value: Value, reason: &str) -> Self {
        let pointer = pointer(at);
        let file = self.file.clone();
        let target = self
            .doc
            .pointer_mut(&pointer)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("{file}: nothing at {pointer} to depart from ({reason})"));
        assert_ne!(
            target.get(keyword),
            Some(&value),
            "{file}: {pointer} already has that {keyword}; drop the departure ({reason})"
        );
        target.insert(keyword.to_owned(), value);
        self
    }

    /// Whether the description has `method` on `path` (a path template as written in it).
    pub fn has_operation(&self, method: &str, path: &str) -> bool {
        self.operation(method, path).is_ok()
    }

    /// Whether the description documents `status` (or its range, or a default) for
    /// `method` on `path`.
    pub fn documents(&self, method: &str, path: &str, status: u16) -> bool {
        self.response(method, path, status).is_ok()
    }

    /// Checks one response: `status` must be documented for the operation, its
    /// `Content-Type` must be one the description documents for that status (compared
    /// without parameters such as `charset`), and the body must match that media type's
    /// schema. Every mismatch is one line in the error.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Checked, Vec<String>> {
        let at = format!("{method} {path} {status}");
        let response = self.response(method, path, status).map_err(|e| vec![e])?;
        let content = response
            .get("content")
            .and_then(Value::as_object)
            .filter(|c| !c.is_empty());
        let Some(content) = content else {
            return if body.is_empty() {
                Ok(Checked::NoBody)
            } else {
                Err(vec![format!(
                    "{at}: the description documents no body, the response has {} bytes",
                    body.len()
                )])
            };
        };
        if body.is_empty() {
            // A documented media type without a schema promises nothing, not even a body.
            return if content.values().all(|media| media.get("schema").is_none()) {
                Ok(Checked::NoSchema)
            } else {
                Err(vec![format!(
                    "{at}: the description documents a body, the response has none"
                )])
            };
        }
        let Some(content_type) = content_type else {
            return Err(vec![format!("{at}: a body without a Content-Type")]);
        };
        let actual = essence(content_type);
        let media = content
            .iter()
            .find(|(documented, _)| essence(documented) == actual)
            .map(|(_, media)| media)
            .ok_or_else(|| {
                let documented: Vec<&str> = content.keys().map(String::as_str).collect();
                vec![format!(
                    "{at}: Content-Type {content_type} is not documented (documented: {})",
                    documented.join(", ")
                )]
            })?;
        let Some(schema) = media.get("schema") else {
            return Ok(Checked::NoSchema);
        };
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            vec![format!(
                "{at}: the body is not JSON ({e}): {}",
                String::from_utf8_lossy(body)
            )]
        })?;
        self.validate(schema, &value)
            .map_err(|errors| errors.into_iter().map(|e| format!("{at}: {e}")).collect::<Vec<_>>())?;
        Ok(Checked::Schema)
    }

    /// The schema documented for `method path`, `status` and a media type (compared without
    /// parameters); `None` when the media type is documented without a schema.
    pub fn schema(&self, method: &str, path: &str, status: u16, media_type: &str) -> Result<Option<&Value>, String> {
        let response = self.response(method, path, status)?;
        let wanted = essence(media_type);
        let media = response
            .get("content")
            .and_then(Value::as_object)
            .and_then(|content| content.iter().find(|(k, _)| essence(k) == wanted))
            .map(|(_, media)| media)
            .ok_or_else(|| format!("{method} {path} {status}: no {media_type} body documented"))?;
        Ok(media.get("schema"))
    }

    /// Validates `value` against an OpenAPI 3.0 schema of this description; one line per
    /// error: the instance's JSON pointer, the error, and where in the schema it arose.
    pub fn validate(&self, schema: &Value, value: &Value) -> Result<(), Vec<String>> {
        let validator = self.validator(schema).map_err(|e| vec![e])?;
        let errors: Vec<String> = validator
            .iter_errors(value)
            .map(|error| {
                format!(
                    "at {:?}: {error} (schema {})",
                    error.instance_path.as_str(),
                    error.schema_path.as_str()
                )
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn operation(&self, method: &str, path: &str) -> Result<&Value, String> {
        self.doc["paths"]
            .get(path)
            .and_then(|item| item.get(method.to_ascii_lowercase()))
            .filter(|operation| operation.is_object())
            .ok_or_else(|| format!("{method} {path} is not in {}", self.file))
    }

    /// The Response Object for a status: the exact code, else its range (`4XX`), else
    /// `default`, following a `$ref` into `components/responses`.
    fn response(&self, method: &str, path: &str, status: u16) -> Result<&Value, String> {
        let responses = &self.operation(method, path)?["responses"];
        let code = status.to_string();
        let range = format!("{}XX", status / 100);
        let response = [code.as_str(), range.as_str(), "default"]
            .into_iter()
            .find_map(|key| responses.get(key))
            .ok_or_else(|| {
                let documented: Vec<&str> = responses
                    .as_object()
                    .map(|r| r.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                format!(
                    "{method} {path}: status {status} is not documented (documented: {})",
                    documented.join(", ")
                )
            })?;
        match response.get("$ref").and_then(Value::as_str) {
            None => Ok(response),
            Some(reference) => reference
                .strip_prefix(RESPONSE_REFS)
                .and_then(|name| self.doc["components"]["responses"].get(unescape(name)))
                .ok_or_else(|| format!("{method} {path} {status}: cannot follow {reference}")),
        }
    }

    /// A draft 4 validator for `schema`, with every component schema it reaches (and they
    /// reach) under `definitions`.
    fn validator(&self, schema: &Value) -> Result<jsonschema::Validator, String> {
        let mut reached = BTreeSet::new();
        let root = convert(schema, "#", &mut reached)?;
        let mut definitions = Map::new();
        let mut pending: Vec<String> = reached.into_iter().collect();
        while let Some(name) = pending.pop() {
            let key = unescape(&name);
            if definitions.contains_key(&key) {
                continue;
            }
            let raw = self.doc["components"]["schemas"]
                .get(&key)
                .ok_or_else(|| format!("{}: no schema {SCHEMA_REFS}{name}", self.file))?;
            let mut more = BTreeSet::new();
            let converted = convert(raw, &format!("{SCHEMA_REFS}{name}"), &mut more)?;
            definitions.insert(key, converted);
            pending.extend(more);
        }
        let document = json!({ "definitions": definitions, "allOf": [root] });
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(true)
            .should_ignore_unknown_formats(false)
            .with_format("byte", is_base64)
            .with_format("binary", |_: &str| true)
            .with_format("password", |_: &str| true)
            .build(&document)
            .map_err(|e| format!("{}: the schema does not compile: {e}", self.file))
    }
}

/// One OpenAPI 3.0 Schema Object as JSON Schema draft 4. `at` names it in errors;
/// `reached` collects the component schemas it references (names as escaped in the `$ref`).
fn convert(schema: &Value, at: &str, reached: &mut BTreeSet<String>) -> Result<Value, String> {
    let object = schema
        .as_object()
        .ok_or_else(|| format!("{at}: a schema must be an object"))?;
    if let Some(reference) = object.get("$ref") {
        let name = reference
            .as_str()
            .and_then(|r| r.strip_prefix(SCHEMA_REFS))
            .ok_or_else(|| format!("{at}: only references into components/schemas are followed: {reference}"))?;
        reached.insert(name.to_owned());
        // Siblings of a `$ref` are ignored (OpenAPI 3.0, Reference Object).
        return Ok(json!({ "$ref": format!("#/definitions/{name}") }));
    }
    let mut out = Map::new();
    let mut range: Option<(i64, i64)> = None;
    for (key, value) in object {
        let here = format!("{at}/{}", escape(key));
        match key.as_str() {
            k if KEPT.contains(&k) => {
                out.insert(key.clone(), value.clone());
            }
            "properties" => {
                let properties = value
                    .as_object()
                    .ok_or_else(|| format!("{here}: properties must be an object"))?;
                let mut converted = Map::new();
                for (name, property) in properties {
                    let property_at = format!("{here}/{}", escape(name));
                    converted.insert(name.clone(), convert(property, &property_at, reached)?);
                }
                out.insert(key.clone(), Value::Object(converted));
            }
            "items" | "not" => {
                out.insert(key.clone(), convert(value, &here, reached)?);
            }
            "additionalProperties" => {
                let converted = match value {
                    Value::Bool(_) => value.clone(),
                    _ => convert(value, &here, reached)?,
                };
                out.insert(key.clone(), converted);
            }
            "allOf" | "oneOf" | "anyOf" => {
                let parts = value
                    .as_array()
                    .ok_or_else(|| format!("{here}: {key} must be an array"))?;
                let converted = parts
                    .iter()
                    .enumerate()
                    .map(|(i, part)| convert(part, &format!("{here}/{i}"), reached))
                    .collect::<Result<Vec<_>, _>>()?;
                out.insert(key.clone(), Value::Array(converted));
            }
            "format" => match value.as_str() {
                Some("int32") => range = Some((i64::from(i32::MIN), i64::from(i32::MAX))),
                Some("int64") => range = Some((i64::MIN, i64::MAX)),
                // Any JSON number is a float or a double as far as a JSON body can say.
                Some("float" | "double") => {}
                Some(_) => {
                    out.insert(key.clone(), value.clone());
                }
                None => return Err(format!("{here}: format must be a string")),
            },
            // Read after the loop, once `type` and `enum` are known.
            "nullable" => {}
            k if ANNOTATIONS.contains(&k) || k.starts_with("x-") => {}
            other => {
                return Err(format!(
                    "{here}: `{other}` is not an OpenAPI 3.0 schema keyword this check knows"
                ))
            }
        }
    }
    if object.get("nullable") == Some(&Value::Bool(true)) {
        if let Some(kind) = out.get_mut("type") {
            *kind = json!([kind.clone(), "null"]);
        }
        if let Some(Value::Array(values)) = out.get_mut("enum") {
            if !values.contains(&Value::Null) {
                values.push(Value::Null);
            }
        }
    }
    if let Some((minimum, maximum)) = range {
        // In an `allOf` so that bounds the schema sets itself still apply too.
        let bounds = json!({ "minimum": minimum, "maximum": maximum });
        match out.entry("allOf").or_insert_with(|| json!([])) {
            Value::Array(parts) => parts.push(bounds),
            _ => return Err(format!("{at}: allOf must be an array")),
        }
    }
    Ok(Value::Object(out))
}

/// A media type without its parameters, lower-cased: `application/json;charset=UTF-8`
/// reads as `application/json`.
fn essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// A JSON pointer from unescaped segments.
fn pointer(segments: &[&str]) -> String {
    segments.iter().map(|s| format!("/{}", escape(s))).collect()
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// OpenAPI's `byte`: base64 (RFC 4648 §4) with padding.
fn is_base64(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    text.len() % 4 == 0
        && text.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}
