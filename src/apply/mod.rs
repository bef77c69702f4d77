//! `apply`: walks the plan's dependency graph and executes it. Changes that a provider can
//! send together become one step; steps run with bounded parallelism; a failed step marks
//! everything that depends on it as skipped, and independent work goes on. A removal that
//! a delete carries out (`graph::carriers`) is never sent: it rides in its delete's step
//! and shares its outcome.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::stream::{FuturesUnordered, StreamExt};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

use crate::model::Address;
use crate::plan::{graph, Change, Plan, Reviewed};
use crate::provider::{Provider, ProviderError};

/// What happened to one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Not sent: the delete at this address, which was applied, took it along (deleting a
    /// group removes its members, where the platform says so).
    Carried {
        by: Address,
    },
    Failed(String),
    /// Not attempted because the change at this address failed.
    Skipped {
        because: Address,
    },
    /// Not attempted because the run was interrupted before it could start.
    Interrupted,
    /// Not attempted: a target's preflight (`Provider::preflight`) failed, so the run
    /// stopped before its first change. The target's error.
    Blocked(String),
}

impl Outcome {
    /// The change is done on the target: applied, or carried out by a delete.
    pub fn done(&self) -> bool {
        matches!(self, Outcome::Applied | Outcome::Carried { .. })
    }

    /// The outcome of a change carried out by the change at `by`, which had this one.
    fn of_carried(&self, by: &Address) -> Outcome {
        match self {
            Outcome::Applied | Outcome::Carried { .. } => Outcome::Carried { by: by.clone() },
            Outcome::Failed(_) => Outcome::Skipped { because: by.clone() },
            Outcome::Skipped { because } => Outcome::Skipped {
                because: because.clone(),
            },
            Outcome::Interrupted => Outcome::Interrupted,
            Outcome::Blocked(e) => Outcome::Blocked(e.clone()),
        }
    }
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
    /// Changes done: sent and applied, or carried out by a delete that was.
    pub fn applied(&self) -> usize {
        self.count(Outcome::done)
    }
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped { .. }))
    }
    pub fn interrupted(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Interrupted))
    }
    /// The error of the preflight that stopped the run before its first change, if one did.
    pub fn blocked(&self) -> Option<&str> {
        self.outcomes.iter().find_map(|(_, o)| match o {
            Outcome::Blocked(e) => Some(e.as_str()),
            _ => None,
        })
    }
    pub fn succeeded(&self) -> bool {
        self.applied() == self.outcomes.len()
    }
}

/// Changes executed together, by index into the plan.
struct Step {
    target: String,
    changes: Vec<usize>,
}

/// The steps, the step graph, each change's direct dependencies (change indices), and
/// per change the changes it carries out (none sent; each gets its outcome with it).
struct Schedule {
    steps: Vec<Step>,
    graph: DiGraph<usize, ()>,
    needs: Vec<Vec<usize>>,
    carries: Vec<Vec<usize>>,
}

/// Groups batchable changes into steps. Only changes at the same height (the longest path
/// from them to a change nothing depends on) are batched: every edge goes from a greater
/// height to a smaller one, so merging them can never create a cycle. A step waits for every change any of its
/// members needs; when it runs, members whose own dependencies failed are dropped from
/// the batch and reported as skipped, so one failure never holds back unrelated work.
///
/// A carried change belongs to its delete's step without being sent: the step waits for
/// whatever the carried change waits for, and the delete no longer waits for it. Should
/// that ever close a cycle between steps, nothing is carried and every change is sent.
fn schedule(plan: &Plan, providers: &BTreeMap<String, Box<dyn Provider>>) -> Schedule {
    let carried = graph::carriers(&plan.changes, &plan.targets);
    let with = schedule_joining(plan, providers, &carried, true);
    if !petgraph::algo::is_cyclic_directed(&with.graph) {
        return with;
    }
    schedule_joining(plan, providers, &vec![None; plan.changes.len()], false)
}

