//! LDAP sources: OpenLDAP (and other directories with its schema) and Active Directory,
//! read over LDAPS or StartTLS with a simple bind.
//!
//! Every search is paged (RFC 2696) at [`conn::PAGE_SIZE`] = 500 entries, under
//! `base_dn`, subtree scope. What is read depends on the schema:
//!
//! - **OpenLDAP**: the server does not follow nested groups, so when groups are asked
//!   for, one search reads *every* group under the base (`groupOfNames` and
//!   `groupOfUniqueNames`, with `cn`, `member`, `uniqueMember`) and the named groups are
//!   expanded in memory (`expand`), cycle-safe. Then one search reads every
//!   `inetOrgPerson` under the base: members are matched to people by DN, and a member
//!   DN that is neither a person nor a group under the base is skipped and counted.
//! - **Active Directory**: one search finds the named groups (by `cn` or
//!   `distinguishedName`), then one search per group asks the server for every member
//!   through the in-chain matching rule (`memberOf:1.2.840.113556.1.4.1941:=DN`), nested
//!   groups included; people are told from groups, computers and contacts by their
//!   classes. `everyone` is one more search of `(&(objectCategory=person)(objectClass=user))`.
//!
//! Requests (`requests()` counts LDAP operations that get an answer: the bind, the
//! StartTLS request, each search page; not the unbind). With `p(n) = max(1, ⌈n/500⌉)`
//! pages for a search matching n entries, `t` = 1 with StartTLS else 0, and nothing at
//! all for a query that asks for nothing:
//!
//! ```text
//! OpenLDAP:          1 + t + [groups named] · p(G) + p(P)
//! Active Directory:  1 + t + [groups named] · (p(k) + Σ_g p(M_g)) + [everyone] · p(P)
//! ```
//!
//! where G is the number of groups under the base, P of people under the base, k of
//! groups named, and M_g of entries in group g once nesting is followed (people, nested
//! groups and anything else). OpenLDAP sends an empty cookie with the last full page,
//! so an exact multiple of 500 costs no extra page; a server that cannot tell may send
//! one more, empty page. A named group that does not exist stops the read after the
//! group search: `1 + t + p(G)` (OpenLDAP) or `1 + t + p(k)` (Active Directory).

mod conn;
mod expand;
mod schema;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use rustls::ClientConfig;
use secrecy::{ExposeSecret, SecretString};

use self::conn::{Session, Target};
use self::expand::{Groups, Lookup};
use self::schema::{Entry, MemberKind, Schema};
use super::registry::{Setting, SourceKind};
use super::{Group, Person, Query, Reach, Snapshot, Source, SourceConfig, SourceError};
use crate::provider::BoxFuture;

pub static KIND: SourceKind = SourceKind {
    kind: "ldap",
    summary: "An LDAP directory (OpenLDAP or Active Directory), read over LDAPS or StartTLS with a simple bind",
    settings: &[
        Setting {
            name: "base_dn",
            required: true,
            about: "where people and groups are searched (subtree), e.g. dc=example,dc=com",
        },
        Setting {
            name: "bind_dn",
            required: true,
            about: "the DN rollcall binds as (`auth.bind_dn`); it needs read access to people and groups",
        },
        Setting {
            name: "schema",
            required: false,
            about: "`openldap` (default: inetOrgPerson, groupOfNames/groupOfUniqueNames) or `active-directory`",
        },
        Setting {
            name: "starttls",
            required: false,
            about: "`true` to upgrade an ldap:// connection with StartTLS before binding",
        },
        Setting {
            name: "ca_file",
            required: false,
            about: "a PEM file of CA certificates to trust besides the public roots",
        },
    ],
    secret: ("password", "the bind DN's password"),
    group_names: "a group's cn under base_dn, or its full DN",
    unauthorized: "check auth.bind_dn and its password (result 49 invalidCredentials), and that the account may read \
                   people and groups under base_dn",
    schemes: &["ldaps"],
    starttls: Some("ldap"),
    paths: &["ca_file"],
    build,
    sandbox: None,
    sandbox_uses_manifest_secret: false,
};

