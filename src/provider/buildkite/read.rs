//! Reading an organization: one paged query per connection, each page as large as the
//! vendor takes and what is left of the complexity windows allows, never a query per
//! object.
//!
//! 1. the organization (its id, whether teams are enabled, SSO), the token's own user,
//!    and its members, 500 a page;
//! 2. its pending invitations with the teams each puts its person in (50 of them; an
//!    invitation with more is asked again alone);
//! 3. when teams are enabled, its teams with their settings and the first 100 members
//!    and 100 pipelines of each; the next pages of a team's members or pipelines (500 a
//!    page) only for the teams that have more.
//!
//! With the windows' room to spare (each page sized to the 50,000 a document may
//! request), a read of `m` members, `i` invitations (`k_j` teams each) and `t` teams
//! (`m_u` members, `p_u` pipelines each) takes
//!
//! ```text
//! requests = ⌈max(m,1)/500⌉ + ⌈max(i,1)/485⌉ + [teams enabled] ⌈max(t,1)/122⌉
//!          + Σ_u ⌈(m_u − 100)⁺/500⌉ + Σ_u ⌈(p_u − 100)⁺/500⌉ + #{j : k_j > 50}
//! ```
//!
//! and, when each list fits in one page, these actual points (objects count 1, scalars
//! 0, a list of `edges` 1 when it holds any; `[x]` is 1 when `x` holds, else 0); every
//! further page charges its fixed objects again, as `read_cost` counts:
//!
//! ```text
//! points = (6 + [m>0] + 2m) + (3 + [i>0] + Σ_j (2 + [k_j>0] + 2 k_j))
//!        + [teams enabled] (3 + [t>0] + Σ_u (5 + [m_u>0] + 2 m_u + [p_u>0] + 2 p_u))
//! ```
//!
//! (`read_cost` computes both; a test holds a read of a known state to them.)

use std::sync::Mutex;

use serde_json::json;

use crate::http::paging::{self, Page};
use crate::http::{ErrorKind, HttpError, Operation};
use crate::model::{Kind, Principal};
use crate::provider::LeftAlone;

use super::convert::{self, Names, Person};
use super::documents::*;
use super::wire;
use super::*;

/// The vendor's largest page.
pub const PAGE: u64 = 500;
/// An invitation's teams read with it.
pub const INVITATION_TEAMS_FIRST: u64 = 50;
/// A team's members and pipelines read with it.
pub const NESTED: u64 = 100;

/// What the organization query says besides its members.
#[derive(Debug, Default)]
struct Head {
    id: String,
    teams_enabled: bool,
    sso: bool,
    viewer: Option<String>,
}

/// One team as read, with every member and pipeline.
struct TeamRead {
    team: wire::Team,
    members: Vec<wire::TeamMember>,
    pipelines: Vec<wire::TeamPipeline>,
}

impl Buildkite {
    fn deadline_error(&self, what: &str, why: String) -> HttpError {
        HttpError {
            target: self.target().to_owned(),
            request: what.to_owned(),
            kind: ErrorKind::Throttled,
            status: None,
            detail: why,
            ambiguous: false,
            attempts: 0,
        }
    }

    /// A page size for a document of `fixed` plus `each` points per element, at most
    /// `max`, waiting for the window's reset when too few fit.
    async fn page_size(&self, what: &str, document: &str, fixed: u64, each: u64, max: u64) -> Result<u64, HttpError> {
        let size = self
            .gql
            .window
            .page(document, fixed, each, max, self.gql_deadline())
            .await;
        self.gql.settle_waits();
        size.map_err(|why| self.deadline_error(what, why))
    }

    fn gql_deadline(&self) -> tokio::time::Instant {
        self.gql.deadline()
    }

    fn no_organization(&self) -> HttpError {
        HttpError {
            target: self.target().to_owned(),
            request: "POST /v1 (organization)".to_owned(),
            kind: ErrorKind::Status,
            status: Some(404),
            detail: format!(
                "Buildkite has no organization `{}` that this token can see",
                self.settings.organization
            ),
            ambiguous: false,
            attempts: 1,
        }
    }

