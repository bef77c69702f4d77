//! Fitting rendered Markdown into a size limit: a pull-request comment (GitHub refuses
//! bodies over 65,536 characters), a CI annotation or step summary (1 MiB).
//!
//! A post-process over the Markdown text, not over the plan: it knows Markdown's
//! structure (lines, code fences, `<details>`, headings) and nothing of which sections
//! the renderer writes, so a section added to the renderer is cut like any other. The
//! headline, the digests and the summary table come first in every render, so keeping
//! the longest prefix that fits keeps them. The cut falls at a line boundary; an open
//! code fence and open `<details>` are closed, so the rest of the page renders as
//! Markdown, and a last paragraph says how many lines were left out, which sections they
//! belong to, and where the whole plan is.

use std::fmt::Write;

/// The default limit of `--max-chars`: under GitHub's 65,536 characters a comment, with
/// room for the marker line a CI recipe puts above the plan.
pub const DEFAULT_MAX_CHARS: u32 = 60_000;

/// The smallest limit `--max-chars` takes: the headline, the digests and the closing
/// paragraph (at most about 900 characters) must fit.
pub const MIN_MAX_CHARS: u32 = 1_000;

/// How many names of sections left out the closing paragraph lists, and how long each
/// may be: the paragraph must stay short whatever the plan holds.
const MAX_TITLES: usize = 6;
const MAX_TITLE_CHARS: usize = 60;

/// `markdown` as it is when it has at most `max_chars` characters (Unicode scalar values,
/// as forges count them); otherwise the longest prefix of whole lines that fits together
/// with what closes its open blocks and a closing paragraph, which ends by pointing at
/// `full` (how to see the whole plan, for example "`rollcall show plan.json --offline`").
/// The result never has more than `max_chars` characters.
pub fn fit(markdown: &str, max_chars: usize, full: &str) -> String {
    if markdown.chars().count() <= max_chars {
        return markdown.to_owned();
    }
    let lines: Vec<Line> = scan(markdown);
    // Characters of the first `k` lines, for every k.
    let mut prefix = Vec::with_capacity(lines.len() + 1);
    prefix.push(0usize);
    for l in &lines {
        prefix.push(prefix.last().copied().unwrap_or(0) + l.chars);
    }
    let sections = Sections::of(&lines);
    let ending = |k: usize| ending(&lines, &sections, k, max_chars, full);
    let length = |k: usize| prefix[k] + ending(k).chars().count();
    // The longest prefix that fits: the prefix alone only grows, and what closes it is
    // bounded, so stop once the prefix alone is over.
    let mut keep = None;
    for (k, &chars) in prefix.iter().enumerate() {
        if chars > max_chars {
            break;
        }
        if length(k) <= max_chars {
            keep = Some(k);
        }
    }
    let Some(mut keep) = keep else {
        // Not even the closing paragraph fits: the limit is below MIN_MAX_CHARS.
        return ending(0).chars().take(max_chars).collect();
    };
    // A heading, a summary or an opened fence with nothing after it says nothing: leave
    // it to the list of what was not shown. Dropping lines can lengthen that list, so
    // check again.
    while keep > 0 && lines[keep - 1].dangles() {
        keep -= 1;
    }
    while keep > 0 && length(keep) > max_chars {
        keep -= 1;
    }
    let mut out: String = lines[..keep].iter().map(|l| l.text).collect();
    out.push_str(&ending(keep));
    out
}

/// One line of the Markdown and what it does to the blocks around it.
struct Line<'a> {
    /// The line with its newline.
    text: &'a str,
    chars: usize,
    /// The fence still open after this line, if any (its backticks or tildes).
    fence_after: Option<&'a str>,
    /// How many `<details>` are open after this line.
    details_after: usize,
    /// Whether this line opens a fence.
    opens_fence: bool,
    /// The section this line starts (a heading, a paragraph that opens with bold text, a
    /// `<summary>`), outside code.
    title: Option<String>,
}

impl Line<'_> {
    /// Whether the line only announces what follows.
    fn dangles(&self) -> bool {
        self.text.trim().is_empty() || self.opens_fence || self.title.is_some()
    }
}

