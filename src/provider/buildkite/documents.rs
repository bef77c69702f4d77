//! Every GraphQL document the provider sends, as text written once: the read's queries
//! whole, and the mutations and the pipeline look-up as one field each, which a batch
//! repeats under aliases (`m0: teamCreate(input: $i0) { … }`). A unit test validates
//! each against the vendor's schema (`specs/buildkite.schema.graphql`), whole or as a
//! batch, so a field or argument the schema lacks fails the build's tests, not a run.
//!
//! Page sizes are variables, so the provider sizes each page to what is left of the
//! complexity windows; the costs below are what [`super::cost::requested`] gives.

/// The organization, its SSO setting, the token's own user, and a page of members.
/// Requested complexity: 7 + 2 × `first`.
pub const ORGANIZATION: &str = r#"query Organization($slug: ID!, $first: Int!, $after: String) {
  viewer { user { id email } }
  organization(slug: $slug) {
    id
    slug
    isTeamsEnabled
    sso { isEnabled }
    members(first: $first, after: $after) {
      count
      pageInfo { hasNextPage endCursor }
      edges { node { id role user { id email name } } }
    }
  }
}"#;
pub const ORGANIZATION_FIXED: u64 = 7;
pub const ORGANIZATION_EACH: u64 = 2;

/// A page of pending invitations, each with the teams it puts its person in.
/// Requested complexity: 4 + `first` × (3 + 2 × `teams`).
pub const INVITATIONS: &str = r#"query Invitations($slug: ID!, $first: Int!, $after: String, $teams: Int!) {
  organization(slug: $slug) {
    invitations(first: $first, after: $after, state: [PENDING]) {
      count
      pageInfo { hasNextPage endCursor }
      edges { node { id email role teams(first: $teams) { count edges { node { role team { id slug name } } } } } }
    }
  }
}"#;
pub const INVITATIONS_FIXED: u64 = 4;

/// One invitation's teams, when it has more than the invitations page asked for (the
/// connection takes only `first`).
/// Requested complexity: 3 + 2 × `teams`.
pub const INVITATION_TEAMS: &str = r#"query InvitationTeams($id: ID!, $teams: Int!) {
  node(id: $id) {
    ... on OrganizationInvitation {
      id
      teams(first: $teams) { count edges { node { role team { id slug name } } } }
    }
  }
}"#;

/// A page of teams with their settings and the first pages of their members and
/// pipelines. Requested complexity: 4 + `first` × (7 + 2 × `members` + 2 × `pipelines`).
pub const TEAMS: &str = r#"query Teams($slug: ID!, $first: Int!, $after: String, $members: Int!, $pipelines: Int!) {
  organization(slug: $slug) {
    teams(first: $first, after: $after) {
      count
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          id
          slug
          name
          description
          privacy
          isDefaultTeam
          defaultMemberRole
          membersCanCreatePipelines
          members(first: $members) {
            count
            pageInfo { hasNextPage endCursor }
            edges { node { id role user { id email name } } }
          }
          pipelines(first: $pipelines) {
            count
            pageInfo { hasNextPage endCursor }
            edges { node { id accessLevel pipeline { id slug } } }
          }
        }
      }
    }
  }
}"#;
pub const TEAMS_FIXED: u64 = 4;

/// The next page of one team's members. Requested complexity: 4 + 2 × `first`.
pub const TEAM_MEMBERS: &str = r#"query TeamMembers($team: ID!, $first: Int!, $after: String) {
  team(slug: $team) {
    members(first: $first, after: $after) {
      count
      pageInfo { hasNextPage endCursor }
      edges { node { id role user { id email name } } }
    }
  }
}"#;

/// The next page of one team's pipelines. Requested complexity: 4 + 2 × `first`.
pub const TEAM_PIPELINES: &str = r#"query TeamPipelines($team: ID!, $first: Int!, $after: String) {
  team(slug: $team) {
    pipelines(first: $first, after: $after) {
      count
      pageInfo { hasNextPage endCursor }
      edges { node { id accessLevel pipeline { id slug } } }
    }
  }
}"#;

/// A continuation page costs this plus 2 per element.
pub const CONTINUATION_FIXED: u64 = 4;

