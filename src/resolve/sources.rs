//! Sources: each `sources:` entry checked against the source registry and turned into a
//! `SourceSpec` (connection, secret by reference, who its people are), and each group's
//! `members_from` checked against them. Nothing is read here; `engine` reads the sources
//! and hands what they answered back to `resolve` (`Loaded::sourced`).

use super::*;
use crate::manifest::raw::{RawPeople, RawSource};
use crate::source::registry;
use crate::source::spec::{Feed, Selection, ShrinkPolicy, SourceSpec, Sourcing, UsernameRule};
use crate::source::SourceConfig;

impl Resolver<'_> {
    /// The manifest's sources and what it asks of them; None when it declares none and
    /// no group follows one.
    pub(super) fn sourcing(
        &mut self,
        loaded: &Loaded,
        groups: &BTreeMap<String, Decl<'_, RawGroup>>,
    ) -> Option<Sourcing> {
        let declared = self.merge("source", loaded.files.iter().map(|(i, f)| (*i, &f.sources)));
        let mut sourcing = Sourcing::default();
        for (name, decl) in &declared {
            self.check_name(NameKind::Target, decl.file, decl.key);
            if let Some(spec) = self.source(&loaded.dir, name, decl) {
                sourcing.sources.insert(name.clone(), spec);
            }
        }
        for (group, decl) in groups {
            let mut feeds = Vec::new();
            for entry in &decl.value.members_from {
                let at = origin(decl.file, entry);
                let Some((source, source_group)) = entry
                    .value
                    .split_once(':')
                    .map(|(s, g)| (s.trim(), g.trim()))
                    .filter(|(s, g)| !s.is_empty() && !g.is_empty())
                else {
                    self.error(
                        at,
                        format!(
                            "`{}` in the members_from of group `{group}` is not SOURCE:GROUP",
                            entry.value
                        ),
                        "write the source's name, a colon and the group's name there, e.g. `okta:eng-backend`",
                    );
                    continue;
                };
                if !declared.contains_key(source) {
                    let hint = did_you_mean(source, declared.keys()).map_or_else(
                        || format!("declare `{source}` under `sources:`"),
                        |s| format!("did you mean `{s}`?"),
                    );
                    self.error(
                        at,
                        format!("group `{group}` takes members from `{source}`, which is not a declared source"),
                        hint,
                    );
                    continue;
                }
                let feed = Feed {
                    source: source.to_owned(),
                    group: source_group.to_owned(),
                    at,
                };
                if feeds.iter().any(|f: &Feed| f.label() == feed.label()) {
                    self.error(
                        at,
                        format!(
                            "`{}` is listed twice in the members_from of group `{group}`",
                            entry.value
                        ),
                        "list each source group once",
                    );
                    continue;
                }
                feeds.push(feed);
            }
            if !feeds.is_empty() {
                sourcing.feeds.insert(group.clone(), feeds);
            }
        }
        sourcing.policy = self.shrink_policy(loaded);
        (!declared.is_empty()).then_some(sourcing)
    }

    fn source(&mut self, dir: &Path, name: &str, decl: &Decl<'_, RawSource>) -> Option<SourceSpec> {
        let raw = decl.value;
        let file = decl.file;
        let Some(kind) = registry::find(raw.kind.value.trim()) else {
            // The schema lists the kinds; this is for a manifest read without it.
            self.error(
                origin(file, &raw.kind),
                format!("source `{name}` has an unknown kind `{}`", raw.kind.value),
                format!("use one of: {}", registry::kinds().join(", ")),
            );
            return None;
        };
        let mut settings = BTreeMap::new();
        for (setting, value) in raw.text_settings() {
            let known = kind.settings.iter().find(|s| s.name == setting);
            match (value, known) {
                (Some(v), None) => self.error(
                    origin(file, v),
                    format!("source `{name}` is a {} source, which has no `{setting}`", kind.kind),
                    format!("remove it; a {} source takes {}", kind.kind, setting_names(kind)),
                ),
                (Some(v), Some(_)) if v.value.trim().is_empty() => self.error(
                    origin(file, v),
                    format!("source `{name}` has an empty `{setting}`"),
                    format!("set `{setting}`, or remove it"),
                ),
                (Some(v), Some(_)) => {
                    let value = v.value.trim();
                    // A file the manifest names is relative to the manifest directory.
                    let value = if kind.paths.contains(&setting) {
                        dir.join(value).display().to_string()
                    } else {
                        value.to_owned()
                    };
                    settings.insert(setting.to_owned(), value);
                }
                (None, Some(s)) if s.required => self.error(
                    origin(file, &raw.kind),
                    format!("source `{name}` is a {} source without `{setting}`", kind.kind),
                    format!("add `{setting}`: {}", s.about),
                ),
                (None, _) => {}
            }
        }
        if let Some(starttls) = &raw.starttls {
            if kind.settings.iter().any(|s| s.name == "starttls") {
                settings.insert("starttls".to_owned(), starttls.value.to_string());
            } else {
                self.error(
                    origin(file, starttls),
                    format!("source `{name}` is a {} source, which has no `starttls`", kind.kind),
                    format!("remove it; a {} source takes {}", kind.kind, setting_names(kind)),
                );
            }
        }
        let (secret_field, secret_about) = kind.secret;
        let mut secret = None;
        for (field, value) in raw.secrets() {
            if field != secret_field {
                self.error(
                    origin(file, value),
                    format!(
                        "source `{name}` is a {} source, whose credential is `auth.{secret_field}`, not `auth.{field}`",
                        kind.kind
                    ),
                    format!("give {secret_about} as `auth.{secret_field}`"),
                );
                continue;
            }
            secret = self.secret_ref(dir, file, value);
        }
        let url = raw.url.value.trim();
        if url.starts_with("sandbox:") && kind.sandbox.is_none() {
            self.error(
                origin(file, &raw.url),
                format!("source `{name}`: rollcall has no sandbox for {} sources", kind.kind),
                "point `url` at the server",
            );
            return None;
        }
        let starttls = raw.starttls.as_ref().is_some_and(|s| s.value);
        let endpoint = self.endpoint(dir, file, ("source", name), &raw.url, |u| {
            let scheme = u.scheme();
            let takes = |s: &str| kind.schemes.contains(&s);
            // Clear text only to this machine, or upgraded by StartTLS: the secret would
            // travel in it.
            let ok = match scheme {
                "http" => takes("https") && is_loopback(u),
                other if kind.starttls == Some(other) => is_loopback(u) || starttls,
                other => takes(other),
            };
            if ok {
                return Ok(());
            }
            let schemes: Vec<String> = kind.schemes.iter().map(|s| format!("{s}://")).collect();
            Err((
                format!(
                    "source `{name}` has the URL `{scheme}://…`, which a {} source does not take here",
                    kind.kind
                ),
                format!(
                    "use {}{} (in clear text only to a loopback address{}), or sandbox:PATH",
                    schemes.join(" or "),
                    kind.starttls.map(|s| format!(" or {s}://")).unwrap_or_default(),
                    kind.starttls
                        .map(|s| format!(", or {s}:// with `starttls: true`"))
                        .unwrap_or_default()
                ),
            ))
        })?;
        if secret.is_none() && matches!(endpoint, Endpoint::Url(_)) {
            self.error(
                origin(file, decl.key),
                format!("source `{name}` has no `auth.{secret_field}`"),
                format!("give {secret_about} as `auth.{secret_field}: \"${{env:NAME}}\"` or `${{file:PATH}}`"),
            );
        }
        Some(SourceSpec {
            config: SourceConfig {
                name: name.to_owned(),
                kind,
                endpoint,
                url: url.to_owned(),
                settings,
                secret,
            },
            people: raw.people.as_ref().and_then(|p| self.selection(name, file, p)),
            at: origin(file, decl.key),
        })
    }

    fn selection(&mut self, name: &str, file: usize, raw: &RawPeople) -> Option<Selection> {
        let list = |l: &Option<Vec<Spanned<String>>>| {
            l.as_ref()
                .map(|v| v.iter().map(|s| s.value.trim().to_owned()).collect::<Vec<_>>())
        };
        let username = match &raw.username {
            None => UsernameRule::default(),
            Some(rule) => match UsernameRule::parse(&rule.value) {
                Some(r) => r,
                None => {
                    self.error(
                        origin(file, rule),
                        format!("source `{name}` has an unknown username rule `{}`", rule.value),
                        "use email_local_part, email, login, or attribute:NAME",
                    );
                    return None;
                }
            },
        };
        Some(Selection {
            groups: list(&raw.groups),
            status: list(&raw.filter.status),
            department: list(&raw.filter.department),
            domain: list(&raw.filter.domain).map(|d| {
                d.into_iter()
                    .map(|x| x.trim_start_matches('@').to_lowercase())
                    .collect()
            }),
            username,
            name_attribute: raw.map.name.as_ref().map(|s| s.value.trim().to_owned()),
            email_attribute: raw.map.email.as_ref().map(|s| s.value.trim().to_owned()),
        })
    }

    fn shrink_policy(&mut self, loaded: &Loaded) -> ShrinkPolicy {
        let mut policy = ShrinkPolicy::default();
        for (file, f) in &loaded.files {
            let Some(p) = &f.policy else { continue };
            let s = &p.value.sources;
            if let Some(percent) = &s.max_shrink_percent {
                if percent.value > 100 {
                    self.error(
                        origin(*file, percent),
                        format!("policy.sources.max_shrink_percent is {}, more than 100", percent.value),
                        "give a share from 0 to 100",
                    );
                } else {
                    policy.max_shrink_percent = percent.value;
                }
            }
            if let Some(min) = s.min_members {
                policy.min_members = min;
            }
        }
        policy
    }
}

