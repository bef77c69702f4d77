//! The HTML access review in a real browser: a known report rendered, opened from disk in
//! headless Chromium, and read back through the DOM as an auditor would use it (the
//! matrix, a cell's reasons, the filters, a linked view, hostile names), then a
//! screenshot written to `target/access-report.png`.

use crate::common::webdriver::Browser;

use rollcall::access::{html, Entry, Reason, Report};
use serde_json::{json, Value};

/// A name a server could send: markup in it must stay text.
const MALLORY: &str = "mallory<script>window.__pwned=1</script>";
/// A group name that tries to break out of an attribute.
const SNEAKY_GROUP: &str = "\"><img src=x onerror=window.__pwned=2>";

fn reason(grant: &str, via: Option<&str>) -> Reason {
    Reason {
        grant: grant.into(),
        via: via.map(Into::into),
    }
}

fn entry(person: &str, target: &str, resource: &str, noun: &str, level: &str, reasons: Vec<Reason>) -> Entry {
    Entry {
        person: person.into(),
        account: None,
        email: Some(format!("{}@example.com", person.split('<').next().unwrap_or(person))),
        target: target.into(),
        resource: resource.into(),
        noun: noun.into(),
        level: level.into(),
        reasons,
    }
}

/// Six people on a Bitbucket and a Buildkite: grants through groups, a default for all
/// users, a direct grant, an administrator, team memberships and a hostile name.
fn report() -> Report {
    let bb = "bitbucket";
    let bk = "buildkite";
    let plat_default = || reason("all users: PROJECT_READ on project PLAT", None);
    let mut entries = vec![
        entry(
            "alice",
            bb,
            "API",
            "project",
            "write",
            vec![reason("PROJECT_WRITE on project API", Some("developers"))],
        ),
        entry(
            "alice",
            bb,
            "API/payments",
            "repository",
            "write",
            vec![reason("PROJECT_WRITE on project API", Some("developers"))],
        ),
        entry("alice", bb, "PLAT", "project", "read", vec![plat_default()]),
        entry(
            "alice",
            bk,
            "backend",
            "team",
            "member",
            vec![reason("member of team backend", None)],
        ),
        entry(
            "bob",
            bb,
            "API",
            "project",
            "write",
            vec![reason("PROJECT_WRITE on project API", Some("developers"))],
        ),
        entry(
            "bob",
            bb,
            "API/payments",
            "repository",
            "write",
            vec![reason("PROJECT_WRITE on project API", Some("developers"))],
        ),
        entry("bob", bb, "PLAT", "project", "read", vec![plat_default()]),
        entry(
            "bob",
            bk,
            "frontend",
            "team",
            "member",
            vec![reason("member of team frontend", None)],
        ),
        entry(
            "carol",
            bb,
            "API",
            "project",
            "read",
            vec![reason("PROJECT_READ on project API", Some("auditors"))],
        ),
        entry(
            "carol",
            bb,
            "API/payments",
            "repository",
            "read",
            vec![reason("PROJECT_READ on project API", Some("auditors"))],
        ),
        entry("carol", bb, "PLAT", "project", "read", vec![plat_default()]),
        entry(
            "dave",
            bb,
            "PLAT",
            "project",
            "write",
            vec![reason("PROJECT_WRITE on project PLAT", None), plat_default()],
        ),
        entry(
            "dave",
            bk,
            "backend",
            "team",
            "member",
            vec![reason("member of team backend", None)],
        ),
        entry(
            "erin",
            bb,
            "API",
            "project",
            "admin",
            vec![reason("PROJECT_ADMIN on project API", Some("release-managers"))],
        ),
        entry(
            "erin",
            bb,
            "API/payments",
            "repository",
            "admin",
            vec![
                reason("REPO_ADMIN on repository API/payments", Some("release-managers")),
                reason("PROJECT_WRITE on project API", Some("developers")),
            ],
        ),
        entry("erin", bb, "PLAT", "project", "read", vec![plat_default()]),
        entry(
            "erin",
            bb,
            "global",
            "instance",
            "admin",
            vec![reason("ADMIN (global)", None)],
        ),
        entry(
            "erin",
            bk,
            "account",
            "organization",
            "admin",
            vec![reason("organization administrator", None)],
        ),
        entry(
            MALLORY,
            bb,
            "PLAT",
            "project",
            "read",
            vec![reason("PROJECT_READ on project PLAT", Some(SNEAKY_GROUP))],
        ),
    ];
    entries.sort();
    Report {
        from: "manifest".into(),
        manifest_digest: "sha256:9f2c4e1a7b3d5f60c8e2a4b6d8f0e1c3a5b7d9f1e3c5a7b9d1f3e5c7a9b1d3f5".into(),
        generated_at: "2025-03-14T09:26:53Z".into(),
        filters: vec![],
        entries,
    }
}

