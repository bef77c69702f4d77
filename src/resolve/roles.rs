//! Role words and where they apply: the portable `read`, `write`, `admin` and each
//! scope's native Bitbucket Data Center permission names.

use crate::model::{Principal, ResourceId};

/// Where a permission applies, which decides the valid roles.
#[derive(Clone, Copy)]
pub enum Scope<'a> {
    Global,
    Project(&'a str),
    Repo(&'a str, &'a str),
}

impl Scope<'_> {
    pub(super) fn id(self, principal: Principal) -> ResourceId {
        match self {
            Scope::Global => ResourceId::GlobalPermission { principal },
            Scope::Project(p) => ResourceId::ProjectPermission {
                project: p.to_owned(),
                principal,
            },
            Scope::Repo(p, r) => ResourceId::RepoPermission {
                project: p.to_owned(),
                repo: r.to_owned(),
                principal,
            },
        }
    }

    /// Portable words first, then native names (any case).
    pub(super) fn permission(self, word: &str) -> Option<String> {
        let (prefix, natives): (&str, &[&str]) = match self {
            Scope::Global => ("", &["LICENSED_USER", "PROJECT_CREATE", "ADMIN", "SYS_ADMIN"]),
            Scope::Project(_) => ("PROJECT_", &["PROJECT_READ", "PROJECT_WRITE", "PROJECT_ADMIN"]),
            Scope::Repo(..) => ("REPO_", &["REPO_READ", "REPO_WRITE", "REPO_ADMIN"]),
        };
        let portable = match (self, word) {
            (Scope::Global, "read") => Some("LICENSED_USER".to_owned()),
            (Scope::Global, "write") => Some("PROJECT_CREATE".to_owned()),
            (Scope::Global, "admin") => Some("ADMIN".to_owned()),
            (_, "read" | "write" | "admin") => Some(format!("{prefix}{}", word.to_ascii_uppercase())),
            _ => None,
        };
        portable.or_else(|| {
            let upper = word.to_ascii_uppercase();
            natives.iter().find(|n| **n == upper).map(|n| (*n).to_owned())
        })
    }

    /// The manifest's word for a native permission here, the way back from
    /// `permission`: the portable word that means it, else its native name where the
    /// manifest accepts that (`SYS_ADMIN`), else none: the manifest cannot say it.
    pub fn word(self, native: &str) -> Option<String> {
        let means = |word: &str| self.permission(word).is_some_and(|p| p == native);
        ["read", "write", "admin"]
            .into_iter()
            .find(|w| means(w))
            .or_else(|| means(native).then_some(native))
            .map(str::to_owned)
    }

    pub(super) fn describe(self) -> String {
        match self {
            Scope::Global => "global permissions".to_owned(),
            Scope::Project(p) => format!("project `{p}`"),
            Scope::Repo(p, r) => format!("repository `{p}/{r}`"),
        }
    }

    pub(super) fn valid_roles(self) -> &'static str {
        match self {
            Scope::Global => "read, write, admin, or LICENSED_USER, PROJECT_CREATE, ADMIN, SYS_ADMIN",
            Scope::Project(_) => "read, write, admin, or PROJECT_READ, PROJECT_WRITE, PROJECT_ADMIN",
            Scope::Repo(..) => "read, write, admin, or REPO_READ, REPO_WRITE, REPO_ADMIN",
        }
    }
}

pub(super) fn all_users_permission(word: &str) -> Option<Option<String>> {
    match word.trim().to_ascii_lowercase().as_str() {
        "none" => Some(None),
        "read" | "project_read" => Some(Some("PROJECT_READ".to_owned())),
        "write" | "project_write" => Some(Some("PROJECT_WRITE".to_owned())),
        _ => None,
    }
}

/// The manifest's word for a project's all-users permission, the way back from
/// `all_users_permission`.
pub fn all_users_word(native: &str) -> Option<&'static str> {
    ["read", "write"]
        .into_iter()
        .find(|w| all_users_permission(w).flatten().is_some_and(|p| p == native))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_words_map_per_scope() {
        assert_eq!(Scope::Global.permission("read").as_deref(), Some("LICENSED_USER"));
        assert_eq!(Scope::Global.permission("sys_admin").as_deref(), Some("SYS_ADMIN"));
        assert_eq!(
            Scope::Project("P").permission("write").as_deref(),
            Some("PROJECT_WRITE")
        );
        assert_eq!(
            Scope::Repo("P", "r").permission("REPO_ADMIN").as_deref(),
            Some("REPO_ADMIN")
        );
        assert_eq!(Scope::Repo("P", "r").permission("PROJECT_ADMIN"), None);
        assert_eq!(Scope::Global.permission("owner"), None);
    }

    #[test]
    fn native_permissions_map_back_to_words() {
        assert_eq!(Scope::Global.word("PROJECT_CREATE").as_deref(), Some("write"));
        assert_eq!(Scope::Global.word("SYS_ADMIN").as_deref(), Some("SYS_ADMIN"));
        assert_eq!(Scope::Repo("P", "r").word("REPO_ADMIN").as_deref(), Some("admin"));
        assert_eq!(Scope::Project("P").word("REPO_CREATE"), None);
        assert_eq!(Scope::Global.word("sys_admin"), None, "only the exact native name");
        assert_eq!(all_users_word("PROJECT_WRITE"), Some("write"));
        assert_eq!(all_users_word("PROJECT_ADMIN"), None);
        for scope in [Scope::Global, Scope::Project("P"), Scope::Repo("P", "r")] {
            for word in ["read", "write", "admin", "SYS_ADMIN"] {
                if let Some(native) = scope.permission(word) {
                    let back = scope.word(&native).unwrap();
                    assert_eq!(scope.permission(&back), Some(native));
                }
            }
        }
    }
}
