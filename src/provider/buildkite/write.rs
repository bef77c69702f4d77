//! Writing: a batch of changes as one document of aliased mutations (at most 25), each
//! naming the node ids the read kept, in the order the core gives. An invitation
//! carries its person's first teams and admin role (`rides_with`); a new team needs
//! teams enabled (one REST call, when the organization has them off); access to a
//! pipeline needs its id, looked up by slug for the whole batch in one query.
//!
//! Each mutation answers on its own: those that failed are reported by their place in
//! the batch (`ProviderError::Partial`) and the others count as applied. A document whose
//! answer was lost (a timeout, a dropped connection) is never sent again blind: the
//! organization is read again, the changes found done are done, and only the others are
//! sent again, at most [`SENDS`] copies in all.

use serde_json::{json, Map, Value};

use crate::http::{ErrorKind, Idempotent, Operation, Request};
use crate::model::{Principal, Resource, ResourceId};
use crate::plan::Action;
use crate::provider::SENDS;

use super::convert::{self, TeamIds, ADMIN, MEMBER};
use super::documents::{self, Mutation};
use super::*;

/// Any change may share a document with any other of its batch key: each mutation
/// names its own object. Invitations have a key of their own (`batch_key`), so up to 25
/// share a document, each carrying its person's memberships and admin role (the
/// scheduler lets a change ride with any host in its step).
pub fn admits(_batch: &mut dyn Iterator<Item = &Change>, _change: &Change) -> bool {
    true
}

/// An invitation carries its person's memberships of existing teams and their admin
/// role.
pub fn rides_with(change: &Change, host: &Change) -> bool {
    let ResourceId::User { name: invited } = &host.address.id else {
        return false;
    };
    if host.action != Action::Create || change.action != Action::Create {
        return false;
    }
    match &change.address.id {
        ResourceId::Membership { user, .. } => user.eq_ignore_ascii_case(invited),
        ResourceId::Grant {
            scope,
            principal: Principal::User(user),
        } => scope.is_root() && user.eq_ignore_ascii_case(invited),
        _ => false,
    }
}

/// One mutation of a document: what it sends, and the changes (by their place in the
/// batch) whose outcome it is.
struct Call {
    mutation: Mutation,
    input: Value,
    changes: Vec<usize>,
}

impl Buildkite {
    pub(super) async fn apply_batch(&self, changes: &[Change]) -> Result<(), ProviderError> {
        self.gql.begin(Operation::Apply);
        let mut failures: Vec<(usize, String)> = Vec::new();
        let mut pending: Vec<usize> = (0..changes.len()).collect();
        let mut resent = false;
        // Once a read-back has shown some changes done, a later error fails only those
        // still pending: what landed stays reported as applied.
        let stop = |e: ProviderError, pending: &[usize], mut failures: Vec<(usize, String)>, resent: bool| {
            if !resent {
                return e;
            }
            let why = e.to_string();
            failures.extend(pending.iter().map(|&i| (i, why.clone())));
            failures.sort();
            failures.dedup_by_key(|(i, _)| *i);
            ProviderError::Partial {
                target: self.target().to_owned(),
                failures,
            }
        };
        for _copy in 0..SENDS {
            let (calls, refused) = match self.calls(changes, &pending).await {
                Ok(found) => found,
                Err(e) => return Err(stop(e, &pending, failures, resent)),
            };
            failures.extend(refused);
            if calls.is_empty() {
                break;
            }
            match self.send(&calls, resent).await {
                Ok(failed) => {
                    failures.extend(failed);
                    pending.clear();
                    break;
                }
                Err(e) if e.kind == ErrorKind::MayHaveBeenApplied => {
                    tracing::debug!(target: "rollcall::http", target_name = %self.target(), detail = %e.detail, "a batch's answer was lost; reading back");
                    let sent: Vec<usize> = calls.iter().flat_map(|c| c.changes.iter().copied()).collect();
                    pending = match self.not_landed(changes, &sent).await {
                        Ok(left) => left,
                        Err(e) => return Err(stop(e, &pending, failures, resent)),
                    };
                    resent = true;
                    if pending.is_empty() {
                        break;
                    }
                }
                Err(e) => return Err(stop(e.into(), &pending, failures, resent)),
            }
        }
        for i in pending {
            failures.push((
                i,
                format!("its answer was lost {SENDS} times and reading back found it not done"),
            ));
        }
        if failures.is_empty() {
            return Ok(());
        }
        failures.sort();
        failures.dedup_by_key(|(i, _)| *i);
        Err(ProviderError::Partial {
            target: self.target().to_owned(),
            failures,
        })
    }