/// The most group searches in flight at once on one connection (Active Directory).
const MAX_PARALLEL: usize = 4;

/// An LDAP source's reader.
pub struct LdapSource {
    name: String,
    url: String,
    base_dn: String,
    bind_dn: String,
    schema: Schema,
    starttls: bool,
    tls: Option<Arc<ClientConfig>>,
    password: SecretString,
    parallelism: usize,
    requests: AtomicUsize,
}

fn build(config: &SourceConfig, reach: Reach) -> Result<Box<dyn Source>, SourceError> {
    let setup = |message: String| SourceError::Setup {
        source_name: config.name.clone(),
        message,
    };
    let base_dn = config.required("base_dn")?.to_owned();
    let bind_dn = config.required("bind_dn")?.to_owned();
    let schema = Schema::parse(config.setting("schema")).ok_or_else(|| {
        setup(format!(
            "schema `{}` is neither `openldap` nor `active-directory`",
            config.setting("schema").unwrap_or_default()
        ))
    })?;
    let starttls = match config.setting("starttls").map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(setup(format!("starttls is `true` or `false`, not `{other}`"))),
    };
    if reach.sandboxed {
        return Err(setup(
            "an LDAP source has no sandbox; point it at a directory".to_owned(),
        ));
    }
    let url = &reach.base;
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(setup(format!("`{url}` names no host")));
    };
    let tls = match url.scheme() {
        "ldaps" if starttls => {
            return Err(setup(
                "starttls is for ldap:// URLs; ldaps:// is encrypted from the start".to_owned(),
            ));
        }
        "ldaps" => true,
        "ldap" if starttls => true,
        // The password would cross the network in clear text.
        "ldap" if is_loopback(url) => false,
        "ldap" => {
            return Err(setup(format!(
                "ldap://{host} without starttls would send the bind password unencrypted; use ldaps:// or \
                 `starttls: true`"
            )));
        }
        other => return Err(setup(format!("`{other}:` is not an LDAP URL; use ldaps:// or ldap://"))),
    };
    if reach.secret.expose_secret().is_empty() {
        // An empty password is an unauthenticated bind (RFC 4513 §5.1.2), which many
        // servers accept as anonymous: never what a manifest means.
        return Err(setup("the bind password is empty".to_owned()));
    }
    let tls = if tls {
        let ca_file = config.setting("ca_file").map(std::path::Path::new);
        Some(conn::tls_config(ca_file).map_err(setup)?)
    } else {
        None
    };
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    Ok(Box::new(LdapSource {
        name: config.name.clone(),
        url: format!("{}://{host}{port}", url.scheme()),
        base_dn,
        bind_dn,
        schema,
        starttls,
        tls,
        password: reach.secret,
        parallelism: reach.parallelism.clamp(1, MAX_PARALLEL),
        requests: AtomicUsize::new(0),
    }))
}

