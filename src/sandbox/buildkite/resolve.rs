//! The objects a GraphQL document reads, as apollo-compiler's executor asks for them
//! field by field (`ObjectValue`). Each object is a snapshot of what it stands for, taken
//! when its parent resolved it: within one query the state does not change, and within a
//! mutation document a payload shows the state right after its own mutation.
//!
//! Only the fields the provider reads are modelled. Any other field of the schema answers
//! a field error "the emulator does not model Type.field", never made-up data; so does an
//! argument the emulator does not apply (a filter, an order it does not know).

use std::cell::RefCell;

use apollo_compiler::resolvers::{FieldError, ObjectValue, ResolveInfo, ResolvedValue};
use apollo_compiler::response::{JsonMap, JsonValue};

use super::ids;
use super::paging::connection_type;
pub use super::paging::{edge_type, page};
use super::state::{BkState, Invitation, InvitedTeam, Limits, Member, Team, TeamMember, TeamPipeline};

/// What every object of one request shares: the state, and who is asking.
pub struct Ctx<'s> {
    pub state: RefCell<&'s mut BkState>,
    pub limits: Limits,
}

/// A value of a record's field.
#[derive(Clone)]
pub enum Val {
    Leaf(JsonValue),
    Obj(Obj),
    List(Vec<Obj>),
}

/// An object of the schema the emulator answers.
#[derive(Clone)]
pub enum Obj {
    Query,
    Mutation,
    Viewer,
    Organization,
    OrganizationSso,
    User {
        email: String,
        name: String,
    },
    Member(Member),
    Team(Team),
    TeamMember {
        team: String,
        member: TeamMember,
    },
    TeamPipeline {
        team: String,
        grant: TeamPipeline,
    },
    Pipeline(String),
    Invitation {
        invitation: Invitation,
        state: &'static str,
    },
    InvitationTeam {
        invitation: String,
        assignment: InvitedTeam,
    },
    /// An object whose fields are known when it is made: connections, edges, page info,
    /// mutation payloads.
    Record(&'static str, Vec<(&'static str, Val)>),
}

/// An object bound to the request it answers.
pub struct Bound<'c, 's> {
    pub cx: &'c Ctx<'s>,
    pub obj: Obj,
}

pub fn err(message: impl Into<String>) -> FieldError {
    FieldError {
        message: message.into(),
    }
}

fn leaf<'a>(value: impl Into<JsonValue>) -> Result<ResolvedValue<'a>, FieldError> {
    Ok(ResolvedValue::leaf(value))
}

fn opt_leaf<'a>(value: Option<impl Into<JsonValue>>) -> Result<ResolvedValue<'a>, FieldError> {
    Ok(value.map_or_else(ResolvedValue::null, ResolvedValue::leaf))
}

/// A string argument, if given.
pub fn arg_str<'a>(args: &'a JsonMap, name: &str) -> Option<&'a str> {
    args.get(name).and_then(JsonValue::as_str)
}

/// Refuses any argument given other than `handled` (and the schema defaults of `order`,
/// which `order` says how to apply).
fn only_args(info: &ResolveInfo<'_>, type_name: &str, handled: &[&str]) -> Result<(), FieldError> {
    for (name, value) in info.arguments() {
        let name = name.as_str();
        if value.is_null() || handled.contains(&name) || name == "order" {
            continue;
        }
        return Err(err(format!(
            "the emulator does not model the `{name}` argument of {type_name}.{}",
            info.field_name()
        )));
    }
    Ok(())
}

/// How `order` sorts: `RECENTLY_CREATED` is newest first, `NAME` (or `EMAIL`) by `name`.
fn order<T>(
    info: &ResolveInfo<'_>,
    type_name: &str,
    items: &mut [T],
    name: impl Fn(&T) -> String,
) -> Result<(), FieldError> {
    match arg_str(info.arguments(), "order") {
        None => Ok(()),
        Some("RECENTLY_CREATED") => {
            items.reverse();
            Ok(())
        }
        Some("NAME" | "EMAIL") => {
            items.sort_by_key(|item| name(item).to_lowercase());
            Ok(())
        }
        Some(other) => Err(err(format!(
            "the emulator does not model the {other} order of {type_name}.{}",
            info.field_name()
        ))),
    }
}

