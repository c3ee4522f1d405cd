//! Hostile input gets a typed error, never a panic, an abort, a hang or a wrong answer.
//! Each case is a finding of a fuzzer or a review, kept as a regression test.

use kiln::{Backend, DType, Graph, Session, SessionOptions, TensorValue};

fn parse_err(text: &str) -> String {
    match Graph::parse_ir(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn dims_that_multiply_past_64_bits_are_refused() {
    for tail in ["exp %b", "transpose %b {perm=[1,0]}", "slice %b {begin=[0,0]}"] {
        let text = format!(
            "module {{\n  %x = constant [1.0] : f32[]\n  %b = broadcast %x {{dims=[]}} : f32[4294967296,4294967296]\n  %y = {tail} : f32[4294967296,4294967296]\n}}\n"
        );
        let e = parse_err(&text);
        assert!(e.contains("more elements than 64 bits can count"), "{e}");
        assert!(e.contains("%b"), "names the op: {e}");
    }
}

#[test]
fn a_slice_whose_begin_wraps_is_refused() {
    let e =
        parse_err("module {\n  %x = parameter : f32[4]\n  %y = slice %x {begin=[18446744073709551615]} : f32[2]\n}\n");
    assert!(e.contains("outside 0..4"), "{e}");
}

#[test]
fn huge_fixed_shapes_are_refused_before_any_allocation() {
    for op in [
        "%x = parameter : f32[3000000000]",
        "%x = iota {axis=0} : i32[3000000000]",
        "%x = random_uniform {min=0.0, max=1.0, seed=1} : f32[65536,65536]",
    ] {
        let e = parse_err(&format!("module {{\n  {op}\n}}\n"));
        assert!(e.contains("more than the limit"), "{op}: {e}");
    }
    let e = parse_err("module {\n  var @w : f32[65536,65536]\n}\n");
    assert!(e.contains("@w") && e.contains("more than the limit"), "{e}");
    // and from the builder, with the user's line
    let g = Graph::new();
    let err = g.placeholder(DType::F32, [1 << 20, 1 << 20], "x").unwrap_err().to_string();
    assert!(err.contains("more than the limit"), "{err}");
    let err = g.get_variable("w", &[1 << 16, 1 << 16], DType::F32, None).unwrap_err().to_string();
    assert!(err.contains("tests/hostile.rs"), "{err}");
}

#[test]
fn a_broadcast_then_reduce_of_a_huge_shape_is_refused_not_run() {
    let e = parse_err(
        "module {\n  %x = constant [1.0] : f32[]\n  %b = broadcast %x {dims=[]} : f32[1048576,1048576]\n  %s = reduce_sum %b {axes=[0,1], keepdims=false} : f32[]\n}\n",
    );
    assert!(e.contains("more than the limit"), "{e}");
}

#[test]
fn symbolic_dims_bound_past_the_limit_fail_the_run() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None, Some(1)], "x").unwrap();
    let y = g.placeholder(DType::F32, [Some(1), None], "y").unwrap();
    g.set_rank_promotion(kiln::RankPromotion::Allow);
    let z = kiln::reduce_sum(&(&x * &y), kiln::Axes::All, false).unwrap();
    let feeds = [
        (&x, TensorValue::from(ndarray::Array2::<f32>::zeros((70_000, 1)))),
        (&y, TensorValue::from(ndarray::Array2::<f32>::zeros((1, 70_000)))),
    ];
    for backend in [Backend::Jit, Backend::Interpreter] {
        let mut sess = Session::with_options(&g, SessionOptions { backend, ..Default::default() });
        let e = sess.run1(&z, &feeds).unwrap_err().to_string();
        assert!(e.contains("exceeds the limit"), "{backend:?}: {e}");
    }
}

#[test]
fn locations_with_control_characters_print_and_parse_back() {
    let text = "module {\n  %x = parameter : f32[2] loc(\"a\\0b\\rc\\u{1b}d\\\"e\\\\f\\tg\":3:4)\n}\n";
    let g = Graph::parse_ir(text).unwrap();
    let printed = g.to_ir_text();
    let again = Graph::parse_ir(&printed).unwrap();
    assert_eq!(again.to_ir_text(), printed);
    let file = g.module().ops[0].loc.as_ref().unwrap().file.to_string();
    assert_eq!(file, "a\0b\rc\u{1b}d\"e\\f\tg");
}