fn scan(markdown: &str) -> Vec<Line<'_>> {
    let mut fence: Option<&str> = None;
    let mut details = 0usize;
    let mut lines = Vec::new();
    for text in markdown.split_inclusive('\n') {
        let trimmed = text.trim();
        let mut opens_fence = false;
        let mut title = None;
        match fence {
            // A fence closes with a line of at least as many of the same character.
            Some(open) => {
                let marker = fence_marker(trimmed);
                if marker.is_some_and(|m| m.len() >= open.len() && m.starts_with(&open[..1]) && m == trimmed) {
                    fence = None;
                }
            }
            None => {
                if let Some(marker) = fence_marker(trimmed) {
                    fence = Some(marker);
                    opens_fence = true;
                } else {
                    if trimmed.starts_with("<details") {
                        details += 1;
                    }
                    if trimmed.starts_with("</details>") {
                        details = details.saturating_sub(1);
                    }
                    title = section_title(trimmed);
                }
            }
        }
        lines.push(Line {
            text,
            chars: text.chars().count(),
            fence_after: fence,
            details_after: details,
            opens_fence,
            title,
        });
    }
    lines
}

/// The backticks or tildes (three or more) that start a fence line.
fn fence_marker(line: &str) -> Option<&str> {
    for c in ['`', '~'] {
        let n = line.chars().take_while(|&x| x == c).count();
        if n >= 3 {
            return Some(&line[..n]);
        }
    }
    None
}

/// Text with its HTML tags left out: `<b>Effect</b>: …` is `Effect: …`.
fn without_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// The name of the section a line starts: a heading's text, a paragraph's leading bold
/// text, a `<summary>`'s text without its markup (`<b>`).
fn section_title(line: &str) -> Option<String> {
    let stripped;
    let title = if line.starts_with('#') {
        line.trim_start_matches('#').trim()
    } else if let Some(rest) = line.strip_prefix("**") {
        rest.split("**").next().unwrap_or_default().trim().trim_end_matches('.')
    } else if let Some(at) = line.find("<summary>") {
        let rest = &line[at + "<summary>".len()..];
        stripped = without_tags(rest.split("</summary>").next().unwrap_or_default());
        stripped.trim()
    } else {
        return None;
    };
    if title.is_empty() {
        return None;
    }
    let mut short: String = title.chars().take(MAX_TITLE_CHARS).collect();
    if short.len() < title.len() {
        short.push('…');
    }
    Some(short)
}

/// Where the sections start, so that the closing paragraph of any cut is written without
/// scanning the lines again: a plan of a million lines is tried at every line that fits.
struct Sections {
    /// The lines that start a section, in order.
    starts: Vec<usize>,
    /// For every k, whether the lines from k on hold text that is not a section's title.
    body_from: Vec<bool>,
}

impl Sections {
    fn of(lines: &[Line]) -> Sections {
        let starts = (0..lines.len()).filter(|&i| lines[i].title.is_some()).collect();
        let mut body_from = vec![false; lines.len() + 1];
        for (i, l) in lines.iter().enumerate().rev() {
            body_from[i] = body_from[i + 1] || (!l.text.trim().is_empty() && l.title.is_none());
        }
        Sections { starts, body_from }
    }
}

