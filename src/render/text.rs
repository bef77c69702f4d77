//! The plan as a person reads it in a terminal: grouped by target, `+` create, `~` change,
//! `-` delete, the attributes that change, a summary line per target. Colour is added
//! here and stripped by the output stream when it is not a terminal or NO_COLOR is set.

use std::fmt::Write;

use owo_colors::OwoColorize;

use crate::plan::{Action, Plan};
use crate::render::{attribute_lines, counts, effect, plural, refusal_headline, value_summary};

pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let summaries = plan.summaries();
    for target in &plan.targets {
        let _ = writeln!(
            out,
            "{} ({} at {})",
            target.name.bold(),
            target.config.platform.label(),
            target.endpoint
        );
        let changes: Vec<_> = plan
            .changes
            .iter()
            .filter(|c| c.address.target == target.name)
            .collect();
        if changes.is_empty() {
            let _ = writeln!(out, "  no changes");
        }
        for change in changes {
            let line = format!("  {} {}", change.action.symbol(), change.address);
            let line = match change.action {
                Action::Create => line.green().to_string(),
                Action::Update => line.yellow().to_string(),
                Action::Delete => line.red().to_string(),
            };
            match &change.reason {
                Some(reason) => {
                    let _ = writeln!(out, "{line}  {}", format!("({reason})").dimmed());
                }
                None => {
                    let _ = writeln!(out, "{line}");
                }
            }
            for attr in attribute_lines(change) {
                let _ = writeln!(out, "        {attr}");
            }
        }
        let unmanaged: Vec<_> = plan
            .unmanaged
            .iter()
            .filter(|u| u.address.target == target.name)
            .collect();
        if !unmanaged.is_empty() {
            let _ = writeln!(
                out,
                "\n  Unmanaged (on {}, not declared in the manifest; left alone):",
                target.name
            );
            for u in unmanaged {
                let value = value_summary(&u.current);
                if value.is_empty() {
                    let _ = writeln!(out, "    ? {}", u.address);
                } else {
                    let _ = writeln!(out, "    ? {}  {}", u.address, value.dimmed());
                }
            }
        }
        let held: Vec<_> = plan
            .held
            .iter()
            .filter(|h| h.change.address.target == target.name)
            .collect();
        if !held.is_empty() {
            let _ = writeln!(out, "\n  Held (not applied: they cannot run yet):");
            for h in held {
                let _ = writeln!(
                    out,
                    "    {} {}  {}",
                    h.change.action.symbol(),
                    h.change.address,
                    format!("({})", crate::text::printable(&h.why)).dimmed()
                );
                let _ = writeln!(out, "        {} {}", "hint:".dimmed(), h.hint);
            }
        }
        let notes: Vec<_> = plan.notes.iter().filter(|n| n.target == target.name).collect();
        if !notes.is_empty() {
            let _ = writeln!(out, "\n  Notes:");
            for n in notes {
                match &n.address {
                    Some(a) => {
                        let _ = writeln!(out, "    * {a}: {}", crate::text::printable(&n.text));
                    }
                    None => {
                        let _ = writeln!(out, "    * {}", crate::text::printable(&n.text));
                    }
                }
            }
        }
        if let Some(s) = summaries.get(&target.name) {
            let _ = writeln!(out, "\n  {}: {}, {} unmanaged.\n", target.name, counts(s), s.unmanaged);
        }
    }
    effects(&mut out, plan);
    let total = plan.summary();
    if plan.is_empty() && plan.held.is_empty() {
        let _ = writeln!(out, "{} Live state matches the manifest.", "No changes.".bold());
    } else if plan.is_empty() {
        let _ = writeln!(
            out,
            "{} Live state does not match the manifest yet.",
            "No changes to apply.".bold()
        );
    } else {
        let _ = writeln!(out, "{} {}.", "Plan:".bold(), counts(&total));
    }
    if !plan.held.is_empty() {
        let _ = writeln!(
            out,
            "{} held until they can run (see each target).",
            plural(plan.held.len(), "change", "changes")
        );
    }
    if total.unmanaged > 0 {
        let _ = writeln!(
            out,
            "{} left alone.",
            plural(total.unmanaged, "unmanaged object", "unmanaged objects")
        );
    }
    if !plan.refusals.is_empty() {
        let _ = writeln!(out, "\n{} {}:", "Refused:".red().bold(), refusal_headline(plan));
        for r in &plan.refusals {
            let _ = writeln!(out, "  ! {}", r.message);
        }
    }
    out
}

/// Lines of the effect on people a terminal shows before saying how many more there are.
const MAX_EFFECT_LINES: usize = 200;

/// "Effect on people": each person's gains, losses and level changes, grouped by person.
fn effects(out: &mut String, plan: &Plan) {
    if plan.effects.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{} ({}):",
        "Effect on people".bold(),
        effect::summary(&plan.effects)
    );
    let mut last = None;
    for (shown, e) in plan.effects.iter().enumerate() {
        if shown == MAX_EFFECT_LINES {
            let _ = writeln!(
                out,
                "  … {} more; `rollcall plan --json` lists them all",
                plural(plan.effects.len() - shown, "line", "lines")
            );
            break;
        }
        if last != Some((&e.person, &e.email)) {
            let _ = writeln!(out, "  {}", effect::person(e));
            last = Some((&e.person, &e.email));
        }
        let line = format!("    {} {}", e.sign(), effect::line(e));
        let line = match e.sign() {
            '+' => line.green().to_string(),
            '-' => line.red().to_string(),
            _ => line.yellow().to_string(),
        };
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out);
}
