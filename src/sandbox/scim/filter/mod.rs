//! SCIM filters (RFC 7644 §3.4.2.2) and attribute paths (§3.5.2's `PATH`), parsed, checked
//! against the schema and evaluated over a resource's JSON representation, so the same code
//! serves users, groups and PATCH paths. The schema (`schema::Scope`) decides what the
//! grammar cannot: which comparisons an attribute allows, and whether it compares with case.
//!
//! This module is the syntax: the tree and its parser, with the bounds that keep a client's
//! input from exhausting the stack. `eval` checks a tree against the schema and matches it.

mod eval;
#[cfg(test)]
mod tests;

pub use eval::get_ci;

use serde_json::Value;

/// `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub`, optionally prefixed with a
/// schema URN; names are case-insensitive (RFC 7643 §2.1).
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    pub attr: String,
    pub filter: Option<Box<Filter>>,
    pub sub: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare(AttrPath, CompareOp, Value),
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Lt,
    Ge,
    Le,
}

/// How deep brackets and parentheses may nest. Real clients nest two or three levels; the
/// parser and every walk over a filter recurse once per level, and a client's input must
/// not be able to overflow the emulator's stack.
pub const MAX_NESTING: usize = 32;

/// How many comparisons one filter may hold. `a and b and c ...` builds a tree as deep as
/// it is long, so its length bounds the recursion of `check`, `matches` and drop too.
pub const MAX_TERMS: usize = 256;

pub fn parse_filter(text: &str) -> Result<Filter, String> {
    let mut parser = Parser::new(text);
    let filter = parser.or_expr()?;
    parser.skip_ws();
    if parser.rest().is_empty() {
        Ok(filter)
    } else {
        Err(format!("unexpected `{}`", parser.rest()))
    }
}