#[test]
fn a_callable_refuses_another_graphs_session() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None], "x").unwrap();
    let y = &x * 2.0;
    let mut sess = Session::new(&g);
    let mut call = sess.make_callable(&[&y], &[&x]).unwrap();
    let other = Graph::new();
    let _ = other.placeholder(DType::F32, [None], "x").unwrap();
    let mut foreign = Session::new(&other);
    let xs = ndarray::arr1(&[1.0f32, 2.0]).into_dyn();
    let e = call.run(&mut foreign, &[xs.view()]).unwrap_err();
    assert!(matches!(e, kiln::Error::ForeignTensor { .. }), "{e}");
    call.run(&mut sess, &[xs.view()]).unwrap();
    assert!(matches!(call.fetch(0, &foreign), Err(kiln::Error::ForeignTensor { .. })));
    assert_eq!(call.fetch(0, &sess).unwrap(), &[2.0, 4.0]);
}

#[test]
fn building_ops_while_holding_the_module_does_not_panic() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [2], "x").unwrap();
    let snapshot = g.module();
    let y = &x + 1.0; // used to panic: the module was borrowed
    assert!(y.error().is_none());
    assert_eq!(snapshot.ops.len(), 1, "the snapshot keeps what it saw");
    assert!(g.module().ops.len() > 1);
}

#[test]
fn negative_stride_feeds_run_on_the_jit() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None], "x").unwrap();
    let y = &x * 3.0;
    let mut sess = Session::with_options(&g, SessionOptions { backend: Backend::Jit, ..Default::default() });
    let a = ndarray::arr1(&[1.0f32, 2.0, 3.0]);
    let rev = a.slice(ndarray::s![..;-1]).to_owned().into_dyn();
    let mut call = sess.make_callable(&[&y], &[&x]).unwrap();
    let view = a.slice(ndarray::s![..;-1]).into_dyn();
    call.run(&mut sess, &[view]).unwrap();
    assert_eq!(call.fetch(0, &sess).unwrap(), &[9.0, 6.0, 3.0]);
    let out = sess.run1(&y, &[(&x, rev.into())]).unwrap();
    assert_eq!(out.to_string(), "[9. 6. 3.]");
}

/// A zero dim beside a huge one has no elements, but its other dim still feeds strides
/// and ndarray's shape rules: every dim stays within the per-value limit. The parser
/// refuses such a module, and a module that skipped the verifier (the Rust API takes
/// any `Module`) gets a typed error from both backends, never a panic.
#[test]
fn a_zero_dim_beside_a_huge_one_is_refused_on_both_backends() {
    use kiln::runtime::{exec::Executable, interp};
    for dims in ["0,9223372036854775808", "9223372036854775808,0", "0,4294967296,4294967296"] {
        let text = format!("module {{\n  %c = constant [] : f32[{dims}]\n  %y = exp %c : f32[{dims}]\n}}\n");
        let e = parse_err(&text);
        assert!(e.contains("more than the limit"), "{dims}: {e}");
        let m = kiln::ir::parse_unverified(&text).expect("the text is well formed");
        let y = m.value_by_name("y").unwrap();
        let e = interp::run(&m, &[y], &Default::default(), &[], &interp::Bindings::new(&m)).err().expect("refused");
        assert!(
            e.to_string().contains("more than the limit") || e.to_string().contains("exceeds the limit"),
            "{dims}: {e}"
        );
        let e = Executable::build(&m, &[y], &Default::default()).err().expect("refused");
        assert!(e.contains("more than the limit"), "{dims}: {e}");
    }
}

/// A module whose op reads a value defined after it (not SSA) gets an error from the
/// interpreter, and a root past the module's end one from the compiler.
#[test]
fn malformed_modules_through_the_rust_api_get_errors() {
    use kiln::runtime::{exec::Executable, interp};
    let mut m =
        kiln::ir::parse("module {\n  %x = parameter : f32[2]\n  %y = exp %x : f32[2]\n  %z = neg %y : f32[2]\n}\n")
            .unwrap();
    let (y, z) = (m.value_by_name("y").unwrap(), m.value_by_name("z").unwrap());
    m.ops[y.index()].operands[0] = z;
    let x = m.value_by_name("x").unwrap();
    let feed = TensorValue::from(vec![1.0f32, 2.0]);
    let feeds = [(x, &feed)].into_iter().collect();
    let e = interp::run(&m, &[z], &feeds, &[], &interp::Bindings::new(&m)).err().expect("refused");
    assert!(e.to_string().contains("has no value before the op"), "{e}");
    assert!(Executable::build(&m, &[z], &Default::default()).is_err());
    let ok = kiln::ir::parse("module {\n  %x = parameter : f32[2]\n}\n").unwrap();
    let e = Executable::build(&ok, &[kiln::ir::ValueId(7)], &Default::default()).err().expect("refused");
    assert!(e.contains("not a value of the module"), "{e}");
}
