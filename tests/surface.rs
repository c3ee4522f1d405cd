//! The TF1 surface table (`kiln::surface`): one entry per name, and every op of the
//! IR's tables is in it under its TF function name, so a new op cannot miss it.

use std::collections::HashSet;

#[test]
fn every_name_is_listed_once() {
    let mut seen = HashSet::new();
    for (name, item) in kiln::surface::TF1_FUNCTIONS {
        assert!(seen.insert(*name), "{name} is listed twice");
        assert!(!item.is_empty(), "{name} names no Rust item");
    }
}

#[test]
fn every_table_op_is_in_the_surface() {
    let names: HashSet<&str> = kiln::surface::TF1_FUNCTIONS.iter().map(|(n, _)| *n).collect();
    let ir = kiln::ir::UNARY_OPS
        .iter()
        .map(|u| u.tf_function())
        .chain(kiln::ir::BINARY_OPS.iter().map(|b| b.tf_function()))
        .chain(kiln::ir::CMP_OPS.iter().map(|c| c.tf_function()))
        .chain(kiln::ir::REDUCE_OPS.iter().map(|r| r.tf_function()));
    for f in ir {
        assert!(names.contains(f), "op table function {f} is not in kiln::surface");
    }
}

#[test]
fn a_variable_starts_as_a_tensor_computes_and_ops_list_their_inputs() {
    use kiln::{DType, Graph, Initializer, Session};
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None, Some(3)], "x").unwrap();
    let y = &x + 1.0;
    assert!(x.op_inputs().is_empty());
    assert_eq!(y.op_inputs().len(), 2);
    let init = kiln::frontend::ones(&g, &[2], DType::F32).unwrap() * 3.0;
    let v = g.get_variable("v", &[2], DType::F32, Initializer::Value(init)).unwrap();
    // a tensor of another shape is refused, naming the variable
    let bad = kiln::frontend::zeros(&g, &[3], DType::F32).unwrap();
    let e = g.get_variable("w", &[2], DType::F32, Initializer::Value(bad)).unwrap_err();
    assert!(e.to_string().contains("'w'"), "{e}");
    let mut sess = Session::new(&g);
    sess.run(&[&g.global_variables_initializer().unwrap()], &[]).unwrap();
    let got = sess.run1(&v, &[]).unwrap();
    assert_eq!(got.to_string(), "[3. 3.]");
}

#[test]
fn variable_scopes_carry_reuse_initializer_and_regularizer() {
    use kiln::frontend::{get_regularization_loss, Regularizer, Reuse, VarOptions, VarScope};
    use kiln::{DType, Graph, Initializer, Session};
    let g = Graph::new();
    let opts = VarScope {
        initializer: Some(Initializer::constant(2.0)),
        regularizer: Some(Regularizer::L2(0.5)),
        ..Default::default()
    };
    let a = {
        let _s = g.variable_scope_with("net", opts);
        let _inner = g.variable_scope("inner");
        g.get_variable("a", &[3], DType::F32, None).unwrap()
    };
    assert_eq!(a.op_name(), "net/inner/a");
    {
        let _s = g.variable_scope_with("net", VarScope { reuse: Reuse::Auto, ..Default::default() });
        let _inner = g.variable_scope("inner");
        let (again, created) = g.get_variable_with("a", &[3], DType::F32, VarOptions::default()).unwrap();
        assert!(!created && again.op_name() == a.op_name());
        let (_, created) = g.get_variable_with("b", &[1], DType::F32, VarOptions::default()).unwrap();
        assert!(created, "AUTO_REUSE creates what is missing");
    }
    let total = get_regularization_loss(&g, None).unwrap();
    let mut sess = Session::new(&g);
    sess.run(&[&g.global_variables_initializer().unwrap()], &[]).unwrap();
    // 0.5 * sum(2^2 * 3) / 2
    assert_eq!(sess.run1(&total, &[]).unwrap().to_string(), "3.0");
}

