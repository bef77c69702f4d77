//! One target's `access` entry as written. Its keys are its platform's (`global`,
//! `projects`, `repos`, `all_users` on Bitbucket Data Center), and which platform a target
//! is only `resolve` knows, so the entry is kept as a tree of named values with their
//! locations and `resolve` reads it against the platform.
//!
//! The JSON Schema of the section is derived from every platform in the provider
//! registry: the union of their shapes, each key described with the platforms that take
//! it. The shape check holds files to that union; `resolve` holds each target's entry to
//! its own platform.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Map, Value as Json};
use serde_saphyr::Spanned;

use crate::platform::Platform;

/// The entries of one scope, in file order. Duplicate keys never reach it: the parser
/// rejects them.
#[derive(Debug, Default)]
pub struct RawAccess(pub Vec<(Spanned<String>, Spanned<AccessValue>)>);

/// The value of one entry.
#[derive(Debug)]
pub enum AccessValue {
    /// A scalar, as text: a role word.
    Text(String),
    /// A mapping: a scope's entries, or names and their values. `key:` with nothing after
    /// it is an empty mapping.
    Entries(RawAccess),
    /// A list, which no platform's access takes.
    List,
}

impl AccessValue {
    /// What the value is, for a message.
    pub fn describe(&self) -> &'static str {
        match self {
            AccessValue::Text(_) => "a word",
            AccessValue::Entries(_) => "a mapping",
            AccessValue::List => "a list",
        }
    }
}

