//! TF1's own numbers through the Rust API: the conformance cases of
//! `python/conformance/cases.py`, written again with kiln's Rust functions, against
//! the same goldens TF1 wrote (`python/conformance/goldens/tf1.npz`), with the same
//! tolerances, on both backends and in both float dtypes. Inputs are drawn from
//! NumPy's `RandomState` stream (MT19937, reproduced below), so both languages build
//! the same graphs.
//!
//! Every case of the suite is here (the test checks the set against the goldens'):
//! edge values and gradients of every op, kinks and ties, broadcasts, reductions,
//! matmuls, the softmax family, shape and index ops, build errors (by TF1's exception
//! class), long reductions, the optimizers over four steps and the decay schedules,
//! the homework ops, the random compositions and every `surface/` case.

#[path = "common/mt.rs"]
mod mt;
use kiln::frontend::{Index, OneHot, Split};
use kiln::ir::DType;
use kiln::{Axes, Backend, Graph, Session, SessionOptions, Tensor, TensorValue};
use mt::RandomState;
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::NpzReader;
use std::collections::BTreeMap;
use std::fs::File;

type R<T> = Result<T, kiln::BuildError>;

/// A case's fetches and feeds.
#[derive(Default)]
struct Out {
    fetch: Vec<(String, Tensor)>,
    feed: Vec<(Tensor, TensorValue)>,
    /// an optimizer case: (train op, values after each step, loss), run for 4 steps
    train: Option<(Tensor, Vec<Tensor>, Tensor)>,
}

impl Out {
    fn put(&mut self, k: &str, t: Tensor) {
        self.fetch.push((k.to_string(), t));
    }
}

fn rng(i: u32) -> RandomState {
    RandomState::new(1000 + i)
}

fn c(g: &Graph, v: Vec<f64>, shape: &[usize], dt: DType) -> Tensor {
    let a = ArrayD::from_shape_vec(IxDyn(shape), v).expect("case data fits its shape");
    g.constant_with_dtype(a, dt).expect("a float constant")
}

fn uni(g: &Graph, seed: u32, lo: f64, hi: f64, shape: &[usize], dt: DType) -> Tensor {
    let n = shape.iter().product();
    c(g, rng(seed).uniform(lo, hi, n), shape, dt)
}

/// d(sum(y * w))/dx for NumPy's `rng(99).uniform(0.5, 1.5)` weighting, as `grads` in
/// cases.py.
fn grads(out: &mut Out, y: &Tensor, xs: &[&Tensor]) -> R<()> {
    let shape: Vec<usize> = y.get_shape().as_list().iter().map(|d| d.expect("known")).collect();
    let w = uni(y.graph(), 99, 0.5, 1.5, &shape, y.dtype().expect("a value"));
    let s = kiln::reduce_sum(&kiln::multiply(y, &w)?, Axes::All, false)?;
    let gs = kiln::gradients(&[&s], xs)?;
    for (i, g) in gs.into_iter().enumerate() {
        if let Some(g) = g {
            out.put(&format!("grad{i}"), g);
        }
    }
    Ok(())
}

const INF: f64 = f64::INFINITY;
const EDGE: [f64; 18] =
    [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e-3, -1e-7, 20.0, -20.0, 88.5, 89.0, -87.0, -104.0, INF, -INF, f64::NAN];

type Case = Box<dyn Fn(&Graph, DType) -> R<Out>>;

fn unary(name: &str) -> fn(&Tensor) -> R<Tensor> {
    match name {
        "negative" => kiln::negative,
        "abs" => kiln::abs,
        "sign" => kiln::sign,
        "exp" => kiln::exp,
        "log" => kiln::log,
        "sqrt" => kiln::sqrt,
        "rsqrt" => kiln::rsqrt,
        "square" => kiln::square,
        "tanh" => kiln::tanh,
        "sigmoid" => kiln::sigmoid,
        "log1p" => kiln::log1p,
        "nn.relu" => kiln::nn::relu,
        "nn.softplus" => kiln::softplus,
        "nn.elu" => kiln::elu,
        "nn.sigmoid" => kiln::nn::sigmoid,
        _ => kiln::nn::tanh,
    }
}

fn binary(name: &str) -> fn(&Tensor, &Tensor) -> R<Tensor> {
    match name {
        "add" => kiln::add,
        "subtract" => kiln::subtract,
        "multiply" => kiln::multiply,
        "divide" => kiln::divide,
        "maximum" => kiln::maximum,
        "minimum" => kiln::minimum,
        _ => kiln::pow,
    }
}