    /// Reads the organization, on a clock of its own; returns live state, the ids the
    /// writes need, and the findings.
    pub(super) async fn read_all(&self) -> Result<(ResourceMap, Ids, Findings), ProviderError> {
        self.gql.begin(Operation::Read);
        self.read_state().await
    }

    /// Reads the organization on the clock of the operation under way: an apply reading
    /// back whether a write landed does so within its own deadline, not a fresh one.
    pub(super) async fn read_state(&self) -> Result<(ResourceMap, Ids, Findings), ProviderError> {
        let requests_before = self.request_count();
        let (points_before, _) = self.gql.window.spent();
        let slug = self.settings.organization.as_str();

        let head = Mutex::new(Head::default());
        let members = paging::by_cursor(&self.gql.http, "organization members", |after| {
            let head = &head;
            async move {
                let first = self
                    .page_size(
                        "organization members",
                        ORGANIZATION,
                        ORGANIZATION_FIXED,
                        ORGANIZATION_EACH,
                        PAGE,
                    )
                    .await?;
                let data: wire::OrganizationData = self
                    .gql
                    .query(
                        "organization",
                        ORGANIZATION,
                        json!({"slug": slug, "first": first, "after": after}),
                    )
                    .await?;
                let org = data.organization.ok_or_else(|| self.no_organization())?;
                {
                    let mut head = head.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    head.id = org.id.clone();
                    head.teams_enabled = org.is_teams_enabled.unwrap_or(false);
                    head.sso = org.sso.as_ref().and_then(|s| s.is_enabled).unwrap_or(false);
                    head.viewer = data.viewer.and_then(|v| v.user).map(|u| u.id);
                }
                Ok(match org.members {
                    Some(c) => {
                        let info = c.page_info();
                        Page::cursor(c.nodes(), info.has_next_page, info.end_cursor)
                    }
                    None => Page::cursor(Vec::new(), false, None),
                })
            }
        })
        .await?;
        let head = head.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);

        let invitations = self.invitations().await?;
        let teams = if head.teams_enabled {
            self.teams().await?
        } else {
            Vec::new()
        };

