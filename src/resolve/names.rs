//! Name rules (users, groups, targets), email and URL checks,
//! and "did you mean" suggestions for diagnostics.

use std::collections::BTreeSet;

#[derive(Clone, Copy)]
pub enum NameKind {
    Target,
    User,
    Group,
}

impl NameKind {
    pub(super) fn noun(self) -> &'static str {
        match self {
            NameKind::Target => "target",
            NameKind::User => "user",
            NameKind::Group => "group",
        }
    }

    pub(super) fn rule(self) -> &'static str {
        match self {
            NameKind::Target => "target names use `a`-`z`, `0`-`9`, `-` and `_`, starting with `a`-`z`",
            NameKind::User => "usernames use letters and digits of any alphabet (like `zoë`), `.`, `_`, `-` and `@`, start with a letter or digit, and are at most 255 characters long: no spaces",
            NameKind::Group => "group names use letters and digits of any alphabet, spaces, `.`, `_`, `-` and `@`, start with a letter or digit, do not end with a space, and are at most 255 characters long",
        }
    }
}

/// Whether `name` follows the rule `NameKind::rule` states. Users and groups are
/// projected onto every target: Bitbucket Data Center takes names of 1 to 255 characters
/// in any alphabet and SCIM services any non-empty text, so letters and digits are
/// Unicode's, and the length is counted in characters. The names of scope segments
/// (project keys, repository slugs) follow each platform's rule (`platform::SegmentRule`).
pub fn valid_name(kind: NameKind, name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else { return false };
    if name.chars().count() > 255 {
        return false;
    }
    let rest = chars.as_str();
    match kind {
        NameKind::Target => {
            first.is_ascii_lowercase()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        }
        NameKind::User => first.is_alphanumeric() && rest.chars().all(|c| c.is_alphanumeric() || ".-_@".contains(c)),
        NameKind::Group => {
            first.is_alphanumeric()
                && rest.chars().all(|c| c.is_alphanumeric() || " .-_@".contains(c))
                && !name.ends_with(' ')
        }
    }
}

pub fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !s.chars().any(char::is_control)
                && !domain.contains("..")
                && !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

pub fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        // A scheme the URL standard does not know (`ldap:`) keeps an address as text.
        Some(url::Host::Domain(d)) => {
            d == "localhost"
                || d.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The closest known name within a small edit distance, for "did you mean" hints.
pub fn did_you_mean<'b>(name: &str, known: impl Iterator<Item = &'b String>) -> Option<&'b String> {
    known
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) && *d > 0)
        .min_by_key(|(d, k)| (*d, (*k).clone()))
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let v = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            cur.push(v);
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

pub(super) fn join(set: &BTreeSet<String>) -> String {
    if set.is_empty() {
        return "(none declared)".to_owned();
    }
    set.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_emails() {
        assert!(valid_name(NameKind::Group, "qa contractors"));
        assert!(!valid_name(NameKind::User, "bad name"));
        assert!(is_email("a@example.com"));
        assert!(!is_email("a@b"));
        assert!(!is_email("@example.com"));
    }

    /// The rule the hint states is the rule applied: letters of any alphabet for people
    /// and groups, 255 characters (not bytes).
    #[test]
    fn names_follow_the_rule_their_hint_states() {
        for name in ["zoë", "Jürgen.Groß", "łukasz", "渡辺", "o'brien"] {
            assert_eq!(valid_name(NameKind::User, name), !name.contains('\''), "{name}");
        }
        assert!(valid_name(NameKind::Group, "équipe données"));
        assert!(valid_name(NameKind::User, &"é".repeat(255)));
        assert!(!valid_name(NameKind::User, &"é".repeat(256)));
        assert!(NameKind::User.rule().contains("any alphabet"));
    }

    #[test]
    fn suggestions_are_close_only() {
        let known = ["alice".to_owned(), "bob".to_owned()];
        assert_eq!(did_you_mean("alcie", known.iter()).map(String::as_str), Some("alice"));
        assert_eq!(did_you_mean("zed", known.iter()), None);
    }
}
