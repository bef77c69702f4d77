//! Targets: each imported target as the source manifests declare it (kind, profile, URL,
//! the platform's own options, the account and the token *reference*, never a token),
//! with relative paths (a `sandbox:` state file, a `${file:…}` token) rewritten so that
//! they still point at the same file from the output directory.

use std::path::{Component, Path, PathBuf};

use super::yaml::{Item, Node};
use super::{ImportError, Place};
use crate::desired::{Endpoint, SecretRef, TargetConfig};

/// The `targets` entry of one target.
pub(super) fn target(config: &TargetConfig, place: &Place<'_>, notes: Vec<String>) -> Result<Item, ImportError> {
    let mut items = vec![Item::scalar("kind", config.platform.kind())];
    if let Some(profile) = config.platform.profile() {
        items.push(Item::scalar("profile", profile));
    }
    let url = match &config.endpoint {
        Endpoint::Url(_) => config.url.clone(),
        Endpoint::Sandbox(_) => {
            let written = config.url.strip_prefix("sandbox:").unwrap_or(&config.url);
            format!("sandbox:{}", relocate(Path::new(written), place)?)
        }
    };
    items.push(Item::scalar("url", url));
    // The platform's text options (a workspace, an organization), as the source set them.
    for (option, value) in &config.settings {
        items.push(Item::scalar(option.clone(), value.clone()));
    }
    if let Some(from) = &config.principals_from {
        items.push(Item::scalar("principals_from", from.clone()));
    }
    if let Some(auth) = &config.auth {
        let mut fields = Vec::new();
        if let Some(username) = &auth.username {
            fields.push(Item::scalar("username", username.clone()));
        } else if let Some(account) = &config.account {
            fields.push(Item::scalar("account", account.clone()));
        }
        let token = match &auth.token {
            SecretRef::Env(_) => auth.token.to_reference(),
            // Resolve joined a relative path to the manifest directory.
            SecretRef::File(path) => match path.strip_prefix(place.manifests) {
                Ok(relative) => format!("${{file:{}}}", relocate(relative, place)?),
                Err(_) => auth.token.to_reference(),
            },
        };
        fields.push(Item::scalar("token", token));
        items.push(Item::entry("auth", Node::Map(fields)));
    }
    if !config.notify_new_users {
        items.push(Item::bool("notify_new_users", false));
    }
    items.extend(notes.into_iter().map(Item::Comment));
    Ok(Item::entry(config.name.clone(), Node::Map(items)))
}

/// A path written relative to the source manifests, written relative to the output
/// directory instead; an absolute path stays as it is.
fn relocate(written: &Path, place: &Place<'_>) -> Result<String, ImportError> {
    let path = if written.is_absolute() {
        written.to_path_buf()
    } else {
        let file = resolved(&place.manifests.join(written)).map_err(|e| path_error(written, &e))?;
        let out = resolved(place.out).map_err(|e| path_error(place.out, &e))?;
        relative(&file, &out)
    };
    path.to_str().map(str::to_owned).ok_or_else(|| {
        ImportError::Path(format!(
            "the path {} is not UTF-8 text, which a manifest must name it as",
            path.display()
        ))
    })
}

fn path_error(path: &Path, e: &std::io::Error) -> ImportError {
    ImportError::Path(format!("cannot resolve the path {}: {e}", path.display()))
}

/// The absolute path, symlinks resolved as far as it exists, `.` and `..` after that
/// taken by name (nothing there yet can be a symlink).
pub(crate) fn resolved(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut rest = Vec::new();
    let mut head = absolute.as_path();
    let base = loop {
        if let Ok(real) = head.canonicalize() {
            break real;
        }
        match (head.parent(), head.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                head = parent;
            }
            _ => break head.to_path_buf(),
        }
    };
    let mut out = base;
    for part in rest.into_iter().rev() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Ok(out)
}

/// `file` relative to the directory `base`, both absolute.
fn relative(file: &Path, base: &Path) -> PathBuf {
    let file: Vec<Component> = file.components().collect();
    let base: Vec<Component> = base.components().collect();
    let common = file.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for part in file.iter().skip(common) {
        out.push(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_to_the_common_directory() {
        let rel = |f: &str, b: &str| relative(Path::new(f), Path::new(b)).display().to_string();
        assert_eq!(rel("/a/sandbox/bb.yaml", "/a/out"), "../sandbox/bb.yaml");
        assert_eq!(rel("/a/sandbox/bb.yaml", "/a"), "sandbox/bb.yaml");
        assert_eq!(rel("/x/bb.yaml", "/a/b/c"), "../../../x/bb.yaml");
    }

    #[test]
    fn a_directory_that_does_not_exist_yet_resolves_by_name() {
        let tmp = std::env::temp_dir();
        let real = tmp.canonicalize().unwrap();
        let found = resolved(&tmp.join("rollcall-none/a/../b/./c")).unwrap();
        assert_eq!(found, real.join("rollcall-none/b/c"));
    }
}
