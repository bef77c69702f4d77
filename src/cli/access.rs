//! `rollcall access`: who can do what, and through what, from the manifests or from live
//! state, as text, JSON, CSV or a self-contained HTML access review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::error::{CliError, EXIT_OK};
use super::{ManifestDir, Traffic};
use crate::access::state::State;
use crate::access::{Filter, Report, TargetRef};

/// Show each person's effective access, and what gives it
///
/// Works out, with each platform's own rules, the highest level each person holds on
/// each resource (directly, through groups, through an "everyone" default, as an
/// administrator) and every grant it comes through. From the manifests by default;
/// with --live, from the targets as they are now.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestDir,
    /// Only this person: their name in the manifests, their username on any target, or
    /// their email, in any case. Repeatable
    #[arg(long, value_name = "PERSON")]
    who: Vec<String>,
    /// Only this target (`bitbucket`), or this resource and what is inside it
    /// (`bitbucket:API`, `bitbucket:API/payments`, `bitbucket:global`), names matched in
    /// any case. Every name but the last must be known; a last name nothing is granted on
    /// is answered through what encloses it, with a note (with --live on Bitbucket, which
    /// lists every repository, an unlisted one is an error). Where access is membership, the
    /// path is a group's whole name (`directory:mobile`), which must be known. Repeatable
    #[arg(long, value_name = "TARGET[:PATH]")]
    on: Vec<String>,
    /// Answer from live state rather than from the manifests: every target is read whole
    /// (every project, repository, group's members and default), as import reads it
    #[arg(long)]
    live: bool,
    /// Output format: text, json, csv, or html (a self-contained access review to hand
    /// to an auditor: a filterable people × resources matrix with the reasons)
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Write the output to this file rather than to stdout
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    traffic: Traffic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
    Csv,
    Html,
}

pub async fn run(args: Args) -> Result<u8, CliError> {
    let reading = super::progress::Reading::start();
    let desired = crate::engine::load_sourced(&args.manifest.dir, args.traffic.tuning()).await?;
    args.traffic.sources(desired.sourced.as_deref());
    for on in &args.on {
        let target = on.split_once(':').map_or(on.as_str(), |(t, _)| t);
        if !desired.targets.contains_key(target) {
            let known: Vec<&str> = desired.targets.keys().map(String::as_str).collect();
            return Err(
                CliError::new(format!("--on {on}: the manifests declare no target `{target}`"))
                    .hint(format!("targets: {}", known.join(", "))),
            );
        }
    }
    let refs: Vec<TargetRef<'_>> = desired
        .targets
        .values()
        .map(|t| TargetRef {
            name: &t.name,
            platform: t.platform,
            principals_from: t.principals_from.as_deref(),
            usernames: desired.usernames.get(&t.name),
            invited: None,
            read: None,
            unread_members: None,
        })
        .collect();
    // The manifests' own view of each target, and the scopes it names: a live report
    // answers on those too, so a repository the manifests name but where nothing is
    // granted yet is still listed with what its project gives.
    let declared: Vec<_> = refs.iter().map(|t| t.declared_state(&desired.resources)).collect();
    let (from, states, listed) = if args.live {
        // The whole of each target, as import reads it: access through a group the
        // manifests do not declare, or a default they do not name, is access all the same.
        let whole = desired
            .targets
            .iter()
            .map(|(name, t)| {
                let mut t = t.clone();
                t.scope = t.scope.whole();
                (name.clone(), t)
            })
            .collect();
        let live = crate::engine::read_targets(&whole, args.traffic.tuning()).await?;
        drop(reading);
        args.traffic.usage(&live);
        let invited: BTreeMap<&str, BTreeSet<String>> = live
            .findings
            .iter()
            .map(|(name, f)| (name.as_str(), f.invited()))
            .collect();
        let states: Vec<_> = refs
            .iter()
            .map(|t| {
                TargetRef {
                    invited: invited.get(t.name),
                    ..*t
                }
                .state(&live.states)
            })
            .collect();
        // Where a read listed every project and repository, `--on` knows which exist.
        let listed: BTreeMap<String, BTreeSet<crate::model::Scope>> = live
            .findings
            .iter()
            .filter_map(|(name, f)| Some((name.clone(), f.listed.clone()?)))
            .collect();
        live.shutdown().await;
        ("live", states, listed)
    } else {
        drop(reading);
        ("manifest", declared.clone(), BTreeMap::new())
    };
    let filter = Filter {
        who: who(&args.who, &desired.usernames),
        on: on(&args.on, &states, &declared, &listed)?,
    };
    let mut entries = Vec::new();
    for (state, named) in states.iter().zip(&declared) {
        let mut scopes = state.scopes();
        scopes.extend(named.scopes());
        entries.extend(crate::access::entries_over(state, &filter, &scopes));
    }
    // By person across targets; each person's entries on a target stay in scope order
    // (the root first), as `entries_over` made them.
    entries.sort_by(|a, b| (&a.person, &a.email, &a.target).cmp(&(&b.person, &b.email, &b.target)));
    let mut filters: Vec<String> = args.who.iter().map(|w| format!("--who {w}")).collect();
    filters.extend(args.on.iter().map(|o| format!("--on {o}")));
    let report = Report {
        from: from.to_owned(),
        manifest_digest: desired.manifest_digest.clone(),
        generated_at: generated_at(),
        filters,
        entries,
    };
    let text = match args.format {
        Format::Text => crate::access::render::text(&report),
        Format::Json => serde_json::to_string_pretty(&report)
            .map(|j| j + "\n")
            .map_err(|e| CliError::new(format!("cannot write the report as JSON: {e}")))?,
        Format::Csv => crate::access::render::csv(&report),
        Format::Html => crate::access::html::render(&report),
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| CliError::new(format!("cannot write {}: {e}", path.display())))?;
            note!("Wrote the access report to {}.", path.display());
        }
        None => super::write_stdout(text.as_bytes())?,
    }
    Ok(EXIT_OK)
}