fn cases() -> BTreeMap<String, Case> {
    let mut m: BTreeMap<String, Case> = BTreeMap::new();
    for op in ["negative", "abs", "sign", "exp", "log", "sqrt", "rsqrt", "square", "tanh", "sigmoid", "log1p"] {
        m.insert(
            format!("edge/{op}"),
            Box::new(move |g, dt| {
                let mut o = Out::default();
                o.put("y", unary(op)(&c(g, EDGE.to_vec(), &[18], dt))?);
                Ok(o)
            }),
        );
        m.insert(
            format!("grad/{op}"),
            Box::new(move |g, dt| {
                let (lo, hi) = match op {
                    "log" | "sqrt" | "rsqrt" => (0.1, 3.0),
                    "log1p" => (-0.5, 3.0),
                    _ => (-3.0, 3.0),
                };
                let x = uni(g, 1, lo, hi, &[3, 4], dt);
                let mut o = Out::default();
                grads(&mut o, &unary(op)(&x)?, &[&x])?;
                Ok(o)
            }),
        );
    }
    for op in ["relu", "softplus", "elu", "sigmoid", "tanh"] {
        let name = format!("nn.{op}");
        let n2 = name.clone();
        m.insert(
            format!("edge/{name}"),
            Box::new(move |g, dt| {
                let mut o = Out::default();
                o.put("y", unary(&name)(&c(g, EDGE.to_vec(), &[18], dt))?);
                Ok(o)
            }),
        );
        m.insert(
            format!("grad/{n2}"),
            Box::new(move |g, dt| {
                let x = uni(g, 2, -3.0, 3.0, &[5], dt);
                let mut o = Out::default();
                grads(&mut o, &unary(&n2)(&x)?, &[&x])?;
                Ok(o)
            }),
        );
    }
    m.insert(
        "kink/relu_abs_at_zero".into(),
        Box::new(|g, dt| {
            let x = c(g, vec![0.0, -0.0, 1.0, -1.0], &[4], dt);
            let y = kiln::reduce_sum(&kiln::add(&kiln::nn::relu(&x)?, &kiln::abs(&x)?)?, Axes::All, false)?;
            let mut o = Out::default();
            o.put("grad", kiln::gradients(&[&y], &[&x])?[0].clone().expect("depends"));
            Ok(o)
        }),
    );
    m.insert(
        "tie/maximum_minimum".into(),
        Box::new(|g, dt| {
            let x = c(g, vec![1.0, 2.0, 3.0], &[3], dt);
            let y = c(g, vec![1.0, 1.0, 4.0], &[3], dt);
            let mx = kiln::maximum(&x, &y)?;
            let s = kiln::add(&mx, &(2.0f32 * kiln::minimum(&x, &y)?))?;
            let gs = kiln::gradients(&[&kiln::reduce_sum(&s, Axes::All, false)?], &[&x, &y])?;
            let mut o = Out::default();
            o.put("max", mx);
            o.put("gx", gs[0].clone().expect("x"));
            o.put("gy", gs[1].clone().expect("y"));
            Ok(o)
        }),
    );
    m.insert(
        "tie/reduce_max".into(),
        Box::new(|g, dt| {
            let x = c(g, vec![1.0, 3.0, 3.0, 2.0, 2.0, 2.0], &[2, 3], dt);
            let mx = kiln::reduce_max(&x, 1, false)?;
            let gr = kiln::gradients(&[&kiln::reduce_sum(&mx, Axes::All, false)?], &[&x])?[0].clone();
            let mut o = Out::default();
            o.put("m", mx);
            o.put("grad", gr.expect("x"));
            Ok(o)
        }),
    );
    m.insert(
        "tie/argmax".into(),
        Box::new(|g, dt| {
            let x = c(g, vec![1.0, 3.0, 3.0, 2.0, 2.0, 2.0, f64::NAN, 1.0, 0.0], &[3, 3], dt);
            let mut o = Out::default();
            o.put("a", kiln::argmax(&x, 1)?);
            Ok(o)
        }),
    );
    let bcasts: [(&[usize], &[usize]); 7] = [
        (&[3, 1], &[1, 4]),
        (&[2, 3], &[3]),
        (&[2, 3], &[]),
        (&[], &[4]),
        (&[2, 1, 3], &[4, 1]),
        (&[1], &[5]),
        (&[0, 3], &[3]),
    ];
    for (i, (a, b)) in bcasts.into_iter().enumerate() {
        for op in ["add", "subtract", "multiply", "divide", "maximum", "minimum", "pow"] {
            m.insert(
                format!("bcast{i}/{op}"),
                Box::new(move |g, dt| {
                    let lo = if matches!(op, "pow" | "divide") { 0.5 } else { -2.0 };
                    let x = uni(g, 10 + i as u32, lo, 2.0, a, dt);
                    let y = uni(g, 20 + i as u32, 0.5, 2.0, b, dt);
                    let z = binary(op)(&x, &y)?;
                    let mut o = Out::default();
                    o.put("z", z.clone());
                    grads(&mut o, &z, &[&x, &y])?;
                    Ok(o)
                }),
            );
        }
    }
    let axes: [(&str, Axes, bool); 6] = [
        ("None", Axes::All, false),
        ("0", Axes::List(vec![0]), false),
        ("1", Axes::List(vec![1]), true),
        ("-1", Axes::List(vec![-1]), false),
        ("[0, 2]", Axes::List(vec![0, 2]), true),
        ("-2", Axes::List(vec![-2]), true),
    ];
    for op in ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod"] {
        for (name, axis, kd) in axes.clone() {
            let kds = if kd { "True" } else { "False" };
            m.insert(
                format!("reduce/{op}/{name}/{kds}"),
                Box::new(move |g, dt| {
                    let x = uni(g, 3, -2.0, 2.0, &[2, 3, 4], dt);
                    let r = kiln::ir::REDUCE_OPS.iter().find(|r| r.tf_function() == op).expect("a table op");
                    let y = kiln::reduce_op(*r, &x, axis.clone(), kd)?;
                    let mut o = Out::default();
                    o.put("y", y.clone());
                    grads(&mut o, &y, &[&x])?;
                    Ok(o)
                }),
            );
        }
    }
    for ta in [false, true] {
        for tb in [false, true] {
            m.insert(
                format!("matmul/ta{}_tb{}", ta as u8, tb as u8),
                Box::new(move |g, dt| {
                    let x = uni(g, 5, -1.0, 1.0, if ta { &[4, 3] } else { &[3, 4] }, dt);
                    let y = uni(g, 6, -1.0, 1.0, if tb { &[5, 4] } else { &[4, 5] }, dt);
                    let z = kiln::matmul_with(&x, &y, kiln::MatMul { transpose_a: ta, transpose_b: tb })?;
                    let mut o = Out::default();
                    o.put("z", z.clone());
                    grads(&mut o, &z, &[&x, &y])?;
                    Ok(o)
                }),
            );
        }
    }
    more_cases(&mut m);
    errs(&mut m);
    long(&mut m);
    homework(&mut m);
    optimizers(&mut m);
    random_graphs(&mut m);
    subnormals(&mut m);
    m
}

