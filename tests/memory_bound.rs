//! Memory stays bounded over a long training loop that builds an op at every update
//! (a logging expression, as users add them mid-training), measured by a counting
//! allocator of live heap bytes.
//!
//! The bound: what the loop leaves live beyond its start is at most what the same
//! number of ops costs in a graph that never runs (the graph itself must grow: every
//! op a user builds is kept, as in TF) plus 2 MiB for the session's caches, which are
//! bounded by count (executables, bindings), not by the updates run.

use kiln::train::AdamOptimizer;
use kiln::{Axes, Graph, Optimizer, Session, SessionOptions};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Live;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only counts bytes.
unsafe impl GlobalAlloc for Live {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's layout contract is forwarded unchanged.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` came from `alloc` above with this layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static A: Live = Live;

#[path = "../examples/sine.rs"]
#[allow(dead_code)]
mod sine;

const UPDATES: usize = 10_000;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

#[test]
fn ten_thousand_updates_that_each_build_an_op_stay_bounded() {
    let g = Graph::new();
    let (x, y, pred) = sine::create_model(&g).unwrap();
    let mse = kiln::reduce_mean(&(0.5 * kiln::square(&(&pred - &y)).unwrap()), Axes::All, false).unwrap();
    let train = AdamOptimizer::default().minimize(&mse, None).unwrap();
    let opts = SessionOptions { backend: kiln::Backend::Jit, check: false, log_compiles: false, ..Default::default() };
    let mut sess = Session::with_options(&g, opts);
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    let (inputs, outputs) = sine::data(0);
    let xb = inputs.slice(ndarray::s![0..32, ..]).to_owned();
    let yb = outputs.slice(ndarray::s![0..32, ..]).to_owned();
    let feeds = [(&x, xb.clone().into()), (&y, yb.into())];
    // warm up: the step's executable and binding exist, a logging fetch set compiled
    for i in 0..100 {
        let _ = &pred * i as f32;
        sess.run(&[&train, &mse], &feeds).unwrap();
    }
    let log0 = kiln::reduce_max(&pred, Axes::All, false).unwrap();
    sess.run1(&log0, &[(&x, xb.clone().into())]).unwrap();
    let start = live();
    let compiles = sess.compile_stats().compiles;
    let mut logged = 0;
    for i in 0..UPDATES {
        let logging = kiln::reduce_max(&(&pred * (i as f32)), Axes::All, false).unwrap();
        sess.run(&[&train, &mse], &feeds).unwrap();
        if i % 500 == 0 {
            // now and then the new expression is fetched: a new fetch set, compiled once
            sess.run1(&logging, &[(&x, xb.clone().into())]).unwrap();
            logged += 1;
        }
    }
    let grown = live() - start;
    assert_eq!(sess.compile_stats().compiles, compiles + logged, "only the logged fetch sets compiled");
    assert!(sess.cached_executables() <= SessionOptions::default().max_executables);

    // the same ops in a graph that never runs: what the graph itself must keep
    let g2 = Graph::new();
    let (_, _, pred2) = sine::create_model(&g2).unwrap();
    let before = live();
    let mut keep = Vec::new();
    for i in 0..UPDATES {
        let logging = kiln::reduce_max(&(&pred2 * (i as f32)), Axes::All, false).unwrap();
        if i % 500 == 0 {
            keep.push(logging);
        }
    }
    let graph_only = live() - before;
    let slack = 2 << 20;
    eprintln!("live heap: the loop kept {grown} bytes, the ops alone {graph_only}");
    assert!(
        grown <= graph_only + slack,
        "the loop kept {grown} bytes; building the ops alone keeps {graph_only} (allowed: + {slack})"
    );
}