/// The people `--who` asks for: as given, and each person in the manifests whose username
/// on some target it is, so `--who cdiaz` finds carol on every target, not only where
/// she is `cdiaz`.
fn who(asked: &[String], usernames: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<String> {
    let mut out = asked.to_vec();
    for names in usernames.values() {
        for (person, username) in names {
            if asked.iter().any(|w| w.eq_ignore_ascii_case(username)) && !out.contains(person) {
                out.push(person.clone());
            }
        }
    }
    out
}

/// `--on` with each path spelt as its target spells it, and a note for one answered
/// through what encloses it; an error for one whose enclosing scope is unknown, or, where
/// the live read listed every scope (`listed`), for one that is not among them.
fn on(
    asked: &[String],
    states: &[State],
    declared: &[State],
    listed: &BTreeMap<String, BTreeSet<crate::model::Scope>>,
) -> Result<Vec<String>, CliError> {
    let all: Vec<&State> = states.iter().chain(declared).collect();
    asked
        .iter()
        .map(|on| match on.split_once(':') {
            None => Ok(on.clone()),
            Some((target, path)) => {
                let named = crate::access::resource_named(&all, listed.get(target), target, path)
                    .map_err(|e| CliError::new(e.message).hint(e.hint))?;
                if named.inferred {
                    let near = named
                        .near
                        .map_or(String::new(), |n| format!(" Did you mean `{target}:{n}`?"));
                    note!(
                        "Nothing is granted on {target}:{} itself, so it is answered through what encloses it; rollcall cannot tell whether it exists.{near}",
                        named.path
                    );
                }
                Ok(format!("{target}:{}", named.path))
            }
        })
        .collect()
}

/// Now, in UTC to the second; `SOURCE_DATE_EPOCH` (seconds) fixes it, so a report can be
/// made again byte for byte.
fn generated_at() -> String {
    let fixed = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|s| jiff::Timestamp::from_second(s).ok());
    let at = fixed.unwrap_or_else(jiff::Timestamp::now);
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}
