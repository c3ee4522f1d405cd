//! One test per value the notebook printed (sections 2, 3, 4 and 6), checked both as
//! numbers and as the text NumPy printed.

mod common;

use common::*;
use kiln::{Session, TensorValue};
use ndarray::{arr2, ArrayD};

fn run(cell: &Cell, names: &[&str], feeds: &[(&str, TensorValue)]) -> Vec<TensorValue> {
    let mut sess = Session::new(&cell.graph);
    if let Some((_, init)) = cell.t.iter().find(|(n, _)| *n == "init") {
        sess.run1(init, &[]).unwrap();
    }
    let fetches: Vec<_> = names.iter().map(|n| cell.get(n)).collect();
    let feeds: Vec<_> = feeds.iter().map(|(n, v)| (cell.get(n), v.clone())).collect();
    sess.run(&fetches, &feeds).unwrap()
}

fn f32d(v: &TensorValue) -> ArrayD<f32> {
    v.as_f32().unwrap().clone()
}

#[test]
fn s2_c_is_3() {
    let r = run(&s2_constants(), &["c"], &[]);
    assert_eq!(f32d(&r[0]), ndarray::arr0(3.0).into_dyn());
    assert_eq!(format!("c = {}", r[0]), "c = 3.0");
}

#[test]
fn s2_fixed_placeholders_c0_is_3() {
    let r = run(&s2_placeholders_fixed(), &["c"], &[("a", vec![1.0f32].into()), ("b", vec![2.0f32].into())]);
    assert_eq!(format!("c0 = {}", r[0]), "c0 = [3.]");
}

#[test]
fn s2_fixed_placeholders_c1_is_6() {
    let r = run(&s2_placeholders_fixed(), &["c"], &[("a", vec![2.0f32].into()), ("b", vec![4.0f32].into())]);
    assert_eq!(f32d(&r[0]).as_slice().unwrap(), &[6.0]);
    assert_eq!(format!("c1 = {}", r[0]), "c1 = [6.]");
}

#[test]
fn s2_none_placeholder_display() {
    let cell = s2_placeholders_none();
    assert_eq!(cell.get("a").to_string(), "Tensor(\"a_placeholder:0\", shape=(?,), dtype=float32)");
    assert_eq!(format!("a shape: {}", cell.get("a").get_shape()), "a shape: (?,)");
    assert_eq!(cell.get("b").to_string(), "Tensor(\"b_placeholder:0\", shape=(?,), dtype=float32)");
    assert_eq!(format!("b shape: {}", cell.get("b").get_shape()), "b shape: (?,)");
}

#[test]
fn s2_none_placeholders_take_any_length() {
    let cell = s2_placeholders_none();
    let mut sess = Session::new(&cell.graph);
    let (a, b, c) = (cell.get("a"), cell.get("b"), cell.get("c"));
    let c0 = sess.run1(c, &[(a, vec![1.0f32].into()), (b, vec![2.0f32].into())]).unwrap();
    let c1 = sess.run1(c, &[(a, vec![1.0f32, 2.0].into()), (b, vec![2.0f32, 4.0].into())]).unwrap();
    assert_eq!(format!("c0 = {c0}"), "c0 = [3.]");
    assert_eq!(format!("c1 = {c1}"), "c1 = [3. 6.]");
}

#[test]
fn s3_a_and_b() {
    let r = run(&s3_add(), &["a", "b"], &[]);
    assert_eq!(r[0].to_string(), "[[-1.]\n [-2.]\n [-3.]]");
    assert_eq!(r[1].to_string(), "[[1. 2. 3.]]");
}

#[test]
fn s3_b_plus_b() {
    let r = run(&s3_add(), &["c"], &[]);
    assert_eq!(f32d(&r[0]), arr2(&[[2.0f32, 4.0, 6.0]]).into_dyn());
    assert_eq!(r[0].to_string(), "[[2. 4. 6.]]");
}

#[test]
fn s3_a_plus_b_broadcasts() {
    let r = run(&s3_broadcast(), &["c"], &[]);
    assert_eq!(f32d(&r[0]), arr2(&[[0.0f32, 1.0, 2.0], [-1.0, 0.0, 1.0], [-2.0, -1.0, 0.0]]).into_dyn());
    assert_eq!(r[0].to_string(), "[[ 0.  1.  2.]\n [-1.  0.  1.]\n [-2. -1.  0.]]");
}

#[test]
fn s3_elementwise_product() {
    let r = run(&s3_mul_matmul(), &["c_elementwise"], &[]);
    assert_eq!(r[0].to_string(), "[[-1. -2. -3.]\n [-2. -4. -6.]\n [-3. -6. -9.]]");
}

#[test]
fn s3_matmul() {
    let r = run(&s3_mul_matmul(), &["c_matmul"], &[]);
    assert_eq!(f32d(&r[0]), arr2(&[[-14.0f32]]).into_dyn());
    assert_eq!(r[0].to_string(), "[[-14.]]");
}

