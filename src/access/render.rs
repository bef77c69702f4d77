//! The access report as text for a terminal and as CSV for a spreadsheet (the JSON is
//! the `Report` itself; the HTML review is `html`). Pure functions of the report.

use std::fmt::Write;

use super::{Entry, Reason, Report};

/// Grouped by person: one line per resource, with the level and what gives it.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let from = match report.from.as_str() {
        "live" => "live state",
        _ => "the manifests",
    };
    let _ = writeln!(
        out,
        "Effective access from {from} (manifests {}){}",
        report.manifest_digest,
        if report.filters.is_empty() {
            String::new()
        } else {
            format!(", {}", report.filters.join(", "))
        }
    );
    if report.entries.is_empty() {
        let _ = writeln!(out, "\nNobody has access there.");
        return out;
    }
    let mut last: Option<(&str, &Option<String>)> = None;
    for e in &report.entries {
        if last != Some((&e.person, &e.email)) {
            match &e.email {
                Some(email) => {
                    let _ = writeln!(out, "\n{} <{email}>", e.person);
                }
                None => {
                    let _ = writeln!(out, "\n{}", e.person);
                }
            }
            last = Some((&e.person, &e.email));
        }
        let _ = writeln!(out, "  {}", line(e));
    }
    out
}

/// `bitbucket: admin on repository API/payments (REPO_ADMIN via release-managers)`.
fn line(e: &Entry) -> String {
    let what = phrase(&e.level, e.level == "member", &e.noun, &e.resource);
    let why = reasons(&e.reasons);
    let on = target(&e.target, e.account.as_deref());
    if why.is_empty() {
        format!("{on}: {what}")
    } else {
        format!("{on}: {what} ({why})")
    }
}

/// The target, with the person's username there where it is not their name:
/// `bitbucket as cdiaz`.
pub fn target(target: &str, account: Option<&str>) -> String {
    match account {
        Some(a) => format!("{target} as {a}"),
        None => target.to_owned(),
    }
}

/// A level on a resource in words: `admin on repository API/payments`, `member of group
/// mobile`. An account is named by its noun alone (`active account`), and so is a root
/// scope, whose name is the first word of its noun (`global`, `global permissions`).
pub fn phrase(level: &str, member: bool, noun: &str, resource: &str) -> String {
    if noun == resource {
        format!("{level} {noun}")
    } else if noun.starts_with(&format!("{resource} ")) {
        format!("{level} on {noun}")
    } else if member {
        format!("{level} of {noun} {resource}")
    } else {
        format!("{level} on {noun} {resource}")
    }
}

/// The reasons as one phrase; a plain membership says nothing the line does not.
pub fn reasons(reasons: &[Reason]) -> String {
    let parts: Vec<String> = reasons
        .iter()
        .filter(|r| !(r.via.is_none() && (r.grant == "member" || r.grant == "active account")))
        .map(Reason::text)
        .collect();
    parts.join(", ")
}

/// One row per entry, RFC 4180 quoting, the reasons joined with `; `.
pub fn csv(report: &Report) -> String {
    let mut out = String::from("person,account,email,target,resource,noun,level,reasons\r\n");
    for e in &report.entries {
        let why: Vec<String> = e.reasons.iter().map(Reason::text).collect();
        let fields = [
            e.person.as_str(),
            e.account.as_deref().unwrap_or(""),
            e.email.as_deref().unwrap_or(""),
            &e.target,
            &e.resource,
            &e.noun,
            &e.level,
            &why.join("; "),
        ];
        let row: Vec<String> = fields.iter().map(|f| field(f)).collect();
        let _ = write!(out, "{}\r\n", row.join(","));
    }
    out
}

/// A CSV field, quoted when it must be; a leading `=`, `+`, `-` or `@` is prefixed with
/// `'` so a spreadsheet shows a name from a server as text, never runs it as a formula.
fn field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}
