//! The mutations the provider sends, with the vendor's rules. Each checks everything it
//! can before it changes anything, so a refused mutation changes nothing; a refusal is a
//! field error, which the executor turns into the vendor's HTTP 200 with
//! `{"data": {alias: null}, "errors": [{"message", "path": [alias]}]}`, and the next
//! mutation of the document still runs.
//!
//! The messages of rules whose wording the vendor's documentation does not give are the
//! emulator's own, in the vendor's manner; clients must not match on them.

use apollo_compiler::resolvers::{FieldError, ResolveInfo};
use apollo_compiler::response::{JsonMap, JsonValue};

use super::ids;
use super::resolve::{arg_str, edge_type, err, find_node, user_of, Ctx, Obj, Val};
use super::state::{
    Access, BkState, Invitation, InvitedTeam, Member, OrgRole, Privacy, Team, TeamMember, TeamPipeline, TeamRole,
};

/// Runs the mutation `info` names; its payload, or the vendor's refusal.
pub fn run(cx: &Ctx<'_>, info: &ResolveInfo<'_>) -> Result<Option<Obj>, FieldError> {
    let empty = JsonMap::new();
    let input = info
        .arguments()
        .get("input")
        .and_then(JsonValue::as_object)
        .unwrap_or(&empty);
    let mut guard = cx.state.borrow_mut();
    let state: &mut BkState = &mut guard;
    // Buildkite lets administrators invite, remove and change members and manage teams
    // (a team's maintainers may change its members and pipelines too, which the emulator
    // does not model: it holds every mutation to an administrator, never laxer than the
    // vendor).
    let admin = state
        .member(state.operator_email())
        .is_some_and(|m| m.role == OrgRole::Admin);
    if !admin {
        return Err(err(
            "You must be an organization administrator to do that: the API token's user is not one".to_owned(),
        ));
    }
    let mut payload = match info.field_name() {
        "organizationInvitationCreate" => invitation_create(state, input)?,
        "organizationInvitationRevoke" => invitation_revoke(state, input)?,
        "organizationMemberUpdate" => member_update(state, input)?,
        "organizationMemberDelete" => member_delete(state, input)?,
        "teamCreate" => team_create(state, input, cx.limits.max_teams)?,
        "teamUpdate" => team_update(state, input)?,
        "teamDelete" => team_delete(state, input)?,
        "teamMemberCreate" => team_member_create(state, input)?,
        "teamMemberUpdate" => team_member_update(state, input)?,
        "teamMemberDelete" => team_member_delete(state, input)?,
        "teamPipelineCreate" => team_pipeline_create(state, input)?,
        "teamPipelineUpdate" => team_pipeline_update(state, input)?,
        "teamPipelineDelete" => team_pipeline_delete(state, input)?,
        other => return Err(err(format!("the emulator does not model Mutation.{other}"))),
    };
    if let Obj::Record(_, fields) = &mut payload {
        let id = input.get("clientMutationId").cloned().unwrap_or(JsonValue::Null);
        fields.push(("clientMutationId", Val::Leaf(id)));
    }
    Ok(Some(payload))
}

fn text<'a>(input: &'a JsonMap, name: &str) -> &'a str {
    arg_str(input, name).unwrap_or_default()
}

fn flag(input: &JsonMap, name: &str) -> Option<bool> {
    input.get(name).and_then(JsonValue::as_bool)
}

/// The object a node id names if it is of `type_name`; the vendor's not-found otherwise.
fn node(state: &BkState, input: &JsonMap, field: &str, type_name: &str) -> Result<Obj, FieldError> {
    let id = text(input, field);
    let wanted = ids::parse_node_id(id).is_some_and(|(t, _)| t == type_name);
    match find_node(state, id) {
        Some(obj) if wanted => Ok(obj),
        _ => Err(err(format!("No {type_name} could be found with the ID {id:?}"))),
    }
}

fn team_of(state: &BkState, input: &JsonMap, field: &str) -> Result<Team, FieldError> {
    match node(state, input, field, "Team")? {
        Obj::Team(team) => Ok(team),
        _ => Err(err("not a team")),
    }
}