/// Where kiln differs from TF1 on purpose (the README's table; the Python suite's
/// KNOWN): such a case must still differ, so a fix is noticed.
const KNOWN: [(&str, DType, Backend); 1] = [("edge/subnormals", DType::F32, Backend::Jit)];

include!("common/conformance_cases.rs");

fn more_cases(m: &mut BTreeMap<String, Case>) {
    m.insert(
        "nn/softmax_family".into(),
        Box::new(|g, dt| {
            let lo = c(g, vec![1.0, 2.0, 3.0, 1000.0, 1000.0, -1000.0, -50.0, 0.0, 50.0], &[3, 3], dt);
            let lab = c(g, vec![0.0, 0.0, 1.0, 0.5, 0.5, 0.0, 0.2, 0.3, 0.5], &[3, 3], dt);
            let xe = kiln::nn::softmax_cross_entropy_with_logits(&lab, &lo)?;
            let sxe = kiln::nn::sparse_softmax_cross_entropy_with_logits(&g.constant(vec![2i32, 0, 1])?, &lo)?;
            let mut o = Out::default();
            o.put("softmax", kiln::nn::softmax(&lo)?);
            o.put("log_softmax", kiln::nn::log_softmax(&lo)?);
            let gx = kiln::gradients(&[&kiln::reduce_sum(&xe, Axes::All, false)?], &[&lo])?[0].clone();
            let gs = kiln::gradients(&[&kiln::reduce_sum(&sxe, Axes::All, false)?], &[&lo])?[0].clone();
            o.put("xe", xe);
            o.put("sxe", sxe);
            o.put("grad_xe", gx.expect("lo"));
            o.put("grad_sxe", gs.expect("lo"));
            Ok(o)
        }),
    );
    m.insert(
        "select/where".into(),
        Box::new(|g, dt| {
            let x = c(g, vec![1.0, -2.0, 3.0, 0.0], &[4], dt);
            let y = c(g, vec![0.0, 5.0, -1.0, 1.0], &[4], dt);
            let z = kiln::where_v1(&kiln::greater(&x, &y)?, &x, &y)?;
            let gs = kiln::gradients(&[&kiln::reduce_sum(&kiln::square(&z)?, Axes::All, false)?], &[&x, &y])?;
            let mut o = Out::default();
            o.put("z", z);
            o.put("gx", gs[0].clone().expect("x"));
            o.put("gy", gs[1].clone().expect("y"));
            o.put("clip", kiln::clip_by_value(&x, -1.0, 1.5)?);
            Ok(o)
        }),
    );
    m.insert(
        "index/gather_one_hot".into(),
        Box::new(|g, dt| {
            let p = uni(g, 8, -1.0, 1.0, &[5, 3], dt);
            let i = g.constant(vec![4i32, 0, 0, 2])?;
            let gt = kiln::gather_v2(&p, &i, None, 0)?;
            let gr = kiln::gradients(&[&kiln::reduce_sum(&kiln::square(&gt)?, Axes::All, false)?], &[&p])?[0].clone();
            let mut o = Out::default();
            o.put("gather", gt);
            o.put("one_hot", kiln::one_hot(&i, 5)?);
            o.put("grad", gr.expect("p"));
            Ok(o)
        }),
    );
    m.insert(
        "shape/ops".into(),
        Box::new(|g, dt| {
            let x = uni(g, 7, -1.0, 1.0, &[2, 3, 4], dt);
            let sl = kiln::getitem(
                &x,
                &[
                    Index::At(1),
                    Index::Range { start: None, stop: None, step: None },
                    Index::Range { start: Some(2), stop: None, step: None },
                ],
            )?;
            let t = kiln::transpose(&x, Some(&[2, 0, 1]))?;
            let mut o = Out::default();
            o.put("reshape", kiln::reshape(&x, &[6, -1])?);
            o.put("transpose", t.clone());
            o.put("slice", kiln::slice(&x, &[1, 0, 1], &[1, -1, 2])?);
            o.put("concat", kiln::concat(&[&x, &(&x * 2.0)], -1)?);
            o.put("expand", kiln::expand_dims(&x, 1)?);
            o.put("squeeze", kiln::squeeze(&kiln::expand_dims(&x, -1)?, &[3])?);
            o.put("stack", kiln::stack(&[&x, &x], 1)?);
            o.put("getitem", sl.clone());
            let y = kiln::concat(&[&kiln::reshape(&t, &[-1])?, &kiln::reshape(&sl, &[-1])?], 0)?;
            let gr = kiln::gradients(&[&kiln::reduce_sum(&y, Axes::All, false)?], &[&x])?[0].clone();
            o.put("grad", gr.expect("x"));
            Ok(o)
        }),
    );
    surface_cases(m);
}

