//! The reference interpreter, op by op, against hand-computed values.

use kiln::{DType, Graph, Initializer, Session, Tensor, TensorValue};
use ndarray::{arr1, arr2, ArrayD, IxDyn};

fn eval(g: &Graph, t: &Tensor) -> TensorValue {
    Session::new(g).run1(t, &[]).unwrap()
}

fn f32v(g: &Graph, t: &Tensor) -> Vec<f32> {
    eval(g, t).into_f32().unwrap().iter().copied().collect()
}

fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-6 * (1.0 + y.abs()) || (x.is_nan() && y.is_nan()), "{a:?} vs {b:?}");
    }
}

#[test]
fn unary_f32() {
    let g = Graph::new();
    let x = g.constant([-2.0, -0.5, 0.0, 1.0, 4.0]).unwrap();
    let cases: Vec<(&str, Tensor, Vec<f32>)> = vec![
        ("neg", kiln::negative(&x).unwrap(), vec![2.0, 0.5, -0.0, -1.0, -4.0]),
        ("abs", kiln::abs(&x).unwrap(), vec![2.0, 0.5, 0.0, 1.0, 4.0]),
        ("sign", kiln::sign(&x).unwrap(), vec![-1.0, -1.0, 0.0, 1.0, 1.0]),
        ("square", kiln::square(&x).unwrap(), vec![4.0, 0.25, 0.0, 1.0, 16.0]),
        ("relu", kiln::nn::relu(&x).unwrap(), vec![0.0, 0.0, 0.0, 1.0, 4.0]),
        ("exp", kiln::exp(&x).unwrap(), vec![0.135_335_28, 0.606_530_66, 1.0, std::f32::consts::E, 54.598_15]),
        ("tanh", kiln::tanh(&x).unwrap(), vec![-0.964_027_6, -0.462_117_16, 0.0, 0.761_594_2, 0.999_329_3]),
        ("sigmoid", kiln::sigmoid(&x).unwrap(), vec![0.119_202_92, 0.377_540_67, 0.5, 0.731_058_6, 0.982_013_8]),
    ];
    for (name, t, want) in cases {
        let got = f32v(&g, &t);
        close(&got, &want);
        assert_eq!(
            t.op_name().to_lowercase().trim_end_matches(|c: char| c == '_' || c.is_ascii_digit()),
            match name {
                "neg" => "neg",
                n => n,
            }
        );
    }
    let p = g.constant([0.25, 1.0, 4.0]).unwrap();
    close(&f32v(&g, &kiln::sqrt(&p).unwrap()), &[0.5, 1.0, 2.0]);
    close(&f32v(&g, &kiln::rsqrt(&p).unwrap()), &[2.0, 1.0, 0.5]);
    close(&f32v(&g, &kiln::log(&p).unwrap()), &[-std::f32::consts::LN_2 * 2.0, 0.0, std::f32::consts::LN_2 * 2.0]);
    // edge values: log(0) = -inf, sqrt(-1) = NaN, relu(NaN) = NaN
    let e = g.constant([0.0, -1.0, f32::NAN]).unwrap();
    let l = f32v(&g, &kiln::log(&e).unwrap());
    assert!(l[0] == f32::NEG_INFINITY && l[1].is_nan());
    assert!(f32v(&g, &kiln::nn::relu(&e).unwrap())[2].is_nan());
}

#[test]
fn unary_int_and_float_only_ops() {
    let g = Graph::new();
    let x = g.constant([-3, 0, 5]).unwrap();
    assert_eq!(eval(&g, &kiln::abs(&x).unwrap()), TensorValue::from(vec![3, 0, 5]));
    assert_eq!(eval(&g, &kiln::sign(&x).unwrap()), TensorValue::from(vec![-1, 0, 1]));
    assert_eq!(eval(&g, &kiln::square(&x).unwrap()), TensorValue::from(vec![9, 0, 25]));
    assert_eq!(eval(&g, &kiln::nn::relu(&x).unwrap()), TensorValue::from(vec![0, 0, 5]));
    assert_eq!(eval(&g, &(-&x)), TensorValue::from(vec![3, 0, -5]));
    // exp of an integer is refused when built, not computed wrongly
    assert!(matches!(kiln::exp(&x), Err(kiln::BuildError::Invalid { .. })));
}

