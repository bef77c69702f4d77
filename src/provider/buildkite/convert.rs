//! Between the wire and the model, and what the read keeps for the writes: people named
//! by the manifest's name for their email (anyone else by their email), teams by their
//! name (or the declared group their slug names), pipeline access as grants on
//! `pipeline/SLUG`, the organization's admin role as a grant at the root; and the node
//! ids of every join object (organization member, invitation, team member, team
//! pipeline), since Buildkite's mutations name those rather than the people or teams.

use std::collections::BTreeMap;

use crate::desired::ReadScope;
use crate::model::{Address, Attributes, Principal, Resource, ResourceId, ResourceMap, Scope, UserAttrs};

use super::wire;

/// The scope segment of a pipeline, as the platform names it.
pub const PIPELINE: &str = "pipeline";
/// The organization role that is a grant.
pub const ADMIN: &str = "ADMIN";
pub const MEMBER: &str = "MEMBER";

/// A person as the read found them: a member, or a pending invitation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    pub email: String,
    /// `User.id`, for a member.
    pub user: Option<String>,
    /// `OrganizationMember.id`, for a member.
    pub member: Option<String>,
    /// `OrganizationInvitation.id`, for someone invited who has not accepted.
    pub invitation: Option<String>,
    pub role: String,
}

/// A team as the read (or a create) found it: what `teamUpdate` must send back, and its
/// join objects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamIds {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub privacy: String,
    pub default_team: bool,
    pub default_member_role: String,
    pub members_can_create_pipelines: Option<bool>,
    /// `TeamMember.id` by the member's lower-cased name.
    pub members: BTreeMap<String, String>,
    /// `TeamPipeline.id` by pipeline slug.
    pub pipelines: BTreeMap<String, String>,
}

/// Everything the writes need that the model does not hold.
#[derive(Debug, Clone, Default)]
pub struct Ids {
    pub organization: Option<String>,
    pub teams_enabled: bool,
    /// The token's own user (`viewer`).
    pub viewer: Option<String>,
    /// By lower-cased name.
    pub people: BTreeMap<String, Person>,
    /// By lower-cased group name.
    pub teams: BTreeMap<String, TeamIds>,
    /// `Pipeline.id` by slug, as looked up.
    pub pipelines: BTreeMap<String, String>,
}

impl Ids {
    pub fn person(&self, name: &str) -> Option<&Person> {
        self.people.get(&name.to_lowercase())
    }

    pub fn team(&self, name: &str) -> Option<&TeamIds> {
        self.teams.get(&name.to_lowercase())
    }
}

/// How people and teams are named, from what the manifest declares.
pub struct Names<'a> {
    scope: &'a ReadScope,
    /// Lower-cased email → declared name.
    by_email: BTreeMap<String, &'a str>,
}

