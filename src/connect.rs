//! `connect`: from resolved targets to live providers. Reads each token from the
//! environment or a file, and starts the in-process emulator for `sandbox:` targets,
//! whose state is written back after an apply.

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::SecretString;

use crate::desired::{Endpoint, Platform, SecretRef, TargetConfig};
use crate::http::Auth;
use crate::provider::Provider;
use crate::sandbox::host::Sandbox;
use crate::sandbox::state::read_text;

/// A target that cannot be reached or set up, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("{target}: {message}")]
pub struct ConnectError {
    pub target: String,
    pub message: String,
    pub hint: Option<String>,
}

/// A sandbox target's emulator, and the file its state goes back to.
struct Started {
    path: PathBuf,
    /// The state file's path made absolute, to find a sandbox another target started.
    key: PathBuf,
    kind: &'static crate::sandbox::launch::SandboxKind,
    url: String,
    token: SecretString,
    emulator: Box<dyn Sandbox>,
}

/// Providers for every target, plus the emulators running for sandbox targets.
pub struct Connected {
    pub providers: BTreeMap<String, Box<dyn Provider>>,
    /// The account each target's token belongs to, where known: the manifest says it for
    /// a real server, a sandbox's state file for a sandbox.
    pub accounts: BTreeMap<String, String>,
    sandboxes: Vec<Started>,
}

impl Connected {
    /// Writes each sandbox's state back to its file.
    pub fn save_sandboxes(&self) -> Result<(), ConnectError> {
        for s in &self.sandboxes {
            s.emulator.save(&s.path).map_err(|e| ConnectError {
                target: "sandbox".to_owned(),
                message: e.to_string(),
                hint: None,
            })?;
        }
        Ok(())
    }

    pub async fn shutdown(self) {
        for s in self.sandboxes {
            s.emulator.shutdown().await;
        }
    }
}

pub async fn connect(targets: &BTreeMap<String, TargetConfig>, parallelism: usize) -> Result<Connected, ConnectError> {
    let mut connected = Connected {
        providers: BTreeMap::new(),
        accounts: BTreeMap::new(),
        sandboxes: Vec::new(),
    };
    for (name, config) in targets {
        if let Some(account) = &config.account {
            connected.accounts.insert(name.clone(), account.clone());
        }
        let (base, auth) = match &config.endpoint {
            Endpoint::Url(url) => (url.clone(), config.auth.as_ref().map(|a| auth(name, a)).transpose()?),
            Endpoint::Sandbox(path) => {
                // Targets on one state file share one emulator: Atlassian's cloud serves
                // the organization's directory and the Bitbucket workspace from one
                // state, so a group made through one shows in the other.
                let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
                let known = connected.sandboxes.iter().find(|s| s.key == key);
                let (url, token, account) = match known {
                    Some(s) if std::ptr::eq(s.kind, sandbox_kind(name, config.platform)?) => {
                        (s.url.clone(), s.token.clone(), s.emulator.account())
                    }
                    Some(_) => {
                        return Err(ConnectError {
                            target: name.clone(),
                            message: format!("{} is the sandbox of another target, of another kind", path.display()),
                            hint: Some("give each kind of target its own state file; targets share one only where one emulator serves both kinds".to_owned()),
                        })
                    }
                    None => {
                        let (emulator, url, token) = start_sandbox(name, config.platform, path).await?;
                        let account = emulator.account();
                        connected.sandboxes.push(Started {
                            path: path.clone(),
                            key,
                            kind: sandbox_kind(name, config.platform)?,
                            url: url.clone(),
                            token: token.clone(),
                            emulator,
                        });
                        (url, token, account)
                    }
                };
                // The sandbox's account is the one its platform's credentials name: an API
                // key that belongs to no user (the directory's, on a shared sandbox) names
                // none, as on the real service.
                let spec = config.platform.spec();
                let names_account =
                    spec.bearer_names_account || spec.credentials == crate::platform::Credentials::Basic;
                let account = account.filter(|_| names_account);
                // What the manifest says wins. Where people are found by email (a
                // Buildkite operator is an email), the safety rules know the person by
                // the name the manifest gives that email.
                if let (Some(account), None) = (&account, &config.account) {
                    let declared = spec.users_by_email.then(|| {
                        config
                            .scope
                            .people
                            .iter()
                            .find(|(_, email)| email.eq_ignore_ascii_case(account))
                    });
                    let known_as = declared
                        .flatten()
                        .map_or_else(|| account.clone(), |(key, _)| key.clone());
                    connected.accounts.insert(name.clone(), known_as);
                }
                let base = url::Url::parse(&url).map_err(|e| err(name, format!("sandbox address: {e}")))?;
                // A platform that takes Basic credentials gets the sandbox's account as
                // the username, as its real clients send an account's email.
                let auth = match (config.platform.spec().credentials, account) {
                    (crate::platform::Credentials::Basic, Some(username)) => Auth::Basic { username, token },
                    _ => Auth::Bearer(token),
                };
                (base, Some(auth))
            }
        };
        let account = connected.accounts.get(name).cloned();
        let provider = provider(config, account, base, auth, parallelism)?;
        connected.providers.insert(name.clone(), provider);
    }
    Ok(connected)
}

