//! Every op's gradient against central finite differences, in f64 on random inputs.
//! Tolerance: |analytic - numeric| <= 1e-6 * max(1, |numeric|), with step h = 1e-6.

use kiln::ir::UnaryOp;
use kiln::{nn, DType, Graph, RankPromotion, Session, Tensor, TensorValue};
use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};

const H: f64 = 1e-6;
const TOL: f64 = 1e-6;

fn rand_array(rng: &mut rand::rngs::StdRng, shape: &[usize], lo: f64, hi: f64) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |_| rng.random_range(lo..hi))
}

/// Checks d(sum(w * f(xs)))/dxs for a random weight `w`.
fn check(name: &str, inputs: &[ArrayD<f64>], f: impl Fn(&Graph, &[Tensor]) -> Tensor) {
    check_with(name, inputs, H, TOL, f)
}

/// [`check`] with another step and tolerance (for graphs that round through f32).
fn check_with(name: &str, inputs: &[ArrayD<f64>], h: f64, tol: f64, f: impl Fn(&Graph, &[Tensor]) -> Tensor) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let g = Graph::new();
    g.set_rank_promotion(RankPromotion::Allow);
    let ps: Vec<Tensor> = inputs
        .iter()
        .enumerate()
        .map(|(i, a)| g.placeholder(DType::F64, a.shape().to_vec(), &format!("x{i}")).unwrap())
        .collect();
    let out = f(&g, &ps);
    assert!(out.error().is_none(), "{name}: {:?}", out.error());
    let oshape: Vec<usize> = out.get_shape().as_list().iter().map(|d| d.unwrap()).collect();
    let w = g.constant(rand_array(&mut rng, &oshape, -1.0, 1.0)).unwrap();
    let loss = kiln::reduce_sum(&(&out * &w), kiln::Axes::All, false).unwrap();
    let refs: Vec<&Tensor> = ps.iter().collect();
    let grads = kiln::gradients(&[&loss], &refs).unwrap();
    let mut sess = Session::new(&g);
    let feeds = |xs: &[ArrayD<f64>]| -> Vec<(&Tensor, TensorValue)> {
        ps.iter().zip(xs).map(|(p, a)| (p, TensorValue::F64(a.clone()))).collect()
    };
    let loss_at = |sess: &mut Session, xs: &[ArrayD<f64>]| sess.run1(&loss, &feeds(xs)).unwrap().as_f64().unwrap()[[]];
    for (i, gi) in grads.iter().enumerate() {
        let analytic = match gi {
            Some(t) => sess.run1(t, &feeds(inputs)).unwrap().into_f64().unwrap(),
            None => ArrayD::zeros(inputs[i].raw_dim()),
        };
        assert_eq!(analytic.shape(), inputs[i].shape(), "{name}: gradient shape of x{i}");
        for j in 0..inputs[i].len() {
            let mut xs = inputs.to_vec();
            xs[i].as_slice_mut().unwrap()[j] += h;
            let up = loss_at(&mut sess, &xs);
            xs[i].as_slice_mut().unwrap()[j] -= 2.0 * h;
            let down = loss_at(&mut sess, &xs);
            let numeric = (up - down) / (2.0 * h);
            let a = analytic.as_slice().unwrap()[j];
            assert!(
                (a - numeric).abs() <= tol * numeric.abs().max(1.0),
                "{name}: d/dx{i}[{j}] analytic {a} vs numeric {numeric}"
            );
        }
    }
}

fn inputs(shapes: &[&[usize]], lo: f64, hi: f64) -> Vec<ArrayD<f64>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    shapes.iter().map(|s| rand_array(&mut rng, s, lo, hi)).collect()
}

/// Values in `[0.2, 2)` with random signs: away from the kinks of abs, relu, sign.
fn signed(shapes: &[&[usize]]) -> Vec<ArrayD<f64>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    shapes
        .iter()
        .map(|s| {
            ArrayD::from_shape_fn(IxDyn(s), |_| rng.random_range(0.2..2.0) * if rng.random() { 1.0 } else { -1.0 })
        })
        .collect()
}

/// Where each unary op's gradient is checked: an exhaustive match, so an op added to
/// the table (`ir/src/op_table.rs`) does not compile until it has a domain here.
/// `None`: random signs away from the op's kink at 0.
fn unary_domain(u: UnaryOp) -> Option<(f64, f64)> {
    use UnaryOp::*;
    match u {
        Neg | Abs | Sign | Square | Relu | Elu => None,
        Exp | Tanh => Some((-2.0, 2.0)),
        Log | Sqrt | Rsqrt => Some((0.5, 3.0)),
        Sigmoid | Softplus => Some((-3.0, 3.0)),
        Log1p => Some((-0.5, 3.0)),
    }
}

