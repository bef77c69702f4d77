//! Buildkite's GraphQL answers as far as rollcall reads them (the schema's field names),
//! and its error bodies. These stay inside the provider; `convert` turns them into the
//! model.

use serde::Deserialize;

/// `{"data": …, "errors": […]}`: a document's answer. `data` may be partial (aliased
/// mutations each answer on their own) or null.
#[derive(Debug, Deserialize)]
pub struct Response {
    #[serde(default)]
    pub data: Option<serde_json::Value>,
    #[serde(default)]
    pub errors: Option<Vec<Error>>,
}

/// One entry of `errors`: the message, and the response path it is about (the alias of
/// a mutation, for a batch).
#[derive(Debug, Clone, Deserialize)]
pub struct Error {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub path: Option<Vec<serde_json::Value>>,
}

impl Error {
    pub fn message(&self) -> String {
        self.message
            .clone()
            .unwrap_or_else(|| "an error without a message".to_owned())
    }

    /// The first step of its path: the alias it is about.
    pub fn alias(&self) -> Option<&str> {
        self.path.as_ref()?.first()?.as_str()
    }

    /// The message with its path, as the vendor gave them.
    pub fn describe(&self) -> String {
        match &self.path {
            Some(path) if !path.is_empty() => {
                let steps: Vec<String> = path
                    .iter()
                    .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
                    .collect();
                format!("{} (at {})", self.message(), steps.join("."))
            }
            _ => self.message(),
        }
    }
}

/// `{ hasNextPage endCursor }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    #[serde(default)]
    pub has_next_page: bool,
    #[serde(default)]
    pub end_cursor: Option<String>,
}

/// A connection: `count`, `pageInfo` and `edges { node }`. A null edge or node (the
/// schema allows them) is skipped.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection<T> {
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub page_info: Option<PageInfo>,
    #[serde(default = "Vec::new")]
    pub edges: Vec<Option<Edge<T>>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Edge<T> {
    pub node: Option<T>,
}

impl<T> Connection<T> {
    pub fn nodes(self) -> Vec<T> {
        self.edges.into_iter().flatten().filter_map(|e| e.node).collect()
    }

    pub fn page_info(&self) -> PageInfo {
        self.page_info.clone().unwrap_or_default()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub name: String,
}

/// The answer to the organization query.
#[derive(Debug, Deserialize)]
pub struct OrganizationData {
    #[serde(default)]
    pub viewer: Option<Viewer>,
    pub organization: Option<Organization>,
}

#[derive(Debug, Deserialize)]
pub struct Viewer {
    #[serde(default)]
    pub user: Option<User>,
}

/// `{ organization { … } }` of the invitations and teams queries.
#[derive(Debug, Deserialize)]
pub struct OrganizationOf<T> {
    pub organization: Option<T>,
}

/// `{ team { … } }` of the continuation queries.
#[derive(Debug, Deserialize)]
pub struct TeamOf<T> {
    pub team: Option<TeamPage<T>>,
}

/// `{ node { … } }`.
#[derive(Debug, Deserialize)]
pub struct NodeOf<T> {
    pub node: Option<T>,
}

/// An invitation's teams, looked up alone.
#[derive(Debug, Deserialize)]
pub struct InvitationTeams {
    #[serde(default)]
    pub teams: Option<Connection<TeamAssignment>>,
}

/// `organization(slug:)` with its first page of members.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: String,
    #[serde(default)]
    pub is_teams_enabled: Option<bool>,
    #[serde(default)]
    pub sso: Option<Sso>,
    pub members: Option<Connection<Member>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sso {
    #[serde(default)]
    pub is_enabled: Option<bool>,
}

/// An `OrganizationMember`: its own id (what updates and removals name), its role and
/// its person.
#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    pub id: String,
    pub role: String,
    pub user: User,
}

#[derive(Debug, Deserialize)]
pub struct InvitationsOrg {
    pub invitations: Option<Connection<Invitation>>,
}

/// A pending `OrganizationInvitation` and the teams it puts its person in.
#[derive(Debug, Clone, Deserialize)]
pub struct Invitation {
    pub id: String,
    pub email: String,
    pub role: String,
    #[serde(default)]
    pub teams: Option<Connection<TeamAssignment>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TeamAssignment {
    pub role: String,
    pub team: TeamRef,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TeamRef {
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct TeamsOrg {
    pub teams: Option<Connection<Team>>,
}

/// A `Team` with its settings, and the first pages of its members and pipelines.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Team {
    pub id: String,
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub privacy: String,
    pub is_default_team: bool,
    pub default_member_role: String,
    #[serde(default)]
    pub members_can_create_pipelines: Option<bool>,
    #[serde(default)]
    pub members: Option<Connection<TeamMember>>,
    #[serde(default)]
    pub pipelines: Option<Connection<TeamPipeline>>,
}

/// A `TeamMember`: its own id (what updates and removals name), its role and person.
#[derive(Debug, Clone, Deserialize)]
pub struct TeamMember {
    pub id: String,
    pub role: String,
    pub user: Option<User>,
}

/// A `TeamPipeline`: its own id, the access level and the pipeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamPipeline {
    pub id: String,
    pub access_level: String,
    pub pipeline: Option<PipelineRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PipelineRef {
    pub id: String,
    pub slug: String,
}

/// `team(slug:)` with a page of one of its connections.
#[derive(Debug, Deserialize)]
pub struct TeamPage<T> {
    pub members: Option<Connection<T>>,
    pub pipelines: Option<Connection<T>>,
}

/// The vendor's message from a failure's body: GraphQL's `errors` (a 429 has them), or
/// REST's `{"message": …}`.
pub fn error_message(body: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Option<Vec<Error>>,
        #[serde(default)]
        message: Option<String>,
    }
    let parsed: Body = serde_json::from_str(body).ok()?;
    match parsed.errors {
        Some(errors) if !errors.is_empty() => Some(errors.iter().map(Error::describe).collect::<Vec<_>>().join("; ")),
        _ => parsed.message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_their_alias_and_bodies_their_messages() {
        let body = r#"{"data":{"m0":null,"m1":{"clientMutationId":null}},
            "errors":[{"message":"Team name has already been taken","path":["m0"]}]}"#;
        let r: Response = serde_json::from_str(body).unwrap();
        let errors = r.errors.unwrap();
        assert_eq!(errors[0].alias(), Some("m0"));
        assert_eq!(errors[0].describe(), "Team name has already been taken (at m0)");
        let limited = r#"{"errors":[{"message":"You have exceeded your per-user limit of 5000 complexity points. Please try again in 187 seconds."}]}"#;
        assert!(error_message(limited).unwrap().contains("187 seconds"));
        assert_eq!(
            error_message(r#"{"message":"No organization found"}"#).as_deref(),
            Some("No organization found")
        );
        assert_eq!(error_message("<html>"), None);
    }

    #[test]
    fn connections_skip_null_edges() {
        let body = r#"{"count":3,"pageInfo":{"hasNextPage":true,"endCursor":"c2"},
            "edges":[{"node":{"id":"a","role":"ADMIN","user":{"id":"u","email":"a@x","name":"A"}}},null,{"node":null}]}"#;
        let c: Connection<Member> = serde_json::from_str(body).unwrap();
        let info = c.page_info();
        assert!(info.has_next_page);
        assert_eq!(info.end_cursor.as_deref(), Some("c2"));
        assert_eq!(c.count, Some(3));
        assert_eq!(c.nodes().len(), 1);
    }
}