fn provider(
    config: &TargetConfig,
    account: Option<String>,
    base: url::Url,
    auth: Option<Auth>,
    parallelism: usize,
) -> Result<Box<dyn Provider>, ConnectError> {
    // The safety rules need the groups of the account rollcall works as.
    let mut config = config.clone();
    config.scope.member_users.extend(account);
    crate::provider::registry::provider(&config, base, auth, parallelism).map_err(|e| err(&config.name, e))
}

/// Starts the emulator of the target's platform over the state file at `path`; returns it,
/// the URL its provider connects to, and the run's token.
async fn start_sandbox(
    target: &str,
    platform: Platform,
    path: &std::path::Path,
) -> Result<(Box<dyn Sandbox>, String, SecretString), ConnectError> {
    let state_error = |message: String| ConnectError {
        target: target.to_owned(),
        message,
        hint: Some("a sandbox target's url is `sandbox:PATH`, PATH relative to the manifest directory".to_owned()),
    };
    let text = read_text(path).map_err(|e| state_error(e.to_string()))?;
    let Some(registered) = crate::provider::registry::registered(platform) else {
        return Err(err(
            target,
            format!("no emulator is registered for `{}`", platform.label()),
        ));
    };
    // Which emulator reads the file is what the file names (its `kind`); a state of
    // another platform would fail on its first field, so say what it is instead.
    let claimed = crate::provider::registry::sandbox_of(&text).map_err(|reason| {
        state_error(format!(
            "{} is not a sandbox state rollcall can start: {reason}",
            path.display()
        ))
    })?;
    if !std::ptr::eq(claimed.sandbox, registered.sandbox) {
        return Err(ConnectError {
            target: target.to_owned(),
            message: format!(
                "the sandbox {} is {}, but the target's kind is `{}`",
                path.display(),
                claimed.sandbox.describe,
                platform.kind()
            ),
            hint: Some(format!(
                "set the target's `kind: {}`, or point `url` at a sandbox of its kind",
                claimed.platform.kind()
            )),
        });
    }
    let token = session_token().map_err(|e| err(target, format!("cannot make a token for the sandbox: {e}")))?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| err(target, format!("cannot start the sandbox: {e}")))?;
    let launched = (registered.sandbox.start)(path, &text, token.clone(), listener, Some(platform))
        .await
        .map_err(state_error)?;
    Ok((launched.emulator, launched.client_url, SecretString::from(token)))
}

/// The emulator a target's platform runs on.
fn sandbox_kind(
    target: &str,
    platform: Platform,
) -> Result<&'static crate::sandbox::launch::SandboxKind, ConnectError> {
    crate::provider::registry::registered(platform)
        .map(|r| r.sandbox)
        .ok_or_else(|| err(target, format!("no emulator is registered for `{}`", platform.label())))
}

/// A fresh token for an in-process sandbox: nothing outside this process needs it.
pub fn session_token() -> Result<String, getrandom::Error> {
    crate::http::random_hex(16)
}

fn auth(target: &str, a: &crate::desired::AuthConfig) -> Result<Auth, ConnectError> {
    let token = read_secret(target, &a.token)?;
    Ok(match &a.username {
        Some(username) => Auth::Basic {
            username: username.clone(),
            token,
        },
        None => Auth::Bearer(token),
    })
}

pub(crate) fn read_secret(target: &str, r: &SecretRef) -> Result<SecretString, ConnectError> {
    let value = match r {
        SecretRef::Env(var) => std::env::var(var).map_err(|_| ConnectError {
            target: target.to_owned(),
            message: format!("the token variable {var} is not set"),
            hint: Some(format!(
                "export {var}=… before running rollcall, or point the token at a file with ${{file:PATH}}"
            )),
        })?,
        SecretRef::File(path) => std::fs::read_to_string(path).map_err(|e| ConnectError {
            target: target.to_owned(),
            message: format!("cannot read the token file {}: {e}", path.display()),
            hint: None,
        })?,
    };
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err(err(target, "the token is empty".to_owned()));
    }
    Ok(SecretString::from(value))
}

fn err(target: &str, message: String) -> ConnectError {
    ConnectError {
        target: target.to_owned(),
        message,
        hint: None,
    }
}