/// A pipeline's id by its `organization/pipeline` slug, repeated under aliases for as
/// many pipelines as a batch needs (`$VAR` becomes the alias's variable). Costs 1 each.
pub const PIPELINE_BY_SLUG: (&str, &str) = ("pipeline(slug: $VAR) { id slug }", "ID!");
/// Pipelines looked up in one query.
pub const PIPELINES_PER_LOOKUP: usize = 100;

/// A mutation: the field with its payload selection (`$VAR` becomes the alias's input
/// variable) and the input's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mutation {
    pub field: &'static str,
    pub input: &'static str,
}

pub const INVITE: Mutation = Mutation {
    field: "organizationInvitationCreate(input: $VAR) { invitationEdges { node { id email role } } }",
    input: "OrganizationInvitationCreateInput!",
};
pub const REVOKE: Mutation = Mutation {
    field: "organizationInvitationRevoke(input: $VAR) { organizationInvitation { id } }",
    input: "OrganizationInvitationRevokeInput!",
};
pub const MEMBER_UPDATE: Mutation = Mutation {
    field: "organizationMemberUpdate(input: $VAR) { organizationMember { id role } }",
    input: "OrganizationMemberUpdateInput!",
};
pub const MEMBER_DELETE: Mutation = Mutation {
    field: "organizationMemberDelete(input: $VAR) { deletedOrganizationMemberID }",
    input: "OrganizationMemberDeleteInput!",
};
pub const TEAM_CREATE: Mutation = Mutation {
    field: "teamCreate(input: $VAR) { teamEdge { node { id slug name description privacy isDefaultTeam defaultMemberRole membersCanCreatePipelines } } }",
    input: "TeamCreateInput!",
};
pub const TEAM_UPDATE: Mutation = Mutation {
    field: "teamUpdate(input: $VAR) { team { id slug name description privacy isDefaultTeam defaultMemberRole membersCanCreatePipelines } }",
    input: "TeamUpdateInput!",
};
pub const TEAM_DELETE: Mutation = Mutation {
    field: "teamDelete(input: $VAR) { deletedTeamID }",
    input: "TeamDeleteInput!",
};
pub const TEAM_MEMBER_CREATE: Mutation = Mutation {
    field: "teamMemberCreate(input: $VAR) { teamMemberEdge { node { id role } } }",
    input: "TeamMemberCreateInput!",
};
pub const TEAM_MEMBER_UPDATE: Mutation = Mutation {
    field: "teamMemberUpdate(input: $VAR) { teamMember { id role } }",
    input: "TeamMemberUpdateInput!",
};
pub const TEAM_MEMBER_DELETE: Mutation = Mutation {
    field: "teamMemberDelete(input: $VAR) { deletedTeamMemberID }",
    input: "TeamMemberDeleteInput!",
};
pub const TEAM_PIPELINE_CREATE: Mutation = Mutation {
    field: "teamPipelineCreate(input: $VAR) { teamPipelineEdge { node { id accessLevel } } }",
    input: "TeamPipelineCreateInput!",
};
pub const TEAM_PIPELINE_UPDATE: Mutation = Mutation {
    field: "teamPipelineUpdate(input: $VAR) { teamPipeline { id accessLevel } }",
    input: "TeamPipelineUpdateInput!",
};
pub const TEAM_PIPELINE_DELETE: Mutation = Mutation {
    field: "teamPipelineDelete(input: $VAR) { deletedTeamPipelineID }",
    input: "TeamPipelineDeleteInput!",
};

#[cfg(test)]
pub const MUTATIONS: [Mutation; 13] = [
    INVITE,
    REVOKE,
    MEMBER_UPDATE,
    MEMBER_DELETE,
    TEAM_CREATE,
    TEAM_UPDATE,
    TEAM_DELETE,
    TEAM_MEMBER_CREATE,
    TEAM_MEMBER_UPDATE,
    TEAM_MEMBER_DELETE,
    TEAM_PIPELINE_CREATE,
    TEAM_PIPELINE_UPDATE,
    TEAM_PIPELINE_DELETE,
];