    /// The mutations for the changes at `which`, and the changes refused before sending
    /// anything, with why.
    async fn calls(
        &self,
        changes: &[Change],
        which: &[usize],
    ) -> Result<(Vec<Call>, Vec<(usize, String)>), ProviderError> {
        // Teams first enabled, pipeline ids looked up: what the mutations will name.
        let creates_team = which.iter().any(|i| {
            matches!(changes[*i].address.id, ResourceId::Group { .. }) && changes[*i].action == Action::Create
        });
        if creates_team && !self.ids().teams_enabled {
            self.enable_teams().await?;
        }
        let slugs: Vec<String> = which
            .iter()
            .filter_map(|i| match (&changes[*i].address.id, changes[*i].action) {
                (ResourceId::Grant { scope, .. }, Action::Create) => convert::pipeline_of(scope).map(str::to_owned),
                _ => None,
            })
            .filter(|s| !self.ids().pipelines.contains_key(s))
            .collect();
        self.look_up_pipelines(slugs).await?;

        let ids = self.ids().clone();
        let mut calls: Vec<Call> = Vec::new();
        let mut refused = Vec::new();
        // Riders travel with their invitation: skip them here when their host is in.
        let hosts: Vec<usize> = which
            .iter()
            .copied()
            .filter(|i| {
                matches!(changes[*i].address.id, ResourceId::User { .. }) && changes[*i].action == Action::Create
            })
            .collect();
        for &i in which {
            let change = &changes[i];
            let host = hosts
                .iter()
                .copied()
                .find(|h| *h != i && rides_with(change, &changes[*h]));
            if host.is_some() {
                continue;
            }
            let riders: Vec<usize> = if hosts.contains(&i) {
                which
                    .iter()
                    .copied()
                    .filter(|r| *r != i && rides_with(&changes[*r], change))
                    .collect()
            } else {
                Vec::new()
            };
            let call = if hosts.contains(&i) {
                self.invite(&ids, changes, i, &riders)
            } else {
                self.call(&ids, change, i)
            };
            match call {
                Ok(call) => calls.push(call),
                // What rides with an invitation not sent is not done either.
                Err(why) => refused.extend(std::iter::once(i).chain(riders).map(|r| (r, why.clone()))),
            }
        }
        Ok((calls, refused))
    }

    /// Sends one document; the failures by change, or the error of the whole.
    async fn send(&self, calls: &[Call], resent: bool) -> Result<Vec<(usize, String)>, crate::http::HttpError> {
        let fields: Vec<(&str, &str)> = calls.iter().map(|c| (c.mutation.field, c.mutation.input)).collect();
        let document = documents::batch("mutation", "Apply", 'm', &fields);
        let mut variables = Map::new();
        let mut aliases = Vec::with_capacity(calls.len());
        for (k, call) in calls.iter().enumerate() {
            variables.insert(format!("m{k}"), call.input.clone());
            aliases.push(format!("m{k}"));
        }
        let what = format!("{} change{}", calls.len(), if calls.len() == 1 { "" } else { "s" });
        let answers = self
            .gql
            .mutate(&what, &document, Value::Object(variables), &aliases, resent)
            .await?;
        let mut failed = Vec::new();
        for (k, call) in calls.iter().enumerate() {
            let alias = format!("m{k}");
            match answers.errors.get(&alias) {
                Some(why) => failed.extend(call.changes.iter().map(|i| (*i, why.clone()))),
                None => self.learn(call, answers.data.get(&alias)),
            }
        }
        Ok(failed)
    }