#[test]
fn binary_ops() {
    let g = Graph::new();
    let a = g.constant([1.0, -2.0, 9.0]).unwrap();
    let b = g.constant([2.0, 4.0, 3.0]).unwrap();
    close(&f32v(&g, &(&a + &b)), &[3.0, 2.0, 12.0]);
    close(&f32v(&g, &(&a - &b)), &[-1.0, -6.0, 6.0]);
    close(&f32v(&g, &(&a * &b)), &[2.0, -8.0, 27.0]);
    close(&f32v(&g, &(&a / &b)), &[0.5, -0.5, 3.0]);
    close(&f32v(&g, &kiln::pow(&b, &a).unwrap()), &[2.0, 0.0625, 19683.0]);
    close(&f32v(&g, &kiln::maximum(&a, &b).unwrap()), &[2.0, 4.0, 9.0]);
    close(&f32v(&g, &kiln::minimum(&a, &b).unwrap()), &[1.0, -2.0, 3.0]);
    // scalars on either side, in the tensor's dtype
    close(&f32v(&g, &(2.0 - &a)), &[1.0, 4.0, -7.0]);
    close(&f32v(&g, &(&a * 0.5)), &[0.5, -1.0, 4.5]);
    let i = g.constant([7, -7, 9]).unwrap();
    let j = g.constant([2, 2, -4]).unwrap();
    // integer division truncates toward zero, as in C and TF's truncatediv
    assert_eq!(eval(&g, &(&i / &j)), TensorValue::from(vec![3, -3, -2]));
    assert_eq!(eval(&g, &(&i * 2.0)), TensorValue::from(vec![14, -14, 18]));
    assert!((&i * 0.5).error().is_some(), "0.5 is not an i32");
}

#[test]
fn comparisons_and_select() {
    let g = Graph::new();
    let a = g.constant([1.0, 2.0, 3.0]).unwrap();
    let b = g.constant([2.0]).unwrap();
    let want = |v: [bool; 3]| TensorValue::from(v.to_vec());
    assert_eq!(eval(&g, &kiln::equal(&a, &b).unwrap()), want([false, true, false]));
    assert_eq!(eval(&g, &kiln::not_equal(&a, &b).unwrap()), want([true, false, true]));
    assert_eq!(eval(&g, &kiln::less(&a, &b).unwrap()), want([true, false, false]));
    assert_eq!(eval(&g, &kiln::less_equal(&a, &b).unwrap()), want([true, true, false]));
    assert_eq!(eval(&g, &kiln::greater(&a, &b).unwrap()), want([false, false, true]));
    assert_eq!(eval(&g, &kiln::greater_equal(&a, &b).unwrap()), want([false, true, true]));
    let c = kiln::greater(&a, &b).unwrap();
    let zero = g.constant(0.0).unwrap();
    close(&f32v(&g, &kiln::where_(&c, &a, &zero).unwrap()), &[0.0, 0.0, 3.0]);
}

#[test]
fn shape_ops() {
    let g = Graph::new();
    let x = g.constant(ArrayD::from_shape_vec(IxDyn(&[2, 3]), (0..6).map(|i| i as f32).collect()).unwrap()).unwrap();
    let r = kiln::reshape(&x, &[3, -1]).unwrap();
    assert!(r.get_shape() == [3, 2]);
    assert_eq!(eval(&g, &r), TensorValue::from(arr2(&[[0.0f32, 1.0], [2.0, 3.0], [4.0, 5.0]])));
    let t = kiln::transpose(&x, None).unwrap();
    assert_eq!(eval(&g, &t), TensorValue::from(arr2(&[[0.0f32, 3.0], [1.0, 4.0], [2.0, 5.0]])));
    let s = kiln::slice(&x, &[1, 1], &[1, -1]).unwrap();
    assert_eq!(eval(&g, &s), TensorValue::from(arr2(&[[4.0f32, 5.0]])));
    let c = kiln::concat(&[&x, &x], 1).unwrap();
    assert!(c.get_shape() == [2, 6]);
    assert_eq!(f32v(&g, &c), vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 3.0, 4.0, 5.0]);
    let c0 = kiln::concat(&[&x, &x], -2).unwrap();
    assert!(c0.get_shape() == [4, 3]);
    let b = kiln::broadcast_to(&g.constant([1.0, 2.0]).unwrap(), &[3, 2]).unwrap();
    assert_eq!(f32v(&g, &b), vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
    assert!(kiln::broadcast_to(&x, &[3, 3]).is_err());
}