impl<'de> Deserialize<'de> for RawAccess {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match AccessValue::deserialize(d)? {
            AccessValue::Entries(entries) => Ok(entries),
            other => Err(serde::de::Error::custom(format!(
                "expected a mapping, found {}",
                other.describe()
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for AccessValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = AccessValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping or a word")
    }
    fn visit_bool<E>(self, v: bool) -> Result<AccessValue, E> {
        Ok(AccessValue::Text(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<AccessValue, E> {
        Ok(AccessValue::Text(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<AccessValue, E> {
        Ok(AccessValue::Text(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<AccessValue, E> {
        Ok(AccessValue::Text(v.to_string()))
    }
    fn visit_str<E>(self, v: &str) -> Result<AccessValue, E> {
        Ok(AccessValue::Text(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<AccessValue, E> {
        Ok(AccessValue::Text(v))
    }
    fn visit_unit<E>(self) -> Result<AccessValue, E> {
        Ok(AccessValue::Entries(RawAccess::default()))
    }
    fn visit_none<E>(self) -> Result<AccessValue, E> {
        Ok(AccessValue::Entries(RawAccess::default()))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<AccessValue, D::Error> {
        AccessValue::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AccessValue, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(AccessValue::List)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AccessValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<AccessValue>>()?;
            entries.push((key, value));
        }
        Ok(AccessValue::Entries(RawAccess(entries)))
    }
}

impl JsonSchema for RawAccess {
    fn schema_name() -> Cow<'static, str> {
        "Access".into()
    }

    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        let role = gen.subschema_for::<super::raw::RoleValue>().to_value();
        let (shape, _) = union(crate::provider::registry::PLATFORMS.iter().map(|r| r.platform));
        let mut schema = shape.to_json(&role);
        if let Some(object) = schema.as_object_mut() {
            object.insert(
                "description".into(),
                "Access on one target. Its keys depend on the target's kind; each key says which kinds take it.".into(),
            );
            if let Some(example) = shape.example() {
                object.insert("examples".into(), json!([example]));
            }
        }
        Schema::try_from(schema).unwrap_or_default()
    }
}

/// The shape of one scope's entry, merged over platforms.
#[derive(Default)]
struct Shape {
    /// What `users` and `groups` mean here, per platform that grants here directly.
    grants: Vec<About>,
    keys: BTreeMap<&'static str, Key>,
}

struct Key {
    /// What the key means, per platform.
    about: Vec<About>,
    what: What,
}

enum What {
    /// The root scope's grants: an entry with `users` and `groups`.
    Grants(Shape),
    /// A default: one role word.
    Word,
    /// Segments by name, each an entry of the child scope.
    Named { example: &'static str, shape: Shape },
}

impl What {
    fn kind(&self) -> &'static str {
        match self {
            What::Grants(_) => "grants",
            What::Word => "a role word",
            What::Named { .. } => "named scopes",
        }
    }
}

/// The merged shape of the platforms' `access` entries, and every key two platforms
/// give different meanings (kept as the first platform wrote it). The registry's test
/// asserts there are none.
fn union(platforms: impl Iterator<Item = Platform>) -> (Shape, Vec<String>) {
    let mut shape = Shape::default();
    let mut conflicts = Vec::new();
    for platform in platforms {
        shape.add(platform, &mut Vec::new(), &mut conflicts);
    }
    (shape, conflicts)
}

impl Shape {
    /// Adds what `platform` accepts in the entry of a scope with segment kinds `kinds`.
    fn add(&mut self, platform: Platform, kinds: &mut Vec<&'static str>, conflicts: &mut Vec<String>) {
        let label = platform.label();
        if let Some(roles) = platform.scope_roles(kinds) {
            let about = About {
                text: format!("role words {}", roles.valid()),
                label: label.clone(),
            };
            if roles.key.is_empty() {
                self.grants.push(about);
            } else {
                let mut inner = Shape::default();
                inner.grants.push(about.clone());
                self.merge(roles.key, about, What::Grants(inner), conflicts);
            }
        }
        if let Some(roles) = platform.default_roles(kinds) {
            let about = About {
                text: format!("the {}: {}", roles.noun, roles.valid()),
                label: label.clone(),
            };
            self.merge(roles.key, about, What::Word, conflicts);
        }
        for rule in platform.children(kinds) {
            kinds.push(rule.kind);
            let mut inner = Shape::default();
            inner.add(platform, kinds, conflicts);
            kinds.pop();
            let about = About {
                text: format!("by {}, each with its grants and the scopes under it", rule.noun),
                label: label.clone(),
            };
            let what = What::Named {
                example: rule.example,
                shape: inner,
            };
            self.merge(rule.key, about, what, conflicts);
        }
    }

    fn merge(&mut self, key: &'static str, about: About, what: What, conflicts: &mut Vec<String>) {
        let Some(existing) = self.keys.get_mut(key) else {
            self.keys.insert(
                key,
                Key {
                    about: vec![about],
                    what,
                },
            );
            return;
        };
        existing.about.push(about);
        match (&mut existing.what, what) {
            (What::Grants(mine), What::Grants(theirs)) => mine.absorb(theirs, conflicts),
            (What::Named { shape: mine, .. }, What::Named { shape: theirs, .. }) => mine.absorb(theirs, conflicts),
            (What::Word, What::Word) => {}
            (mine, theirs) => conflicts.push(format!("`{key}` is {} and {}", mine.kind(), theirs.kind())),
        }
    }

    fn absorb(&mut self, other: Shape, conflicts: &mut Vec<String>) {
        self.grants.extend(other.grants);
        for (key, entry) in other.keys {
            let mut about = entry.about.into_iter();
            if let Some(first) = about.next() {
                self.merge(key, first, entry.what, conflicts);
            }
            if let Some(existing) = self.keys.get_mut(key) {
                existing.about.extend(about);
            }
        }
    }

    fn to_json(&self, role: &Json) -> Json {
        let mut properties = Map::new();
        if !self.grants.is_empty() {
            let about = About::join(&self.grants);
            for (field, whom) in [
                ("users", "declared users, by key"),
                ("groups", "declared groups, by name"),
            ] {
                properties.insert(
                    field.into(),
                    json!({
                        "type": ["object", "null"],
                        "description": format!("Permissions of {whom}: {about}."),
                        "additionalProperties": role,
                    }),
                );
            }
        }
        for (key, entry) in &self.keys {
            let about = About::join(&entry.about);
            let value = match &entry.what {
                What::Grants(shape) => {
                    with_description(shape.to_json(role), format!("Grants on the whole target: {about}."))
                }
                What::Word => {
                    json!({ "type": "string", "description": format!("What everyone may do here, {about}.") })
                }
                What::Named { shape, .. } => json!({
                    "type": ["object", "null"],
                    "description": format!("Entries {about}."),
                    "additionalProperties": shape.to_json(role),
                }),
            };
            properties.insert((*key).into(), value);
        }
        json!({ "type": ["object", "null"], "additionalProperties": false, "properties": properties })
    }

    /// An entry that grants a group on the first named scope, for the schema's example.
    fn example(&self) -> Option<Json> {
        self.keys.iter().find_map(|(key, entry)| match &entry.what {
            What::Named { example, shape } if !shape.grants.is_empty() => {
                Some(json!({ *key: { *example: { "groups": { "devops": "write" } } } }))
            }
            _ => None,
        })
    }
}

/// What a key means on one platform.
#[derive(Clone)]
struct About {
    text: String,
    label: String,
}

impl About {
    /// The texts in first-seen order, each with the platforms that mean it:
    /// `by project key (bitbucket-datacenter, bitbucket-cloud)`.
    fn join(all: &[About]) -> String {
        let mut texts: Vec<(&str, Vec<&str>)> = Vec::new();
        for about in all {
            match texts.iter_mut().find(|(t, _)| *t == about.text) {
                Some((_, labels)) => labels.push(&about.label),
                None => texts.push((&about.text, vec![&about.label])),
            }
        }
        let parts: Vec<String> = texts
            .into_iter()
            .map(|(text, labels)| format!("{text} ({})", labels.join(", ")))
            .collect();
        parts.join("; ")
    }
}

fn with_description(mut schema: Json, description: String) -> Json {
    if let Some(object) = schema.as_object_mut() {
        object.insert("description".into(), description.into());
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Platforms that share a key mean the same kind of thing by it, so one schema
    /// describes them all.
    #[test]
    fn the_registry_platforms_agree_on_what_each_access_key_is() {
        let (shape, conflicts) = union(crate::provider::registry::PLATFORMS.iter().map(|r| r.platform));
        assert!(conflicts.is_empty(), "{conflicts:?}");
        assert!(
            shape.keys.contains_key("projects"),
            "{:?}",
            shape.keys.keys().collect::<Vec<_>>()
        );
    }

    /// A platform of pipelines granted to teams straight at the root, and one that
    /// misuses `projects` as a role word.
    const PIPES: crate::platform::Spec = crate::platform::Spec {
        kind: "pipes",
        segments: &[crate::platform::SegmentRule {
            kind: "pipeline",
            key: "pipelines",
            example: "deploy",
            noun: "pipeline slug",
            valid: |_| true,
            rule: "",
        }],
        scopes: &[crate::platform::ScopeRoles {
            path: &["pipeline"],
            noun: "pipeline",
            key: "",
            words: &[("read", Some("READ_ONLY"))],
            natives: &[],
            holders: crate::platform::Holders::Both,
        }],
        defaults: &[],
        ..crate::provider::bitbucket_dc::SPEC
    };
    const ODD: crate::platform::Spec = crate::platform::Spec {
        kind: "odd",
        segments: &[],
        scopes: &[crate::platform::ScopeRoles {
            path: &[],
            noun: "odd permissions",
            key: "projects",
            words: &[("read", Some("R"))],
            natives: &[],
            holders: crate::platform::Holders::Both,
        }],
        defaults: &[],
        ..crate::provider::bitbucket_dc::SPEC
    };

    /// A new platform's keys join the schema beside the others', each described with
    /// the platforms that take it; a key two platforms mean differently is a conflict.
    #[test]
    fn platforms_merge_into_one_access_schema() {
        let dc = crate::provider::bitbucket_dc::PLATFORM;
        let pipes = Platform::new(&PIPES);
        let (shape, conflicts) = union([dc, pipes].into_iter());
        assert!(conflicts.is_empty(), "{conflicts:?}");
        let keys: Vec<&str> = shape.keys.keys().copied().collect();
        assert_eq!(keys, ["global", "pipelines", "projects"]);
        let json = shape.to_json(&json!({"type": "string"}));
        let pipeline = &json["properties"]["pipelines"]["additionalProperties"];
        let users = pipeline["properties"]["users"]["description"]
            .as_str()
            .unwrap_or_default();
        assert!(users.contains("read (pipes)"), "{users}");
        assert_eq!(pipeline["additionalProperties"], json!(false));
        let (_, conflicts) = union([dc, Platform::new(&ODD)].into_iter());
        assert_eq!(conflicts, ["`projects` is named scopes and grants"]);
    }

    #[test]
    fn entries_keep_their_order_and_empty_values_are_empty_mappings() {
        let text = "global: { users: { ann: admin } }\nprojects:\n  PLAT:\n    all_users: read\n  OPS:\n";
        let access: RawAccess = serde_saphyr::from_str(text).unwrap();
        let keys: Vec<&str> = access.0.iter().map(|(k, _)| k.value.as_str()).collect();
        assert_eq!(keys, ["global", "projects"]);
        let AccessValue::Entries(projects) = &access.0[1].1.value else {
            panic!("{access:?}")
        };
        assert_eq!(projects.0[0].0.referenced.line(), 3);
        assert!(matches!(&projects.0[1].1.value, AccessValue::Entries(e) if e.0.is_empty()));
        let AccessValue::Entries(plat) = &projects.0[0].1.value else {
            panic!("{projects:?}")
        };
        assert!(matches!(&plat.0[0].1.value, AccessValue::Text(t) if t == "read"));
    }
}