/// The page's state as the test reads it: visible people, visible columns, the count.
const VIEW: &str = r#"
    const visible = (el) => !el.hidden && el.offsetParent !== null;
    const rows = [...document.querySelectorAll('#matrix tbody tr[data-who]')].filter(visible);
    return {
        people: rows.map((r) => r.querySelector('.name').textContent),
        columns: [...document.querySelectorAll('#matrix tr.res th')].filter(visible).map((h) => h.dataset.col),
        shown: document.getElementById('shown').textContent,
        hash: location.hash,
        list: [...document.querySelectorAll('#list tbody tr')].filter(visible).length,
    };
"#;

/// A cell's level, class, tooltip and whether it shows, by person and column.
const CELL: &str = r#"
    const [person, col] = arguments;
    const heads = [...document.querySelectorAll('#matrix tr.res th')];
    const i = heads.findIndex((h) => h.dataset.col === col);
    const row = [...document.querySelectorAll('#matrix tbody tr[data-who]')]
        .find((r) => r.querySelector('.name').textContent === person);
    const cell = row.cells[i + 1];
    const pill = cell.querySelector('.pill');
    return {
        level: pill ? pill.textContent : '',
        class: cell.className,
        title: cell.title,
        shown: !!pill && getComputedStyle(pill).visibility === 'visible' && !cell.hidden && !row.hidden,
    };
"#;

const CELL_ELEMENT: &str = r#"
    const [person, col] = arguments;
    const heads = [...document.querySelectorAll('#matrix tr.res th')];
    const i = heads.findIndex((h) => h.dataset.col === col);
    const row = [...document.querySelectorAll('#matrix tbody tr[data-who]')]
        .find((r) => r.querySelector('.name').textContent === person);
    return row.cells[i + 1];
"#;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

const ALL_PEOPLE: [&str; 6] = ["alice", "bob", "carol", "dave", "erin", MALLORY];
const ALL_COLUMNS: [&str; 7] = [
    "bitbucket:API",
    "bitbucket:API/payments",
    "bitbucket:PLAT",
    "bitbucket:global",
    "buildkite:account",
    "buildkite:backend",
    "buildkite:frontend",
];

