//! What a training loop may do around a session without recompiling: build ops after
//! training started, change the batch size, alternate batch sizes, feed and fetch other
//! dtypes than f32. Compiles and bindings are counted from `Session::compile_stats` and
//! `Executable::bind_count`.

use kiln::train::AdamOptimizer;
use kiln::{nn, Axes, CompileReason, DType, Error, Feed, Graph, Optimizer, Session, SessionOptions};
use ndarray::{Array1, Array2, ArrayD, IxDyn};

#[path = "../examples/sine.rs"]
#[allow(dead_code)]
mod sine;

/// A session with the JIT whatever the environment says (CI may run with KILN_BACKEND).
fn jit(g: &Graph, tune: impl FnOnce(&mut SessionOptions)) -> Session {
    let mut o = SessionOptions { backend: kiln::Backend::Jit, log_compiles: false, check: false, ..Default::default() };
    tune(&mut o);
    Session::with_options(g, o)
}

fn batch(n: usize, seed: usize) -> (Array2<f32>, Array2<f32>) {
    let x = Array2::from_shape_fn((n, 1), |(i, _)| ((i * 37 + seed * 11) % 100) as f32 / 10.0 - 5.0);
    let y = x.mapv(f32::sin);
    (x, y)
}

fn sine_step() -> (Graph, kiln::Tensor, kiln::Tensor, kiln::Tensor, kiln::Tensor, kiln::Tensor) {
    let g = Graph::new();
    let (x, y, pred) = sine::create_model(&g).unwrap();
    let mse = kiln::reduce_mean(&(0.5 * kiln::square(&(&pred - &y)).unwrap()), Axes::All, false).unwrap();
    let train = AdamOptimizer::default().minimize(&mse, None).unwrap();
    (g, x, y, pred, mse, train)
}

#[test]
fn building_ops_after_a_run_recompiles_nothing() {
    let (g, x, y, pred, mse, train) = sine_step();
    let mut sess = jit(&g, |_| {});
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    let (xb, yb) = batch(32, 0);
    let feeds = [(&x, xb.clone().into()), (&y, yb.clone().into())];
    sess.run(&[&train, &mse], &feeds).unwrap();
    let compiled = sess.compile_stats().compiles;
    assert_eq!(sess.last_compile_reason(), Some(&CompileReason::NewFetchSet));
    // a logging expression and a new loss term, built mid-training
    let log_pred = kiln::reduce_max(&pred, Axes::All, false).unwrap();
    let _extra = kiln::reduce_sum(&kiln::abs(&pred).unwrap(), Axes::All, false).unwrap();
    for _ in 0..5 {
        sess.run(&[&train, &mse], &feeds).unwrap();
    }
    assert_eq!(sess.compile_stats().compiles, compiled, "unrelated ops must not recompile the train step");
    assert!(sess.compile_stats().hits >= 5);
    // the new fetch set compiles once, then the old one is still cached
    sess.run1(&log_pred, &[(&x, xb.into())]).unwrap();
    sess.run(&[&train, &mse], &feeds).unwrap();
    assert_eq!(sess.compile_stats().compiles, compiled + 1);
    assert_eq!(sess.compile_stats().evictions, 0);
}

#[test]
fn a_new_constraint_on_its_dims_recompiles_with_the_reason() {
    let g = Graph::new();
    let a = g.placeholder(DType::F32, [None], "a").unwrap();
    let b = g.placeholder(DType::F32, [None], "b").unwrap();
    let (a2, b2) = (&a * 2.0, &b * 3.0);
    let mut sess = jit(&g, |_| {});
    let feeds = [(&a, vec![1.0f32, 2.0].into()), (&b, vec![1.0f32, 2.0].into())];
    sess.run(&[&a2, &b2], &feeds).unwrap();
    // unrelated symbol: a third placeholder constrained only against itself
    let c = g.placeholder(DType::F32, [None], "c").unwrap();
    let _cc = &c + &c;
    sess.run(&[&a2, &b2], &feeds).unwrap();
    assert_eq!(sess.compile_stats().compiles, 1);
    // `a + b` equates the two dims the fetch set's ops use
    let _ab = &a + &b;
    let out = sess.run(&[&a2, &b2], &feeds).unwrap();
    assert_eq!(out[1].to_string(), "[3. 6.]");
    assert_eq!(sess.compile_stats().compiles, 2);
    match sess.last_compile_reason() {
        Some(CompileReason::ChangedDependency(why)) => {
            assert!(why.contains("?0 = ?1") || why.contains("?1 = ?0"), "{why}")
        }
        other => panic!("expected a changed dependency, got {other:?}"),
    }
}

