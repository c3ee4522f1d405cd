//! The JIT against the interpreter on special values: NaN, ±inf, ±0, subnormals,
//! overflow and underflow edges of exp, the saturation of tanh, for every elementwise
//! op and the reductions, in both denormal modes.
//!
//! With denormals kept, the two must agree (within the polynomials' error). With them
//! flushed (the default, as TF1 on CPU), the JIT computes what the interpreter computes
//! on inputs whose subnormals read as zero, with subnormal results flushed to zero.

use kiln::{Axes, Backend, DType, Graph, Session, SessionOptions, Tensor, TensorValue};
use ndarray::{ArrayD, IxDyn};

const SPECIAL: &[f32] = &[
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    0.0,
    -0.0,
    1e-40,
    -1e-40,
    1e-45,
    -3e-39,
    f32::MIN_POSITIVE,
    -f32::MIN_POSITIVE,
    1.0,
    -1.0,
    0.5,
    -2.5,
    7.9,
    -8.0,
    20.0,
    -20.0,
    88.3,
    88.376,
    88.5,
    88.72,
    88.73,
    89.0,
    100.0,
    -87.3,
    -87.4,
    -100.0,
    -103.5,
    -104.0,
    -110.0,
    1e30,
    -1e30,
    3.4e38,
    -3.4e38,
];

fn flush(x: f32) -> f32 {
    if x != 0.0 && x.abs() < f32::MIN_POSITIVE {
        0.0f32.copysign(x)
    } else {
        x
    }
}

fn close(op: &str, got: f32, want: f32) -> bool {
    if got.is_nan() || want.is_nan() {
        return got.is_nan() && want.is_nan();
    }
    if got == want {
        return true;
    }
    // the polynomials are within a few ulp (tanh and sigmoid within 4e-7 absolute); a
    // vector sum adds in another order than the interpreter's loop
    let abs = if matches!(op, "tanh" | "sigmoid") { 4e-7 } else { 0.0 };
    let rel = if op == "reduce_sum" { 2e-6 } else { 4e-7 };
    (got - want).abs() <= abs + rel * want.abs() || (got - want).abs() <= 2.0 * f32::from_bits(1)
}

type Build = fn(&Graph, &Tensor, &Tensor) -> Tensor;

fn ops() -> Vec<(&'static str, Build)> {
    vec![
        ("neg", |_, x, _| -x),
        ("abs", |_, x, _| kiln::abs(x).unwrap()),
        ("sign", |_, x, _| kiln::sign(x).unwrap()),
        ("exp", |_, x, _| kiln::exp(x).unwrap()),
        ("log", |_, x, _| kiln::log(x).unwrap()),
        ("sqrt", |_, x, _| kiln::sqrt(x).unwrap()),
        ("rsqrt", |_, x, _| kiln::rsqrt(x).unwrap()),
        ("square", |_, x, _| kiln::square(x).unwrap()),
        ("tanh", |_, x, _| kiln::tanh(x).unwrap()),
        ("sigmoid", |_, x, _| kiln::sigmoid(x).unwrap()),
        ("relu", |_, x, _| kiln::nn::relu(x).unwrap()),
        ("add", |_, x, y| x + y),
        ("sub", |_, x, y| x - y),
        ("mul", |_, x, y| x * y),
        ("div", |_, x, y| x / y),
        ("maximum", |_, x, y| kiln::maximum(x, y).unwrap()),
        ("minimum", |_, x, y| kiln::minimum(x, y).unwrap()),
        ("select_gt", |_, x, y| kiln::select(&kiln::greater(x, y).unwrap(), x, y).unwrap()),
        ("select_eq", |_, x, y| kiln::select(&kiln::equal(x, y).unwrap(), x, y).unwrap()),
        ("reduce_sum", |_, x, _| kiln::reduce_sum(x, 1, false).unwrap()),
        ("reduce_max", |_, x, _| kiln::reduce_max(x, 1, false).unwrap()),
        ("reduce_min", |_, x, _| kiln::reduce_min(x, 1, false).unwrap()),
    ]
}

