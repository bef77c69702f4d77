//! The access review as one self-contained HTML page, for an auditor: who holds which
//! level on which resource of which target, and why.
//!
//! Everything is rendered here, on the server side: the people × resources matrix, the
//! same entries again as a plain list (for printing and screen readers), and the header
//! saying what the report answers from. The page reads complete without JavaScript; its
//! one inline script (`html.js`) only filters, keeps the filters in `location.hash` so a
//! view can be linked, and shows a cell's reasons in a side panel. The styles are inline
//! too (`html.css`), and a Content-Security-Policy forbids every fetch: the file can be
//! mailed or archived and opens the same anywhere.
//!
//! Every name comes from a server or a manifest, so every piece of text is escaped. The
//! page depends only on the report (its time included), so the same report renders to the
//! same bytes.

use std::collections::{BTreeMap, BTreeSet};

use super::{Entry, Report};

const STYLE: &str = include_str!("html.css");
const SCRIPT: &str = include_str!("html.js");

/// The levels, weakest first, with what each means; membership counts as reading.
const LEGEND: &[(&str, &str)] = &[
    ("member", "in the group or team"),
    ("read", "can see"),
    ("write", "can see and change"),
    ("admin", "can also manage access"),
];

/// The page for `report`.
pub fn render(report: &Report) -> String {
    let view = View::of(report);
    let mut out = String::with_capacity(16 * 1024 + report.entries.len() * 600);
    head(&mut out, report);
    out.push_str("<body>\n");
    header(&mut out, report, &view);
    controls(&mut out, &view);
    out.push_str("<main class=\"layout\">\n");
    matrix(&mut out, &view);
    out.push_str(
        "<aside id=\"details\" aria-live=\"polite\" aria-label=\"Why\">\
         <p class=\"hint\">Select a cell to see where its access comes from.</p></aside>\n",
    );
    out.push_str("</main>\n");
    list(&mut out, &view);
    out.push_str("<script>\n");
    out.push_str(SCRIPT);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

/// One column: a resource of a target.
struct Column<'a> {
    target: &'a str,
    resource: &'a str,
    /// What the resource is; more than one only if the report disagrees with itself.
    nouns: BTreeSet<&'a str>,
}

impl Column<'_> {
    fn key(&self) -> String {
        format!("{}:{}", self.target, self.resource)
    }
}

/// The report arranged as the page shows it, every part in a fixed order.
struct View<'a> {
    /// Person → their emails (normally one).
    people: BTreeMap<&'a str, BTreeSet<&'a str>>,
    columns: Vec<Column<'a>>,
    /// (person, column index) → the entry, the strongest if the report has two.
    cells: BTreeMap<(&'a str, usize), &'a Entry>,
}

impl<'a> View<'a> {
    fn of(report: &'a Report) -> Self {
        let mut people: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let mut nouns: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
        for e in &report.entries {
            let emails = people.entry(&e.person).or_default();
            emails.extend(e.email.as_deref());
            nouns.entry((&e.target, &e.resource)).or_default().insert(&e.noun);
        }
        let columns: Vec<Column> = nouns
            .into_iter()
            .map(|((target, resource), nouns)| Column {
                target,
                resource,
                nouns,
            })
            .collect();
        let index: BTreeMap<(&str, &str), usize> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| ((c.target, c.resource), i))
            .collect();
        let mut cells: BTreeMap<(&str, usize), &Entry> = BTreeMap::new();
        for e in &report.entries {
            let Some(&col) = index.get(&(e.target.as_str(), e.resource.as_str())) else {
                continue;
            };
            let cell = cells.entry((&e.person, col)).or_insert(e);
            if (rank(&e.level), e) > (rank(&cell.level), *cell) {
                *cell = e;
            }
        }
        View { people, columns, cells }
    }

    /// The targets in order, each with the range of its columns.
    fn targets(&self) -> Vec<(&'a str, std::ops::Range<usize>)> {
        let mut out: Vec<(&str, std::ops::Range<usize>)> = Vec::new();
        for (i, c) in self.columns.iter().enumerate() {
            match out.last_mut() {
                Some((t, range)) if *t == c.target => range.end = i + 1,
                _ => out.push((c.target, i..i + 1)),
            }
        }
        out
    }

    /// The entries the page shows, in the list's order, each with its list row's id.
    fn entries(&self) -> impl Iterator<Item = (usize, &'a Entry)> + '_ {
        self.people
            .keys()
            .flat_map(move |p| (0..self.columns.len()).filter_map(move |c| self.cells.get(&(*p, c)).map(|e| (c, *e))))
    }

    fn emails(&self, person: &str) -> String {
        self.people
            .get(person)
            .map(|e| e.iter().copied().collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    }
}

/// How strong a level is, for the level filter: membership counts as reading, and a
/// level the page does not know is shown with the weakest.
fn rank(level: &str) -> u8 {
    match level {
        "admin" => 3,
        "write" => 2,
        _ => 1,
    }
}

/// The CSS class of a level: only the known ones get a colour.
fn level_class(level: &str) -> &'static str {
    match level {
        "admin" => "lvl-admin",
        "write" => "lvl-write",
        "read" => "lvl-read",
        "member" => "lvl-member",
        _ => "lvl-other",
    }
}

