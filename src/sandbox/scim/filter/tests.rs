//! The filter grammar and its evaluation, on the User schema of the `rfc` profile.

use super::*;
use crate::sandbox::scim::profile::RFC;
use crate::sandbox::scim::schema::{user_attrs, Scope};
use serde_json::json;

fn users() -> Scope {
    Scope::resource(user_attrs(&RFC))
}

#[test]
fn parses_and_evaluates() {
    let user = json!({"userName": "Alice", "emails": [{"value": "a@x.io", "type": "work"}], "active": true,
                      "meta": {"created": "2020-01-01T00:00:00Z"}});
    let yes = [
        r#"userName eq "alice""#,
        r#"USERNAME Eq "ALICE""#,
        r#"userName sw "Al" and active eq true"#,
        r#"emails[type eq "work" and value co "@x"]"#,
        r#"emails.value ew ".io""#,
        r#"not (userName eq "bob")"#,
        r#"(userName eq "bob") or emails pr"#,
        "urn:ietf:params:scim:schemas:core:2.0:User:userName pr",
        r#"meta.created gt "2019-01-01T00:00:00Z""#,
        r#"title ne "x""#,
    ];
    for text in yes {
        let filter = parse_filter(text).unwrap();
        filter.check(users()).unwrap();
        assert!(filter.matches(&user, users()), "{text}");
    }
    for text in [r#"userName eq "bob""#, "title pr", r#"emails[type eq "home"]"#] {
        assert!(!parse_filter(text).unwrap().matches(&user, users()), "{text}");
    }
    for text in [
        "",
        "userName",
        r#"userName eq"#,
        r#"userName xx "a""#,
        r#"(userName eq "a""#,
        "1abc pr",
    ] {
        assert!(parse_filter(text).is_err(), "{text}");
    }
}

/// RFC 7644 §3.4.2.2: a comparison needs a sub-attribute of a complex attribute, and a
/// boolean has no order; presence and equality remain.
#[test]
fn refuses_what_the_schema_forbids() {
    for text in [
        r#"emails eq "a@x.io""#,
        r#"name eq "x""#,
        r#"meta ne "x""#,
        r#"emails[type eq "work"] eq "x""#,
        "active gt true",
        "active le false",
        "emails[primary ge true]",
        r#"userName[value eq "x"]"#,
        r#"userName eq "a" and not (name co "x")"#,
    ] {
        assert!(parse_filter(text).unwrap().check(users()).is_err(), "{text}");
    }
    for text in [
        "emails pr",
        "name pr",
        "active eq true",
        r#"emails.value eq "x""#,
        r#"emails[type eq "work"]"#,
        r#"meta.lastModified gt "2026-01-01T00:00:00Z""#,
        r#"title gt "x""#,
    ] {
        parse_filter(text).unwrap().check(users()).unwrap();
    }
}

/// Case-exactness is the schema's, per attribute path, not the leaf's name.
#[test]
fn case_follows_the_schema() {
    let user = json!({"id": "AbC", "userName": "Alice", "externalId": "Ext",
                      "emails": [{"value": "A@X.io", "type": "Work"}],
                      "meta": {"resourceType": "User", "version": "W/\"1\""}});
    for text in [
        r#"userName eq "alice""#,
        r#"emails.value eq "a@x.IO""#,
        r#"emails[value eq "a@x.io"]"#,
        r#"emails[type eq "work"]"#,
        r#"id eq "AbC""#,
        r#"externalId eq "Ext""#,
        r#"meta.resourceType eq "User""#,
    ] {
        assert!(parse_filter(text).unwrap().matches(&user, users()), "{text}");
    }
    for text in [
        r#"id eq "abc""#,
        r#"externalId eq "ext""#,
        r#"meta.resourceType eq "user""#,
        r#"meta.version eq "w/\"1\"""#,
    ] {
        assert!(!parse_filter(text).unwrap().matches(&user, users()), "{text}");
    }
    let groups = Scope::resource(crate::sandbox::scim::schema::group_attrs(&RFC));
    let group = json!({"displayName": "Devs", "members": [{"value": "AbC"}]});
    assert!(parse_filter(r#"displayName eq "devs""#)
        .unwrap()
        .matches(&group, groups));
    assert!(parse_filter(r#"members[value eq "AbC"]"#)
        .unwrap()
        .matches(&group, groups));
    assert!(!parse_filter(r#"members[value eq "abc"]"#)
        .unwrap()
        .matches(&group, groups));
}

#[test]
fn parses_patch_paths() {
    let path = parse_path(r#"members[value eq "2819c223"]"#).unwrap();
    assert_eq!(path.attr, "members");
    assert!(path.filter.is_some());
    let path = parse_path(r#"emails[type eq "work"].value"#).unwrap();
    assert_eq!(path.sub.as_deref(), Some("value"));
    assert_eq!(parse_path("name.givenName").unwrap().sub.as_deref(), Some("givenName"));
    assert!(parse_path("members[").is_err());
}
