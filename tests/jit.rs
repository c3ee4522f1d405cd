//! The JIT against the interpreter on the same graphs: every compiled op on awkward
//! shapes (0, 1, not a multiple of 4, large), random graphs (proptest), kernel counts,
//! polynomial accuracy and check mode.

mod common;

use kiln::{nn, Axes, Backend, DType, Graph, RankPromotion, Session, SessionOptions, Tensor, TensorValue};
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};

/// Options for a test session: no logging, no check mode, `threads` threads.
fn options(backend: Backend, threads: usize) -> SessionOptions {
    SessionOptions {
        backend,
        log_compiles: false,
        check: false,
        threads,
        flush_denormals: true,
        ..SessionOptions::default()
    }
}

fn session(g: &Graph, backend: Backend) -> Session {
    Session::with_options(g, options(backend, 1))
}

fn rand_array(seed: u64, shape: &[usize], lo: f32, hi: f32) -> ArrayD<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    ArrayD::from_shape_fn(IxDyn(shape), |_| rng.random_range(lo..hi))
}

/// |jit - interp| <= atol + rtol |interp|, NaN matching NaN.
fn assert_close(what: &str, jit: &TensorValue, interp: &TensorValue, atol: f32, rtol: f32) {
    let (a, b) = (jit.as_f32().unwrap(), interp.as_f32().unwrap());
    assert_eq!(a.shape(), b.shape(), "{what}: shapes");
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        let ok = (x - y).abs() <= atol + rtol * y.abs() || (x.is_nan() && y.is_nan()) || x == y;
        assert!(ok, "{what}: element {i}: jit {x} vs interp {y}");
    }
}

/// Runs `fetches` on both backends with the same feeds; asserts the JIT compiled them.
fn diff(what: &str, g: &Graph, fetches: &[&Tensor], feeds: &[(&Tensor, TensorValue)], atol: f32, rtol: f32) {
    let mut jit = session(g, Backend::Jit);
    let mut interp = session(g, Backend::Interpreter);
    let a = jit.run(fetches, feeds).unwrap();
    let b = interp.run(fetches, feeds).unwrap();
    assert_eq!(jit.run_counts(), (1, 0), "{what}: ran on the JIT");
    for (x, y) in a.iter().zip(&b) {
        assert_close(what, x, y, atol, rtol);
    }
}

const SHAPES: &[&[usize]] = &[&[0], &[1], &[3], &[4], &[7], &[2, 5], &[3, 1, 6], &[4099], &[65, 33]];

/// The range each unary op is run on against the interpreter: an exhaustive match, so
/// an op added to the table does not compile until it is tested here.
fn unary_range(u: kiln::ir::UnaryOp) -> (f32, f32) {
    use kiln::ir::UnaryOp::*;
    match u {
        Neg | Abs | Sign | Square | Relu => (-3.0, 3.0),
        Exp => (-20.0, 20.0),
        Log => (1e-3, 1e3),
        Sqrt => (0.0, 100.0),
        Rsqrt => (0.01, 100.0),
        Tanh => (-6.0, 6.0),
        Sigmoid | Softplus => (-10.0, 10.0),
        Log1p => (-0.99, 10.0),
        Elu => (-5.0, 3.0),
    }
}

#[test]
fn unary_ops_on_awkward_shapes() {
    for &u in kiln::ir::UNARY_OPS {
        let (lo, hi) = unary_range(u);
        for (si, shape) in SHAPES.iter().enumerate() {
            let g = Graph::new();
            let x = g.placeholder(DType::F32, shape.to_vec(), "x").unwrap();
            let y = kiln::unary_op(u, &x).unwrap();
            let feed = rand_array(si as u64, shape, lo, hi);
            diff(&format!("{}{shape:?}", u.mnemonic()), &g, &[&y], &[(&x, feed.into())], 1e-6, 3e-6);
        }
    }
}

#[test]
fn binary_ops_with_broadcasts() {
    type F = fn(&Tensor, &Tensor) -> Tensor;
    let ops: &[(&str, F)] = &[
        ("add", |x, y| x + y),
        ("sub", |x, y| x - y),
        ("mul", |x, y| x * y),
        ("div", |x, y| x / y),
        ("pow", |x, y| kiln::pow(&kiln::abs(x).unwrap(), y).unwrap()),
        ("maximum", |x, y| kiln::maximum(x, y).unwrap()),
        ("minimum", |x, y| kiln::minimum(x, y).unwrap()),
        ("where", |x, y| kiln::where_(&kiln::less(x, y).unwrap(), x, y).unwrap()),
        ("ge_select", |x, y| kiln::where_(&kiln::greater_equal(x, y).unwrap(), y, x).unwrap()),
    ];
    let pairs: &[(&[usize], &[usize])] = &[
        (&[7], &[7]),
        (&[0, 3], &[3]),
        (&[5, 6], &[6]),
        (&[5, 1], &[1, 6]),
        (&[9, 4], &[]),
        (&[3, 4, 5], &[4, 1]),
        (&[1031], &[1031]),
    ];
    for &(name, f) in ops {
        for (pi, &(a, b)) in pairs.iter().enumerate() {
            let g = Graph::new();
            g.set_rank_promotion(RankPromotion::Allow);
            let x = g.placeholder(DType::F32, a.to_vec(), "x").unwrap();
            let y = g.placeholder(DType::F32, b.to_vec(), "y").unwrap();
            let z = f(&x, &y);
            let feeds = [
                (&x, rand_array(pi as u64, a, -2.0, 2.0).into()),
                (&y, rand_array(99 + pi as u64, b, 0.5, 2.0).into()),
            ];
            diff(&format!("{name}{a:?}{b:?}"), &g, &[&z], &feeds, 1e-6, 3e-6);
        }
    }
}

/// The range each reduction is run on: an exhaustive match, so an op added to the
/// table does not compile until it is tested here.
fn reduce_range(r: kiln::ir::ReduceOp) -> (f32, f32) {
    use kiln::ir::ReduceOp::*;
    match r {
        Sum | Mean | Max | Min => (-3.0, 3.0),
        // a product of 1030 such terms stays well inside f32
        Prod => (0.6, 1.5),
    }
}

#[test]
fn reductions_every_axis() {
    let shapes: &[&[usize]] = &[&[0, 4], &[1, 1], &[6, 5], &[3, 4, 5], &[33, 2, 7], &[2, 1030], &[3, 5000]];
    for (si, &shape) in shapes.iter().enumerate() {
        let r = shape.len();
        let mut axes_sets: Vec<Vec<i64>> = (0..r as i64).map(|a| vec![a]).collect();
        axes_sets.push((0..r as i64).collect());
        for axes in axes_sets {
            for keep in [false, true] {
                for &op in kiln::ir::REDUCE_OPS {
                    let g = Graph::new();
                    let x = g.placeholder(DType::F32, shape.to_vec(), "x").unwrap();
                    let y = kiln::reduce_op(op, &x, axes.clone(), keep).unwrap();
                    let (lo, hi) = reduce_range(op);
                    let feed = rand_array(si as u64, shape, lo, hi);
                    let name = format!("{}{shape:?}{axes:?}{keep}", op.mnemonic());
                    diff(&name, &g, &[&y], &[(&x, feed.into())], 1e-5, 1e-5);
                }
            }
        }
    }
}

