//! A training step through `make_callable` allocates nothing: a counting global
//! allocator watches 1,000 steps of the notebook's sine training.

use kiln::train::{AdamOptimizer, Optimizer};
use kiln::{Axes, Graph, Session};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's layout contract is forwarded.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: `p` came from this allocator with layout `l`.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

#[path = "../examples/sine.rs"]
#[allow(dead_code)]
mod sine;

#[test]
fn training_steps_allocate_nothing() {
    let g = Graph::new();
    let (x, y, pred) = sine::create_model(&g).unwrap();
    let mse = kiln::reduce_mean(&(0.5 * kiln::square(&(&pred - &y)).unwrap()), Axes::All, false).unwrap();
    let train = AdamOptimizer::default().minimize(&mse, None).unwrap();
    let mut sess = Session::new(&g);
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    let mut step = sess.make_callable(&[&train, &mse], &[&x, &y]).unwrap();
    let (inputs, outputs) = sine::data(0);
    let batches: Vec<(ndarray::Array2<f32>, ndarray::Array2<f32>)> = (0..8)
        .map(|b| {
            let idx: Vec<usize> = (0..32).map(|i| (b * 977 + i * 313) % 10_000).collect();
            (inputs.select(ndarray::Axis(0), &idx), outputs.select(ndarray::Axis(0), &idx))
        })
        .collect();
    let views: Vec<[ndarray::ArrayViewD<f32>; 2]> =
        batches.iter().map(|(a, b)| [a.view().into_dyn(), b.view().into_dyn()]).collect();
    // the first call binds shapes (and may allocate); the loop must not
    step.run(&mut sess, &views[0]).unwrap();
    let first = step.fetch(1, &sess).unwrap()[0];
    let before = ALLOCS.load(Ordering::Relaxed);
    let mut last = 0.0;
    for i in 0..1000 {
        step.run(&mut sess, &views[i % views.len()]).unwrap();
        last = step.fetch(1, &sess).unwrap()[0];
    }
    let after = ALLOCS.load(Ordering::Relaxed);
    assert_eq!(after - before, 0, "allocations during 1,000 training steps");
    assert!(last < first, "the loss went down: {first} -> {last}");
}
