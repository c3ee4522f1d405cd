//! Long and wide graphs compile in near-linear time with no recursion on graph depth:
//! a 100,000-op elementwise chain, its gradient, and a 20,000-wide group, each built,
//! compiled and run on the default test thread's stack, and checked against the
//! interpreter. `benches/scaling.rs` times the compile at 1k, 10k and 100k ops.

use kiln::{Backend, DType, Graph, Session, SessionOptions, Tensor};

/// `y = ((x * a + b) * a + b) ...`, `n` ops after the placeholder.
fn chain(x: &Tensor, n: usize) -> Tensor {
    let mut y = x.clone();
    for i in 0..n {
        y = if i % 2 == 0 { &y * 1.0001 } else { &y + 0.001 };
    }
    y
}

fn session(g: &Graph, backend: Backend) -> Session {
    Session::with_options(g, SessionOptions { backend, check: false, log_compiles: false, ..Default::default() })
}

#[test]
fn a_100k_op_chain_compiles_and_runs() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None], "x").unwrap();
    let y = chain(&x, 100_000);
    let feeds = [(&x, vec![1.0f32, -2.0, 0.5].into())];
    let mut jit = session(&g, Backend::Jit);
    let a = jit.run1(&y, &feeds).unwrap();
    assert_eq!(jit.run_counts(), (1, 0));
    // fused into kernels of at most MAX_KERNEL_OPS ops each, which compile in linear time
    let cap = kiln::passes::fusion::MAX_KERNEL_OPS;
    let kernels = jit.schedule_of(&[&y]).unwrap().kernel_count();
    assert!((100_000 / cap..=100_000 / cap + 2).contains(&kernels), "{kernels} kernels");
    let b = session(&g, Backend::Interpreter).run1(&y, &feeds).unwrap();
    for (p, q) in a.as_f32().unwrap().iter().zip(b.as_f32().unwrap()) {
        assert!((p - q).abs() <= 1e-3 * q.abs().max(1.0), "jit {p} vs interpreter {q}");
    }
}

#[test]
fn the_gradient_of_a_20k_op_chain() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None], "x").unwrap();
    let y = kiln::reduce_sum(&chain(&x, 20_000), kiln::Axes::All, false).unwrap();
    let dx = kiln::gradients(&[&y], &[&x]).unwrap()[0].clone().unwrap();
    let feeds = [(&x, vec![1.0f32, 2.0].into())];
    let got = session(&g, Backend::Jit).run1(&dx, &feeds).unwrap().into_f32().unwrap();
    // d/dx of the chain is 1.0001^10000
    let want = 1.0001f64.powi(10_000) as f32;
    for v in got.iter() {
        assert!((v - want).abs() <= 1e-3 * want, "{v} vs {want}");
    }
}

#[test]
fn a_20k_wide_group_compiles_and_runs() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None], "x").unwrap();
    let v = g.get_variable("acc", &[1], DType::F32, kiln::Initializer::Zeros).unwrap();
    let outs: Vec<Tensor> = (0..20_000).map(|i| &x * (i as f32)).collect();
    let refs: Vec<&Tensor> = outs.iter().collect();
    let total = kiln::reduce_sum(&kiln::reduce_sum(&x, kiln::Axes::All, true).unwrap(), kiln::Axes::All, true).unwrap();
    let bump = kiln::assign(&v, &kiln::reshape(&total, &[1]).unwrap()).unwrap();
    let mut all = refs.clone();
    all.push(&bump);
    let grp = kiln::group(&all).unwrap();
    let mut jit = session(&g, Backend::Jit);
    jit.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    jit.run1(&grp, &[(&x, vec![1.0f32, 2.0].into())]).unwrap();
    assert_eq!(jit.run_counts().1, 0);
    assert_eq!(jit.variable(&v).unwrap().to_string(), "[3.]");
    let s = jit.schedule_of(&[&grp]).unwrap();
    assert!(s.kernel_count() >= 20_000 / 64, "merged kernels stay bounded in size: {}", s.kernel_count());
}