#[test]
fn cumsum_between_kernels() {
    // a host step between two fused kernels, on a batch of unknown length
    let g = Graph::new();
    let r = g.placeholder(DType::F32, [None::<usize>], "r").unwrap();
    let togo = kiln::cumsum(&(&r * 0.5), 0, false, true).unwrap();
    let y = kiln::tanh(&togo).unwrap();
    for n in [1usize, 7, 200] {
        diff(
            &format!("cumsum{n}"),
            &g,
            &[&y, &togo],
            &[(&r, rand_array(n as u64, &[n], -1.0, 1.0).into())],
            1e-6,
            1e-6,
        );
    }
}

#[test]
fn long_sums_of_any_length_stay_accurate() {
    // a batch of unknown length takes the cascaded loop at every level (leaves of 1024,
    // blocks of 256 leaves, then the rest): lengths around each boundary, against the
    // float64 sum, which a running float32 sum would miss by ~n/4 ulp
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None::<usize>], "x").unwrap();
    let s = kiln::reduce_sum(&x, Axes::All, false).unwrap();
    let m = kiln::reduce_mean(&x, Axes::All, false).unwrap();
    let mut sess = Session::new(&g);
    for n in [3usize, 1023, 1024, 1028, 262_143, 262_144, 262_148, 600_001] {
        let v: Vec<f32> = (0..n).map(|i| 0.1 + (i % 7) as f32 * 0.01).collect();
        let exact: f64 = v.iter().map(|&t| f64::from(t)).sum();
        let out = sess.run(&[&s, &m], &[(&x, v.into())]).unwrap();
        let (got, mean) = (f64::from(out[0].as_f32().unwrap()[[]]), f64::from(out[1].as_f32().unwrap()[[]]));
        let rel = ((got - exact) / exact).abs();
        assert!(rel < 3e-6, "sum of {n}: {got} vs {exact} ({rel:e} relative)");
        assert!(((mean - exact / n as f64) / (exact / n as f64)).abs() < 3e-6, "mean of {n}: {mean}");
    }
}

#[test]
fn matmuls_with_transposes_and_epilogues() {
    let dims: &[(usize, usize, usize)] = &[
        (0, 3, 4),
        (1, 1, 1),
        (3, 0, 2),
        (32, 1, 20),
        (32, 20, 20),
        (32, 20, 1),
        (37, 29, 13),
        (130, 70, 90),
        // output layers of 2 and 3 actions: every column is a tail column
        (64, 64, 2),
        (1, 64, 2),
        (13, 7, 3),
    ];
    // (the micro-kernel runs 8-row blocks, a 4-row group, then single rows, and the
    // columns past the last multiple of 4 one at a time: the next test covers every
    // remainder of m by 8)
    for &(m, k, n) in dims {
        let g = Graph::new();
        let a = g.placeholder(DType::F32, [m, k], "a").unwrap();
        let b = g.placeholder(DType::F32, [k, n], "b").unwrap();
        let bias = g.placeholder(DType::F32, [n], "bias").unwrap();
        let y = nn::relu(&(kiln::matmul(&a, &b).unwrap() + &bias)).unwrap();
        // transposed operands fold into the GEMM's strides
        let at = kiln::transpose(&a, None).unwrap();
        let z = kiln::matmul(&kiln::transpose(&at, None).unwrap(), &b).unwrap();
        let gram = kiln::matmul(&at, &a).unwrap();
        let feeds = [
            (&a, rand_array(1, &[m, k], -1.0, 1.0).into()),
            (&b, rand_array(2, &[k, n], -1.0, 1.0).into()),
            (&bias, rand_array(3, &[n], -1.0, 1.0).into()),
        ];
        diff(&format!("matmul {m}x{k}x{n}"), &g, &[&y, &z, &gram, &at], &feeds, 1e-4, 1e-4);
    }
    // a product read by its epilogue and fetched too is still stored
    let g = Graph::new();
    let a = g.placeholder(DType::F32, [6, 5], "a").unwrap();
    let b = g.placeholder(DType::F32, [5, 12], "b").unwrap();
    let p = kiln::matmul(&a, &b).unwrap();
    let y = nn::relu(&(&p + 1.0)).unwrap();
    let feeds = [(&a, rand_array(9, &[6, 5], -1.0, 1.0).into()), (&b, rand_array(10, &[5, 12], -1.0, 1.0).into())];
    diff("fetched product", &g, &[&y, &p], &feeds, 1e-5, 1e-5);
    // all dims symbolic: strides are run-time values, not immediates, in the micro-kernels
    for &(m, k, n) in &[(37, 29, 13), (32, 20, 1), (5, 3, 7), (9, 1, 8)] {
        let g = Graph::new();
        let a = g.placeholder(DType::F32, [None, None], "a").unwrap();
        let b = g.placeholder(DType::F32, [None, None], "b").unwrap();
        let at = kiln::transpose(&a, None).unwrap();
        let y = kiln::matmul(&a, &b).unwrap();
        let gram = kiln::matmul(&at, &a).unwrap();
        let feeds = [(&a, rand_array(7, &[m, k], -1.0, 1.0).into()), (&b, rand_array(8, &[k, n], -1.0, 1.0).into())];
        diff(&format!("symbolic matmul {m}x{k}x{n}"), &g, &[&y, &gram], &feeds, 1e-4, 1e-4);
    }
    // batched
    let g = Graph::new();
    let a = g.placeholder(DType::F32, [3, 4, 5], "a").unwrap();
    let b = g.placeholder(DType::F32, [3, 5, 2], "b").unwrap();
    let c = kiln::matmul(&a, &b).unwrap();
    let feeds = [(&a, rand_array(4, &[3, 4, 5], -1.0, 1.0).into()), (&b, rand_array(5, &[3, 5, 2], -1.0, 1.0).into())];
    diff("batched", &g, &[&c], &feeds, 1e-5, 1e-5);
}

/// The backward pass's relu mask and bias gradient as a GEMM epilogue: a select on the
/// product and a sum over its rows, accumulated tile by tile (small shapes) or run as a
/// loop kernel after the library GEMM (large ones).
#[test]
fn mask_and_column_sum_epilogues() {
    for &(m, k, n) in &[
        (32, 20, 20),
        (5, 3, 7),
        (9, 1, 8),
        (0, 3, 4),
        (130, 70, 90),
        (12, 7, 9),
        (23, 20, 20),
        (8, 5, 4),
        (14, 33, 6),
        (31, 2, 3),
        (18, 4, 5),
        (11, 6, 8),
    ] {
        let g = Graph::new();
        let a = g.placeholder(DType::F32, [None, Some(k)], "a").unwrap();
        let b = g.placeholder(DType::F32, [k, n], "b").unwrap();
        let r = g.placeholder(DType::F32, [None, Some(n)], "r").unwrap();
        let p = kiln::matmul(&a, &b).unwrap();
        let mask = kiln::greater(&r, &g.constant(0.0).unwrap()).unwrap();
        let y = kiln::select(&mask, &p, &(&p * 0.0)).unwrap();
        let col = kiln::reduce_sum(&y, Axes::List(vec![0]), false).unwrap();
        let feeds = [
            (&a, rand_array(11, &[m, k], -1.0, 1.0).into()),
            (&b, rand_array(12, &[k, n], -1.0, 1.0).into()),
            (&r, rand_array(13, &[m, n], -1.0, 1.0).into()),
        ];
        diff(&format!("mask + column sum {m}x{k}x{n}"), &g, &[&y, &col], &feeds, 1e-4, 1e-4);
        let mut sess = session(&g, Backend::Jit);
        sess.run(&[&y, &col], &feeds).unwrap();
        let s = sess.schedule_of(&[&y, &col]).unwrap();
        let fused = s.steps.iter().any(|st| {
            matches!(st, kiln::passes::schedule::Step::MatMul(mm)
                if mm.epilogue.as_ref().is_some_and(|e| e.nest.outputs.len() == 2))
        });
        assert!(fused, "{m}x{k}x{n}: {}", s.describe());
    }
}