#[tokio::test]
async fn the_access_review_works_in_a_real_browser() {
    let report = report();
    let page = html::render(&report);
    assert_eq!(page, html::render(&report), "the same report renders to the same bytes");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.html");
    std::fs::write(&file, &page).unwrap();
    let url = format!("file://{}", file.display());

    let browser = Browser::start(1440, 1000).await;
    browser.goto(&url).await;

    // The script ran (the filters only appear with it), and nothing else did.
    let safe = browser
        .run(
            "return { pwned: window.__pwned === undefined ? null : window.__pwned, \
             scripts: document.scripts.length, images: document.images.length, \
             filters: !document.getElementById('filters').hidden, title: document.title };",
            json!([]),
        )
        .await;
    assert_eq!(safe["pwned"], Value::Null, "a name's markup ran as script");
    assert_eq!(safe["scripts"], 1, "only the page's own script");
    assert_eq!(safe["images"], 0, "a group's markup became an element");
    assert_eq!(
        safe["filters"],
        true,
        "the page's script did not run:\n{}",
        browser.log()
    );
    assert_eq!(safe["title"], "rollcall access review · 2025-03-14T09:26:53Z");

    // The header says what the review answers from.
    let header = browser
        .run("return document.querySelector('header').innerText;", json!([]))
        .await;
    let header = header.as_str().unwrap();
    for part in [
        "rollcall access review",
        "manifest",
        &report.manifest_digest,
        "2025-03-14T09:26:53Z",
        "none",
    ] {
        assert!(header.contains(part), "{part:?} not in the header:\n{header}");
    }

    // The matrix: every person a row, every resource a column grouped by target.
    let view = browser.run(VIEW, json!([])).await;
    assert_eq!(strings(&view["people"]), ALL_PEOPLE);
    assert_eq!(strings(&view["columns"]), ALL_COLUMNS);
    assert_eq!(view["shown"], "6 people × 7 resources shown");
    assert_eq!(view["list"], 19, "every entry in the list");
    let groups = browser
        .run(
            "return [...document.querySelectorAll('#matrix tr.tgt th[data-target]')]\
             .map((g) => g.textContent + ' ' + g.colSpan);",
            json!([]),
        )
        .await;
    assert_eq!(strings(&groups), ["bitbucket 4", "buildkite 3"]);
    let nouns = browser
        .run(
            "return [...document.querySelectorAll('#matrix tr.res .noun')].map((n) => n.textContent);",
            json!([]),
        )
        .await;
    assert_eq!(
        strings(&nouns),
        [
            "project",
            "repository",
            "project",
            "instance",
            "organization",
            "team",
            "team"
        ]
    );

    // Cells: the level, colour-coded, and the reasons on hover.
    let erin = browser.run(CELL, json!(["erin", "bitbucket:API/payments"])).await;
    assert_eq!(erin["level"], "admin");
    assert_eq!(erin["class"], "lvl-admin");
    let title = erin["title"].as_str().unwrap();
    assert!(
        title.contains("REPO_ADMIN on repository API/payments, via release-managers"),
        "{title}"
    );
    assert!(
        title.contains("PROJECT_WRITE on project API, via developers"),
        "{title}"
    );
    let carol = browser.run(CELL, json!(["carol", "bitbucket:PLAT"])).await;
    assert_eq!(
        (carol["level"].as_str(), carol["class"].as_str()),
        (Some("read"), Some("lvl-read"))
    );
    let dave = browser.run(CELL, json!(["dave", "buildkite:backend"])).await;
    assert_eq!(
        (dave["level"].as_str(), dave["class"].as_str()),
        (Some("member"), Some("lvl-member"))
    );
    let none = browser.run(CELL, json!(["carol", "bitbucket:global"])).await;
    assert_eq!(none["level"], "", "no access, an empty cell");

    // Selecting a cell shows its reasons in the panel.
    let cell = browser
        .element_of(CELL_ELEMENT, json!(["erin", "bitbucket:API/payments"]))
        .await;
    browser.click(&cell).await;
    let panel = browser
        .run("return document.getElementById('details').innerText;", json!([]))
        .await;
    let panel = panel.as_str().unwrap();
    for part in [
        "erin",
        "bitbucket:API/payments (repository)",
        "admin",
        "via release-managers",
    ] {
        assert!(panel.contains(part), "{part:?} not in the details panel:\n{panel}");
    }

    // Hostile names are text.
    let mallory = browser.run(CELL, json!([MALLORY, "bitbucket:PLAT"])).await;
    assert!(mallory["title"].as_str().unwrap().contains(SNEAKY_GROUP));
    let listed = browser
        .run("return document.getElementById('list').innerText;", json!([]))
        .await;
    assert!(listed.as_str().unwrap().contains(MALLORY) && listed.as_str().unwrap().contains(SNEAKY_GROUP));

    // The screenshot: the whole matrix, erin's cell selected.
    let png = browser.screenshot().await;
    assert_valid_png(&png);
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    std::fs::create_dir_all(&target).unwrap();
    let shot = target.join("access-report.png");
    std::fs::write(&shot, &png).unwrap();
    println!(
        "screenshot of the access review: {} ({} bytes)",
        shot.display(),
        png.len()
    );
    let copy = target.join("access-report.html");
    std::fs::write(&copy, &page).unwrap();
    println!("the page itself: {}", copy.display());

    // Typing in the people filter leaves the matching rows and updates the count and link.
    let who = browser.find("#f-who").await;
    browser.type_into(&who, "erin").await;
    let view = browser.run(VIEW, json!([])).await;
    assert_eq!(strings(&view["people"]), ["erin"]);
    assert_eq!(
        strings(&view["columns"]),
        [
            "bitbucket:API",
            "bitbucket:API/payments",
            "bitbucket:PLAT",
            "bitbucket:global",
            "buildkite:account"
        ]
    );
    assert_eq!(view["shown"], "1 person × 5 resources shown");
    assert_eq!(view["hash"], "#who=erin");
    assert_eq!(view["list"], 5);
    // By email too.
    browser.click(&browser.find("#f-clear").await).await;
    browser.type_into(&browser.find("#f-who").await, "carol@example").await;
    assert_eq!(strings(&browser.run(VIEW, json!([])).await["people"]), ["carol"]);

    // At least write: read-only and member cells go, and the people with nothing else.
    browser.click(&browser.find("#f-clear").await).await;
    browser.click(&browser.find("#f-level option[value=write]").await).await;
    let view = browser.run(VIEW, json!([])).await;
    assert_eq!(strings(&view["people"]), ["alice", "bob", "dave", "erin"]);
    assert_eq!(
        strings(&view["columns"]),
        [
            "bitbucket:API",
            "bitbucket:API/payments",
            "bitbucket:PLAT",
            "bitbucket:global",
            "buildkite:account"
        ]
    );
    assert_eq!(view["shown"], "4 people × 5 resources shown");
    assert_eq!(view["hash"], "#level=write");
    let alice_plat = browser.run(CELL, json!(["alice", "bitbucket:PLAT"])).await;
    assert_eq!(alice_plat["shown"], false, "alice only reads PLAT");
    let dave_plat = browser.run(CELL, json!(["dave", "bitbucket:PLAT"])).await;
    assert_eq!(dave_plat["shown"], true);
    browser.click(&browser.find("#f-level option[value=admin]").await).await;
    let view = browser.run(VIEW, json!([])).await;
    assert_eq!(strings(&view["people"]), ["erin"]);
    assert_eq!(view["shown"], "1 person × 4 resources shown");

    // Resource and target filters, written to the link together.
    browser.click(&browser.find("#f-clear").await).await;
    browser.type_into(&browser.find("#f-on").await, "bitbucket:API").await;
    browser.click(&browser.find("#f-level option[value=write]").await).await;
    let view = browser.run(VIEW, json!([])).await;
    assert_eq!(strings(&view["columns"]), ["bitbucket:API", "bitbucket:API/payments"]);
    assert_eq!(strings(&view["people"]), ["alice", "bob", "erin"]);
    assert_eq!(view["hash"], "#on=bitbucket:API&level=write");
    browser.click(&browser.find("#f-clear").await).await;
    browser
        .click(&browser.find("#f-target option[value=buildkite]").await)
        .await;
    let view = browser.run(VIEW, json!([])).await;
    assert_eq!(
        strings(&view["columns"]),
        ["buildkite:account", "buildkite:backend", "buildkite:frontend"]
    );
    assert_eq!(strings(&view["people"]), ["alice", "bob", "dave", "erin"]);
    assert_eq!(view["hash"], "#target=buildkite");

    // A linked view: opened fresh, the hash sets the filters; changed, the page follows.
    browser.goto("about:blank").await;
    browser
        .goto(&format!("{url}#who=alice&on=bitbucket:API&level=write"))
        .await;
    let fields = browser
        .run(
            "return ['f-who', 'f-on', 'f-level', 'f-target'].map((id) => document.getElementById(id).value);",
            json!([]),
        )
        .await;
    assert_eq!(strings(&fields), ["alice", "bitbucket:API", "write", ""]);
    let view = browser.run(VIEW, json!([])).await;
    assert_eq!(strings(&view["people"]), ["alice"]);
    assert_eq!(strings(&view["columns"]), ["bitbucket:API", "bitbucket:API/payments"]);
    assert_eq!(view["shown"], "1 person × 2 resources shown");
    browser
        .run("location.hash = '#who=%3Cscript%3E&level=nonsense';", json!([]))
        .await;
    let view = browser.run(VIEW, json!([])).await;
    assert_eq!(strings(&view["people"]), [MALLORY], "the hash is read back as text");
    let level = browser
        .run("return document.getElementById('f-level').value;", json!([]))
        .await;
    assert_eq!(level, "", "an unknown level in a link means any");
    browser.run("location.hash = '';", json!([])).await;
    let view = browser.run(VIEW, json!([])).await;
    assert_eq!(strings(&view["people"]), ALL_PEOPLE);
    assert_eq!(view["shown"], "6 people × 7 resources shown");
}