#[test]
fn cumsum_every_direction() {
    let g = Graph::new();
    let x = g.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).unwrap();
    let c = |axis, ex, rev| f32v(&g, &kiln::cumsum(&x, axis, ex, rev).unwrap());
    assert_eq!(c(1, false, false), vec![1.0, 3.0, 6.0, 4.0, 9.0, 15.0]);
    assert_eq!(c(1, true, false), vec![0.0, 1.0, 3.0, 0.0, 4.0, 9.0]);
    assert_eq!(c(-1, false, true), vec![6.0, 5.0, 3.0, 15.0, 11.0, 6.0]);
    assert_eq!(c(1, true, true), vec![5.0, 3.0, 0.0, 11.0, 6.0, 0.0]);
    assert_eq!(c(0, false, false), vec![1.0, 2.0, 3.0, 5.0, 7.0, 9.0]);
    let i = g.constant(arr1(&[1i32, 2, 3])).unwrap();
    assert_eq!(eval(&g, &kiln::cumsum(&i, 0, false, true).unwrap()), TensorValue::from(vec![6i32, 5, 3]));
    let e = kiln::cumsum(&x, 2, false, false).unwrap_err().to_string();
    assert!(e.contains("Cumsum") && e.contains("axis 2"), "{e}");
}

#[test]
fn reduce_prod_values() {
    let g = Graph::new();
    let x = g.constant([[1.0, 5.0, 3.0], [4.0, 0.0, 6.0]]).unwrap();
    assert_eq!(f32v(&g, &kiln::reduce_prod(&x, 1, false).unwrap()), vec![15.0, 0.0]);
    assert_eq!(f32v(&g, &kiln::reduce_prod(&x, 0, false).unwrap()), vec![4.0, 0.0, 18.0]);
    let e = g.constant(ArrayD::<f32>::zeros(IxDyn(&[0, 2]))).unwrap();
    assert_eq!(f32v(&g, &kiln::reduce_prod(&e, 0, false).unwrap()), vec![1.0, 1.0]);
}

#[test]
fn reductions() {
    let g = Graph::new();
    let x = g.constant([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]]).unwrap();
    assert_eq!(f32v(&g, &kiln::reduce_sum(&x, 0, false).unwrap()), vec![5.0, 7.0, 9.0]);
    assert_eq!(f32v(&g, &kiln::reduce_sum(&x, -1, false).unwrap()), vec![9.0, 12.0]);
    let k = kiln::reduce_mean(&x, 1, true).unwrap();
    assert!(k.get_shape() == [2, 1]);
    assert_eq!(f32v(&g, &k), vec![3.0, 4.0]);
    assert_eq!(f32v(&g, &kiln::reduce_max(&x, kiln::Axes::All, false).unwrap()), vec![6.0]);
    assert_eq!(f32v(&g, &kiln::reduce_min(&x, 0, false).unwrap()), vec![1.0, 2.0, 3.0]);
    assert_eq!(f32v(&g, &kiln::reduce_max(&x, [0, 1], true).unwrap()), vec![6.0]);
    // empty reductions: sum 0, mean NaN, max -inf (numpy / TF conventions)
    let e = g.constant(ArrayD::<f32>::zeros(IxDyn(&[0, 2]))).unwrap();
    assert_eq!(f32v(&g, &kiln::reduce_sum(&e, 0, false).unwrap()), vec![0.0, 0.0]);
    assert!(f32v(&g, &kiln::reduce_mean(&e, 0, false).unwrap())[0].is_nan());
    assert_eq!(f32v(&g, &kiln::reduce_max(&e, 0, false).unwrap())[0], f32::NEG_INFINITY);
    let i = g.constant([[1, 2], [3, 4]]).unwrap();
    assert_eq!(eval(&g, &kiln::reduce_sum(&i, 1, false).unwrap()), TensorValue::from(vec![3, 7]));
}

