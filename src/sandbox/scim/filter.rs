//! SCIM filters (RFC 7644 §3.4.2.2) and attribute paths (§3.5.2's `PATH`), parsed, checked
//! against the schema and evaluated over a resource's JSON representation, so the same code
//! serves users, groups and PATCH paths. The schema (`schema::Scope`) decides what the
//! grammar cannot: which comparisons an attribute allows, and whether it compares with case.

use serde_json::Value;

use super::schema::{self, Attr, Kind, Scope};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::scim::profile::RFC;
    use crate::sandbox::scim::schema::user_attrs;
    use serde_json::json;

    fn users() -> Scope {
        Scope::resource(user_attrs(&RFC))
    }

    #[test]
    fn parses_and_evaluates() {
        let user = json!({"userName": "Alice", "emails": [{"value": "a@x.io", "type": "work"}], "active": true,
                          "meta": {"created": "2020-01-01T00:00:00Z"}});
        let yes = [
            r#"userName eq "alice""#,
            r#"USERNAME Eq "ALICE""#,
            r#"userName sw "Al" and active eq true"#,
            r#"emails[type eq "work" and value co "@x"]"#,
            r#"emails.value ew ".io""#,
            r#"not (userName eq "bob")"#,
            r#"(userName eq "bob") or emails pr"#,
            "urn:ietf:params:scim:schemas:core:2.0:User:userName pr",
            r#"meta.created gt "2019-01-01T00:00:00Z""#,
            r#"title ne "x""#,
        ];
        for text in yes {
            let filter = parse_filter(text).unwrap();
            filter.check(users()).unwrap();
            assert!(filter.matches(&user, users()), "{text}");
        }
        for text in [r#"userName eq "bob""#, "title pr", r#"emails[type eq "home"]"#] {
            assert!(!parse_filter(text).unwrap().matches(&user, users()), "{text}");
        }
        for text in [
            "",
            "userName",
            r#"userName eq"#,
            r#"userName xx "a""#,
            r#"(userName eq "a""#,
            "1abc pr",
        ] {
            assert!(parse_filter(text).is_err(), "{text}");
        }
    }

    /// RFC 7644 §3.4.2.2: a comparison needs a sub-attribute of a complex attribute, and a
    /// boolean has no order; presence and equality remain.
    #[test]
    fn refuses_what_the_schema_forbids() {
        for text in [
            r#"emails eq "a@x.io""#,
            r#"name eq "x""#,
            r#"meta ne "x""#,
            r#"emails[type eq "work"] eq "x""#,
            "active gt true",
            "active le false",
            "emails[primary ge true]",
            r#"userName[value eq "x"]"#,
            r#"userName eq "a" and not (name co "x")"#,
        ] {
            assert!(parse_filter(text).unwrap().check(users()).is_err(), "{text}");
        }
        for text in [
            "emails pr",
            "name pr",
            "active eq true",
            r#"emails.value eq "x""#,
            r#"emails[type eq "work"]"#,
            r#"meta.lastModified gt "2026-01-01T00:00:00Z""#,
            r#"title gt "x""#,
        ] {
            parse_filter(text).unwrap().check(users()).unwrap();
        }
    }

    /// Case-exactness is the schema's, per attribute path, not the leaf's name.
    #[test]
    fn case_follows_the_schema() {
        let user = json!({"id": "AbC", "userName": "Alice", "externalId": "Ext",
                          "emails": [{"value": "A@X.io", "type": "Work"}],
                          "meta": {"resourceType": "User", "version": "W/\"1\""}});
        for text in [
            r#"userName eq "alice""#,
            r#"emails.value eq "a@x.IO""#,
            r#"emails[value eq "a@x.io"]"#,
            r#"emails[type eq "work"]"#,
            r#"id eq "AbC""#,
            r#"externalId eq "Ext""#,
            r#"meta.resourceType eq "User""#,
        ] {
            assert!(parse_filter(text).unwrap().matches(&user, users()), "{text}");
        }
        for text in [
            r#"id eq "abc""#,
            r#"externalId eq "ext""#,
            r#"meta.resourceType eq "user""#,
            r#"meta.version eq "w/\"1\"""#,
        ] {
            assert!(!parse_filter(text).unwrap().matches(&user, users()), "{text}");
        }
        let groups = Scope::resource(crate::sandbox::scim::schema::group_attrs(&RFC));
        let group = json!({"displayName": "Devs", "members": [{"value": "AbC"}]});
        assert!(parse_filter(r#"displayName eq "devs""#)
            .unwrap()
            .matches(&group, groups));
        assert!(parse_filter(r#"members[value eq "AbC"]"#)
            .unwrap()
            .matches(&group, groups));
        assert!(!parse_filter(r#"members[value eq "abc"]"#)
            .unwrap()
            .matches(&group, groups));
    }

    #[test]
    fn parses_patch_paths() {
        let path = parse_path(r#"members[value eq "2819c223"]"#).unwrap();
        assert_eq!(path.attr, "members");
        assert!(path.filter.is_some());
        let path = parse_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(path.sub.as_deref(), Some("value"));
        assert_eq!(parse_path("name.givenName").unwrap().sub.as_deref(), Some("givenName"));
        assert!(parse_path("members[").is_err());
    }
}
