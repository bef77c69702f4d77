//! The plan as Markdown for a pull-request comment: a headline with the counts, one `diff`
//! block per target (GitHub and Bitbucket colour `+` and `-` lines), and the unmanaged
//! objects folded away. The whole plan, always: `fit` cuts it to a comment's size.

use std::fmt::Write;

use crate::plan::{Action, Plan};
use crate::render::{attribute_lines, counts, effect, plan_digest, plural, refusal_headline, value_summary};

pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let total = plan.summary();
    let _ = writeln!(out, "### rollcall plan\n");
    if plan.is_empty() && plan.held.is_empty() {
        let _ = writeln!(out, "**No changes.** Live state matches the manifest.\n");
    } else if plan.is_empty() {
        let _ = writeln!(
            out,
            "**No changes to apply.** Live state does not match the manifest yet.\n"
        );
    } else {
        let _ = writeln!(out, "**{}.**\n", capitalise(&counts(&total)));
    }
    // The digests tie this comment to the plan file that will be applied and to the
    // manifests it came from (`rollcall show FILE` prints the same); at the top, where
    // truncation cannot reach them.
    let _ = writeln!(
        out,
        "<sub>plan `{}` · manifests `{}`</sub>\n",
        plan_digest(plan),
        plan.manifest_digest
    );
    // At the top, where truncation cannot reach it.
    if !plan.refusals.is_empty() {
        let _ = writeln!(out, "> **Refused:** {}.\n>", refusal_headline(plan));
        for r in &plan.refusals {
            let _ = writeln!(out, "> - {}", r.message);
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "| target | create | change | delete | unmanaged |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    let summaries = plan.summaries();
    for t in &plan.targets {
        let s = summaries.get(&t.name).copied().unwrap_or_default();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            t.name, s.create, s.update, s.delete, s.unmanaged
        );
    }
    for t in &plan.targets {
        let changes: Vec<_> = plan.changes.iter().filter(|c| c.address.target == t.name).collect();
        if changes.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n#### `{}`\n\n```diff", t.name);
        for c in changes {
            // `!` is diff syntax for "changed"; forges highlight it apart from + and -.
            let sign = match c.action {
                Action::Create => '+',
                Action::Update => '!',
                Action::Delete => '-',
            };
            match &c.reason {
                Some(r) => {
                    let _ = writeln!(out, "{sign} {}  ({r})", c.address);
                }
                None => {
                    let _ = writeln!(out, "{sign} {}", c.address);
                }
            }
            for a in attribute_lines(c) {
                let _ = writeln!(out, "{sign}     {a}");
            }
        }
        let _ = writeln!(out, "```");
    }
    effects(&mut out, plan);
    if !plan.held.is_empty() {
        let _ = writeln!(
            out,
            "\n**{} held** (not applied: they cannot run yet)\n",
            plural(plan.held.len(), "change", "changes")
        );
        for h in &plan.held {
            let _ = writeln!(
                out,
                "- `{} {}`: {}. {}",
                h.change.action.symbol(),
                h.change.address,
                crate::text::printable(&h.why),
                capitalise(&h.hint)
            );
        }
    }
    if !plan.notes.is_empty() {
        let _ = writeln!(out, "\n**Notes**\n");
        for n in &plan.notes {
            match &n.address {
                Some(a) => {
                    let _ = writeln!(out, "- `{}` `{a}`: {}", n.target, crate::text::printable(&n.text));
                }
                None => {
                    let _ = writeln!(out, "- `{}`: {}", n.target, crate::text::printable(&n.text));
                }
            }
        }
    }
    if !plan.unmanaged.is_empty() {
        let _ = writeln!(
            out,
            "\n<details><summary>{} (not in the manifest, left alone)</summary>\n\n```",
            plural(plan.unmanaged.len(), "unmanaged object", "unmanaged objects")
        );
        for u in &plan.unmanaged {
            let v = value_summary(&u.current);
            if v.is_empty() {
                let _ = writeln!(out, "{}", u.address);
            } else {
                let _ = writeln!(out, "{}  {v}", u.address);
            }
        }
        let _ = writeln!(out, "```\n\n</details>");
    }
    let _ = writeln!(out, "\n<sub>`+` create, `!` change, `-` delete</sub>");
    out
}

/// Effect lines shown open; a longer list is folded away under its summary.
const OPEN_EFFECT_LINES: usize = 30;

/// "Effect on people", as a `diff` block of who gains (`+`), loses (`-`) and changes
/// level (`!`), each under the person.
fn effects(out: &mut String, plan: &Plan) {
    if plan.effects.is_empty() {
        return;
    }
    let summary = effect::summary(&plan.effects);
    let folded = plan.effects.len() > OPEN_EFFECT_LINES;
    if folded {
        let _ = writeln!(
            out,
            "\n<details><summary><b>Effect on people</b>: {summary}</summary>\n\n```diff"
        );
    } else {
        let _ = writeln!(out, "\n**Effect on people**: {summary}\n\n```diff");
    }
    let mut last = None;
    for e in &plan.effects {
        if last != Some((&e.person, &e.email)) {
            let _ = writeln!(out, "# {}", effect::person(e));
            last = Some((&e.person, &e.email));
        }
        let sign = match e.sign() {
            '~' => '!',
            s => s,
        };
        let _ = writeln!(out, "{sign}   {}", effect::line(e));
    }
    let _ = writeln!(out, "```");
    if folded {
        let _ = writeln!(out, "\n</details>");
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::{Note, Plan};

    /// A note carries names from servers: one with a line break and a fence in it stays
    /// on its line and cannot end or open a block of the comment.
    #[test]
    fn a_note_naming_a_line_break_stays_on_its_line() {
        let plan = Plan {
            notes: vec![Note {
                target: "bb".to_owned(),
                address: None,
                text: "not the members of group `ev\n```\n<b>il</b>`".to_owned(),
            }],
            ..Plan::default()
        };
        let out = super::render(&plan);
        let line = out.lines().find(|l| l.starts_with("- `bb`")).unwrap();
        assert_eq!(line, "- `bb`: not the members of group `ev\\u000A```\\u000A<b>il</b>`");
        assert!(!out.lines().any(|l| l.starts_with("```")), "{out}");
    }
}
