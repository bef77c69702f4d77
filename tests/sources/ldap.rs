//! The ldap source reader against a real OpenLDAP server: each test starts its own
//! `slapd` on loopback ports, in a temporary directory with a generated configuration
//! (mdb, a size limit low enough that only paged searches see everyone), a CA and a
//! server certificate made with the `openssl` tool, and a generated directory of 1,200
//! people and 608 groups, nested three deep and in a cycle. `scripts/test` installs
//! slapd; without it these tests fail, saying so.
//!
//! Request counts are checked against the formula in `src/source/ldap/mod.rs`:
//! `1 + t + [groups] · p(G) + p(P)` with `p(n) = max(1, ⌈n/500⌉)`; here G = 608 groups
//! (2 pages) and P = 1,200 people (3 pages).

// The helpers below are test code too: a failed step should stop the test loudly.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rollcall::desired::Endpoint;
use rollcall::source::{registry, Query, Reach, Source, SourceConfig, SourceError};
use secrecy::SecretString;

const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";
const BASE: &str = "dc=example,dc=com";
const BIND_DN: &str = "cn=rollcall,ou=services,dc=example,dc=com";
const PASSWORD: &str = "correct-horse-battery";
const PEOPLE: usize = 1200;
const TEAMS: usize = 600;
/// The teams and eng, platform, sre, cycle-a, cycle-b, all-staff and `dup` twice.
const GROUPS: usize = TEAMS + 8;

/// Pages of a search matching `n` entries at 500 a page.
fn pages(n: usize) -> usize {
    n.div_ceil(500).max(1)
}

fn person_dn(i: usize) -> String {
    format!("uid=p{i:04},ou=people,{BASE}")
}

/// A running slapd, stopped (by its own pid) when dropped.
struct Slapd {
    child: Child,
    dir: tempfile::TempDir,
    ldap_port: u16,
    ldaps_port: u16,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Slapd {
    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn ldap_url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.ldap_port)
    }

    fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.ldaps_port)
    }

    /// Starts a server with the standard directory; `sizelimit` is slapd's line.
    fn start(sizelimit: &str) -> Slapd {
        assert!(
            Path::new(SLAPD).exists() && Path::new(SLAPADD).exists(),
            "OpenLDAP's slapd is not installed ({SLAPD}): run scripts/test, which installs the Debian packages \
             slapd and ldap-utils, or `apt-get install slapd ldap-utils`"
        );
        assert!(
            Command::new("openssl")
                .arg("version")
                .output()
                .is_ok_and(|o| o.status.success()),
            "the openssl tool, which makes the test certificates, is missing: run scripts/test, which installs it"
        );
        let mut dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        let d = d.as_path();
        make_certificates(d);
        std::fs::create_dir(d.join("db")).unwrap();
        let conf = d.join("slapd.conf");
        std::fs::write(&conf, config(d, sizelimit)).unwrap();
        std::fs::write(d.join("seed.ldif"), seed()).unwrap();
        run(Command::new(SLAPADD)
            .arg("-q")
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(d.join("seed.ldif")));

        // A port chosen free can be taken by a parallel test before slapd binds it, and slapd
        // started with `-d 0` exits without saying why: a start that ends early is tried again
        // on fresh ports.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let ldap_port = free_port();
            let ldaps_port = std::iter::repeat_with(free_port).find(|p| *p != ldap_port).unwrap();
            let log = std::fs::File::create(d.join("slapd.log")).unwrap();
            // `-d 0` keeps slapd in the foreground (its pid is ours to stop) without a log.
            let child = Command::new(SLAPD)
                .arg("-f")
                .arg(&conf)
                .arg("-h")
                .arg(format!("ldap://127.0.0.1:{ldap_port}/ ldaps://127.0.0.1:{ldaps_port}/"))
                .args(["-d", "0"])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            let mut server = Slapd {
                child,
                dir,
                ldap_port,
                ldaps_port,
            };
            match server.wait_ready() {
                Ok(()) => return server,
                Err(why) if attempts < 5 => {
                    eprintln!("slapd did not start ({why}); trying other ports");
                    dir = std::mem::replace(&mut server.dir, tempfile::tempdir().unwrap());
                }
                Err(why) => panic!("slapd did not start in {attempts} attempts: {why}"),
            }
        }
    }

    /// Waits until both ports answer; an early exit is returned with slapd's log.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let up = [self.ldap_port, self.ldaps_port]
                .iter()
                .all(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok());
            if up {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default();
                return Err(format!("slapd exited ({status}) before listening:\n{log}"));
            }
            assert!(Instant::now() < deadline, "slapd did not listen within 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn run(command: &mut Command) {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A CA and a server certificate for 127.0.0.1 and localhost that it signed.
fn make_certificates(d: &Path) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    run(Command::new("openssl")
        .current_dir(d)
        .args(["req", "-x509"])
        .args(ec)
        .args([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=rollcall test CA",
        ])
        .args([
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]));
    run(Command::new("openssl").current_dir(d).arg("req").args(ec).args([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]));
    std::fs::write(
        d.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(Command::new("openssl").current_dir(d).args([
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]));
}

/// slapd.conf: the schemas people and groups need, mdb, the password policy overlay
/// (for `pwdAccountLockedTime`), TLS, and read access to
/// everything but passwords for the bind account only.
fn config(d: &Path, sizelimit: &str) -> String {
    let d = d.display();
    format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
TLSCACertificateFile {d}/ca.pem
TLSCertificateFile {d}/server.pem
TLSCertificateKeyFile {d}/server.key
database mdb
suffix \"{BASE}\"
rootdn \"cn=admin,{BASE}\"
directory {d}/db
maxsize 268435456
{sizelimit}
overlay ppolicy
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact=\"{BIND_DN}\" read by * none
"
    )
}