fn surface_cases(m: &mut BTreeMap<String, Case>) {
    m.insert(
        "surface/split_argmin".into(),
        Box::new(|g, dt| {
            let x = uni(g, 21, -1.0, 1.0, &[4, 6], dt);
            let abc = kiln::split(&x, Split::Num(3), 1)?;
            let pq = kiln::split(&x, Split::Sizes(vec![1, -1]), 0)?;
            let ties = c(g, vec![3.0, 1.0, 1.0, 2.0, 2.0, 2.0, 0.5, -1.0, 4.0], &[3, 3], dt);
            let ints = g.constant(ndarray::arr2(&[[5i32, -7, -7, 2], [i32::MAX, i32::MIN, 0, 1]]))?;
            let weighted = kiln::add_n(&[&abc[0], &(&abc[1] * 2.0), &(&abc[2] * 3.0)])?;
            let y = kiln::add(
                &kiln::reduce_sum(&weighted, Axes::All, false)?,
                &kiln::reduce_sum(&kiln::square(&pq[1])?, Axes::All, false)?,
            )?;
            let mut o = Out::default();
            o.put("a", abc[0].clone());
            o.put("c", abc[2].clone());
            o.put("p", pq[0].clone());
            o.put("q", pq[1].clone());
            o.put("argmin", kiln::argmin(&ties, 1, DType::I64)?);
            o.put("argmin0", kiln::argmin(&ties, 0, DType::I32)?);
            o.put("argmin_int", kiln::argmin(&ints, 1, DType::I64)?);
            o.put("grad", kiln::gradients(&[&y], &[&x])?[0].clone().expect("x"));
            Ok(o)
        }),
    );
    m.insert(
        "surface/clip_by_norm".into(),
        Box::new(|g, dt| {
            let x = c(g, vec![3.0, 4.0, 0.3, 0.4], &[2, 2], dt);
            let z = c(g, vec![0.0; 3], &[3], dt);
            let whole = kiln::clip_by_norm(&x, 2.0, Axes::All)?;
            let rows = kiln::clip_by_norm(&x, 1.0, Axes::List(vec![1]))?;
            let bounds = kiln::clip_by_value(&x, c(g, vec![0.5, 0.35], &[2], dt), c(g, vec![3.5], &[], dt))?;
            let wts = c(g, vec![1.0, -2.0, 0.5, 3.0], &[2, 2], dt);
            let y = kiln::add_n(&[
                &kiln::reduce_sum(&kiln::multiply(&whole, &wts)?, Axes::All, false)?,
                &kiln::reduce_sum(&kiln::square(&rows)?, Axes::All, false)?,
                &kiln::reduce_sum(&bounds, Axes::All, false)?,
            ])?;
            let mut o = Out::default();
            o.put("whole", whole);
            o.put("rows", rows);
            o.put("zero", kiln::clip_by_norm(&z, 1.0, Axes::All)?);
            o.put("bounds", bounds);
            o.put("grad", kiln::gradients(&[&y], &[&x])?[0].clone().expect("x"));
            Ok(o)
        }),
    );
    m.insert(
        "surface/nn_extras".into(),
        Box::new(|g, dt| {
            let x = c(g, vec![0.0, -1.5, 2.0, -0.0, 3.0, -0.25], &[2, 3], dt);
            let b = c(g, vec![0.5, -1.0, 2.0], &[3], dt);
            let lr = kiln::nn::leaky_relu(&x, 0.1)?;
            let sm0 = kiln::nn::softmax_along(&x, 0)?;
            let lsm0 = kiln::nn::log_softmax_along(&x, 0)?;
            let ba = kiln::nn::bias_add(&x, &b)?;
            let l2 = kiln::nn::l2_loss(&x)?;
            let s = |t: &Tensor| kiln::reduce_sum(t, Axes::All, false);
            let y = kiln::add_n(&[
                &s(&(&lr * 3.0))?,
                &s(&kiln::multiply(&sm0, &x)?)?,
                &s(&lsm0)?,
                &s(&kiln::square(&ba)?)?,
                &l2,
            ])?;
            let mut o = Out::default();
            for (k, t) in [("leaky", &lr), ("sm0", &sm0), ("lsm0", &lsm0), ("bias_add", &ba), ("l2", &l2)] {
                o.put(k, t.clone());
            }
            grads(&mut o, &y, &[&x, &b])?;
            Ok(o)
        }),
    );
    m.insert(
        "surface/one_hot_in_dtype".into(),
        Box::new(|g, dt| {
            let i = g.constant(ndarray::arr2(&[[0i32, 2], [1, 5]]))?;
            let on = || Some(c(g, vec![0.7], &[], dt).into());
            let off = || Some(c(g, vec![-0.1], &[], dt).into());
            let mut o = Out::default();
            o.put("dt", kiln::one_hot_with(&i, 3, OneHot { dtype: Some(dt), ..Default::default() })?);
            o.put(
                "tensors",
                kiln::one_hot_with(&i, 3, OneHot { on_value: on(), off_value: off(), ..Default::default() })?,
            );
            let axis1 = OneHot { on_value: on(), off_value: off(), axis: Some(1), ..Default::default() };
            o.put("axis1", kiln::one_hot_with(&i, 4, axis1)?);
            let ints = OneHot {
                on_value: Some(g.constant(7i32)?.into()),
                off_value: Some(g.constant(-2i32)?.into()),
                ..Default::default()
            };
            o.put("ints", kiln::one_hot_with(&i, 3, ints)?);
            Ok(o)
        }),
    );
    m.insert(
        "surface/concat_unknown_batches".into(),
        Box::new(|g, dt| {
            let s = g.placeholder(dt, [None, Some(3)], "s")?;
            let a = g.placeholder(dt, [None, Some(2)], "a")?;
            let sa = kiln::concat(&[&s, &a], 1)?;
            let w = uni(g, 22, -1.0, 1.0, &[5, 1], dt);
            let q = kiln::matmul(&sa, &w)?;
            let gs = kiln::gradients(&[&kiln::reduce_sum(&kiln::square(&q)?, Axes::All, false)?], &[&s, &a])?;
            let mut o = Out::default();
            o.put("sa", sa.clone());
            o.put("q", q);
            o.put("gs", gs[0].clone().expect("s"));
            o.put("ga", gs[1].clone().expect("a"));
            o.put("zeros", kiln::zeros_like(&sa, None)?);
            o.put("ones", kiln::ones_like(&a, Some(DType::I32))?);
            o.feed.push((s, value(rng(23).uniform(-1.0, 1.0, 12), &[4, 3], dt)));
            o.feed.push((a, value(rng(24).uniform(-1.0, 1.0, 8), &[4, 2], dt)));
            Ok(o)
        }),
    );
    m.insert(
        "surface/concat_unknown_axis".into(),
        Box::new(|g, dt| {
            let a = g.placeholder(dt, [None, Some(3)], "a")?;
            let b = g.placeholder(dt, [None, Some(3)], "b")?;
            let ab = kiln::concat(&[&a, &b, &a], 0)?;
            let w = uni(g, 26, -1.0, 1.0, &[3, 2], dt);
            let y = kiln::matmul(&ab, &w)?;
            let gs = kiln::gradients(&[&kiln::reduce_sum(&kiln::square(&y)?, Axes::All, false)?], &[&a, &b])?;
            let mut o = Out::default();
            o.put("ab", ab.clone());
            o.put("rows", kiln::shape(&ab, DType::I32)?);
            o.put("y", y);
            o.put("ga", gs[0].clone().expect("a"));
            o.put("gb", gs[1].clone().expect("b"));
            o.feed.push((a, value(rng(27).uniform(-1.0, 1.0, 6), &[2, 3], dt)));
            o.feed.push((b, value(rng(28).uniform(-1.0, 1.0, 9), &[3, 3], dt)));
            Ok(o)
        }),
    );
    m.insert(
        "surface/uint8_frames".into(),
        Box::new(|g, dt| {
            let x = g.placeholder(DType::U8, [None, Some(3)], "x")?;
            let u8c = |v: u8| g.constant(v);
            let mut o = Out::default();
            let scaled = kiln::divide(&kiln::cast(&x, dt)?, &c(g, vec![255.0], &[], dt))?;
            o.put("scaled", scaled);
            o.put("max", kiln::reduce_max(&x, 1, false)?);
            o.put("min", kiln::reduce_min(&x, Axes::All, false)?);
            o.put("full", kiln::equal(&x, &u8c(255)?)?);
            o.put("greater", kiln::greater(&x, &u8c(100)?)?);
            o.put("back", kiln::cast(&c(g, vec![0.0, 1.9, 254.6], &[1, 3], dt), DType::U8)?);
            o.put("i8", kiln::cast(&g.constant(vec![-128i32, 5, 127])?, DType::I8)?);
            let i16 = kiln::cast(&g.constant(vec![-32768i32, 300, 32767])?, DType::I16)?;
            o.put("i16", kiln::add(&i16, &g.constant_with_dtype(1i32, DType::I16)?)?);
            let u16 = kiln::cast(&x, DType::U16)?;
            o.put("u16", kiln::multiply(&u16, &g.constant_with_dtype(200i32, DType::U16)?)?);
            o.put("mean", kiln::reduce_mean(&kiln::cast(&x, dt)?, 0, false)?);
            let v = ndarray::arr2(&[[0u8, 1, 255], [128, 7, 200]]).into_dyn();
            o.feed.push((x, TensorValue::U8(v)));
            Ok(o)
        }),
    );
    m.insert(
        "surface/zeros_like_nonfinite".into(),
        Box::new(|g, dt| {
            let x = g.placeholder(dt, [None, Some(2)], "x")?;
            let mut o = Out::default();
            o.put("z", kiln::zeros_like(&x, None)?);
            o.put("o", kiln::ones_like(&x, None)?);
            o.feed.push((x, value(vec![INF, f64::NAN, -INF, 1.0], &[2, 2], dt)));
            Ok(o)
        }),
    );
    m.insert(
        "surface/losses_weights".into(),
        Box::new(|g, dt| {
            let lab = c(g, vec![0.0, 1.0, 2.0, -1.0], &[2, 2], dt);
            let pred = c(g, vec![0.3, 0.2, 4.0, -1.1], &[2, 2], dt);
            let mut o = Out::default();
            o.put("mse", kiln::losses::mean_squared_error(&lab, &pred, 0.5)?);
            o.put("abs", kiln::losses::absolute_difference(&lab, &pred, 2.0)?);
            o.put("huber", kiln::losses::huber_loss(&lab, &pred, 1.0, 0.5)?);
            o.put("huber_w0", kiln::losses::huber_loss(&lab, &pred, 0.0, 1.0)?);
            Ok(o)
        }),
    );
    m.insert(
        "surface/getitem".into(),
        Box::new(|g, dt| {
            let x = uni(g, 25, -1.0, 1.0, &[3, 4, 5], dt);
            let a = kiln::getitem(
                &x,
                &[
                    Index::Range { start: Some(1), stop: None, step: None },
                    Index::NewAxis,
                    Index::Ellipsis,
                    Index::At(0),
                ],
            )?;
            let b = kiln::getitem(&x, &[Index::At(-1), Index::Range { start: None, stop: Some(-1), step: None }])?;
            let cc = kiln::getitem(&x, &[Index::Ellipsis, Index::Range { start: Some(2), stop: Some(4), step: None }])?;
            let s = |t: &Tensor| kiln::reduce_sum(t, Axes::All, false);
            let y = kiln::add_n(&[&s(&a)?, &s(&(&b * 2.0))?, &s(&kiln::square(&cc)?)?])?;
            let mut o = Out::default();
            o.put("a", a);
            o.put("b", b);
            o.put("c", cc);
            o.put("grad", kiln::gradients(&[&y], &[&x])?[0].clone().expect("x"));
            Ok(o)
        }),
    );
    m.insert(
        "surface/add_n_logsumexp_axes".into(),
        Box::new(|g, dt| {
            let x = c(g, vec![1.0, 2.0, 3.0, 1000.0, 1000.0, -INF, -INF, -INF, -INF], &[3, 3], dt);
            let row = kiln::getitem(&x, &[Index::Range { start: None, stop: Some(1), step: None }])?;
            let mut o = Out::default();
            o.put("lse0", kiln::reduce_logsumexp(&x, 0, false)?);
            o.put("lse_keep", kiln::reduce_logsumexp(&x, Axes::List(vec![1]), true)?);
            o.put("add_n", kiln::add_n(&[&row, &(&row * 2.0), &row])?);
            o.put("add_n1", kiln::add_n(&[&row])?);
            Ok(o)
        }),
    );
}