impl<'c, 's> Bound<'c, 's> {
    fn bind(&self, obj: Obj) -> ResolvedValue<'c> {
        ResolvedValue::object(Bound { cx: self.cx, obj })
    }

    fn bind_opt(&self, obj: Option<Obj>) -> ResolvedValue<'c> {
        match obj {
            Some(obj) => self.bind(obj),
            None => ResolvedValue::null(),
        }
    }

    fn unmodelled(&self, info: &ResolveInfo<'_>) -> FieldError {
        err(format!(
            "the emulator does not model {}.{}",
            self.type_name(),
            info.field_name()
        ))
    }

    /// A page of `items` as the `{prefix}Connection` type, after `first`/`after` or
    /// `last`/`before`.
    fn connection(
        &self,
        info: &ResolveInfo<'_>,
        prefix: &'static str,
        items: Vec<Obj>,
    ) -> Result<ResolvedValue<'c>, FieldError> {
        let page = page(info.arguments(), self.cx.limits.max_page_size, items.len())?;
        let count = items.len();
        let edges: Vec<Obj> = items
            .into_iter()
            .enumerate()
            .skip(page.start)
            .take(page.end - page.start)
            .map(|(i, node)| {
                Obj::Record(
                    edge_type(prefix),
                    vec![("cursor", Val::Leaf(ids::cursor(i).into())), ("node", Val::Obj(node))],
                )
            })
            .collect();
        let cursor_at = |i: usize| Val::Leaf(ids::cursor(i).into());
        let empty = page.start >= page.end;
        let page_info = Obj::Record(
            "PageInfo",
            vec![
                ("hasNextPage", Val::Leaf(page.has_next.into())),
                ("hasPreviousPage", Val::Leaf(page.has_previous.into())),
                (
                    "startCursor",
                    if empty {
                        Val::Leaf(JsonValue::Null)
                    } else {
                        cursor_at(page.start)
                    },
                ),
                (
                    "endCursor",
                    if empty {
                        Val::Leaf(JsonValue::Null)
                    } else {
                        cursor_at(page.end - 1)
                    },
                ),
            ],
        );
        Ok(self.bind(Obj::Record(
            connection_type(prefix),
            vec![
                ("count", Val::Leaf((count as u64).into())),
                ("pageInfo", Val::Obj(page_info)),
                ("edges", Val::List(edges)),
            ],
        )))
    }
}

/// The object a node id names, if it exists.
pub fn find_node(state: &BkState, id: &str) -> Option<Obj> {
    let (type_name, uuid) = ids::parse_node_id(id)?;
    match type_name.as_str() {
        "Organization" => (uuid == state.org_uuid()).then_some(Obj::Organization),
        "User" => state
            .members
            .iter()
            .find(|m| ids::derived_uuid("User", &m.email) == uuid)
            .map(user_of),
        "OrganizationMember" => state
            .members
            .iter()
            .find(|m| m.uuid() == uuid)
            .cloned()
            .map(Obj::Member),
        "Team" => state.team_by_uuid(&uuid).cloned().map(Obj::Team),
        "TeamMember" => state.teams.iter().find_map(|t| {
            t.members.iter().find(|m| m.uuid() == uuid).map(|m| Obj::TeamMember {
                team: t.uuid().to_owned(),
                member: m.clone(),
            })
        }),
        "TeamPipeline" => state.teams.iter().find_map(|t| {
            t.pipelines
                .iter()
                .find(|g| g.uuid() == uuid)
                .map(|g| Obj::TeamPipeline {
                    team: t.uuid().to_owned(),
                    grant: g.clone(),
                })
        }),
        "Pipeline" => state
            .pipelines
            .iter()
            .find(|p| ids::derived_uuid("Pipeline", p) == uuid)
            .map(|p| Obj::Pipeline(p.clone())),
        "OrganizationInvitation" => state
            .invitations
            .iter()
            .find(|i| i.uuid() == uuid)
            .map(|i| Obj::Invitation {
                invitation: i.clone(),
                state: "PENDING",
            }),
        _ => None,
    }
}