/// A matmul that wants `b`'s rows contiguous gets a transposing copy of a transposed
/// operand, run in 4x4 register tiles with scalar row and column tails: every tail
/// combination, known and symbolic shapes, and a batch.
#[test]
fn transposing_copies_in_register_tiles() {
    let shapes = [(0, 3), (3, 0), (1, 1), (4, 4), (5, 7), (8, 3), (20, 20), (33, 70)];
    for (known, &(k, n)) in [true, false].iter().flat_map(|&kn| shapes.iter().map(move |s| (kn, s))) {
        let g = Graph::new();
        let a = g.placeholder(DType::F32, [None, Some(k)], "a").unwrap();
        let w = if known {
            g.placeholder(DType::F32, [n, k], "w").unwrap()
        } else {
            g.placeholder(DType::F32, [None, None], "w").unwrap()
        };
        let y = kiln::matmul(&a, &kiln::transpose(&w, None).unwrap()).unwrap();
        let feeds = [(&a, rand_array(21, &[6, k], -1.0, 1.0).into()), (&w, rand_array(22, &[n, k], -1.0, 1.0).into())];
        let what = format!("a x w^T, w {n}x{k}, known {known}");
        diff(&what, &g, &[&y], &feeds, 1e-5, 1e-5);
        let mut sess = session(&g, Backend::Jit);
        sess.run(&[&y], &feeds).unwrap();
        let s = sess.schedule_of(&[&y]).unwrap().describe();
        // (a 1x1 transpose is a reshape, copied by nothing)
        assert_eq!(s.contains("(copy)"), k * n != 1, "{what}: {s}");
    }
    let g = Graph::new();
    let a = g.placeholder(DType::F32, [3, 6, 9], "a").unwrap();
    let w = g.placeholder(DType::F32, [3, 11, 9], "w").unwrap();
    let y = kiln::matmul(&a, &kiln::transpose(&w, Some(&[0, 2, 1])).unwrap()).unwrap();
    let feeds =
        [(&a, rand_array(23, &[3, 6, 9], -1.0, 1.0).into()), (&w, rand_array(24, &[3, 11, 9], -1.0, 1.0).into())];
    diff("batched a x w^T", &g, &[&y], &feeds, 1e-5, 1e-5);
}

#[test]
fn views_as_results() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [4, 6], "x").unwrap();
    let t = kiln::transpose(&x, None).unwrap();
    let s = kiln::slice(&x, &[1, 2], &[2, 3]).unwrap();
    let r = kiln::reshape(&x, &[3, 8]).unwrap();
    let b = kiln::broadcast_to(&kiln::slice(&x, &[0, 0], &[1, -1]).unwrap(), &[3, 6]).unwrap();
    let sg = kiln::stop_gradient(&x).unwrap();
    diff("views", &g, &[&t, &s, &r, &b, &sg], &[(&x, rand_array(6, &[4, 6], -1.0, 1.0).into())], 0.0, 0.0);
}

#[test]
fn symbolic_batch_compiles_once() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None, Some(3)], "x").unwrap();
    let w = g.constant([[1.0], [2.0], [3.0]]).unwrap();
    let y = kiln::reduce_mean(&kiln::tanh(&kiln::matmul(&x, &w).unwrap()).unwrap(), Axes::All, false).unwrap();
    let mut jit = session(&g, Backend::Jit);
    let mut interp = session(&g, Backend::Interpreter);
    for n in [1usize, 5, 32, 0, 7] {
        let feed: TensorValue = rand_array(n as u64, &[n, 3], -1.0, 1.0).into();
        let a = jit.run1(&y, &[(&x, feed.clone())]).unwrap();
        let b = interp.run1(&y, &[(&x, feed)]).unwrap();
        assert_close(&format!("batch {n}"), &a, &b, 1e-6, 1e-5);
    }
    assert_eq!(jit.run_counts(), (5, 0));
    assert!(jit.schedule_of(&[&y]).is_some(), "one executable serves every batch size");
}

/// Relative error bounds of the compositions (Kahan's log1p and expm1 over the
/// polynomial exp and log): measured 1.5e-7 (log1p), 2.0e-7 (softplus), 1.6e-7 (elu)
/// over the test grids, f32 rounding included.
const LOG1P_BOUND: f64 = 2.5e-7;
const SOFTPLUS_BOUND: f64 = 3e-7;
const ELU_BOUND: f64 = 2.5e-7;