/// A loopback host, where `ldap://` without TLS is allowed (tests, a local tunnel).
fn is_loopback(url: &url::Url) -> bool {
    // `ldap:` is not a scheme the URL standard knows, so its host stays text: an
    // address is parsed here.
    let Some(host) = url.host_str() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

impl Source for LdapSource {
    fn read<'a>(&'a self, query: &'a Query) -> BoxFuture<'a, Result<Snapshot, SourceError>> {
        Box::pin(self.read_query(query))
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }
}

impl LdapSource {
    async fn read_query(&self, query: &Query) -> Result<Snapshot, SourceError> {
        if query.groups.is_empty() && !query.everyone {
            return Ok(Snapshot::default());
        }
        let target = Target {
            source_name: &self.name,
            url: &self.url,
            starttls: self.starttls,
            tls: self.tls.clone(),
            bind_dn: &self.bind_dn,
            password: &self.password,
        };
        let session = Session::open(target, &self.requests).await?;
        let read = match self.schema {
            Schema::OpenLdap => self.read_openldap(&session, query).await,
            Schema::ActiveDirectory => self.read_active_directory(&session, query).await,
        };
        session.close().await;
        read
    }

    /// Every group, then every person, both in one paged search each; nesting is
    /// followed in memory.
    async fn read_openldap(&self, session: &Session<'_>, query: &Query) -> Result<Snapshot, SourceError> {
        let mut search = session.handle();
        let groups = if query.groups.is_empty() {
            Groups::default()
        } else {
            let entries = search
                .search(
                    &self.base_dn,
                    schema::OPENLDAP_GROUPS,
                    schema::OPENLDAP_GROUP_ATTRIBUTES,
                )
                .await?;
            Groups::new(entries)
        };
        // Every name is resolved before people are read: a wrong name costs nothing more.
        let mut named = Vec::with_capacity(query.groups.len());
        for name in &query.groups {
            match groups.find(name) {
                Lookup::One(group) => named.push((name, group)),
                Lookup::None => return Err(self.not_found(name)),
                Lookup::Many(count) => return Err(self.ambiguous(name, count)),
            }
        }
        let entries = search
            .search(
                &self.base_dn,
                self.schema.people_filter(),
                self.schema.person_attributes(),
            )
            .await?;
        let people: BTreeMap<String, Person> = entries
            .iter()
            .map(|e| (schema::normalize_dn(&e.dn), self.schema.person(e)))
            .collect();

        let mut snapshot = Snapshot::default();
        for (name, group) in named {
            let expanded = groups.expand(group, |dn| people.contains_key(dn));
            let mut members = std::collections::BTreeSet::new();
            for person in expanded.people.iter().filter_map(|dn| people.get(dn)) {
                members.insert(person.id.clone());
                snapshot.people.insert(person.id.clone(), person.clone());
            }
            let shown = group_name(&group.names, name);
            snapshot.groups.insert(
                name.clone(),
                Group {
                    id: group.dn.clone(),
                    name: shown,
                    members,
                    skipped: expanded.skipped,
                },
            );
        }
        if query.everyone {
            for person in people.into_values() {
                snapshot.people.insert(person.id.clone(), person);
            }
        }
        Ok(snapshot)
    }

    /// The named groups in one search, then each group's members as the server
    /// follows the chain, a few groups at a time on the one connection.
    async fn read_active_directory(&self, session: &Session<'_>, query: &Query) -> Result<Snapshot, SourceError> {
        let mut named: Vec<(String, String, String)> = Vec::with_capacity(query.groups.len());
        if !query.groups.is_empty() {
            let filter = schema::ad_groups_filter(query.groups.iter().map(String::as_str));
            let found = session
                .handle()
                .search(&self.base_dn, &filter, schema::AD_GROUP_ATTRIBUTES)
                .await?;
            for name in &query.groups {
                let hits: Vec<&Entry> = found.iter().filter(|e| names_group(e, name)).collect();
                match hits.as_slice() {
                    [one] => named.push((name.clone(), one.dn.clone(), group_name(one.values("cn"), name))),
                    [] => return Err(self.not_found(name)),
                    many => return Err(self.ambiguous(name, many.len())),
                }
            }
        }
        let attributes = self.schema.person_attributes();
        let base = self.base_dn.as_str();
        // The futures are made up front (each with its own handle on the connection) and
        // run a few at a time.
        let searches: Vec<_> = named
            .into_iter()
            .map(|(name, dn, shown)| {
                let mut search = session.handle();
                async move {
                    let entries = search.search(base, &schema::ad_members_filter(&dn), attributes).await?;
                    Ok::<_, SourceError>((name, dn, shown, entries))
                }
            })
            .collect();
        let members: Vec<(String, String, String, Vec<Entry>)> = stream::iter(searches)
            .buffer_unordered(self.parallelism)
            .try_collect()
            .await?;

        let mut snapshot = Snapshot::default();
        for (name, dn, shown, entries) in members {
            let group = chained_group(dn, shown, &entries, &mut snapshot.people);
            snapshot.groups.insert(name, group);
        }
        if query.everyone {
            let entries = session
                .handle()
                .search(base, self.schema.people_filter(), attributes)
                .await?;
            for entry in &entries {
                let person = self.schema.person(entry);
                snapshot.people.insert(person.id.clone(), person);
            }
        }
        Ok(snapshot)
    }

    fn not_found(&self, name: &str) -> SourceError {
        let why = if schema::is_dn(name) && !schema::under(name, &self.base_dn) {
            format!(" (it is not under base_dn `{}`)", self.base_dn)
        } else {
            let by = if schema::is_dn(name) { "DN" } else { "cn" };
            let classes = match self.schema {
                Schema::OpenLdap => "groupOfNames or groupOfUniqueNames",
                Schema::ActiveDirectory => "group",
            };
            format!(" (no {classes} with that {by} under `{}`)", self.base_dn)
        };
        SourceError::NotFound {
            source_name: self.name.clone(),
            group: name.to_owned(),
            why,
        }
    }

    fn ambiguous(&self, name: &str, count: usize) -> SourceError {
        SourceError::Ambiguous {
            source_name: self.name.clone(),
            group: name.to_owned(),
            count,
        }
    }
}

/// An Active Directory group from the answer of its in-chain member search: the
/// people (added to `people`), nested groups passed over (their members are in the
/// same answer), anything else skipped and counted.
fn chained_group(dn: String, name: String, entries: &[Entry], people: &mut BTreeMap<String, Person>) -> Group {
    let schema = Schema::ActiveDirectory;
    let mut group = Group {
        id: dn,
        name,
        ..Group::default()
    };
    for entry in entries {
        match schema.member_kind(entry.values("objectClass")) {
            MemberKind::Person => {
                let person = schema.person(entry);
                group.members.insert(person.id.clone());
                people.insert(person.id.clone(), person);
            }
            MemberKind::Group => {}
            MemberKind::Other => group.skipped += 1,
        }
    }
    group
}

/// Whether an Active Directory group entry is the one a name means.
fn names_group(entry: &Entry, name: &str) -> bool {
    if schema::is_dn(name) {
        schema::normalize_dn(&entry.dn) == schema::normalize_dn(name)
    } else {
        let wanted = name.trim().to_lowercase();
        entry.values("cn").iter().any(|cn| cn.trim().to_lowercase() == wanted)
    }
}

/// A group's name as the directory spells it: the `cn` the manifest matched, else the
/// first one.
fn group_name(names: &[String], asked: &str) -> String {
    let wanted = asked.trim().to_lowercase();
    names
        .iter()
        .find(|n| n.trim().to_lowercase() == wanted)
        .or_else(|| names.first())
        .cloned()
        .unwrap_or_else(|| asked.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::Endpoint;

    fn config(settings: &[(&str, &str)]) -> SourceConfig {
        SourceConfig {
            name: "corp".to_owned(),
            kind: &KIND,
            endpoint: Endpoint::Url(url::Url::parse("ldaps://ldap.example.com").unwrap()),
            url: "ldaps://ldap.example.com".to_owned(),
            settings: settings
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            secret: None,
        }
    }

    fn reach(url: &str, secret: &str) -> Reach {
        Reach {
            base: url::Url::parse(url).unwrap(),
            sandboxed: false,
            secret: SecretString::from(secret),
            parallelism: 8,
        }
    }

    fn build_error(settings: &[(&str, &str)], url: &str, secret: &str) -> String {
        match build(&config(settings), reach(url, secret)) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    const BASE: &[(&str, &str)] = &[
        ("base_dn", "dc=example,dc=com"),
        ("bind_dn", "cn=rollcall,dc=example,dc=com"),
    ];

    #[test]
    fn builds_over_tls_and_refuses_clear_text_off_loopback() {
        assert_eq!(build_error(BASE, "ldaps://ldap.example.com:636", "pw"), "");
        assert_eq!(build_error(BASE, "ldap://127.0.0.1:3389", "pw"), "");
        assert_eq!(build_error(BASE, "ldap://localhost", "pw"), "");
        let with_tls = [BASE, &[("starttls", "true")]].concat();
        assert_eq!(build_error(&with_tls, "ldap://ldap.example.com", "pw"), "");
        assert!(build_error(BASE, "ldap://ldap.example.com", "pw").contains("unencrypted"));
        assert!(build_error(&with_tls, "ldaps://ldap.example.com", "pw").contains("starttls is for ldap://"));
        assert!(build_error(BASE, "https://ldap.example.com", "pw").contains("not an LDAP URL"));
    }

    #[test]
    fn settings_are_checked() {
        assert!(build_error(&[("base_dn", "dc=x")], "ldaps://h", "pw").contains("`bind_dn`"));
        assert!(build_error(&[BASE, &[("schema", "novell")]].concat(), "ldaps://h", "pw").contains("schema `novell`"));
        assert!(build_error(&[BASE, &[("starttls", "yes")]].concat(), "ldaps://h", "pw").contains("`yes`"));
        assert!(build_error(BASE, "ldaps://h", "").contains("empty"));
        let missing_ca = [BASE, &[("ca_file", "/nonexistent/ca.pem")]].concat();
        assert!(build_error(&missing_ca, "ldaps://h", "pw").contains("ca_file"));
    }

    #[test]
    fn the_kind_declares_its_settings() {
        let names: Vec<(&str, bool)> = KIND.settings.iter().map(|s| (s.name, s.required)).collect();
        assert_eq!(
            names,
            [
                ("base_dn", true),
                ("bind_dn", true),
                ("schema", false),
                ("starttls", false),
                ("ca_file", false)
            ]
        );
        assert_eq!(KIND.secret.0, "password");
        assert!(std::ptr::eq(super::super::registry::find("ldap").unwrap(), &KIND));
    }

    #[test]
    fn an_empty_query_reads_nothing() {
        let source = build(&config(BASE), reach("ldap://127.0.0.1:1", "pw")).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let snapshot = runtime.block_on(source.read(&Query::default())).unwrap();
        assert_eq!(snapshot, Snapshot::default());
        assert_eq!(source.requests(), 0);
    }

    #[test]
    fn active_directory_chain_answers() {
        let entry = |dn: &str, classes: &[&str], login: &str, control: &str| {
            Entry::new(
                dn.to_owned(),
                [
                    (
                        "objectClass".to_owned(),
                        classes.iter().map(|c| (*c).to_owned()).collect(),
                    ),
                    ("sAMAccountName".to_owned(), vec![login.to_owned()]),
                    ("userAccountControl".to_owned(), vec![control.to_owned()]),
                ],
            )
        };
        let user = ["top", "person", "organizationalPerson", "user"];
        let answer = [
            entry("CN=Ada,OU=Staff,DC=corp", &user, "ada", "512"),
            entry("CN=Bob,OU=Staff,DC=corp", &user, "bob", "514"),
            entry("CN=Nested,OU=Groups,DC=corp", &["top", "group"], "nested", ""),
            entry(
                "CN=WS01,OU=Computers,DC=corp",
                &["top", "person", "organizationalPerson", "user", "computer"],
                "WS01$",
                "4096",
            ),
            entry(
                "CN=Vendor,OU=Contacts,DC=corp",
                &["top", "person", "organizationalPerson", "contact"],
                "",
                "",
            ),
        ];
        let mut people = BTreeMap::new();
        let group = chained_group(
            "CN=Eng,OU=Groups,DC=corp".to_owned(),
            "Eng".to_owned(),
            &answer,
            &mut people,
        );
        assert_eq!(
            group.members.iter().map(String::as_str).collect::<Vec<_>>(),
            ["CN=Ada,OU=Staff,DC=corp", "CN=Bob,OU=Staff,DC=corp"]
        );
        assert_eq!(group.skipped, 2, "the computer and the contact");
        assert_eq!(people.len(), 2);
        assert!(!people["CN=Bob,OU=Staff,DC=corp"].active);
        assert_eq!(people["CN=Ada,OU=Staff,DC=corp"].login.as_deref(), Some("ada"));
    }

    #[test]
    fn active_directory_names() {
        let e = Entry::new(
            "CN=Platform Eng,OU=Groups,DC=corp,DC=example".to_owned(),
            [("cn".to_owned(), vec!["Platform Eng".to_owned()])],
        );
        assert!(names_group(&e, "platform eng"));
        assert!(names_group(&e, "cn=platform eng, ou=groups, dc=corp, dc=example"));
        assert!(!names_group(&e, "platform"));
        assert_eq!(group_name(e.values("cn"), "PLATFORM ENG"), "Platform Eng");
    }
}
