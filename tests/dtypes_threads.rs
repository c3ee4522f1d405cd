//! Every elementwise class, comparison, select, conversion and reduction, over every
//! dtype (f32, f64, i32, i64, bool and the narrow integers u8, i8, u16, i16), on shapes large enough for kernels to split across
//! threads, at 1, 2 and 3 threads: the JIT's results must equal the interpreter's, bit
//! for bit for integers and bools, within a stated tolerance for floats.
//!
//! The kernel ABI is what this guards: a split call moves each thread's pointers by
//! its rows times the element width, and a wrong width writes overlapping rows.

use kiln::ir::{Operands, BINARY_OPS, CMP_OPS, REDUCE_OPS, UNARY_OPS};
use kiln::{Axes, Backend, DType, Graph, RankPromotion, Session, SessionOptions, Tensor, TensorValue};
use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};

/// 1,536 rows of 512: 786k points, past the split threshold, and not a multiple of 3.
const ROWS: usize = 1537;
const COLS: usize = 512;

const DTYPES: [DType; 9] = DType::ALL;

fn options(backend: Backend, threads: usize) -> SessionOptions {
    SessionOptions { backend, log_compiles: false, check: false, threads, ..SessionOptions::default() }
}

/// Random data of `dtype` and `shape`: floats in `lo..hi`, integers in `lo..hi`
/// rounded, bools half true.
fn feed(dtype: DType, seed: u64, lo: f64, hi: f64, shape: &[usize]) -> TensorValue {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let shape = IxDyn(shape);
    match dtype {
        DType::F32 => ArrayD::from_shape_fn(shape, |_| rng.random_range(lo..hi) as f32).into(),
        DType::F64 => ArrayD::from_shape_fn(shape, |_| rng.random_range(lo..hi)).into(),
        DType::I32 => ArrayD::from_shape_fn(shape, |_| rng.random_range(lo..hi).round() as i32).into(),
        DType::I64 => {
            // values past 2^32 catch a kernel that truncates to 32 bits
            ArrayD::from_shape_fn(shape, |_| rng.random_range(lo..hi).round() as i64 * (1 << 33) + 7).into()
        }
        DType::Bool => ArrayD::from_shape_fn(shape, |_| rng.random_bool(0.5)).into(),
        // narrow integers over their whole range, so sums and products wrap; a
        // positive range (the divisor) gives 1 to 3
        DType::U8 | DType::I8 | DType::U16 | DType::I16 => {
            let v = ArrayD::from_shape_fn(shape, |_| {
                if lo > 0.0 {
                    rng.random_range(1..=3)
                } else {
                    rng.random_range(-70_000..70_000)
                }
            });
            let mut x = TensorValue::I32(v);
            x = match dtype {
                DType::U8 => TensorValue::U8(x.into_i32().unwrap().mapv(|v| v as u8)),
                DType::I8 => TensorValue::I8(x.into_i32().unwrap().mapv(|v| v as i8)),
                DType::U16 => TensorValue::U16(x.into_i32().unwrap().mapv(|v| v as u16)),
                _ => TensorValue::I16(x.into_i32().unwrap().mapv(|v| v as i16)),
            };
            x
        }
    }
}

fn takes(kind: Operands, dtype: DType) -> bool {
    match kind {
        Operands::Any => true,
        Operands::Numeric => dtype != DType::Bool,
        Operands::Float => matches!(dtype, DType::F32 | DType::F64),
    }
}

/// Named ops fetched together from the interpreter.
type Group = Vec<(String, Tensor)>;

