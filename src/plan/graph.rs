//! `graph`: the order of changes. A petgraph DAG whose edges say "must happen before":
//! a user or group is created (or renamed) before anything that refers to it, and
//! everything that refers to a principal is removed before the principal is deleted or
//! deactivated (but for one change that renames and deactivates at once, which counts as
//! a rename). A target whose principals another target creates (`principals_from`)
//! waits for that target's changes the same way, so one plan orders changes across
//! targets. The topological order breaks ties by phase and address, so the same plan
//! always prints the same way; a cycle is an error that names it.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

use crate::model::{Address, Principal, Resource, ResourceId};
use crate::plan::{Action, Change, PlannedTarget};
use crate::platform::Platform;

/// Changes that wait for each other, so no order can satisfy them: each address, then
/// the first again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("changes that wait for each other in a cycle: {}", .0.join(" -> "))]
pub struct Cycle(pub Vec<String>);

/// What the graph needs of the targets: each one's platform, and where its principals
/// are created when another target creates them.
struct Targets<'a> {
    platforms: BTreeMap<&'a str, Platform>,
    principals_from: BTreeMap<&'a str, &'a str>,
}

impl<'a> Targets<'a> {
    fn of(targets: &'a [PlannedTarget]) -> Self {
        Targets {
            platforms: targets.iter().map(|t| (t.name.as_str(), t.config.platform)).collect(),
            principals_from: targets
                .iter()
                .filter_map(|t| Some((t.name.as_str(), t.config.principals_from.as_deref()?)))
                .collect(),
        }
    }

    /// The targets where a principal named on `target` is created: itself, and the
    /// target it takes its principals from.
    fn homes(&self, target: &'a str) -> impl Iterator<Item = &'a str> + '_ {
        std::iter::once(target).chain(self.principals_from.get(target).copied())
    }

    fn grants_admin(&self, c: &Change) -> bool {
        let Some(platform) = self.platforms.get(c.address.target.as_str()) else {
            return false;
        };
        matches!(
            (&c.address.id, c.action, &c.after),
            (
                ResourceId::Grant { scope, .. },
                Action::Create | Action::Update,
                Some(Resource::Permission { permission })
            ) if platform.is_admin(scope, permission)
        )
    }
}