fn value(v: Vec<f64>, shape: &[usize], dt: DType) -> TensorValue {
    let a = ArrayD::from_shape_vec(IxDyn(shape), v).expect("feed fits");
    match dt {
        DType::F32 => TensorValue::F32(a.mapv(|x| x as f32)),
        _ => TensorValue::F64(a),
    }
}

fn as_f64(v: &TensorValue) -> ArrayD<f64> {
    match v {
        TensorValue::F32(a) => a.mapv(f64::from),
        TensorValue::F64(a) => a.clone(),
        TensorValue::I32(a) => a.mapv(f64::from),
        TensorValue::I64(a) => a.mapv(|x| x as f64),
        TensorValue::Bool(a) => a.mapv(|x| f64::from(u8::from(x))),
        TensorValue::U8(a) => a.mapv(f64::from),
        TensorValue::I8(a) => a.mapv(f64::from),
        TensorValue::U16(a) => a.mapv(f64::from),
        TensorValue::I16(a) => a.mapv(f64::from),
        TensorValue::Unit => ArrayD::zeros(IxDyn(&[0])),
    }
}

/// The goldens, read once: (array as f64, whether it was a float array).
fn goldens() -> BTreeMap<String, (ArrayD<f64>, bool)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/python/conformance/goldens/tf1.npz");
    let mut npz = NpzReader::new(File::open(path).expect("the goldens are committed")).expect("an npz");
    let mut out = BTreeMap::new();
    for name in npz.names().expect("names") {
        let key = name.trim_end_matches(".npy").to_string();
        let v = if let Ok(a) = npz.by_name::<ndarray::OwnedRepr<f32>, IxDyn>(&name) {
            (a.mapv(f64::from), true)
        } else if let Ok(a) = npz.by_name::<ndarray::OwnedRepr<f64>, IxDyn>(&name) {
            (a, true)
        } else if let Ok(a) = npz.by_name::<ndarray::OwnedRepr<i64>, IxDyn>(&name) {
            (a.mapv(|x| x as f64), false)
        } else if let Ok(a) = npz.by_name::<ndarray::OwnedRepr<i32>, IxDyn>(&name) {
            (a.mapv(f64::from), false)
        } else if let Ok(a) = npz.by_name::<ndarray::OwnedRepr<bool>, IxDyn>(&name) {
            (a.mapv(|x| f64::from(u8::from(x))), false)
        } else if let Ok(a) = npz.by_name::<ndarray::OwnedRepr<u8>, IxDyn>(&name) {
            (a.mapv(f64::from), false)
        } else if let Ok(a) = npz.by_name::<ndarray::OwnedRepr<i8>, IxDyn>(&name) {
            (a.mapv(f64::from), false)
        } else if let Ok(a) = npz.by_name::<ndarray::OwnedRepr<u16>, IxDyn>(&name) {
            (a.mapv(f64::from), false)
        } else if let Ok(a) = npz.by_name::<ndarray::OwnedRepr<i16>, IxDyn>(&name) {
            (a.mapv(f64::from), false)
        } else {
            continue; // strings: an error case's class, checked by the Python suite
        };
        out.insert(key, v);
    }
    out
}