/// The directory: 1,200 people; eng ⊃ platform (groupOfUniqueNames) ⊃ sre, whose members
/// include a service account and a DN outside the base; cycle-a ⇄ cycle-b; all-staff
/// with everyone; 600 small teams; `dup` twice.
fn seed() -> String {
    let mut s = format!(
        "dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n\
         dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{BASE}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: ou=legacy,{BASE}\nobjectClass: organizationalUnit\nou: legacy\n\n\
         dn: ou=services,{BASE}\nobjectClass: organizationalUnit\nou: services\n\n\
         dn: {BIND_DN}\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\ncn: rollcall\n\
         userPassword: {PASSWORD}\n\n\
         dn: cn=build-bot,ou=services,{BASE}\nobjectClass: applicationProcess\ncn: build-bot\n\n"
    );
    for i in 0..PEOPLE {
        let _ = write!(
            s,
            "dn: {}\nobjectClass: inetOrgPerson\nuid: p{i:04}\ncn: Person {i}\nsn: P{i}\n\
             mail: p{i:04}@example.com\ndepartmentNumber: dept-{}\ntitle: Engineer {}\nemployeeNumber: {}\n",
            person_dn(i),
            i % 7,
            i % 3,
            10_000 + i
        );
        if i % 2 == 0 {
            let _ = writeln!(s, "displayName: Display {i}");
        }
        if i == 3 {
            // Locked by the password policy overlay, for good.
            let _ = writeln!(s, "pwdAccountLockedTime: 000001010000Z");
        }
        s.push('\n');
    }
    let group = |s: &mut String, cn: &str, ou: &str, members: &[String]| {
        let _ = writeln!(s, "dn: cn={cn},ou={ou},{BASE}\nobjectClass: groupOfNames\ncn: {cn}");
        for m in members {
            let _ = writeln!(s, "member: {m}");
        }
        s.push('\n');
    };
    let g = |cn: &str| format!("cn={cn},ou=groups,{BASE}");
    let people = |range: std::ops::Range<usize>| range.map(person_dn).collect::<Vec<_>>();

    group(&mut s, "eng", "groups", &[people(0..5), vec![g("platform")]].concat());
    let _ = writeln!(
        s,
        "dn: {}\nobjectClass: groupOfUniqueNames\ncn: platform",
        g("platform")
    );
    for (n, m) in people(5..10).iter().enumerate() {
        // RFC 4517's optional unique identifier on one value.
        let uid = if n == 0 { "#'0101'B" } else { "" };
        let _ = writeln!(s, "uniqueMember: {m}{uid}");
    }
    let _ = writeln!(s, "uniqueMember: {}\n", g("sre"));
    let not_people = vec![
        format!("cn=build-bot,ou=services,{BASE}"),
        "uid=ghost,dc=other,dc=org".to_owned(),
    ];
    group(&mut s, "sre", "groups", &[people(10..13), not_people].concat());
    group(
        &mut s,
        "cycle-a",
        "groups",
        &[people(20..22), vec![g("cycle-b")]].concat(),
    );
    group(
        &mut s,
        "cycle-b",
        "groups",
        &[people(22..23), vec![g("cycle-a")]].concat(),
    );
    group(&mut s, "all-staff", "groups", &people(0..PEOPLE));
    group(&mut s, "dup", "groups", &people(30..31));
    group(&mut s, "dup", "legacy", &people(31..32));
    for t in 0..TEAMS {
        let members = [person_dn((2 * t) % PEOPLE), person_dn((2 * t + 1) % PEOPLE)];
        group(&mut s, &format!("team-{t:03}"), "groups", &members);
    }
    s
}

