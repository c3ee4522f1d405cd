//! Differential: parse, verify, compile and run any module the parser accepts, on random
//! feeds, on the JIT at 1, 2 and 3 threads and on the interpreter. Either every run
//! fails with a typed error or every run succeeds, and then:
//! - the JIT's results are bit for bit the same at every thread count (a split computes
//!   each element as one thread does);
//! - integers and bools equal the interpreter's exactly, and floats within
//!   `1e-3 (1 + |interp|)` where both are finite (NaN matching NaN, infinities equal).
//!
//! The first byte seeds the feeds and picks the symbolic dims' size, from 1 to 70,001
//! (large enough for kernels to split across threads).
#![no_main]

use kiln::{Backend, Graph, Session, SessionOptions, TensorValue};
use libfuzzer_sys::fuzz_target;
use ndarray::{ArrayD, IxDyn};

/// splitmix64: a feed generator with no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-2, 2).
    fn float(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 2.0
    }
    /// Uniform in -3..=5 (indices mostly in range, some not).
    fn int(&mut self) -> i64 {
        (self.next() % 9) as i64 - 3
    }
}

fn random_value(rng: &mut Rng, dtype: kiln::DType, shape: &[usize]) -> TensorValue {
    use kiln::DType as D;
    let s = IxDyn(shape);
    match dtype {
        D::F32 => ArrayD::from_shape_fn(s, |_| rng.float() as f32).into(),
        D::F64 => ArrayD::from_shape_fn(s, |_| rng.float()).into(),
        D::I32 => ArrayD::from_shape_fn(s, |_| rng.int() as i32).into(),
        D::I64 => ArrayD::from_shape_fn(s, |_| rng.int()).into(),
        D::Bool => ArrayD::from_shape_fn(s, |_| rng.next() & 1 == 1).into(),
        // narrow integers over their whole range, so arithmetic wraps
        D::U8 => ArrayD::from_shape_fn(s, |_| rng.next() as u8).into(),
        D::I8 => ArrayD::from_shape_fn(s, |_| rng.next() as i8).into(),
        D::U16 => ArrayD::from_shape_fn(s, |_| rng.next() as u16).into(),
        D::I16 => ArrayD::from_shape_fn(s, |_| rng.next() as i16).into(),
    }
}

/// Bit-for-bit equality, NaN payloads included.
fn identical(a: &TensorValue, b: &TensorValue) -> bool {
    match (a, b) {
        (TensorValue::F32(x), TensorValue::F32(y)) => {
            x.shape() == y.shape() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits())
        }
        (TensorValue::F64(x), TensorValue::F64(y)) => {
            x.shape() == y.shape() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits())
        }
        _ => a == b,
    }
}

/// Agreement with the interpreter as the module docs state it.
fn agrees(jit: &TensorValue, interp: &TensorValue) -> bool {
    fn close(a: f64, b: f64) -> bool {
        if a.is_nan() || b.is_nan() {
            return a.is_nan() && b.is_nan();
        }
        if !a.is_finite() || !b.is_finite() {
            // a finite result near the largest float may overflow on one side only
            return a == b || a.abs() > 1e30 || b.abs() > 1e30;
        }
        (a - b).abs() <= 1e-3 * (1.0 + b.abs())
    }
    match (jit, interp) {
        (TensorValue::F32(x), TensorValue::F32(y)) => {
            x.shape() == y.shape() && x.iter().zip(y).all(|(&p, &q)| close(p as f64, q as f64))
        }
        (TensorValue::F64(x), TensorValue::F64(y)) => x.shape() == y.shape() && x.iter().zip(y).all(|(&p, &q)| close(p, q)),
        _ => jit == interp,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let Ok(g) = Graph::parse_ir(text) else { return };
    let m = g.module();
    // fetch every op nothing uses (the module's results)
    let mut used = vec![false; m.ops.len()];
    for op in &m.ops {
        for u in &op.operands {
            used[u.index()] = true;
        }
    }
    let fetches: Vec<kiln::Tensor> = m
        .values()
        .filter(|v| !used[v.index()])
        .filter_map(|v| g.get_tensor_by_name(&m.op(v).name).ok())
        .collect();
    let size = [1, 2, 3, 4, 300, 70_001][seed as usize % 6];
    let mut rng = Rng(u64::from(seed));
    let mut feeds = Vec::new();
    for v in m.parameters() {
        let Some(t) = m.ty(v) else { return };
        let shape: Vec<usize> = t.shape.dims().iter().map(|d| d.fixed().map_or(size, |k| k as usize)).collect();
        if shape.iter().try_fold(1usize, |p, &d| p.checked_mul(d)).is_none_or(|n| n > 1 << 20) {
            return; // feeds of at most a million elements
        }
        let Ok(p) = g.get_tensor_by_name(&m.op(v).name) else { return };
        feeds.push((p, random_value(&mut rng, t.dtype, &shape)));
    }
    drop(m);
    let refs: Vec<&kiln::Tensor> = fetches.iter().collect();
    let feed_refs: Vec<(&kiln::Tensor, TensorValue)> = feeds.iter().map(|(t, v)| (t, v.clone())).collect();
    let run = |backend, threads| {
        let opts = SessionOptions { backend, threads, log_compiles: false, ..Default::default() };
        let mut sess = Session::with_options(&g, opts);
        if let Ok(init) = g.global_variables_initializer() {
            let _ = sess.run1(&init, &[]);
        }
        sess.run(&refs, &feed_refs).map_err(|e| e.to_string())
    };
    let interp = run(Backend::Interpreter, 1);
    let jit: Vec<_> = (1..=3).map(|t| run(Backend::Jit, t)).collect();
    for (t, r) in jit.iter().enumerate() {
        assert_eq!(r.is_ok(), interp.is_ok(), "{} threads: jit {r:?} vs interpreter {interp:?}", t + 1);
    }
    let (Ok(want), Ok(one)) = (&interp, &jit[0]) else { return };
    for (t, r) in jit.iter().enumerate().skip(1) {
        let got = r.as_ref().expect("checked above");
        for (i, (a, b)) in got.iter().zip(one).enumerate() {
            assert!(identical(a, b), "fetch {i}: {} threads differ from one thread", t + 1);
        }
    }
    for (i, (a, b)) in one.iter().zip(want).enumerate() {
        assert!(agrees(a, b), "fetch {i}: the JIT's {a:?} is not the interpreter's {b:?}");
    }
});