/// A PNG signature, an IHDR chunk with a sensible size, and more than a blank image's bytes.
fn assert_valid_png(png: &[u8]) {
    assert!(png.len() > 20_000, "the screenshot is only {} bytes", png.len());
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert!(width >= 800 && height >= 600, "a {width}×{height} screenshot");
}

/// The review `rollcall access --format html` writes for the quickstart, from the
/// manifests: the cells worked out by hand from its access.yaml and groups.yaml, and a
/// view linked by its hash.
#[tokio::test(flavor = "multi_thread")]
async fn the_quickstart_review_shows_the_right_cells() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("review.html");
    let manifests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/manifests");
    let out = assert_cmd::Command::cargo_bin("rollcall")
        .unwrap()
        .env_clear()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .arg("access")
        .arg(&manifests)
        .args(["--format", "html", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let browser = Browser::start(1440, 1000).await;
    browser.goto(&format!("file://{}", file.display())).await;
    let cell = |who: &'static str, col: &'static str| {
        let browser = &browser;
        async move { browser.run(CELL, json!([who, col])).await }
    };
    // erin: release-managers' REPO_ADMIN beats backend's project write.
    let erin = cell("erin", "bitbucket:API/payments").await;
    assert_eq!(erin["level"], "admin");
    assert!(
        erin["title"]
            .as_str()
            .unwrap()
            .contains("REPO_ADMIN, via release-managers"),
        "{erin}"
    );
    // carol is cdiaz on Bitbucket, with a direct admin grant there.
    let carol = cell("carol", "bitbucket:API/payments").await;
    assert_eq!(carol["level"], "admin");
    assert!(carol["title"].as_str().unwrap().contains("as cdiaz"), "{carol}");
    // heidi (mobile) reads PLAT through its all-users default, and has nothing on API.
    assert_eq!(cell("heidi", "bitbucket:PLAT").await["level"], "read");
    assert_eq!(cell("heidi", "bitbucket:API").await["level"], "");
    // alice, a global ADMIN, administers MOB without any grant there.
    assert_eq!(cell("alice", "bitbucket:MOB").await["level"], "admin");

    // A linked view: who can write on API and inside it.
    browser
        .goto(&format!("file://{}#on=bitbucket:API&level=write", file.display()))
        .await;
    let view = browser.run(VIEW, json!([])).await;
    assert_eq!(strings(&view["people"]), ["alice", "carol", "erin", "frank", "grace"]);
}
