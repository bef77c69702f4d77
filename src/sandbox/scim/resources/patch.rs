//! PATCH (RFC 7644 §3.5.2): a PatchOp body's operations applied in order to a resource's
//! JSON, all or none, with paths, value filters, the required attributes a PATCH may not
//! remove, and the `primary` value a new primary takes over.

use serde_json::{json, Map, Value};

use super::clip;
use super::input::{is_primary, primaries, with_primary};
use crate::sandbox::scim::filter::{get_ci, parse_path};
use crate::sandbox::scim::profile::ScimProfile;
use crate::sandbox::scim::schema::{self, Attr, Kind, Scope};
use crate::sandbox::scim::wire::{ScimError, PATCH_SCHEMA};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatchKind {
    Add,
    Remove,
    Replace,
}

/// Applies a PatchOp body (RFC 7644 §3.5.2) to `doc`, all operations or none.
pub(super) fn apply_patch(
    doc: &mut Map<String, Value>,
    attrs: &'static [Attr],
    body: &Value,
    profile: &ScimProfile,
) -> Result<(), ScimError> {
    let declares_patch = get_ci(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(PATCH_SCHEMA)));
    if !declares_patch {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("schemas must contain {PATCH_SCHEMA}."),
        ));
    }
    // `Operations` per the RFC; attribute names are case-insensitive, which also covers
    // the Atlassian description's `operations`.
    let operations = get_ci(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::bad("invalidSyntax", "Operations must be a list."))?;
    let mut members_touched = 0;
    for operation in operations {
        let op = match get_ci(operation, "op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("add") => PatchKind::Add,
            Some("remove") => PatchKind::Remove,
            Some("replace") => PatchKind::Replace,
            other => {
                return Err(ScimError::bad(
                    "invalidSyntax",
                    format!("Unknown op {}.", other.unwrap_or("(none)")),
                ));
            }
        };
        let path = match get_ci(operation, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) => Some(p.as_str()),
            Some(_) => return Err(ScimError::bad("invalidPath", "path must be a string.")),
        };
        let value = get_ci(operation, "value");
        if path.is_some_and(|p| p.to_ascii_lowercase().starts_with("members"))
            || (path.is_none() && value.and_then(|v| get_ci(v, "members")).is_some())
        {
            members_touched += value
                .map(|v| match get_ci(v, "members").unwrap_or(v) {
                    Value::Array(items) => items.len(),
                    _ => 1,
                })
                .unwrap_or(1);
        }
        let missing_before = schema::missing_required(doc, attrs);
        let primary_before: Vec<(&str, Vec<Value>)> = with_primary(attrs)
            .map(|def| (def.name, primaries(doc, def.name).into_iter().cloned().collect()))
            .collect();
        apply_op(doc, attrs, op, path, value)?;
        demote_former_primaries(doc, &primary_before);
        // RFC 7644 §3.5.2.2: "If an attribute is removed or becomes unassigned and is defined
        // as a required attribute ..., the server SHALL return ... mutability". Checked after
        // each operation, so a replace with `[]` or a removed required sub-attribute counts.
        if let Some(lost) = schema::missing_required(doc, attrs)
            .into_iter()
            .find(|m| !missing_before.contains(m))
        {
            return Err(ScimError::bad(
                "mutability",
                format!("{lost} is required: it cannot be removed or left unassigned."),
            ));
        }
    }
    if let Some(max) = profile.max_members_per_patch {
        if members_touched > max {
            return Err(ScimError::bad(
                "tooMany",
                format!("At most {max} members may be changed in one request; this one changes {members_touched}."),
            ));
        }
    }
    doc.retain(|_, v| !v.is_null());
    Ok(())
}

