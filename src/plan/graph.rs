//! `graph`: the order of changes. A petgraph DAG whose edges say "must happen before":
//! a user or group is created (or renamed) before anything that refers to it, and
//! everything that refers to a principal is removed before the principal is deleted or
//! deactivated. The topological
//! order breaks ties by phase and address, so the same plan always prints the same way.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

use crate::model::{Address, Principal, Resource, ResourceId, ADMIN_PERMISSIONS};
use crate::plan::{Action, Change};

/// The dependency graph of a list of changes; node `i` is `changes[i]`.
pub fn build(changes: &[Change]) -> DiGraph<usize, ()> {
    let mut graph = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..changes.len()).map(|i| graph.add_node(i)).collect();
    // Index the changes that create or delete a principal.
    let mut principal_changes: BTreeMap<(&str, Principal), Vec<usize>> = BTreeMap::new();
    for (i, c) in changes.iter().enumerate() {
        if let Some(p) = c.address.id.as_principal() {
            principal_changes
                .entry((c.address.target.as_str(), p))
                .or_default()
                .push(i);
        }
    }
    for (i, c) in changes.iter().enumerate() {
        for p in c.address.id.principals() {
            let Some(on) = principal_changes.get(&(c.address.target.as_str(), p)) else {
                continue;
            };
            for &j in on {
                let principal = &changes[j];
                if principal.removes() {
                    // What refers to a principal goes before the principal does.
                    if c.action == Action::Delete {
                        graph.add_edge(nodes[i], nodes[j], ());
                    }
                } else if principal.action == Action::Create || principal.renames().is_some() || principal.reactivates()
                {
                    // A principal exists, under its new name, before anything refers to it.
                    graph.add_edge(nodes[j], nodes[i], ());
                }
            }
        }
    }
    // A group renamed where the platform cannot rename receives each member (and each
    // grant) before the old group loses it, and everything before the old group goes:
    // people keep their access throughout the move. One edge per pair, so a large group
    // costs edges in proportion to its size.
    for (d, replaced) in changes.iter().enumerate() {
        let (Action::Delete, Some(new), ResourceId::Group { name: old }) =
            (replaced.action, &replaced.renamed_to, &replaced.address.id)
        else {
            continue;
        };
        let target = &replaced.address.target;
        let same = |n: &str| n.to_owned();
        let back = |g: &str| if g == new { old.clone() } else { g.to_owned() };
        let mut adds: BTreeMap<ResourceId, usize> = BTreeMap::new();
        for (i, add) in changes.iter().enumerate() {
            let refers = add.address.id.principals().contains(&Principal::Group(new.clone()));
            if &add.address.target == target && add.action != Action::Delete && refers {
                adds.insert(add.address.id.map_names(&same, &back), i);
                graph.add_edge(nodes[i], nodes[d], ());
            }
        }
        for (j, removal) in changes.iter().enumerate() {
            if &removal.address.target == target && removal.action == Action::Delete {
                if let Some(&i) = adds.get(&removal.address.id) {
                    graph.add_edge(nodes[i], nodes[j], ());
                }
            }
        }
    }
    // Administrator rights are granted before anything is removed, so a move from one
    // source of ADMIN to another (a group grant to a direct one, say) never passes through
    // a moment with fewer administrators, or with the token's own account demoted, which
    // Bitbucket refuses.
    let admin_grants: Vec<usize> = (0..changes.len()).filter(|&i| grants_admin(&changes[i])).collect();
    for &g in &admin_grants {
        for (i, c) in changes.iter().enumerate() {
            if c.action == Action::Delete && c.address.target == changes[g].address.target {
                graph.add_edge(nodes[g], nodes[i], ());
            }
        }
    }
    graph
}

fn grants_admin(c: &Change) -> bool {
    matches!(
        (&c.address.id, c.action, &c.after),
        (
            ResourceId::GlobalPermission { .. },
            Action::Create | Action::Update,
            Some(Resource::Permission { permission })
        ) if ADMIN_PERMISSIONS.contains(&permission.as_str())
    )
}