#[test]
fn the_executable_cache_is_bounded_and_says_what_it_evicted() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None], "x").unwrap();
    let fetches: Vec<kiln::Tensor> = (1..=3).map(|k| &x * k as f32).collect();
    let mut sess = jit(&g, |o| o.max_executables = 2);
    let feeds = [(&x, vec![1.0f32].into())];
    for f in &fetches {
        sess.run1(f, &feeds).unwrap();
    }
    assert_eq!(sess.cached_executables(), 2);
    assert_eq!(sess.compile_stats().evictions, 1);
    let out = sess.run1(&fetches[0], &feeds).unwrap();
    assert_eq!(out.to_string(), "[1.]");
    assert_eq!(sess.last_compile_reason(), Some(&CompileReason::Evicted));
    assert_eq!(sess.compile_stats().compiles, 4);
    assert_eq!(sess.cached_executables(), 2);
}

#[test]
fn batch_sizes_bind_once_each_and_alternate_without_rebinding() {
    let (g, x, y, _pred, mse, train) = sine_step();
    let mut sess = jit(&g, |_| {});
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    let mut step = sess.make_callable(&[&train, &mse], &[&x, &y]).unwrap();
    let (x1, y1) = batch(1, 1);
    let (x32, y32) = batch(32, 2);
    for i in 0..50 {
        let (xb, yb) = if i % 2 == 0 { (&x1, &y1) } else { (&x32, &y32) };
        step.run(&mut sess, &[xb.view().into_dyn(), yb.view().into_dyn()]).unwrap();
    }
    assert_eq!(step.executable().bind_count(), 2, "two batch sizes, two bindings");
    // a new size each call: bound each time, never compiled
    for n in 2..40 {
        let (xb, yb) = batch(n, n);
        step.run(&mut sess, &[xb.view().into_dyn(), yb.view().into_dyn()]).unwrap();
        assert_eq!(step.fetch_f32(1, &sess).unwrap().ndim(), 0);
    }
    assert_eq!(step.executable().bind_count(), 40);
    assert!(step.executable().binding_count() <= kiln::runtime::exec::DEFAULT_MAX_BINDINGS);
    // Session::run keeps bindings too
    let mut s2 = jit(&g, |_| {});
    s2.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    for i in 0..20 {
        let (xb, yb) = if i % 2 == 0 { (&x1, &y1) } else { (&x32, &y32) };
        s2.run(&[&train, &mse], &[(&x, xb.clone().into()), (&y, yb.clone().into())]).unwrap();
    }
    assert_eq!(s2.compile_stats().compiles, 2, "the initializer and the step");
    assert_eq!(s2.compile_stats().binds, 3, "the initializer, then one per batch size");
}

#[test]
fn bindings_at_many_sizes_compute_what_the_interpreter_computes() {
    let (g, x, y, _pred, mse, train) = sine_step();
    let mut a = jit(&g, |o| o.max_bindings = 3);
    let mut b = Session::with_options(&g, SessionOptions { backend: kiln::Backend::Interpreter, ..Default::default() });
    let init = g.global_variables_initializer().unwrap();
    a.run1(&init, &[]).unwrap();
    b.run1(&init, &[]).unwrap();
    for &n in &[5, 1, 64, 5, 300, 1, 64, 2, 300] {
        let (xb, yb) = batch(n, n);
        let feeds = [(&x, xb.into()), (&y, yb.into())];
        let la = a.run(&[&train, &mse], &feeds).unwrap()[1].scalar_f32().unwrap();
        let lb = b.run(&[&train, &mse], &feeds).unwrap()[1].scalar_f32().unwrap();
        assert!((la - lb).abs() <= 1e-4 * lb.abs().max(1.0), "batch {n}: jit {la} vs interpreter {lb}");
    }
}

