//! Every bad-input case gets a typed error whose message names the op or tensor, the
//! shapes or dtypes, and the caller's `file:line:col`. The messages are snapshots.

use kiln::{ir, matmul, reduce_sum, BuildError, DType, Graph, Initializer, RankPromotion, Session, TensorValue};

fn snap(name: &str, msg: String) {
    assert!(msg.contains("tests/errors.rs:") || msg.contains(':'), "{msg}");
    insta::assert_snapshot!(name, msg);
}

#[test]
fn incompatible_broadcast() {
    let g = Graph::new();
    let a = g.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).unwrap();
    let b = g.constant([1.0, 2.0]).unwrap();
    let e = kiln::add(&a, &b).unwrap_err();
    assert!(matches!(e, BuildError::Broadcast { .. }));
    snap("incompatible_broadcast", e.to_string());
}

#[test]
fn incompatible_broadcast_through_operator_poisons() {
    let g = Graph::new();
    let a = g.placeholder(DType::F32, [None, Some(3)], "x").unwrap();
    let b = g.constant([1.0, 2.0]).unwrap();
    let c = &a + &b; // cannot fail here: `+` returns a poisoned tensor
    let d = &c * 2.0; // poison propagates with the first error's location
    assert!(d.error().is_some());
    let mut sess = Session::new(&g);
    let e = sess.run1(&d, &[]).unwrap_err();
    assert!(matches!(e.build_error(), Some(BuildError::Broadcast { .. })));
    snap("operator_poison", e.to_string());
}

#[test]
fn outer_broadcast_under_error_policy() {
    let g = Graph::new();
    g.set_rank_promotion(RankPromotion::Error);
    let col = g.placeholder(DType::F32, [None, Some(1)], "q").unwrap();
    let row = g.placeholder(DType::F32, [None], "target").unwrap();
    let e = kiln::subtract(&col, &row).unwrap_err();
    snap("outer_broadcast_error", e.to_string());
}

#[test]
fn outer_broadcast_warning_names_the_line() {
    let g = Graph::new();
    let col = g.placeholder(DType::F32, [None, Some(1)], "q").unwrap();
    let row = g.placeholder(DType::F32, [None], "target").unwrap();
    let bias = g.constant([0.5]).unwrap();
    let _fine = &col + &bias; // a bias does not warn
    assert!(g.warnings().is_empty());
    let _outer = &col - &row;
    let w = g.warnings();
    assert_eq!(w.len(), 1);
    snap("outer_broadcast_warning", w[0].clone());
}

#[test]
fn matmul_inner_dims() {
    let g = Graph::new();
    let a = g.placeholder(DType::F32, [None, Some(3)], "x").unwrap();
    let w = g.get_variable("W", &[4, 5], DType::F32, None).unwrap();
    let e = matmul(&a, &w).unwrap_err();
    assert!(matches!(e, BuildError::MatMul { .. }));
    snap("matmul_inner_dims", e.to_string());
}

#[test]
fn reduce_axis_out_of_range() {
    let g = Graph::new();
    let a = g.constant([[1.0, 2.0]]).unwrap();
    let e = reduce_sum(&a, 2, false).unwrap_err();
    assert!(matches!(e, BuildError::Axis { axis: 2, .. }));
    snap("reduce_axis_out_of_range", e.to_string());
}

#[test]
fn dtype_mix() {
    let g = Graph::new();
    let a = g.constant([1.0, 2.0]).unwrap();
    let b = g.constant([1, 2]).unwrap();
    let e = kiln::add(&a, &b).unwrap_err();
    assert!(matches!(e, BuildError::DType { lhs: DType::F32, rhs: DType::I32, .. }));
    snap("dtype_mix", e.to_string());
}

fn two_placeholders() -> (Graph, kiln::Tensor, kiln::Tensor, kiln::Tensor) {
    let g = Graph::new();
    let a = g.placeholder(DType::F32, [None], "a_placeholder").unwrap();
    let b = g.placeholder(DType::F32, [None], "b_placeholder").unwrap();
    let c = &a + &b;
    (g, a, b, c)
}

#[test]
fn missing_feed() {
    let (g, a, _b, c) = two_placeholders();
    let mut sess = Session::new(&g);
    let e = sess.run1(&c, &[(&a, vec![1.0f32].into())]).unwrap_err();
    assert!(matches!(e, kiln::Error::MissingFeed { .. }));
    snap("missing_feed", e.to_string());
}