/// The steps, with `carried` changes in their carriers' steps and, if `ride`, changes
/// the provider sends with the create or rename of the principal they name in that
/// change's step.
fn schedule_joining(
    plan: &Plan,
    providers: &BTreeMap<String, Box<dyn Provider>>,
    carried: &[Option<usize>],
    ride: bool,
) -> Schedule {
    let change_graph = graph::build(&plan.changes, &plan.targets);
    let n = plan.changes.len();
    let mut carries: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, by) in carried.iter().enumerate() {
        if let Some(&j) = by.as_ref().filter(|&&j| j < n && j != i) {
            carries[j].push(i);
        }
    }
    let carrier = |i: usize| carried.get(i).copied().flatten().filter(|&j| j < n && j != i);
    let direct = |i: usize| {
        change_graph
            .neighbors_directed(NodeIndex::new(i), Direction::Incoming)
            .map(|n| n.index())
    };
    // A carrier waits for what its carried changes wait for; nobody waits for a carried
    // change but through its carrier, whose outcome it shares.
    let needs: Vec<Vec<usize>> = (0..n)
        .map(|i| {
            let mut wait: BTreeSet<usize> = direct(i).collect();
            for &c in &carries[i] {
                wait.extend(direct(c));
            }
            let mut wait: Vec<usize> = wait
                .into_iter()
                .map(|w| carrier(w).unwrap_or(w))
                .filter(|&w| w != i && !carries[i].contains(&w))
                .collect();
            wait.sort_unstable();
            wait.dedup();
            wait
        })
        .collect();
    let heights = heights(&change_graph);
    let mut steps: Vec<Step> = Vec::new();
    let mut step_of: Vec<usize> = vec![0; n];
    // The steps of each key that may still take a change: a step leaves when it is full.
    let mut batches: BTreeMap<(String, String, usize), Vec<usize>> = BTreeMap::new();
    // The changes that make a principal what later changes name: its create, or its
    // rename (what names it by its new name waits for the rename).
    let hosts: BTreeMap<&Address, usize> = plan
        .changes
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            (c.action == crate::plan::Action::Create || c.renames().is_some()) && c.address.id.as_principal().is_some()
        })
        .map(|(j, c)| (&c.address, j))
        .collect();
    let mut riders: BTreeMap<usize, usize> = BTreeMap::new();
    for (i, c) in plan.changes.iter().enumerate() {
        if carrier(i).is_some() {
            continue;
        }
        // A change that rides with the create (or rename) of a principal it names joins
        // that change's step while the request has room, even where the step batches
        // several creates in one request (Buildkite's invitations, each carrying its
        // person's teams). The step then waits for whatever else the rider waits for:
        // the step graph is drawn from every change's edges.
        let provider = providers.get(c.address.target.as_str());
        let limit = provider.map_or(1, |p| p.batch_limit().max(1));
        let host = c
            .address
            .id
            .principals()
            .into_iter()
            .filter_map(|p| hosts.get(&Address::new(&c.address.target, p.id())).copied())
            .find(|&j| {
                ride && j < i
                    && riders.get(&j).copied().unwrap_or(0) < limit
                    // Nothing else it waits for may share the host's request: that would
                    // be made at the same time, not before.
                    && needs[i].iter().all(|&w| w == j || (w < i && step_of.get(w) != step_of.get(j)))
                    && provider.is_some_and(|p| p.rides_with(c, &plan.changes[j]))
            });
        if let Some(j) = host {
            *riders.entry(j).or_default() += 1;
            step_of[i] = step_of[j];
            if let Some(step) = steps.get_mut(step_of[j]) {
                step.changes.push(i);
            }
            continue;
        }
        let height = heights.get(i).copied().flatten();
        let key = providers
            .get(c.address.target.as_str())
            .and_then(|p| p.batch_key(c))
            .zip(height)
            .map(|(k, h)| (c.address.target.to_string(), k, h));
        // A full batch closes: the next change of that key starts another, so each step
        // is one request and its outcome is exactly its changes' outcome. A change the
        // provider does not admit to a batch tries the key's other open batches first.
        let open_steps = key.as_ref().and_then(|k| batches.get(k));
        let open = open_steps.into_iter().flatten().copied().find(|&s| {
            steps.get(s).is_some_and(|step| {
                let mut batch = step.changes.iter().filter_map(|&j| plan.changes.get(j));
                provider.is_some_and(|p| p.batch_admits(&mut batch, c))
            })
        });
        let s = match open {
            Some(s) => {
                if let Some(step) = steps.get_mut(s) {
                    step.changes.push(i);
                }
                s
            }
            None => {
                steps.push(Step {
                    target: c.address.target.to_string(),
                    changes: vec![i],
                });
                let s = steps.len() - 1;
                if let Some(k) = &key {
                    batches.entry(k.clone()).or_default().push(s);
                }
                s
            }
        };
        step_of[i] = s;
        if steps.get(s).is_some_and(|step| step.changes.len() >= limit) {
            if let Some(open) = key.as_ref().and_then(|k| batches.get_mut(k)) {
                open.retain(|&o| o != s);
            }
        }
    }
    for i in 0..n {
        if let Some(j) = carrier(i) {
            step_of[i] = step_of[j];
        }
    }
    let mut graph = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..steps.len()).map(|s| graph.add_node(s)).collect();
    let mut seen = BTreeSet::new();
    for e in change_graph.raw_edges() {
        let (a, b) = (step_of[e.source().index()], step_of[e.target().index()]);
        if a != b && seen.insert((a, b)) {
            graph.add_edge(nodes[a], nodes[b], ());
        }
    }
    Schedule {
        steps,
        graph,
        needs,
        carries,
    }
}

