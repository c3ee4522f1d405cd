//! Long fused kernels: bodies past `UNROLL_MAX_NODES` run their last partial vector
//! through the one vector body on padded copies (`codegen/src/padded.rs`), and kernels
//! past `LARGE_KERNEL_INSTS` get the single-pass register allocator. Both are checked
//! here against the interpreter, at extents of every remainder mod 4, with broadcast
//! inputs, several outputs, a reduction along an outer dim, and 1, 2 and 3 threads.

use kiln::{Axes, Backend, DType, Graph, Session, SessionOptions, Tensor, TensorValue};
use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};

fn options(backend: Backend, threads: usize) -> SessionOptions {
    SessionOptions { backend, log_compiles: false, check: false, threads, ..SessionOptions::default() }
}

fn rand_array(seed: u64, shape: &[usize]) -> ArrayD<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    ArrayD::from_shape_fn(IxDyn(shape), |_| rng.random_range(-2.0f32..2.0))
}

/// `n` alternating ops (`* 1.0001`, `tanh`, `+ 0.001`) on `x`; every `every`-th value is
/// also returned, so one kernel has many outputs.
fn chain(x: &Tensor, n: usize, every: usize) -> (Tensor, Vec<Tensor>) {
    let mut y = x.clone();
    let mut taps = Vec::new();
    for i in 0..n {
        y = match i % 3 {
            0 => &y * 1.0001,
            1 => kiln::tanh(&y).unwrap(),
            _ => &y + 0.001,
        };
        if i % every == every - 1 {
            taps.push(y.clone());
        }
    }
    (y, taps)
}

/// Runs `fetches` on the JIT at 1, 2 and 3 threads and on the interpreter; every JIT
/// result equals the one-thread result bit for bit, and the interpreter's to `tol`
/// (absolute and relative).
fn agree(what: &str, g: &Graph, fetches: &[&Tensor], feeds: &[(&Tensor, TensorValue)], tol: f32) {
    let interp = Session::with_options(g, options(Backend::Interpreter, 1)).run(fetches, feeds).unwrap();
    let mut one: Option<Vec<TensorValue>> = None;
    for threads in [1, 2, 3] {
        let mut s = Session::with_options(g, options(Backend::Jit, threads));
        let got = s.run(fetches, feeds).unwrap();
        assert_eq!(s.run_counts(), (1, 0), "{what}: ran on the JIT");
        match &one {
            None => one = Some(got.clone()),
            Some(o) => assert_eq!(&got, o, "{what}: {threads} threads differ from one"),
        }
        for (k, (a, b)) in got.iter().zip(&interp).enumerate() {
            let (a, b) = (a.as_f32().unwrap(), b.as_f32().unwrap());
            assert_eq!(a.shape(), b.shape(), "{what}: fetch {k}: shapes");
            for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
                assert!((x - y).abs() <= tol + tol * y.abs(), "{what}: fetch {k}, element {i}: jit {x}, interp {y}");
            }
        }
    }
}

#[test]
fn a_long_chain_at_every_remainder() {
    for shape in [&[0usize][..], &[1], &[2], &[3], &[4], &[5], &[7], &[4099], &[3, 7], &[65, 33], &[2, 1, 6]] {
        let g = Graph::new();
        let dims: Vec<Option<usize>> = shape.iter().map(|_| None).collect();
        let x = g.placeholder(DType::F32, dims, "x").unwrap();
        let (y, taps) = chain(&x, 400, 37);
        let mut fetches = vec![&y];
        fetches.extend(&taps);
        agree(&format!("{shape:?}"), &g, &fetches, &[(&x, rand_array(1, shape).into())], 1e-5);
    }
}

#[test]
fn a_long_chain_with_broadcast_inputs() {
    // a row vector broadcast down the rows, and a column broadcast along the innermost dim
    for (rows, cols) in [(5, 7), (9, 6), (1, 3), (4, 4), (33, 65)] {
        let g = Graph::new();
        let x = g.placeholder(DType::F32, [None, None], "x").unwrap();
        let r = g.placeholder(DType::F32, [cols], "r").unwrap();
        let c = g.placeholder(DType::F32, [rows, 1], "c").unwrap();
        let (y, taps) = chain(&(&(&x + &r) * &c), 300, 50);
        let z = &y + &r;
        let mut fetches = vec![&z];
        fetches.extend(&taps);
        let feeds = [
            (&x, rand_array(2, &[rows, cols]).into()),
            (&r, rand_array(3, &[cols]).into()),
            (&c, rand_array(4, &[rows, 1]).into()),
        ];
        agree(&format!("{rows}x{cols}"), &g, &fetches, &feeds, 1e-5);
    }
}

#[test]
fn a_long_chain_reduced_along_an_outer_dim() {
    // the column sums accumulate into memory the padded tail reads and writes back
    for (rows, cols) in [(6, 7), (33, 5), (2, 1), (17, 4099)] {
        let g = Graph::new();
        let x = g.placeholder(DType::F32, [None, None], "x").unwrap();
        let (y, _) = chain(&x, 300, 1000);
        let s = kiln::reduce_sum(&y, Axes::List(vec![0]), false).unwrap();
        let m = kiln::reduce_max(&y, Axes::List(vec![0]), true).unwrap();
        agree(&format!("{rows}x{cols}"), &g, &[&s, &m, &y], &[(&x, rand_array(5, &[rows, cols]).into())], 1e-5);
    }
}

#[test]
fn a_long_chain_on_a_fixed_extent_has_no_tail() {
    // known multiples of four skip the tail; known remainders take it
    for n in [8usize, 9, 10, 11, 4096, 4097] {
        let g = Graph::new();
        let x = g.placeholder(DType::F32, [n], "x").unwrap();
        let (y, taps) = chain(&x, 300, 29);
        let mut fetches = vec![&y];
        fetches.extend(&taps);
        agree(&format!("[{n}]"), &g, &fetches, &[(&x, rand_array(6, &[n]).into())], 1e-5);
    }
}

#[test]
fn the_gradient_of_a_long_tanh_chain() {
    // the benchmark's graph, small: d/dx sum(tanh^n(x)) at odd lengths
    for len in [1usize, 6, 4099] {
        let g = Graph::new();
        let x = g.placeholder(DType::F32, [None], "x").unwrap();
        let mut y = x.clone();
        for _ in 0..600 {
            y = kiln::tanh(&y).unwrap();
        }
        let s = kiln::reduce_sum(&y, Axes::All, false).unwrap();
        let dx = kiln::gradients(&[&s], &[&x]).unwrap()[0].clone().unwrap();
        // 600 factors of tanh' carry the approximation's 4e-7 each: 2.4e-4 at worst
        agree(&format!("[{len}]"), &g, &[&dx, &y], &[(&x, rand_array(7, &[len]).into())], 3e-4);
    }
}