#[test]
fn feed_wrong_rank() {
    let (g, a, b, c) = two_placeholders();
    let mut sess = Session::new(&g);
    let e = sess.run1(&c, &[(&a, [[1.0f32]].into()), (&b, vec![1.0f32].into())]).unwrap_err();
    snap("feed_wrong_rank", e.to_string());
}

#[test]
fn feed_wrong_fixed_dim() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None, Some(1)], "input_ph").unwrap();
    let mut sess = Session::new(&g);
    let e = sess.run1(&x, &[(&x, [[1.0f32, 2.0]].into())]).unwrap_err();
    assert!(matches!(e, kiln::Error::FeedShape { .. }));
    snap("feed_wrong_fixed_dim", e.to_string());
}

#[test]
fn feeds_disagree_on_a_broadcast_dim() {
    let (g, a, b, c) = two_placeholders();
    let mut sess = Session::new(&g);
    let e = sess.run1(&c, &[(&a, vec![1.0f32, 2.0].into()), (&b, vec![1.0f32, 2.0, 3.0].into())]).unwrap_err();
    assert!(matches!(e, kiln::Error::DimMismatch { .. }));
    snap("feeds_disagree_on_dim", e.to_string());
}

#[test]
fn named_dim_shared_by_two_placeholders() {
    let g = Graph::new();
    // a dim name that reads as a size is refused
    assert!(matches!(g.placeholder(DType::F32, ["batch", "1"], "x"), Err(BuildError::InvalidName { .. })));
    let x = g.placeholder(DType::F32, vec![kiln::DimSpec::from("batch"), 1.into()], "x").unwrap();
    let y = g.placeholder(DType::F32, vec![kiln::DimSpec::from("batch"), 1.into()], "y").unwrap();
    let mut sess = Session::new(&g);
    let e = sess.run(&[&x, &y], &[(&x, [[1.0f32], [2.0]].into()), (&y, [[1.0f32]].into())]).unwrap_err();
    assert!(matches!(e, kiln::Error::DimMismatch { .. }));
    snap("named_dim_mismatch", e.to_string());
}

#[test]
fn feed_wrong_dtype() {
    let (g, a, b, c) = two_placeholders();
    let mut sess = Session::new(&g);
    let e = sess.run1(&c, &[(&a, vec![1.0f64].into()), (&b, vec![1.0f32].into())]).unwrap_err();
    assert!(matches!(e, kiln::Error::FeedDType { .. }));
    snap("feed_wrong_dtype", e.to_string());
}

#[test]
fn feed_for_non_placeholder() {
    let (g, a, b, c) = two_placeholders();
    let mut sess = Session::new(&g);
    let feeds = [(&a, vec![1.0f32].into()), (&b, vec![1.0f32].into()), (&c, vec![1.0f32].into())];
    let e = sess.run1(&c, &feeds).unwrap_err();
    assert!(matches!(e, kiln::Error::NotAPlaceholder { .. }));
    snap("feed_for_non_placeholder", e.to_string());
}

#[test]
fn fetch_from_another_graph() {
    let (g, ..) = two_placeholders();
    let other = Graph::new();
    let t = other.constant(1.0).unwrap();
    let mut sess = Session::new(&g);
    let e = sess.run1(&t, &[]).unwrap_err();
    assert!(matches!(e, kiln::Error::ForeignTensor { .. }));
    snap("fetch_from_another_graph", e.to_string());
}

#[test]
fn op_across_graphs() {
    let g1 = Graph::new();
    let g2 = Graph::new();
    let a = g1.constant(1.0).unwrap();
    let b = g2.constant(2.0).unwrap();
    let e = kiln::add(&a, &b).unwrap_err();
    snap("op_across_graphs", e.to_string());
}

#[test]
fn duplicate_variable() {
    let g = Graph::new();
    let _s = g.variable_scope("layer_0");
    g.get_variable("W0", &[1, 20], DType::F32, None).unwrap();
    let e = g.get_variable("W0", &[1, 20], DType::F32, None).unwrap_err();
    assert!(matches!(e, BuildError::DuplicateVariable { .. }));
    snap("duplicate_variable", e.to_string());
}

#[test]
fn reuse_of_missing_variable() {
    let g = Graph::new();
    let _s = g.variable_scope_reuse("layer_0", true);
    let e = g.get_variable("W0", &[1, 20], DType::F32, None).unwrap_err();
    assert!(matches!(e, BuildError::NoSuchVariable { .. }));
    snap("reuse_of_missing_variable", e.to_string());
}