/// Every pair of special values: x[i, j] = S[i], y[i, j] = S[j].
fn inputs() -> (ArrayD<f32>, ArrayD<f32>) {
    let n = SPECIAL.len();
    let x = ArrayD::from_shape_fn(IxDyn(&[n, n]), |i| SPECIAL[i[0]]);
    let y = ArrayD::from_shape_fn(IxDyn(&[n, n]), |i| SPECIAL[i[1]]);
    (x, y)
}

fn run(flush_denormals: bool) -> Vec<String> {
    let (xs, ys) = inputs();
    let mut failures = Vec::new();
    for (name, build) in ops() {
        let g = Graph::new();
        let n = SPECIAL.len();
        let x = g.placeholder(DType::F32, [n, n], "x").unwrap();
        let y = g.placeholder(DType::F32, [n, n], "y").unwrap();
        let out = build(&g, &x, &y);
        let jit_opts = SessionOptions { backend: Backend::Jit, flush_denormals, check: false, ..Default::default() };
        let mut jit = Session::with_options(&g, jit_opts);
        let mut interp =
            Session::with_options(&g, SessionOptions { backend: Backend::Interpreter, ..Default::default() });
        let got = jit.run1(&out, &[(&x, xs.clone().into()), (&y, ys.clone().into())]).unwrap();
        assert_eq!(jit.run_counts(), (1, 0), "{name} ran on the JIT");
        let (ix, iy) = if flush_denormals { (xs.mapv(flush), ys.mapv(flush)) } else { (xs.clone(), ys.clone()) };
        let want =
            interp.run1(&out, &[(&x, TensorValue::F32(ix.clone())), (&y, TensorValue::F32(iy.clone()))]).unwrap();
        let (got, want) = (got.into_f32().unwrap(), want.into_f32().unwrap());
        for (k, (&a, &b)) in got.iter().zip(want.iter()).enumerate() {
            // flushing acts on arithmetic; a bitwise op (neg, abs, a select) may pass a
            // denormal through, as on the hardware: compare values up to flushing
            let (a, b) = if flush_denormals { (flush(a), flush(b)) } else { (a, b) };
            if !close(name, a, b) {
                let (i, j) = if got.ndim() == 2 { (k / n, k % n) } else { (k, 0) };
                failures.push(format!("{name}({:e}, {:e}): jit {a:e}, interpreter {b:e}", ix[[i, j]], iy[[i, j]]));
            }
        }
    }
    failures
}

#[test]
fn special_values_agree_with_denormals_kept() {
    let f = run(false);
    assert!(f.is_empty(), "{} disagreements, first: {:#?}", f.len(), &f[..f.len().min(12)]);
}

#[test]
fn special_values_agree_with_denormals_flushed() {
    let f = run(true);
    assert!(f.is_empty(), "{} disagreements, first: {:#?}", f.len(), &f[..f.len().min(12)]);
}

#[test]
fn exp_overflows_where_f32_does() {
    // the finding: exp was +inf on [88.376, 88.723] where the true value is finite
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None], "x").unwrap();
    let e = kiln::exp(&x).unwrap();
    let mut jit = Session::with_options(&g, SessionOptions { backend: Backend::Jit, ..Default::default() });
    let xs: Vec<f32> = (0..400).map(|i| 88.3 + i as f32 * 0.001).collect();
    let out = jit.run1(&e, &[(&x, xs.clone().into())]).unwrap().into_f32().unwrap();
    for (&x, &y) in xs.iter().zip(out.iter()) {
        let want = (x as f64).exp();
        if want < f32::MAX as f64 {
            assert!(y.is_finite() && ((y as f64 - want) / want).abs() < 3e-7, "exp({x}) = {y}, want {want}");
        } else {
            assert_eq!(y, f32::INFINITY, "exp({x})");
        }
    }
    let _ = Axes::All;
}