/// A PATCH `path`: an attribute path whose brackets may hold a filter.
pub fn parse_path(text: &str) -> Result<AttrPath, String> {
    let mut parser = Parser::new(text);
    let path = parser.attr_path()?;
    parser.skip_ws();
    if parser.rest().is_empty() {
        Ok(path)
    } else {
        Err(format!("unexpected `{}`", parser.rest()))
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    /// Brackets and parentheses open at `pos`.
    depth: usize,
    /// Comparisons and presence tests read so far.
    terms: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            pos: 0,
            depth: 0,
            terms: 0,
        }
    }

    /// `or_expr` one level deeper, refused beyond `MAX_NESTING` before recursing.
    fn nested_or_expr(&mut self) -> Result<Filter, String> {
        if self.depth >= MAX_NESTING {
            return Err(format!("the filter nests deeper than {MAX_NESTING} levels"));
        }
        self.depth += 1;
        let inner = self.or_expr();
        self.depth -= 1;
        inner
    }

    /// Counts one more comparison, refused beyond `MAX_TERMS`.
    fn count_term(&mut self) -> Result<(), String> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(format!("the filter has more than {MAX_TERMS} comparisons"));
        }
        Ok(())
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    /// A case-insensitive keyword followed by a space or bracket.
    fn eat_keyword(&mut self, word: &str) -> bool {
        self.skip_ws();
        let rest = self.rest();
        let matches = rest.len() > word.len()
            && rest.is_char_boundary(word.len())
            && rest[..word.len()].eq_ignore_ascii_case(word)
            && rest[word.len()..].starts_with([' ', '(']);
        if matches {
            self.pos += word.len();
        }
        matches
    }

    fn or_expr(&mut self) -> Result<Filter, String> {
        let mut left = self.and_expr()?;
        while self.eat_keyword("or") {
            let right = self.and_expr()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Filter, String> {
        let mut left = self.factor()?;
        while self.eat_keyword("and") {
            let right = self.factor()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn factor(&mut self) -> Result<Filter, String> {
        if self.eat_keyword("not") {
            if !self.eat("(") {
                return Err("`not` must be followed by `(`".to_owned());
            }
            let inner = self.nested_or_expr()?;
            if !self.eat(")") {
                return Err("missing `)`".to_owned());
            }
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.eat("(") {
            let inner = self.nested_or_expr()?;
            if !self.eat(")") {
                return Err("missing `)`".to_owned());
            }
            return Ok(inner);
        }
        self.count_term()?;
        let path = self.attr_path()?;
        // `emails[type eq "work"]` alone is a complete filter (a value path).
        if path.filter.is_some() && path.sub.is_none() {
            self.skip_ws();
            if self.rest().is_empty() || self.rest().starts_with(')') || self.peek_logical() {
                return Ok(Filter::Present(path));
            }
        }
        if self.eat_keyword("pr") || self.rest_is_keyword_at_end("pr") {
            return Ok(Filter::Present(path));
        }
        let op = self.compare_op()?;
        let value = self.comp_value()?;
        Ok(Filter::Compare(path, op, value))
    }

    fn peek_logical(&self) -> bool {
        let rest = self.rest().to_ascii_lowercase();
        rest.starts_with("and ") || rest.starts_with("or ")
    }

    /// `pr` at the very end of the filter (no trailing space for `eat_keyword` to see).
    fn rest_is_keyword_at_end(&mut self, word: &str) -> bool {
        self.skip_ws();
        let rest = self.rest();
        // `get`, not indexing: the input is a client's, and a cut inside a multi-byte
        // character must be a mismatch, not a panic.
        let at_end = rest.get(..word.len()).is_some_and(|w| w.eq_ignore_ascii_case(word))
            && rest
                .get(word.len()..)
                .is_some_and(|after| after.is_empty() || after.starts_with([')', ']']));
        if at_end {
            self.pos += word.len();
        }
        at_end
    }

    fn compare_op(&mut self) -> Result<CompareOp, String> {
        self.skip_ws();
        let word: String = self.rest().chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        let op = match word.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "lt" => CompareOp::Lt,
            "ge" => CompareOp::Ge,
            "le" => CompareOp::Le,
            _ => return Err(format!("expected an operator at `{}`", self.rest())),
        };
        self.pos += word.len();
        Ok(op)
    }

    /// A JSON string, number, `true`, `false` or `null`.
    fn comp_value(&mut self) -> Result<Value, String> {
        self.skip_ws();
        let rest = self.rest();
        if rest.starts_with('"') {
            let mut escaped = false;
            for (i, c) in rest.char_indices().skip(1) {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    let literal = &rest[..=i];
                    self.pos += i + 1;
                    return serde_json::from_str(literal).map_err(|e| format!("bad string {literal}: {e}"));
                }
            }
            return Err("unterminated string".to_owned());
        }
        let token: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != ')' && *c != ']')
            .collect();
        let value = match token.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            _ => match serde_json::from_str::<serde_json::Number>(&token) {
                Ok(n) => Value::Number(n),
                Err(_) => return Err(format!("expected a value at `{rest}`")),
            },
        };
        self.pos += token.len();
        Ok(value)
    }

    fn attr_path(&mut self) -> Result<AttrPath, String> {
        self.skip_ws();
        let rest = self.rest();
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '[' || c == ')' || c == ']')
            .unwrap_or(rest.len());
        let raw = &rest[..end];
        if raw.is_empty() {
            return Err(format!("expected an attribute at `{rest}`"));
        }
        self.pos += end;
        // A URN prefix names the schema; the attribute follows its last `:`.
        let name = if raw.to_ascii_lowercase().starts_with("urn:") {
            raw.rsplit_once(':').map_or(raw, |(_, n)| n)
        } else {
            raw
        };
        let (attr, mut sub) = match name.split_once('.') {
            Some((a, s)) => (a.to_owned(), Some(s.to_owned())),
            None => (name.to_owned(), None),
        };
        check_name(&attr)?;
        let mut filter = None;
        if self.rest().starts_with('[') {
            if sub.is_some() {
                return Err(format!("unexpected `[` after {name}"));
            }
            self.pos += 1;
            filter = Some(Box::new(self.nested_or_expr()?));
            if !self.eat("]") {
                return Err("missing `]`".to_owned());
            }
            if self.rest().starts_with('.') {
                let after = &self.rest()[1..];
                let len = after
                    .find(|c: char| c.is_whitespace() || c == ')' || c == ']')
                    .unwrap_or(after.len());
                sub = Some(after[..len].to_owned());
                self.pos += 1 + len;
            }
        }
        if let Some(s) = &sub {
            check_name(s)?;
        }
        Ok(AttrPath { attr, filter, sub })
    }
}

/// RFC 7643 §2.1: `ATTRNAME = ALPHA *(nameChar)`, nameChar = `-` / `_` / DIGIT / ALPHA,
/// plus `$ref`.
fn check_name(name: &str) -> Result<(), String> {
    let valid = name == "$ref"
        || (name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    if valid {
        Ok(())
    } else {
        Err(format!("`{name}` is not an attribute name"))
    }
}