#[test]
fn unary_ops() {
    let s: &[&[usize]] = &[&[3, 4]];
    for &u in kiln::ir::UNARY_OPS {
        let xs = match unary_domain(u) {
            None => signed(s),
            Some((lo, hi)) => inputs(s, lo, hi),
        };
        check(u.mnemonic(), &xs, move |_, x| kiln::unary_op(u, &x[0]).unwrap());
    }
    // the named functions are the table's
    check("neg", &signed(s), |_, x| -&x[0]);
    check("relu", &signed(s), |_, x| nn::relu(&x[0]).unwrap());
    check("softplus", &inputs(s, -3.0, 3.0), |_, x| kiln::softplus(&x[0]).unwrap());
}

#[test]
fn relu_gradient_at_zero_is_zero() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [3], "x").unwrap();
    let y = kiln::reduce_sum(&nn::relu(&x).unwrap(), kiln::Axes::All, false).unwrap();
    let dx = kiln::gradients(&[&y], &[&x]).unwrap().remove(0).unwrap();
    let r = Session::new(&g).run1(&dx, &[(&x, vec![-1.0f32, 0.0, 1.0].into())]).unwrap();
    assert_eq!(r, TensorValue::from(vec![0.0f32, 0.0, 1.0]));
}

#[test]
fn binary_ops_with_broadcasting() {
    let shapes: [(&[usize], &[usize]); 4] =
        [(&[3, 4], &[3, 4]), (&[3, 4], &[4]), (&[3, 1], &[1, 4]), (&[2, 3, 4], &[])];
    for (a, b) in shapes {
        let x = signed(&[a, b]);
        check("add", &x, |_, x| &x[0] + &x[1]);
        check("sub", &x, |_, x| &x[0] - &x[1]);
        check("mul", &x, |_, x| &x[0] * &x[1]);
        check("div", &x, |_, x| &x[0] / &x[1]);
        check("maximum", &x, |_, x| kiln::maximum(&x[0], &x[1]).unwrap());
        check("minimum", &x, |_, x| kiln::minimum(&x[0], &x[1]).unwrap());
        check("pow", &inputs(&[a, b], 0.5, 2.0), |_, x| kiln::pow(&x[0], &x[1]).unwrap());
        check("scalar", &x, |_, x| 2.0 * &x[0] - &x[1] / 3.0);
    }
}

#[test]
fn select_and_clip() {
    let x = signed(&[&[3, 4], &[3, 4]]);
    check("where", &x, |_, x| {
        let c = kiln::greater(&x[0], &x[1]).unwrap();
        kiln::where_(&c, &kiln::square(&x[0]).unwrap(), &x[1]).unwrap()
    });
    // values away from the clip bounds, so the kink is not sampled
    let v = vec![ArrayD::from_shape_vec(IxDyn(&[5]), vec![-1.7, -0.3, 0.2, 0.45, 1.9]).unwrap()];
    check("clip_by_value", &v, |_, x| kiln::clip_by_value(&x[0], -0.5, 0.5).unwrap());
    let y = signed(&[&[3, 2], &[4]]);
    check("clip_by_global_norm", &y, |_, x| {
        let (c, _) = kiln::clip_by_global_norm(&[&x[0], &x[1]], 1.5).unwrap();
        kiln::concat(&[&kiln::reshape(&c[0], &[-1]).unwrap(), &c[1]], 0).unwrap()
    });
}

#[test]
fn shape_ops() {
    let x = signed(&[&[2, 3, 4]]);
    check("reshape", &x, |_, x| kiln::reshape(&x[0], &[6, 4]).unwrap());
    check("expand_dims", &x, |_, x| kiln::expand_dims(&x[0], -2).unwrap());
    check("squeeze", &x, |_, x| kiln::squeeze(&kiln::expand_dims(&x[0], 1).unwrap(), &[1]).unwrap());
    let pair = signed(&[&[2, 3], &[2, 3]]);
    check("stack", &pair, |_, x| kiln::stack(&[&x[0], &x[1]], 1).unwrap());
    check("transpose", &x, |_, x| kiln::transpose(&x[0], Some(&[2, 0, 1])).unwrap());
    check("slice", &x, |_, x| kiln::slice(&x[0], &[1, 1, 0], &[1, 2, -1]).unwrap());
    check("slice_inner", &x, |_, x| kiln::slice(&x[0], &[0, 1, 1], &[-1, 1, 2]).unwrap());
    let y = signed(&[&[2, 3], &[2, 1]]);
    check("concat", &y, |_, x| kiln::concat(&[&x[0], &x[1], &x[0]], 1).unwrap());
    check("broadcast_to", &signed(&[&[3, 1]]), |_, x| kiln::broadcast_to(&x[0], &[2, 3, 4]).unwrap());
    // f32 rounding of x +- h needs a coarse step: square is quadratic, so central
    // differences stay exact up to that rounding (~1e-7 / 1e-2)
    check_with("cast", &signed(&[&[3]]), 1e-2, 1e-4, |_, x| {
        let f = kiln::cast(&x[0], DType::F32).unwrap();
        kiln::cast(&kiln::square(&f).unwrap(), DType::F64).unwrap()
    });
}

