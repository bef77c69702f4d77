//! Sources over generated directories: whatever people (active or not, in one department
//! or another) and groups a source holds, a manifest that takes its people and members
//! from it resolves to exactly what a manifest written by hand for the same people and
//! members resolves to.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use proptest::prelude::*;
use rollcall::source::{Group, Person, Snapshot};

const GROUPS: [&str; 4] = ["eng", "ops", "sales", "all-hands"];

#[derive(Debug, Clone)]
struct Generated {
    /// (active, in engineering, groups by index)
    people: Vec<(bool, bool, BTreeSet<usize>)>,
    /// Manifest groups: which source groups each follows, and hand members (indexes of
    /// hand-declared people).
    followed: Vec<(BTreeSet<usize>, BTreeSet<usize>)>,
    department_filter: bool,
}

fn generated() -> impl Strategy<Value = Generated> {
    let person = (
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.7),
        prop::collection::btree_set(0..GROUPS.len(), 0..3),
    );
    let followed = (
        prop::collection::btree_set(0..GROUPS.len(), 1..3),
        prop::collection::btree_set(0..3usize, 0..2),
    );
    (
        prop::collection::vec(person, 0..30),
        prop::collection::vec(followed, 1..4),
        any::<bool>(),
    )
        .prop_map(|(people, followed, department_filter)| Generated {
            people,
            followed,
            department_filter,
        })
}

const TARGET: &str = "targets:\n  bb:\n    kind: bitbucket-datacenter\n    url: https://git.example.com\n    auth: { username: svc, token: \"${env:BB_TOKEN}\" }\n";
const HAND: [&str; 3] = ["hank", "hope", "hugo"];

fn hand_people() -> String {
    HAND.iter()
        .map(|h| format!("  {h}:\n    name: Hand {h}\n    email: {h}@example.net\n"))
        .collect()
}

fn snapshot(g: &Generated) -> Snapshot {
    let mut s = Snapshot::default();
    for (i, (active, eng, _)) in g.people.iter().enumerate() {
        let id = format!("00u{i}");
        s.people.insert(
            id.clone(),
            Person {
                id,
                login: Some(format!("p{i}@example.com")),
                email: Some(format!("p{i}@example.com")),
                display_name: Some(format!("Person {i}")),
                department: Some(if *eng { "Engineering" } else { "Sales" }.to_owned()),
                status: if *active { "ACTIVE" } else { "SUSPENDED" }.to_owned(),
                active: *active,
                attributes: BTreeMap::new(),
            },
        );
    }
    for (gi, name) in GROUPS.iter().enumerate() {
        let members = g
            .people
            .iter()
            .enumerate()
            .filter(|(_, (_, _, groups))| groups.contains(&gi))
            .map(|(i, _)| format!("00u{i}"))
            .collect();
        s.groups.insert(
            (*name).to_owned(),
            Group {
                id: format!("00g{gi}"),
                name: (*name).to_owned(),
                members,
                skipped: 0,
            },
        );
    }
    s
}

/// The manifest that takes everyone from the source.
fn sourced_manifest(g: &Generated) -> String {
    let filter = if g.department_filter {
        "      filter: { department: [engineering] }\n"
    } else {
        ""
    };
    let mut m = format!(
        "sources:\n  okta:\n    kind: okta\n    url: https://acme.okta.com\n    auth: {{ token: \"${{env:OKTA_TOKEN}}\" }}\n    people:\n      username: email_local_part\n{filter}{TARGET}users:\n{}groups:\n",
        hand_people()
    );
    for (i, (from, hand)) in g.followed.iter().enumerate() {
        let from: Vec<String> = from.iter().map(|f| format!("okta:{}", GROUPS[*f])).collect();
        let hand: Vec<&str> = hand.iter().map(|h| HAND[*h]).collect();
        m.push_str(&format!(
            "  team{i}:\n    members_from: [{}]\n    members: [{}]\n",
            from.join(", "),
            hand.join(", ")
        ));
    }
    m
}

/// The manifest a person would write for the same people and members.
fn hand_manifest(g: &Generated) -> String {
    let selected = |(_, eng, _): &(bool, bool, BTreeSet<usize>)| !g.department_filter || *eng;
    let mut m = format!("{TARGET}users:\n{}", hand_people());
    for (i, p) in g.people.iter().enumerate().filter(|(_, p)| selected(p)) {
        m.push_str(&format!(
            "  p{i}:\n    name: Person {i}\n    email: p{i}@example.com\n    active: {}\n",
            p.0
        ));
    }
    m.push_str("groups:\n");
    for (i, (from, hand)) in g.followed.iter().enumerate() {
        let mut members: BTreeSet<String> = hand.iter().map(|h| HAND[*h].to_owned()).collect();
        for (pi, p) in g.people.iter().enumerate() {
            if selected(p) && p.0 && p.2.iter().any(|gi| from.contains(gi)) {
                members.insert(format!("p{pi}"));
            }
        }
        let members: Vec<String> = members.into_iter().collect();
        m.push_str(&format!("  team{i}:\n    members: [{}]\n", members.join(", ")));
    }
    m
}

fn resolve(text: String, answer: Option<Snapshot>) -> rollcall::desired::Desired {
    let (mut loaded, problems) = rollcall::manifest::load_texts(Path::new("m"), &[("m.yaml".to_owned(), text)]);
    assert!(problems.is_empty(), "{problems:?}");
    let first = rollcall::resolve::resolve(&loaded).unwrap_or_else(|p| panic!("{p:?}"));
    let (Some(sourcing), Some(answer)) = (first.sourcing.clone(), answer) else {
        return first;
    };
    let answers = BTreeMap::from([("okta".to_owned(), answer)]);
    let sourced = rollcall::source::select::select(&sourcing, &answers).unwrap_or_else(|p| panic!("{p:?}"));
    rollcall::resolve::inject_sourced(&mut loaded, &sourcing, sourced);
    rollcall::resolve::resolve(&loaded).unwrap_or_else(|p| panic!("{p:?}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_sourced_manifest_resolves_as_the_one_written_by_hand(g in generated()) {
        let by_source = resolve(sourced_manifest(&g), Some(snapshot(&g)));
        let by_hand = resolve(hand_manifest(&g), None);
        prop_assert_eq!(&by_source.resources, &by_hand.resources);
        prop_assert_eq!(&by_source.offboarded, &by_hand.offboarded);
        // Every reason a source gives is for something wanted, or someone it offboards.
        for (address, why) in &by_source.provenance {
            let offboarded = match &address.id {
                rollcall::model::ResourceId::User { name } => by_source
                    .offboarded
                    .get(address.target.as_str())
                    .is_some_and(|o| o.contains(name.as_str())),
                _ => false,
            };
            prop_assert!(by_source.resources.contains_key(address) || offboarded, "{address}: {why}");
        }
        prop_assert!(by_hand.provenance.is_empty());
    }
}