pub fn user_of(member: &Member) -> Obj {
    Obj::User {
        email: member.email.clone(),
        name: member.name.clone(),
    }
}

impl ObjectValue for Bound<'_, '_> {
    fn type_name(&self) -> &str {
        match &self.obj {
            Obj::Query => "Query",
            Obj::Mutation => "Mutation",
            Obj::Viewer => "Viewer",
            Obj::Organization => "Organization",
            Obj::OrganizationSso => "OrganizationSSO",
            Obj::User { .. } => "User",
            Obj::Member(_) => "OrganizationMember",
            Obj::Team(_) => "Team",
            Obj::TeamMember { .. } => "TeamMember",
            Obj::TeamPipeline { .. } => "TeamPipeline",
            Obj::Pipeline(_) => "Pipeline",
            Obj::Invitation { .. } => "OrganizationInvitation",
            Obj::InvitationTeam { .. } => "OrganizationInvitationTeamAssignment",
            Obj::Record(name, _) => name,
        }
    }

    fn resolve_field<'a>(&'a self, info: &'a ResolveInfo<'a>) -> Result<ResolvedValue<'a>, FieldError> {
        let field = info.field_name();
        match &self.obj {
            Obj::Query => self.query(info),
            Obj::Mutation => super::mutations::run(self.cx, info).map(|obj| self.bind_opt(obj)),
            Obj::Viewer => match field {
                "user" => {
                    let state = self.cx.state.borrow();
                    Ok(self.bind_opt(state.member(state.operator_email()).map(user_of)))
                }
                _ => Err(self.unmodelled(info)),
            },
            Obj::Organization => self.organization(info),
            Obj::OrganizationSso => match field {
                "isEnabled" => leaf(self.cx.state.borrow().organization.sso.enabled),
                _ => Err(self.unmodelled(info)),
            },
            Obj::User { email, name } => match field {
                "id" => leaf(ids::node_id("User", &ids::derived_uuid("User", email))),
                "uuid" => leaf(ids::derived_uuid("User", email)),
                "email" => leaf(email.as_str()),
                "name" => leaf(name.as_str()),
                _ => Err(self.unmodelled(info)),
            },
            Obj::Member(member) => match field {
                "id" => leaf(ids::node_id("OrganizationMember", member.uuid())),
                "uuid" => leaf(member.uuid()),
                "role" => leaf(member.role.graphql()),
                "user" => Ok(self.bind(user_of(member))),
                _ => Err(self.unmodelled(info)),
            },
            Obj::Team(team) => self.team(info, team),
            Obj::TeamMember { team, member } => match field {
                "id" => leaf(ids::node_id("TeamMember", member.uuid())),
                "uuid" => leaf(member.uuid()),
                "role" => leaf(member.role.graphql()),
                "user" => {
                    let state = self.cx.state.borrow();
                    Ok(self.bind_opt(state.member(&member.email).map(user_of)))
                }
                "team" => Ok(self.bind_opt(self.cx.state.borrow().team_by_uuid(team).cloned().map(Obj::Team))),
                _ => Err(self.unmodelled(info)),
            },
            Obj::TeamPipeline { team, grant } => match field {
                "id" => leaf(ids::node_id("TeamPipeline", grant.uuid())),
                "uuid" => leaf(grant.uuid()),
                "accessLevel" => leaf(grant.access.graphql()),
                "pipeline" => Ok(self.bind(Obj::Pipeline(grant.pipeline.clone()))),
                "team" => Ok(self.bind_opt(self.cx.state.borrow().team_by_uuid(team).cloned().map(Obj::Team))),
                _ => Err(self.unmodelled(info)),
            },
            // The state knows a pipeline by its slug alone: its name is its slug.
            Obj::Pipeline(slug) => match field {
                "id" => leaf(ids::node_id("Pipeline", &ids::derived_uuid("Pipeline", slug))),
                "uuid" => leaf(ids::derived_uuid("Pipeline", slug)),
                "slug" | "name" => leaf(slug.as_str()),
                _ => Err(self.unmodelled(info)),
            },
            Obj::Invitation { invitation, state } => match field {
                "id" => leaf(ids::node_id("OrganizationInvitation", invitation.uuid())),
                "uuid" => leaf(invitation.uuid()),
                "email" => leaf(invitation.email.as_str()),
                "role" => leaf(invitation.role.graphql()),
                "state" => leaf(*state),
                "teams" => {
                    only_args(info, "OrganizationInvitation", &["first"])?;
                    let items = invitation
                        .teams
                        .iter()
                        .map(|assignment| Obj::InvitationTeam {
                            invitation: invitation.uuid().to_owned(),
                            assignment: assignment.clone(),
                        })
                        .collect();
                    self.connection(info, "OrganizationInvitationTeamAssignment", items)
                }
                _ => Err(self.unmodelled(info)),
            },
            Obj::InvitationTeam { invitation, assignment } => match field {
                "id" => leaf(ids::node_id(
                    "OrganizationInvitationTeamAssignment",
                    &ids::derived_uuid(
                        "OrganizationInvitationTeamAssignment",
                        &format!("{invitation}/{}", assignment.team),
                    ),
                )),
                "role" => leaf(assignment.role.graphql()),
                "team" => Ok(self.bind_opt(
                    self.cx
                        .state
                        .borrow()
                        .team_by_slug(&assignment.team)
                        .cloned()
                        .map(Obj::Team),
                )),
                _ => Err(self.unmodelled(info)),
            },
            Obj::Record(_, fields) => match fields.iter().find(|(name, _)| *name == field) {
                Some((_, Val::Leaf(value))) => leaf(value.clone()),
                Some((_, Val::Obj(obj))) => Ok(self.bind(obj.clone())),
                Some((_, Val::List(items))) => {
                    let items: Vec<ResolvedValue<'a>> = items.iter().map(|obj| self.bind(obj.clone())).collect();
                    Ok(ResolvedValue::list(items))
                }
                None => Err(self.unmodelled(info)),
            },
        }
    }
}

