//! `apply`: walks the plan's dependency graph and executes it. Changes that a provider can
//! send together become one step; steps run with bounded parallelism; a failed step marks
//! everything that depends on it as skipped, and independent work goes on.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::stream::{FuturesUnordered, StreamExt};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

use crate::model::Address;
use crate::plan::{graph, Change, Plan};
use crate::provider::Provider;

/// What happened to one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Failed(String),
    /// Not attempted because the change at this address failed.
    Skipped {
        because: Address,
    },
}

#[derive(Debug, Clone, Default)]
pub struct ApplyReport {
    /// Every change of the plan, in plan order, with its outcome.
    pub outcomes: Vec<(Change, Outcome)>,
}

impl ApplyReport {
    pub fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.outcomes.iter().filter(|(_, o)| f(o)).count()
    }
    pub fn applied(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Applied))
    }
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped { .. }))
    }
    pub fn succeeded(&self) -> bool {
        self.failed() == 0 && self.skipped() == 0
    }
}

/// Changes executed together, by index into the plan.
struct Step {
    target: String,
    changes: Vec<usize>,
}

/// Groups batchable changes into steps. Only changes that nothing depends on and that
/// depend on exactly the same changes are batched: merging them can then never create a
/// cycle, and a failure upstream skips only what really waited for it.
fn steps(plan: &Plan, providers: &BTreeMap<String, Box<dyn Provider>>) -> (Vec<Step>, DiGraph<usize, ()>) {
    let change_graph = graph::build(&plan.changes);
    let mut steps: Vec<Step> = Vec::new();
    let mut step_of: Vec<usize> = vec![0; plan.changes.len()];
    let mut batches: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (i, c) in plan.changes.iter().enumerate() {
        let leaf = change_graph
            .neighbors_directed(NodeIndex::new(i), Direction::Outgoing)
            .next()
            .is_none();
        let key = providers
            .get(&c.address.target)
            .and_then(|p| p.batch_key(c))
            .filter(|_| leaf)
            .map(|k| {
                let mut needs: Vec<usize> = change_graph
                    .neighbors_directed(NodeIndex::new(i), Direction::Incoming)
                    .map(|n| n.index())
                    .collect();
                needs.sort_unstable();
                format!("{k} after {needs:?}")
            });
        let existing = key
            .as_ref()
            .and_then(|k| batches.get(&(c.address.target.clone(), k.clone())).copied());
        match existing {
            Some(s) => {
                if let Some(step) = steps.get_mut(s) {
                    step.changes.push(i);
                }
                step_of[i] = s;
            }
            None => {
                if let Some(k) = key {
                    batches.insert((c.address.target.clone(), k), steps.len());
                }
                step_of[i] = steps.len();
                steps.push(Step {
                    target: c.address.target.clone(),
                    changes: vec![i],
                });
            }
        }
    }
    let mut g = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..steps.len()).map(|s| g.add_node(s)).collect();
    let mut seen = BTreeSet::new();
    for e in change_graph.raw_edges() {
        let (a, b) = (step_of[e.source().index()], step_of[e.target().index()]);
        if a != b && seen.insert((a, b)) {
            g.add_edge(nodes[a], nodes[b], ());
        }
    }
    (steps, g)
}

/// Executes the plan. `on_done` is called once per change as its outcome is known.
pub async fn execute(
    plan: &Plan,
    providers: &BTreeMap<String, Box<dyn Provider>>,
    parallelism: usize,
    mut on_done: impl FnMut(&Change, &Outcome),
) -> ApplyReport {
    let (steps, g) = steps(plan, providers);
    let mut outcomes: Vec<Option<Outcome>> = vec![None; plan.changes.len()];
    let mut indegree: Vec<usize> = g
        .node_indices()
        .map(|n| g.neighbors_directed(n, Direction::Incoming).count())
        .collect();
    // Ready steps in plan order, so runs are as repeatable as concurrency allows.
    let mut ready: BTreeSet<usize> = (0..steps.len()).filter(|&s| indegree[s] == 0).collect();
    let mut running = FuturesUnordered::new();
    let parallelism = parallelism.max(1);
    loop {
        while running.len() < parallelism {
            let Some(s) = ready.pop_first() else { break };
            let Some(step) = steps.get(s) else { continue };
            let batch: Vec<Change> = step
                .changes
                .iter()
                .filter_map(|&i| plan.changes.get(i).cloned())
                .collect();
            let provider = providers.get(&step.target);
            running.push(async move {
                let result = match provider {
                    Some(p) => p.apply(&batch).await.map_err(|e| e.to_string()),
                    None => Err(format!("no provider for target `{}`", step.target)),
                };
                (s, result)
            });
        }
        let Some((s, result)) = running.next().await else { break };
        let Some(step) = steps.get(s) else { continue };
        let outcome = match result {
            Ok(()) => {
                for n in g.neighbors_directed(NodeIndex::new(s), Direction::Outgoing) {
                    let j = n.index();
                    indegree[j] -= 1;
                    if indegree[j] == 0 {
                        ready.insert(j);
                    }
                }
                Outcome::Applied
            }
            Err(e) => Outcome::Failed(e),
        };
        for &i in &step.changes {
            if let Some(c) = plan.changes.get(i) {
                on_done(c, &outcome);
            }
            outcomes[i] = Some(outcome.clone());
        }
    }
    // Whatever never ran waits on a failure: name the failed change it depends on.
    for (s, step) in steps.iter().enumerate() {
        if step.changes.iter().any(|&i| outcomes[i].is_some()) {
            continue;
        }
        let because = failed_ancestor(&g, &steps, &outcomes, s)
            .and_then(|i| plan.changes.get(i))
            .map(|c| c.address.clone());
        for &i in &step.changes {
            let Some(c) = plan.changes.get(i) else { continue };
            let outcome = Outcome::Skipped {
                because: because.clone().unwrap_or_else(|| c.address.clone()),
            };
            on_done(c, &outcome);
            outcomes[i] = Some(outcome);
        }
    }
    ApplyReport {
        outcomes: plan
            .changes
            .iter()
            .zip(outcomes)
            .map(|(c, o)| {
                (
                    c.clone(),
                    o.unwrap_or(Outcome::Skipped {
                        because: c.address.clone(),
                    }),
                )
            })
            .collect(),
    }
}

fn failed_ancestor(
    g: &DiGraph<usize, ()>,
    steps: &[Step],
    outcomes: &[Option<Outcome>],
    start: usize,
) -> Option<usize> {
    let mut stack = vec![start];
    let mut seen = BTreeSet::new();
    while let Some(s) = stack.pop() {
        for n in g.neighbors_directed(NodeIndex::new(s), Direction::Incoming) {
            let p = n.index();
            if !seen.insert(p) {
                continue;
            }
            if let Some(&i) = steps.get(p).and_then(|st| {
                st.changes
                    .iter()
                    .find(|&&i| matches!(outcomes[i], Some(Outcome::Failed(_))))
            }) {
                return Some(i);
            }
            stack.push(p);
        }
    }
    None
}