        let (live, ids, mut findings) = self.assemble(&head, members, invitations, teams);
        self.sso_findings(head.sso, &mut findings);
        let requests = self.request_count() - requests_before;
        let (points, _) = self.gql.window.spent();
        findings.usage = Some(self.usage(requests, points - points_before));
        Ok((live, ids, findings))
    }

    /// Every pending invitation, with all its teams.
    async fn invitations(&self) -> Result<Vec<wire::Invitation>, HttpError> {
        let slug = self.settings.organization.as_str();
        let each = 3 + 2 * INVITATION_TEAMS_FIRST;
        let mut invitations = paging::by_cursor(&self.gql.http, "organization invitations", |after| async move {
            let first = self
                .page_size("organization invitations", INVITATIONS, INVITATIONS_FIXED, each, PAGE)
                .await?;
            let vars = json!({"slug": slug, "first": first, "after": after, "teams": INVITATION_TEAMS_FIRST});
            let data: wire::OrganizationOf<wire::InvitationsOrg> =
                self.gql.query("invitations", INVITATIONS, vars).await?;
            let org = data.organization.ok_or_else(|| self.no_organization())?;
            Ok(match org.invitations {
                Some(c) => {
                    let info = c.page_info();
                    Page::cursor(c.nodes(), info.has_next_page, info.end_cursor)
                }
                None => Page::cursor(Vec::new(), false, None),
            })
        })
        .await?;
        // The invitation's teams take only `first`: one with more is asked again alone.
        for invitation in &mut invitations {
            let Some(teams) = &invitation.teams else { continue };
            let count = teams.count.unwrap_or(0);
            if count <= INVITATION_TEAMS_FIRST {
                continue;
            }
            let first = count.min(PAGE);
            self.page_size("an invitation's teams", INVITATION_TEAMS, 3, 2, first)
                .await?;
            let data: wire::NodeOf<wire::InvitationTeams> = self
                .gql
                .query(
                    "invitation teams",
                    INVITATION_TEAMS,
                    json!({"id": invitation.id, "teams": first}),
                )
                .await?;
            if let Some(teams) = data.node.and_then(|n| n.teams) {
                invitation.teams = Some(teams);
            }
        }
        Ok(invitations)
    }

    /// Every team with every member and pipeline.
    async fn teams(&self) -> Result<Vec<TeamRead>, HttpError> {
        let slug = self.settings.organization.as_str();
        let each = 7 + 2 * NESTED + 2 * NESTED;
        let teams = paging::by_cursor(&self.gql.http, "organization teams", |after| async move {
            let first = self
                .page_size("organization teams", TEAMS, TEAMS_FIXED, each, PAGE)
                .await?;
            let vars = json!({"slug": slug, "first": first, "after": after, "members": NESTED, "pipelines": NESTED});
            let data: wire::OrganizationOf<wire::TeamsOrg> = self.gql.query("teams", TEAMS, vars).await?;
            let org = data.organization.ok_or_else(|| self.no_organization())?;
            Ok(match org.teams {
                Some(c) => {
                    let info = c.page_info();
                    Page::cursor(c.nodes(), info.has_next_page, info.end_cursor)
                }
                None => Page::cursor(Vec::new(), false, None),
            })
        })
        .await?;
        let mut out = Vec::with_capacity(teams.len());
        for mut team in teams {
            let team_slug = format!("{slug}/{}", team.slug);
            let mut members = Vec::new();
            let mut more_members = None;
            if let Some(c) = team.members.take() {
                let info = c.page_info();
                if info.has_next_page {
                    more_members = Some(info.end_cursor.unwrap_or_default());
                }
                members = c.nodes();
            }
            if let Some(cursor) = more_members {
                members.extend(self.rest_of(&team_slug, TEAM_MEMBERS, cursor, |p| p.members).await?);
            }
            let mut pipelines = Vec::new();
            let mut more_pipelines = None;
            if let Some(c) = team.pipelines.take() {
                let info = c.page_info();
                if info.has_next_page {
                    more_pipelines = Some(info.end_cursor.unwrap_or_default());
                }
                pipelines = c.nodes();
            }
            if let Some(cursor) = more_pipelines {
                pipelines.extend(
                    self.rest_of(&team_slug, TEAM_PIPELINES, cursor, |p| p.pipelines)
                        .await?,
                );
            }
            out.push(TeamRead {
                team,
                members,
                pipelines,
            });
        }
        Ok(out)
    }

    /// The pages of one team's connection after `cursor`.
    async fn rest_of<T: serde::de::DeserializeOwned>(
        &self,
        team: &str,
        document: &'static str,
        cursor: String,
        pick: fn(wire::TeamPage<T>) -> Option<wire::Connection<T>>,
    ) -> Result<Vec<T>, HttpError> {
        let what = format!("team {team}");
        let start = Some(cursor);
        let mut first_call = true;
        paging::by_cursor(&self.gql.http, &what, |after| {
            let after = if std::mem::take(&mut first_call) {
                start.clone()
            } else {
                after
            };
            let what = what.clone();
            async move {
                let first = self.page_size(&what, document, CONTINUATION_FIXED, 2, PAGE).await?;
                let data: wire::TeamOf<T> = self
                    .gql
                    .query(&what, document, json!({"team": team, "first": first, "after": after}))
                    .await?;
                Ok(match data.team.and_then(pick) {
                    Some(c) => {
                        let info = c.page_info();
                        Page::cursor(c.nodes(), info.has_next_page, info.end_cursor)
                    }
                    None => Page::cursor(Vec::new(), false, None),
                })
            }
        })
        .await
    }

    /// Live state, the writes' ids and the pending people, from what was read.
    fn assemble(
        &self,
        head: &Head,
        members: Vec<wire::Member>,
        invitations: Vec<wire::Invitation>,
        teams: Vec<TeamRead>,
    ) -> (ResourceMap, Ids, Findings) {
        let t = self.target();
        let names = Names::new(&self.settings.scope);
        let mut live = ResourceMap::new();
        let mut ids = Ids {
            organization: Some(head.id.clone()),
            teams_enabled: head.teams_enabled,
            viewer: head.viewer.clone(),
            ..Ids::default()
        };
        for m in members {
            let name = names.person(&m.user.email);
            convert::user(&mut live, t, &name, &m.user.name, &m.user.email);
            convert::role(&mut live, t, &name, &m.role);
            ids.people.insert(
                name.to_lowercase(),
                Person {
                    email: m.user.email,
                    user: Some(m.user.id),
                    member: Some(m.id),
                    invitation: None,
                    role: m.role,
                },
            );
        }
        let mut pending = Vec::new();
        for inv in invitations {
            let name = names.person(&inv.email);
            // A member already: the invitation is an old one.
            if ids.people.contains_key(&name.to_lowercase()) {
                continue;
            }
            convert::user(&mut live, t, &name, &inv.email, &inv.email);
            convert::role(&mut live, t, &name, &inv.role);
            for a in inv.teams.map(wire::Connection::nodes).unwrap_or_default() {
                let group = names.team(&a.team.name, &a.team.slug);
                if names.members_wanted(&group, &name) {
                    convert::membership(&mut live, t, &group, &name, &a.role);
                }
            }
            pending.push((
                Principal::User(name.as_str().into()),
                format!("the invitation to {} has not been accepted", inv.email),
            ));
            ids.people.insert(
                name.to_lowercase(),
                Person {
                    email: inv.email,
                    user: None,
                    member: None,
                    invitation: Some(inv.id),
                    role: inv.role,
                },
            );
        }
        let mut unread_members = std::collections::BTreeSet::new();
        for read in teams {
            let group = names.team(&read.team.name, &read.team.slug);
            if !names.team_members_wanted(&group) {
                unread_members.insert(group.clone());
            }
            let mut team = convert::team_ids(&read.team);
            convert::group(&mut live, t, &group, &team);
            for m in read.members {
                let Some(user) = m.user else { continue };
                let name = names.person(&user.email);
                if names.members_wanted(&group, &name) {
                    convert::membership(&mut live, t, &group, &name, &m.role);
                }
                team.members.insert(name.to_lowercase(), m.id);
            }
            for p in read.pipelines {
                let Some(pipeline) = p.pipeline else { continue };
                if names.pipeline_wanted(&pipeline.slug) {
                    convert::pipeline_grant(&mut live, t, &group, &pipeline.slug, &p.access_level);
                }
                team.pipelines.insert(pipeline.slug.clone(), p.id);
                ids.pipelines.insert(pipeline.slug, pipeline.id);
            }
            ids.teams.insert(group.to_lowercase(), team);
        }
        let findings = Findings {
            pending,
            unread_members,
            ..Findings::default()
        };
        (live, ids, findings)
    }

    /// SSO on: a remark, and what the target says SSO assigns left alone.
    fn sso_findings(&self, sso: bool, findings: &mut Findings) {
        let org = &self.settings.organization;
        // What SSO may set that the target has not said it does: worth a remark; what
        // it has said is left alone below, change by change.
        let unsaid: Vec<(&str, &str)> = [
            ("role", "roles (its `admin` attribute)"),
            ("teams", "teams (its `teams` attribute)"),
        ]
        .into_iter()
        .filter(|(word, _)| !self.settings.sso_assigns.iter().any(|w| w == word))
        .collect();
        if sso && !unsaid.is_empty() {
            let what: Vec<&str> = unsaid.iter().map(|(_, what)| *what).collect();
            let words: Vec<&str> = unsaid.iter().map(|(word, _)| *word).collect();
            findings.remarks.push(format!(
                "organization `{org}` signs in with SSO: its identity provider may set members' {} at each login, undoing changes made here; if it does, add {} to the target's `sso_assigns`",
                what.join(" and "),
                words.join(", ")
            ));
        }
        for word in &self.settings.sso_assigns {
            let (kind, root_only, what) = match word.as_str() {
                "role" => (Kind::Permissions, true, "roles"),
                "teams" => (Kind::Memberships, false, "team memberships"),
                _ => continue,
            };
            findings.left_alone.push(LeftAlone {
                kind,
                root_only,
                why: format!(
                    "organization `{org}`'s SSO sets {what} at each login (`sso_assigns: {word}`); change them in the identity provider"
                ),
            });
        }
    }

    /// What the read cost, and what is left of the tighter window.
    fn usage(&self, requests: usize, points: u64) -> String {
        let left = match self.gql.window.left() {
            Some(l) => format!(
                "; {} of {} points are left in the current window, which resets in {} s",
                l.remaining,
                l.limit,
                l.reset_in.as_secs()
            ),
            None => String::new(),
        };
        format!(
            "reading organization `{}` took {requests} request{} and {points} complexity point{}{left} (other clients of the organization and of the token's user spend from the same windows)",
            self.settings.organization,
            if requests == 1 { "" } else { "s" },
            if points == 1 { "" } else { "s" },
        )
    }
}

