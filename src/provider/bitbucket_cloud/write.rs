//! Writing: each grant change is one idempotent request on its holder's permission
//! (`PUT {"permission": …}` to create or change, `DELETE` to revoke), and the preflight
//! that proves the token's write scopes before any change is sent.
//!
//! A person or group the organisation's directory has just made is not visible in the
//! workspace at once: a person the read did not find is looked up by email, and a group
//! Bitbucket does not know yet is tried again, both for a bounded time.

use reqwest::Method;
use serde_json::json;
use tokio::time::Instant;

use crate::http::{Idempotent, Request};
use crate::model::{Principal, Resource, ResourceId};
use crate::plan::Action;

use super::convert::{self, email_queries, Scope};
use super::*;

/// The longest wait between two looks for a principal not visible yet.
const MAX_STEP: Duration = Duration::from_secs(15);

/// Whose permission a change sets.
enum Holder {
    /// A person, by account id.
    User(String),
    /// A group, by slug.
    Group(String),
}

impl BitbucketCloud {
    pub(super) async fn apply_one(&self, change: &Change) -> Result<(), ProviderError> {
        let ResourceId::Grant { scope, principal } = &change.address.id else {
            return Err(self.unsupported(
                change,
                "Bitbucket Cloud's API changes only project and repository permissions; people and groups are made in the organisation's directory",
            ));
        };
        let Some(scope) = Scope::from_path(scope) else {
            return Err(self.unsupported(
                change,
                "Bitbucket Cloud has permissions on projects and repositories only",
            ));
        };
        let holder = match principal {
            Principal::User(name) => Holder::User(self.account_for(change, name).await?),
            Principal::Group(name) => Holder::Group(self.names().slug(name)),
        };
        let path = match &holder {
            Holder::User(id) => format!("{}/users/{}", scope.base(&self.workspace), convert::seg(id)),
            Holder::Group(slug) => format!("{}/groups/{}", scope.base(&self.workspace), convert::seg(slug)),
        };
        match (change.action, &change.after) {
            (Action::Create | Action::Update, Some(Resource::Permission { permission })) => {
                let request =
                    Request::new(Method::PUT, path, Idempotent::Yes).json(json!({ "permission": permission }));
                self.put(change, &scope, &holder, request).await
            }
            (Action::Delete, _) => {
                let request = Request::new(Method::DELETE, path, Idempotent::Yes);
                match self.http.send(request).await {
                    Ok(_) => Ok(()),
                    // The grant is not there: an earlier attempt whose answer was lost
                    // revoked it, or someone else did since the read. Either way the
                    // change's end state holds (the holder and scope came from the read).
                    Err(e) if e.is_status(404) => {
                        tracing::debug!(target: "rollcall::http", target_name = %self.target, detail = %e.detail, ambiguous = e.ambiguous, "a revoke found no grant; already revoked");
                        Ok(())
                    }
                    Err(e) => {
                        Err(explain(e, &format!("{} and delete:permission:bitbucket", scope.admin_scope())).into())
                    }
                }
            }
            _ => Err(self.unsupported(change, "a permission change needs a permission")),
        }
    }