fn teams_enabled(state: &BkState) -> Result<(), FieldError> {
    if state.organization.teams_enabled {
        Ok(())
    } else {
        Err(err(
            "Teams are not enabled for this organization. Enable teams to manage team permissions.",
        ))
    }
}

fn organization(state: &BkState, input: &JsonMap) -> Result<(), FieldError> {
    node(state, input, "organizationID", "Organization").map(|_| ())
}

fn record(name: &'static str, fields: Vec<(&'static str, Val)>) -> Obj {
    Obj::Record(name, fields)
}

fn leaf(value: impl Into<JsonValue>) -> Val {
    Val::Leaf(value.into())
}

fn edge(prefix: &'static str, node: Obj) -> Obj {
    // A new object's edge: its cursor is not a position in any list the client holds.
    record(
        edge_type(prefix),
        vec![("cursor", leaf(ids::cursor(0))), ("node", Val::Obj(node))],
    )
}

fn enum_arg<T>(input: &JsonMap, name: &str, parse: fn(&str) -> Option<T>) -> Option<T> {
    arg_str(input, name).and_then(parse)
}

fn admins(state: &BkState) -> usize {
    state.members.iter().filter(|m| m.role == OrgRole::Admin).count()
}

fn invitation_create(state: &mut BkState, input: &JsonMap) -> Result<Obj, FieldError> {
    organization(state, input)?;
    if input.get("sso").is_some_and(|v| !v.is_null()) {
        return Err(err(
            "the emulator does not model the `sso` input of organizationInvitationCreate",
        ));
    }
    let role = enum_arg(input, "role", OrgRole::from_graphql).unwrap_or(OrgRole::Member);
    let mut teams = Vec::new();
    for assignment in input.get("teams").and_then(JsonValue::as_array).into_iter().flatten() {
        let Some(assignment) = assignment.as_object() else {
            continue;
        };
        teams_enabled(state)?;
        let team = team_of(state, assignment, "id")?;
        let role = enum_arg(assignment, "role", TeamRole::from_graphql).unwrap_or_default();
        teams.push(InvitedTeam {
            team: team.slug().to_owned(),
            role,
        });
    }
    let emails: Vec<String> = input
        .get("emails")
        .and_then(JsonValue::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect();
    if emails.is_empty() {
        return Err(err("Emails can't be blank"));
    }
    // One address twice in one call would be two invitations to one person.
    let mut seen = std::collections::BTreeSet::new();
    if let Some(twice) = emails.iter().find(|e| !seen.insert(e.to_lowercase())) {
        return Err(err(format!("{twice} is listed more than once")));
    }
    for email in &emails {
        if !email.contains('@') {
            return Err(err(format!("{email} is not a valid email address")));
        }
        if state.member(email).is_some() {
            return Err(err(format!("{email} is already a member of this organization")));
        }
        if state.invitations.iter().any(|i| i.email.eq_ignore_ascii_case(email)) {
            return Err(err(format!("{email} has already been invited to this organization")));
        }
    }
    let mut edges = Vec::new();
    for email in emails {
        let uuid = state.mint();
        let invitation = Invitation {
            email,
            role,
            teams: teams.clone(),
            uuid: Some(uuid),
        };
        state.invitations.push(invitation.clone());
        edges.push(edge(
            "OrganizationInvitation",
            Obj::Invitation {
                invitation,
                state: "PENDING",
            },
        ));
    }
    Ok(record(
        "OrganizationInvitationCreatePayload",
        vec![
            ("invitationEdges", Val::List(edges)),
            ("organization", Val::Obj(Obj::Organization)),
        ],
    ))
}

fn invitation_revoke(state: &mut BkState, input: &JsonMap) -> Result<Obj, FieldError> {
    let Obj::Invitation { invitation, .. } = node(state, input, "id", "OrganizationInvitation")? else {
        return Err(err("not an invitation"));
    };
    state.invitations.retain(|i| i.uuid() != invitation.uuid());
    let revoked = Obj::Invitation {
        invitation,
        state: "REVOKED",
    };
    Ok(record(
        "OrganizationInvitationRevokePayload",
        vec![
            ("organization", Val::Obj(Obj::Organization)),
            ("organizationInvitation", Val::Obj(revoked.clone())),
            (
                "organizationInvitationEdge",
                Val::Obj(edge("OrganizationInvitation", revoked)),
            ),
        ],
    ))
}

fn member_of(state: &BkState, input: &JsonMap) -> Result<Member, FieldError> {
    match node(state, input, "id", "OrganizationMember")? {
        Obj::Member(member) => Ok(member),
        _ => Err(err("not a member")),
    }
}

fn member_update(state: &mut BkState, input: &JsonMap) -> Result<Obj, FieldError> {
    let member = member_of(state, input)?;
    if input.get("sso").is_some_and(|v| !v.is_null()) {
        return Err(err(
            "the emulator does not model the `sso` input of organizationMemberUpdate",
        ));
    }
    if member.email.eq_ignore_ascii_case(state.operator_email()) {
        return Err(err("You can't update your own organization membership"));
    }
    let role = enum_arg(input, "role", OrgRole::from_graphql).unwrap_or(member.role);
    if member.role == OrgRole::Admin && role != OrgRole::Admin && admins(state) <= 1 {
        return Err(err("An organization must have at least one administrator"));
    }
    let Some(stored) = state.members.iter_mut().find(|m| m.uuid() == member.uuid()) else {
        return Err(err("the member is gone"));
    };
    stored.role = role;
    let updated = stored.clone();
    Ok(record(
        "OrganizationMemberUpdatePayload",
        vec![("organizationMember", Val::Obj(Obj::Member(updated)))],
    ))
}

fn member_delete(state: &mut BkState, input: &JsonMap) -> Result<Obj, FieldError> {
    let member = member_of(state, input)?;
    if member.email.eq_ignore_ascii_case(state.operator_email()) {
        return Err(err("You can't remove yourself from the organization"));
    }
    if member.role == OrgRole::Admin && admins(state) <= 1 {
        return Err(err("You can't remove the last administrator of an organization"));
    }
    state.members.retain(|m| m.uuid() != member.uuid());
    for team in &mut state.teams {
        team.members.retain(|m| !m.email.eq_ignore_ascii_case(&member.email));
    }
    Ok(record(
        "OrganizationMemberDeletePayload",
        vec![
            (
                "deletedOrganizationMemberID",
                leaf(ids::node_id("OrganizationMember", member.uuid())),
            ),
            ("organization", Val::Obj(Obj::Organization)),
            ("user", Val::Obj(user_of(&member))),
        ],
    ))
}

/// Whether another team than `except` (a uuid) has `name` or its slug.
fn name_taken(state: &BkState, name: &str, except: Option<&str>) -> Result<(), FieldError> {
    let slug = ids::slugify(name);
    let taken = state
        .teams
        .iter()
        .filter(|t| Some(t.uuid()) != except)
        .any(|t| t.name.eq_ignore_ascii_case(name) || t.slug() == slug);
    if taken {
        Err(err("Name has already been taken"))
    } else if slug.is_empty() {
        Err(err("Name can't be blank"))
    } else {
        Ok(())
    }
}

fn team_create(state: &mut BkState, input: &JsonMap, max_teams: usize) -> Result<Obj, FieldError> {
    organization(state, input)?;
    teams_enabled(state)?;
    if state.teams.len() >= max_teams {
        return Err(err(format!(
            "Your organization has reached its limit of {max_teams} teams. Contact support to raise it."
        )));
    }
    let name = text(input, "name").trim().to_owned();
    name_taken(state, &name, None)?;
    let uuid = state.mint();
    let team = Team {
        slug: Some(ids::slugify(&name)),
        name,
        description: arg_str(input, "description").map(str::to_owned),
        privacy: enum_arg(input, "privacy", Privacy::from_graphql).unwrap_or_default(),
        default_member_role: enum_arg(input, "defaultMemberRole", TeamRole::from_graphql).unwrap_or_default(),
        default_team: flag(input, "isDefaultTeam").unwrap_or(false),
        members_can_create_pipelines: flag(input, "membersCanCreatePipelines").unwrap_or(true),
        members: Vec::new(),
        pipelines: Vec::new(),
        uuid: Some(uuid),
    };
    state.teams.push(team.clone());
    Ok(record(
        "TeamCreatePayload",
        vec![
            ("organization", Val::Obj(Obj::Organization)),
            ("teamEdge", Val::Obj(edge("Team", Obj::Team(team)))),
        ],
    ))
}

fn team_update(state: &mut BkState, input: &JsonMap) -> Result<Obj, FieldError> {
    teams_enabled(state)?;
    let team = team_of(state, input, "id")?;
    let name = text(input, "name").trim().to_owned();
    name_taken(state, &name, Some(team.uuid()))?;
    let Some(stored) = state.teams.iter_mut().find(|t| t.uuid() == team.uuid()) else {
        return Err(err("the team is gone"));
    };
    stored.slug = Some(ids::slugify(&name));
    stored.name = name;
    if input.contains_key("description") {
        stored.description = arg_str(input, "description").map(str::to_owned);
    }
    if let Some(privacy) = enum_arg(input, "privacy", Privacy::from_graphql) {
        stored.privacy = privacy;
    }
    if let Some(role) = enum_arg(input, "defaultMemberRole", TeamRole::from_graphql) {
        stored.default_member_role = role;
    }
    if let Some(default) = flag(input, "isDefaultTeam") {
        stored.default_team = default;
    }
    if let Some(can) = flag(input, "membersCanCreatePipelines") {
        stored.members_can_create_pipelines = can;
    }
    let updated = stored.clone();
    let old_slug = team.slug().to_owned();
    for invitation in &mut state.invitations {
        for assignment in &mut invitation.teams {
            if assignment.team == old_slug {
                assignment.team = updated.slug().to_owned();
            }
        }
    }
    Ok(record(
        "TeamUpdatePayload",
        vec![("team", Val::Obj(Obj::Team(updated)))],
    ))
}

fn team_delete(state: &mut BkState, input: &JsonMap) -> Result<Obj, FieldError> {
    teams_enabled(state)?;
    let team = team_of(state, input, "id")?;
    // The team's memberships and pipeline grants go with it, and so do invitations' places
    // on it.
    state.teams.retain(|t| t.uuid() != team.uuid());
    for invitation in &mut state.invitations {
        invitation.teams.retain(|a| a.team != team.slug());
    }
    Ok(record(
        "TeamDeletePayload",
        vec![
            ("deletedTeamID", leaf(ids::node_id("Team", team.uuid()))),
            ("organization", Val::Obj(Obj::Organization)),
        ],
    ))
}

fn stored_team<'a>(state: &'a mut BkState, uuid: &str) -> Result<&'a mut Team, FieldError> {
    state
        .teams
        .iter_mut()
        .find(|t| t.uuid() == uuid)
        .ok_or_else(|| err("the team is gone"))
}