/// The graph for one dtype: every op family the dtype takes, named for messages, in
/// groups (one interpreter run each).
fn build(dtype: DType) -> (Graph, Tensor, Tensor, Vec<Group>) {
    let g = Graph::new();
    g.set_rank_promotion(RankPromotion::Allow);
    let x = g.placeholder(dtype, [None, Some(COLS)], "x").unwrap();
    let y = g.placeholder(dtype, [None, Some(COLS)], "y").unwrap();
    let mut groups = Vec::new();
    let mut out: Vec<(String, Tensor)> = Vec::new();
    let float = matches!(dtype, DType::F32 | DType::F64);
    for &u in UNARY_OPS {
        if takes(u.operands(), dtype) {
            // y is positive: log, sqrt and rsqrt stay in their domain
            let arg = if float { &y } else { &x };
            out.push((u.mnemonic().into(), kiln::unary_op(u, arg).unwrap()));
        }
    }
    for &b in BINARY_OPS {
        // integer powers and divisions by zero are left to the op tests
        let int_pow = !float && b == kiln::ir::BinaryOp::Pow;
        if takes(b.operands(), dtype) && !int_pow {
            out.push((b.mnemonic().into(), kiln::binary_op(b, &x, &y).unwrap()));
        }
    }
    groups.push(std::mem::take(&mut out));
    for &c in CMP_OPS {
        if takes(c.operands(), dtype) {
            let m = kiln::compare_op(c, &x, &y).unwrap();
            out.push((format!("select({})", c.mnemonic()), kiln::where_(&m, &x, &y).unwrap()));
            out.push((c.mnemonic().into(), m));
        }
    }
    groups.push(std::mem::take(&mut out));
    for to in DTYPES {
        out.push((format!("convert to {to}"), kiln::cast(&x, to).unwrap()));
    }
    groups.push(std::mem::take(&mut out));
    if dtype != DType::Bool {
        for &r in REDUCE_OPS {
            // an integer mean is left to the op tests (TF truncates it)
            if !float && r == kiln::ir::ReduceOp::Mean {
                continue;
            }
            // products of floats near 1 stay finite; integer products wrap alike
            let arg = if float && r == kiln::ir::ReduceOp::Prod { &y } else { &x };
            for (axes, name) in [(Axes::from(vec![0i64]), "rows"), (Axes::from(vec![1i64]), "cols"), (Axes::All, "all")]
            {
                out.push((format!("{} over {name}", r.mnemonic()), kiln::reduce_op(r, arg, axes, false).unwrap()));
            }
        }
    }
    groups.push(out);
    (g, x, y, groups)
}

/// Equal as the dtype requires: integers and bools exactly, floats within
/// `atol + rtol |want|` (NaN matching NaN). Sums over 1,537 rows in another order
/// differ by a few ulp of their magnitude.
fn assert_matches(what: &str, got: &TensorValue, want: &TensorValue) {
    assert_eq!(got.shape(), want.shape(), "{what}: shapes");
    let close =
        |a: f64, b: f64, tol: f64| a == b || (a - b).abs() <= tol * (1.0 + b.abs()) || (a.is_nan() && b.is_nan());
    let first_bad = match (got, want) {
        (TensorValue::F32(a), TensorValue::F32(b)) => a
            .iter()
            .zip(b)
            .position(|(&p, &q)| !close(p as f64, q as f64, 2e-4))
            .map(|i| format!("{i}: {} vs {}", a.as_slice().unwrap()[i], b.as_slice().unwrap()[i])),
        (TensorValue::F64(a), TensorValue::F64(b)) => {
            a.iter().zip(b).position(|(&p, &q)| !close(p, q, 1e-9)).map(|i| format!("{i}"))
        }
        (TensorValue::I32(a), TensorValue::I32(b)) => a.iter().zip(b).position(|(p, q)| p != q).map(|i| format!("{i}")),
        (TensorValue::I64(a), TensorValue::I64(b)) => a.iter().zip(b).position(|(p, q)| p != q).map(|i| format!("{i}")),
        (TensorValue::Bool(a), TensorValue::Bool(b)) => {
            a.iter().zip(b).position(|(p, q)| p != q).map(|i| format!("{i}"))
        }
        (TensorValue::U8(a), TensorValue::U8(b)) => a.iter().zip(b).position(|(p, q)| p != q).map(|i| format!("{i}")),
        (TensorValue::I8(a), TensorValue::I8(b)) => a.iter().zip(b).position(|(p, q)| p != q).map(|i| format!("{i}")),
        (TensorValue::U16(a), TensorValue::U16(b)) => a.iter().zip(b).position(|(p, q)| p != q).map(|i| format!("{i}")),
        (TensorValue::I16(a), TensorValue::I16(b)) => a.iter().zip(b).position(|(p, q)| p != q).map(|i| format!("{i}")),
        _ => Some(format!("dtypes differ: {:?} vs {:?}", got.dtype(), want.dtype())),
    };
    if let Some(at) = first_bad {
        panic!("{what}: first difference at element {at}");
    }
}

