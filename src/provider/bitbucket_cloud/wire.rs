//! The Bitbucket Cloud 2.0 API's JSON shapes, as far as rollcall reads them. These stay
//! inside the provider; `convert` turns them into the model.

use serde::Deserialize;

/// `{size?, page?, pagelen, next?, previous?, values}`: only `values` and `next` are
/// guaranteed, and no `next` is the last page.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub values: Vec<T>,
    #[serde(default)]
    pub next: Option<String>,
}

/// `account` / `user`, as far as rollcall needs: who it is and what to call them. The
/// email is only there where a members query filtered by it asked for it.
#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub uuid: Option<String>,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub email: Option<String>,
}

impl Account {
    /// The identifier a permission's path takes: the Atlassian account id, else the
    /// `{uuid}` (the description takes either).
    pub fn id(&self) -> Option<&str> {
        self.account_id.as_deref().or(self.uuid.as_deref())
    }
}

/// `workspace_membership`; `permission` is in the description's example of the
/// `/permissions` list, not in its schema.
#[derive(Debug, Deserialize)]
pub struct Membership {
    pub user: Account,
    #[serde(default)]
    pub permission: Option<String>,
}

/// `group` inside a permission.
#[derive(Debug, Deserialize)]
pub struct Group {
    pub slug: String,
}

/// `project_group_permission` and `repository_group_permission`.
#[derive(Debug, Deserialize)]
pub struct GroupPermission {
    pub group: Group,
    pub permission: String,
}

/// `project_user_permission` and `repository_user_permission`.
#[derive(Debug, Deserialize)]
pub struct UserPermission {
    pub user: Account,
    pub permission: String,
}

/// `project`, as far as listing the workspace's projects needs.
#[derive(Debug, Deserialize)]
pub struct Project {
    pub key: String,
}

#[derive(Debug, Deserialize)]
pub struct ProjectRef {
    pub key: String,
}

/// `repository`, as far as listing the workspace's repositories needs.
#[derive(Debug, Deserialize)]
pub struct Repository {
    pub slug: String,
    #[serde(default)]
    pub project: Option<ProjectRef>,
}

/// `{"type":"error","error":{"message":…,"detail":…,"data":{…}}}`.
#[derive(Debug, Deserialize)]
struct Error {
    error: ErrorBody,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    message: String,
    #[serde(default)]
    detail: Option<String>,
}

/// The vendor's message and detail from an error body. A 429's `text/plain` body is not
/// JSON: the client then shows the body's start.
pub fn error_message(body: &str) -> Option<String> {
    let parsed: Error = serde_json::from_str(body).ok()?;
    let message = parsed.error.message.trim().to_owned();
    Some(match parsed.error.detail.map(|d| d.trim().to_owned()) {
        Some(detail) if !detail.is_empty() && detail != message => format!("{message} ({detail})"),
        _ => message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_of_group_permissions_reads_as_the_description_shows_it() {
        let body = r#"{"pagelen":10,"values":[{"type":"project_group_permission",
            "group":{"type":"group","name":"Developers","slug":"developers"},
            "permission":"create-repo","links":{"self":{"href":"https://x/1"}}}],
            "next":"https://api.bitbucket.org/2.0/x?page=2"}"#;
        let page: Page<GroupPermission> = serde_json::from_str(body).unwrap();
        assert_eq!(page.values[0].group.slug, "developers");
        assert_eq!(page.values[0].permission, "create-repo");
        assert_eq!(page.next.as_deref(), Some("https://api.bitbucket.org/2.0/x?page=2"));
        let last: Page<UserPermission> = serde_json::from_str(r#"{"values":[]}"#).unwrap();
        assert!(last.next.is_none() && last.values.is_empty());
    }

    #[test]
    fn members_carry_the_email_asked_for_and_an_account_id() {
        let body = r#"{"values":[{"type":"workspace_membership","permission":"owner",
            "user":{"type":"user","display_name":"Ada","account_id":"557058:1","uuid":"{u1}",
            "email":"ada@example.org"}}]}"#;
        let page: Page<Membership> = serde_json::from_str(body).unwrap();
        let m = &page.values[0];
        assert_eq!(m.user.id(), Some("557058:1"));
        assert_eq!(m.user.email.as_deref(), Some("ada@example.org"));
        assert_eq!(m.permission.as_deref(), Some("owner"));
        let uuid_only: Account = serde_json::from_str(r#"{"uuid":"{u2}"}"#).unwrap();
        assert_eq!(uuid_only.id(), Some("{u2}"));
    }

    #[test]
    fn error_bodies_give_message_and_detail() {
        let body = r#"{"type":"error","error":{"message":"Bad request","detail":"the owner cannot be given explicit permissions"}}"#;
        assert_eq!(
            error_message(body).as_deref(),
            Some("Bad request (the owner cannot be given explicit permissions)")
        );
        assert_eq!(
            error_message(r#"{"type":"error","error":{"message":"Not found"}}"#).as_deref(),
            Some("Not found")
        );
        assert_eq!(error_message("Rate limit for this resource has been exceeded"), None);
    }
}