fn team_member_create(state: &mut BkState, input: &JsonMap) -> Result<Obj, FieldError> {
    teams_enabled(state)?;
    let team = team_of(state, input, "teamID")?;
    let Obj::User { email, .. } = node(state, input, "userID", "User")? else {
        return Err(err("not a user"));
    };
    if team.members.iter().any(|m| m.email.eq_ignore_ascii_case(&email)) {
        return Err(err("User is already a member of this team"));
    }
    let role = enum_arg(input, "role", TeamRole::from_graphql).unwrap_or(team.default_member_role);
    let uuid = state.mint();
    let member = TeamMember {
        email,
        role,
        uuid: Some(uuid),
    };
    let stored = stored_team(state, team.uuid())?;
    stored.members.push(member.clone());
    let team_now = stored.clone();
    let node = Obj::TeamMember {
        team: team.uuid().to_owned(),
        member,
    };
    Ok(record(
        "TeamMemberCreatePayload",
        vec![
            ("team", Val::Obj(Obj::Team(team_now))),
            ("teamMemberEdge", Val::Obj(edge("TeamMember", node))),
        ],
    ))
}

fn team_member_of(state: &BkState, input: &JsonMap) -> Result<(String, TeamMember), FieldError> {
    match node(state, input, "id", "TeamMember")? {
        Obj::TeamMember { team, member } => Ok((team, member)),
        _ => Err(err("not a team member")),
    }
}