#[test]
fn matmul_2d_batched_and_int() {
    let g = Graph::new();
    let a = g.constant([[1.0, 2.0], [3.0, 4.0]]).unwrap();
    let b = g.constant([[5.0, 6.0], [7.0, 8.0]]).unwrap();
    assert_eq!(f32v(&g, &kiln::matmul(&a, &b).unwrap()), vec![19.0, 22.0, 43.0, 50.0]);
    let a3 = g.constant([[[1.0, 0.0], [0.0, 1.0]], [[2.0, 0.0], [0.0, 2.0]]]).unwrap();
    let b3 = g.constant([[[1.0], [2.0]], [[3.0], [4.0]]]).unwrap();
    let c3 = kiln::matmul(&a3, &b3).unwrap();
    assert!(c3.get_shape() == [2, 2, 1]);
    assert_eq!(f32v(&g, &c3), vec![1.0, 2.0, 6.0, 8.0]);
    let ia = g.constant([[1, 2]]).unwrap();
    let ib = g.constant([[3], [4]]).unwrap();
    assert_eq!(eval(&g, &kiln::matmul(&ia, &ib).unwrap()), TensorValue::from(arr2(&[[11]])));
    // a k = 0 product is all zeros
    let z1 = g.constant(ArrayD::<f32>::zeros(IxDyn(&[2, 0]))).unwrap();
    let z2 = g.constant(ArrayD::<f32>::zeros(IxDyn(&[0, 3]))).unwrap();
    assert_eq!(f32v(&g, &kiln::matmul(&z1, &z2).unwrap()), vec![0.0; 6]);
}

#[test]
fn casts() {
    let g = Graph::new();
    let x = g.constant([-1.7, 0.0, 2.5]).unwrap();
    assert_eq!(eval(&g, &kiln::cast(&x, DType::I32).unwrap()), TensorValue::from(vec![-1, 0, 2]));
    assert_eq!(eval(&g, &kiln::cast(&x, DType::Bool).unwrap()), TensorValue::from(vec![true, false, true]));
    let b = g.constant([true, false]).unwrap();
    assert_eq!(eval(&g, &kiln::cast(&b, DType::F64).unwrap()), TensorValue::from(vec![1.0f64, 0.0]));
    let i = g.constant_with_dtype([1, 2], DType::I64).unwrap();
    assert_eq!(eval(&g, &kiln::cast(&i, DType::F32).unwrap()), TensorValue::from(vec![1.0f32, 2.0]));
}

fn init_value(init: Initializer, shape: &[usize], seed: u64) -> Vec<f32> {
    let g = Graph::new();
    g.set_random_seed(seed);
    let v = g.get_variable("v", shape, DType::F32, init).unwrap();
    let mut sess = Session::new(&g);
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    sess.run1(&v, &[]).unwrap().into_f32().unwrap().iter().copied().collect()
}

fn mean_std(v: &[f32]) -> (f32, f32) {
    let m = v.iter().sum::<f32>() / v.len() as f32;
    (m, (v.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / v.len() as f32).sqrt())
}