/// Each change's height: 0 for a change nothing depends on, else one more than the
/// greatest height of what depends on it. `None` for every change if the graph has a
/// cycle (it never should): then nothing is batched.
fn heights(graph: &DiGraph<usize, ()>) -> Vec<Option<usize>> {
    let Ok(order) = petgraph::algo::toposort(graph, None) else {
        return vec![None; graph.node_count()];
    };
    let mut height = vec![0usize; graph.node_count()];
    for n in order.iter().rev() {
        height[n.index()] = graph
            .neighbors_directed(*n, Direction::Outgoing)
            .map(|m| height[m.index()] + 1)
            .max()
            .unwrap_or(0);
    }
    height.into_iter().map(Some).collect()
}

/// What `execute_until` tells its caller as the run goes, each change's index being its
/// position in the plan.
#[derive(Debug)]
pub enum Event<'a> {
    /// These changes are about to be sent to their provider, as one step, with those the
    /// step's deletes carry out: told before anything goes out, so a record of it survives
    /// whatever happens to the request.
    Started(&'a [(usize, &'a Change)]),
    /// The outcome of one change, told once per change of the plan.
    Done(usize, &'a Change, &'a Outcome),
}

/// Executes the plan. `on_done` is called once per change as its outcome is known.
pub async fn execute(
    plan: &Reviewed,
    providers: &BTreeMap<String, Box<dyn Provider>>,
    parallelism: usize,
    mut on_done: impl FnMut(&Change, &Outcome),
) -> ApplyReport {
    execute_until(plan, providers, parallelism, &AtomicBool::new(false), |event| {
        if let Event::Done(_, c, o) = event {
            on_done(c, o);
        }
    })
    .await
}