    /// Keeps what a mutation that applied made or removed, for the changes after it.
    fn learn(&self, call: &Call, data: Option<&Value>) {
        let mut ids = self.ids();
        let input = &call.input;
        let text = |v: &Value, path: &[&str]| {
            let mut at = v;
            for p in path {
                at = at.get(p)?;
            }
            at.as_str().map(str::to_owned)
        };
        let field = call.mutation.field;
        if field == documents::TEAM_CREATE.field {
            let node = data.and_then(|d| d.get("teamEdge")).and_then(|e| e.get("node"));
            if let Some(team) = node.and_then(|n| serde_json::from_value::<wire::Team>(n.clone()).ok()) {
                ids.teams.insert(team.name.to_lowercase(), convert::team_ids(&team));
            }
        } else if field == documents::TEAM_UPDATE.field {
            let team = data
                .and_then(|d| d.get("team"))
                .and_then(|n| serde_json::from_value::<wire::Team>(n.clone()).ok());
            if let Some(team) = team {
                let old = ids.teams.iter().find(|(_, t)| t.id == team.id).map(|(k, _)| k.clone());
                let mut fresh = convert::team_ids(&team);
                if let Some(old) = old.and_then(|k| ids.teams.remove(&k)) {
                    fresh.members = old.members;
                    fresh.pipelines = old.pipelines;
                }
                ids.teams.insert(team.name.to_lowercase(), fresh);
            }
        } else if field == documents::TEAM_DELETE.field {
            let id = text(input, &["id"]);
            ids.teams.retain(|_, t| Some(&t.id) != id.as_ref());
        } else if field == documents::TEAM_MEMBER_CREATE.field {
            let member = data.and_then(|d| text(d, &["teamMemberEdge", "node", "id"]));
            let (team, user) = (text(input, &["teamID"]), text(input, &["userID"]));
            let name = ids
                .people
                .iter()
                .find(|(_, p)| p.user.is_some() && p.user == user)
                .map(|(n, _)| n.clone());
            if let (Some(member), Some(name)) = (member, name) {
                if let Some(t) = ids.teams.values_mut().find(|t| Some(&t.id) == team.as_ref()) {
                    t.members.insert(name, member);
                }
            }
        } else if field == documents::TEAM_MEMBER_DELETE.field {
            let id = text(input, &["id"]);
            for t in ids.teams.values_mut() {
                t.members.retain(|_, m| Some(&*m) != id.as_ref());
            }
        } else if field == documents::TEAM_PIPELINE_CREATE.field {
            let grant = data.and_then(|d| text(d, &["teamPipelineEdge", "node", "id"]));
            let (team, pipeline) = (text(input, &["teamID"]), text(input, &["pipelineID"]));
            let slug = ids
                .pipelines
                .iter()
                .find(|(_, id)| Some(*id) == pipeline.as_ref())
                .map(|(s, _)| s.clone());
            if let (Some(grant), Some(slug)) = (grant, slug) {
                if let Some(t) = ids.teams.values_mut().find(|t| Some(&t.id) == team.as_ref()) {
                    t.pipelines.insert(slug, grant);
                }
            }
        } else if field == documents::TEAM_PIPELINE_DELETE.field {
            let id = text(input, &["id"]);
            for t in ids.teams.values_mut() {
                t.pipelines.retain(|_, p| Some(&*p) != id.as_ref());
            }
        } else if field == documents::INVITE.field {
            let invitation = data
                .and_then(|d| d.get("invitationEdges"))
                .and_then(Value::as_array)
                .and_then(|edges| edges.iter().find_map(|e| text(e, &["node", "id"])));
            let email = input.get("emails").and_then(|e| e.get(0)).and_then(Value::as_str);
            if let (Some(invitation), Some(email)) = (invitation, email) {
                let name = convert::Names::new(&self.settings.scope).person(email);
                let role = text(input, &["role"]).unwrap_or_else(|| MEMBER.to_owned());
                ids.people.insert(
                    name.to_lowercase(),
                    convert::Person {
                        email: email.to_owned(),
                        invitation: Some(invitation),
                        role,
                        ..convert::Person::default()
                    },
                );
            }
        }
    }

    /// The changes among `sent` that a fresh read does not show done.
    async fn not_landed(&self, changes: &[Change], sent: &[usize]) -> Result<Vec<usize>, ProviderError> {
        let (live, ids, _) = self.read_state().await?;
        *self.ids() = ids;
        Ok(sent
            .iter()
            .copied()
            .filter(|i| {
                let change = &changes[*i];
                let now = live.get(&change.address);
                let done = match change.action {
                    Action::Delete => now.is_none(),
                    Action::Create | Action::Update => now.is_some_and(|r| landed(r, change.after.as_ref())),
                };
                !done
            })
            .collect())
    }

    /// `POST /v2/organizations/{org}/teams/enable` on the REST API: GraphQL cannot.
    async fn enable_teams(&self) -> Result<(), ProviderError> {
        let path = format!(
            "/v2/organizations/{}/teams/enable",
            crate::http::path_segment(&self.settings.organization)
        );
        self.rest.begin(Operation::Apply);
        self.rest
            .send(Request::new(reqwest::Method::POST, path, Idempotent::Yes))
            .await?;
        self.ids().teams_enabled = true;
        Ok(())
    }

