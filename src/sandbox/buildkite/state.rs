//! The state file of the Buildkite emulator: one organization (its settings, members,
//! pending invitations, pipelines and teams with their members and pipeline grants), the
//! operator (the token's user), and the limits the emulator enforces.
//!
//! People are named by email, teams by slug, pipelines by slug: a file is written and read
//! by people. The uuids behind Buildkite's node ids are minted by the emulator from a
//! counter (`serial`) in file order wherever a file leaves them out, and saved back, so
//! the same file gives the same ids on every run and an id survives a rename. Users,
//! pipelines and the organization are identified by what cannot change through the API
//! (email, slug), so their uuids are derived from it and never stored.
//!
//! `check` holds a hand-edited file to what the service itself would never hold: unique
//! emails and slugs, references that resolve, at least one administrator.

use serde::{Deserialize, Serialize};

use super::ids;
use crate::sandbox::faults::FaultConfig;
use crate::sandbox::state::StateFile;

/// The `kind` this emulator's state files name.
pub const KIND: &str = "buildkite";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BkState {
    pub kind: String,
    pub organization: Organization,
    /// The email of the token's user, an organization member.
    pub operator: String,
    #[serde(default)]
    pub members: Vec<Member>,
    /// Pending invitations.
    #[serde(default)]
    pub invitations: Vec<Invitation>,
    /// Pipeline slugs.
    #[serde(default)]
    pub pipelines: Vec<String>,
    #[serde(default)]
    pub teams: Vec<Team>,
    #[serde(default)]
    pub limits: Limits,
    /// How many uuids the emulator has minted: the next one is derived from this.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub serial: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultConfig>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    pub slug: String,
    pub name: String,
    /// Whether team permissions are on (REST `teams/enable` turns them on).
    #[serde(default = "yes")]
    pub teams_enabled: bool,
    /// Whether the plan includes teams at all: without, enabling them is a 403.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub teams_in_plan: bool,
    #[serde(default)]
    pub sso: Sso,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sso {
    #[serde(default)]
    pub enabled: bool,
}

/// `OrganizationMemberRole`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgRole {
    Admin,
    #[default]
    Member,
}

impl OrgRole {
    pub fn graphql(self) -> &'static str {
        match self {
            OrgRole::Admin => "ADMIN",
            OrgRole::Member => "MEMBER",
        }
    }

    pub fn from_graphql(value: &str) -> Option<Self> {
        match value {
            "ADMIN" => Some(OrgRole::Admin),
            "MEMBER" => Some(OrgRole::Member),
            _ => None,
        }
    }
}

/// `TeamMemberRole`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeamRole {
    Maintainer,
    #[default]
    Member,
}

impl TeamRole {
    pub fn graphql(self) -> &'static str {
        match self {
            TeamRole::Maintainer => "MAINTAINER",
            TeamRole::Member => "MEMBER",
        }
    }

    pub fn from_graphql(value: &str) -> Option<Self> {
        match value {
            "MAINTAINER" => Some(TeamRole::Maintainer),
            "MEMBER" => Some(TeamRole::Member),
            _ => None,
        }
    }
}

/// `TeamPrivacy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Privacy {
    #[default]
    Visible,
    Secret,
}

impl Privacy {
    pub fn graphql(self) -> &'static str {
        match self {
            Privacy::Visible => "VISIBLE",
            Privacy::Secret => "SECRET",
        }
    }

    pub fn from_graphql(value: &str) -> Option<Self> {
        match value {
            "VISIBLE" => Some(Privacy::Visible),
            "SECRET" => Some(Privacy::Secret),
            _ => None,
        }
    }
}

/// `PipelineAccessLevels`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    #[default]
    ReadOnly,
    BuildAndRead,
    ManageBuildAndRead,
}

impl Access {
    pub fn graphql(self) -> &'static str {
        match self {
            Access::ReadOnly => "READ_ONLY",
            Access::BuildAndRead => "BUILD_AND_READ",
            Access::ManageBuildAndRead => "MANAGE_BUILD_AND_READ",
        }
    }

    pub fn from_graphql(value: &str) -> Option<Self> {
        match value {
            "READ_ONLY" => Some(Access::ReadOnly),
            "BUILD_AND_READ" => Some(Access::BuildAndRead),
            "MANAGE_BUILD_AND_READ" => Some(Access::ManageBuildAndRead),
            _ => None,
        }
    }
}

/// An organization member (`OrganizationMember` and its `User`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub email: String,
    pub name: String,
    #[serde(default)]
    pub role: OrgRole,
    /// The membership's uuid; minted when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
}

/// A pending invitation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invitation {
    pub email: String,
    #[serde(default)]
    pub role: OrgRole,
    #[serde(default)]
    pub teams: Vec<InvitedTeam>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
}

