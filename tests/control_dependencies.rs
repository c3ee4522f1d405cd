//! `Graph::control_dependencies`: ops built in a block run the deps and see their
//! assignments, as TF1's do, on the interpreter, the JIT (checked kernel by kernel
//! against the interpreter) and through `make_callable`.

use kiln::train::{GradientDescentOptimizer, Optimizer};
use kiln::{Backend, DType, Graph, Initializer, Session, SessionOptions, Tensor};

fn sessions(g: &Graph) -> Vec<Session> {
    [Backend::Interpreter, Backend::Jit]
        .into_iter()
        .map(|backend| Session::with_options(g, SessionOptions { backend, check: true, ..Default::default() }))
        .collect()
}

fn var(g: &Graph, name: &str, v: [f32; 2]) -> Tensor {
    g.get_variable(name, &[2], DType::F32, Initializer::constant(v)).unwrap()
}

fn f32s(sess: &mut Session, t: &Tensor) -> Vec<f32> {
    sess.run1(t, &[]).unwrap().into_f32().unwrap().iter().copied().collect()
}

/// DQN's soft target update after the online network's step, fetched alone: the step
/// runs, and the target moves toward the online weights *after* it.
#[test]
fn a_group_in_a_block_runs_the_deps_and_reads_their_results() {
    let g = Graph::new();
    let w = var(&g, "w", [1.0, -2.0]);
    let t = var(&g, "t", [0.0, 0.0]);
    let c = g.constant([0.5f32, 3.0]).unwrap();
    let loss = kiln::reduce_sum(&(&c * &w), kiln::Axes::All, false).unwrap();
    let step = GradientDescentOptimizer::new(0.1).minimize(&loss, None).unwrap();
    let soft = {
        let _deps = g.control_dependencies(&[&step]).unwrap();
        let tau = 0.25f32;
        kiln::group(&[&kiln::assign(&t, &(tau * &w + (1.0 - tau) * &t)).unwrap()]).unwrap()
    };
    for mut sess in sessions(&g) {
        sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
        sess.run1(&soft, &[]).unwrap();
        // w after the step: w - 0.1 c; t = 0.25 of that
        let w1 = [1.0 - 0.05, -2.0 - 0.3];
        assert_eq!(f32s(&mut sess, &w), w1);
        assert_eq!(f32s(&mut sess, &t), [0.25 * w1[0], 0.25 * w1[1]]);
        // the same through a callable
        let mut call = sess.make_callable(&[&soft], &[]).unwrap();
        call.run::<kiln::Feed<'_>>(&mut sess, &[]).unwrap();
        let w2 = [w1[0] - 0.05, w1[1] - 0.3];
        assert_eq!(f32s(&mut sess, &w), w2);
        let t2 = [0.25 * w2[0] + 0.75 * 0.25 * w1[0], 0.25 * w2[1] + 0.75 * 0.25 * w1[1]];
        for (got, want) in f32s(&mut sess, &t).iter().zip(t2) {
            assert!((got - want).abs() <= 1e-6, "{got} vs {want}");
        }
    }
}

/// A value built in a block, and anything computed from it, runs the deps when fetched;
/// a read built outside the block still sees the value from before the run.
#[test]
fn a_value_in_a_block_runs_the_deps_and_outside_reads_do_not_move() {
    let g = Graph::new();
    let v = var(&g, "v", [1.0, 2.0]);
    let bump = kiln::assign(&v, &(&v + 10.0)).unwrap();
    let before = &v * 1.0;
    let after = {
        let _deps = g.control_dependencies(&[&bump]).unwrap();
        &v * 2.0
    };
    let downstream = &after + 1.0;
    for mut sess in sessions(&g) {
        sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
        let out = sess.run(&[&downstream, &before], &[]).unwrap();
        assert_eq!(out.len(), 2, "only what was asked for comes back");
        let got: Vec<Vec<f32>> = out.into_iter().map(|o| o.into_f32().unwrap().iter().copied().collect()).collect();
        assert_eq!(got[0], [23.0, 25.0]);
        assert_eq!(got[1], [1.0, 2.0]);
        assert_eq!(f32s(&mut sess, &v), [11.0, 12.0], "fetching the downstream value ran the assignment");
        // `before` was built outside the block: fetching it alone changes nothing
        assert_eq!(f32s(&mut sess, &before), [11.0, 12.0]);
        assert_eq!(f32s(&mut sess, &v), [11.0, 12.0]);
    }
}