#[test]
fn polynomial_accuracy() {
    // max errors against f64 over dense grids, as documented in codegen/src/math.rs
    let n = 200_001;
    let grid = |lo: f32, hi: f32| ArrayD::from_shape_fn(IxDyn(&[n]), |i| lo + (hi - lo) * i[0] as f32 / (n - 1) as f32);
    type Case = (&'static str, fn(&Tensor) -> Tensor, fn(f64) -> f64, f32, f32, bool, f64);
    let cases: [Case; 10] = [
        ("exp", |x| kiln::exp(x).unwrap(), f64::exp, -80.0, 80.0, true, 2.5e-7),
        ("log", |x| kiln::log(x).unwrap(), f64::ln, 1e-30, 1e30, true, 2.5e-7),
        // the rational approximation itself is off by 2.6e-7 near |x| = 6; f32 adds 0.9e-7
        ("tanh", |x| kiln::tanh(x).unwrap(), f64::tanh, -10.0, 10.0, false, 4e-7),
        ("tanh near 0", |x| kiln::tanh(x).unwrap(), f64::tanh, -0.5, 0.5, true, 4e-7),
        ("sigmoid", |x| kiln::sigmoid(x).unwrap(), |x| 1.0 / (1.0 + (-x).exp()), -20.0, 20.0, false, 2e-7),
        ("log1p", |x| kiln::log1p(x).unwrap(), f64::ln_1p, -0.999, 100.0, true, LOG1P_BOUND),
        ("log1p near 0", |x| kiln::log1p(x).unwrap(), f64::ln_1p, -1e-3, 1e-3, true, LOG1P_BOUND),
        (
            "softplus",
            |x| kiln::softplus(x).unwrap(),
            |x| x.max(0.0) + (-x.abs()).exp().ln_1p(),
            -80.0,
            80.0,
            true,
            SOFTPLUS_BOUND,
        ),
        ("elu", |x| kiln::elu(x).unwrap(), |x| if x > 0.0 { x } else { x.exp_m1() }, -20.0, 5.0, true, ELU_BOUND),
        (
            "elu near 0",
            |x| kiln::elu(x).unwrap(),
            |x| if x > 0.0 { x } else { x.exp_m1() },
            -1e-3,
            1e-3,
            true,
            ELU_BOUND,
        ),
    ];
    for (name, f, reference, lo, hi, relative, bound) in cases {
        let g = Graph::new();
        let x = g.placeholder(DType::F32, [n], "x").unwrap();
        let y = f(&x);
        let xs = if name == "log" {
            ArrayD::from_shape_fn(IxDyn(&[n]), |i| 10f32.powf(-30.0 + 60.0 * i[0] as f32 / (n - 1) as f32))
        } else {
            grid(lo, hi)
        };
        let out = session(&g, Backend::Jit).run1(&y, &[(&x, xs.clone().into())]).unwrap().into_f32().unwrap();
        let mut worst = 0f64;
        for (&xi, &yi) in xs.iter().zip(out.iter()) {
            let want = reference(xi as f64);
            let err = (yi as f64 - want).abs() / if relative { want.abs() } else { 1.0 };
            worst = worst.max(err);
        }
        assert!(worst <= bound, "{name}: max error {worst:e} > {bound:e}");
    }
}

#[test]
fn kernel_counts_for_the_notebook_graphs() {
    let cases: [(&str, common::Cell, &[&str], usize, usize); 4] = [
        ("s3_broadcast", common::s3_broadcast(), &["c"], 1, 1),
        ("s3_mul", common::s3_mul_matmul(), &["c_elementwise"], 1, 1),
        ("s3_matmul", common::s3_mul_matmul(), &["c_matmul"], 0, 1),
        ("s3_chain", common::s3_chain(), &["c0", "c1"], 1, 1),
    ];
    for (name, cell, fetch, kernels, steps) in cases {
        let mut sess = session(&cell.graph, Backend::Jit);
        let f: Vec<&Tensor> = fetch.iter().map(|n| cell.get(n)).collect();
        sess.run(&f, &[]).unwrap();
        let s = sess.schedule_of(&f).unwrap_or_else(|| panic!("{name} ran on the interpreter"));
        assert_eq!((s.kernel_count(), s.steps.len()), (kernels, steps), "{name}:\n{}", s.describe());
    }
}

#[path = "../examples/sine.rs"]
#[allow(dead_code)]
mod sine;

fn sine_step_graph() -> (Graph, Tensor, Tensor, Tensor, Tensor) {
    use kiln::train::{AdamOptimizer, Optimizer};
    let g = Graph::new();
    let (x, y, pred) = sine::create_model(&g).unwrap();
    let mse = kiln::reduce_mean(&(0.5 * kiln::square(&(&pred - &y)).unwrap()), Axes::All, false).unwrap();
    let train = AdamOptimizer::default().minimize(&mse, None).unwrap();
    (g, x, y, mse, train)
}

#[test]
fn sine_training_step_schedule() {
    let (g, x, y, mse, train) = sine_step_graph();
    let mut sess = session(&g, Backend::Jit);
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    let feeds = [(&x, rand_array(1, &[32, 1], -6.0, 6.0).into()), (&y, rand_array(2, &[32, 1], -1.0, 1.0).into())];
    sess.run(&[&train, &mse], &feeds).unwrap();
    let s = sess.schedule_of(&[&train, &mse]).expect("the training step compiles");
    // forward: 3 GEMMs, the first two with bias + relu epilogues, then the loss kernel;
    // backward: the loss gradient (with W1's transpose and Adam's learning rate merged
    // in) and 5 GEMMs, two applying the relu mask and summing the bias gradient in
    // registers; Adam: the updates, two of them as epilogues of their weight-gradient
    // GEMMs, the rest in one kernel. 9 loop kernels exist (for the large-GEMM path); 6
    // run as epilogues instead, so a step is 8 GEMM calls and 3 loop kernel calls.
    assert_eq!(s.kernel_count(), 9, "{}", s.describe());
    assert_eq!(s.steps.len(), 17);
    let epilogues = s
        .steps
        .iter()
        .filter(|st| matches!(st, kiln::passes::schedule::Step::MatMul(mm) if mm.epilogue.is_some()))
        .count();
    assert_eq!(epilogues, 6);
    insta::assert_snapshot!("sine_training_step_fused", s.describe());
}

#[test]
fn sine_example_same_log_on_both_backends() {
    let run = |backend: &str, dir: &str| {
        let out = std::path::PathBuf::from(dir);
        let _ = std::fs::remove_dir_all(&out);
        let args =
            sine::Args { steps: 10_000, batch_size: 32, out, seed: 0, backend: Some(backend.into()), save_ir: None };
        sine::run(&args).unwrap()
    };
    let jit = run("jit", "target/kiln-test/sine-jit");
    let interp = run("interp", "target/kiln-test/sine-interp");
    for (a, b) in jit.log.iter().zip(&interp.log) {
        let va: f32 = a.split_once(": ").unwrap().1.parse().unwrap();
        let vb: f32 = b.split_once(": ").unwrap().1.parse().unwrap();
        assert!((va - vb).abs() <= 0.002, "{a} vs {b}");
    }
    assert!(
        (jit.final_mse - interp.final_mse).abs() <= 0.1 * interp.final_mse,
        "{} vs {}",
        jit.final_mse,
        interp.final_mse
    );
}

#[test]
fn check_mode_names_a_broken_kernel() {
    let (g, x, y, mse, train) = sine_step_graph();
    let opts = |sabotage: Option<&str>| SessionOptions {
        check: true,
        sabotage_kernel: sabotage.map(str::to_string),
        ..options(Backend::Jit, 1)
    };
    let feeds = [(&x, rand_array(1, &[32, 1], -6.0, 6.0).into()), (&y, rand_array(2, &[32, 1], -1.0, 1.0).into())];
    let mut good = Session::with_options(&g, opts(None));
    good.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    good.run(&[&train, &mse], &feeds).expect("a correct JIT passes check mode");
    let mut bad = Session::with_options(&g, opts(Some("fusion.5")));
    bad.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    let e = bad.run(&[&train, &mse], &feeds).unwrap_err();
    match &e {
        kiln::Error::CheckFailed { kernel, op, .. } => {
            assert_eq!(kernel, "fusion.5");
            assert_eq!(op, "sub");
        }
        other => panic!("expected a check failure, got {other}"),
    }
}

/// Sessions on `g`, one per backend, with the variables initialized.
fn initialized<const N: usize>(g: &Graph, backends: [Backend; N]) -> [Session; N] {
    backends.map(|be| {
        let mut s = session(g, be);
        s.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
        s
    })
}

/// Batch `i` of the sine data: 32 points and their sines.
fn sine_batch(i: u64) -> (ArrayD<f32>, ArrayD<f32>) {
    let xs = rand_array(i, &[32, 1], -6.0, 6.0);
    let ys = xs.mapv(f32::sin);
    (xs, ys)
}

#[test]
fn callable_matches_session_run() {
    let (g, x, y, mse, train) = sine_step_graph();
    let [mut a, mut b] = initialized(&g, [Backend::Jit, Backend::Jit]);
    let mut step = a.make_callable(&[&train, &mse], &[&x, &y]).unwrap();
    for i in 0..50u64 {
        let (xs, ys) = sine_batch(i);
        step.run(&mut a, &[xs.view(), ys.view()]).unwrap();
        let la = step.fetch(1, &a).unwrap()[0];
        let lb = b.run(&[&train, &mse], &[(&x, xs.into()), (&y, ys.into())]).unwrap()[1].scalar_f32().unwrap();
        assert_eq!(la, lb, "step {i}");
    }
    // a new batch size rebinds without recompiling
    let xs = rand_array(7, &[5, 1], -6.0, 6.0);
    step.run(&mut a, &[xs.view(), xs.view()]).unwrap();
    let wrong = rand_array(7, &[5, 2], -6.0, 6.0);
    assert!(matches!(step.run(&mut a, &[wrong.view(), xs.view()]), Err(kiln::Error::FeedShape { .. })));
}

/// Optimizer updates are computed straight into the variables they are assigned to,
/// unless a later read of the old value, a read of another element, or a fetch of the
/// old value forbids it. Either way the results equal the interpreter's.
#[test]
fn in_place_variable_updates() {
    // the sine step: three Adam updates (parameter and two slots) per parameter, and
    // both beta powers
    let (g, x, y, mse, train) = sine_step_graph();
    let [mut jit, mut interp] = initialized(&g, [Backend::Jit, Backend::Interpreter]);
    let mut step = jit.make_callable(&[&train, &mse], &[&x, &y]).unwrap();
    let updates = step.executable().in_place_updates();
    assert_eq!(updates.len(), 6 * 3 + 2, "{updates:?}");
    assert!(updates.iter().any(|(_, v)| v == "layer_1/W1/Adam_1"), "{updates:?}");
    for i in 0..20u64 {
        let (xs, ys) = sine_batch(i);
        step.run(&mut jit, &[xs.view(), ys.view()]).unwrap();
        let l = interp.run(&[&train, &mse], &[(&x, xs.into()), (&y, ys.into())]).unwrap()[1].scalar_f32().unwrap();
        let got = step.fetch(1, &jit).unwrap()[0];
        assert!((got - l).abs() <= 1e-5 * l.abs().max(1e-3), "step {i}: {got} vs {l}");
    }

    // where it must not happen
    let g = Graph::new();
    let init = kiln::Initializer::Constant(kiln::ir::Literal::F32((0..16).map(|i| i as f32).collect()), vec![4, 4]);
    let v = g.get_variable("v", &[4, 4], DType::F32, init.clone()).unwrap();
    let w = g.get_variable("w", &[4, 4], DType::F32, init.clone()).unwrap();
    let u = g.get_variable("u", &[4, 4], DType::F32, init).unwrap();
    let p = g.placeholder(DType::F32, [4, 4], "p").unwrap();
    // v's old value is read by a later kernel (a matmul after the update's kernel)
    let v_new = &v * 2.0 + &p;
    let later = kiln::matmul(&(&v_new * 3.0), &v).unwrap();
    // w's update reads w transposed: another element than it writes
    let w_new = kiln::transpose(&w, None).unwrap() + 1.0;
    // u's old value is fetched
    let u_new = &u - 1.0;
    let ops = kiln::group(&[
        &kiln::assign(&v, &v_new).unwrap(),
        &kiln::assign(&w, &w_new).unwrap(),
        &kiln::assign(&u, &u_new).unwrap(),
    ])
    .unwrap();
    let feeds = [(&p, rand_array(31, &[4, 4], -1.0, 1.0).into())];
    let fetches = [&ops, &later, &u];
    let [mut a, mut b] = initialized(&g, [Backend::Jit, Backend::Interpreter]);
    for round in 0..3 {
        let ra = a.run(&fetches, &feeds).unwrap();
        let rb = b.run(&fetches, &feeds).unwrap();
        assert_close(&format!("later read, round {round}"), &ra[1], &rb[1], 1e-4, 1e-5);
        assert_close(&format!("fetched old value, round {round}"), &ra[2], &rb[2], 0.0, 0.0);
        for t in [&v, &w, &u] {
            let (x, y) = (&a.run(&[t], &[]).unwrap()[0], &b.run(&[t], &[]).unwrap()[0]);
            assert_close(&format!("{} after round {round}", t.name()), x, y, 1e-5, 1e-5);
        }
    }
    let c = a.make_callable(&fetches, &[&p]).unwrap();
    assert_eq!(c.executable().in_place_updates(), vec![], "none of these may be in place");
}

/// Kernels read feeds where the caller keeps them (no copy into the arena): each run
/// sees its own feed arrays, wherever they live, and a fetched placeholder is copied so
/// it outlives the arrays it came from.
#[test]
fn feeds_are_read_in_place() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None, Some(6)], "x").unwrap();
    let w = g.placeholder(DType::F32, [6, 5], "w").unwrap();
    let y = nn::relu(&kiln::matmul(&x, &w).unwrap()).unwrap();
    let mut jit = session(&g, Backend::Jit);
    let mut interp = session(&g, Backend::Interpreter);
    let mut call = jit.make_callable(&[&y, &x], &[&x, &w]).unwrap();
    let ws = rand_array(40, &[6, 5], -1.0, 1.0);
    for i in 0..6u64 {
        // a fresh allocation each time, sometimes of another batch size
        let xs = rand_array(41 + i, &[3 + (i as usize % 2) * 4, 6], -1.0, 1.0);
        call.run(&mut jit, &[xs.view(), ws.view()]).unwrap();
        let want = interp.run(&[&y], &[(&x, xs.clone().into()), (&w, ws.clone().into())]).unwrap();
        let got = TensorValue::F32(
            ArrayD::from_shape_vec(want[0].shape().to_vec(), call.fetch(0, &jit).unwrap().to_vec()).unwrap(),
        );
        assert_close(&format!("run {i}"), &got, &want[0], 1e-5, 1e-5);
        drop(xs);
        let fetched_x = call.fetch(1, &jit).unwrap().to_vec();
        let again = rand_array(41 + i, &[3 + (i as usize % 2) * 4, 6], -1.0, 1.0);
        assert_eq!(fetched_x, again.iter().copied().collect::<Vec<_>>(), "run {i}: fetched placeholder");
    }
}