/// The standard server: a soft size limit of 100 (an unpaged search would stop there),
/// pages up to the hard limit of 500, no limit on a paged search's total.
fn standard() -> Slapd {
    Slapd::start("sizelimit size.soft=100 size.hard=500 size.prtotal=unlimited")
}

fn reader(url: &str, password: &str, extra: &[(&str, &str)]) -> Box<dyn Source> {
    let kind = registry::find("ldap").unwrap();
    let mut settings: std::collections::BTreeMap<String, String> = [("base_dn", BASE), ("bind_dn", BIND_DN)]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    settings.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let base = url::Url::parse(url).unwrap();
    let config = SourceConfig {
        name: "corp".to_owned(),
        kind,
        endpoint: Endpoint::Url(base.clone()),
        url: url.to_owned(),
        settings,
        secret: None,
    };
    let reach = Reach {
        base,
        sandboxed: false,
        secret: SecretString::from(password),
        parallelism: 4,
    };
    (kind.build)(&config, reach).unwrap()
}

fn groups(names: &[&str]) -> Query {
    Query {
        groups: names.iter().map(|n| (*n).to_owned()).collect(),
        everyone: false,
    }
}

fn dns(range: impl IntoIterator<Item = usize>) -> BTreeSet<String> {
    range.into_iter().map(person_dn).collect()
}

#[tokio::test]
async fn nested_three_deep_with_people_filled_and_the_minimum_of_requests() {
    let server = standard();
    let source = reader(&server.ldap_url(), PASSWORD, &[]);
    let snapshot = source.read(&groups(&["eng"])).await.unwrap();

    let eng = &snapshot.groups["eng"];
    assert_eq!(eng.id, format!("cn=eng,ou=groups,{BASE}"));
    assert_eq!(eng.name, "eng");
    assert_eq!(
        eng.members,
        dns((0..13).collect::<Vec<_>>()),
        "eng, platform (uniqueMember) and sre"
    );
    assert_eq!(eng.skipped, 2, "the service account and the DN outside the base");
    assert_eq!(snapshot.people.len(), 13);

    let p = &snapshot.people[&person_dn(4)];
    assert_eq!(p.id, person_dn(4));
    assert_eq!(p.login.as_deref(), Some("p0004"));
    assert_eq!(p.email.as_deref(), Some("p0004@example.com"));
    assert_eq!(p.display_name.as_deref(), Some("Display 4"));
    assert_eq!(p.department.as_deref(), Some("dept-4"));
    assert_eq!((p.status.as_str(), p.active), ("enabled", true));
    assert_eq!(p.attributes.get("title").map(String::as_str), Some("Engineer 1"));
    assert_eq!(p.attributes.get("employeeNumber").map(String::as_str), Some("10004"));
    assert_eq!(p.attributes.get("sn").map(String::as_str), Some("P4"));
    assert!(!p.attributes.contains_key("objectClass"));
    let locked = &snapshot.people[&person_dn(3)];
    assert_eq!(
        (locked.status.as_str(), locked.active),
        ("disabled", false),
        "ppolicy's lock"
    );
    let odd = &snapshot.people[&person_dn(5)];
    assert_eq!(
        odd.display_name.as_deref(),
        Some("Person 5"),
        "cn without a displayName"
    );

    // bind + every group (608: 2 pages) + every person (1,200: 3 pages).
    assert_eq!(source.requests(), 1 + pages(GROUPS) + pages(PEOPLE));
    assert_eq!(source.requests(), 6);
}

#[tokio::test]
async fn everyone_pages_past_the_size_limit() {
    let server = standard();
    let source = reader(&server.ldap_url(), PASSWORD, &[]);
    let snapshot = source
        .read(&Query {
            groups: BTreeSet::new(),
            everyone: true,
        })
        .await
        .unwrap();
    assert_eq!(
        snapshot.people.len(),
        PEOPLE,
        "every page, past the soft limit of 100 and a page of 500"
    );
    assert!(snapshot.people.contains_key(&person_dn(PEOPLE - 1)));
    assert!(snapshot.groups.is_empty());
    assert_eq!(source.requests(), 1 + pages(PEOPLE));
}

