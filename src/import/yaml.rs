//! The YAML that `import` writes: a small tree of mappings, lists, scalars and comments,
//! rendered in block style with two-space indentation. A scalar is written plain only
//! when no YAML reader can take it for anything but that text; otherwise it is
//! double-quoted. Comments hold live names and values too, so they are kept on one line
//! of printable characters whatever those values contain.

/// A value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Node {
    Scalar(String),
    Bool(bool),
    /// A mapping, its entries and comments in the order written.
    Map(Vec<Item>),
    /// A sequence of scalars, with comments among them.
    List(Vec<Item>),
}

/// One line (or block) of a mapping or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Item {
    Entry(String, Node),
    Element(String),
    Comment(String),
}

impl Item {
    pub(super) fn entry(key: impl Into<String>, value: Node) -> Item {
        Item::Entry(key.into(), value)
    }

    pub(super) fn scalar(key: impl Into<String>, value: impl Into<String>) -> Item {
        Item::Entry(key.into(), Node::Scalar(value.into()))
    }

    pub(super) fn bool(key: impl Into<String>, value: bool) -> Item {
        Item::Entry(key.into(), Node::Bool(value))
    }

    fn is_comment(&self) -> bool {
        matches!(self, Item::Comment(_))
    }
}

/// A whole file: comment lines, then the top-level mapping.
pub(super) fn document(header: &[String], root: &[Item]) -> String {
    let mut out = String::new();
    for line in header {
        comment(&mut out, 0, line);
    }
    items(&mut out, 0, root);
    out
}

fn items(out: &mut String, indent: usize, list: &[Item]) {
    let pad = " ".repeat(indent);
    for item in list {
        match item {
            Item::Comment(text) => comment(out, indent, text),
            Item::Element(value) => {
                out.push_str(&format!("{pad}- {}\n", scalar(value)));
            }
            Item::Entry(key, Node::Scalar(value)) => {
                out.push_str(&format!("{pad}{}: {}\n", scalar(key), scalar(value)));
            }
            Item::Entry(key, Node::Bool(value)) => {
                out.push_str(&format!("{pad}{}: {value}\n", scalar(key)));
            }
            Item::Entry(key, Node::Map(inner) | Node::List(inner)) if inner.iter().all(Item::is_comment) => {
                let empty = if matches!(item, Item::Entry(_, Node::List(_))) {
                    "[]"
                } else {
                    "{}"
                };
                out.push_str(&format!("{pad}{}: {empty}\n", scalar(key)));
                items(out, indent + 2, inner);
            }
            Item::Entry(key, Node::Map(inner) | Node::List(inner)) => {
                out.push_str(&format!("{pad}{}:\n", scalar(key)));
                items(out, indent + 2, inner);
            }
        }
    }
}

fn comment(out: &mut String, indent: usize, text: &str) {
    let pad = " ".repeat(indent);
    if text.is_empty() {
        out.push_str(&format!("{pad}#\n"));
    } else {
        out.push_str(&format!("{pad}# {}\n", crate::text::printable(text)));
    }
}

/// `text` as a YAML scalar: plain where that cannot be read as anything else, else in
/// double quotes.
pub(super) fn scalar(text: &str) -> String {
    if is_plain(text) {
        text.to_owned()
    } else {
        quoted(text)
    }
}

/// Letters and digits of any alphabet with `.`, `_`, `-`, `@`, `/` and inner spaces,
/// starting with a letter: never a number, a boolean, null, a date or an indicator in any
/// YAML version.
fn is_plain(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    let special = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf",
    ];
    first.is_alphabetic()
        && !text.ends_with(' ')
        && !text.contains("  ")
        && text
            .chars()
            .all(|c| (c.is_alphanumeric() && !crate::text::breaks_line(c)) || " ._-@/".contains(c))
        && !special.contains(&text.to_lowercase().as_str())
}

/// A double-quoted scalar: `"` and `\` escaped, and every character a YAML stream may not
/// hold as it is, or that a reader could take for a line break, as `\uXXXX`.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if crate::text::breaks_line(c) => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_plain_only_when_nothing_else_reads_them() {
        for plain in ["alice", "Alice Liddell", "alice@example.com", "zoë", "release-managers"] {
            assert_eq!(scalar(plain), plain);
        }
        for (text, written) in [
            ("no", "\"no\""),
            ("True", "\"True\""),
            ("", "\"\""),
            ("1.0", "\"1.0\""),
            ("2fa-service", "\"2fa-service\""),
            ("a: b", "\"a: b\""),
            ("#x", "\"#x\""),
            ("${env:TOKEN}", "\"${env:TOKEN}\""),
            ("tab\there", "\"tab\\u0009here\""),
            ("line\u{2028}break", "\"line\\u2028break\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("trailing ", "\"trailing \""),
        ] {
            assert_eq!(scalar(text), written, "{text:?}");
        }
    }

    #[test]
    fn every_scalar_reads_back_as_itself() {
        let texts = [
            "no",
            "~",
            "null",
            "0x1F",
            "1e3",
            "- a",
            "? b",
            "[c]",
            "{d}",
            "&e",
            "*f",
            "!g",
            "|h",
            ">i",
            "'j'",
            "%k",
            "@l",
            "`m",
            "a #n",
            "o\u{85}p",
            "q\r\ns",
            "\u{7f}",
            "\u{FEFF}t",
            "2001-12-14",
        ];
        for text in texts {
            let yaml = document(&[], &[Item::scalar("k", text)]);
            let back: std::collections::BTreeMap<String, String> = serde_saphyr::from_str(&yaml).unwrap();
            assert_eq!(back.get("k").map(String::as_str), Some(text), "{yaml}");
        }
    }

    #[test]
    fn empty_collections_and_comments_render_as_valid_yaml() {
        let doc = document(
            &["header".to_owned()],
            &[
                Item::entry(
                    "m",
                    Node::Map(vec![Item::Comment("only a note\nwith a newline".to_owned())]),
                ),
                Item::entry(
                    "l",
                    Node::List(vec![Item::Element("a".to_owned()), Item::Comment(String::new())]),
                ),
                Item::entry("e", Node::List(Vec::new())),
            ],
        );
        assert_eq!(
            doc,
            "# header\nm: {}\n  # only a note\\u000Awith a newline\nl:\n  - a\n  #\ne: []\n"
        );
        let _: serde_json::Value = serde_saphyr::from_str(&doc).unwrap();
    }
}