/// Kernels run with denormals flushed to zero, as TF1's CPU kernels do, unless the
/// session keeps them; the interpreter keeps them. Both ways on one thread and on
/// kernels split across threads, and the caller's floating-point mode is restored.
#[test]
fn denormals_flush_by_default_and_can_be_kept() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None], "x").unwrap();
    let y = &(&x * 1e-20) * 1e-20;
    for n in [7usize, 1 << 19] {
        let feeds = [(&x, TensorValue::F32(ArrayD::from_elem(IxDyn(&[n]), 1.0)))];
        let want = session(&g, Backend::Interpreter).run(&[&y], &feeds).unwrap();
        let denormal = want[0].as_f32().unwrap()[0];
        assert!(denormal != 0.0 && denormal.abs() < f32::MIN_POSITIVE, "{denormal}");
        for (flush, threads) in [(true, 1), (true, 2), (false, 1), (false, 2)] {
            let opts = SessionOptions { flush_denormals: flush, ..options(Backend::Jit, threads) };
            let got = Session::with_options(&g, opts).run(&[&y], &feeds).unwrap();
            let expect = if flush { 0.0 } else { denormal };
            let v = got[0].as_f32().unwrap();
            assert!(v.iter().all(|&e| e == expect), "n {n}, flush {flush}, threads {threads}: {}", v[0]);
        }
    }
    let tiny = std::hint::black_box(1e-39f32);
    assert_eq!(std::hint::black_box(tiny * 1.0), tiny, "the test thread still has IEEE denormals");
}

/// A random elementwise/broadcast/reduce/matmul/reshape/transpose graph.
#[derive(Debug, Clone)]
enum Op {
    Unary(u8, usize),
    Binary(u8, usize, usize),
    Reduce(u8, usize, u8, bool),
    MatMul(usize, usize),
    Flatten(usize),
    Transpose(usize),
    Bias(usize, usize),
    /// `select(x > 0, y, 0)` on equal shapes: a relu-gradient mask
    Mask(usize, usize),
    /// integer paths from an f32 value: argmax, one-hot, gather, int compares and
    /// selects, casts; the result is cast back to f32
    Int(u8, usize, usize),
    /// an int32 input: cast, one-hot (out-of-range indices give zero rows), select
    IntInput(u8, usize, usize),
}