/// A team an invitation adds its person to, by slug, with a role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvitedTeam {
    pub team: String,
    #[serde(default)]
    pub role: TeamRole,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub name: String,
    /// Derived from the name when absent, as Buildkite does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub privacy: Privacy,
    #[serde(default)]
    pub default_member_role: TeamRole,
    /// "Automatically add new users to this team" (`isDefaultTeam`).
    #[serde(default)]
    pub default_team: bool,
    #[serde(default = "yes")]
    pub members_can_create_pipelines: bool,
    #[serde(default)]
    pub members: Vec<TeamMember>,
    #[serde(default)]
    pub pipelines: Vec<TeamPipeline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
}

impl Team {
    /// The slug (`check` fills it in on every state read).
    pub fn slug(&self) -> &str {
        self.slug.as_deref().unwrap_or_default()
    }

    pub fn uuid(&self) -> &str {
        self.uuid.as_deref().unwrap_or_default()
    }
}

impl Member {
    pub fn uuid(&self) -> &str {
        self.uuid.as_deref().unwrap_or_default()
    }
}

impl Invitation {
    pub fn uuid(&self) -> &str {
        self.uuid.as_deref().unwrap_or_default()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamMember {
    pub email: String,
    #[serde(default)]
    pub role: TeamRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
}

impl TeamMember {
    pub fn uuid(&self) -> &str {
        self.uuid.as_deref().unwrap_or_default()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamPipeline {
    pub pipeline: String,
    #[serde(default)]
    pub access: Access,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
}

impl TeamPipeline {
    pub fn uuid(&self) -> &str {
        self.uuid.as_deref().unwrap_or_default()
    }
}

/// What the emulator enforces; each defaults to the vendor's documented figure, and a
/// test makes them small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Teams an organization may have.
    pub max_teams: usize,
    /// The largest `first`/`last` a connection takes.
    pub max_page_size: u64,
    /// The requested complexity a single query may have.
    pub max_complexity: u64,
    /// Actual complexity points a user may spend per window.
    pub user_points: i64,
    /// Actual complexity points the organization may spend per window.
    pub org_points: i64,
    /// The GraphQL window, in seconds.
    pub window_seconds: u64,
    /// REST requests a user may make per REST window.
    pub rest_user_requests: i64,
    /// REST requests the organization may make per REST window.
    pub rest_org_requests: i64,
    /// The REST window, in seconds.
    pub rest_window_seconds: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_teams: 250,
            max_page_size: 500,
            max_complexity: 50_000,
            user_points: 5_000,
            org_points: 20_000,
            window_seconds: 300,
            rest_user_requests: 50,
            rest_org_requests: 200,
            rest_window_seconds: 60,
        }
    }
}

impl StateFile for BkState {
    fn faults(&self) -> Option<&FaultConfig> {
        self.faults.as_ref()
    }

    fn check(&mut self) -> Result<(), String> {
        if self.kind != KIND {
            return Err(format!("`kind` must be `{KIND}`, not `{}`", self.kind));
        }
        let mut emails = std::collections::HashSet::new();
        for member in &self.members {
            if !emails.insert(member.email.to_lowercase()) {
                return Err(format!("members: {} is listed twice", member.email));
            }
        }
        if self.member(&self.operator).is_none() {
            return Err(format!("operator {} is not among the members", self.operator));
        }
        if !self.members.iter().any(|m| m.role == OrgRole::Admin) {
            return Err("members: an organization has at least one admin".to_owned());
        }
        let mut pipelines = std::collections::HashSet::new();
        for pipeline in &self.pipelines {
            if !pipelines.insert(pipeline.as_str()) {
                return Err(format!("pipelines: {pipeline} is listed twice"));
            }
        }
        let mut slugs = std::collections::HashSet::new();
        for team in &mut self.teams {
            let slug = team.slug.clone().unwrap_or_else(|| ids::slugify(&team.name));
            if slug.is_empty() {
                return Err(format!("teams: {:?} has no slug", team.name));
            }
            if !slugs.insert(slug.clone()) {
                return Err(format!("teams: the slug {slug} is used twice"));
            }
            team.slug = Some(slug);
        }
        for team in &self.teams {
            let mut on_team = std::collections::HashSet::new();
            for member in &team.members {
                if !emails.contains(&member.email.to_lowercase()) {
                    return Err(format!(
                        "teams: {}: {} is not an organization member",
                        team.slug(),
                        member.email
                    ));
                }
                if !on_team.insert(member.email.to_lowercase()) {
                    return Err(format!("teams: {}: {} is listed twice", team.slug(), member.email));
                }
            }
            let mut granted = std::collections::HashSet::new();
            for grant in &team.pipelines {
                if !pipelines.contains(grant.pipeline.as_str()) {
                    return Err(format!("teams: {}: no pipeline {}", team.slug(), grant.pipeline));
                }
                if !granted.insert(grant.pipeline.as_str()) {
                    return Err(format!("teams: {}: {} is listed twice", team.slug(), grant.pipeline));
                }
            }
        }
        let mut invited = std::collections::HashSet::new();
        for invitation in &self.invitations {
            if emails.contains(&invitation.email.to_lowercase()) {
                return Err(format!("invitations: {} is already a member", invitation.email));
            }
            if !invited.insert(invitation.email.to_lowercase()) {
                return Err(format!("invitations: {} is invited twice", invitation.email));
            }
            for assignment in &invitation.teams {
                if !slugs.contains(&assignment.team) {
                    return Err(format!(
                        "invitations: {}: no team {}",
                        invitation.email, assignment.team
                    ));
                }
            }
        }
        self.mint_missing();
        Ok(())
    }
}

impl BkState {
    /// Gives every membership, invitation, team and grant that has no uuid one, in file
    /// order.
    fn mint_missing(&mut self) {
        let mut serial = self.serial;
        let org = self.organization.slug.clone();
        let mut mint = |slot: &mut Option<String>| {
            if slot.is_none() {
                serial += 1;
                *slot = Some(ids::minted_uuid(&org, serial));
            }
        };
        for member in &mut self.members {
            mint(&mut member.uuid);
        }
        for invitation in &mut self.invitations {
            mint(&mut invitation.uuid);
        }
        for team in &mut self.teams {
            mint(&mut team.uuid);
            for member in &mut team.members {
                mint(&mut member.uuid);
            }
            for grant in &mut team.pipelines {
                mint(&mut grant.uuid);
            }
        }
        self.serial = serial;
    }