#[test]
fn errors_name_tf1s_exception_class_and_the_users_line() {
    use kiln::{DType, Graph, Session};
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None, Some(3)], "x").unwrap();
    let i = g.constant(vec![1i32, 2]).unwrap();
    let line = line!() + 1;
    let e = kiln::add_n(&[&x, &i]).unwrap_err();
    assert_eq!(e.tf_exception(), "TypeError");
    assert!(e.to_string().contains(&format!("surface.rs:{line}")), "{e}");
    assert!(e.to_string().contains("have types [float32, int32] that don't all match"), "{e}");
    let e = kiln::frontend::split(&x, kiln::frontend::Split::Num(2), 1).unwrap_err();
    assert_eq!(e.tf_exception(), "ValueError");
    assert!(e.to_string().contains("evenly divisible by 2 but is 3"), "{e}");
    let mut sess = Session::new(&g);
    let e = sess.run1(&x, &[]).unwrap_err();
    assert_eq!(e.tf_exception(), "InvalidArgumentError", "{e}");
}

/// Every op the TF1 functions build carries the user's line, however many helpers
/// they compose (a helper without `#[track_caller]` would place it in kiln's source).
#[test]
fn every_op_built_is_placed_at_the_users_line() {
    use kiln::frontend::{self as f, layers, Index, OneHot, Split};
    use kiln::{Axes, DType, Graph};
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None, Some(6)], "x").unwrap();
    let i = g.placeholder(DType::I32, [None], "i").unwrap();
    let m = kiln::ones(&g, &[6, 6], DType::F32).unwrap();
    let step = g.get_or_create_global_step().unwrap();
    let _ = (
        kiln::matmul_with(&x, &m, kiln::MatMul { transpose_a: false, transpose_b: true }),
        kiln::add_n(&[&x, &x]),
        kiln::reduce_logsumexp(&x, 1, false),
        kiln::reduce_any(&kiln::greater(&x, &x).unwrap(), Axes::All, false),
        kiln::argmin(&x, 1, DType::I32),
        kiln::argmax_typed(&x, 1, DType::I32),
        kiln::clip_by_norm(&x, 1.0, Axes::All),
        kiln::clip_by_value(&x, -1.0, 1.0),
        kiln::tile(&m, &[2, 1]),
        kiln::split(&x, Split::Num(2), 1),
        kiln::unstack(&m, None, 0),
        kiln::gather_v2(&x, &i, Some(1), 1),
        kiln::gather_nd(&m, &kiln::stack(&[&i, &i], 1).unwrap(), 0),
        kiln::one_hot_with(&i, 6, OneHot { axis: Some(0), dtype: Some(DType::F64), ..Default::default() }),
        kiln::where_v1(&kiln::greater(&x, &x).unwrap(), &x, &x),
        kiln::zeros_like(&x, None),
        kiln::getitem(&x, &[Index::Ellipsis, Index::At(0)]),
        kiln::nn::leaky_relu(&x, 0.2),
        kiln::nn::dropout(&x, 0.5, None),
        kiln::nn::sigmoid_cross_entropy_with_logits(&x, &x),
        kiln::losses::huber_loss(&x, &x, 1.0, 1.0),
        kiln::to_float(&i),
        kiln::train::exponential_decay(0.1, &step, 10.0, 0.5, true),
        kiln::train::polynomial_decay(0.1, &step, 10.0, 0.01, 2.0),
        kiln::train::piecewise_constant(&step, &[1.0], &[1.0, 0.5]),
        layers::dense(&x, 3, layers::Dense::default()),
        layers::fully_connected(&x, 3, layers::FullyConnected::default()),
        layers::flatten(&x),
        f::assign_add(&step, &g.constant(1i64).unwrap()),
    );
    let module = g.module();
    let stray: Vec<String> = module
        .ops
        .iter()
        .filter_map(|op| op.loc.as_ref().map(|l| (op, l)))
        .filter(|(_, l)| !l.file.ends_with("tests/surface.rs"))
        .map(|(op, l)| format!("{} at {l}", op.name))
        .collect();
    assert!(stray.is_empty(), "ops placed in kiln's source:\n{}", stray.join("\n"));
}