fn team_member_update(state: &mut BkState, input: &JsonMap) -> Result<Obj, FieldError> {
    teams_enabled(state)?;
    let (team, member) = team_member_of(state, input)?;
    let role = enum_arg(input, "role", TeamRole::from_graphql).unwrap_or(member.role);
    let stored = stored_team(state, &team)?;
    let Some(entry) = stored.members.iter_mut().find(|m| m.uuid() == member.uuid()) else {
        return Err(err("the team member is gone"));
    };
    entry.role = role;
    let member = entry.clone();
    Ok(record(
        "TeamMemberUpdatePayload",
        vec![("teamMember", Val::Obj(Obj::TeamMember { team, member }))],
    ))
}

fn team_member_delete(state: &mut BkState, input: &JsonMap) -> Result<Obj, FieldError> {
    teams_enabled(state)?;
    let (team, member) = team_member_of(state, input)?;
    let stored = stored_team(state, &team)?;
    stored.members.retain(|m| m.uuid() != member.uuid());
    let team_now = stored.clone();
    Ok(record(
        "TeamMemberDeletePayload",
        vec![
            ("deletedTeamMemberID", leaf(ids::node_id("TeamMember", member.uuid()))),
            ("team", Val::Obj(Obj::Team(team_now))),
        ],
    ))
}

