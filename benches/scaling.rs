//! Compile time against graph size: `compile/chain_scaling/N` builds the executable of
//! an N-op elementwise chain (passes, fusion, codegen). Near-linear passes make the
//! 100k/10k ratio the figure to read. Run with
//! `taskset -c 0 cargo bench --bench scaling`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use kiln::runtime::exec::Executable;
use kiln::{DType, Graph};
use std::hint::black_box;

fn chain_scaling(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile/chain_scaling");
    group.sample_size(10);
    for n in [1_000usize, 10_000, 100_000] {
        let g = Graph::new();
        let x = g.placeholder(DType::F32, [None], "x").unwrap();
        let mut y = x.clone();
        for i in 0..n {
            y = if i % 2 == 0 { &y * 1.0001 } else { &y + 0.001 };
        }
        let m = g.module();
        let root = y.value().unwrap();
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| Executable::build(black_box(&m), &[root], &Default::default()).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, chain_scaling);
criterion_main!(benches);