/// One document of aliased fields: `m0: field(input: $i0) …`, each with its variable
/// declared by its type. `kind` is `mutation` or `query`, `prefix` the alias's letter.
pub fn batch(kind: &str, name: &str, prefix: char, fields: &[(&str, &str)]) -> String {
    let mut variables = Vec::with_capacity(fields.len());
    let mut body = String::new();
    for (i, (field, input)) in fields.iter().enumerate() {
        let var = format!("{prefix}{i}");
        variables.push(format!("${var}: {input}"));
        body.push_str(&format!("  {var}: {}\n", field.replace("$VAR", &format!("${var}"))));
    }
    if variables.is_empty() {
        return format!("{kind} {name} {{\n{body}}}");
    }
    format!("{kind} {name}({}) {{\n{body}}}", variables.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use apollo_compiler::{ExecutableDocument, Schema};
    use serde_json::json;

    fn schema() -> apollo_compiler::validation::Valid<Schema> {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/specs/buildkite.schema.graphql"))
            .expect("the vendor's schema is in specs/");
        Schema::parse_and_validate(text, "buildkite.schema.graphql").expect("the vendor's schema is valid")
    }

    fn validate(schema: &apollo_compiler::validation::Valid<Schema>, name: &str, text: &str) {
        if let Err(e) = ExecutableDocument::parse_and_validate(schema, text, name) {
            panic!(
                "{name} does not validate against Buildkite's schema:\n{}\n{text}",
                e.errors
            );
        }
    }

    #[test]
    fn every_document_validates_against_the_vendors_schema() {
        let schema = schema();
        for (name, text) in [
            ("ORGANIZATION", ORGANIZATION),
            ("INVITATIONS", INVITATIONS),
            ("INVITATION_TEAMS", INVITATION_TEAMS),
            ("TEAMS", TEAMS),
            ("TEAM_MEMBERS", TEAM_MEMBERS),
            ("TEAM_PIPELINES", TEAM_PIPELINES),
        ] {
            validate(&schema, name, text);
        }
        let every: Vec<(&str, &str)> = MUTATIONS.iter().map(|m| (m.field, m.input)).collect();
        validate(
            &schema,
            "a batch of every mutation",
            &batch("mutation", "Batch", 'm', &every),
        );
        let twice: Vec<(&str, &str)> = [TEAM_MEMBER_CREATE, TEAM_MEMBER_CREATE]
            .iter()
            .map(|m| (m.field, m.input))
            .collect();
        validate(
            &schema,
            "a batch of one mutation twice",
            &batch("mutation", "Batch", 'm', &twice),
        );
        let lookups = [PIPELINE_BY_SLUG, PIPELINE_BY_SLUG, PIPELINE_BY_SLUG];
        validate(
            &schema,
            "pipelines by slug",
            &batch("query", "Pipelines", 'p', &lookups),
        );
    }

    /// The costs the read sizes its pages by, as the estimator counts them.
    #[test]
    fn the_documented_costs_are_the_estimators() {
        let cost = |doc: &str, vars: serde_json::Value| super::super::cost::requested(doc, &vars).unwrap();
        assert_eq!(
            cost(ORGANIZATION, json!({"first": 500})),
            ORGANIZATION_FIXED + ORGANIZATION_EACH * 500
        );
        assert_eq!(
            cost(INVITATIONS, json!({"first": 100, "teams": 50})),
            INVITATIONS_FIXED + 100 * (3 + 2 * 50)
        );
        assert_eq!(cost(INVITATION_TEAMS, json!({"teams": 250})), 3 + 2 * 250);
        assert_eq!(
            cost(TEAMS, json!({"first": 50, "members": 100, "pipelines": 100})),
            TEAMS_FIXED + 50 * (7 + 2 * 100 + 2 * 100)
        );
        assert_eq!(cost(TEAM_MEMBERS, json!({"first": 500})), CONTINUATION_FIXED + 2 * 500);
        assert_eq!(
            cost(TEAM_PIPELINES, json!({"first": 500})),
            CONTINUATION_FIXED + 2 * 500
        );
        let lookups = batch("query", "Pipelines", 'p', &[PIPELINE_BY_SLUG, PIPELINE_BY_SLUG]);
        assert_eq!(cost(&lookups, json!({})), 2);
    }
}
