//! Compile time against graph size, `compile/scaling/<shape>/<ops>`: building the
//! executable (every stage and codegen) of
//! - `neg`: a chain of `neg` (simplify folds it away: the passes alone);
//! - `alt`: a chain alternating `* c`, `tanh`, `+ c` (fused kernels of every size);
//! - `tanh_grad`: the graph `gradients` builds for a `tanh` chain (`ops` counts the
//!   forward chain), its build included;
//! - `fanout`: `ops` independent `tanh(x * i)` fetched together;
//!
//! at 1k, 10k, 100k and 200k ops. Linear stages make 10x the ops cost about 10x the
//! time; the figure to read is each ratio. Run with
//! `taskset -c 0 cargo bench -p kiln-benches --bench scaling` (the large sizes take
//! minutes: `-- 'compile/scaling/.*/1000$'` picks the small ones).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use kiln::runtime::exec::Executable;
use kiln::{DType, Graph, Tensor};
use std::hint::black_box;
use std::time::Duration;

const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 200_000];

/// The graph of `shape` at `n` ops and what to fetch.
fn graph(shape: &str, n: usize) -> (Graph, Vec<Tensor>) {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None], "x").unwrap();
    let fetch = match shape {
        "neg" => {
            let mut y = x.clone();
            for _ in 0..n {
                y = kiln::negative(&y).unwrap();
            }
            vec![y]
        }
        "alt" => vec![alternating(&x, n)],
        "fanout" => (0..n).map(|i| kiln::tanh(&(&x * (i as f32))).unwrap()).collect(),
        _ => unreachable!("a shape of this file"),
    };
    (g, fetch)
}

fn alternating(x: &Tensor, n: usize) -> Tensor {
    let mut y = x.clone();
    for i in 0..n {
        y = match i % 3 {
            0 => &y * 1.0001,
            1 => kiln::tanh(&y).unwrap(),
            _ => &y + 0.001,
        };
    }
    y
}

/// `d/dx sum(tanh^n(x))`, built on a fresh graph.
fn tanh_grad(n: usize) -> (Graph, Tensor) {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None], "x").unwrap();
    let mut y = x.clone();
    for _ in 0..n {
        y = kiln::tanh(&y).unwrap();
    }
    let s = kiln::reduce_sum(&y, kiln::Axes::All, false).unwrap();
    let dx = kiln::gradients(&[&s], &[&x]).unwrap()[0].clone().unwrap();
    (g, dx)
}

fn compile(g: &Graph, fetch: &[Tensor]) -> Executable {
    let m = g.module();
    let roots: Vec<_> = fetch.iter().map(|t| t.value().unwrap()).collect();
    Executable::build(black_box(&m), &roots, &Default::default()).unwrap()
}

fn scaling(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile/scaling");
    group.sample_size(10).warm_up_time(Duration::from_millis(100)).measurement_time(Duration::from_secs(1));
    for shape in ["neg", "alt", "tanh_grad", "fanout"] {
        for n in SIZES {
            group.bench_with_input(BenchmarkId::new(shape, n), &n, |b, &n| {
                if shape == "tanh_grad" {
                    // the gradient's construction is part of what is measured
                    b.iter(|| {
                        let (g, dx) = tanh_grad(n);
                        compile(&g, &[dx])
                    })
                } else {
                    let (g, fetch) = graph(shape, n);
                    b.iter(|| compile(&g, &fetch))
                }
            });
        }
    }
    group.finish();
}

criterion_group!(benches, scaling);
criterion_main!(benches);
