//! The sourcing path without a server: manifests with sources, a snapshot given by
//! hand, and what `select`, `inject_sourced` and `resolve` make of it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::select::select;
use super::{Group, Person, Snapshot};
use crate::model::{Address, ResourceId};

const MANIFEST: &str = r#"
sources:
  okta:
    kind: okta
    url: https://acme.okta.com
    auth: { token: "${env:OKTA_TOKEN}" }
    people:
      groups: [engineering]
      filter: { domain: [example.com] }
targets:
  bb:
    kind: bitbucket-datacenter
    url: sandbox:bb.yaml
users:
  alice:
    ids: { bb: aliddell }
  zed:
    name: Zed Hand
    email: zed@example.com
groups:
  backend:
    members_from: [okta:eng-backend]
    members: [zed]
"#;

fn person(id: &str, email: &str, status: &str) -> Person {
    Person {
        id: id.to_owned(),
        login: Some(email.to_owned()),
        email: Some(email.to_owned()),
        display_name: Some(format!("Person {id}")),
        department: Some("Engineering".to_owned()),
        status: status.to_owned(),
        active: status == "ACTIVE",
        attributes: BTreeMap::new(),
    }
}

fn snapshot() -> Snapshot {
    let people = [
        person("00u1", "alice@example.com", "ACTIVE"),
        person("00u2", "bob@example.com", "ACTIVE"),
        person("00u3", "carol@example.com", "SUSPENDED"),
        person("00u4", "dave@elsewhere.org", "ACTIVE"),
    ];
    let group = |name: &str, members: &[&str]| Group {
        id: format!("00g{name}"),
        name: name.to_owned(),
        members: members.iter().map(|m| (*m).to_owned()).collect(),
        skipped: 0,
    };
    Snapshot {
        people: people.into_iter().map(|p| (p.id.clone(), p)).collect(),
        groups: [
            (
                "engineering".to_owned(),
                group("engineering", &["00u1", "00u2", "00u3", "00u4"]),
            ),
            (
                "eng-backend".to_owned(),
                group("eng-backend", &["00u1", "00u3", "00u4"]),
            ),
        ]
        .into_iter()
        .collect(),
    }
}

fn resolved(snapshot: Snapshot) -> crate::desired::Desired {
    let (mut loaded, problems) =
        crate::manifest::load_texts(Path::new("m"), &[("m.yaml".to_owned(), MANIFEST.to_owned())]);
    assert!(problems.is_empty(), "{problems:?}");
    let first = crate::resolve::resolve(&loaded).unwrap();
    let sourcing = first.sourcing.clone().unwrap();
    let query = sourcing.query("okta");
    assert_eq!(
        query.groups,
        BTreeSet::from(["engineering".to_owned(), "eng-backend".to_owned()])
    );
    assert!(!query.everyone);
    let answers = BTreeMap::from([("okta".to_owned(), snapshot)]);
    let sourced = select(&sourcing, &answers).unwrap();
    crate::resolve::inject_sourced(&mut loaded, &sourcing, sourced);
    crate::resolve::resolve(&loaded).unwrap()
}

fn has(d: &crate::desired::Desired, id: ResourceId) -> bool {
    d.resources.contains_key(&Address::new("bb", id))
}

fn user(name: &str) -> ResourceId {
    ResourceId::User { name: name.into() }
}

fn member(user: &str) -> ResourceId {
    ResourceId::Membership {
        group: "backend".into(),
        user: user.into(),
    }
}

#[test]
fn sourced_people_and_members_merge_with_the_declared_ones() {
    let d = resolved(snapshot());
    // alice: declared in part (an id), completed by the source.
    assert!(has(&d, user("aliddell")));
    assert!(has(&d, member("aliddell")));
    // bob: from the source alone; not in eng-backend.
    assert!(has(&d, user("bob")));
    assert!(!has(&d, member("bob")));
    // carol: suspended in the source, so offboarded: no account made, no membership.
    assert!(!has(&d, user("carol")));
    assert!(d.offboarded.get("bb").is_some_and(|o| o.contains("carol")));
    // dave: another domain, filtered out, though in eng-backend.
    assert!(!has(&d, user("dave")));
    assert!(!has(&d, member("dave")));
    // zed: declared by hand, an explicit member besides the source's.
    assert!(has(&d, member("zed")));
    // Where each sourced object comes from.
    assert_eq!(
        d.provenance
            .get(&Address::new("bb", member("aliddell")))
            .map(String::as_str),
        Some("in okta:eng-backend")
    );
    assert_eq!(
        d.provenance.get(&Address::new("bb", user("bob"))).map(String::as_str),
        Some("from okta (00u2)")
    );
    assert!(!d.provenance.contains_key(&Address::new("bb", member("zed"))));
    assert_eq!(d.followed.get("backend"), Some(&vec!["okta:eng-backend".to_owned()]));
}