/// What a read costs with the windows' room to spare, as the module's header derives
/// it, page by page: `(requests, points)` for members `m`, invitations' team counts `k`,
/// whether teams are enabled, and each team's `(members, pipelines)`. Every page charges
/// its fixed objects again (the organization and the viewer, or the team), and its
/// `edges` when it holds any.
pub fn read_cost(m: u64, invitations: &[u64], teams_enabled: bool, teams: &[(u64, u64)]) -> (u64, u64) {
    let pages = |n: u64, size: u64| n.max(1).div_ceil(size);
    let any = |n: u64| u64::from(n > 0);
    // Members: the viewer, its user, the organization, its SSO, the connection and its
    // page info; 2 a member (the node and its user).
    let member_pages = pages(m, PAGE);
    let mut requests = member_pages;
    let mut points = member_pages * (6 + any(m)) + 2 * m;
    // Invitations: the organization, the connection and its page info; each invitation
    // its node and its teams, and 2 a team; one with more teams than the page asked for
    // is asked again alone (its node, its teams and their edges, 2 a team).
    let i = invitations.len() as u64;
    let invitation_page = ((cost::MAX_REQUESTED - INVITATIONS_FIXED) / (3 + 2 * INVITATION_TEAMS_FIRST)).min(PAGE);
    let invitation_pages = pages(i, invitation_page);
    requests += invitation_pages;
    points += invitation_pages * (3 + any(i));
    for &k in invitations {
        points += 2 + any(k) + 2 * k.min(INVITATION_TEAMS_FIRST);
        if k > INVITATION_TEAMS_FIRST {
            requests += 1;
            points += 3 + 2 * k.min(PAGE);
        }
    }
    if teams_enabled {
        // Teams: the organization, the connection and its page info; each team its node,
        // its two connections and their page infos, and 2 a member or pipeline of the
        // first 100; the rest of either 500 a page (the team, the connection, its page
        // info and its edges, and 2 each).
        let t = teams.len() as u64;
        let team_page = ((cost::MAX_REQUESTED - TEAMS_FIXED) / (7 + 4 * NESTED)).min(PAGE);
        let team_pages = pages(t, team_page);
        requests += team_pages;
        points += team_pages * (3 + any(t));
        for &(members, pipelines) in teams {
            points += 5 + any(members) + 2 * members.min(NESTED) + any(pipelines) + 2 * pipelines.min(NESTED);
            for n in [members, pipelines] {
                let rest = n.saturating_sub(NESTED);
                let more = rest.div_ceil(PAGE);
                requests += more;
                points += more * 4 + 2 * rest;
            }
        }
    }
    (requests, points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reads_cost_follows_its_formula() {
        // A small organization: three queries.
        assert_eq!(
            read_cost(3, &[1], true, &[(2, 1)]),
            (3, (7 + 6) + (4 + 5) + (4 + 7 + 4 + 2))
        );
        // Teams disabled: no teams query.
        assert_eq!(read_cost(0, &[], false, &[]).0, 2);
        // 1,200 members, 130 teams of which one has 700 members and 101 pipelines, an
        // invitation into 60 teams.
        let mut teams = vec![(1, 1); 129];
        teams.push((700, 101));
        let (requests, _) = read_cost(1200, &[60], true, &teams);
        assert_eq!(requests, 3 + 1 + 1 + 2 + 2 + 1);
    }
}