    /// A PUT, tried again while Bitbucket does not know the group yet (made on the
    /// directory moments ago), for at most the visible wait.
    async fn put(
        &self,
        change: &Change,
        scope: &Scope,
        holder: &Holder,
        request: Request,
    ) -> Result<(), ProviderError> {
        let until = Instant::now() + self.tuning.visible_wait;
        let mut step = self.tuning.visible_step;
        loop {
            let e = match self.http.send(request.clone()).await {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            if e.is_status(402) {
                return Err(self.unsupported(
                    change,
                    format!(
                        "Bitbucket refuses it: the workspace's plan has no seat left for another user ({}); raise the plan's user limit or free a seat",
                        e.detail
                    ),
                ));
            }
            let Holder::Group(slug) = holder else {
                return Err(explain(e, &format!("{} and write:permission:bitbucket", scope.admin_scope())).into());
            };
            // Bitbucket answers 404 for a missing project or repository too; its message
            // says which is missing, the status does not.
            if !(e.is_status(404) && names_group(&e.detail, slug)) {
                return Err(explain(e, &format!("{} and write:permission:bitbucket", scope.admin_scope())).into());
            }
            if Instant::now() + step > until {
                return Err(self.unsupported(
                    change,
                    format!(
                        "group slug `{slug}` is not visible in workspace `{}` yet ({}; waited {} s): if the group exists, give it access to Bitbucket in Atlassian Administration, or set the group's `ids: {{ {}: SLUG }}` to the slug Bitbucket shows for it",
                        self.workspace,
                        e.detail,
                        self.tuning.visible_wait.as_secs(),
                        self.target
                    ),
                ));
            }
            tracing::debug!(target: "rollcall::http", target_name = %self.target, slug = %slug, "group not visible yet; trying again");
            tokio::time::sleep(step).await;
            step = (step * 2).min(MAX_STEP);
        }
    }

    /// The account id a person's grant is sent for: as the read found it, else (a person
    /// the directory target gives access in this apply) looked up by email until they
    /// are visible, for at most the visible wait. A name that is no declared person is
    /// the account id it was read under.
    async fn account_for(&self, change: &Change, name: &str) -> Result<String, ProviderError> {
        if let Some(id) = self.names().account(name) {
            return Ok(id.to_owned());
        }
        let Some(email) = self
            .scope
            .people
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, e)| e.clone())
        else {
            return Ok(name.to_owned());
        };
        let until = Instant::now() + self.tuning.visible_wait;
        let mut step = self.tuning.visible_step;
        loop {
            let query = email_queries([email.as_str()]).into_iter().next().unwrap_or_default();
            let found = self.members(query).await?;
            let id = found
                .iter()
                .filter(|m| m.user.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(&email)))
                .find_map(|m| m.user.id());
            if let Some(id) = id {
                self.names().learn_person(name, id);
                return Ok(id.to_owned());
            }
            if Instant::now() + step > until {
                return Err(self.unsupported(
                    change,
                    format!(
                        "`{name}` ({email}) is not visible in workspace `{}` yet (waited {} s): give them access to Bitbucket in Atlassian Administration, then apply again",
                        self.workspace,
                        self.tuning.visible_wait.as_secs()
                    ),
                ));
            }
            tokio::time::sleep(step).await;
            step = (step * 2).min(MAX_STEP);
        }
    }

    /// Proves, changing nothing, that the token may make these changes: per kind of
    /// scope the plan writes to (project, repository), a `PUT` (when it creates or
    /// changes grants) and a `DELETE` (when it revokes) on a group slug that cannot exist.
    /// Bitbucket answers 404 for the unknown group when the token has the scopes, and 401
    /// when one is missing.
    pub(super) async fn check_scopes(&self, changes: &[Change]) -> Result<(), ProviderError> {
        let mut checks: Vec<(Scope, bool)> = Vec::new();
        for change in changes.iter().filter(|c| c.address.target == self.target) {
            let ResourceId::Grant { scope, .. } = &change.address.id else {
                continue;
            };
            let Some(scope) = Scope::from_path(scope) else { continue };
            let delete = change.action == Action::Delete;
            let same_kind = |(s, d): &(Scope, bool)| s.noun() == scope.noun() && *d == delete;
            if !checks.iter().any(same_kind) {
                checks.push((scope, delete));
            }
        }
        if checks.is_empty() {
            return Ok(());
        }
        // One request per change, and the checks' own.
        let needed = changes.iter().filter(|c| c.address.target == self.target).count() + checks.len();
        self.check_budget(
            &format!("applying the plan to workspace `{}`", self.workspace),
            needed,
            "apply part of the changes now (fewer projects and repositories in `access`) and the rest in the next hour",
        )?;
        self.http.begin(Operation::Apply);
        let suffix = crate::http::random_hex(8).map_err(|e| ProviderError::Unsupported {
            target: self.target.clone(),
            address: self.target.clone(),
            why: format!("no random name could be made for the scope check: {e}"),
        })?;
        let slug = format!("rollcall-scope-check-{suffix}");
        // Every check runs, so the error names every scope missing at once.
        let mut refused: Vec<String> = Vec::new();
        let mut vendor = String::new();
        for (scope, delete) in checks {
            let path = format!("{}/groups/{slug}", scope.base(&self.workspace));
            let (request, needs) = if delete {
                (
                    Request::new(Method::DELETE, path.clone(), Idempotent::Yes),
                    format!("{} and delete:permission:bitbucket", scope.admin_scope()),
                )
            } else {
                (
                    Request::new(Method::PUT, path.clone(), Idempotent::Yes).json(json!({ "permission": "read" })),
                    format!("{} and write:permission:bitbucket", scope.admin_scope()),
                )
            };
            match self.http.send(request).await {
                Err(e) if e.is_status(404) => {}
                Ok(_) => {
                    // A group of that name after all: take back what the check gave.
                    if !delete {
                        let undo = Request::new(Method::DELETE, path, Idempotent::Yes);
                        self.http.send(undo).await?;
                    }
                }
                Err(e) if e.is_status(401) || e.is_status(403) => {
                    let what = if delete { "revoke" } else { "grant or change" };
                    refused.push(format!(
                        "{what} {} permissions ({needs}; checked on {})",
                        scope.noun(),
                        scope.describe()
                    ));
                    if e.detail.to_lowercase().contains("access token") {
                        vendor = explain(e, &needs).detail;
                    } else if vendor.is_empty() {
                        vendor = e.detail;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        if refused.is_empty() {
            return Ok(());
        }
        let access_token = vendor.contains("access tokens cannot manage permissions");
        Err(ProviderError::Unsupported {
            target: self.target.clone(),
            address: format!("workspace `{}`", self.workspace),
            why: format!(
                "the token may not {} (checked with a group slug that cannot exist, before any change; nothing was applied): {vendor}{}",
                refused.join(", nor "),
                if access_token {
                    ""
                } else {
                    "; Bitbucket answers \"Token is invalid, expired, or not supported for this endpoint\" when a scope is missing: give the API token these scopes"
                }
            ),
        })
    }
}

/// A 404's message is about the group (its slug, or the word), not about the project or
/// repository the path also names.
fn names_group(detail: &str, slug: &str) -> bool {
    let detail = detail.to_lowercase();
    // A missing repository or project is named as such ("Repository acme/api not
    // found"), whatever its slug shares with the group's.
    if detail.contains("repositor") || detail.contains("project") {
        return false;
    }
    let slug = slug.to_lowercase();
    let is_slug_char = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    let names_slug = detail.split(|c: char| !is_slug_char(c)).any(|word| word == slug);
    names_slug || detail.contains("group")
}

#[cfg(test)]
mod tests {
    use super::names_group;

    #[test]
    fn a_missing_group_is_told_from_a_missing_repository_by_the_message() {
        assert!(names_group(
            "HTTP 404 Not Found: Group developers not found",
            "developers"
        ));
        assert!(names_group(
            "HTTP 404 Not Found: No such slug: platform-team",
            "platform-team"
        ));
        assert!(!names_group(
            "HTTP 404 Not Found: Repository acme/api not found",
            "developers"
        ));
        assert!(!names_group("HTTP 404 Not Found: Repository acme/api not found", "api"));
        assert!(!names_group("Repository acme/group-svc not found", "ops"));
        assert!(!names_group("Project key PLAT not found", "plat"));
        assert!(names_group("Group 'ops' not found in workspace 'acme'.", "ops"));
    }
}
