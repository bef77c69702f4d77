//! The plan's "Effect on people" as words, shared by the text and Markdown renderings:
//! a count of who gains, loses and changes level, and one line per change of access.

use std::collections::BTreeSet;

use crate::access::effect::Effect;
use crate::render::plural;

/// "2 people gain access, 1 loses access, 1 changes level".
pub fn summary(effects: &[Effect]) -> String {
    let people = |sign: char| {
        effects
            .iter()
            .filter(|e| e.sign() == sign)
            .map(|e| &e.person)
            .collect::<BTreeSet<_>>()
            .len()
    };
    let mut parts = Vec::new();
    for (sign, one, many) in [
        ('+', "gains access", "gain access"),
        ('-', "loses access", "lose access"),
        ('~', "changes level", "change level"),
    ] {
        let n = people(sign);
        if n > 0 {
            let who = plural(n, "person", "people");
            parts.push(format!("{who} {}", if n == 1 { one } else { many }));
        }
    }
    parts.join(", ")
}

/// `bitbucket: admin on repository API/payments (REPO_ADMIN via release-managers)`.
pub fn line(e: &Effect) -> String {
    let level = match (&e.before, &e.after) {
        (Some(b), Some(a)) => format!("{b} -> {a}"),
        (Some(l), None) | (None, Some(l)) => l.clone(),
        (None, None) => String::new(),
    };
    let member = e.after.as_deref().or(e.before.as_deref()) == Some("member");
    let what = crate::access::render::phrase(&level, member, &e.noun, &e.resource);
    let why = crate::access::render::reasons(&e.reasons);
    let on = crate::access::render::target(&e.target, e.account.as_deref());
    crate::text::printable(&if why.is_empty() {
        format!("{on}: {what}")
    } else if e.falls() {
        format!("{on}: {what} (was {why})")
    } else {
        format!("{on}: {what} ({why})")
    })
}

/// The person as a heading names them: `erin <erin@example.com>`.
pub fn person(e: &Effect) -> String {
    crate::text::printable(&match &e.email {
        Some(email) => format!("{} <{email}>", e.person),
        None => e.person.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line break in a name from a server would start a line of its own inside the
    /// plan comment's fenced block, free to close it: it is shown escaped.
    #[test]
    fn a_name_with_a_line_break_stays_on_one_line() {
        let e = Effect {
            person: "eve\n```\n<b>x</b>".to_owned(),
            account: None,
            email: None,
            target: "bb".to_owned(),
            resource: "ops\r\n```".to_owned(),
            noun: "group".to_owned(),
            before: None,
            after: Some("member".to_owned()),
            reasons: Vec::new(),
        };
        assert_eq!(person(&e), "eve\\u000A```\\u000A<b>x</b>");
        assert_eq!(line(&e), "bb: member of group ops\\u000D\\u000A```");
    }
}