/// What follows the first `keep` lines: the closing of the blocks open there, then the
/// paragraph that says what was left out and where the whole plan is.
fn ending(lines: &[Line], sections: &Sections, keep: usize, max_chars: usize, full: &str) -> String {
    let mut out = String::new();
    let last = keep.checked_sub(1).map(|i| &lines[i]);
    if let Some(fence) = last.and_then(|l| l.fence_after) {
        let _ = writeln!(out, "{fence}");
    }
    for _ in 0..last.map_or(0, |l| l.details_after) {
        out.push_str("\n</details>\n");
    }
    let rest = lines.len() - keep;
    // The section the cut falls in, then every section after it.
    let split = sections.starts.partition_point(|&i| i < keep);
    let title = |i: usize| lines[i].title.as_deref().unwrap_or_default();
    let mut titles: Vec<String> = Vec::new();
    if let Some(&current) = split.checked_sub(1).and_then(|j| sections.starts.get(j)) {
        if sections.body_from[keep] {
            titles.push(format!("the rest of {}", title(current)));
        }
    }
    let after = &sections.starts[split..];
    let listed = after.len().min(MAX_TITLES.saturating_sub(titles.len()));
    titles.extend(after[..listed].iter().map(|&i| title(i).to_owned()));
    if after.len() > listed {
        titles.push(format!("{} more", after.len() - listed));
    }
    let _ = write!(
        out,
        "\n---\n\n**Cut to fit {} characters: {} not shown**",
        crate::text::thousands(max_chars),
        if rest == 1 {
            "1 more line".to_owned()
        } else {
            format!("{} more lines", crate::text::thousands(rest))
        }
    );
    if !titles.is_empty() {
        let _ = write!(out, " ({})", titles.join("; "));
    }
    let _ = writeln!(out, ". The whole plan: {full}.");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether every fence opened is closed and every `<details>` too.
    fn balanced(md: &str) -> bool {
        let lines = scan(md);
        lines
            .last()
            .is_none_or(|l| l.fence_after.is_none() && l.details_after == 0)
    }

    fn long_plan(lines: usize) -> String {
        let mut md = String::from("### rollcall plan\n\n**3 to create.**\n\n<sub>plan `sha256:abc`</sub>\n\n");
        md.push_str("| target | create |\n|---|---:|\n| `a` | 3 |\n\n#### `a`\n\n```diff\n");
        for i in 0..lines {
            md.push_str(&format!("+ a.user[\"ü{i}\"]\n"));
        }
        md.push_str("```\n\n**Notes**\n\n- a note\n\n<details><summary>2 unmanaged objects</summary>\n\n```\nx\ny\n```\n\n</details>\n");
        md
    }

    #[test]
    fn short_markdown_is_left_alone() {
        let md = long_plan(3);
        assert_eq!(fit(&md, 10_000, "`rollcall plan`"), md);
    }

    #[test]
    fn a_cut_inside_a_fence_closes_it_and_says_what_is_left_out() {
        let md = long_plan(500);
        let out = fit(&md, 2_000, "`rollcall show plan.json --offline`");
        assert!(out.chars().count() <= 2_000, "{}", out.chars().count());
        assert!(balanced(&out), "{out}");
        assert!(out.contains("<sub>plan `sha256:abc`</sub>"));
        assert!(out.contains("| `a` | 3 |"));
        assert!(
            out.contains(
                "(the rest of `a`; Notes; 2 unmanaged objects). The whole plan: `rollcall show plan.json --offline`."
            ),
            "{out}"
        );
        // Cut at a line boundary: every kept change line is whole.
        let kept = out.lines().filter(|l| l.starts_with("+ a.user")).count();
        assert!(kept > 10);
        assert!(out
            .lines()
            .filter(|l| l.starts_with("+ a.user"))
            .all(|l| l.ends_with("\"]")));
        let left = md.lines().count() - out.lines().take_while(|l| *l != "```").count();
        assert!(left > 0);
    }

    #[test]
    fn a_cut_inside_details_closes_the_fence_then_the_details() {
        let mut md = long_plan(0);
        md.push_str("<details><summary>many</summary>\n\n```\n");
        for i in 0..2_000 {
            md.push_str(&format!("object {i}\n"));
        }
        md.push_str("```\n\n</details>\n");
        let out = fit(&md, 5_000, "x");
        assert!(out.chars().count() <= 5_000);
        assert!(balanced(&out), "{out}");
        assert!(out.contains("\n```\n\n</details>\n\n---"), "{out}");
    }

    #[test]
    fn a_heading_is_not_left_dangling_at_the_cut() {
        let mut md = String::from("# head\n\n");
        md.push_str(&"x".repeat(900));
        md.push_str("\n\n#### `b`\n\n```diff\n");
        md.push_str(&"+ y\n".repeat(500));
        md.push_str("```\n");
        let mut dropped = 0;
        for max in 1_000..1_100 {
            let out = fit(&md, max, "x");
            assert!(out.chars().count() <= max);
            assert!(balanced(&out));
            // The heading stays only with some of its section.
            if out.contains("#### `b`") {
                assert!(out.contains("+ y\n```"), "{out}");
            } else {
                assert!(out.contains("`b`)."), "{out}");
                dropped += 1;
            }
        }
        assert!(dropped > 0);
    }

    #[test]
    fn the_limit_holds_even_below_the_closing_paragraph() {
        let md = long_plan(100);
        for max in [0, 10, 100, 300] {
            assert!(fit(&md, max, "`rollcall plan`").chars().count() <= max);
        }
    }

    #[test]
    fn every_limit_is_kept_and_every_cut_balanced() {
        let md = long_plan(300);
        for max in (1_000..md.chars().count() + 50).step_by(97) {
            let out = fit(&md, max, "`rollcall plan`");
            assert!(out.chars().count() <= max, "{max}");
            assert!(balanced(&out), "{max}: {out}");
            assert!(out.contains("sha256:abc"), "{max}");
        }
    }

    #[test]
    fn a_plan_of_a_million_lines_is_cut_in_one_pass() {
        let md = long_plan(1_000_000);
        let started = std::time::Instant::now();
        let out = fit(&md, 1_000_000, "x");
        assert!(out.chars().count() <= 1_000_000 && balanced(&out));
        // Linear: well under a second in a release build; a rescan per line would take hours.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn numbers_have_thousands_separators() {
        assert_eq!(crate::text::thousands(0), "0");
        assert_eq!(crate::text::thousands(999), "999");
        assert_eq!(crate::text::thousands(60_000), "60,000");
        assert_eq!(crate::text::thousands(1_048_576), "1,048,576");
    }
}