fn apply(g: &Graph, ts: &mut Vec<Tensor>, ints: &[Tensor], op: &Op) {
    let pick = |i: usize, ts: &Vec<Tensor>| ts[i % ts.len()].clone();
    let f32_of = |t: &Tensor| kiln::cast(t, DType::F32).unwrap();
    let t = match *op {
        Op::Int(k, i, j) => {
            let x = pick(i, ts);
            let s = x.get_shape().as_list();
            let Some(Some(last)) = s.last().copied() else { return };
            let am = kiln::argmax(&x, -1).unwrap();
            let am32 = kiln::cast(&am, DType::I32).unwrap();
            match k % 4 {
                0 => f32_of(&am),
                1 => kiln::one_hot(&am32, 1 + j % 4).unwrap(),
                2 => {
                    let table = g.constant(rand_array(j as u64, &[last, 1 + j % 3], -1.0, 1.0)).unwrap();
                    kiln::gather(&table, &am32).unwrap()
                }
                _ => {
                    let (a, b) =
                        (kiln::cast(&(&x * 2.0), DType::I32).unwrap(), kiln::cast(&(&x * -3.0), DType::I32).unwrap());
                    let m = kiln::maximum(&a, &(&b + &b)).unwrap();
                    let c = kiln::greater(&m, &kiln::cast(&g.constant(0.0).unwrap(), DType::I32).unwrap()).unwrap();
                    kiln::select(&c, &f32_of(&m), &x).unwrap()
                }
            }
        }
        Op::IntInput(k, i, j) => {
            let Some(p) = ints.get(i % ints.len().max(1)) else { return };
            match k % 3 {
                0 => match kiln::multiply(&f32_of(p), &pick(j, ts)) {
                    Ok(t) => t,
                    Err(_) => return,
                },
                1 => kiln::one_hot(p, 1 + j % 4).unwrap(),
                _ => {
                    let zero = kiln::cast(&g.constant(0.0).unwrap(), DType::I32).unwrap();
                    let pos = kiln::greater_equal(p, &zero).unwrap();
                    kiln::select(&pos, &f32_of(p), &f32_of(&-p)).unwrap()
                }
            }
        }
        Op::Unary(k, i) => {
            let x = pick(i, ts);
            match k % 7 {
                0 => -&x,
                1 => kiln::abs(&x).unwrap(),
                2 => kiln::tanh(&x).unwrap(),
                3 => kiln::sigmoid(&x).unwrap(),
                4 => nn::relu(&x).unwrap(),
                5 => kiln::exp(&kiln::tanh(&x).unwrap()).unwrap(),
                _ => kiln::square(&kiln::tanh(&x).unwrap()).unwrap(),
            }
        }
        Op::Binary(k, i, j) => {
            let (x, y) = (pick(i, ts), pick(j, ts));
            let r = match k % 5 {
                0 => kiln::add(&x, &y),
                1 => kiln::subtract(&x, &y),
                2 => kiln::multiply(&x, &y),
                3 => kiln::maximum(&x, &y),
                _ => kiln::minimum(&x, &y),
            };
            match r {
                Ok(t) => t,
                Err(_) => return, // shapes that do not broadcast: skip
            }
        }
        Op::Reduce(k, i, axis, keep) => {
            let x = pick(i, ts);
            let r = x.get_shape().rank();
            if r == 0 {
                return;
            }
            let a = (axis as usize % r) as i64;
            match k % 4 {
                0 => kiln::reduce_sum(&x, a, keep).unwrap(),
                1 => kiln::reduce_mean(&x, a, keep).unwrap(),
                2 => kiln::reduce_max(&x, a, keep).unwrap(),
                _ => kiln::reduce_min(&x, a, keep).unwrap(),
            }
        }
        Op::MatMul(i, n) => {
            let x = pick(i, ts);
            let s = x.get_shape().as_list();
            if s.len() != 2 {
                return;
            }
            let k = s[1].unwrap();
            let w = g.constant(rand_array(i as u64, &[k, 1 + n % 5], -1.0, 1.0)).unwrap();
            kiln::matmul(&x, &w).unwrap()
        }
        Op::Flatten(i) => kiln::reshape(&pick(i, ts), &[-1]).unwrap(),
        Op::Transpose(i) => kiln::transpose(&pick(i, ts), None).unwrap(),
        Op::Mask(i, j) => {
            let (x, y) = (pick(i, ts), pick(j, ts));
            if x.get_shape() != y.get_shape() {
                return;
            }
            let zero = g.constant(0.0).unwrap();
            kiln::select(&kiln::greater(&x, &zero).unwrap(), &y, &(&y * 0.0)).unwrap()
        }
        Op::Bias(i, j) => {
            let x = pick(i, ts);
            let s = x.get_shape().as_list();
            let Some(Some(last)) = s.last() else { return };
            let b = g.constant(rand_array(j as u64, &[*last], -1.0, 1.0)).unwrap();
            &x + &b
        }
    };
    ts.push(t);
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<u8>(), any::<usize>()).prop_map(|(k, i)| Op::Unary(k, i)),
        (any::<u8>(), any::<usize>(), any::<usize>()).prop_map(|(k, i, j)| Op::Binary(k, i, j)),
        (any::<u8>(), any::<usize>(), any::<u8>(), any::<bool>()).prop_map(|(k, i, a, kd)| Op::Reduce(k, i, a, kd)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, n)| Op::MatMul(i, n)),
        any::<usize>().prop_map(Op::Flatten),
        any::<usize>().prop_map(Op::Transpose),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Op::Bias(i, j)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Op::Mask(i, j)),
        (any::<u8>(), any::<usize>(), any::<usize>()).prop_map(|(k, i, j)| Op::Int(k, i, j)),
        (any::<u8>(), any::<usize>(), any::<usize>()).prop_map(|(k, i, j)| Op::IntInput(k, i, j)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(1000)))]

    #[test]
    fn random_graphs_match_the_interpreter(
        shapes in prop::collection::vec(prop::collection::vec(1usize..7, 1..=3), 1..=3),
        int_shapes in prop::collection::vec(prop::collection::vec(1usize..7, 1..=2), 0..=2),
        ops in prop::collection::vec(op_strategy(), 1..10),
        fetch_two in any::<bool>(),
    ) {
        let g = Graph::new();
        g.set_rank_promotion(RankPromotion::Allow);
        let mut ts = Vec::new();
        let mut feeds = Vec::new();
        for (i, s) in shapes.iter().enumerate() {
            let p = g.placeholder(DType::F32, s.clone(), &format!("p{i}")).unwrap();
            feeds.push((p.clone(), TensorValue::from(rand_array(i as u64, s, -2.0, 2.0))));
            ts.push(p);
        }
        let mut ints = Vec::new();
        for (i, s) in int_shapes.iter().enumerate() {
            let p = g.placeholder(DType::I32, s.clone(), &format!("n{i}")).unwrap();
            let vals = rand_array(100 + i as u64, s, -3.0, 5.0).mapv(|v| v.floor() as i32);
            feeds.push((p.clone(), TensorValue::I32(vals)));
            ints.push(p);
        }
        for op in &ops {
            apply(&g, &mut ts, &ints, op);
        }
        let n = ts.len();
        let fetches: Vec<&Tensor> = if fetch_two && n > 1 { vec![&ts[n - 1], &ts[n - 2]] } else { vec![&ts[n - 1]] };
        let feed_refs: Vec<(&Tensor, TensorValue)> = feeds.iter().map(|(t, v)| (t, v.clone())).collect();
        let mut jit = session(&g, Backend::Jit);
        let mut interp = session(&g, Backend::Interpreter);
        let a = jit.run(&fetches, &feed_refs).unwrap();
        let b = interp.run(&fetches, &feed_refs).unwrap();
        prop_assert_eq!(jit.run_counts(), (1, 0));
        // every op, the integer ones included, ran in a compiled kernel
        let s = jit.schedule_of(&fetches).unwrap();
        prop_assert!(!s.steps.iter().any(|st| matches!(st, kiln_passes::schedule::Step::Host(_))), "{}", s.describe());
        for (x, y) in a.iter().zip(&b) {
            assert_close(&format!("{ops:?}"), x, y, 1e-4, 1e-4);
        }
    }
}