#[test]
fn every_dtype_and_op_class_matches_the_interpreter_at_1_2_and_3_threads() {
    for dtype in DTYPES {
        let (g, x, y, groups) = build(dtype);
        let (lo, hi) = match dtype {
            DType::I32 | DType::I64 => (-1000.0, 1000.0),
            _ => (-3.0, 3.0),
        };
        // y: positive, never zero (integer division), near 1 (products)
        let feeds = [(&x, feed(dtype, 1, lo, hi, &[ROWS, COLS])), (&y, feed(dtype, 2, 0.6, 1.5, &[ROWS, COLS]))];
        let mut interp = Session::with_options(&g, options(Backend::Interpreter, 1));
        let mut jits: Vec<Session> = [1, 2, 3].map(|t| Session::with_options(&g, options(Backend::Jit, t))).into();
        for outs in groups.iter().filter(|o| !o.is_empty()) {
            let fetches: Vec<&Tensor> = outs.iter().map(|(_, t)| t).collect();
            let want = interp.run(&fetches, &feeds).unwrap();
            for (t, jit) in jits.iter_mut().enumerate() {
                // one op a run: independent kernels of one run merge into one call of
                // several nests, which never splits
                for ((name, op), b) in outs.iter().zip(&want) {
                    let got = jit.run(&[op], &feeds).unwrap();
                    assert_matches(&format!("{dtype} {name}, {} threads", t + 1), &got[0], b);
                }
            }
        }
    }
}

/// The reproduction: `x + x` on a `[None, 512]` int64 placeholder of 1,024
/// rows. Split across two threads with 4-byte pointer steps, rows 768-1023 came back 0.
#[test]
fn int64_rows_split_across_threads_are_all_written() {
    let g = Graph::new();
    let x = g.placeholder(DType::I64, [None, Some(512)], "x").unwrap();
    let y = &x + &x;
    let data = ArrayD::from_shape_fn(IxDyn(&[1024, 512]), |ix| (ix[0] * 512 + ix[1]) as i64);
    let want = data.mapv(|v| 2 * v);
    for threads in [1, 2, 3] {
        let mut s = Session::with_options(&g, options(Backend::Jit, threads));
        let got = s.run(&[&y], &[(&x, data.clone().into())]).unwrap();
        assert_eq!(got[0], TensorValue::I64(want.clone()), "{threads} threads");
    }
}

/// Check mode compares integer and bool kernels too, exactly: a sabotaged i64 kernel
/// (off by one) and a sabotaged bool kernel (flipped) are both named.
#[test]
fn check_mode_catches_wrong_integer_and_bool_kernels() {
    let g = Graph::new();
    let x = g.placeholder(DType::I64, [None, Some(8)], "x").unwrap();
    let doubled = &x + &x;
    let positive = kiln::greater(&x, &kiln::cast(&g.constant(0.0).unwrap(), DType::I64).unwrap()).unwrap();
    for (what, fetch) in [("i64", &doubled), ("bool", &positive)] {
        let opts = |sabotage: Option<&str>| SessionOptions {
            check: true,
            sabotage_kernel: sabotage.map(str::to_string),
            ..options(Backend::Jit, 1)
        };
        let small = [(&x, TensorValue::I64(ArrayD::from_shape_fn(IxDyn(&[4, 8]), |ix| ix[0] as i64 - ix[1] as i64)))];
        Session::with_options(&g, opts(None)).run(&[fetch], &small).expect("a correct kernel passes check mode");
        let e = Session::with_options(&g, opts(Some("fusion.0"))).run(&[fetch], &small).unwrap_err();
        match &e {
            kiln::Error::CheckFailed { kernel, diff, .. } => {
                assert_eq!(kernel, "fusion.0", "{what}");
                assert_ne!(diff.got, diff.want, "{what}");
            }
            other => panic!("{what}: expected a check failure, got {other}"),
        }
    }
}

/// One step of a random graph over one dtype: an op from a family the dtype takes, on
/// earlier values (by index, modulo how many there are).
#[derive(Clone, Debug)]
enum Step {
    Unary(u8, usize),
    Binary(u8, usize, usize),
    /// a comparison selecting between two values
    Select(u8, usize, usize),
    /// a round trip through another dtype
    Convert(u8, usize),
    /// a reduction over rows or columns, broadcast back against a value
    Reduce(u8, usize, bool),
}

fn step_strategy() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        (any::<u8>(), any::<usize>()).prop_map(|(k, i)| Step::Unary(k, i)),
        (any::<u8>(), any::<usize>(), any::<usize>()).prop_map(|(k, i, j)| Step::Binary(k, i, j)),
        (any::<u8>(), any::<usize>(), any::<usize>()).prop_map(|(k, i, j)| Step::Select(k, i, j)),
        (any::<u8>(), any::<usize>()).prop_map(|(k, i)| Step::Convert(k, i)),
        (any::<u8>(), any::<usize>(), any::<bool>()).prop_map(|(k, i, rows)| Step::Reduce(k, i, rows)),
    ]
}