/// The error cases' classes and messages TF1 raised (`generate.py` writes them beside
/// the goldens).
fn error_classes() -> BTreeMap<String, (String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/python/conformance/goldens/tf1_errors.tsv");
    let text = std::fs::read_to_string(path).expect("the error goldens are committed");
    text.lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, '\t');
            Some((f.next()?.to_string(), (f.next()?.to_string(), f.next().unwrap_or("").to_string())))
        })
        .collect()
}

/// Error cases whose words TF 2.21's Python layer rewrote after TF1; kiln keeps TF1's
/// (1.15's) words there, so only the class is compared.
const TF2_REWORDED: [&str; 2] = ["error/sparse_xent_rank", "error/sigmoid_xent_shapes"];

/// A message with every quoted name masked (`'add'` and TF's `'{{node add}} = AddV2[..]'`
/// alike), and TF's list of allowed dtypes (which names dtypes kiln lacks) cut off.
fn wording(m: &str) -> String {
    let m = m.split(" not in list of allowed values").next().unwrap_or(m);
    let mut out = String::new();
    let mut quoted = false;
    for ch in m.chars() {
        if ch == '\'' {
            quoted = !quoted;
            out.push_str(if quoted { "'" } else { "…'" });
        } else if !quoted {
            out.push(ch);
        }
    }
    out
}