/// A softmax policy with int32 actions and a bool mask, as REINFORCE builds it.
#[test]
fn callables_take_int_and_bool_feeds_and_return_int_fetches() {
    let g = Graph::new();
    let obs = g.placeholder(DType::F32, [None, Some(4)], "obs").unwrap();
    let act = g.placeholder(DType::I32, [None], "act").unwrap();
    let keep = g.placeholder(DType::Bool, [None], "keep").unwrap();
    let w = g.constant([[1.0, -1.0], [0.5, 0.5], [-1.0, 2.0], [0.0, 1.0]]).unwrap();
    let logits = kiln::matmul(&obs, &w).unwrap();
    let greedy = kiln::argmax(&logits, 1).unwrap();
    let onehot = kiln::one_hot(&act, 2).unwrap();
    let picked = kiln::reduce_sum(&(&onehot * &logits), Axes::from(1), false).unwrap();
    let zeros = kiln::multiply(&picked, &g.constant(0.0).unwrap()).unwrap();
    let masked = kiln::select(&keep, &picked, &zeros).unwrap();
    let loss = kiln::reduce_mean(&nn::relu(&masked).unwrap(), Axes::All, false).unwrap();
    let mut sess = jit(&g, |_| {});
    let mut call = sess.make_callable(&[&greedy, &masked, &loss], &[&obs, &act, &keep]).unwrap();
    let o = Array2::from_shape_fn((3, 4), |(i, j)| (i as f32 - 1.0) * (j as f32 + 1.0));
    let a = Array1::from(vec![0i32, 1, 1]);
    let k = Array1::from(vec![true, false, true]);
    call.run(&mut sess, &[Feed::from(&o), Feed::from(&a), Feed::from(&k)]).unwrap();
    let logits_want = o.dot(&ndarray::arr2(&[[1.0f32, -1.0], [0.5, 0.5], [-1.0, 2.0], [0.0, 1.0]]));
    let greedy_want: Vec<i64> = logits_want.rows().into_iter().map(|r| if r[1] > r[0] { 1 } else { 0 }).collect();
    assert_eq!(call.fetch_i64(0, &sess).unwrap().iter().copied().collect::<Vec<_>>(), greedy_want);
    let masked_got = call.fetch_f32(1, &sess).unwrap().to_owned();
    for i in 0..3 {
        let want = if k[i] { logits_want[[i, a[i] as usize]] } else { 0.0 };
        assert_eq!(masked_got[i], want, "row {i}");
    }
    assert_eq!(call.fetch_value(0, &sess).unwrap().dtype(), Some(DType::I64));
    // and at another batch size
    let o2 = ArrayD::from_elem(IxDyn(&[5, 4]), 1.0f32);
    let a2 = Array1::from(vec![1i32; 5]);
    let k2 = Array1::from(vec![true; 5]);
    call.run(&mut sess, &[Feed::from(&o2), Feed::from(&a2), Feed::from(&k2)]).unwrap();
    assert_eq!(call.fetch_i64(0, &sess).unwrap().len(), 5);
    assert_eq!(call.fetch_f32(1, &sess).unwrap().iter().copied().collect::<Vec<_>>(), vec![2.5; 5]);
}

