//! `rollcall sources`: what each identity source expands to, without touching a target.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::json;

use super::error::{CliError, EXIT_OK};
use super::{ManifestDir, Traffic};
use crate::source::select::Sourced;
use crate::source::spec::Sourcing;

/// Show the people and group members the identity sources give, touching no target
///
/// Reads every source the manifests declare (Okta, Entra ID, Google Workspace, LDAP)
/// and prints who is a person, who is left out and why, the members each group that
/// follows source groups gets, and who has left the sources (kept offboarded). The
/// digest is the one a saved plan records.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestDir,
    /// Print as JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    traffic: Traffic,
}

pub async fn run(args: Args) -> Result<u8, CliError> {
    let reading = super::progress::Reading::start();
    let expanded = crate::engine::expand_sources(&args.manifest.dir, args.traffic.tuning()).await;
    drop(reading);
    let Some((sourcing, sourced)) = expanded? else {
        println!("The manifests declare no identity source.");
        return Ok(EXIT_OK);
    };
    if args.json {
        println!("{}", to_json(&sourcing, &sourced));
    } else {
        print!("{}", to_text(&sourcing, &sourced));
    }
    Ok(EXIT_OK)
}

fn to_text(sourcing: &Sourcing, sourced: &Sourced) -> String {
    let mut out = String::new();
    for (name, spec) in &sourcing.sources {
        let people: Vec<_> = sourced.people.iter().filter(|(_, p)| p.source == *name).collect();
        let inactive = people.iter().filter(|(_, p)| !p.active).count();
        let _ = write!(
            out,
            "Source {name} ({}, {}): {} people",
            spec.config.kind.kind,
            spec.config.url,
            people.len()
        );
        if inactive > 0 {
            let _ = write!(out, ", {inactive} inactive");
        }
        match sourced.requests.get(name) {
            Some(n) => {
                let _ = writeln!(out, "; {n} requests");
            }
            None => out.push_str("; not read (nothing asks for it)\n"),
        }
        let width = people.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (person, p) in &people {
            let state = if p.active { "" } else { "  inactive: offboarded" };
            let _ = writeln!(out, "  {person:<width$}  {} <{}>  {}{state}", p.name, p.email, p.from);
        }
        if let Some(left_out) = sourced.left_out.get(name).filter(|l| !l.is_empty()) {
            let _ = writeln!(out, "  left out:");
            for why in left_out {
                let _ = writeln!(out, "    {why}");
            }
        }
        out.push('\n');
    }
    if !sourced.members.is_empty() {
        out.push_str("Groups that follow sources:\n");
        for (group, members) in &sourced.members {
            let feeds: Vec<String> = sourcing
                .feeds
                .get(group)
                .map(|f| {
                    f.iter()
                        .map(|f| {
                            format!(
                                "{} ({})",
                                f.label(),
                                sourced.counts.get(&f.label()).copied().unwrap_or(0)
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let _ = writeln!(out, "  {group} <- {}: {} members", feeds.join(", "), members.len());
            let names: Vec<&str> = members.keys().map(String::as_str).collect();
            for line in names.chunks(8) {
                let _ = writeln!(out, "    {}", line.join(", "));
            }
        }
        out.push('\n');
    }
    if !sourced.leavers.is_empty() {
        out.push_str("Left the sources (offboarded, and kept so):\n");
        for (name, p) in &sourced.leavers {
            let _ = writeln!(out, "  {name}  {} <{}>", p.name, p.email);
        }
        out.push('\n');
    }
    let _ = writeln!(out, "Sources digest: {}", sourced.digest());
    out
}

fn to_json(sourcing: &Sourcing, sourced: &Sourced) -> String {
    let mut sources = serde_json::Map::new();
    for (name, spec) in &sourcing.sources {
        let people: BTreeMap<&String, serde_json::Value> = sourced
            .people
            .iter()
            .filter(|(_, p)| p.source == *name)
            .map(|(n, p)| {
                (
                    n,
                    json!({ "name": p.name, "email": p.email, "active": p.active, "from": p.from }),
                )
            })
            .collect();
        sources.insert(
            name.clone(),
            json!({
                "kind": spec.config.kind.kind,
                "url": spec.config.url,
                "requests": sourced.requests.get(name),
                "people": people,
                "left_out": sourced.left_out.get(name).cloned().unwrap_or_default(),
            }),
        );
    }
    let groups: BTreeMap<&String, serde_json::Value> = sourced
        .members
        .iter()
        .map(|(g, members)| {
            let feeds: BTreeMap<String, usize> = sourcing
                .feeds
                .get(g)
                .into_iter()
                .flatten()
                .map(|f| (f.label(), sourced.counts.get(&f.label()).copied().unwrap_or(0)))
                .collect();
            (g, json!({ "follows": feeds, "members": members }))
        })
        .collect();
    let leavers: BTreeMap<&String, serde_json::Value> = sourced
        .leavers
        .iter()
        .map(|(n, p)| (n, json!({ "name": p.name, "email": p.email })))
        .collect();
    let doc = json!({
        "digest": sourced.digest(),
        "sources": sources,
        "groups": groups,
        "left_since_last_apply": leavers,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
