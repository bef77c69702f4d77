//! The plan as JSON for machines. The shape is documented in `docs/plan-json.md`; bump
//! `FORMAT_VERSION` on any change that could break a reader.

use serde::Serialize;

use crate::model::{Resource, ResourceId};
use crate::plan::{Action, Plan, PlannedTarget, Summary};

pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonPlan<'a> {
    format_version: u32,
    rollcall_version: &'static str,
    summary: Summary,
    targets: Vec<JsonTarget<'a>>,
    changes: Vec<JsonChange<'a>>,
    unmanaged: Vec<JsonUnmanaged<'a>>,
}

#[derive(Serialize)]
struct JsonTarget<'a> {
    #[serde(flatten)]
    target: &'a PlannedTarget,
    summary: Summary,
}

#[derive(Serialize)]
struct JsonChange<'a> {
    address: String,
    target: &'a str,
    resource: &'a ResourceId,
    action: Action,
    before: Option<&'a Resource>,
    after: Option<&'a Resource>,
    reason: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonUnmanaged<'a> {
    address: String,
    target: &'a str,
    resource: &'a ResourceId,
    current: &'a Resource,
}

pub fn render(plan: &Plan) -> String {
    let summaries = plan.summaries();
    let doc = JsonPlan {
        format_version: FORMAT_VERSION,
        rollcall_version: env!("CARGO_PKG_VERSION"),
        summary: plan.summary(),
        targets: plan
            .targets
            .iter()
            .map(|t| JsonTarget {
                target: t,
                summary: summaries.get(&t.name).copied().unwrap_or_default(),
            })
            .collect(),
        changes: plan
            .changes
            .iter()
            .map(|c| JsonChange {
                address: c.address.to_string(),
                target: &c.address.target,
                resource: &c.address.id,
                action: c.action,
                before: c.before.as_ref(),
                after: c.after.as_ref(),
                reason: c.reason.as_deref(),
            })
            .collect(),
        unmanaged: plan
            .unmanaged
            .iter()
            .map(|u| JsonUnmanaged {
                address: u.address.to_string(),
                target: &u.address.target,
                resource: &u.address.id,
                current: &u.current,
            })
            .collect(),
    };
    // Serialising plain structs and strings cannot fail; fall back to an error object
    // rather than panic should that ever change.
    let mut text = serde_json::to_string_pretty(&doc)
        .unwrap_or_else(|e| format!("{{\"format_version\":{FORMAT_VERSION},\"error\":{:?}}}", e.to_string()));
    text.push('\n');
    text
}