/// Executes the plan until `stop` is set: from then on no step starts, the steps in
/// flight finish (a request cut off mid-way would leave its outcome unknown), and every
/// change not started is reported as interrupted. `on_event` hears each step just before
/// it is sent and each change's outcome.
pub async fn execute_until(
    plan: &Reviewed,
    providers: &BTreeMap<String, Box<dyn Provider>>,
    parallelism: usize,
    stop: &AtomicBool,
    mut on_event: impl FnMut(Event<'_>),
) -> ApplyReport {
    let Schedule {
        steps,
        graph,
        needs,
        carries,
    } = schedule(plan, providers);
    let mut outcomes: Vec<Option<Outcome>> = vec![None; plan.changes.len()];
    // Each target's preflight first: one that fails stops the run before any change, on
    // every target: nothing is sent, and each change says why.
    if let Some(error) = preflight(plan, providers).await {
        for (i, c) in plan.changes.iter().enumerate() {
            let outcome = Outcome::Blocked(error.clone());
            on_event(Event::Done(i, c, &outcome));
            outcomes[i] = Some(outcome);
        }
        return ApplyReport {
            outcomes: plan
                .changes
                .iter()
                .cloned()
                .zip(outcomes.into_iter().flatten())
                .collect(),
        };
    }
    let mut waiting: Vec<usize> = graph
        .node_indices()
        .map(|n| graph.neighbors_directed(n, Direction::Incoming).count())
        .collect();
    // Ready steps in plan order, so runs are as repeatable as concurrency allows.
    let mut ready: BTreeSet<usize> = (0..steps.len()).filter(|&s| waiting[s] == 0).collect();
    let mut running = FuturesUnordered::new();
    let parallelism = parallelism.max(1);
    // A change's outcome, and with it the outcome of each change it carries out.
    let record =
        |on_event: &mut dyn FnMut(Event<'_>), i: usize, outcome: Outcome, outcomes: &mut Vec<Option<Outcome>>| {
            let Some(c) = plan.changes.get(i) else { return };
            on_event(Event::Done(i, c, &outcome));
            for &k in &carries[i] {
                if outcomes[k].is_none() {
                    let theirs = outcome.of_carried(&c.address);
                    if let Some(carried) = plan.changes.get(k) {
                        on_event(Event::Done(k, carried, &theirs));
                    }
                    outcomes[k] = Some(theirs);
                }
            }
            outcomes[i] = Some(outcome);
        };
    loop {
        while running.len() < parallelism && !stop.load(Ordering::SeqCst) {
            let Some(s) = ready.pop_first() else { break };
            let Some(step) = steps.get(s) else { continue };
            // Members whose dependencies did not all apply are skipped, naming the root
            // failure; the rest go ahead as one batch.
            let mut batch: Vec<usize> = Vec::new();
            for &i in &step.changes {
                // A change riding with its principal's create waits for that create only
                // in the sense that it goes in the same request.
                let pending: Vec<usize> = needs[i].iter().copied().filter(|n| !batch.contains(n)).collect();
                match blocked_by(&pending, &outcomes, plan) {
                    Some(because) => record(&mut on_event, i, Outcome::Skipped { because }, &mut outcomes),
                    None => batch.push(i),
                }
            }
            if batch.is_empty() {
                release(&graph, s, &mut waiting, &mut ready);
                continue;
            }
            let mut started: Vec<(usize, &Change)> = batch
                .iter()
                .filter_map(|&i| plan.changes.get(i).map(|c| (i, c)))
                .collect();
            let changes: Vec<Change> = started.iter().map(|(_, c)| (*c).clone()).collect();
            // What the batch's deletes carry out happens with them: it is started too,
            // though not sent.
            let carried = batch.iter().flat_map(|&i| &carries[i]).copied();
            started.extend(
                carried
                    .filter(|&k| outcomes[k].is_none())
                    .filter_map(|k| plan.changes.get(k).map(|c| (k, c))),
            );
            on_event(Event::Started(&started));
            // Whoever heard the start may have stopped the run (Ctrl-C, or an intent it
            // could not record): then nothing of this step is sent.
            if stop.load(Ordering::SeqCst) {
                for i in batch {
                    record(&mut on_event, i, Outcome::Interrupted, &mut outcomes);
                }
                release(&graph, s, &mut waiting, &mut ready);
                continue;
            }
            let provider = providers.get(&step.target);
            running.push(async move {
                let result = match provider {
                    Some(p) => p.apply(&changes).await,
                    None => Err(ProviderError::Missing {
                        target: step.target.clone(),
                    }),
                };
                (s, batch, result)
            });
        }
        let Some((s, batch, result)) = running.next().await else {
            break;
        };
        for (at, i) in batch.into_iter().enumerate() {
            let outcome = match &result {
                Ok(()) => Outcome::Applied,
                // Only the changes named failed; the others of the batch applied.
                Err(ProviderError::Partial { target, failures }) => match failures.iter().find(|(k, _)| *k == at) {
                    Some((_, why)) => Outcome::Failed(format!("{target}: {why}")),
                    None => Outcome::Applied,
                },
                Err(e) => Outcome::Failed(e.to_string()),
            };
            record(&mut on_event, i, outcome, &mut outcomes);
        }
        release(&graph, s, &mut waiting, &mut ready);
    }
    // Every step runs once all its inputs are done, so without an interruption no change
    // should be left without an outcome; if one ever were, "skipped" is the truthful
    // report, and it is reported (and audited) like any other.
    let interrupted = stop.load(Ordering::SeqCst);
    for i in 0..plan.changes.len() {
        if outcomes[i].is_none() {
            if let Some(c) = plan.changes.get(i) {
                let outcome = if interrupted {
                    Outcome::Interrupted
                } else {
                    Outcome::Skipped {
                        because: c.address.clone(),
                    }
                };
                record(&mut on_event, i, outcome, &mut outcomes);
            }
        }
    }
    ApplyReport {
        outcomes: plan
            .changes
            .iter()
            .zip(outcomes)
            .filter_map(|(c, o)| Some((c.clone(), o?)))
            .collect(),
    }
}

/// Runs every target's preflight with its changes, all at once; the failures, each with
/// its target, in target order.
async fn preflight(plan: &Plan, providers: &BTreeMap<String, Box<dyn Provider>>) -> Option<String> {
    let mut per_target: BTreeMap<&str, Vec<Change>> = BTreeMap::new();
    for c in &plan.changes {
        per_target.entry(c.address.target.as_str()).or_default().push(c.clone());
    }
    let checks = per_target.into_iter().filter_map(|(target, changes)| {
        let provider = providers.get(target)?;
        Some(async move { (target, provider.preflight(&changes).await) })
    });
    let failed: Vec<String> = futures_util::future::join_all(checks)
        .await
        .into_iter()
        .filter_map(|(target, result)| result.err().map(|e| format!("{target}: {e}")))
        .collect();
    (!failed.is_empty()).then(|| failed.join("; "))
}

/// A finished step lets its successors go once all their inputs are done.
fn release(graph: &DiGraph<usize, ()>, step: usize, waiting: &mut [usize], ready: &mut BTreeSet<usize>) {
    for n in graph.neighbors_directed(NodeIndex::new(step), Direction::Outgoing) {
        let j = n.index();
        waiting[j] = waiting[j].saturating_sub(1);
        if waiting[j] == 0 {
            ready.insert(j);
        }
    }
}

/// The failed change that keeps a change from running, if any of its dependencies did not
/// apply (a skipped dependency passes on its own cause).
fn blocked_by(needs: &[usize], outcomes: &[Option<Outcome>], plan: &Plan) -> Option<Address> {
    needs
        .iter()
        .find_map(|&j| match outcomes.get(j).and_then(Option::as_ref) {
            Some(Outcome::Applied | Outcome::Carried { .. }) => None,
            Some(Outcome::Failed(_) | Outcome::Interrupted | Outcome::Blocked(_)) | None => {
                plan.changes.get(j).map(|c| c.address.clone())
            }
            Some(Outcome::Skipped { because }) => Some(because.clone()),
        })
}

#[cfg(test)]
mod tests;