#[test]
fn initializers() {
    assert_eq!(init_value(Initializer::Zeros, &[3], 0), vec![0.0; 3]);
    assert_eq!(init_value(Initializer::Ones, &[2, 2], 0), vec![1.0; 4]);
    assert_eq!(init_value(Initializer::constant(2.5), &[2], 0), vec![2.5; 2]);
    assert_eq!(init_value(Initializer::constant(arr1(&[1.0f32, 2.0])), &[2], 0), vec![1.0, 2.0]);
    let n = 20_000;
    let u = init_value(Initializer::RandomUniform { min: -1.0, max: 3.0 }, &[n], 1);
    assert!(u.iter().all(|&x| (-1.0..3.0).contains(&x)));
    let (m, s) = mean_std(&u);
    // U(-1, 3): mean 1, std 4/sqrt(12); 20k draws put both within 2%
    assert!((m - 1.0).abs() < 0.03 && (s - 4.0 / 12f32.sqrt()).abs() < 0.02, "{m} {s}");
    let (m, s) = mean_std(&init_value(Initializer::RandomNormal { mean: 0.5, stddev: 2.0 }, &[n], 2));
    assert!((m - 0.5).abs() < 0.05 && (s - 2.0).abs() < 0.05, "{m} {s}");
    let t = init_value(Initializer::TruncatedNormal { mean: 0.0, stddev: 1.0 }, &[n], 3);
    assert!(t.iter().all(|x| x.abs() <= 2.0));
    // a standard normal truncated at ±2 has std 0.8796
    assert!((mean_std(&t).1 - 0.8796).abs() < 0.02);
    let gl = init_value(Initializer::GlorotUniform, &[100, 200], 4);
    let l = (6.0f32 / 300.0).sqrt();
    assert!(gl.iter().all(|x| x.abs() <= l));
    assert!((mean_std(&gl).1 - l / 3f32.sqrt()).abs() < 0.005);
    let gn = init_value(Initializer::GlorotNormal, &[100, 200], 5);
    assert!((mean_std(&gn).1 - (2.0f32 / 300.0).sqrt()).abs() < 0.005);
    // seeded: same seed, same values; another seed, others
    assert_eq!(init_value(Initializer::GlorotUniform, &[5], 9), init_value(Initializer::GlorotUniform, &[5], 9));
    assert_ne!(init_value(Initializer::GlorotUniform, &[5], 9), init_value(Initializer::GlorotUniform, &[5], 10));
}

#[test]
fn zero_sized_and_symbolic_feeds() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None, Some(2)], "x").unwrap();
    let w = g.constant([[1.0], [1.0]]).unwrap();
    let y = kiln::matmul(&x, &w).unwrap();
    let m = kiln::reduce_sum(&y, kiln::Axes::All, false).unwrap();
    let mut sess = Session::new(&g);
    for n in [0usize, 1, 5] {
        let feed = ArrayD::from_shape_vec(IxDyn(&[n, 2]), vec![1.0f32; 2 * n]).unwrap();
        let r = sess.run(&[&y, &m], &[(&x, feed.into())]).unwrap();
        assert_eq!(r[0].shape(), &[n, 1]);
        assert_eq!(r[1].scalar_f32().unwrap(), 2.0 * n as f32);
    }
}

#[test]
fn assign_lands_after_reads() {
    let g = Graph::new();
    let v = g.get_variable("v", &[], DType::F32, Initializer::constant(1.0)).unwrap();
    let upd = kiln::assign(&v, &(&v * 3.0)).unwrap();
    let seen = &v + 0.0;
    let mut sess = Session::new(&g);
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    // the fetch in the same run sees the value from before the update, as in TF
    let r = sess.run(&[&upd, &seen], &[]).unwrap();
    assert_eq!(r[0], TensorValue::Unit);
    assert_eq!(r[1].scalar_f32().unwrap(), 1.0);
    assert_eq!(sess.run1(&v, &[]).unwrap().scalar_f32().unwrap(), 3.0);
}