    /// Pipeline ids by slug, all in one query (`p0: pipeline(slug: …)`); a slug with no
    /// pipeline stays unknown, and the change naming it fails.
    async fn look_up_pipelines(&self, mut slugs: Vec<String>) -> Result<(), ProviderError> {
        slugs.sort();
        slugs.dedup();
        for chunk in slugs.chunks(documents::PIPELINES_PER_LOOKUP) {
            let fields = vec![documents::PIPELINE_BY_SLUG; chunk.len()];
            let document = documents::batch("query", "Pipelines", 'p', &fields);
            let mut variables = Map::new();
            for (k, slug) in chunk.iter().enumerate() {
                variables.insert(
                    format!("p{k}"),
                    Value::String(format!("{}/{slug}", self.settings.organization)),
                );
            }
            let found: std::collections::BTreeMap<String, Option<wire::PipelineRef>> = self
                .gql
                .query("pipelines by slug", &document, Value::Object(variables))
                .await?;
            let mut ids = self.ids();
            for (k, slug) in chunk.iter().enumerate() {
                if let Some(Some(p)) = found.get(&format!("p{k}")) {
                    ids.pipelines.insert(slug.clone(), p.id.clone());
                }
            }
        }
        Ok(())
    }

    fn is_own(&self, ids: &convert::Ids, name: &str) -> bool {
        let person = ids.person(name);
        self.settings
            .account
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case(name) || person.is_some_and(|p| p.email.eq_ignore_ascii_case(a)))
            || person.is_some_and(|p| p.user.is_some() && p.user == ids.viewer)
    }

    /// An invitation, with its riders' teams and role.
    fn invite(&self, ids: &convert::Ids, changes: &[Change], host: usize, riders: &[usize]) -> Result<Call, String> {
        let change = &changes[host];
        let Some(Resource::User(user)) = &change.after else {
            return Err("an invitation needs the person's email".to_owned());
        };
        let organization = ids.organization.clone().ok_or("the organization was not read")?;
        let mut role = MEMBER;
        let mut teams = Vec::new();
        for r in riders {
            match &changes[*r].address.id {
                ResourceId::Membership { group, .. } => {
                    let team = ids
                        .team(group)
                        .ok_or_else(|| format!("team `{group}` is not in the organization"))?;
                    teams.push(json!({"id": team.id, "role": member_role(changes[*r].after.as_ref())}));
                }
                ResourceId::Grant { .. } => role = ADMIN,
                _ => {}
            }
        }
        let mut input = json!({"organizationID": organization, "emails": [user.email], "role": role});
        if !teams.is_empty() {
            input["teams"] = Value::Array(teams);
        }
        let mut covered = vec![host];
        covered.extend_from_slice(riders);
        Ok(Call {
            mutation: documents::INVITE,
            input,
            changes: covered,
        })
    }

    /// The mutation of one change.
    fn call(&self, ids: &convert::Ids, change: &Change, i: usize) -> Result<Call, String> {
        let one = |mutation: Mutation, input: Value| {
            Ok(Call {
                mutation,
                input,
                changes: vec![i],
            })
        };
        let person = |name: &str| {
            ids.person(name)
                .ok_or_else(|| format!("`{name}` is not in the organization"))
        };
        let team = |name: &str| {
            ids.team(name)
                .ok_or_else(|| format!("team `{name}` is not in the organization"))
        };
        match (&change.address.id, change.action) {
            (ResourceId::User { name }, Action::Delete) => {
                if self.is_own(ids, name) {
                    return Err(own_account(name, "removed from the organization"));
                }
                let p = person(name)?;
                match (&p.member, &p.invitation) {
                    (Some(member), _) => one(documents::MEMBER_DELETE, json!({"id": member})),
                    (None, Some(invitation)) => one(documents::REVOKE, json!({"id": invitation})),
                    (None, None) => Err(format!("`{name}` is neither a member nor invited")),
                }
            }
            (ResourceId::User { name }, Action::Create) => {
                // Alone, without riders: an invitation as a plain member.
                let Some(Resource::User(user)) = &change.after else {
                    return Err(format!("inviting `{name}` needs their email"));
                };
                let organization = ids.organization.clone().ok_or("the organization was not read")?;
                one(
                    documents::INVITE,
                    json!({"organizationID": organization, "emails": [user.email], "role": MEMBER}),
                )
            }
            (ResourceId::User { name }, Action::Update) => Err(format!(
                "`{name}`'s name and email are their own on Buildkite; rollcall does not change them"
            )),
            (
                ResourceId::Grant {
                    scope,
                    principal: Principal::User(name),
                },
                action,
            ) if scope.is_root() => {
                let role = match (action, &change.after) {
                    (Action::Delete, _) => MEMBER,
                    (_, Some(Resource::Permission { permission })) if permission == ADMIN => ADMIN,
                    _ => return Err("the organization role is ADMIN or none".to_owned()),
                };
                if role != ADMIN && self.is_own(ids, name) {
                    return Err(own_account(name, "demoted from administrator"));
                }
                let p = person(name)?;
                let member = p
                    .member
                    .as_ref()
                    .ok_or_else(|| format!("`{name}` has not accepted their invitation yet"))?;
                one(documents::MEMBER_UPDATE, json!({"id": member, "role": role}))
            }
            (ResourceId::Group { name }, Action::Create) => {
                let organization = ids.organization.clone().ok_or("the organization was not read")?;
                let attrs = group_attributes(change.after.as_ref());
                let mut input = json!({
                    "organizationID": organization,
                    "name": name.as_str(),
                    "privacy": attrs.get("privacy").cloned().unwrap_or_else(|| "VISIBLE".to_owned()),
                    "isDefaultTeam": attrs.get("default_team").is_some_and(|v| v == "true"),
                    "defaultMemberRole": attrs.get("default_member_role").cloned().unwrap_or_else(|| MEMBER.to_owned()),
                });
                if let Some(d) = attrs.get("description") {
                    input["description"] = json!(d);
                }
                one(documents::TEAM_CREATE, input)
            }
            (ResourceId::Group { name }, Action::Update) => {
                let old = change.renamed_from.as_deref().unwrap_or(name);
                let t = team(old).or_else(|_| team(name))?;
                one(documents::TEAM_UPDATE, team_update(t, name, change.after.as_ref()))
            }
            (ResourceId::Group { name }, Action::Delete) => one(documents::TEAM_DELETE, json!({"id": team(name)?.id})),
            (ResourceId::Membership { group, user }, action) => {
                let t = team(group)?;
                let existing = t.members.get(user.to_lowercase().as_str());
                match (action, existing) {
                    (Action::Create, _) => {
                        let p = person(user)?;
                        let id = p
                            .user
                            .as_ref()
                            .ok_or_else(|| format!("`{user}` has not accepted their invitation yet"))?;
                        one(
                            documents::TEAM_MEMBER_CREATE,
                            json!({"teamID": t.id, "userID": id, "role": member_role(change.after.as_ref())}),
                        )
                    }
                    (Action::Update, Some(id)) => one(
                        documents::TEAM_MEMBER_UPDATE,
                        json!({"id": id, "role": member_role(change.after.as_ref())}),
                    ),
                    (Action::Delete, Some(id)) => one(documents::TEAM_MEMBER_DELETE, json!({"id": id})),
                    (_, None) => Err(format!("`{user}` is not a member of team `{group}`")),
                }
            }
            (
                ResourceId::Grant {
                    scope,
                    principal: Principal::Group(group),
                },
                action,
            ) => {
                let slug = convert::pipeline_of(scope).ok_or("Buildkite gives teams access to pipelines only")?;
                let t = team(group)?;
                let access = match &change.after {
                    Some(Resource::Permission { permission }) => Some(permission.clone()),
                    _ => None,
                };
                match (action, t.pipelines.get(slug), access) {
                    (Action::Create, _, Some(access)) => {
                        let pipeline = ids.pipelines.get(slug).ok_or_else(|| {
                            format!("organization `{}` has no pipeline `{slug}`", self.settings.organization)
                        })?;
                        one(
                            documents::TEAM_PIPELINE_CREATE,
                            json!({"teamID": t.id, "pipelineID": pipeline, "accessLevel": access}),
                        )
                    }
                    (Action::Update, Some(id), Some(access)) => one(
                        documents::TEAM_PIPELINE_UPDATE,
                        json!({"id": id, "accessLevel": access}),
                    ),
                    (Action::Delete, Some(id), _) => one(documents::TEAM_PIPELINE_DELETE, json!({"id": id})),
                    (_, None, _) if action != Action::Create => {
                        Err(format!("team `{group}` has no access to pipeline `{slug}`"))
                    }
                    _ => Err("a pipeline's access needs a level".to_owned()),
                }
            }
            (ResourceId::Default { .. }, _) => Err("Buildkite has no default access to set".to_owned()),
            (ResourceId::Grant { .. }, _) => {
                Err("Buildkite gives people only the organization's admin role".to_owned())
            }
        }
    }
}

