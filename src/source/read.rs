//! Reading the sources: each one's secret read from where the manifest points, its
//! emulator started for a `sandbox:` url, and every source read at once. A source that
//! cannot be read fails the whole read: it is never taken for an empty one.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use secrecy::SecretString;

use super::spec::Sourcing;
use super::{Reach, Snapshot, Source, SourceError};
use crate::desired::Endpoint;
use crate::sandbox::host::Sandbox;

/// What each source answered, and the requests each read took.
pub struct Answers {
    pub snapshots: BTreeMap<String, Snapshot>,
    pub requests: BTreeMap<String, usize>,
}

/// A source that could not be read or set up: its name, what happened, what to check.
#[derive(Debug)]
pub struct ReadError {
    pub source_name: String,
    pub message: String,
    pub hint: Option<String>,
}

/// Reads every source the manifest asks anything of, at once.
pub async fn read_all(sourcing: &Sourcing, parallelism: usize) -> Result<Answers, Vec<ReadError>> {
    let mut readers: Vec<(String, Box<dyn Source>)> = Vec::new();
    let mut sandboxes: Vec<Box<dyn Sandbox>> = Vec::new();
    let mut errors = Vec::new();
    for (name, spec) in &sourcing.sources {
        if !sourcing.used(name) {
            continue;
        }
        match reader(spec, parallelism, &mut sandboxes).await {
            Ok(reader) => readers.push((name.clone(), reader)),
            Err(e) => errors.push(e),
        }
    }
    let reads = readers.iter().map(|(name, reader)| async move {
        let query = sourcing.query(name);
        crate::http::activity::begin(name, crate::http::activity::Role::Source);
        let snapshot = reader.read(&query).await;
        crate::http::activity::end(name);
        (name.clone(), snapshot, reader.requests())
    });
    let mut answers = Answers {
        snapshots: BTreeMap::new(),
        requests: BTreeMap::new(),
    };
    if errors.is_empty() {
        for (name, result, requests) in join_all(reads).await {
            answers.requests.insert(name.clone(), requests);
            match result {
                Ok(snapshot) => {
                    answers.snapshots.insert(name, snapshot);
                }
                Err(e) => {
                    let hint = sourcing.sources.get(&name).and_then(|s| hint(s.config.kind, &e));
                    errors.push(ReadError {
                        source_name: name,
                        message: e.to_string(),
                        hint,
                    });
                }
            }
        }
    }
    for s in sandboxes {
        s.shutdown().await;
    }
    if errors.is_empty() {
        Ok(answers)
    } else {
        Err(errors)
    }
}

/// What to check when a source of this kind failed this way.
fn hint(kind: &super::registry::SourceKind, e: &SourceError) -> Option<String> {
    match e {
        SourceError::Http(h) if matches!(h.status, Some(401 | 403)) => Some(kind.unauthorized.to_owned()),
        SourceError::NotFound { .. } => Some(format!(
            "a {} source names a group by {}; check the spelling in `members_from` and `people.groups`",
            kind.kind, kind.group_names
        )),
        _ => None,
    }
}

async fn reader(
    spec: &super::spec::SourceSpec,
    parallelism: usize,
    sandboxes: &mut Vec<Box<dyn Sandbox>>,
) -> Result<Box<dyn Source>, ReadError> {
    let config = &spec.config;
    let kind = config.kind;
    let fail = |message: String, hint: Option<String>| ReadError {
        source_name: config.name.clone(),
        message,
        hint,
    };
    let secret = |config: &super::SourceConfig| -> Result<Option<SecretString>, ReadError> {
        config
            .secret
            .as_ref()
            .map(|r| crate::connect::read_secret(&config.name, r))
            .transpose()
            .map_err(|e| fail(e.message, e.hint))
    };
    let reach = match &config.endpoint {
        Endpoint::Url(url) => Reach {
            base: url.clone(),
            sandboxed: false,
            secret: secret(config)?.ok_or_else(|| fail(format!("no `auth.{}`", kind.secret.0), None))?,
            parallelism,
        },
        Endpoint::Sandbox(path) => {
            let Some(sandbox) = kind.sandbox else {
                return Err(fail(format!("rollcall has no sandbox for {} sources", kind.kind), None));
            };
            let text = crate::sandbox::state::read_text(path).map_err(|e| fail(e.to_string(), None))?;
            // Which emulator reads a file is what the file names: say so, rather than
            // fail on the first field of another kind's state.
            let marker = crate::sandbox::state::marker(&text).map_err(|e| fail(e, None))?;
            if marker.as_deref() != Some(sandbox.marker) {
                return Err(fail(
                    format!("{} is not {}", path.display(), sandbox.describe),
                    Some(format!(
                        "point the source's url at a state file that says `kind: {}`",
                        sandbox.marker
                    )),
                ));
            }
            let token = crate::connect::session_token()
                .map_err(|e| fail(format!("cannot make a token for the sandbox: {e}"), None))?;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                .await
                .map_err(|e| fail(format!("cannot start the sandbox: {e}"), None))?;
            let launched = (sandbox.start)(path, &text, token.clone(), listener, None)
                .await
                .map_err(|e| {
                    fail(
                        e,
                        Some(format!("a sandbox source's url is `sandbox:PATH`, PATH a {} state file relative to the manifest directory", sandbox.describe)),
                    )
                })?;
            // Kept (so shut down) before anything else can fail.
            sandboxes.push(launched.emulator);
            let base =
                url::Url::parse(&launched.client_url).map_err(|e| fail(format!("sandbox address: {e}"), None))?;
            // The sandbox checks a token made for the run, or (a service account key)
            // the manifest's own secret against the state.
            let secret = if kind.sandbox_uses_manifest_secret {
                secret(config)?.ok_or_else(|| fail(format!("no `auth.{}`", kind.secret.0), None))?
            } else {
                SecretString::from(token)
            };
            Reach {
                base,
                sandboxed: true,
                secret,
                parallelism,
            }
        }
    };
    (kind.build)(config, reach).map_err(|e| fail(e.to_string(), None))
}