#[test]
fn a_declared_field_overrides_the_sources() {
    let (mut loaded, _) = crate::manifest::load_texts(
        Path::new("m"),
        &[(
            "m.yaml".to_owned(),
            MANIFEST.replace(
                "    ids: { bb: aliddell }",
                "    ids: { bb: aliddell }\n    name: Alice By Hand",
            ),
        )],
    );
    let first = crate::resolve::resolve(&loaded).unwrap();
    let sourcing = first.sourcing.clone().unwrap();
    let sourced = select(&sourcing, &BTreeMap::from([("okta".to_owned(), snapshot())])).unwrap();
    crate::resolve::inject_sourced(&mut loaded, &sourcing, sourced);
    let d = crate::resolve::resolve(&loaded).unwrap();
    match d.resources.get(&Address::new("bb", user("aliddell"))) {
        Some(crate::model::Resource::User(u)) => {
            assert_eq!(u.display_name, "Alice By Hand");
            assert_eq!(u.email, "alice@example.com");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn two_people_given_one_name_are_reported() {
    let mut s = snapshot();
    let twin = person("00u9", "alice@other.example.com", "ACTIVE");
    s.people.insert(twin.id.clone(), twin);
    if let Some(g) = s.groups.get_mut("engineering") {
        g.members.insert("00u9".to_owned());
    }
    let (loaded, _) = crate::manifest::load_texts(
        Path::new("m"),
        &[(
            "m.yaml".to_owned(),
            MANIFEST.replace("filter: { domain: [example.com] }", "filter: {}"),
        )],
    );
    let sourcing = crate::resolve::resolve(&loaded).unwrap().sourcing.unwrap();
    let problems = select(&sourcing, &BTreeMap::from([("okta".to_owned(), s)])).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].message.contains("would both be named `alice`"),
        "{}",
        problems[0].message
    );
}

#[test]
fn the_fingerprints_name_who_changed() {
    let (loaded, _) = crate::manifest::load_texts(Path::new("m"), &[("m.yaml".to_owned(), MANIFEST.to_owned())]);
    let sourcing = crate::resolve::resolve(&loaded).unwrap().sourcing.unwrap();
    let before = select(&sourcing, &BTreeMap::from([("okta".to_owned(), snapshot())])).unwrap();
    let mut s = snapshot();
    if let Some(g) = s.groups.get_mut("eng-backend") {
        g.members.insert("00u2".to_owned()); // bob joins eng-backend
    }
    let after = select(&sourcing, &BTreeMap::from([("okta".to_owned(), s)])).unwrap();
    assert_ne!(before.digest(), after.digest());
    let fb = before.fingerprints();
    let fa = after.fingerprints();
    let changed: Vec<&String> = fa
        .iter()
        .filter(|(k, v)| fb.get(*k) != Some(*v))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(changed, vec!["bob"]);
    assert_eq!(after.counts.get("okta:eng-backend"), Some(&3)); // alice, bob, carol
}

#[test]
fn every_setting_a_kind_takes_can_be_written_in_a_manifest() {
    let raw: crate::manifest::raw::RawSource = serde_saphyr::from_str("kind: okta\nurl: x\n").unwrap();
    let writable: BTreeSet<&str> = raw
        .text_settings()
        .iter()
        .map(|(name, _)| *name)
        .chain(["starttls"])
        .collect();
    for kind in super::registry::KINDS {
        for setting in kind.settings {
            assert!(writable.contains(setting.name), "{}: `{}`", kind.kind, setting.name);
        }
        assert!(
            ["token", "client_secret", "key", "password"].contains(&kind.secret.0),
            "{}",
            kind.kind
        );
    }
}

/// The problems `resolve` reports for one source declaration.
fn source_problems(source: &str) -> Vec<String> {
    let text = format!(
        "sources:\n  idp:\n{source}targets:\n  bb:\n    kind: bitbucket-datacenter\n    url: sandbox:bb.yaml\n"
    );
    let (loaded, problems) = crate::manifest::load_texts(Path::new("m"), &[("m.yaml".to_owned(), text)]);
    assert!(problems.is_empty(), "{problems:?}");
    match crate::resolve::resolve(&loaded) {
        Ok(_) => Vec::new(),
        Err(problems) => problems.into_iter().map(|p| p.message).collect(),
    }
}

#[test]
fn a_source_is_checked_against_its_kind() {
    let ldap = |url: &str, extra: &str| {
        source_problems(&format!(
            "    kind: ldap\n    url: {url}\n    base_dn: dc=x\n{extra}    auth: {{ bind_dn: cn=r, password: \"${{env:P}}\" }}\n"
        ))
    };
    assert!(ldap("ldaps://ldap.example.com", "").is_empty());
    assert!(ldap("ldap://ldap.example.com", "    starttls: true\n").is_empty());
    assert!(ldap("ldap://127.0.0.1:3389", "").is_empty());
    let clear = ldap("ldap://ldap.example.com", "");
    assert_eq!(clear.len(), 1, "{clear:?}");
    assert!(
        clear[0].contains("`ldap://…`, which a ldap source does not take here"),
        "{clear:?}"
    );

    let okta = |url: &str, rest: &str| source_problems(&format!("    kind: okta\n    url: {url}\n{rest}"));
    let token = "    auth: { token: \"${env:OKTA_TOKEN}\" }\n";
    assert!(okta("https://acme.okta.com", token).is_empty());
    assert!(okta("http://localhost:8080", token).is_empty());
    assert_eq!(okta("http://acme.okta.com", token).len(), 1);
    assert_eq!(okta("https://acme.okta.com", "").len(), 1, "no token");
    let wrong = okta("https://acme.okta.com", "    auth: { password: \"${env:X}\" }\n");
    assert!(
        wrong
            .iter()
            .any(|m| m.contains("whose credential is `auth.token`, not `auth.password`")),
        "{wrong:?}"
    );
    let setting = okta("https://acme.okta.com", &format!("    base_dn: dc=x\n{token}"));
    assert!(
        setting.iter().any(|m| m.contains("which has no `base_dn`")),
        "{setting:?}"
    );
    let literal = okta("https://acme.okta.com", "    auth: { token: 00abcdef }\n");
    assert!(literal.iter().any(|m| m.contains("must be a reference")), "{literal:?}");

    let entra = source_problems(
        "    kind: entra-id\n    url: https://graph.microsoft.com\n    auth: { client_secret: \"${env:S}\" }\n",
    );
    assert!(entra.iter().any(|m| m.contains("without `tenant`")), "{entra:?}");
    assert!(entra.iter().any(|m| m.contains("without `client_id`")), "{entra:?}");
}
