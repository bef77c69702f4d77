//! The part of BBQL (Bitbucket's `q=` query language) the served lists filter by:
//! comparisons of a field with a quoted string (`permission="owner"`,
//! `project.key = "PLAT"`), `field IN ("a", "b")`, joined with `AND`. Each list says
//! which fields it filters by; anything else is refused with a 400, as the vendor refuses
//! a query it cannot run rather than ignoring it.

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    In,
}

/// One condition: `field op value` (`IN`: any of `values`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub field: String,
    pub op: Op,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Text(String),
    Op(Op),
    Open,
    Close,
    Comma,
}

fn tokens(query: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = query.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' => {
                chars.next();
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Comma,
                });
            }
            '"' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        None => return Err("unterminated string".to_owned()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(escaped) => text.push(escaped),
                            None => return Err("unterminated string".to_owned()),
                        },
                        Some(other) => text.push(other),
                    }
                }
                out.push(Token::Text(text));
            }
            '=' | '!' | '>' | '<' => {
                chars.next();
                let equals = chars.peek() == Some(&'=');
                if equals {
                    chars.next();
                }
                out.push(Token::Op(match (c, equals) {
                    ('=', false) => Op::Eq,
                    ('!', true) => Op::Ne,
                    ('>', false) => Op::Gt,
                    ('>', true) => Op::Ge,
                    ('<', false) => Op::Lt,
                    ('<', true) => Op::Le,
                    _ => return Err(format!("unexpected `{c}`")),
                }));
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == '.' => {
                let mut name = String::new();
                while let Some(&c) = chars
                    .peek()
                    .filter(|c| c.is_ascii_alphanumeric() || **c == '_' || **c == '.')
                {
                    name.push(c);
                    chars.next();
                }
                if name.eq_ignore_ascii_case("in") {
                    out.push(Token::Op(Op::In));
                } else {
                    out.push(Token::Name(name));
                }
            }
            other => return Err(format!("unexpected `{other}`")),
        }
    }
    Ok(out)
}

/// Parses `query` into conditions all of which must hold; `fields` are those the list
/// filters by.
pub fn parse(query: &str, fields: &[&str]) -> Result<Vec<Condition>, String> {
    let tokens = tokens(query)?;
    let mut at = 0;
    let mut conditions = Vec::new();
    loop {
        let Some(Token::Name(field)) = tokens.get(at) else {
            return Err("expected a field name".to_owned());
        };
        if !fields.contains(&field.as_str()) {
            return Err(format!("'{field}' is not a field this resource can be filtered by"));
        }
        let Some(Token::Op(op)) = tokens.get(at + 1) else {
            return Err(format!("expected an operator after '{field}'"));
        };
        at += 2;
        let values = if *op == Op::In {
            if tokens.get(at) != Some(&Token::Open) {
                return Err("expected '(' after IN".to_owned());
            }
            at += 1;
            let mut values = Vec::new();
            loop {
                let Some(Token::Text(value)) = tokens.get(at) else {
                    return Err("expected a quoted value".to_owned());
                };
                values.push(value.clone());
                at += 1;
                match tokens.get(at) {
                    Some(Token::Comma) => at += 1,
                    Some(Token::Close) => {
                        at += 1;
                        break;
                    }
                    _ => return Err("expected ',' or ')'".to_owned()),
                }
            }
            values
        } else {
            let Some(Token::Text(value)) = tokens.get(at) else {
                return Err(format!("expected a quoted value after '{field}'"));
            };
            at += 1;
            vec![value.clone()]
        };
        conditions.push(Condition {
            field: field.clone(),
            op: *op,
            values,
        });
        match tokens.get(at) {
            None => return Ok(conditions),
            Some(Token::Name(word)) if word.eq_ignore_ascii_case("and") => at += 1,
            Some(_) => return Err("expected AND or the end of the query".to_owned()),
        }
    }
}

impl Condition {
    /// Whether `value` (of this condition's field) satisfies it; `order` ranks values for
    /// `>`/`<` (permission levels), and text compares exactly unless `fold` says to
    /// ignore case (emails).
    pub fn holds(&self, value: &str, fold: bool, order: impl Fn(&str) -> Option<u8>) -> bool {
        let same = |a: &str, b: &str| if fold { a.eq_ignore_ascii_case(b) } else { a == b };
        let first = self.values.first().map_or("", String::as_str);
        let rank = |a: &str, b: &str| order(a).zip(order(b));
        match self.op {
            Op::Eq => same(value, first),
            Op::Ne => !same(value, first),
            Op::In => self.values.iter().any(|v| same(value, v)),
            Op::Gt => rank(value, first).is_some_and(|(a, b)| a > b),
            Op::Ge => rank(value, first).is_some_and(|(a, b)| a >= b),
            Op::Lt => rank(value, first).is_some_and(|(a, b)| a < b),
            Op::Le => rank(value, first).is_some_and(|(a, b)| a <= b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, Op};

    #[test]
    fn reads_the_queries_the_lists_take() {
        let q = parse(r#"user.email IN ("a@x", "b\"@x")"#, &["user.email"]).unwrap();
        assert_eq!(q[0].op, Op::In);
        assert_eq!(q[0].values, ["a@x", "b\"@x"]);
        let q = parse(r#"permission="owner""#, &["permission"]).unwrap();
        assert_eq!((q[0].op, q[0].values[0].as_str()), (Op::Eq, "owner"));
        let q = parse(
            r#"repository.name = "x" AND permission >= "write""#,
            &["repository.name", "permission"],
        )
        .unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(q[1].op, Op::Ge);
        assert!(parse(r#"name="x""#, &["permission"]).is_err());
        assert!(parse(r#"permission="x"#, &["permission"]).is_err());
        assert!(parse("permission", &["permission"]).is_err());
        assert!(parse(r#"permission="a" OR permission="b""#, &["permission"]).is_err());
    }
}
