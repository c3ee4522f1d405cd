//! What a real training loop does around a session, against the same step at a fixed
//! batch size measured in the same run. Run with
//! `taskset -c 0 cargo bench --bench training_loop`.
//!
//! - `bind/new_batch_size/{sine,mlp784}`: binding a callable to a batch size it has not
//!   seen (every size in the cycle is evicted before it comes back), beside one step at
//!   a batch size it has (`step_seen`), and, for sine, a whole run at a new size
//!   (`run_new`).
//! - `train_step/sine_alternating`: batch 1 and batch 32 alternately on one callable,
//!   beside each fixed size (two steps per iteration for all three).
//! - `train_step/policy_gradient`: a 4-32-32-2 softmax policy trained by REINFORCE's
//!   loss (int32 actions, f32 advantages), a new batch size in 500..5000 every call,
//!   beside the same at a fixed 2750 (the mean size).

use criterion::{criterion_group, criterion_main, Criterion};
use kiln::train::{AdamOptimizer, Optimizer};
use kiln::{nn, Axes, DType, Feed, Graph, Initializer, Session, SessionOptions, Tensor};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use std::hint::black_box;

fn rand2(seed: u64, r: usize, c: usize) -> Array2<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    Array2::from_shape_fn((r, c), |_| rng.random_range(-1.0..1.0))
}

/// An MLP (ReLU hidden layers) with a regression or softmax cross-entropy loss.
fn mlp(sizes: &[usize], softmax: bool) -> (Graph, Tensor, Tensor, Tensor, Tensor) {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None, Some(sizes[0])], "x").unwrap();
    let y = g.placeholder(DType::F32, [None, Some(*sizes.last().unwrap())], "y").unwrap();
    let h = layers(&g, &x, sizes);
    let loss = if softmax {
        kiln::reduce_mean(&nn::softmax_cross_entropy_with_logits(&y, &h).unwrap(), Axes::All, false).unwrap()
    } else {
        kiln::reduce_mean(&(0.5 * kiln::square(&(&h - &y)).unwrap()), Axes::All, false).unwrap()
    };
    let train = AdamOptimizer::default().minimize(&loss, None).unwrap();
    (g, x, y, loss, train)
}

fn layers(g: &Graph, x: &Tensor, sizes: &[usize]) -> Tensor {
    let mut h = x.clone();
    for i in 0..sizes.len() - 1 {
        let _s = g.variable_scope(&format!("layer_{i}"));
        let w = g.get_variable("W", &[sizes[i], sizes[i + 1]], DType::F32, Initializer::xavier()).unwrap();
        let b = g.get_variable("b", &[sizes[i + 1]], DType::F32, Initializer::Zeros).unwrap();
        h = kiln::matmul(&h, &w).unwrap() + &b;
        if i + 2 < sizes.len() {
            h = nn::relu(&h).unwrap();
        }
    }
    h
}

fn session(g: &Graph) -> Session {
    let mut sess = Session::with_options(g, SessionOptions { backend: kiln::Backend::Jit, ..Default::default() });
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    sess
}

fn bind_new_batch_size(c: &mut Criterion) {
    let mut group = c.benchmark_group("bind/new_batch_size");
    for (name, sizes, softmax, cycle) in
        [("sine", &[1usize, 20, 20, 1][..], false, 200usize), ("mlp784", &[784, 1024, 1024, 10][..], true, 64)]
    {
        let (g, x, y, loss, train) = mlp(sizes, softmax);
        let mut sess = session(&g);
        let mut step = sess.make_callable(&[&train, &loss], &[&x, &y]).unwrap();
        let (nin, nout) = (sizes[0], *sizes.last().unwrap());
        // batch sizes 1..=cycle in turn: with 8 bindings kept, each is new when it comes
        let mut n = 0;
        group.bench_function(format!("{name}/bind"), |b| {
            b.iter(|| {
                n = n % cycle + 1;
                step.bind(&mut sess, black_box(&[&[n, nin], &[n, nout]])).unwrap()
            })
        });
        let batch = if name == "sine" { 32 } else { 16 };
        let (xs, ys) = (rand2(1, batch, nin), rand2(2, batch, nout));
        let feeds = [xs.view().into_dyn(), ys.view().into_dyn()];
        group.bench_function(format!("{name}/step_seen"), |b| {
            b.iter(|| step.run(&mut sess, black_box(&feeds)).unwrap())
        });
        if name == "sine" {
            let data: Vec<(Array2<f32>, Array2<f32>)> =
                (1..=cycle).map(|n| (rand2(n as u64, n, nin), rand2(n as u64 + 7, n, nout))).collect();
            let mut k = 0;
            group.bench_function(format!("{name}/run_new"), |b| {
                b.iter(|| {
                    k = (k + 1) % cycle;
                    let (xb, yb) = &data[k];
                    step.run(&mut sess, black_box(&[xb.view().into_dyn(), yb.view().into_dyn()])).unwrap()
                })
            });
        }
    }
    group.finish();
}