#[test]
fn reductions() {
    // distinct values, so max/min have no ties
    let x = vec![ArrayD::from_shape_fn(IxDyn(&[3, 4]), |i| (i[0] * 4 + i[1]) as f64 * 0.37 - 2.0)];
    for keep in [false, true] {
        check("sum0", &x, |_, x| kiln::reduce_sum(&x[0], 0, keep).unwrap());
        check("sum_all", &x, |_, x| kiln::reduce_sum(&x[0], kiln::Axes::All, keep).unwrap());
        check("mean1", &x, |_, x| kiln::reduce_mean(&x[0], 1, keep).unwrap());
        check("max1", &x, |_, x| kiln::reduce_max(&x[0], 1, keep).unwrap());
        check("min0", &x, |_, x| kiln::reduce_min(&x[0], 0, keep).unwrap());
        check("prod1", &x, |_, x| kiln::reduce_prod(&x[0], 1, keep).unwrap());
        check("prod_all", &x, |_, x| kiln::reduce_prod(&x[0], kiln::Axes::All, keep).unwrap());
    }
}

#[test]
fn cumsum_gradients() {
    let x = signed(&[&[3, 4]]);
    for (ex, rev) in [(false, false), (true, false), (false, true), (true, true)] {
        for axis in [0, 1] {
            let name = format!("cumsum{axis}{ex}{rev}");
            check(&name, &x, |_, x| kiln::cumsum(&kiln::square(&x[0]).unwrap(), axis, ex, rev).unwrap());
        }
    }
}

#[test]
fn prod_gradient_with_zeros_is_the_product_of_the_others() {
    // rows with no zero, one zero and two zeros: the gradient is the product of the
    // other entries, which dividing the product by the entry would turn into NaN
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [3, 3], "x").unwrap();
    let p = kiln::reduce_prod(&x, 1, false).unwrap();
    let dx = kiln::gradients(&[&p], &[&x]).unwrap().remove(0).unwrap();
    let feed = TensorValue::from(ndarray::arr2(&[[2.0f32, 3.0, 4.0], [2.0, 0.0, 5.0], [0.0, 3.0, 0.0]]).into_dyn());
    for backend in [kiln::Backend::Jit, kiln::Backend::Interpreter] {
        let mut s = Session::with_options(&g, kiln::SessionOptions { backend, ..Default::default() });
        let out = s.run(&[&p, &dx], &[(&x, feed.clone())]).unwrap();
        assert_eq!(out[0], TensorValue::from(vec![24.0f32, 0.0, 0.0]), "{backend:?}");
        let want = ndarray::arr2(&[[12.0f32, 8.0, 6.0], [0.0, 10.0, 0.0], [0.0, 0.0, 0.0]]).into_dyn();
        assert_eq!(out[1], TensorValue::from(want), "{backend:?}");
    }
}

#[test]
fn max_ties_share_the_gradient() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [4], "x").unwrap();
    let m = kiln::reduce_max(&x, 0, false).unwrap();
    let dx = kiln::gradients(&[&m], &[&x]).unwrap().remove(0).unwrap();
    let r = Session::new(&g).run1(&dx, &[(&x, vec![3.0f32, 1.0, 3.0, 0.0].into())]).unwrap();
    assert_eq!(r, TensorValue::from(vec![0.5f32, 0.0, 0.5, 0.0]));
}

#[test]
fn matmul() {
    check("matmul", &signed(&[&[3, 4], &[4, 2]]), |_, x| kiln::matmul(&x[0], &x[1]).unwrap());
    check("batched", &signed(&[&[2, 3, 4], &[2, 4, 5]]), |_, x| kiln::matmul(&x[0], &x[1]).unwrap());
}