#[tokio::test]
async fn several_groups_a_cycle_a_dn_and_a_large_group_at_once() {
    let server = standard();
    let source = reader(&server.ldap_url(), PASSWORD, &[]);
    let all_staff = format!("CN=All-Staff, OU=Groups, {BASE}");
    let query = Query {
        everyone: true,
        ..groups(&["cycle-a", "CYCLE-B", "platform", "team-599", &all_staff])
    };
    let snapshot = source.read(&query).await.unwrap();

    assert_eq!(snapshot.groups["cycle-a"].members, dns([20, 21, 22]));
    assert_eq!(snapshot.groups["CYCLE-B"].members, dns([20, 21, 22]));
    assert_eq!(snapshot.groups["CYCLE-B"].name, "cycle-b");
    assert_eq!(snapshot.groups["platform"].members, dns((5..13).collect::<Vec<_>>()));
    assert_eq!(snapshot.groups["platform"].skipped, 2);
    assert_eq!(snapshot.groups["team-599"].members, dns([1198, 1199]));
    assert_eq!(snapshot.groups[&all_staff].members.len(), PEOPLE);
    assert_eq!(snapshot.groups[&all_staff].id, format!("cn=all-staff,ou=groups,{BASE}"));
    assert_eq!(snapshot.people.len(), PEOPLE);
    // The same two searches, however many groups are named.
    assert_eq!(source.requests(), 1 + pages(GROUPS) + pages(PEOPLE));
}

#[tokio::test]
async fn a_group_that_does_not_exist_is_an_error_not_an_empty_group() {
    let server = standard();
    let source = reader(&server.ldap_url(), PASSWORD, &[]);
    let err = source.read(&groups(&["eng", "nobody"])).await.unwrap_err();
    assert!(
        matches!(&err, SourceError::NotFound { group, .. } if group == "nobody"),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("corp: no group `nobody`"), "{err}");
    // Stopped before reading people.
    assert_eq!(source.requests(), 1 + pages(GROUPS));

    let outside = source
        .read(&groups(&["cn=eng,ou=groups,dc=other,dc=org"]))
        .await
        .unwrap_err();
    assert!(outside.to_string().contains("not under base_dn"), "{outside}");

    let dup = source.read(&groups(&["dup"])).await.unwrap_err();
    assert!(matches!(dup, SourceError::Ambiguous { count: 2, .. }), "{dup:?}");
    let by_dn = source
        .read(&groups(&[&format!("cn=dup,ou=legacy,{BASE}")]))
        .await
        .unwrap();
    assert_eq!(by_dn.groups.values().next().unwrap().members, dns([31]));
}

#[tokio::test]
async fn a_base_dn_that_does_not_exist_is_the_servers_error() {
    let server = standard();
    let source = reader(&server.ldap_url(), PASSWORD, &[("base_dn", "dc=nowhere,dc=com")]);
    let err = source.read(&groups(&["eng"])).await.unwrap_err();
    assert!(err.to_string().contains("32 noSuchObject"), "{err}");
}

#[tokio::test]
async fn a_wrong_password_names_the_source_and_result_49_and_never_the_password() {
    let server = standard();
    let wrong = "wrong-password-42";
    let source = reader(&server.ldap_url(), wrong, &[]);
    let err = source.read(&groups(&["eng"])).await.unwrap_err();
    let shown = err.to_string();
    assert!(shown.starts_with("corp: "), "{shown}");
    assert!(shown.contains("49 invalidCredentials"), "{shown}");
    assert!(shown.contains(BIND_DN), "{shown}");
    assert!(!shown.contains(wrong) && !format!("{err:?}").contains(wrong), "{shown}");
    assert_eq!(source.requests(), 1, "the bind only");
}

#[tokio::test]
async fn a_server_that_is_down_is_an_error_never_an_empty_result() {
    let mut server = standard();
    let url = server.ldap_url();
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let source = reader(&url, PASSWORD, &[]);
    let err = source
        .read(&Query {
            groups: BTreeSet::new(),
            everyone: true,
        })
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("corp: cannot connect to ldap://127.0.0.1:"),
        "{err}"
    );
}