fn own_account(name: &str, what: &str) -> String {
    format!("`{name}` is the account the API token belongs to (`auth.account`): rollcall does not let it be {what}, which would lock it out")
}

/// A membership's role, MEMBER unless it says otherwise.
fn member_role(after: Option<&Resource>) -> String {
    match after {
        Some(Resource::Membership { attributes }) => {
            attributes.get("role").cloned().unwrap_or_else(|| MEMBER.to_owned())
        }
        _ => MEMBER.to_owned(),
    }
}

fn group_attributes(after: Option<&Resource>) -> crate::model::Attributes {
    match after {
        Some(Resource::Group { attributes }) => attributes.clone(),
        _ => crate::model::Attributes::new(),
    }
}

/// `teamUpdate` takes every setting: what the change sets, the team's values as read
/// for the rest.
fn team_update(team: &TeamIds, name: &str, after: Option<&Resource>) -> Value {
    let attrs = group_attributes(after);
    let mut input = json!({
        "id": team.id,
        "name": name,
        "description": attrs.get("description").cloned().or_else(|| team.description.clone()),
        "privacy": attrs.get("privacy").cloned().unwrap_or_else(|| team.privacy.clone()),
        "isDefaultTeam": attrs.get("default_team").map_or(team.default_team, |v| v == "true"),
        "defaultMemberRole": attrs.get("default_member_role").cloned().unwrap_or_else(|| team.default_member_role.clone()),
    });
    if let Some(can) = team.members_can_create_pipelines {
        input["membersCanCreatePipelines"] = json!(can);
    }
    input
}