#[test]
fn softmax_family() {
    let z = signed(&[&[4, 5]]);
    check("softmax", &z, |_, x| nn::softmax(&x[0]).unwrap());
    check("log_softmax", &z, |_, x| nn::log_softmax(&x[0]).unwrap());
    let labels = {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let raw = rand_array(&mut rng, &[4, 5], 0.0, 1.0);
        let sums = raw.sum_axis(ndarray::Axis(1)).insert_axis(ndarray::Axis(1));
        &raw / &sums
    };
    check("xent", &z, |g, x| {
        let l = g.constant(labels.clone()).unwrap();
        nn::softmax_cross_entropy_with_logits(&l, &x[0]).unwrap()
    });
    check("sparse_xent", &z, |g, x| {
        let l = g.constant([0, 4, 2, 2]).unwrap();
        nn::sparse_softmax_cross_entropy_with_logits(&l, &x[0]).unwrap()
    });
}

#[test]
fn gather_rows() {
    check("gather", &signed(&[&[5, 3]]), |g, x| {
        let idx = g.constant([4, 0, 4, 2]).unwrap();
        kiln::gather(&x[0], &idx).unwrap()
    });
}

#[test]
fn stop_gradient_and_integer_paths_give_none() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [3], "x").unwrap();
    let s = kiln::stop_gradient(&x).unwrap();
    let y = kiln::reduce_sum(&(&s * &x), kiln::Axes::All, false).unwrap();
    let dx = kiln::gradients(&[&y], &[&x]).unwrap().remove(0).unwrap();
    // d/dx (stop(x) * x) = stop(x) = x
    let r = Session::new(&g).run1(&dx, &[(&x, vec![1.0f32, 2.0, 3.0].into())]).unwrap();
    assert_eq!(r, TensorValue::from(vec![1.0f32, 2.0, 3.0]));
    let am = kiln::cast(&kiln::argmax(&kiln::reshape(&x, &[1, 3]).unwrap(), 1).unwrap(), DType::F32).unwrap();
    let z = kiln::reduce_sum(&am, kiln::Axes::All, false).unwrap();
    assert!(kiln::gradients(&[&z], &[&x]).unwrap()[0].is_none());
    let other = g.placeholder(DType::F32, [3], "unused").unwrap();
    assert!(kiln::gradients(&[&y], &[&other]).unwrap()[0].is_none());
}

#[test]
fn mean_over_a_symbolic_batch_divides_by_the_bound_size() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None, Some(2)], "x").unwrap();
    let m = kiln::reduce_mean(&kiln::square(&x).unwrap(), kiln::Axes::All, false).unwrap();
    let dx = kiln::gradients(&[&m], &[&x]).unwrap().remove(0).unwrap();
    let mut sess = Session::new(&g);
    for n in [1usize, 4] {
        let feed = ArrayD::from_shape_vec(IxDyn(&[n, 2]), vec![1.0f32; 2 * n]).unwrap();
        let r = sess.run1(&dx, &[(&x, feed.into())]).unwrap().into_f32().unwrap();
        // d/dx mean(x^2) = 2x / (2n)
        assert!(r.iter().all(|&v| (v - 1.0 / n as f32).abs() < 1e-7), "{r}");
    }
}

#[test]
fn composite_mlp() {
    // a 3-4-2 tanh/relu MLP with a broadcast bias, grads w.r.t. input and weights
    let x = signed(&[&[5, 3], &[3, 4], &[4], &[4, 2]]);
    check("mlp", &x, |_, p| {
        let h = nn::relu(&(kiln::matmul(&p[0], &p[1]).unwrap() + &p[2])).unwrap();
        kiln::tanh(&kiln::matmul(&h, &p[3]).unwrap()).unwrap()
    });
}

#[test]
fn composite_softmax_cross_entropy_loss() {
    let x = signed(&[&[6, 3], &[3, 4]]);
    check("policy_loss", &x, |g, p| {
        let logits = kiln::matmul(&p[0], &p[1]).unwrap();
        let actions = g.constant([0, 3, 1, 1, 2, 0]).unwrap();
        let xent = nn::sparse_softmax_cross_entropy_with_logits(&actions, &logits).unwrap();
        let adv = g.constant([1.0, -0.5, 2.0, 0.3, -1.0, 0.7]).unwrap();
        let adv = kiln::cast(&adv, DType::F64).unwrap();
        kiln::reduce_mean(&(&xent * &adv), kiln::Axes::All, false).unwrap()
    });
}

#[test]
fn composite_broadcast_heavy() {
    let x = signed(&[&[4, 1], &[3], &[1, 3], &[]]);
    check("broadcasts", &x, |_, p| {
        let outer = &p[0] * &p[1]; // [4,3]
        let centered = &outer - &kiln::reduce_mean(&outer, 0, true).unwrap();
        let scaled = &centered * &p[2] + &p[3];
        kiln::exp(&(&scaled * 0.1)).unwrap() / (1.0 + kiln::square(&p[3]).unwrap())
    });
}