#[test]
fn policy_gradient_ops() {
    let g = Graph::new();
    let logits = g.constant([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]).unwrap();
    let p = f32v(&g, &kiln::nn::softmax(&logits).unwrap());
    let e: Vec<f32> = [1.0f32, 2.0, 3.0].iter().map(|x| x.exp()).collect();
    let s: f32 = e.iter().sum();
    close(&p, &[e[0] / s, e[1] / s, e[2] / s, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]);
    let lp = f32v(&g, &kiln::nn::log_softmax(&logits).unwrap());
    close(&lp, &p.iter().map(|x| x.ln()).collect::<Vec<_>>());
    // huge logits stay finite: the max is subtracted first
    let big = g.constant([[1000.0, 0.0]]).unwrap();
    close(&f32v(&g, &kiln::nn::softmax(&big).unwrap()), &[1.0, 0.0]);
    let labels = g.constant([2, 0]).unwrap();
    let xent = kiln::nn::sparse_softmax_cross_entropy_with_logits(&labels, &logits).unwrap();
    close(&f32v(&g, &xent), &[-lp[2], -lp[3]]);
    let dense = g.constant([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]).unwrap();
    close(&f32v(&g, &kiln::nn::softmax_cross_entropy_with_logits(&dense, &logits).unwrap()), &[-lp[2], -lp[3]]);
    let oh = kiln::one_hot(&labels, 3).unwrap();
    assert!(oh.get_shape() == [2, 3]);
    assert_eq!(f32v(&g, &oh), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    let am = kiln::argmax(&logits, 1).unwrap();
    assert_eq!(eval(&g, &am), TensorValue::from(vec![2i64, 0]));
    let table = g.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]).unwrap();
    let rows = kiln::gather(&table, &g.constant([2, 0, 2]).unwrap()).unwrap();
    assert_eq!(f32v(&g, &rows), vec![5.0, 6.0, 1.0, 2.0, 5.0, 6.0]);
    // gather's gradient is a scatter-add: repeated rows accumulate
    let y = kiln::reduce_sum(&rows, kiln::Axes::All, false).unwrap();
    let dt = kiln::gradients(&[&y], &[&table]).unwrap().remove(0).unwrap();
    assert_eq!(f32v(&g, &dt), vec![1.0, 1.0, 0.0, 0.0, 2.0, 2.0]);
}

#[test]
fn out_of_range_indices_fail_the_run() {
    let g = Graph::new();
    let logits = g.constant([[1.0, 2.0, 3.0]]).unwrap();
    let labels = g.placeholder(DType::I32, [None], "labels").unwrap();
    let xent = kiln::nn::sparse_softmax_cross_entropy_with_logits(&labels, &logits).unwrap();
    let mut sess = Session::new(&g);
    assert!(sess.run1(&xent, &[(&labels, vec![2i32].into())]).is_ok());
    let e = sess.run1(&xent, &[(&labels, vec![3i32].into())]).unwrap_err();
    assert!(e.to_string().contains("label 3 is outside the valid range [0, 3)"), "{e}");
    let table = g.constant([[1.0], [2.0]]).unwrap();
    let idx = g.placeholder(DType::I32, [None], "idx").unwrap();
    let rows = kiln::gather(&table, &idx).unwrap();
    let e = sess.run1(&rows, &[(&idx, vec![0i32, -1].into())]).unwrap_err();
    assert!(e.to_string().contains("index -1 is out of range for 2 rows"), "{e}");
}

#[test]
fn clipping() {
    let g = Graph::new();
    let x = g.constant([-2.0, 0.5, 3.0]).unwrap();
    assert_eq!(f32v(&g, &kiln::clip_by_value(&x, -1.0, 1.0).unwrap()), vec![-1.0, 0.5, 1.0]);
    let a = g.constant([3.0, 0.0]).unwrap();
    let b = g.constant([4.0]).unwrap();
    let (c, n) = kiln::clip_by_global_norm(&[&a, &b], 1.0).unwrap();
    close(&f32v(&g, &n), &[5.0]);
    close(&f32v(&g, &c[0]), &[0.6, 0.0]);
    close(&f32v(&g, &c[1]), &[0.8]);
    // under the limit nothing changes
    let (c, _) = kiln::clip_by_global_norm(&[&a, &b], 10.0).unwrap();
    close(&f32v(&g, &c[0]), &[3.0, 0.0]);
}