/// Escapes text for an element's content or a quoted attribute.
fn esc(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("&#10;"),
            c => out.push(c),
        }
    }
}

/// Pushes pieces, escaping every other one: `parts!(out; "<b>", name, "</b>")` escapes
/// `name`. Markup sits in the odd places, text in the even ones.
macro_rules! parts {
    ($out:expr; $($markup:expr $(, $text:expr)?);* $(;)?) => {{
        $( $out.push_str($markup); $( esc($out, $text); )? )*
    }};
}

fn head(out: &mut String, report: &Report) {
    parts!(out;
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
         <meta name=\"generator\" content=\"rollcall\">\n<title>rollcall access review · ", &report.generated_at;
        "</title>\n<style>\n");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n");
}

fn header(out: &mut String, report: &Report, view: &View) {
    let from = match report.from.as_str() {
        "manifest" => "what the manifests say access should be",
        "live" => "what the servers say access is now",
        _ => "",
    };
    parts!(out; "<header>\n<h1>rollcall access review</h1>\n<dl class=\"meta\">\n\
        <div><dt>Answers from</dt><dd><code>", &report.from;
        "</code>");
    if !from.is_empty() {
        parts!(out; " — ", from);
    }
    parts!(out; "</dd></div>\n<div><dt>Manifest digest</dt><dd><code>", &report.manifest_digest;
        "</code></dd></div>\n<div><dt>Generated</dt><dd><time>", &report.generated_at;
        "</time></dd></div>\n<div><dt>Filters</dt><dd>");
    if report.filters.is_empty() {
        out.push_str("none");
    } else {
        for (i, f) in report.filters.iter().enumerate() {
            parts!(out; if i == 0 { "<code>" } else { " <code>" }, f; "</code>");
        }
    }
    let grants = view.cells.len();
    parts!(out; "</dd></div>\n</dl>\n<p class=\"totals\">",
        &format!(
            "{} · {} on {} · {}",
            count(view.people.len(), "person", "people"),
            count(view.columns.len(), "resource", "resources"),
            count(view.targets().len(), "target", "targets"),
            count(grants, "grant", "grants"),
        );
        "</p>\n<ul class=\"legend\" aria-label=\"Levels\">");
    for (level, meaning) in LEGEND {
        parts!(out; "<li><span class=\"pill ", level_class(level); "\">", level; "</span> ", meaning; "</li>");
    }
    out.push_str("</ul>\n</header>\n");
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn controls(out: &mut String, view: &View) {
    out.push_str(
        "<form class=\"controls\" id=\"filters\" role=\"search\" aria-label=\"Filters\" hidden>\n\
         <label>People <input id=\"f-who\" type=\"search\" placeholder=\"name or email\" \
         autocomplete=\"off\"></label>\n\
         <label>Resources <input id=\"f-on\" type=\"search\" placeholder=\"target:resource\" \
         autocomplete=\"off\"></label>\n\
         <label>Level <select id=\"f-level\"><option value=\"\">any</option>\
         <option value=\"read\">at least read</option><option value=\"write\">at least write</option>\
         <option value=\"admin\">admin</option></select></label>\n\
         <label>Target <select id=\"f-target\"><option value=\"\">all</option>",
    );
    for (target, _) in view.targets() {
        parts!(out; "<option value=\"", target; "\">", target; "</option>");
    }
    parts!(out; "</select></label>\n<button type=\"button\" id=\"f-clear\">Clear</button>\n\
        <output id=\"shown\" aria-live=\"polite\">",
        &shown(view.people.len(), view.columns.len());
        "</output>\n</form>\n<p id=\"view\"></p>\n<noscript><p class=\"hint\">Filtering needs JavaScript, which is off here; \
        the matrix and the list below are complete without it.</p></noscript>\n");
}

/// The count line, as the script also writes it.
fn shown(people: usize, resources: usize) -> String {
    format!(
        "{} × {} shown",
        count(people, "person", "people"),
        count(resources, "resource", "resources")
    )
}

fn matrix(out: &mut String, view: &View) {
    out.push_str(
        "<div class=\"scroll\">\n<table id=\"matrix\">\n<caption>Who has which level where. \
         Hover a cell for its reasons; select it for the details.</caption>\n<thead>\n\
         <tr class=\"tgt\"><th rowspan=\"2\" scope=\"col\" class=\"corner\">Person</th>",
    );
    for (target, range) in view.targets() {
        parts!(out; "<th scope=\"colgroup\" class=\"t-start\" data-target=\"", target;
            &format!("\" colspan=\"{}\">", range.len()), target; "</th>");
    }
    out.push_str("</tr>\n<tr class=\"res\">");
    // The first column of each target gets a rule on its left.
    let starts: BTreeSet<usize> = view.targets().iter().map(|(_, range)| range.start).collect();
    let start = |i: usize| if starts.contains(&i) { " t-start" } else { "" };
    for (i, c) in view.columns.iter().enumerate() {
        let nouns = c.nouns.iter().copied().collect::<Vec<_>>().join(", ");
        let class = if starts.contains(&i) { " class=\"t-start\"" } else { "" };
        parts!(out; &format!("<th scope=\"col\"{class} data-col=\""), &c.key();
            "\" data-target=\"", c.target;
            "\"><span class=\"res-name\">", c.resource; "</span><span class=\"noun\">", &nouns; "</span></th>");
    }
    out.push_str("</tr>\n</thead>\n<tbody>\n");
    let ids: BTreeMap<(&str, usize), usize> = view
        .entries()
        .enumerate()
        .map(|(id, (c, e))| ((e.person.as_str(), c), id))
        .collect();
    for person in view.people.keys().copied() {
        let emails = view.emails(person);
        parts!(out; "<tr data-who=\"", &format!("{person} {emails}");
            "\"><th scope=\"row\"><span class=\"name\">", person;
            "</span>");
        if !emails.is_empty() {
            parts!(out; "<span class=\"email\">", &emails; "</span>");
        }
        out.push_str("</th>");
        for (i, col) in view.columns.iter().enumerate() {
            match (view.cells.get(&(person, i)), ids.get(&(person, i))) {
                (Some(e), Some(id)) => {
                    parts!(out; &format!("<td class=\"{}{}", level_class(&e.level), start(i));
                        &format!("\" data-rank=\"{}\" data-entry=\"e{id}\" tabindex=\"0\" title=\"", rank(&e.level)),
                        &why(e, col);
                        "\"><span class=\"pill\">", &e.level; "</span></td>");
                }
                _ if starts.contains(&i) => out.push_str("<td class=\"t-start\"></td>"),
                _ => out.push_str("<td></td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    if view.people.is_empty() {
        out.push_str("<tr><td class=\"none\">No one has access to anything this report covers.</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

/// A cell's tooltip: the level there, then every reason on a line of its own.
fn why(e: &Entry, col: &Column) -> String {
    let mut text = match &e.account {
        Some(account) => format!("{} (as {account}) on {}: {}", e.person, col.key(), e.level),
        None => format!("{} on {}: {}", e.person, col.key(), e.level),
    };
    for r in &e.reasons {
        text.push('\n');
        text.push_str(&r.grant);
        if let Some(group) = &r.via {
            text.push_str(", via ");
            text.push_str(group);
        }
    }
    text
}

fn list(out: &mut String, view: &View) {
    out.push_str(
        "<section class=\"list\">\n<h2>Every grant, as a list</h2>\n<p class=\"hint\">The same access as \
         the matrix, one row per person and resource; the filters above apply here too.</p>\n\
         <table id=\"list\">\n<thead><tr>",
    );
    for column in ["Person", "Email", "Resource", "Kind", "Level", "Why"] {
        parts!(out; "<th scope=\"col\">", column; "</th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (id, (c, e)) in view.entries().enumerate() {
        let col = &view.columns[c];
        parts!(out; &format!("<tr id=\"e{id}\" data-who=\""), &format!("{} {}", e.person, view.emails(&e.person));
            "\" data-col=\"", &col.key(); "\" data-target=\"", &e.target;
            &format!("\" data-rank=\"{}\"><th scope=\"row\">", rank(&e.level)), &e.person;
            "</th><td>", e.email.as_deref().unwrap_or("");
            "</td><td><code>", &col.key(); "</code></td><td>", &e.noun;
            "</td><td><span class=\"pill ", level_class(&e.level); "\">", &e.level;
            "</span></td><td><ul class=\"why\">");
        for r in &e.reasons {
            parts!(out; "<li><span class=\"grant\">", &r.grant; "</span>");
            if let Some(group) = &r.via {
                parts!(out; " <span class=\"via\">via <b>", group; "</b></span>");
            }
            out.push_str("</li>");
        }
        out.push_str("</ul></td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Reason;

    fn entry(person: &str, resource: &str, level: &str, via: Option<&str>) -> Entry {
        Entry {
            person: person.into(),
            account: None,
            email: Some(format!("{person}@example.com")),
            target: "bb".into(),
            resource: resource.into(),
            noun: "project".into(),
            level: level.into(),
            reasons: vec![Reason {
                grant: format!("PROJECT_{} on project {resource}", level.to_uppercase()),
                via: via.map(Into::into),
            }],
        }
    }

    fn report(entries: Vec<Entry>) -> Report {
        Report {
            from: "manifest".into(),
            manifest_digest: "sha256:00".into(),
            generated_at: "2024-01-01T00:00:00Z".into(),
            filters: vec!["--who <b>".into()],
            entries,
        }
    }

    #[test]
    fn escapes_everything_that_comes_from_outside() {
        let html = render(&report(vec![entry(
            "x<script>alert(1)</script>",
            "A&B",
            "read",
            Some("\"g'"),
        )]));
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("x&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("A&amp;B"));
        assert!(html.contains("&quot;g&#39;"));
        assert!(html.contains("<code>--who &lt;b&gt;</code>"));
        assert_eq!(html.matches("<script>").count(), 1, "only the page's own script");
    }

    #[test]
    fn the_same_report_renders_to_the_same_bytes_whatever_its_order() {
        let a = vec![
            entry("bo", "API", "write", None),
            entry("al", "WEB", "read", Some("devs")),
        ];
        let mut b = a.clone();
        b.reverse();
        assert_eq!(render(&report(a)), render(&report(b)));
    }

    #[test]
    fn a_repeated_cell_keeps_its_strongest_level_and_columns_group_by_target() {
        let mut other = entry("al", "API", "read", None);
        other.target = "aa".into();
        let html = render(&report(vec![
            entry("al", "API", "read", None),
            entry("al", "API", "admin", None),
            other,
        ]));
        assert_eq!(html.matches("data-entry=").count(), 2);
        assert!(html.contains("title=\"al on bb:API: admin"));
        let aa = html.find("data-target=\"aa\" colspan=\"1\"").unwrap();
        let bb = html.find("data-target=\"bb\" colspan=\"1\"").unwrap();
        assert!(aa < bb);
        assert!(html.contains("1 person × 2 resources shown"));
    }

    #[test]
    fn an_empty_report_says_so() {
        let html = render(&report(vec![]));
        assert!(html.contains("No one has access"));
        assert!(html.contains("0 people × 0 resources shown"));
    }
}
