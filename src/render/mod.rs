//! Rendering a plan: human text for terminals and logs, JSON for machines, Markdown for a
//! pull-request comment. All three are pure functions of the plan, so the same inputs
//! give byte-identical output.

pub mod effect;
pub mod fit;
pub mod json;
pub mod markdown;
pub mod text;

use crate::model::Resource;
use crate::plan::{Change, Plan};

/// The output formats `plan` and `show` offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

impl Format {
    /// The format the `--json` and `--markdown` flags ask for (clap keeps them exclusive).
    pub fn from_flags(json: bool, markdown: bool) -> Self {
        match (json, markdown) {
            (true, _) => Format::Json,
            (false, true) => Format::Markdown,
            (false, false) => Format::Text,
        }
    }
}

pub fn render(plan: &Plan, format: Format) -> String {
    match format {
        Format::Text => text::render(plan),
        Format::Json => json::render(plan),
        Format::Markdown => markdown::render(plan),
    }
}

/// The plan in `format`; Markdown cut to `max_chars` characters ([`fit`]), with `full`
/// saying where the whole plan is.
pub fn render_within(plan: &Plan, format: Format, max_chars: usize, full: &str) -> String {
    match format {
        Format::Markdown => fit::fit(&markdown::render(plan), max_chars, full),
        other => render(plan, other),
    }
}

/// Attribute lines of a change: every attribute of a created object, the changed ones
/// of an updated object, nothing for a deletion (the address says it all).
pub(crate) fn attribute_lines(change: &Change) -> Vec<String> {
    match (&change.before, &change.after) {
        (None, Some(after)) => {
            let attrs = after.attributes();
            let width = attrs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            attrs.into_iter().map(|(k, v)| format!("{k:<width$} = {v:?}")).collect()
        }
        (Some(before), Some(after)) => {
            let old = before.attributes();
            after
                .attributes()
                .into_iter()
                .filter_map(|(k, new)| {
                    let was = old
                        .iter()
                        .find(|(ok, _)| *ok == k)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default();
                    (was != new).then(|| format!("{k}: {was:?} -> {new:?}"))
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// A one-line description of a live object's value, for the unmanaged list.
pub(crate) fn value_summary(r: &Resource) -> String {
    r.attributes()
        .into_iter()
        .map(|(k, v)| format!("{k} = {v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What a refused plan's banner says: only the delete limits yield to `--allow-deletes`.
pub(crate) fn refusal_headline(plan: &Plan) -> String {
    use crate::safety::Rule;
    let rules = plural(plan.refusals.len(), "safety rule", "safety rules");
    let waivable = plan
        .refusals
        .iter()
        .all(|r| matches!(r.rule, Rule::MaxDeletes | Rule::MaxDeletePercent));
    if waivable {
        format!("the plan breaks {rules}; apply will not run it unless --allow-deletes admits its deletes")
    } else {
        format!("the plan breaks {rules}; apply will not run it")
    }
}

/// The plan's JSON document's digest: what `plan --out` writes and the audit log names.
pub fn plan_digest(plan: &Plan) -> String {
    match &plan.file_digest {
        Some(d) => d.clone(),
        None => crate::desired::digest(crate::plan::file::to_json(plan).as_bytes()),
    }
}

/// "3 to create, 1 to change, 0 to delete".
pub(crate) fn counts(s: &crate::plan::Summary) -> String {
    format!("{} to create, {} to change, {} to delete", s.create, s.update, s.delete)
}