#[test]
fn reuse_returns_the_same_variable() {
    let g = Graph::new();
    let w = {
        let _s = g.variable_scope("layer_0");
        g.get_variable("W0", &[1, 20], DType::F32, None).unwrap()
    };
    let _s = g.variable_scope_reuse("layer_0", true);
    let again = g.get_variable("W0", &[1, 20], DType::F32, None).unwrap();
    assert_eq!(w.value().unwrap(), again.value().unwrap());
    let e = g.get_variable("W0", &[2, 20], DType::F32, None).unwrap_err();
    snap("reuse_with_other_shape", e.to_string());
}

#[test]
fn initializer_shape_mismatch() {
    let g = Graph::new();
    let e = g.get_variable("myvar", &[1, 2], DType::F32, Initializer::constant([[2.0, 4.0, 6.0]])).unwrap_err();
    assert!(matches!(e, BuildError::InitializerShape { .. }));
    snap("initializer_shape", e.to_string());
}

#[test]
fn ragged_constant() {
    let g = Graph::new();
    let e = g.constant(vec![vec![1.0, 2.0], vec![3.0]]).unwrap_err();
    snap("ragged_constant", e.to_string());
}

#[test]
fn read_before_init() {
    let g = Graph::new();
    let v = g.get_variable("myvar", &[1, 3], DType::F32, Initializer::Zeros).unwrap();
    let c = &v + 1.0;
    let mut sess = Session::new(&g);
    let e = sess.run1(&c, &[]).unwrap_err();
    assert!(matches!(e, kiln::Error::Uninitialized { .. }));
    snap("read_before_init", e.to_string());
}

#[test]
fn integer_division_by_zero() {
    let g = Graph::new();
    let a = g.constant([1, 2]).unwrap();
    let b = g.constant([1, 0]).unwrap();
    let c = &a / &b;
    let mut sess = Session::new(&g);
    let e = sess.run1(&c, &[]).unwrap_err();
    snap("integer_division_by_zero", e.to_string());
}

#[test]
fn failed_run_changes_no_variable() {
    let g = Graph::new();
    let v = g.get_variable("v", &[2], DType::F32, Initializer::Ones).unwrap();
    let x = g.placeholder(DType::F32, [2], "x").unwrap();
    let upd = kiln::assign(&v, &(&v + &x)).unwrap();
    let mut sess = Session::new(&g);
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    assert!(sess.run1(&upd, &[(&x, vec![1.0f32, 2.0, 3.0].into())]).is_err());
    assert_eq!(sess.run1(&v, &[]).unwrap(), TensorValue::from(vec![1.0f32, 1.0]));
    sess.run1(&upd, &[(&x, vec![1.0f32, 2.0].into())]).unwrap();
    assert_eq!(sess.run1(&v, &[]).unwrap(), TensorValue::from(vec![2.0f32, 3.0]));
}

fn parse_err(text: &str) -> String {
    ir::parse(text).unwrap_err().to_string()
}

#[test]
fn malformed_ir_text() {
    let cases = [
        ("missing_module", "%x = parameter : f32[2]\n"),
        ("unknown_op", "module {\n  %x = parameter : f32[2]\n  %y = frobnicate %x : f32[2]\n}\n"),
        ("undefined_value", "module {\n  %y = neg %x : f32[2]\n}\n"),
        ("bad_dtype", "module {\n  %x = parameter : f33[2]\n}\n"),
        ("missing_attr", "module {\n  %x = parameter : f32[2]\n  %y = transpose %x : f32[2]\n}\n"),
        ("bad_literal", "module {\n  %c = constant [1.0, x] : f32[2]\n}\n"),
        ("unterminated", "module {\n  %x = parameter : f32[2] loc(\"a.rs:1:1)\n}\n"),
        ("trailing", "module {\n}\nmodule {\n}\n"),
    ];
    let all: Vec<String> = cases.iter().map(|(n, t)| format!("{n}: {}", parse_err(t))).collect();
    for (n, t) in cases {
        assert!(matches!(ir::parse(t), Err(ir::IrTextError::Parse(_))), "{n}");
    }
    snap("malformed_ir", all.join("\n"));
}

