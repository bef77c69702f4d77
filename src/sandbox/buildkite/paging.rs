//! Relay connections as the emulator pages them: `first`, `after`, `last` and `before`
//! over a list, refused past the vendor's largest page, and the connection and edge type
//! of each list it serves.

use apollo_compiler::resolvers::FieldError;
use apollo_compiler::response::{JsonMap, JsonValue};

use super::ids;
use super::resolve::{arg_str, err};

/// The rows a page shows, `start..end`, and whether there are more either side.
#[derive(Debug, PartialEq, Eq)]
pub struct Page {
    pub start: usize,
    pub end: usize,
    pub has_next: bool,
    pub has_previous: bool,
}

/// Reads `first`, `after`, `last` and `before` over `len` items.
pub fn page(args: &JsonMap, max: u64, len: usize) -> Result<Page, FieldError> {
    let size = |name: &str| -> Result<Option<usize>, FieldError> {
        match args.get(name).and_then(JsonValue::as_i64) {
            None => Ok(None),
            Some(n) if n < 0 => Err(err(format!("Argument '{name}' on Field must be a positive integer"))),
            Some(n) if n as u64 > max => Err(err(format!(
                "Argument '{name}' on Field has a value of {n}, which exceeds the maximum page size of {max}"
            ))),
            Some(n) => Ok(Some(n as usize)),
        }
    };
    let position = |name: &str| -> Result<Option<usize>, FieldError> {
        match arg_str(args, name) {
            None => Ok(None),
            Some(cursor) => ids::after_cursor(cursor)
                .map(Some)
                .ok_or_else(|| err(format!("Invalid cursor for `{name}`: {cursor:?}"))),
        }
    };
    let first = size("first")?;
    let last = size("last")?;
    let mut start = position("after")?.unwrap_or(0).min(len);
    let mut end = position("before")?
        .map_or(len, |b| b.saturating_sub(1))
        .min(len)
        .max(start);
    if let Some(first) = first {
        end = end.min(start + first);
    }
    if let Some(last) = last {
        start = start.max(end.saturating_sub(last));
    }
    if first.is_none() && last.is_none() {
        end = end.min(start + max as usize);
    }
    Ok(Page {
        start,
        end,
        has_next: end < len,
        has_previous: start > 0,
    })
}

pub fn connection_type(prefix: &str) -> &'static str {
    match prefix {
        "OrganizationMember" => "OrganizationMemberConnection",
        "OrganizationInvitation" => "OrganizationInvitationConnection",
        "Team" => "TeamConnection",
        "Pipeline" => "PipelineConnection",
        "TeamMember" => "TeamMemberConnection",
        "TeamPipeline" => "TeamPipelineConnection",
        _ => "OrganizationInvitationTeamAssignmentConnection",
    }
}

pub fn edge_type(prefix: &str) -> &'static str {
    match prefix {
        "OrganizationMember" => "OrganizationMemberEdge",
        "OrganizationInvitation" => "OrganizationInvitationEdge",
        "Team" => "TeamEdge",
        "Pipeline" => "PipelineEdge",
        "TeamMember" => "TeamMemberEdge",
        "TeamPipeline" => "TeamPipelineEdge",
        _ => "OrganizationInvitationTeamAssignmentEdge",
    }
}