#[tokio::test]
async fn ldaps_and_starttls_verify_the_server_against_the_ca_file() {
    let server = standard();
    let ca = server.ca().display().to_string();

    let ldaps = reader(&server.ldaps_url(), PASSWORD, &[("ca_file", &ca)]);
    let snapshot = ldaps.read(&groups(&["sre"])).await.unwrap();
    assert_eq!(snapshot.groups["sre"].members, dns([10, 11, 12]));
    assert_eq!(ldaps.requests(), 1 + pages(GROUPS) + pages(PEOPLE));

    let starttls = reader(&server.ldap_url(), PASSWORD, &[("ca_file", &ca), ("starttls", "true")]);
    let snapshot = starttls.read(&groups(&["sre"])).await.unwrap();
    assert_eq!(snapshot.groups["sre"].members, dns([10, 11, 12]));
    assert_eq!(
        starttls.requests(),
        1 + 1 + pages(GROUPS) + pages(PEOPLE),
        "StartTLS is one request more"
    );

    // Without the CA the certificate is not trusted: no bind, no password sent.
    let untrusted = reader(&server.ldaps_url(), PASSWORD, &[]);
    let err = untrusted.read(&groups(&["sre"])).await.unwrap_err();
    assert!(err.to_string().contains("cannot connect"), "{err}");
    assert!(!err.to_string().contains(PASSWORD));
    let untrusted = reader(&server.ldap_url(), PASSWORD, &[("starttls", "true")]);
    assert!(untrusted.read(&groups(&["sre"])).await.is_err());
}

#[tokio::test]
async fn the_servers_limit_on_a_paged_total_is_an_error_never_a_partial_list() {
    // OpenLDAP's own limit: at most 1,000 entries however they are paged. The third page
    // of people answers sizeLimitExceeded.
    let server = Slapd::start("sizelimit size.soft=100 size.hard=500 size.prtotal=1000");
    let source = reader(&server.ldap_url(), PASSWORD, &[]);
    let err = source
        .read(&Query {
            groups: BTreeSet::new(),
            everyone: true,
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("4 sizeLimitExceeded"), "{err}");
    assert_eq!(source.requests(), 1 + 3);
}

/// The LDAP source through the whole pipeline, as `rollcall` runs it over LDAPS: a
/// group that follows `eng` (nested three deep) feeds a Bitbucket Data Center sandbox,
/// with the attribute map; a username rule that collides is reported at the source;
/// the server down fails the plan.
#[test]
fn the_pipeline_follows_an_ldap_group_over_ldaps() {
    let server = standard();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("password"), PASSWORD).unwrap();
    std::fs::write(
        dir.join("bb.yaml"),
        "operator: admin\nusers:\n  admin: { display_name: Admin, email: admin@example.net }\nglobal:\n  users:\n    admin: SYS_ADMIN\n",
    )
    .unwrap();
    std::fs::create_dir(dir.join("m")).unwrap();
    let (url, ca) = (server.ldaps_url(), server.ca());
    let manifest = |username: &str| {
        format!(
            "sources:\n  corp:\n    kind: ldap\n    url: {}\n    base_dn: \"{BASE}\"\n    ca_file: {}\n    auth: {{ bind_dn: \"{BIND_DN}\", password: \"${{file:../password}}\" }}\n    people:\n      groups: []\n      map: {{ name: title }}\n      username: {username}\n\
             targets:\n  bb:\n    kind: bitbucket-datacenter\n    url: sandbox:../bb.yaml\n    notify_new_users: false\n\
             groups:\n  team:\n    members_from: [corp:eng]\n",
            url,
            ca.display()
        )
    };
    let m = dir.join("m");
    std::fs::write(m.join("manifest.yaml"), manifest("login")).unwrap();
    let (code, out, err) = crate::common::run_in(&m, &["plan", "--json", "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let changes = plan["changes"].as_array().unwrap();
    let members: BTreeSet<&str> = changes
        .iter()
        .filter(|c| c["resource"]["type"] == "membership")
        .map(|c| c["resource"]["user"].as_str().unwrap())
        .collect();
    // eng, platform and sre: p0000 to p0012, but p0003, locked.
    let expected: BTreeSet<String> = (0..13).filter(|i| *i != 3).map(|i| format!("p{i:04}")).collect();
    assert_eq!(members, expected.iter().map(String::as_str).collect::<BTreeSet<_>>());
    let p4 = changes
        .iter()
        .find(|c| c["resource"]["type"] == "user" && c["resource"]["name"] == "p0004")
        .unwrap();
    assert_eq!(p4["after"]["display_name"], "Engineer 1");
    assert!(
        p4["reason"].as_str().unwrap().starts_with("from corp (uid=p0004,"),
        "{p4}"
    );
    assert!(
        err.contains("source corp: 13 people (1 inactive) in 6 requests"),
        "{err}"
    );

    std::fs::write(m.join("manifest.yaml"), manifest("\"attribute:departmentNumber\"")).unwrap();
    let (code, _, err) = crate::common::run_in(&m, &["plan"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("would both be named `dept-"), "{err}");

    drop(server);
    let (code, _, err) = crate::common::run_in(&m, &["plan"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot read the identity sources"), "{err}");
    assert!(!err.contains(PASSWORD), "{err}");
}