#[test]
fn kernel_dumps_name_their_ir_ops() {
    let (g, _x, _y, mse, train) = sine_step_graph();
    let m = g.module().clone();
    let roots = [train.value().unwrap(), mse.value().unwrap()];
    let codegen = kiln_codegen::CodegenOptions { keep_clif: true, keep_asm: true, ..Default::default() };
    let opts = kiln_runtime::build::BuildOptions { codegen, ..Default::default() };
    let exec = kiln_runtime::exec::Executable::build(&m, &roots, &opts).unwrap();
    let dir = std::path::PathBuf::from("target/kiln-test/kernel-dumps");
    let _ = std::fs::remove_dir_all(&dir);
    exec.dump(&dir).unwrap();
    let clif = std::fs::read_to_string(dir.join("kernel.05.fusion.5.clif")).unwrap();
    let head = "; kernel fusion.5 (Loop)\n; from: %layer_2/add, %sub, %Square, %mul, %Mean\nfunction";
    assert!(clif.starts_with(head), "{clif}");
    // the first GEMM's epilogue runs in its registers: its own kernel is an empty
    // placeholder, compiled only if a batch size sends the GEMM to the library
    let epi = std::fs::read_to_string(dir.join("kernel.01.fusion.1.clif")).unwrap();
    assert!(epi.starts_with("; kernel fusion.1 (Deferred)\n"), "{epi}");
    let asm = std::fs::read_to_string(dir.join("kernel.00.matmul.0.s")).unwrap();
    assert!(asm.contains("; from: %layer_0/MatMul") && asm.contains("ret"), "{asm}");
    let schedule = std::fs::read_to_string(dir.join("schedule.txt")).unwrap();
    assert!(
        schedule.contains("matmul.0: %layer_0/MatMul = %input[1,1] x %layer_0/W0[20,1]")
            && schedule.contains("epilogue on in0 (product not stored)"),
        "{schedule}"
    );
}

#[test]
fn large_kernels_split_across_threads_with_identical_results() {
    let n = 1 << 20;
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [n / 256, 256], "x").unwrap();
    let w = g.placeholder(DType::F32, [256, 300], "w").unwrap();
    let y = kiln::tanh(&(1.5 * &x + 0.5)).unwrap() * kiln::sigmoid(&x).unwrap();
    let z = kiln::matmul(&x, &w).unwrap();
    let feeds =
        [(&x, rand_array(3, &[n / 256, 256], -2.0, 2.0).into()), (&w, rand_array(4, &[256, 300], -1.0, 1.0).into())];
    let run = |threads| Session::with_options(&g, options(Backend::Jit, threads)).run(&[&y, &z], &feeds).unwrap();
    let one = run(1);
    let interp = session(&g, Backend::Interpreter).run(&[&y, &z], &feeds).unwrap();
    assert_close("one-thread gemm", &one[1], &interp[1], 1e-3, 1e-4);
    for t in [2, 3] {
        let r = run(t);
        // elementwise rows are computed exactly as on one thread
        assert_eq!(r[0], one[0], "{t} threads: the elementwise kernel");
        // the GEMM library may block a row range differently: identical for a given
        // thread count, close across counts
        assert_eq!(run(t)[1], r[1], "{t} threads: the GEMM is deterministic");
        assert_close("gemm across thread counts", &r[1], &one[1], 1e-4, 1e-5);
    }
    assert_close("split tanh", &one[0], &interp[0], 1e-6, 3e-6);
    assert_close("split gemm", &one[1], &interp[1], 1e-3, 1e-4);
}

#[path = "../examples/notebook.rs"]
#[allow(dead_code)]
mod notebook;

#[test]
fn notebook_prints_the_same_on_both_backends() {
    let opts = |backend| options(backend, 1);
    let jit = notebook::run(opts(Backend::Jit)).unwrap();
    let interp = notebook::run(opts(Backend::Interpreter)).unwrap();
    assert_eq!(jit, interp);
    assert!(jit.contains("[[ 0.  1.  2.]\n [-1.  0.  1.]\n [-2. -1.  0.]]") && jit.contains("[[-14.]]"), "{jit}");
}

#[test]
fn a_policy_gradient_step_compiles_its_integer_ops() {
    // a policy-gradient step: integer actions, gather, argmax, one-hot, sparse
    // cross-entropy, an int64 step counter: all of it in compiled kernels
    use kiln::train::{GradientDescentOptimizer, Optimizer};
    let g = Graph::new();
    let obs = g.placeholder(DType::F32, [None, Some(4)], "obs").unwrap();
    let act = g.placeholder(DType::I32, [None], "act").unwrap();
    let adv = g.placeholder(DType::F32, [None], "adv").unwrap();
    let w = g.get_variable("pi/W", &[4, 3], DType::F32, None).unwrap();
    let step_var = g.get_variable("global_step", &[], DType::I64, kiln::Initializer::Zeros).unwrap();
    let logits = kiln::matmul(&obs, &w).unwrap();
    let xent = nn::sparse_softmax_cross_entropy_with_logits(&act, &logits).unwrap();
    let loss = kiln::reduce_mean(&(&xent * &adv), Axes::All, false).unwrap();
    let greedy = kiln::argmax(&logits, 1).unwrap();
    let rows = kiln::gather(&w, &kiln::cast(&greedy, DType::I32).unwrap()).unwrap();
    let bump = kiln::assign(&step_var, &(&step_var + 1.0)).unwrap();
    let train = GradientDescentOptimizer::new(0.1).minimize(&loss, None).unwrap();
    let all = kiln::group(&[&train, &bump]).unwrap();
    let feeds = [
        (&obs, rand_array(1, &[5, 4], -1.0, 1.0).into()),
        (&act, TensorValue::from(vec![0i32, 2, 1, 1, 0])),
        (&adv, rand_array(2, &[5], -1.0, 1.0).into()),
    ];
    let mut jit = session(&g, Backend::Jit);
    let mut interp = session(&g, Backend::Interpreter);
    for s in [&mut jit, &mut interp] {
        s.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    }
    for _ in 0..3 {
        let a = jit.run(&[&all, &loss, &greedy, &rows], &feeds).unwrap();
        let b = interp.run(&[&all, &loss, &greedy, &rows], &feeds).unwrap();
        assert_close("loss", &a[1], &b[1], 1e-6, 1e-5);
        assert_eq!(a[2], b[2], "argmax");
        assert_close("gathered rows", &a[3], &b[3], 1e-6, 1e-5);
    }
    assert_close("trained W", jit.variable(&w).unwrap(), interp.variable(&w).unwrap(), 1e-6, 1e-5);
    assert_eq!(jit.variable(&step_var), Some(&TensorValue::from(3i64)));
    // every run, the random initializer included, went through a compiled executable
    assert_eq!(jit.run_counts().1, 0);
    let s = jit.schedule_of(&[&all, &loss, &greedy, &rows]).unwrap();
    let host: Vec<String> = s
        .steps
        .iter()
        .enumerate()
        .filter(|(_, st)| matches!(st, kiln_passes::schedule::Step::Host(_)))
        .map(|(i, _)| s.step_name(i))
        .collect();
    assert!(host.is_empty(), "interpreter steps {host:?} in\n{}", s.describe());
    assert!(s.describe().contains("%GatherV2") && s.describe().contains("%one_hot/iota"), "{}", s.describe());
    assert!(s.kernel_count() >= 2, "{}", s.describe());
    // a bad label fails the run with the interpreter's error
    let bad =
        [(&obs, feeds[0].1.clone()), (&act, TensorValue::from(vec![0i32, 3, 1, 1, 0])), (&adv, feeds[2].1.clone())];
    let e = jit.run(&[&loss], &bad).unwrap_err();
    assert!(e.to_string().contains("label 3 is outside the valid range [0, 3)"), "{e}");
    assert!(e.to_string().contains("%labels/check"), "{e}");
    // so does an index out of range in a gather, and the failed run changes nothing
    let w_before = jit.variable(&w).unwrap().clone();
    let far = g.constant(ndarray::arr1(&[1i32, 7])).unwrap();
    let picked = kiln::gather(&w, &far).unwrap();
    let e = jit.run(&[&picked, &all], &feeds).unwrap_err();
    assert!(e.to_string().contains("index 7 is out of range for 4 rows"), "{e}");
    assert_eq!(jit.variable(&w).unwrap(), &w_before);
    assert_eq!(jit.run_counts().1, 0, "both failures came from compiled kernels");
}

