//! Targets: each `targets:` entry checked and turned into a `TargetConfig` (platform,
//! endpoint, credentials by reference), and the error for a manifest that names none.

use super::*;
use crate::provider::registry;

impl Resolver<'_> {
    /// A manifest that names no target would plan nothing and say "no changes": that
    /// reads as "live state matches", so it is an error naming what is missing.
    pub(super) fn no_targets(&mut self, loaded: &Loaded, users: usize, groups: usize) {
        if loaded.sources.files.is_empty() {
            return; // "no manifest files" says it already
        }
        let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let message = match (users, groups) {
            (0, 0) => {
                "no target declared: the manifests declare nothing to manage, and nowhere to manage it".to_owned()
            }
            (u, g) => format!(
                "no target declared: the manifests declare {} and {} but no `targets:` to manage them on",
                count(u, "user"),
                count(g, "group")
            ),
        };
        self.problems.push(Diagnostic {
            file: loaded.dir.display().to_string(),
            line: 0,
            column: 0,
            message,
            hint: Some(
                "add a `targets:` section naming each platform, e.g. `targets: { bitbucket: { kind: bitbucket-datacenter, url: \"https://git.example.com\", auth: { username: svc, token: \"${env:BITBUCKET_TOKEN}\" } } }`, or `url: sandbox:PATH` for the built-in emulator (docs/manifest.md)"
                    .to_owned(),
            ),
            snippet: None,
            note: None,
        });
    }

    pub(super) fn target(&mut self, dir: &Path, name: &str, file: usize, raw: &RawTarget) -> Option<TargetConfig> {
        let kind = raw.kind.value.as_str();
        // A kind without profiles that sets one is reported with the other options below.
        let profile = raw.profile.as_ref().filter(|_| !registry::profiles(kind).is_empty());
        let Some(platform) = registry::find(kind, profile.map(|p| p.value.as_str())) else {
            // The schema has checked `kind` and `profile` each; only the pair can be wrong.
            let at = profile.map_or_else(|| origin(file, &raw.kind), |p| origin(file, p));
            self.error(
                at,
                format!("target `{name}`: kind `{kind}` has no such profile"),
                format!("use one of: {}", registry::profiles(kind).join(", ")),
            );
            return None;
        };
        // Options another kind of target takes: each an error at its own place.
        let options = [
            ("profile", raw.profile.as_ref().map(|p| origin(file, p))),
            (
                "notify_new_users",
                raw.notify_new_users.as_ref().map(|n| origin(file, n)),
            ),
        ];
        for (option, at) in options {
            if let Some(at) = at.filter(|_| !platform.accepts_option(option)) {
                self.not_an_option(name, kind, option, at);
            }
        }
        // The platform's own text options: accepted where it lists them, required where
        // it requires them.
        let texts = raw.text_options();
        let mut settings = BTreeMap::new();
        for (option, value) in texts {
            match value {
                Some(v) if !platform.accepts_option(option) => self.not_an_option(name, kind, option, origin(file, v)),
                Some(v) if v.value.trim().is_empty() => self.error(
                    origin(file, v),
                    format!("target `{name}` has an empty `{option}`"),
                    format!("set `{option}` to the value the {kind} target needs"),
                ),
                Some(v) => {
                    let words = platform.spec().option_words.iter().find(|(o, _)| *o == option);
                    let unknown: Vec<&str> = words.map_or_else(Vec::new, |(_, allowed)| {
                        v.value
                            .split(',')
                            .map(str::trim)
                            .filter(|w| !allowed.contains(w))
                            .collect()
                    });
                    match (words, unknown.first()) {
                        (Some((_, allowed)), Some(word)) => self.error(
                            origin(file, v),
                            format!(
                                "target `{name}` has `{word}` in `{option}`, which takes {}",
                                allowed.join(" and ")
                            ),
                            format!("list any of {} separated by commas", allowed.join(", ")),
                        ),
                        _ => {
                            settings.insert(option.to_owned(), v.value.trim().to_owned());
                        }
                    }
                }
                None if platform.spec().required.contains(&option) => self.error(
                    origin(file, &raw.kind),
                    format!("target `{name}` is {} {kind} target without `{option}`", article(kind)),
                    format!("add `{option}: …`; {} {kind} target needs it", article(kind)),
                ),
                None => {}
            }
        }
        self.credentials(name, file, raw, platform);
        let url = raw.url.value.trim();
        let endpoint = self.endpoint(dir, file, ("target", name), &raw.url, |u| match u.scheme() {
            "https" => Ok(()),
            "http" if is_loopback(u) => Ok(()),
            "http" => Err((
                format!("target `{name}` uses plain http to a remote host"),
                "use https://; plain http is accepted for loopback addresses (127.0.0.1, localhost) only, because the token would travel in clear text".to_owned(),
            )),
            other => Err((
                format!("target `{name}` has an unsupported URL scheme `{other}`"),
                "use https://HOST or sandbox:PATH".to_owned(),
            )),
        })?;
        let url_at = origin(file, &raw.url);
        let auth = match &raw.auth {
            Some(a) => Some(AuthConfig {
                username: a.username.clone(),
                token: self.secret_ref(dir, file, &a.token)?,
            }),
            None => None,
        };
        let account = match raw.auth.as_ref().map(|a| (&a.username, &a.account)) {
            Some((Some(user), None)) => Some(user.clone()),
            Some((None, Some(account))) => Some(account.value.clone()),
            Some((Some(_), Some(account))) => {
                self.error(
                    origin(file, account),
                    format!("target `{name}` sets both `username` and `account`"),
                    "with Basic auth the username is the account rollcall works as: remove `account`",
                );
                return None;
            }
            // Some platforms' tokens (an Atlassian directory API key) belong to no user.
            Some((None, None)) if !platform.spec().bearer_names_account => None,
            Some((None, None)) => {
                self.error(
                    origin(file, &raw.auth.as_ref()?.token),
                    format!("target `{name}` uses a Bearer token without naming its `account`"),
                    "add `account: NAME`, the user the token belongs to, so rollcall can refuse to delete, unlicense or demote it",
                );
                return None;
            }
            None => None,
        };
        if auth.is_none() && matches!(endpoint, Endpoint::Url(_)) {
            self.error(
                url_at,
                format!("target `{name}` has no `auth`"),
                platform.spec().hints.auth,
            );
            return None;
        }
        Some(TargetConfig {
            name: name.to_owned(),
            platform,
            endpoint,
            url: url.to_owned(),
            auth,
            account,
            notify_new_users: raw.notify_new_users.as_ref().is_none_or(|n| n.value),
            settings,
            scope: ReadScope::default(),
            principals_from: None,
        })
    }

    /// A target's or source's `url`: `sandbox:PATH` (relative to the manifest directory),
    /// or a URL without credentials in it whose scheme `accept` takes (else its message
    /// and hint). A URL that does not parse, or holds credentials, is never quoted: it
    /// may hide a secret.
    pub(super) fn endpoint(
        &mut self,
        dir: &Path,
        file: usize,
        (noun, name): (&str, &str),
        url: &Spanned<String>,
        accept: impl Fn(&url::Url) -> Result<(), (String, String)>,
    ) -> Option<Endpoint> {
        let at = origin(file, url);
        let text = url.value.trim();
        if let Some(path) = text.strip_prefix("sandbox:") {
            if path.is_empty() {
                self.error(
                    at,
                    "`sandbox:` needs the path of a state file".into(),
                    "for example `url: sandbox:../sandbox/state.yaml`, relative to the manifest directory",
                );
                return None;
            }
            return Some(Endpoint::Sandbox(dir.join(path)));
        }
        match url::Url::parse(text) {
            Ok(u) if !u.username().is_empty() || u.password().is_some() => {
                let d = self
                    .sources
                    .diagnostic(at, format!("{noun} `{name}` has credentials in its URL"))
                    .redacted(self.sources, at)
                    .with_hint("remove them from the URL (it is printed in plans) and use `auth` with a `${env:…}` or `${file:…}` token; if a real password was committed, change it");
                self.problems.push(d);
                None
            }
            Ok(u) => match accept(&u) {
                Ok(()) => Some(Endpoint::Url(u)),
                Err((message, hint)) => {
                    self.error(at, message, hint);
                    None
                }
            },
            Err(e) => {
                // It did not parse, so it may hide credentials: never quote it.
                let d = self
                    .sources
                    .diagnostic(at, format!("{noun} `{name}` has an invalid URL: {e}"))
                    .redacted(self.sources, at)
                    .with_hint("use https://HOST or sandbox:PATH");
                self.problems.push(d);
                None
            }
        }
    }

    fn not_an_option(&mut self, name: &str, kind: &str, option: &str, at: Origin) {
        self.error(
            at,
            format!(
                "target `{name}` is {} {kind} target, which has no `{option}`",
                article(kind)
            ),
            format!(
                "`{option}` is an option of {} targets; remove it",
                registry::kinds_with_option(option).join(", ")
            ),
        );
    }

    /// A platform that takes only Basic or only Bearer credentials says so at the
    /// manifest, rather than with a vendor's 401 or 403 at the first request.
    fn credentials(&mut self, name: &str, file: usize, raw: &RawTarget, platform: Platform) {
        let Some(auth) = &raw.auth else { return };
        let kind = platform.kind();
        match (platform.spec().credentials, &auth.username) {
            (Credentials::Basic, None) => self.error(
                origin(file, &auth.token),
                format!(
                    "target `{name}` uses a Bearer token, but {} {kind} target takes a username and a token (Basic)",
                    article(kind)
                ),
                platform.spec().hints.auth,
            ),
            (Credentials::Bearer, Some(_)) => self.error(
                origin(file, &auth.token),
                format!(
                    "target `{name}` sets a `username`, but {} {kind} target takes a Bearer token",
                    article(kind)
                ),
                format!("remove `username`; {}", platform.spec().hints.auth),
            ),
            _ => {}
        }
    }

    /// Checks each target's `principals_from`: another declared target, on a target
    /// whose platform makes none of some kind of principal itself.
    pub(super) fn principals_from(&mut self, targets: &BTreeMap<String, Decl<'_, RawTarget>>, desired: &mut Desired) {
        for (name, decl) in targets {
            let Some(from) = &decl.value.principals_from else {
                continue;
            };
            let at = origin(decl.file, from);
            let Some(platform) = desired.targets.get(name).map(|t| t.platform) else {
                continue;
            };
            let external = platform.users().external || platform.groups().external;
            if !external {
                self.error(
                    at,
                    format!("target `{name}` makes its own users and groups, so it takes none from `{}`", from.value),
                    format!(
                        "remove `principals_from`: it is for a platform whose users and groups another target makes ({})",
                        registry::kinds_where(|p| p.users().external || p.groups().external).join(", ")
                    ),
                );
            } else if from.value == *name {
                self.error(
                    at,
                    format!("target `{name}` takes its principals from itself"),
                    "name the directory target that makes its users and groups",
                );
            } else if let Some(source) = desired.targets.get(&from.value).map(|t| t.platform) {
                if source.users().external && source.groups().external {
                    self.error(
                        at,
                        format!(
                            "target `{name}` takes its principals from `{}`, which makes none itself",
                            from.value
                        ),
                        format!(
                            "name the target that makes the users and groups (a target of kind {})",
                            registry::kinds_where(|p| !(p.users().external && p.groups().external)).join(", ")
                        ),
                    );
                } else if let Some(config) = desired.targets.get_mut(name) {
                    config.principals_from = Some(from.value.clone());
                }
            } else if !targets.contains_key(&from.value) {
                let names: BTreeSet<String> = targets.keys().cloned().collect();
                self.unknown_target(decl.file, from, &names);
            }
        }
    }

    pub(super) fn secret_ref(&mut self, dir: &Path, file: usize, token: &Spanned<String>) -> Option<SecretRef> {
        let parsed = SecretRef::parse(&token.value).map(|r| match r {
            SecretRef::File(path) => SecretRef::File(dir.join(path)),
            env => env,
        });
        if parsed.is_none() {
            // Never echo the value: it may be a real token pasted by mistake.
            let at = origin(file, token);
            let d = self
                .sources
                .diagnostic(at, "a token must be a reference, not a literal value")
                .redacted(self.sources, at)
                .with_hint("write `${env:NAME}` to read it from an environment variable or `${file:PATH}` to read it from a file; if a real token was committed, revoke it");
            self.problems.push(d);
        }
        parsed
    }
}

/// `a` or `an` before a kind's name, as it is read aloud: an atlassian-organization target.
fn article(kind: &str) -> &'static str {
    if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}
