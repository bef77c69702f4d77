//! A manifest file as a YAML tree that keeps where every node was written, read before
//! the file is held to the manifest's shape. The tree takes any well-formed YAML, so that
//! `shape` can look at the whole file and report every problem in it, not the first one
//! the typed structs trip over.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{DuplicateKeyPolicy, Location, Options, Spanned};

/// One YAML node and where it was written (for an alias, where the alias is).
#[derive(Debug)]
pub(crate) struct Node {
    pub value: Value,
    pub at: Location,
}

#[derive(Debug)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Text(String),
    List(Vec<Node>),
    /// Entries in file order, repeated keys included: `shape` reports them, each one.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The node as a key or scalar text, if it is a scalar.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Text(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Null | Value::List(_) | Value::Map(_) => None,
        }
    }
}

/// Reads `text` into a tree with the loader's options, except that repeated keys reach
/// the tree (to be reported all together) instead of stopping the parse at the first.
pub(crate) fn parse(text: &str, mut options: Options) -> Result<Node, serde_saphyr::Error> {
    options.duplicate_keys = DuplicateKeyPolicy::PassThrough;
    serde_saphyr::from_str_with_options::<Node>(text, options)
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(d)?;
        Ok(Node {
            value: spanned.value,
            at: spanned.referenced,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        // Beyond i128 only as a float: every limit it could fill is far smaller.
        Ok(i128::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Text(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Text(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, Value};

    #[test]
    fn scalars_lists_maps_and_repeated_keys_are_kept_with_their_lines() {
        let text = "a: alice, bob\nb: [1, ~, x]\na: true\nc:\n";
        let root = parse(text, crate::manifest::options()).unwrap();
        let Value::Map(entries) = root.value else {
            panic!("{root:?}")
        };
        let keys: Vec<_> = entries
            .iter()
            .map(|(k, _)| (k.scalar_text().unwrap(), k.at.line()))
            .collect();
        assert_eq!(
            keys,
            [("a".into(), 1), ("b".into(), 2), ("a".into(), 3), ("c".into(), 4)]
        );
        assert!(matches!(&entries[0].1.value, Value::Text(t) if t == "alice, bob"));
        assert!(matches!(&entries[1].1.value, Value::List(l) if matches!(l[1].value, Value::Null)));
        assert!(matches!(entries[2].1.value, Value::Bool(true)));
        assert!(matches!(entries[3].1.value, Value::Null));
    }
}
