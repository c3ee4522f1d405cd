//! Ordering steps by their dependencies and merging back-to-back independent loop
//! kernels into one function.

use super::*;

/// Orders steps by their dependencies (stable in op order) and merges back-to-back
/// independent loop kernels into one function.
/// Each step's reads and writes come from [`Step::reads`] and [`Step::writes`], as
/// everywhere else.
pub(super) fn order_and_merge(
    m: &Module,
    mut keyed: Vec<(usize, Step)>,
    merge: bool,
    refusals: &mut Vec<Refusal>,
) -> Vec<Step> {
    keyed.sort_by_key(|s| s.0);
    let mut steps: Vec<(Step, Vec<ValueId>, Vec<ValueId>)> = keyed
        .into_iter()
        .map(|(_, st)| {
            let (r, w) = (st.reads(m).collect(), st.writes().collect());
            (st, r, w)
        })
        .collect();
    let n = steps.len();
    let producer: HashMap<ValueId, usize> =
        steps.iter().enumerate().flat_map(|(i, s)| s.2.iter().map(move |&v| (v, i))).collect();
    let deps: Vec<Vec<usize>> = (0..n)
        .map(|i| steps[i].1.iter().filter_map(|v| producer.get(v).copied()).filter(|&p| p != i).collect())
        .collect();
    // Kahn's algorithm, taking the earliest ready step first (op order where free)
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting: Vec<usize> = vec![0; n];
    for (i, ds) in deps.iter().enumerate() {
        let mut ds = ds.clone();
        ds.sort_unstable();
        ds.dedup();
        waiting[i] = ds.len();
        for d in ds {
            users[d].push(i);
        }
    }
    let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> =
        (0..n).filter(|&i| waiting[i] == 0).map(std::cmp::Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(std::cmp::Reverse(next)) = ready.pop() {
        order.push(next);
        for &u in &users[next] {
            waiting[u] -= 1;
            if waiting[u] == 0 {
                ready.push(std::cmp::Reverse(u));
            }
        }
    }
    debug_assert_eq!(order.len(), n, "steps form a DAG");
    let mut out: Vec<(Step, HashSet<ValueId>)> = Vec::new();
    let is_epilogue = |s: &Step| matches!(s, Step::Loop(k) if k.epilogue_of.is_some());
    // a merged kernel stays one readable, quickly compiled function
    let full = |s: &Step| matches!(s, Step::Loop(k) if k.nests.len() >= MAX_MERGED_NESTS);
    for i in order {
        let (step, reads, writes) = std::mem::replace(
            &mut steps[i],
            (Step::Host(HostStep { value: ValueId(0), reason: String::new() }), Vec::new(), Vec::new()),
        );
        if let (true, Step::Loop(k)) = (merge, &step) {
            // merge into the latest earlier loop kernel that writes nothing this one
            // reads, moving it back past steps that write nothing it reads either:
            // one call instead of two (a weight's transpose joins the loss kernel)
            let mut at = out.len();
            let target = loop {
                if at == 0 || k.epilogue_of.is_some() {
                    break None;
                }
                at -= 1;
                let mergeable = matches!(&out[at].0, Step::Loop(_)) && !is_epilogue(&out[at].0);
                let first = k.provenance.first().map(|o| o.value());
                if let Some(&r) = reads.iter().find(|r| out[at].1.contains(r)) {
                    if let (true, Some(value)) = (mergeable, first) {
                        refusals.push(Refusal { value, why: Why::NotMerged { reads: r } });
                    }
                    break None;
                }
                if mergeable {
                    if full(&out[at].0) {
                        if let Some(value) = first {
                            refusals.push(Refusal { value, why: Why::MergedKernelFull });
                        }
                        break None;
                    }
                    break Some(at);
                }
            };
            if let Some(t) = target {
                if let (Step::Loop(prev), prev_writes) = &mut out[t] {
                    prev.nests.extend(k.nests.iter().cloned());
                    prev.provenance.extend(k.provenance.iter().cloned());
                    prev_writes.extend(writes);
                    continue;
                }
            }
        }
        out.push((step, writes.into_iter().collect()));
    }
    out.into_iter()
        .enumerate()
        .map(|(i, (mut s, _))| {
            if let Step::Loop(k) = &mut s {
                k.name = format!("fusion.{i}");
            }
            s
        })
        .collect()
}