/// Applies `step` to the values `ts` (all of `dtype`, shape `[rows, cols]`).
fn apply_step(ts: &mut Vec<Tensor>, dtype: DType, step: &Step) {
    let pick = |i: usize| ts[i % ts.len()].clone();
    let float = matches!(dtype, DType::F32 | DType::F64);
    let ok = |kind: Operands| takes(kind, dtype);
    let t = match *step {
        Step::Unary(k, i) => {
            // ops defined everywhere on their inputs (no log of a negative)
            let safe = [
                kiln::ir::UnaryOp::Neg,
                kiln::ir::UnaryOp::Abs,
                kiln::ir::UnaryOp::Sign,
                kiln::ir::UnaryOp::Tanh,
                kiln::ir::UnaryOp::Relu,
                kiln::ir::UnaryOp::Sigmoid,
            ];
            let ops: Vec<_> = safe.into_iter().filter(|u| ok(u.operands())).collect();
            let Some(&u) = ops.get(k as usize % ops.len().max(1)) else { return };
            kiln::unary_op(u, &pick(i)).unwrap()
        }
        Step::Binary(k, i, j) => {
            use kiln::ir::BinaryOp::*;
            // no integer division (by zero) or powers; products kept small by tanh
            let ops: Vec<_> = [Add, Sub, Mul, Maximum, Minimum].into_iter().filter(|b| ok(b.operands())).collect();
            let Some(&b) = ops.get(k as usize % ops.len().max(1)) else { return };
            let (x, y) = (pick(i), pick(j));
            let y = if float && b == Mul { kiln::tanh(&y).unwrap() } else { y };
            kiln::binary_op(b, &x, &y).unwrap()
        }
        Step::Select(k, i, j) => {
            let ops: Vec<_> = CMP_OPS.iter().copied().filter(|c| ok(c.operands())).collect();
            let c = ops[k as usize % ops.len()];
            let (x, y) = (pick(i), pick(j));
            let m = kiln::compare_op(c, &x, &y).unwrap();
            kiln::where_(&m, &x, &y).unwrap()
        }
        Step::Convert(k, i) => {
            let to = DTYPES[k as usize % DTYPES.len()];
            kiln::cast(&kiln::cast(&pick(i), to).unwrap(), dtype).unwrap()
        }
        Step::Reduce(k, i, rows) => {
            use kiln::ir::ReduceOp::*;
            if dtype == DType::Bool {
                return;
            }
            let ops = [Sum, Max, Min];
            let r = ops[k as usize % ops.len()];
            let axis = if rows { 0i64 } else { 1 };
            let red = kiln::reduce_op(r, &pick(i), vec![axis], true).unwrap();
            // broadcast back to [rows, cols] against a value
            kiln::binary_op(kiln::ir::BinaryOp::Maximum, &red, &pick(i + 1)).unwrap()
        }
    };
    ts.push(t);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).map_or(24, |n: u32| n.min(200))))]

    /// Random graphs of every dtype on shapes that split (and some that do not),
    /// at 1, 2 and 3 threads, against the interpreter.
    #[test]
    fn random_graphs_of_every_dtype_match_the_interpreter_at_1_2_and_3_threads(
        d in 0usize..5,
        shape in proptest::sample::select(vec![(1537usize, 512usize), (1024, 256), (2049, 131), (7, 5), (1, 1)]),
        steps in proptest::collection::vec(step_strategy(), 1..8),
    ) {
        let dtype = DTYPES[d];
        let g = Graph::new();
        g.set_rank_promotion(RankPromotion::Allow);
        let x = g.placeholder(dtype, [None, Some(shape.1)], "x").unwrap();
        let y = g.placeholder(dtype, [None, Some(shape.1)], "y").unwrap();
        let mut ts = vec![x.clone(), y.clone()];
        for s in &steps {
            apply_step(&mut ts, dtype, s);
        }
        // feeds of the drawn shape; 64-bit integers past 2^32
        let float = matches!(dtype, DType::F32 | DType::F64);
        let (lo, hi) = if float { (-3.0, 3.0) } else { (-100.0, 100.0) };
        let dims = [shape.0, shape.1];
        let feeds = [(&x, feed(dtype, 5, lo, hi, &dims)), (&y, feed(dtype, 6, lo, hi, &dims))];
        let last = ts.last().unwrap().clone();
        let want = Session::with_options(&g, options(Backend::Interpreter, 1)).run(&[&last], &feeds).unwrap();
        for threads in [1, 2, 3] {
            let got = Session::with_options(&g, options(Backend::Jit, threads)).run(&[&last], &feeds).unwrap();
            assert_matches(&format!("{dtype} {shape:?} {steps:?}, {threads} threads"), &got[0], &want[0]);
        }
    }
}