    /// A new uuid for something the API creates.
    pub fn mint(&mut self) -> String {
        self.serial += 1;
        ids::minted_uuid(&self.organization.slug, self.serial)
    }

    /// The organization's uuid, derived from its slug.
    pub fn org_uuid(&self) -> String {
        ids::derived_uuid("Organization", &self.organization.slug)
    }

    /// The member with `email` (emails compare case-insensitively).
    pub fn member(&self, email: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.email.eq_ignore_ascii_case(email))
    }

    pub fn team_by_uuid(&self, uuid: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.uuid() == uuid)
    }

    pub fn team_by_slug(&self, slug: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.slug() == slug)
    }

    /// The operator's email, the account the token acts as.
    pub fn operator_email(&self) -> &str {
        &self.operator
    }

    /// A person accepts their pending invitation: they become a member with its role and
    /// are added to its teams with its roles (teams deleted since are skipped), and to
    /// every default team. `name` is the name they sign up with.
    pub fn accept_invitation(&mut self, email: &str, name: &str) -> Result<(), String> {
        let at = self
            .invitations
            .iter()
            .position(|i| i.email.eq_ignore_ascii_case(email))
            .ok_or_else(|| format!("no pending invitation for {email}"))?;
        let invitation = self.invitations.remove(at);
        let member_uuid = self.mint();
        self.members.push(Member {
            email: invitation.email.clone(),
            name: name.to_owned(),
            role: invitation.role,
            uuid: Some(member_uuid),
        });
        let mut joins: Vec<(String, TeamRole)> = invitation.teams.iter().map(|t| (t.team.clone(), t.role)).collect();
        for team in &self.teams {
            if team.default_team && !joins.iter().any(|(slug, _)| slug == team.slug()) {
                joins.push((team.slug().to_owned(), team.default_member_role));
            }
        }
        for (slug, role) in joins {
            let uuid = self.mint();
            if let Some(team) = self.teams.iter_mut().find(|t| t.slug() == slug) {
                team.members.push(TeamMember {
                    email: invitation.email.clone(),
                    role,
                    uuid: Some(uuid),
                });
            }
        }
        Ok(())
    }

    /// REST `teams/enable`: turns teams on; an organization with no team gets an
    /// "Everyone" team holding every member and every pipeline.
    pub fn enable_teams(&mut self) {
        if self.organization.teams_enabled {
            return;
        }
        self.organization.teams_enabled = true;
        if !self.teams.is_empty() {
            return;
        }
        let team_uuid = self.mint();
        let mut team = Team {
            name: "Everyone".to_owned(),
            slug: Some("everyone".to_owned()),
            description: None,
            privacy: Privacy::Visible,
            default_member_role: TeamRole::Member,
            default_team: true,
            members_can_create_pipelines: true,
            members: Vec::new(),
            pipelines: Vec::new(),
            uuid: Some(team_uuid),
        };
        let emails: Vec<String> = self.members.iter().map(|m| m.email.clone()).collect();
        for email in emails {
            let uuid = self.mint();
            team.members.push(TeamMember {
                email,
                role: TeamRole::Member,
                uuid: Some(uuid),
            });
        }
        for pipeline in self.pipelines.clone() {
            let uuid = self.mint();
            team.pipelines.push(TeamPipeline {
                pipeline,
                access: Access::ManageBuildAndRead,
                uuid: Some(uuid),
            });
        }
        self.teams.push(team);
    }
}