/// The Python suite's rule: float64 to 1e-9 relative; float32 to 4x the distance
/// between TF1's own float32 and float64 results plus 4 ulp; NaN and infinities where
/// TF1 has them; integers exactly.
fn close(dt: DType, got: &ArrayD<f64>, want: &ArrayD<f64>, want64: Option<&ArrayD<f64>>, float: bool) -> bool {
    if got.shape() != want.shape() {
        return false;
    }
    if !float {
        return got == want;
    }
    let spread = match want64 {
        Some(w64) if w64.shape() == want.shape() && dt == DType::F32 => {
            want.iter().zip(w64.iter()).filter(|(w, _)| w.is_finite()).map(|(w, x)| (w - x).abs()).fold(0.0, f64::max)
        }
        _ => 0.0,
    };
    got.iter().zip(want.iter()).all(|(&g, &w)| {
        if w.is_nan() || g.is_nan() {
            return w.is_nan() && g.is_nan();
        }
        if w.is_infinite() {
            return g == w;
        }
        if !g.is_finite() {
            return false;
        }
        let tol = if dt == DType::F64 {
            1e-9 * w.abs().max(1.0)
        } else {
            4.0 * spread + 4.0 * f64::from(f32::EPSILON) * w.abs().max(1e-30) + 1e-30
        };
        (g - w).abs() <= tol
    })
}