/// Nested blocks add up; the last assignment in op order is the one a read sees; an
/// empty list clears the deps (TF's `control_dependencies(None)`); `no_op` runs them.
#[test]
fn blocks_nest_clear_and_no_op_runs_them() {
    let g = Graph::new();
    let a = var(&g, "a", [1.0, 1.0]);
    let b = var(&g, "b", [5.0, 5.0]);
    let a3 = kiln::assign(&a, &g.constant([3.0f32, 3.0]).unwrap()).unwrap();
    let a4 = kiln::assign(&a, &g.constant([4.0f32, 4.0]).unwrap()).unwrap();
    let b0 = kiln::assign(&b, &g.constant([0.0f32, 0.0]).unwrap()).unwrap();
    let both = kiln::group(&[&a4, &a3]).unwrap();
    let (sum, cleared, noop) = {
        let _outer = g.control_dependencies(&[&both]).unwrap();
        let _inner = g.control_dependencies(&[&b0]).unwrap();
        let sum = &a + &b;
        let cleared = {
            let _none = g.control_dependencies(&[]).unwrap();
            &a + &b
        };
        (sum, cleared, g.no_op().unwrap())
    };
    for mut sess in sessions(&g) {
        let init = g.global_variables_initializer().unwrap();
        sess.run1(&init, &[]).unwrap();
        assert_eq!(f32s(&mut sess, &cleared), [6.0, 6.0]);
        assert_eq!(f32s(&mut sess, &a), [1.0, 1.0], "a cleared block runs nothing");
        // a4 was built after a3: it lands, and the read sees it
        assert_eq!(f32s(&mut sess, &sum), [4.0, 4.0]);
        assert_eq!(f32s(&mut sess, &a), [4.0, 4.0]);
        assert_eq!(f32s(&mut sess, &b), [0.0, 0.0]);
        sess.run1(&init, &[]).unwrap();
        sess.run1(&noop, &[]).unwrap();
        assert_eq!((f32s(&mut sess, &a), f32s(&mut sess, &b)), (vec![4.0, 4.0], vec![0.0, 0.0]));
    }
}

/// A gradient through a read a block replaced would not be the variable's: refused.
#[test]
fn gradients_through_a_replaced_read_are_refused() {
    let g = Graph::new();
    let v = var(&g, "v", [1.0, 2.0]);
    let bump = kiln::assign(&v, &(&v + 1.0)).unwrap();
    let y = {
        let _deps = g.control_dependencies(&[&bump]).unwrap();
        kiln::reduce_sum(&(&v * &v), kiln::Axes::All, false).unwrap()
    };
    let e = kiln::gradients(&[&y], &[&v]).unwrap_err().to_string();
    assert!(e.contains("control_dependencies") && e.contains("'v'"), "{e}");
    // outside any block the same loss differentiates as usual
    let y2 = kiln::reduce_sum(&(&v * &v), kiln::Axes::All, false).unwrap();
    assert!(kiln::gradients(&[&y2], &[&v]).unwrap()[0].is_some());
}

/// TF's idiom for "the loss after the step": `identity` in a block is a new op that
/// runs the deps and reads their results.
#[test]
fn identity_in_a_block_runs_the_step() {
    let g = Graph::new();
    let w = var(&g, "w", [1.0, -2.0]);
    let loss = kiln::reduce_sum(&(&w * &w), kiln::Axes::All, false).unwrap();
    let step = GradientDescentOptimizer::new(0.25).minimize(&loss, None).unwrap();
    let w_after = {
        let _deps = g.control_dependencies(&[&step]).unwrap();
        kiln::identity(&w).unwrap()
    };
    assert_eq!(w_after.get_shape(), [2]);
    for mut sess in sessions(&g) {
        sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
        // w - 0.25 * 2w = w / 2
        assert_eq!(f32s(&mut sess, &w_after), [0.5, -1.0]);
        assert_eq!(f32s(&mut sess, &w), [0.5, -1.0]);
    }
}