fn team_pipeline_create(state: &mut BkState, input: &JsonMap) -> Result<Obj, FieldError> {
    teams_enabled(state)?;
    let team = team_of(state, input, "teamID")?;
    let Obj::Pipeline(pipeline) = node(state, input, "pipelineID", "Pipeline")? else {
        return Err(err("not a pipeline"));
    };
    if team.pipelines.iter().any(|g| g.pipeline == pipeline) {
        return Err(err("Pipeline has already been added to this team"));
    }
    let access = enum_arg(input, "accessLevel", Access::from_graphql).unwrap_or_default();
    let uuid = state.mint();
    let grant = TeamPipeline {
        pipeline: pipeline.clone(),
        access,
        uuid: Some(uuid),
    };
    let stored = stored_team(state, team.uuid())?;
    stored.pipelines.push(grant.clone());
    let team_now = stored.clone();
    let node = Obj::TeamPipeline {
        team: team.uuid().to_owned(),
        grant,
    };
    Ok(record(
        "TeamPipelineCreatePayload",
        vec![
            ("pipeline", Val::Obj(Obj::Pipeline(pipeline))),
            ("team", Val::Obj(Obj::Team(team_now))),
            ("teamPipeline", Val::Obj(node.clone())),
            ("teamPipelineEdge", Val::Obj(edge("TeamPipeline", node))),
        ],
    ))
}

fn team_pipeline_of(state: &BkState, input: &JsonMap) -> Result<(String, TeamPipeline), FieldError> {
    match node(state, input, "id", "TeamPipeline")? {
        Obj::TeamPipeline { team, grant } => Ok((team, grant)),
        _ => Err(err("not a team pipeline")),
    }
}

fn team_pipeline_update(state: &mut BkState, input: &JsonMap) -> Result<Obj, FieldError> {
    teams_enabled(state)?;
    let (team, grant) = team_pipeline_of(state, input)?;
    let access = enum_arg(input, "accessLevel", Access::from_graphql).unwrap_or(grant.access);
    let stored = stored_team(state, &team)?;
    let Some(entry) = stored.pipelines.iter_mut().find(|g| g.uuid() == grant.uuid()) else {
        return Err(err("the grant is gone"));
    };
    entry.access = access;
    let grant = entry.clone();
    Ok(record(
        "TeamPipelineUpdatePayload",
        vec![("teamPipeline", Val::Obj(Obj::TeamPipeline { team, grant }))],
    ))
}

fn team_pipeline_delete(state: &mut BkState, input: &JsonMap) -> Result<Obj, FieldError> {
    teams_enabled(state)?;
    let (team, grant) = team_pipeline_of(state, input)?;
    let stored = stored_team(state, &team)?;
    stored.pipelines.retain(|g| g.uuid() != grant.uuid());
    let team_now = stored.clone();
    Ok(record(
        "TeamPipelineDeletePayload",
        vec![
            (
                "deletedTeamPipelineID",
                leaf(ids::node_id("TeamPipeline", grant.uuid())),
            ),
            ("team", Val::Obj(Obj::Team(team_now))),
        ],
    ))
}