#[test]
fn wrong_dtypes_are_typed_errors_never_none() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None], "x").unwrap();
    let i = g.placeholder(DType::I32, [None], "i").unwrap();
    let am = kiln::argmax(&(&x * 2.0), 0).unwrap();
    let v = g.get_variable("v", &[1], DType::F32, kiln::Initializer::Zeros).unwrap();
    let up = kiln::assign(&v, &kiln::reduce_sum(&x, Axes::All, true).unwrap()).unwrap();
    let mut sess = jit(&g, |_| {});
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    let mut call = sess.make_callable(&[&am, &up], &[&x, &i]).unwrap();
    let xs = Array1::from(vec![1.0f32, 3.0, 2.0]);
    let is = Array1::from(vec![1i32]);
    // feeds swapped: an i32 array for the f32 placeholder
    let err = call.run(&mut sess, &[Feed::from(&is), Feed::from(&xs)]).unwrap_err();
    assert!(
        matches!(&err, Error::FeedDType { placeholder, expected: DType::F32, got, .. } if placeholder == "x" && got == "i32"),
        "{err}"
    );
    assert!(err.to_string().contains("tests/training_loop.rs"), "{err}");
    call.run(&mut sess, &[Feed::from(&xs), Feed::from(&is)]).unwrap();
    assert_eq!(call.fetch_i64(0, &sess).unwrap()[[]], 1);
    let err = call.fetch_f32(0, &sess).unwrap_err();
    assert!(
        matches!(&err, Error::FetchDType { fetch, expected: DType::F32, got: DType::I64, .. } if fetch == "ArgMax"),
        "{err}"
    );
    let err = call.fetch_i32(0, &sess).unwrap_err();
    assert!(matches!(err, Error::FetchDType { expected: DType::I32, got: DType::I64, .. }), "{err}");
    assert!(matches!(call.fetch(0, &sess), Err(Error::FetchDType { .. })));
    assert!(matches!(call.fetch_f32(1, &sess), Err(Error::NoValue { .. })));
    assert_eq!(call.fetch_value(1, &sess).unwrap(), kiln::TensorValue::Unit);
    assert!(matches!(call.fetch_value(2, &sess), Err(Error::FetchIndex { index: 2, count: 2, .. })));
}

#[test]
fn strided_feeds_run_on_the_jit() {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None, Some(3)], "x").unwrap();
    let y = kiln::reduce_sum(&(&x * &x), Axes::from(1), false).unwrap();
    let mut sess = jit(&g, |_| {});
    let mut call = sess.make_callable(&[&y], &[&x]).unwrap();
    let t = Array2::from_shape_fn((3, 2), |(i, j)| (i * 2 + j) as f32).reversed_axes();
    call.run(&mut sess, &[t.view().into_dyn()]).unwrap();
    let want: Vec<f32> = t.rows().into_iter().map(|r| r.iter().map(|v| v * v).sum()).collect();
    assert_eq!(call.fetch(0, &sess).unwrap(), &want[..]);
    let out = sess.run1(&y, &[(&x, t.clone().into_dyn().into())]).unwrap();
    assert_eq!(out.as_f32().unwrap().iter().copied().collect::<Vec<_>>(), want);
    assert_eq!(sess.run_counts(), (1, 0), "ran on the JIT");
}

#[test]
fn callables_fetch_int_variables_and_constants_alone() {
    let g = Graph::new();
    let step = g.get_variable("global_step", &[], DType::I64, kiln::Initializer::Zeros).unwrap();
    let c = g.constant_with_dtype(ndarray::arr1(&[7i64, -3, 1 << 40]), DType::I64).unwrap();
    let flags = g.constant(ndarray::arr1(&[true, false])).unwrap();
    let bump = kiln::assign(&step, &(&step + 1.0)).unwrap();
    let mut sess = jit(&g, |_| {});
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    let mut inc = sess.make_callable(&[&bump], &[]).unwrap();
    for _ in 0..3 {
        inc.run::<Feed>(&mut sess, &[]).unwrap();
    }
    let mut read = sess.make_callable(&[&step, &c, &flags], &[]).unwrap();
    read.run::<Feed>(&mut sess, &[]).unwrap();
    assert_eq!(read.fetch_value(0, &sess).unwrap(), kiln::TensorValue::from(3i64));
    assert_eq!(read.fetch_i64(1, &sess).unwrap().into_raw_vec_and_offset().0, vec![7, -3, 1 << 40]);
    assert_eq!(read.fetch_bool(2, &sess).unwrap().into_raw_vec_and_offset().0, vec![true, false]);
}