impl<'c> Bound<'c, '_> {
    fn query(&self, info: &ResolveInfo<'_>) -> Result<ResolvedValue<'c>, FieldError> {
        let args = info.arguments();
        let state = self.cx.state.borrow();
        match info.field_name() {
            "viewer" => Ok(self.bind(Obj::Viewer)),
            "organization" => {
                let found = match (arg_str(args, "slug"), arg_str(args, "uuid")) {
                    (Some(slug), _) => slug == state.organization.slug,
                    (None, Some(uuid)) => uuid == state.org_uuid(),
                    (None, None) => false,
                };
                Ok(self.bind_opt(found.then_some(Obj::Organization)))
            }
            "team" => {
                let slug = arg_str(args, "slug").unwrap_or_default();
                let team = slug
                    .split_once('/')
                    .filter(|(org, _)| *org == state.organization.slug)
                    .and_then(|(_, team)| state.team_by_slug(team));
                Ok(self.bind_opt(team.cloned().map(Obj::Team)))
            }
            "node" => Ok(self.bind_opt(find_node(&state, arg_str(args, "id").unwrap_or_default()))),
            // By `organization/pipeline`, as the vendor takes it; by uuid is not modelled.
            "pipeline" => {
                only_args(info, "Query", &["slug"])?;
                let slug = arg_str(args, "slug").unwrap_or_default();
                let pipeline = slug
                    .split_once('/')
                    .filter(|(org, _)| *org == state.organization.slug)
                    .and_then(|(_, p)| state.pipelines.iter().find(|s| s.as_str() == p));
                Ok(self.bind_opt(pipeline.cloned().map(Obj::Pipeline)))
            }
            _ => Err(self.unmodelled(info)),
        }
    }

    fn organization(&self, info: &ResolveInfo<'_>) -> Result<ResolvedValue<'c>, FieldError> {
        let state = self.cx.state.borrow();
        let args = info.arguments();
        match info.field_name() {
            "id" => leaf(ids::node_id("Organization", &state.org_uuid())),
            "uuid" => leaf(state.org_uuid()),
            "slug" => leaf(state.organization.slug.as_str()),
            "name" => leaf(state.organization.name.as_str()),
            "isTeamsEnabled" => leaf(state.organization.teams_enabled),
            "sso" => Ok(self.bind(Obj::OrganizationSso)),
            "members" => {
                only_args(
                    info,
                    "Organization",
                    &["first", "after", "last", "before", "email", "role", "search"],
                )?;
                let role: Option<Vec<&str>> = args
                    .get("role")
                    .and_then(JsonValue::as_array)
                    .map(|roles| roles.iter().filter_map(JsonValue::as_str).collect());
                let email = arg_str(args, "email");
                let search = arg_str(args, "search").map(str::to_lowercase);
                let mut members: Vec<&Member> = state
                    .members
                    .iter()
                    .filter(|m| role.as_ref().is_none_or(|r| r.contains(&m.role.graphql())))
                    .filter(|m| email.is_none_or(|e| m.email.eq_ignore_ascii_case(e)))
                    .filter(|m| {
                        search.as_ref().is_none_or(|s| {
                            m.email.to_lowercase().contains(s.as_str()) || m.name.to_lowercase().contains(s.as_str())
                        })
                    })
                    .collect();
                order(info, "Organization", &mut members, |m| m.name.clone())?;
                let items = members.into_iter().cloned().map(Obj::Member).collect();
                self.connection(info, "OrganizationMember", items)
            }
            "invitations" => {
                only_args(info, "Organization", &["first", "after", "last", "before", "state"])?;
                let pending = args
                    .get("state")
                    .and_then(JsonValue::as_array)
                    .is_none_or(|states| states.iter().any(|s| s.as_str() == Some("PENDING")));
                let mut invitations: Vec<&Invitation> = if pending {
                    state.invitations.iter().collect()
                } else {
                    Vec::new()
                };
                order(info, "Organization", &mut invitations, |i| i.email.clone())?;
                let items = invitations
                    .into_iter()
                    .map(|i| Obj::Invitation {
                        invitation: i.clone(),
                        state: "PENDING",
                    })
                    .collect();
                self.connection(info, "OrganizationInvitation", items)
            }
            "teams" => {
                only_args(
                    info,
                    "Organization",
                    &["first", "after", "last", "before", "search", "privacy"],
                )?;
                let search = arg_str(args, "search").map(str::to_lowercase);
                let privacy: Option<Vec<&str>> = args
                    .get("privacy")
                    .and_then(JsonValue::as_array)
                    .map(|p| p.iter().filter_map(JsonValue::as_str).collect());
                let mut teams: Vec<&Team> = state
                    .teams
                    .iter()
                    .filter(|t| {
                        search
                            .as_ref()
                            .is_none_or(|s| t.name.to_lowercase().contains(s.as_str()))
                    })
                    .filter(|t| privacy.as_ref().is_none_or(|p| p.contains(&t.privacy.graphql())))
                    .collect();
                order(info, "Organization", &mut teams, |t| t.name.clone())?;
                let items = teams.into_iter().cloned().map(Obj::Team).collect();
                self.connection(info, "Team", items)
            }
            "pipelines" => {
                only_args(
                    info,
                    "Organization",
                    &["first", "after", "last", "before", "search", "clustered"],
                )?;
                let search = arg_str(args, "search").map(str::to_lowercase);
                let mut pipelines: Vec<&String> = state
                    .pipelines
                    .iter()
                    .filter(|p| search.as_ref().is_none_or(|s| p.to_lowercase().contains(s.as_str())))
                    .collect();
                order(info, "Organization", &mut pipelines, |p| (*p).clone())?;
                let items = pipelines.into_iter().cloned().map(Obj::Pipeline).collect();
                self.connection(info, "Pipeline", items)
            }
            _ => Err(self.unmodelled(info)),
        }
    }

    fn team(&self, info: &ResolveInfo<'_>, team: &Team) -> Result<ResolvedValue<'c>, FieldError> {
        match info.field_name() {
            "id" => leaf(ids::node_id("Team", team.uuid())),
            "uuid" => leaf(team.uuid()),
            "slug" => leaf(team.slug()),
            "name" => leaf(team.name.as_str()),
            "description" => opt_leaf(team.description.as_deref()),
            "privacy" => leaf(team.privacy.graphql()),
            "isDefaultTeam" => leaf(team.default_team),
            "defaultMemberRole" => leaf(team.default_member_role.graphql()),
            "membersCanCreatePipelines" => leaf(team.members_can_create_pipelines),
            "members" => {
                only_args(info, "Team", &["first", "after", "last", "before", "role", "search"])?;
                let args = info.arguments();
                let role: Option<Vec<&str>> = args
                    .get("role")
                    .and_then(JsonValue::as_array)
                    .map(|r| r.iter().filter_map(JsonValue::as_str).collect());
                let search = arg_str(args, "search").map(str::to_lowercase);
                let state = self.cx.state.borrow();
                let name_of = |m: &TeamMember| state.member(&m.email).map(|m| m.name.clone()).unwrap_or_default();
                let mut members: Vec<&TeamMember> = team
                    .members
                    .iter()
                    .filter(|m| role.as_ref().is_none_or(|r| r.contains(&m.role.graphql())))
                    .filter(|m| {
                        search.as_ref().is_none_or(|s| {
                            m.email.to_lowercase().contains(s.as_str())
                                || name_of(m).to_lowercase().contains(s.as_str())
                        })
                    })
                    .collect();
                order(info, "Team", &mut members, |m| name_of(m))?;
                let items = members
                    .into_iter()
                    .map(|m| Obj::TeamMember {
                        team: team.uuid().to_owned(),
                        member: m.clone(),
                    })
                    .collect();
                self.connection(info, "TeamMember", items)
            }
            "pipelines" => {
                only_args(info, "Team", &["first", "after", "last", "before", "search"])?;
                let search = arg_str(info.arguments(), "search").map(str::to_lowercase);
                let mut grants: Vec<&TeamPipeline> = team
                    .pipelines
                    .iter()
                    .filter(|g| {
                        search
                            .as_ref()
                            .is_none_or(|s| g.pipeline.to_lowercase().contains(s.as_str()))
                    })
                    .collect();
                order(info, "Team", &mut grants, |g| g.pipeline.clone())?;
                let items = grants
                    .into_iter()
                    .map(|g| Obj::TeamPipeline {
                        team: team.uuid().to_owned(),
                        grant: g.clone(),
                    })
                    .collect();
                self.connection(info, "TeamPipeline", items)
            }
            _ => Err(self.unmodelled(info)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(value: serde_json::Value) -> JsonMap {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn pages_forward_and_back() {
        let p = page(&args(serde_json::json!({"first": 2})), 500, 5).ok().unwrap();
        assert_eq!((p.start, p.end, p.has_next, p.has_previous), (0, 2, true, false));
        let after = ids::cursor(1);
        let p = page(&args(serde_json::json!({"first": 2, "after": after})), 500, 5)
            .ok()
            .unwrap();
        assert_eq!((p.start, p.end, p.has_next), (2, 4, true));
        let after = ids::cursor(3);
        let p = page(&args(serde_json::json!({"first": 2, "after": after})), 500, 5)
            .ok()
            .unwrap();
        assert_eq!((p.start, p.end, p.has_next), (4, 5, false));
        let p = page(&args(serde_json::json!({"last": 2})), 500, 5).ok().unwrap();
        assert_eq!((p.start, p.end, p.has_previous), (3, 5, true));
        assert!(page(&args(serde_json::json!({"first": 501})), 500, 5).is_err());
        let p = page(&args(serde_json::json!({})), 3, 5).ok().unwrap();
        assert_eq!((p.start, p.end), (0, 3));
    }
}