#[test]
fn numpy_random_state_is_reproduced() {
    // numpy.random.RandomState(1000).uniform(-1, 1, 3), printed with repr()
    let got = RandomState::new(1000).uniform(-1.0, 1.0, 3);
    let want = [0.3071791709292191, -0.7699861137511885, 0.9005657286980491];
    assert_eq!(got, want);
}

#[test]
fn the_rust_api_matches_tf1_on_both_backends_and_dtypes() {
    let gold = goldens();
    let errors = error_classes();
    let cases = cases();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, build) in &cases {
        for dt in [DType::F32, DType::F64] {
            if let Some((class, message)) = errors.get(&format!("{name}|{}", dt.tf_name())) {
                // an error case: the build fails with TF1's exception class and words
                let e =
                    build(&Graph::new(), dt).err().unwrap_or_else(|| panic!("{name} {dt}: built; TF1 raises {class}"));
                assert_eq!(e.tf_exception(), class, "{name} {dt}: {e}");
                if !TF2_REWORDED.contains(&name.as_str()) {
                    let (ours, theirs) = (wording(&e.to_string()), wording(message));
                    assert!(ours.contains(&theirs), "{name} {dt}: TF1 says\n  {message}\nkiln says\n  {e}");
                }
                assert!(e.to_string().contains("tests/"), "{name}: {e} names the user's file");
                checked += 1;
                continue;
            }
            let prefix = format!("{name}|{}|", dt.tf_name());
            let want: BTreeMap<&str, &(ArrayD<f64>, bool)> =
                gold.iter().filter_map(|(k, v)| k.strip_prefix(&prefix).map(|k| (k, v))).collect();
            assert!(!want.is_empty(), "no golden for {name} {dt}");
            for backend in [Backend::Jit, Backend::Interpreter] {
                let g = Graph::new();
                g.set_rank_promotion(kiln::RankPromotion::Allow);
                let mut out = build(&g, dt).unwrap_or_else(|e| panic!("{name} {dt}: {e}"));
                if let Some((train, vars, loss)) = out.train.take() {
                    // as cases.py runs it: the loss in its own run, then the step, then the values
                    let mut sess = Session::with_options(&g, SessionOptions { backend, ..Default::default() });
                    sess.run(&[&g.global_variables_initializer().unwrap()], &[]).unwrap();
                    for step in 0..4 {
                        let l = sess.run1(&loss, &[]).unwrap();
                        sess.run(&[&train], &[]).unwrap();
                        let mut got = vec![(format!("loss{step}"), l)];
                        let refs: Vec<&Tensor> = vars.iter().collect();
                        for (i, v) in sess.run(&refs, &[]).unwrap().into_iter().enumerate() {
                            got.push((format!("step{step}/var{i}"), v));
                        }
                        for (key, v) in got {
                            let (w, float) = want[key.as_str()];
                            let w64 = gold.get(&format!("{name}|float64|{key}")).map(|(a, _)| a);
                            checked += 1;
                            if !close(dt, &as_f64(&v), w, w64, *float) {
                                failures
                                    .push(format!("{name} {dt} {backend:?} {key}:\n  kiln {}\n  TF1  {w}", as_f64(&v)));
                            }
                        }
                    }
                    continue;
                }
                let keys: Vec<&str> = out.fetch.iter().map(|(k, _)| k.as_str()).collect();
                let mut sorted = keys.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, want.keys().copied().collect::<Vec<_>>(), "{name} {dt}: outputs");
                let mut sess = Session::with_options(&g, SessionOptions { backend, ..Default::default() });
                let known = KNOWN.contains(&(name.as_str(), dt, backend));
                let before = failures.len();
                let fetches: Vec<&Tensor> = out.fetch.iter().map(|(_, t)| t).collect();
                let feeds: Vec<(&Tensor, TensorValue)> = out.feed.iter().map(|(t, v)| (t, v.clone())).collect();
                let vals = sess.run(&fetches, &feeds).unwrap_or_else(|e| panic!("{name} {dt}: {e}"));
                for ((key, _), v) in out.fetch.iter().zip(&vals) {
                    let (w, float) = want[key.as_str()];
                    let w64 = gold.get(&format!("{name}|float64|{key}")).map(|(a, _)| a);
                    checked += 1;
                    if !close(dt, &as_f64(v), w, w64, *float) {
                        failures.push(format!("{name} {dt} {backend:?} {key}:\n  kiln {}\n  TF1  {w}", as_f64(v)));
                    }
                }
                if known {
                    assert!(failures.len() > before, "{name} {dt} {backend:?} now matches TF1: drop it from KNOWN");
                    failures.truncate(before);
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} outputs differ from TF1:\n{}", failures.len(), failures.join("\n"));
    // every case the goldens hold is written here too
    let golden_cases: std::collections::BTreeSet<&str> = gold
        .keys()
        .chain(errors.keys())
        .filter_map(|k| k.split('|').next())
        .filter(|k| !k.starts_with("tf_version"))
        .collect();
    let ours: std::collections::BTreeSet<&str> = cases.keys().map(String::as_str).collect();
    assert_eq!(ours, golden_cases, "the Rust cases and the goldens' differ");
}