fn setting_names(kind: &registry::SourceKind) -> String {
    let mut names: Vec<String> = kind.settings.iter().map(|s| format!("`{}`", s.name)).collect();
    names.push(format!("`auth.{}`", kind.secret.0));
    names.join(", ")
}

/// Merges what the sources provide into the loaded manifests, so `resolve` checks and
/// resolves sourced people like declared ones: a person declared by hand keeps every
/// field they set and takes the others from the source; every other sourced person
/// (and each leaver, inactive) is declared at the source's place; each group that
/// follows source groups gets their members besides its own.
pub fn inject_sourced(loaded: &mut Loaded, sourcing: &Sourcing, sourced: crate::source::select::Sourced) {
    use crate::manifest::raw::RawFile;
    let spanned = |value: &str, at: Origin| Spanned::new(value.to_owned(), at.location, at.location);
    let mut declared: BTreeSet<String> = BTreeSet::new();
    for (_, file) in &mut loaded.files {
        for (key, user) in &mut file.users.0 {
            // Sourced names are lower case; names match without regard to case.
            let lower = key.value.to_lowercase();
            let Some(p) = sourced.people.get(&lower).or_else(|| sourced.leavers.get(&lower)) else {
                continue;
            };
            declared.insert(lower);
            let at = p.at.unwrap_or(Origin {
                file: 0,
                location: key.referenced,
            });
            if user.name.is_none() {
                user.name = Some(spanned(&p.name, at));
            }
            if user.email.is_none() {
                user.email = Some(spanned(&p.email, at));
            }
            if user.active.is_none() {
                user.active = Some(p.active);
            }
        }
        for (key, group) in &mut file.groups.0 {
            let Some(members) = sourced.members.get(&key.value) else {
                continue;
            };
            let listed: BTreeSet<String> = group.members.iter().map(|m| m.value.to_lowercase()).collect();
            let at = sourcing
                .feeds
                .get(&key.value)
                .and_then(|f| f.first())
                .map_or(key.referenced, |f| f.at.location);
            for name in members.keys().filter(|n| !listed.contains(*n)) {
                group.members.push(Spanned::new(name.clone(), at, at));
            }
        }
    }
    // The others, declared in the file of the source they come from.
    let mut extra: BTreeMap<usize, RawFile> = BTreeMap::new();
    let everyone = sourced.people.iter().chain(sourced.leavers.iter());
    for (name, p) in everyone.filter(|(n, _)| !declared.contains(*n)) {
        let Some(at) = p.at else { continue };
        let user = crate::manifest::raw::RawUser {
            name: Some(spanned(&p.name, at)),
            email: Some(spanned(&p.email, at)),
            active: Some(p.active),
            ids: crate::manifest::raw::SpannedMap::default(),
        };
        extra
            .entry(at.file)
            .or_default()
            .users
            .0
            .push((spanned(name, at), user));
    }
    loaded.files.extend(extra);
    loaded.sourced = Some(std::sync::Arc::new(sourced));
}

/// Why sourced objects are wanted, for the plan's reasons.
impl Resolver<'_> {
    /// Why a sourced person is wanted: `from okta (00u1)`; None for a person only the
    /// manifest declares.
    pub(super) fn person_source(&self, name: &str) -> Option<String> {
        let sourced = self.sourced?;
        let name = name.to_lowercase();
        if let Some(p) = sourced.leavers.get(&name) {
            return Some(p.from.clone());
        }
        sourced.people.get(&name).map(|p| format!("from {}", p.from))
    }

    /// Why a sourced person is inactive, where a source (not the manifest) says so.
    pub(super) fn inactive_source(&self, name: &str) -> Option<String> {
        let sourced = self.sourced?;
        let name = name.to_lowercase();
        let by_source = sourced.leavers.contains_key(&name) || sourced.people.get(&name).is_some_and(|p| !p.active);
        if by_source {
            self.person_source(&name)
        } else {
            None
        }
    }

    /// Why a member of a group that follows source groups is wanted: `in okta:eng-backend`.
    pub(super) fn member_source(&self, group: &str, member: &str) -> Option<String> {
        let groups = self.sourced?.members.get(group)?.get(&member.to_lowercase())?;
        Some(format!("in {}", groups.join(" and ")))
    }
}