#[test]
fn ir_that_fails_the_verifier() {
    let cases = [
        ("shape", "module {\n  %x = parameter : f32[2]\n  %y = parameter : f32[3]\n  %z = add %x, %y : f32[2] loc(\"m.rs\":7:9)\n}\n"),
        ("result_type", "module {\n  %x = parameter : f32[2,3]\n  %y = reduce_sum %x {axes=[1], keepdims=false} : f32[3]\n}\n"),
        ("dtype", "module {\n  %x = parameter : f32[2]\n  %y = parameter : i32[2]\n  %z = mul %x, %y : f32[2]\n}\n"),
        ("constant_len", "module {\n  %c = constant [1.0, 2.0] : f32[3]\n}\n"),
        ("broadcast", "module {\n  %x = parameter : f32[2]\n  %y = broadcast %x {dims=[1]} : f32[2,3]\n}\n"),
        ("conflict", "module {\n  constraint ?0 = 2\n  constraint ?0 = 3\n}\n"),
        ("var_sym", "module {\n  var @w : f32[?0]\n}\n"),
    ];
    let mut all = Vec::new();
    for (n, t) in cases {
        let e = ir::parse(t).unwrap_err();
        assert!(matches!(e, ir::IrTextError::Verify(_)), "{n}: {e}");
        all.push(format!("{n}: {e}"));
    }
    snap("verifier_errors", all.join("\n"));
}

#[test]
fn feed_against_a_broadcast_constraint() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None], "x").unwrap();
    let w = g.constant([1.0, 2.0, 3.0]).unwrap();
    let y = &x * &w; // assumes x's length is 3 (a length of 1 would broadcast in NumPy)
    let mut sess = Session::new(&g);
    let ok = sess.run1(&y, &[(&x, vec![1.0f32, 1.0, 2.0].into())]).unwrap();
    assert_eq!(ok, TensorValue::from(vec![1.0f32, 2.0, 6.0]));
    let e = sess.run1(&y, &[(&x, vec![1.0f32, 1.0].into())]).unwrap_err();
    assert!(matches!(e, kiln::Error::FeedConstraint { must_be: 3, got: 2, .. }));
    snap("feed_against_constraint", e.to_string());
}

#[test]
fn reshape_to_another_element_count() {
    let g = Graph::new();
    let x = g.constant([[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]]).unwrap();
    let e = kiln::reshape(&x, &[4, 2]).unwrap_err();
    snap("reshape_element_count", e.to_string());
}

#[test]
fn concat_of_two_unknown_batches_merges_them() {
    // TF1 merges the unknown batch dims of `concat([state, action], 1)`: so does kiln,
    // and a run binding them to different sizes is refused
    let g = Graph::new();
    let s = g.placeholder(DType::F32, [None, Some(3)], "s").unwrap();
    let a = g.placeholder(DType::F32, [None, Some(2)], "a").unwrap();
    let sa = kiln::concat(&[&s, &a], 1).unwrap();
    let s4 = ndarray::Array2::from_shape_fn((4, 3), |(i, j)| (10 * i + j) as f32).into_dyn();
    let a4 = ndarray::Array2::from_shape_fn((4, 2), |(i, j)| -((10 * i + j) as f32)).into_dyn();
    for backend in [kiln::Backend::Jit, kiln::Backend::Interpreter] {
        let mut sess = Session::with_options(&g, kiln::SessionOptions { backend, ..Default::default() });
        let r = sess.run1(&sa, &[(&s, s4.clone().into()), (&a, a4.clone().into())]).unwrap();
        let r = r.as_f32().unwrap().clone();
        assert_eq!(r.shape(), &[4, 5]);
        assert_eq!(r[[2, 1]], 21.0);
        assert_eq!(r[[2, 4]], -21.0);
        let a3 = ndarray::Array2::<f32>::zeros((3, 2)).into_dyn();
        let e = sess.run1(&sa, &[(&s, s4.clone().into()), (&a, a3.into())]).unwrap_err();
        assert!(e.to_string().contains("'a'"), "{backend:?}: {e}");
    }
    // two different fixed sizes off the axis are still an error naming both shapes
    let p = g.placeholder(DType::F32, [2, 3], "p").unwrap();
    let q = g.placeholder(DType::F32, [4, 3], "q").unwrap();
    let e = kiln::concat(&[&p, &q], 1).unwrap_err().to_string();
    assert!(e.contains("[4,3]") && e.contains("[2,3]"), "{e}");
}
