//! Okta's `search` and `filter` expressions, as far as the emulator serves them:
//! `attr op "value"` with `eq`, `sw`, `co`, `gt`, `ge`, `lt`, `le` and `pr`, joined by
//! `and` (binding tighter) and `or`, with parentheses. String values are in double
//! quotes with `\"` and `\\` escapes; `true`, `false`, `null` and numbers are bare.
//!
//! What each parameter allows is the caller's `Rules` (the description: `filter` on users
//! takes a few attributes and `eq` only, `lastUpdated` excepted; `co` only on some
//! profile attributes; no `ne` and no `not` anywhere). Anything else is an error, never
//! ignored: the emulator is not more lenient than Okta.

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Compare { attr: String, op: Op, value: Literal },
    Present { attr: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Sw,
    Co,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Bare(String),
}

/// What an expression parameter allows, and how it compares strings.
pub struct Rules {
    /// Whether `attr` may be used at all.
    pub attribute: fn(&str) -> bool,
    /// Whether `op` may be used on `attr`.
    pub operator: fn(&str, Op) -> bool,
    /// `search` compares values without regard to case; `filter` with.
    pub case_sensitive: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Word(String),
    Text(String),
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            '"' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err("a quoted value is not closed".to_owned()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(escaped) => value.push(escaped),
                            None => return Err("a quoted value ends in `\\`".to_owned()),
                        },
                        Some(other) => value.push(other),
                    }
                }
                out.push(Token::Text(value));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '"' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

/// Parses `text` under `rules`.
pub fn parse(text: &str, rules: &Rules) -> Result<Expr, String> {
    let tokens = tokens(text)?;
    let mut parser = Parser {
        tokens: &tokens,
        at: 0,
        rules,
    };
    let expr = parser.or()?;
    if parser.at != tokens.len() {
        return Err("unexpected text after the expression".to_owned());
    }
    Ok(expr)
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    rules: &'a Rules,
}

impl Parser<'_> {
    fn next(&mut self) -> Option<&Token> {
        let token = self.tokens.get(self.at);
        self.at += 1;
        token
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.term()?;
        while self.keyword("and") {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.term()?));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, String> {
        let rules = self.rules;
        match self.next().cloned() {
            Some(Token::Open) => {
                let inner = self.or()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err("a `(` is not closed".to_owned()),
                }
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("not") => {
                Err("the `not` operator is not supported".to_owned())
            }
            Some(Token::Word(attr)) => {
                if !(rules.attribute)(&attr) {
                    return Err(format!("`{attr}` cannot be used in this expression"));
                }
                let op = match self.next() {
                    Some(Token::Word(op)) => op.to_ascii_lowercase(),
                    _ => return Err(format!("`{attr}` has no operator")),
                };
                let op = match op.as_str() {
                    "pr" => return Ok(Expr::Present { attr }),
                    "eq" => Op::Eq,
                    "sw" => Op::Sw,
                    "co" => Op::Co,
                    "gt" => Op::Gt,
                    "ge" => Op::Ge,
                    "lt" => Op::Lt,
                    "le" => Op::Le,
                    other => return Err(format!("the operator `{other}` is not supported")),
                };
                if !(rules.operator)(&attr, op) {
                    return Err(format!("the operator `{op:?}` cannot be used on `{attr}`").to_lowercase());
                }
                let value = match self.next() {
                    Some(Token::Text(t)) => Literal::Text(t.clone()),
                    Some(Token::Word(w)) => Literal::Bare(w.clone()),
                    _ => return Err(format!("`{attr}` has no value to compare with")),
                };
                Ok(Expr::Compare { attr, op, value })
            }
            _ => Err("an attribute was expected".to_owned()),
        }
    }
}

impl Expr {
    /// Whether an object matches; `get` reads an attribute as text (`None` when absent
    /// or null).
    pub fn matches(&self, get: &dyn Fn(&str) -> Option<String>, case_sensitive: bool) -> bool {
        match self {
            Expr::Or(a, b) => a.matches(get, case_sensitive) || b.matches(get, case_sensitive),
            Expr::And(a, b) => a.matches(get, case_sensitive) && b.matches(get, case_sensitive),
            Expr::Present { attr } => get(attr).is_some_and(|v| !v.is_empty()),
            Expr::Compare { attr, op, value } => {
                let Some(have) = get(attr) else {
                    return matches!(value, Literal::Bare(b) if b == "null") && *op == Op::Eq;
                };
                let want = match value {
                    Literal::Text(t) | Literal::Bare(t) => t.clone(),
                };
                let (have, want) = if case_sensitive {
                    (have, want)
                } else {
                    (have.to_lowercase(), want.to_lowercase())
                };
                match op {
                    Op::Eq => have == want,
                    Op::Sw => have.starts_with(&want),
                    Op::Co => have.contains(&want),
                    Op::Gt => have > want,
                    Op::Ge => have >= want,
                    Op::Lt => have < want,
                    Op::Le => have <= want,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANY: Rules = Rules {
        attribute: |_| true,
        operator: |_, _| true,
        case_sensitive: false,
    };

    #[test]
    fn and_binds_tighter_than_or_and_quotes_escape() {
        let e = parse(r#"a eq "1" or b eq "x \"y\"" and (c sw "z")"#, &ANY).unwrap();
        let get = |attr: &str| match attr {
            "b" => Some("X \"Y\"".to_owned()),
            "c" => Some("zed".to_owned()),
            _ => None,
        };
        assert!(e.matches(&get, false));
        assert!(!e.matches(&get, true));
    }

    #[test]
    fn what_okta_refuses_is_refused() {
        assert!(parse(r#"status ne "ACTIVE""#, &ANY).is_err());
        assert!(parse(r#"not status eq "ACTIVE""#, &ANY).is_err());
        assert!(parse(r#"status eq "ACTIVE" or"#, &ANY).is_err());
        assert!(parse(r#"(status eq "ACTIVE""#, &ANY).is_err());
        assert!(parse(r#"status eq "ACTIVE"#, &ANY).is_err());
        let eq_only = Rules {
            attribute: |a| a == "status",
            operator: |_, op| op == Op::Eq,
            case_sensitive: true,
        };
        assert!(parse(r#"status sw "A""#, &eq_only).is_err());
        assert!(parse(r#"profile.city eq "A""#, &eq_only).is_err());
    }
}