/// The phase a change runs in when nothing else decides: new principals, then grants of
/// administrator rights, then removals of access, then other grants, then removal of
/// principals.
fn phase(c: &Change) -> u8 {
    if grants_admin(c) {
        return 1; // before the removals that wait for it
    }
    let is_principal = c.address.id.as_principal().is_some();
    match (c.removes(), is_principal) {
        (false, true) => 0,
        (true, false) => 2,
        (false, false) => 3,
        (true, true) => 4,
    }
}

/// Sorts changes into execution order (Kahn's algorithm with a deterministic tie-break).
pub fn order(mut changes: Vec<Change>) -> Vec<Change> {
    let graph = build(&changes);
    let key = |i: usize| (phase(&changes[i]), changes[i].address.clone(), i);
    let mut indegree: Vec<usize> = graph
        .node_indices()
        .map(|n| graph.neighbors_directed(n, Direction::Incoming).count())
        .collect();
    let mut ready: BTreeSet<(u8, Address, usize)> = (0..changes.len()).filter(|&i| indegree[i] == 0).map(key).collect();
    let mut out = Vec::with_capacity(changes.len());
    while let Some(next) = ready.pop_first() {
        let i = next.2;
        out.push(i);
        for n in graph.neighbors_directed(NodeIndex::new(i), Direction::Outgoing) {
            let j = n.index();
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.insert(key(j));
            }
        }
    }
    // The edges only ever point from principals to what refers to them (or back), so
    // there is no cycle; should one appear, keep the leftovers rather than drop them.
    if out.len() < changes.len() {
        let placed: BTreeSet<usize> = out.iter().copied().collect();
        let mut rest: Vec<usize> = (0..changes.len()).filter(|i| !placed.contains(i)).collect();
        rest.sort_by_key(|&i| key(i));
        out.extend(rest);
    }
    let mut slots: Vec<Option<Change>> = changes.drain(..).map(Some).collect();
    out.into_iter()
        .filter_map(|i| slots.get_mut(i).and_then(Option::take))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(id: ResourceId, action: Action) -> Change {
        Change {
            address: Address::new("bb", id),
            action,
            before: None,
            after: Some(Resource::Group),
            reason: None,
            renamed_from: None,
            renamed_to: None,
        }
    }

    #[test]
    fn creates_follow_dependencies_and_deletes_run_in_reverse() {
        let member = ResourceId::Membership {
            group: "devs".into(),
            user: "ann".into(),
        };
        let changes = vec![
            change(ResourceId::Group { name: "old".into() }, Action::Delete),
            change(
                ResourceId::Membership {
                    group: "old".into(),
                    user: "ann".into(),
                },
                Action::Delete,
            ),
            change(member.clone(), Action::Create),
            change(ResourceId::Group { name: "devs".into() }, Action::Create),
            change(ResourceId::User { name: "ann".into() }, Action::Create),
        ];
        let ordered: Vec<String> = order(changes)
            .iter()
            .map(|c| format!("{} {}", c.action.symbol(), c.address))
            .collect();
        assert_eq!(
            ordered,
            vec![
                "+ bb.user[\"ann\"]",
                "+ bb.group[\"devs\"]",
                "- bb.group[\"old\"].member[\"ann\"]",
                "+ bb.group[\"devs\"].member[\"ann\"]",
                "- bb.group[\"old\"]",
            ]
        );
    }

    #[test]
    fn admin_rights_are_granted_before_anything_is_removed() {
        let mut grant = change(
            ResourceId::GlobalPermission {
                principal: Principal::User("svc".into()),
            },
            Action::Create,
        );
        grant.after = Some(Resource::Permission {
            permission: "ADMIN".into(),
        });
        let leave = change(
            ResourceId::Membership {
                group: "admins".into(),
                user: "svc".into(),
            },
            Action::Delete,
        );
        let g = build(&[leave, grant]);
        assert!(
            g.contains_edge(NodeIndex::new(1), NodeIndex::new(0)),
            "a dependency, not just an order"
        );
    }

    #[test]
    fn edges_point_from_created_principal_to_its_grants() {
        let changes = vec![
            change(ResourceId::User { name: "ann".into() }, Action::Create),
            change(
                ResourceId::GlobalPermission {
                    principal: Principal::User("ann".into()),
                },
                Action::Create,
            ),
        ];
        let g = build(&changes);
        assert!(g.contains_edge(NodeIndex::new(0), NodeIndex::new(1)));
        assert_eq!(g.edge_count(), 1);
    }
}