#[test]
fn other_dtypes_match_the_interpreter() {
    let g = Graph::new();
    let i = g.placeholder(DType::I32, [None], "i").unwrap();
    let d = g.placeholder(DType::F64, [None], "d").unwrap();
    let x = g.placeholder(DType::F32, [None], "x").unwrap();
    let ii = &(&i * 3.0) - &kiln::abs(&i).unwrap();
    let dd = kiln::tanh(&(&d * 0.5)).unwrap();
    let mask = kiln::greater(&kiln::cast(&i, DType::F32).unwrap(), &x).unwrap();
    let mixed = kiln::where_(&mask, &kiln::cast(&dd, DType::F32).unwrap(), &kiln::exp(&x).unwrap()).unwrap();
    let feeds = [
        (&i, TensorValue::from(vec![-2i32, 0, 5, 7])),
        (&d, TensorValue::from(vec![0.1f64, -3.0, 2.5, 0.0])),
        (&x, TensorValue::from(vec![0.5f32, -1.0, 6.0, 2.0])),
    ];
    let a = session(&g, Backend::Jit).run(&[&ii, &dd, &mask, &mixed], &feeds).unwrap();
    let b = session(&g, Backend::Interpreter).run(&[&ii, &dd, &mask, &mixed], &feeds).unwrap();
    assert_eq!(a[..3], b[..3]);
    assert_close("mixed", &a[3], &b[3], 1e-6, 3e-6);
}

/// One executable, two batch sizes: at 32 rows the GEMMs apply their epilogues in
/// registers and the epilogue kernels stay uncompiled; at 20,000 rows the GEMMs go to
/// the library and the epilogue kernels are compiled at bind time and run.
#[test]
fn deferred_epilogues_compile_when_a_batch_needs_them() {
    let (g, x, y, mse, train) = sine_step_graph();
    let mut jit = session(&g, Backend::Jit);
    let mut interp = session(&g, Backend::Interpreter);
    for s in [&mut jit, &mut interp] {
        s.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    }
    for (i, rows) in [32usize, 20_000, 32].into_iter().enumerate() {
        let feeds = [
            (&x, rand_array(30 + i as u64, &[rows, 1], -6.0, 6.0).into()),
            (&y, rand_array(40 + i as u64, &[rows, 1], -1.0, 1.0).into()),
        ];
        let a = jit.run(&[&train, &mse], &feeds).unwrap();
        let b = interp.run(&[&train, &mse], &feeds).unwrap();
        assert_close(&format!("{rows} rows"), &a[1], &b[1], 1e-5, 1e-4);
        for v in g.trainable_variables() {
            assert_close(&v.name(), jit.variable(&v).unwrap(), interp.variable(&v).unwrap(), 1e-5, 1e-3);
        }
    }
    assert_eq!(jit.run_counts(), (4, 0), "the initializer and three steps, all on the JIT");
}

#[test]
fn the_gradient_of_a_gather_runs_in_kernels() {
    // embedding-style rows picked by int32 indices, repeated rows accumulating
    let g = Graph::new();
    let table = g.placeholder(DType::F32, [5, 3], "table").unwrap();
    let idx = g.placeholder(DType::I32, [None], "idx").unwrap();
    let picked = kiln::gather(&table, &idx).unwrap();
    let w = g.constant(rand_array(3, &[3], -1.0, 1.0)).unwrap();
    let loss = kiln::reduce_sum(&(kiln::square(&picked).unwrap() * &w), Axes::All, false).unwrap();
    let grad = kiln::gradients(&[&loss], &[&table]).unwrap()[0].clone().unwrap();
    let feeds =
        [(&table, rand_array(4, &[5, 3], -2.0, 2.0).into()), (&idx, TensorValue::from(vec![4i32, 0, 4, 2, 4, 1]))];
    diff("gather gradient", &g, &[&grad, &loss], &feeds, 1e-5, 1e-5);
    let mut jit = session(&g, Backend::Jit);
    jit.run(&[&grad], &feeds).unwrap();
    let s = jit.schedule_of(&[&grad]).unwrap();
    assert!(!s.steps.iter().any(|st| matches!(st, kiln_passes::schedule::Step::Host(_))), "{}", s.describe());
    // an index out of range fails in the forward gather, naming it
    let bad = [(&table, feeds[0].1.clone()), (&idx, TensorValue::from(vec![1i32, 5]))];
    let e = jit.run(&[&grad], &bad).unwrap_err();
    assert!(e.to_string().contains("index 5 is out of range for 5 rows"), "{e}");
}

#[test]
fn a_scatter_add_out_of_range_fails_in_its_kernel() {
    let g = Graph::parse_ir(
        "module {
  %i = parameter : i32[?0]
  %u = parameter : f32[?0,2]
  %s = scatter_add %i, %u : f32[3,2]
  %t = mul %s, %s : f32[3,2]
}
",
    )
    .unwrap();
    let (i, u, t) =
        (g.get_tensor_by_name("i").unwrap(), g.get_tensor_by_name("u").unwrap(), g.get_tensor_by_name("t").unwrap());
    let ok = [(&i, TensorValue::from(vec![2i32, 0, 2])), (&u, rand_array(5, &[3, 2], -1.0, 1.0).into())];
    diff("scatter_add", &g, &[&t], &ok, 1e-6, 1e-6);
    let mut jit = session(&g, Backend::Jit);
    let bad = [(&i, TensorValue::from(vec![2i32, 3, 0])), (&u, ok[1].1.clone())];
    let e = jit.run(&[&t], &bad).unwrap_err();
    assert!(e.to_string().contains("op %s: index 3 is out of range for 3 rows"), "{e}");
    assert_eq!(jit.run_counts().1, 0);
    let mut interp = session(&g, Backend::Interpreter);
    let want = interp.run(&[&t], &bad).unwrap_err().to_string();
    assert_eq!(e.to_string().split("run: ").nth(1), want.split("run: ").nth(1), "the interpreter's words");
}