#[test]
fn s3_chain_fetched_together() {
    let r = run(&s3_chain(), &["b", "c0", "c1"], &[]);
    assert_eq!(r[0].to_string(), "[[1. 2. 3.]]");
    assert_eq!(r[1].to_string(), "[[2. 4. 6.]]");
    assert_eq!(r[2].to_string(), "[[3. 5. 7.]]");
}

#[test]
fn s3_reduce_mean_is_scalar_2() {
    let cell = s3_reduce_mean();
    assert_eq!(cell.get("c").get_shape().to_string(), "()");
    let r = run(&cell, &["c"], &[]);
    assert_eq!(r[0].shape(), &[] as &[usize]);
    assert_eq!(r[0].to_string(), "2.0");
}

#[test]
fn s4_slip_is_rejected() {
    let g = kiln::Graph::new();
    let e =
        g.get_variable("myvar", &[1, 2], kiln::DType::F32, kiln::Initializer::constant([[2.0, 4.0, 6.0]])).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("'myvar'") && msg.contains("[1,2]") && msg.contains("[1,3]"), "{msg}");
    assert!(msg.starts_with("tests/notebook.rs:"), "{msg}");
    // the failed declaration leaves the name free
    assert!(g.global_variables().is_empty());
}

#[test]
fn s4_variable_display_and_collection() {
    let cell = s4_variables();
    assert_eq!(cell.get("var").to_string(), "<tf.Variable 'myvar:0' shape=(1, 3) dtype=float32_ref>");
    let all: Vec<String> = cell.graph.global_variables().iter().map(ToString::to_string).collect();
    assert_eq!(all, vec!["<tf.Variable 'myvar:0' shape=(1, 3) dtype=float32_ref>"]);
    assert_eq!(cell.get("b").to_string(), "Tensor(\"Const:0\", shape=(1, 3), dtype=float32)");
    assert_eq!(cell.get("c").to_string(), "Tensor(\"add:0\", shape=(1, 3), dtype=float32)");
}

#[test]
fn s4_b_plus_var_after_init() {
    let r = run(&s4_variables(), &["b", "var", "c"], &[]);
    assert_eq!(r[0].to_string(), "[[1. 2. 3.]]");
    assert_eq!(r[1].to_string(), "[[2. 4. 6.]]");
    assert_eq!(f32d(&r[2]), arr2(&[[3.0f32, 6.0, 9.0]]).into_dyn());
    assert_eq!(r[2].to_string(), "[[3. 6. 9.]]");
}

#[test]
fn s4_init_op_fetches_none() {
    let cell = s4_variables();
    let mut sess = Session::new(&cell.graph);
    assert_eq!(sess.run1(cell.get("init"), &[]).unwrap(), TensorValue::Unit);
}

#[test]
fn s6_shape_is_4x4() {
    let cell = s6_shape_check();
    assert!(cell.get("c").get_shape() == [4, 4]);
    assert_eq!(cell.get("c").get_shape().to_string(), "(4, 4)");
    assert_eq!(cell.get("c").dtype(), Some(kiln::DType::F64));
    let r = run(&cell, &["c"], &[]);
    assert_eq!(r[0].shape(), &[4, 4]);
    assert_eq!(r[0].as_f64().unwrap()[[3, 2]], 0.75 * 2.5);
}

#[test]
fn s6_variable_names() {
    let cell = s6_var_names();
    let names: Vec<String> = cell.graph.global_variables().iter().map(|v| v.name()).collect();
    assert_eq!(names, ["var1:0", "var2:0"]);
}

#[test]
fn s6_default_initializer_is_glorot_uniform() {
    let r = run(&s6_var_names(), &["a", "b"], &[]);
    let limit = (6.0f32 / (4.0 + 6.0)).sqrt();
    let a = r[0].as_f32().unwrap();
    assert_eq!(a.shape(), &[4, 6]);
    assert!(a.iter().all(|x| x.abs() <= limit));
    // 24 draws of U(-l, l) are not all on one side
    assert!(a.iter().any(|&x| x > 0.0) && a.iter().any(|&x| x < 0.0));
}

#[test]
fn s6_scoped_names() {
    let cell = s6_scopes();
    let mut names: Vec<String> = cell.graph.global_variables().iter().map(|v| v.name()).collect();
    names.sort();
    assert_eq!(names.join("\n"), "layer_0/W0:0\nlayer_0/b0:0\nlayer_1/W1:0\nlayer_1/b1:0\nlayer_2/W2:0\nlayer_2/b2:0");
    assert_eq!(cell.get("W0").to_string(), "<tf.Variable 'layer_0/W0:0' shape=(1, 20) dtype=float32_ref>");
}

#[test]
fn s6_initial_values_are_seeded() {
    let a = run(&s6_scopes(), &["W1"], &[]);
    let b = run(&s6_scopes(), &["W1"], &[]);
    assert_eq!(a, b, "same graph seed, same initial values");
    let g = kiln::Graph::new();
    g.set_random_seed(7);
    let w = g.get_variable("W1", &[20, 20], kiln::DType::F32, None).unwrap();
    let mut sess = Session::new(&g);
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    assert_ne!(sess.run1(&w, &[]).unwrap(), a[0], "another seed, other values");
}