/// `concat` along an unknown batch axis: the result's dim is the sum `?0+?1`, which
/// the IR prints and parses, and a run evaluates from the feeds, on both backends.
#[test]
fn concat_along_unknown_batches_sums_them() {
    use kiln::{Axes, Backend, DType, Graph, Session, SessionOptions, TensorValue};
    use ndarray::{ArrayD, IxDyn};
    let g = Graph::new();
    let a = g.placeholder(DType::F32, [None, Some(2)], "a").unwrap();
    let b = g.placeholder(DType::F32, [None, Some(2)], "b").unwrap();
    let c = kiln::concat(&[&a, &b, &a], 0).unwrap();
    assert_eq!(c.get_shape().to_string(), "(?, 2)");
    let text = g.to_ir_text();
    assert!(text.contains("f32[?0+?1+?0,2]"), "{text}");
    let m = kiln::ir::parse(&text).unwrap();
    assert_eq!(kiln::ir::print(&m), text, "prints as it parses");
    let n = kiln::shape(&c, DType::I32).unwrap();
    let loss = kiln::reduce_sum(&kiln::square(&c).unwrap(), Axes::All, false).unwrap();
    let gs = kiln::gradients(&[&loss], &[&a, &b]).unwrap();
    let (ga, gb) = (gs[0].clone().unwrap(), gs[1].clone().unwrap());
    let plus = kiln::add(&c, &g.placeholder(DType::F32, [None, Some(2)], "d").unwrap()).unwrap();
    let d = g.get_tensor_by_name("d").unwrap();
    let val = |rows: usize, x: f32| {
        TensorValue::F32(ArrayD::from_shape_fn(IxDyn(&[rows, 2]), |i| x + (i[0] * 2 + i[1]) as f32))
    };
    for backend in [Backend::Jit, Backend::Interpreter] {
        let mut sess = Session::with_options(&g, SessionOptions { backend, ..Default::default() });
        for (na, nb) in [(3, 4), (1, 0), (5, 2)] {
            let feeds = [(&a, val(na, 1.0)), (&b, val(nb, -3.0))];
            let out = sess.run(&[&c, &n, &ga, &gb], &feeds).unwrap();
            assert_eq!(out[0].shape(), &[2 * na + nb, 2]);
            assert_eq!(out[1].as_i32().unwrap().as_slice().unwrap(), &[(2 * na + nb) as i32, 2]);
            // d(sum c^2)/da = 2a twice (a appears twice), d/db = 2b
            let a2 = val(na, 1.0).into_f32().unwrap() * 4.0;
            assert_eq!(out[2].as_f32().unwrap(), &a2, "{backend:?}");
            assert_eq!(out[3].as_f32().unwrap(), &(val(nb, -3.0).into_f32().unwrap() * 2.0));
            // a third batch added to the concat must have the summed size
            let ok = sess.run(&[&plus], &[(&a, val(na, 0.0)), (&b, val(nb, 0.0)), (&d, val(2 * na + nb, 0.0))]);
            assert!(ok.is_ok(), "{ok:?}");
            let e = sess.run(&[&plus], &[(&a, val(na, 0.0)), (&b, val(nb, 0.0)), (&d, val(2 * na + nb + 1, 0.0))]);
            let e = e.unwrap_err();
            assert_eq!(e.tf_exception(), "InvalidArgumentError", "{e}");
        }
    }
}

#[test]
fn orthogonal_initializer_and_template() {
    use kiln::frontend::Template;
    use kiln::{DType, Graph, Initializer, Session};
    let g = Graph::new();
    let t = Template::new(&g, "net");
    let make = || {
        let _s = t.scope(&g);
        g.get_variable("w", &[5, 3], DType::F64, Initializer::Orthogonal { gain: 1.5 }).unwrap()
    };
    let (a, b) = (make(), make());
    assert_eq!(a.op_name(), "net/w");
    assert_eq!(b.op_name(), a.op_name(), "the second call reuses");
    assert_eq!(g.global_variables().len(), 1);
    let mut sess = Session::new(&g);
    sess.run(&[&g.global_variables_initializer().unwrap()], &[]).unwrap();
    let w = sess.run1(&a, &[]).unwrap().into_f64().unwrap().into_shape_with_order((5, 3)).unwrap();
    let qtq = w.t().dot(&w);
    for i in 0..3 {
        for j in 0..3 {
            let want = if i == j { 2.25 } else { 0.0 };
            assert!((qtq[[i, j]] - want).abs() < 1e-12, "{qtq}");
        }
    }
}