fn sine_alternating(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_step/sine_alternating");
    let (g, x, y, loss, train) = mlp(&[1, 20, 20, 1], false);
    let mut sess = session(&g);
    let mut step = sess.make_callable(&[&train, &loss], &[&x, &y]).unwrap();
    let (x1, y1) = (rand2(1, 1, 1), rand2(2, 1, 1));
    let (x32, y32) = (rand2(3, 32, 1), rand2(4, 32, 1));
    let f1 = [x1.view().into_dyn(), y1.view().into_dyn()];
    let f32b = [x32.view().into_dyn(), y32.view().into_dyn()];
    group.bench_function("alternating_1_32", |b| {
        b.iter(|| {
            step.run(&mut sess, black_box(&f1)).unwrap();
            step.run(&mut sess, black_box(&f32b)).unwrap();
        })
    });
    group.bench_function("fixed_1", |b| {
        b.iter(|| {
            step.run(&mut sess, black_box(&f1)).unwrap();
            step.run(&mut sess, black_box(&f1)).unwrap();
        })
    });
    group.bench_function("fixed_32", |b| {
        b.iter(|| {
            step.run(&mut sess, black_box(&f32b)).unwrap();
            step.run(&mut sess, black_box(&f32b)).unwrap();
        })
    });
    group.finish();
}

fn policy_gradient(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_step/policy_gradient");
    let g = Graph::new();
    let obs = g.placeholder(DType::F32, [None, Some(4)], "obs").unwrap();
    let act = g.placeholder(DType::I32, [None], "act").unwrap();
    let adv = g.placeholder(DType::F32, [None], "adv").unwrap();
    let logits = layers(&g, &obs, &[4, 32, 32, 2]);
    let nll = nn::sparse_softmax_cross_entropy_with_logits(&act, &logits).unwrap();
    let loss = kiln::reduce_mean(&(&nll * &adv), Axes::All, false).unwrap();
    let train = AdamOptimizer::new(1e-2).minimize(&loss, None).unwrap();
    let mut sess = session(&g);
    let mut step = sess.make_callable(&[&train, &loss], &[&obs, &act, &adv]).unwrap();
    let batch = |n: usize, seed: u64| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let o = rand2(seed, n, 4);
        let a = Array1::from_shape_fn(n, |_| rng.random_range(0..2i32));
        let d = Array1::from_shape_fn(n, |_| rng.random_range(-1.0f32..1.0));
        (o, a, d)
    };
    // 64 episode batches of sizes spread over 500..5000; with 8 bindings kept each call
    // binds anew
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let varying: Vec<_> = (0..64).map(|k| batch(rng.random_range(500..5000), k)).collect();
    let mut k = 0;
    group.bench_function("varying_500_5000", |b| {
        b.iter(|| {
            k = (k + 1) % varying.len();
            let (o, a, d) = &varying[k];
            step.run(&mut sess, black_box(&[Feed::from(o), Feed::from(a), Feed::from(d)])).unwrap()
        })
    });
    let mean = varying.iter().map(|v| v.0.nrows()).sum::<usize>() / varying.len();
    let (o, a, d) = batch(mean, 99);
    group.bench_function(format!("fixed_{mean}"), |b| {
        b.iter(|| step.run(&mut sess, black_box(&[Feed::from(&o), Feed::from(&a), Feed::from(&d)])).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bind_new_batch_size, sine_alternating, policy_gradient);
criterion_main!(benches);