/// The dependency graph of a list of changes; node `i` is `changes[i]`.
pub fn build(changes: &[Change], targets: &[PlannedTarget]) -> DiGraph<usize, ()> {
    let targets = Targets::of(targets);
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
            let homes = targets.homes(c.address.target.as_str());
            let on = homes.filter_map(|home| principal_changes.get(&(home, p.clone())));
            for &j in on.flatten() {
                let principal = &changes[j];
                if principal.renames().is_some() {
                    // Under its new name a principal exists only once renamed, so what names
                    // it goes after, removals too: where one change renames and deactivates
                    // a user (offboarded under a new username), the memberships it loses
                    // are named under the new name and can only be found after it.
                    graph.add_edge(nodes[j], nodes[i], ());
                } else if principal.removes() {
                    // What refers to a principal goes before the principal does.
                    if c.action == Action::Delete {
                        graph.add_edge(nodes[i], nodes[j], ());
                    }
                } else if principal.action == Action::Create || principal.reactivates() {
                    // A principal exists before anything refers to it.
                    graph.add_edge(nodes[j], nodes[i], ());
                }
            }
        }
    }
    // On a target whose people are made elsewhere (`KindRules::external`), what names a
    // person also waits for what the target it takes principals from gives them (a
    // membership of a group that gives access here), not only for their creation.
    let mut given: BTreeMap<(&str, Principal), Vec<usize>> = BTreeMap::new();
    for (j, c) in changes.iter().enumerate() {
        if c.action != Action::Delete && c.address.id.as_principal().is_none() {
            for p in c
                .address
                .id
                .principals()
                .into_iter()
                .filter(|p| matches!(p, Principal::User(_)))
            {
                given.entry((c.address.target.as_str(), p)).or_default().push(j);
            }
        }
    }
    for (i, c) in changes.iter().enumerate() {
        let target = c.address.target.as_str();
        let external = targets.platforms.get(target).is_some_and(|p| p.users().external);
        let Some(from) = targets.principals_from.get(target).copied().filter(|_| external) else {
            continue;
        };
        for p in c.address.id.principals() {
            for &j in given.get(&(from, p)).into_iter().flatten() {
                graph.add_edge(nodes[j], nodes[i], ());
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
        let back = |g: &str| if g == new { old.to_string() } else { g.to_owned() };
        let mut adds: BTreeMap<ResourceId, usize> = BTreeMap::new();
        for (i, add) in changes.iter().enumerate() {
            let refers = add.address.id.principals().contains(&Principal::Group(new.into()));
            if add.address.target == target && add.action != Action::Delete && refers {
                adds.insert(add.address.id.map_names(&same, &back), i);
                graph.add_edge(nodes[i], nodes[d], ());
            }
        }
        for (j, removal) in changes.iter().enumerate() {
            if removal.address.target == target && removal.action == Action::Delete {
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
    let admin_grants: Vec<usize> = (0..changes.len())
        .filter(|&i| targets.grants_admin(&changes[i]))
        .collect();
    for &g in &admin_grants {
        for (i, c) in changes.iter().enumerate() {
            if c.action == Action::Delete && c.address.target == changes[g].address.target {
                graph.add_edge(nodes[g], nodes[i], ());
            }
        }
    }
    graph
}

/// For each change, the change that carries it out, if another does: the removal of a
/// membership or grant of a principal deleted on the same target, where the platform
/// declares that deleting one takes that kind along (`KindRules::delete_takes`). The plan
/// lists such a removal, for the reviewers; apply sends only the delete, and the removal's
/// outcome is the delete's. A deactivation takes nothing along. Where two deletes would
/// each carry a removal (a member leaving with both its user and its group), the group's
/// delete does: the first that can, in the order `ResourceId::principals` names them.
pub fn carriers(changes: &[Change], targets: &[PlannedTarget]) -> Vec<Option<usize>> {
    let targets = Targets::of(targets);
    let mut deletes: BTreeMap<(&str, Principal), usize> = BTreeMap::new();
    for (j, c) in changes.iter().enumerate() {
        if let (Action::Delete, Some(p)) = (c.action, c.address.id.as_principal()) {
            deletes.entry((c.address.target.as_str(), p)).or_insert(j);
        }
    }
    changes
        .iter()
        .map(|c| {
            let platform = targets.platforms.get(c.address.target.as_str())?;
            if c.action != Action::Delete || c.address.id.as_principal().is_some() {
                return None;
            }
            let kind = c.address.id.kind();
            c.address.id.principals().into_iter().find_map(|p| {
                let rules = platform.rules(p.id().kind());
                let &j = deletes.get(&(c.address.target.as_str(), p))?;
                rules.delete_takes.contains(&kind).then_some(j)
            })
        })
        .collect()
}

/// The phase a change runs in when nothing else decides: new principals, then grants of
/// administrator rights, then removals of access, then other grants, then removal of
/// principals.
fn phase(targets: &Targets<'_>, c: &Change) -> u8 {
    if targets.grants_admin(c) {
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
pub fn order(mut changes: Vec<Change>, planned: &[PlannedTarget]) -> Result<Vec<Change>, Cycle> {
    let graph = build(&changes, planned);
    let targets = Targets::of(planned);
    let key = |i: usize| (phase(&targets, &changes[i]), changes[i].address.clone(), i);
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
    // Nothing left over means no cycle. One would be a defect in the rules above (or in
    // how targets name each other); a plan that silently ran it in some order could
    // remove access before granting it, so it is an error that names the changes.
    if out.len() < changes.len() {
        return Err(cycle(&graph, &changes));
    }
    let mut slots: Vec<Option<Change>> = changes.drain(..).map(Some).collect();
    Ok(out
        .into_iter()
        .filter_map(|i| slots.get_mut(i).and_then(Option::take))
        .collect())
}

/// One cycle of the graph, as the addresses of its changes from the smallest around.
fn cycle(graph: &DiGraph<usize, ()>, changes: &[Change]) -> Cycle {
    let name = |i: usize| {
        let c = &changes[i];
        format!("{} {}", c.action.symbol(), c.address)
    };
    // A strongly connected component of more than one change, or one with an edge to
    // itself, holds a cycle; following edges inside it must come back round.
    let components = petgraph::algo::tarjan_scc(graph);
    let Some(component) = components
        .into_iter()
        .filter(|c| c.len() > 1 || c.iter().any(|&n| graph.contains_edge(n, n)))
        .min_by_key(|c| c.iter().map(|n| n.index()).min())
    else {
        return Cycle(Vec::new());
    };
    let inside: BTreeSet<NodeIndex> = component.iter().copied().collect();
    let Some(&start) = inside.first() else {
        return Cycle(Vec::new());
    };
    let mut path = vec![start];
    let mut at = start;
    let step = |at: NodeIndex| {
        graph
            .neighbors_directed(at, Direction::Outgoing)
            .filter(|n| inside.contains(n))
            .min()
    };
    while let Some(next) = step(at) {
        if let Some(seen) = path.iter().position(|&n| n == next) {
            path.drain(..seen);
            path.push(next);
            break;
        }
        path.push(next);
        at = next;
    }
    Cycle(path.into_iter().map(|n| name(n.index())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(names: &[(&str, Option<&str>)]) -> Vec<PlannedTarget> {
        names
            .iter()
            .map(|(name, from)| PlannedTarget::sandbox(name, *from))
            .collect()
    }

    fn bb() -> Vec<PlannedTarget> {
        targets(&[("bb", None)])
    }

    fn change(id: ResourceId, action: Action) -> Change {
        Change {
            address: Address::new("bb", id),
            action,
            before: None,
            after: Some(Resource::group()),
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
        let ordered: Vec<String> = order(changes, &bb())
            .unwrap_or_default()
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
            ResourceId::Grant {
                scope: crate::model::Scope::root(),
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
        let g = build(&[leave, grant], &bb());
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
                ResourceId::Grant {
                    scope: crate::model::Scope::root(),
                    principal: Principal::User("ann".into()),
                },
                Action::Create,
            ),
        ];
        let g = build(&changes, &bb());
        assert!(g.contains_edge(NodeIndex::new(0), NodeIndex::new(1)));
        assert_eq!(g.edge_count(), 1);
    }

    #[test]
    fn a_user_renamed_and_deactivated_at_once_is_renamed_before_losing_memberships() {
        use crate::model::UserAttrs;
        let user = |active| {
            Some(Resource::User(Box::new(UserAttrs {
                active: Some(active),
                external_id: Some("dave".into()),
                ..UserAttrs::new("Dave", "dave@example.com")
            })))
        };
        let leave = change(
            ResourceId::Membership {
                group: "devs".into(),
                user: "dave".into(),
            },
            Action::Delete,
        );
        let rename = Change {
            before: user(true),
            after: user(false),
            renamed_from: Some("dokafor".into()),
            ..change(ResourceId::User { name: "dave".into() }, Action::Update)
        };
        assert!(rename.removes() && rename.renames().is_some());
        let ordered: Vec<String> = order(vec![leave, rename], &bb())
            .unwrap_or_default()
            .iter()
            .map(|c| format!("{} {}", c.action.symbol(), c.address))
            .collect();
        assert_eq!(
            ordered,
            ["~ bb.user[\"dave\"]", "- bb.group[\"devs\"].member[\"dave\"]"],
            "`dave` names nobody until `dokafor` is renamed"
        );
    }

    #[test]
    fn a_change_waits_for_the_principal_another_target_creates() {
        let mut grant = change(
            ResourceId::Grant {
                scope: crate::model::Scope::root().child("project", "P"),
                principal: Principal::Group("devs".into()),
            },
            Action::Create,
        );
        grant.address.target = "code".into();
        let mut group = change(ResourceId::Group { name: "devs".into() }, Action::Create);
        group.address.target = "directory".into();
        let mut leave = change(
            ResourceId::Membership {
                group: "old".into(),
                user: "ann".into(),
            },
            Action::Delete,
        );
        leave.address.target = "code".into();
        let mut old = change(ResourceId::Group { name: "old".into() }, Action::Delete);
        old.address.target = "directory".into();
        let planned = targets(&[("code", Some("directory")), ("directory", None)]);
        let g = build(&[grant.clone(), group.clone(), leave.clone(), old.clone()], &planned);
        assert!(
            g.contains_edge(NodeIndex::new(1), NodeIndex::new(0)),
            "created there first"
        );
        assert!(
            g.contains_edge(NodeIndex::new(2), NodeIndex::new(3)),
            "removed here first"
        );
        assert_eq!(g.edge_count(), 2);
        // Without the link the targets are independent.
        let apart = targets(&[("code", None), ("directory", None)]);
        assert_eq!(build(&[grant, group, leave, old], &apart).edge_count(), 0);
    }

    #[test]
    fn a_cycle_is_named_from_its_first_change_around() {
        let changes = vec![
            change(ResourceId::User { name: "ann".into() }, Action::Create),
            change(ResourceId::Group { name: "a".into() }, Action::Create),
            change(ResourceId::Group { name: "b".into() }, Action::Create),
        ];
        let mut g = DiGraph::new();
        let n: Vec<NodeIndex> = (0..3).map(|i| g.add_node(i)).collect();
        g.add_edge(n[0], n[1], ());
        g.add_edge(n[1], n[2], ());
        g.add_edge(n[2], n[1], ());
        let found = cycle(&g, &changes);
        assert_eq!(
            found.to_string(),
            "changes that wait for each other in a cycle: + bb.group[\"a\"] -> + bb.group[\"b\"] -> + bb.group[\"a\"]"
        );
    }
}