fn apply_op(
    doc: &mut Map<String, Value>,
    attrs: &'static [Attr],
    op: PatchKind,
    path: Option<&str>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    // `{"op":"remove","path":"members","value":[{"value":"<id>"}]}` is what Azure AD (Entra
    // ID) sends to remove members, but RFC 7644 §3.5.2.2 gives a remove no value: its target
    // is the path alone, so a provider reading the RFC removes every member. Accepting it
    // would let a client pass here and empty groups there; refusing it (as scim2-models does
    // by default) sends the client to `members[value eq "<id>"]`, which every provider reads
    // alike. `invalidValue` is RFC 7644 §3.12's "value ... not compatible with the
    // operation". The Atlassian description documents no remove with a value either.
    if op == PatchKind::Remove && value.is_some_and(|v| !v.is_null()) {
        return Err(ScimError::bad(
            "invalidValue",
            "A remove carries no value: name what to remove in its path, as members[value eq \"<id>\"].",
        ));
    }
    let Some(text) = path else {
        if op == PatchKind::Remove {
            return Err(ScimError::bad("noTarget", "remove needs a path."));
        }
        let object = value
            .and_then(Value::as_object)
            .ok_or_else(|| ScimError::bad("invalidValue", "Without a path, value must be an object."))?;
        for (key, inner) in object {
            if schema::is_read_only_common(key) {
                continue;
            }
            apply_op(doc, attrs, op, Some(key), Some(inner))?;
        }
        return Ok(());
    };
    let path = parse_path(text).map_err(|e| ScimError::bad("invalidPath", clip(format!("{e} in path {text}"))))?;
    if schema::is_read_only_common(&path.attr) {
        return Err(ScimError::bad("mutability", format!("{} is read-only.", path.attr)));
    }
    let def = schema::find(attrs, &path.attr)
        .ok_or_else(|| ScimError::bad("invalidPath", format!("No attribute {}.", path.attr)))?;
    let sub = match &path.sub {
        None => None,
        Some(name) => {
            let sub = schema::find(def.sub, name)
                .ok_or_else(|| ScimError::bad("invalidPath", format!("No attribute {}.{name}.", def.name)))?;
            if sub.read_only {
                return Err(ScimError::bad(
                    "mutability",
                    format!("{}.{} is read-only.", def.name, sub.name),
                ));
            }
            Some(sub)
        }
    };
    if def.read_only {
        return Err(ScimError::bad("mutability", format!("{} is read-only.", def.name)));
    }
    if path.filter.is_some() && !def.multi {
        return Err(ScimError::bad(
            "invalidPath",
            format!("{} is not multi-valued.", def.name),
        ));
    }
    // A path filter is read against the attribute's sub-attributes, and refused as a query
    // filter would be (RFC 7644 §3.12 lists `invalidFilter` for PATCH path filters).
    let scope = Scope::within(def);
    if let Some(filter) = &path.filter {
        filter
            .check(scope)
            .map_err(|e| ScimError::bad("invalidFilter", clip(format!("{e} in path {text}"))))?;
    }
    let key = def.name;
    let needs_value = || {
        value
            .filter(|v| !v.is_null())
            .ok_or_else(|| ScimError::bad("invalidValue", format!("{:?} needs a value.", op)))
    };
    match (op, &path.filter, sub) {
        (PatchKind::Remove, None, None) => {
            doc.remove(key);
        }
        (PatchKind::Remove, None, Some(sub)) => {
            for element in elements(doc, key) {
                if let Some(object) = element.as_object_mut() {
                    object.remove(sub.name);
                }
            }
        }
        (PatchKind::Remove, Some(filter), None) => {
            // Removing values that are not there is a success (RFC 7644 §3.5.2.2).
            if let Some(Value::Array(items)) = doc.get_mut(key) {
                items.retain(|e| !filter.matches(e, scope));
            }
        }
        (PatchKind::Remove, Some(filter), Some(sub)) => {
            for element in elements(doc, key) {
                if filter.matches(element, scope) {
                    if let Some(object) = element.as_object_mut() {
                        object.remove(sub.name);
                    }
                }
            }
        }
        (_, None, None) => {
            let new = schema::canonical_value(def, needs_value()?);
            if def.multi {
                let list = as_list(&new);
                if op == PatchKind::Add {
                    let items = doc.entry(key).or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(items) = items {
                        for item in list {
                            if !items.contains(&item) {
                                items.push(item);
                            }
                        }
                    }
                } else {
                    doc.insert(key.to_owned(), Value::Array(list));
                }
            } else if def.kind == Kind::Complex {
                // Both add and replace merge sub-attributes into a complex value (§3.5.2.1, §3.5.2.3).
                merge(doc.entry(key).or_insert_with(|| json!({})), &new);
            } else {
                doc.insert(key.to_owned(), new);
            }
        }
        (_, None, Some(sub)) => {
            let new = needs_value()?.clone();
            if def.multi {
                let targets = elements(doc, key);
                if targets.is_empty() {
                    return Err(ScimError::bad("noTarget", format!("{} has no values.", def.name)));
                }
                for element in targets {
                    merge(element, &json!({ sub.name: new.clone() }));
                }
            } else {
                merge(doc.entry(key).or_insert_with(|| json!({})), &json!({ sub.name: new }));
            }
        }
        (_, Some(filter), sub) => {
            let new = needs_value()?;
            let patch = match sub {
                Some(sub) => json!({ sub.name: new.clone() }),
                None => Value::Object(schema::canonical(def.sub, new)),
            };
            let targets: Vec<&mut Value> = elements(doc, key)
                .into_iter()
                .filter(|e| filter.matches(e, scope))
                .collect();
            if targets.is_empty() {
                return Err(ScimError::bad(
                    "noTarget",
                    format!("No value of {} matches {text}.", def.name),
                ));
            }
            for element in targets {
                merge(element, &patch);
            }
        }
    }
    Ok(())
}

/// RFC 7644 §3.5.2: "a PATCH operation that sets a value's "primary" sub-attribute to
/// "true" SHALL cause the server to automatically set "primary" to "false" for any other
/// values". A value is newly primary when it was not among `before`, the primary values
/// ahead of the operation; if there is one, those former ones stop being primary. An
/// operation that marks two values primary itself is left for `check_primaries` to refuse.
fn demote_former_primaries(doc: &mut Map<String, Value>, before: &[(&str, Vec<Value>)]) {
    for (key, former) in before {
        let Some(Value::Array(items)) = doc.get_mut(*key) else {
            continue;
        };
        if !items.iter().any(|v| is_primary(v) && !former.contains(v)) {
            continue;
        }
        for item in items.iter_mut() {
            if is_primary(item) && former.contains(item) {
                if let Some(object) = item.as_object_mut() {
                    object.insert("primary".to_owned(), Value::Bool(false));
                }
            }
        }
    }
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// The values of `key`: each element of a multi-valued attribute, or the one complex value.
fn elements<'d>(doc: &'d mut Map<String, Value>, key: &str) -> Vec<&'d mut Value> {
    match doc.get_mut(key) {
        Some(Value::Array(items)) => items.iter_mut().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    }
}

fn merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(target), Some(patch)) => {
            for (k, v) in patch {
                target.insert(k.clone(), v.clone());
            }
        }
        _ => *target = patch.clone(),
    }
}
