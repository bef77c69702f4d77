//! The plan as JSON for machines: the same document `plan --out` saves (see
//! `plan::file` and `docs/plan-json.md`).

use crate::plan::Plan;

pub fn render(plan: &Plan) -> String {
    crate::plan::file::to_json(plan)
}