impl<'a> Names<'a> {
    pub fn new(scope: &'a ReadScope) -> Names<'a> {
        let by_email = scope
            .people
            .iter()
            .map(|(name, email)| (email.trim().to_lowercase(), name.as_str()))
            .collect();
        Names { scope, by_email }
    }

    /// The declared person with this email, else the email itself.
    pub fn person(&self, email: &str) -> String {
        let key = email.trim().to_lowercase();
        self.by_email
            .get(&key)
            .map_or_else(|| email.trim().to_owned(), |n| (*n).to_owned())
    }

    /// The declared group with this team's name or slug (without regard to case), else
    /// the team's name.
    pub fn team(&self, name: &str, slug: &str) -> String {
        let declared = |want: &str| {
            self.scope
                .member_groups
                .iter()
                .find(|g| g.eq_ignore_ascii_case(want))
                .cloned()
        };
        declared(name)
            .or_else(|| declared(slug))
            .unwrap_or_else(|| name.to_owned())
    }

    /// Whether a team's memberships are read into live state: the declared groups', the
    /// offboarded people's, or every one when the plan needs them all.
    pub fn members_wanted(&self, group: &str, person: &str) -> bool {
        self.team_members_wanted(group) || self.scope.member_users.iter().any(|u| u.eq_ignore_ascii_case(person))
    }

    /// Whether every membership of a team is read, not only the offboarded people's.
    pub fn team_members_wanted(&self, group: &str) -> bool {
        self.scope.everything
            || self.scope.all_group_members
            || self.scope.member_groups.iter().any(|g| g.eq_ignore_ascii_case(group))
    }

    /// Whether a pipeline's grants are read into live state: the pipelines `access`
    /// names, or every one for a read of everything.
    pub fn pipeline_wanted(&self, slug: &str) -> bool {
        self.scope.everything || self.scope.scopes.contains(&pipeline_scope(slug))
    }
}

pub fn pipeline_scope(slug: &str) -> Scope {
    Scope::root().child(PIPELINE, slug)
}

/// The pipeline slug a grant's scope names.
pub fn pipeline_of(scope: &Scope) -> Option<&str> {
    match scope.segments() {
        [s] if s.kind == PIPELINE => Some(s.name.as_str()),
        _ => None,
    }
}

pub fn user(live: &mut ResourceMap, target: &str, name: &str, display: &str, email: &str) {
    live.insert(
        Address::new(target, ResourceId::User { name: name.into() }),
        Resource::User(Box::new(UserAttrs::new(display, email))),
    );
}

/// The organization role: `ADMIN` is a grant at the root, `MEMBER` none.
pub fn role(live: &mut ResourceMap, target: &str, name: &str, role: &str) {
    if role == ADMIN {
        live.insert(
            Address::new(
                target,
                ResourceId::Grant {
                    scope: Scope::root(),
                    principal: Principal::User(name.into()),
                },
            ),
            Resource::Permission {
                permission: ADMIN.to_owned(),
            },
        );
    }
}

/// A team's settings as the platform's group attributes.
pub fn team_attributes(team: &TeamIds) -> Attributes {
    Attributes::from([
        ("description".to_owned(), team.description.clone().unwrap_or_default()),
        ("privacy".to_owned(), team.privacy.clone()),
        ("default_member_role".to_owned(), team.default_member_role.clone()),
        ("default_team".to_owned(), team.default_team.to_string()),
    ])
}

pub fn group(live: &mut ResourceMap, target: &str, name: &str, team: &TeamIds) {
    live.insert(
        Address::new(target, ResourceId::Group { name: name.into() }),
        Resource::Group {
            attributes: team_attributes(team),
        },
    );
}

pub fn membership(live: &mut ResourceMap, target: &str, group: &str, user: &str, role: &str) {
    live.insert(
        Address::new(
            target,
            ResourceId::Membership {
                group: group.into(),
                user: user.into(),
            },
        ),
        Resource::Membership {
            attributes: Attributes::from([("role".to_owned(), role.to_owned())]),
        },
    );
}

pub fn pipeline_grant(live: &mut ResourceMap, target: &str, group: &str, slug: &str, access: &str) {
    live.insert(
        Address::new(
            target,
            ResourceId::Grant {
                scope: pipeline_scope(slug),
                principal: Principal::Group(group.into()),
            },
        ),
        Resource::Permission {
            permission: access.to_owned(),
        },
    );
}

/// A team as the wire gives it, without its join objects.
pub fn team_ids(team: &wire::Team) -> TeamIds {
    TeamIds {
        id: team.id.clone(),
        slug: team.slug.clone(),
        name: team.name.clone(),
        description: team.description.clone(),
        privacy: team.privacy.clone(),
        default_team: team.is_default_team,
        default_member_role: team.default_member_role.clone(),
        members_can_create_pipelines: team.members_can_create_pipelines,
        members: BTreeMap::new(),
        pipelines: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_and_teams_take_the_manifests_names() {
        let mut scope = ReadScope::default();
        scope.people.insert("ada".into(), "Ada@Example.org".into());
        scope.member_groups.insert("platform".into());
        let names = Names::new(&scope);
        assert_eq!(names.person("ada@example.org "), "ada");
        assert_eq!(names.person("bob@example.org"), "bob@example.org");
        assert_eq!(names.team("Platform", "platform"), "platform");
        assert_eq!(names.team("The Platform Team", "platform"), "platform");
        assert_eq!(names.team("Ops", "ops"), "Ops");
        assert!(names.members_wanted("PLATFORM", "x"));
        assert!(!names.members_wanted("Ops", "x"));
        assert_eq!(pipeline_of(&pipeline_scope("deploy")), Some("deploy"));
        assert_eq!(pipeline_of(&Scope::root()), None);
    }
}
