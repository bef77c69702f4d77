//! Role words and where they apply: the words a platform declares per scope
//! (`platform::ScopeRoles`), looked up for a scope path of any depth.

use crate::model::Scope;
use crate::platform::{Platform, ScopeRoles};

/// How a message names a scope: `global permissions`, `project `PLAT``,
/// `repository `PLAT/api``.
pub(super) fn describe(roles: &ScopeRoles, scope: &Scope) -> String {
    if scope.is_root() {
        return roles.noun.to_owned();
    }
    let path: Vec<&str> = scope.segments().iter().map(|s| s.name.as_str()).collect();
    format!("{} `{}`", roles.noun, path.join("/"))
}

/// The native permission a role word means on a scope, or the message and hint that
/// say why it means none.
pub(super) fn grant(platform: Platform, scope: &Scope, word: &str) -> Result<String, (String, String)> {
    let Some(roles) = platform.scope_roles(&scope.kinds()) else {
        return Err((
            format!("a {} target has no permissions on {}", platform.label(), scope),
            "grant where the platform has permissions, or remove this entry".to_owned(),
        ));
    };
    match roles.permission(word) {
        Some(Some(native)) => Ok(native),
        _ => Err((
            format!("`{}` is not a valid role for {}", word.trim(), describe(roles, scope)),
            format!("use {}", roles.valid()),
        )),
    }
}

/// The "everyone" default a word means on a scope: `Some(None)` is no default access.
pub(super) fn default(platform: Platform, scope: &Scope, word: &str) -> Result<Option<String>, (String, String)> {
    let Some(roles) = platform.default_roles(&scope.kinds()) else {
        return Err((
            format!("a {} target has no default for everyone on {}", platform.label(), scope),
            "remove this entry".to_owned(),
        ));
    };
    roles.permission(word).ok_or_else(|| {
        (
            format!("`{}` is not a valid {}", word.trim(), roles.noun),
            format!("use {}", roles.valid()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::bitbucket_dc::PLATFORM;

    #[test]
    fn role_words_map_per_scope() {
        let root = Scope::root();
        let project = root.child("project", "P");
        let repo = project.child("repo", "r");
        assert_eq!(grant(PLATFORM, &root, "read").ok().as_deref(), Some("LICENSED_USER"));
        assert_eq!(grant(PLATFORM, &root, "sys_admin").ok().as_deref(), Some("SYS_ADMIN"));
        assert_eq!(
            grant(PLATFORM, &project, "write").ok().as_deref(),
            Some("PROJECT_WRITE")
        );
        assert_eq!(grant(PLATFORM, &repo, "REPO_ADMIN").ok().as_deref(), Some("REPO_ADMIN"));
        assert!(grant(PLATFORM, &repo, "PROJECT_ADMIN").is_err());
        let (message, hint) = grant(PLATFORM, &root, "owner").err().unwrap_or_default();
        assert_eq!(message, "`owner` is not a valid role for global permissions");
        assert_eq!(
            hint,
            "use read, write, admin, or LICENSED_USER, PROJECT_CREATE, ADMIN, SYS_ADMIN"
        );
        assert_eq!(default(PLATFORM, &project, "none"), Ok(None));
        assert_eq!(
            default(PLATFORM, &project, "project_write"),
            Ok(Some("PROJECT_WRITE".to_owned()))
        );
        assert!(default(PLATFORM, &repo, "read").is_err(), "no default on a repository");
    }
}