/// Whether what a fresh read shows is what a create or update made: every attribute the
/// change sets holds (a user or grant is there, with its permission).
fn landed(now: &Resource, after: Option<&Resource>) -> bool {
    match (now, after) {
        (Resource::Group { attributes: have }, Some(Resource::Group { attributes: want }))
        | (Resource::Membership { attributes: have }, Some(Resource::Membership { attributes: want })) => {
            want.iter().all(|(k, v)| have.get(k) == Some(v))
        }
        (Resource::Permission { permission: have }, Some(Resource::Permission { permission: want })) => have == want,
        (Resource::User(_), Some(Resource::User(_))) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Address, Attributes, Scope, UserAttrs};

    fn change(id: ResourceId, action: Action, after: Option<Resource>) -> Change {
        Change {
            address: Address::new("bk", id),
            action,
            before: None,
            after,
            reason: None,
            renamed_from: None,
            renamed_to: None,
        }
    }

    #[test]
    fn an_invitation_carries_its_persons_teams_and_admin_role() {
        let invite = change(
            ResourceId::User { name: "ada".into() },
            Action::Create,
            Some(Resource::User(Box::new(UserAttrs::new("Ada", "ada@x")))),
        );
        let membership = change(
            ResourceId::Membership {
                group: "ops".into(),
                user: "Ada".into(),
            },
            Action::Create,
            Some(Resource::membership()),
        );
        let admin = change(
            ResourceId::Grant {
                scope: Scope::root(),
                principal: Principal::User("ada".into()),
            },
            Action::Create,
            Some(Resource::Permission {
                permission: ADMIN.into(),
            }),
        );
        let pipeline = change(
            ResourceId::Grant {
                scope: convert::pipeline_scope("deploy"),
                principal: Principal::Group("ops".into()),
            },
            Action::Create,
            None,
        );
        assert!(rides_with(&membership, &invite));
        assert!(rides_with(&admin, &invite));
        assert!(!rides_with(&pipeline, &invite));
        assert!(!rides_with(&membership, &admin));
    }

    #[test]
    fn a_team_update_sends_every_setting_it_does_not_change_as_read() {
        let team = TeamIds {
            id: "T1".into(),
            name: "Ops".into(),
            description: Some("old".into()),
            privacy: "SECRET".into(),
            default_team: true,
            default_member_role: "MAINTAINER".into(),
            members_can_create_pipelines: Some(false),
            ..TeamIds::default()
        };
        let after = Resource::Group {
            attributes: Attributes::from([("privacy".to_owned(), "VISIBLE".to_owned())]),
        };
        let input = team_update(&team, "Operations", Some(&after));
        assert_eq!(
            input,
            json!({"id": "T1", "name": "Operations", "description": "old", "privacy": "VISIBLE",
                   "isDefaultTeam": true, "defaultMemberRole": "MAINTAINER", "membersCanCreatePipelines": false})
        );
    }
}
