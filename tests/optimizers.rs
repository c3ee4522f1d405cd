//! One step (and a second, where state matters) of each optimizer against TF1's
//! update formulas computed by hand in f64. Tolerance 1e-6 relative: the graph works in
//! f32.

use kiln::train::{AdamOptimizer, GradientDescentOptimizer, MomentumOptimizer, Optimizer, RMSPropOptimizer};
use kiln::{DType, Graph, Initializer, Session, Tensor};

const W0: [f64; 2] = [1.0, -2.0];
const C: [f64; 2] = [0.5, 3.0];

/// `loss = sum(c * w)`, so the gradient is `c` whatever `w` is.
fn setup() -> (Graph, Tensor, Tensor) {
    let g = Graph::new();
    let w = g.get_variable("w", &[2], DType::F32, Initializer::constant([W0[0] as f32, W0[1] as f32])).unwrap();
    let c = g.constant([C[0] as f32, C[1] as f32]).unwrap();
    let loss = kiln::reduce_sum(&(&c * &w), kiln::Axes::All, false).unwrap();
    (g, w, loss)
}

fn steps(opt: &mut dyn Optimizer, n: usize) -> (Graph, Session, Vec<f32>) {
    let (g, w, loss) = setup();
    let train = opt.minimize(&loss, None).unwrap();
    let mut sess = Session::new(&g);
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    for _ in 0..n {
        sess.run(&[&train, &loss], &[]).unwrap();
    }
    let v = sess.run1(&w, &[]).unwrap().into_f32().unwrap().iter().copied().collect();
    (g, sess, v)
}

fn close(got: &[f32], want: &[f64]) {
    for (g, w) in got.iter().zip(want) {
        assert!((*g as f64 - w).abs() <= 1e-6 * w.abs().max(1.0), "{got:?} vs {want:?}");
    }
}

fn slot(sess: &Session, name: &str) -> Vec<f32> {
    sess.variable_by_name(name).unwrap_or_else(|| panic!("no {name}")).as_f32().unwrap().iter().copied().collect()
}

#[test]
fn gradient_descent() {
    let (_, _, w) = steps(&mut GradientDescentOptimizer::new(0.1), 1);
    close(&w, &[W0[0] - 0.1 * C[0], W0[1] - 0.1 * C[1]]);
}

#[test]
fn momentum_two_steps() {
    let (_, sess, w) = steps(&mut MomentumOptimizer::new(0.1, 0.9), 2);
    // accum: c, then 0.9c + c; w -= 0.1 * accum each step
    let want: Vec<f64> = (0..2).map(|i| W0[i] - 0.1 * C[i] - 0.1 * 1.9 * C[i]).collect();
    close(&w, &want);
    close(&slot(&sess, "w/Momentum"), &[1.9 * C[0], 1.9 * C[1]]);
}

#[test]
fn nesterov_one_step() {
    let (_, _, w) = steps(&mut MomentumOptimizer::new(0.1, 0.9).nesterov(true), 1);
    // accum = c; w -= lr * g + lr * momentum * accum
    let want: Vec<f64> = (0..2).map(|i| W0[i] - 0.1 * C[i] - 0.1 * 0.9 * C[i]).collect();
    close(&w, &want);
}

fn adam_reference(steps: usize) -> Vec<f64> {
    let (lr, b1, b2, eps) = (0.001f64, 0.9f64, 0.999f64, 1e-8f64);
    let (mut w, mut m, mut v) = (W0.to_vec(), [0.0; 2], [0.0; 2]);
    for t in 1..=steps as i32 {
        let lr_t = lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
        for i in 0..2 {
            m[i] = b1 * m[i] + (1.0 - b1) * C[i];
            v[i] = b2 * v[i] + (1.0 - b2) * C[i] * C[i];
            w[i] -= lr_t * m[i] / (v[i].sqrt() + eps);
        }
    }
    w
}

#[test]
fn adam_two_steps_with_tf_names() {
    let (g, sess, w) = steps(&mut AdamOptimizer::new(0.001), 2);
    close(&w, &adam_reference(2));
    close(&slot(&sess, "w/Adam"), &[0.19 * C[0], 0.19 * C[1]]);
    close(&slot(&sess, "w/Adam_1"), &[0.001999 * C[0] * C[0], 0.001999 * C[1] * C[1]]);
    close(&slot(&sess, "beta1_power"), &[0.9f64.powi(3)]);
    close(&slot(&sess, "beta2_power"), &[0.999f64.powi(3)]);
    let names: Vec<String> = g.global_variables().iter().map(|v| v.op_name()).collect();
    assert_eq!(names, ["w", "beta1_power", "beta2_power", "w/Adam", "w/Adam_1"]);
    assert_eq!(g.trainable_variables().len(), 1, "slots are not trainable");
}

#[test]
fn rmsprop_one_step() {
    let (_, sess, w) = steps(&mut RMSPropOptimizer::new(0.01), 1);
    // ms starts at 1 in TF1
    let ms: Vec<f64> = C.iter().map(|c| 0.9 + 0.1 * c * c).collect();
    let want: Vec<f64> = (0..2).map(|i| W0[i] - 0.01 * C[i] / (ms[i] + 1e-10).sqrt()).collect();
    close(&w, &want);
    close(&slot(&sess, "w/RMSProp"), &ms);
}

#[test]
fn fetching_loss_with_train_op_gives_loss_before_update() {
    let (g, w, loss) = setup();
    let train = GradientDescentOptimizer::new(0.1).minimize(&loss, None).unwrap();
    let mut sess = Session::new(&g);
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    let before = C[0] * W0[0] + C[1] * W0[1];
    let r = sess.run(&[&train, &loss], &[]).unwrap();
    assert_eq!(r[0], kiln::TensorValue::Unit);
    close(&[r[1].scalar_f32().unwrap()], &[before]);
    let after = sess.run1(&loss, &[]).unwrap().scalar_f32().unwrap();
    assert!((after as f64) < before);
    let _ = w;
    assert_eq!(train.op_name(), "GradientDescent");
}

#[test]
fn compute_clip_apply() {
    let (g, w, loss) = setup();
    let mut opt = GradientDescentOptimizer::new(1.0);
    let gv = opt.compute_gradients(&loss, None).unwrap();
    let grads: Vec<&Tensor> = gv.iter().map(|(g, _)| g.as_ref().unwrap()).collect();
    let (clipped, norm) = kiln::clip_by_global_norm(&grads, 1.0).unwrap();
    let clipped_gv: Vec<_> =
        clipped.into_iter().zip(gv.iter().map(|(_, v)| v.clone())).map(|(g, v)| (Some(g), v)).collect();
    let train = opt.apply_gradients(&clipped_gv).unwrap();
    let mut sess = Session::new(&g);
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    let r = sess.run(&[&train, &norm], &[]).unwrap();
    let n = (C[0] * C[0] + C[1] * C[1]).sqrt();
    close(&[r[1].scalar_f32().unwrap()], &[n]);
    let v: Vec<f32> = sess.run1(&w, &[]).unwrap().into_f32().unwrap().iter().copied().collect();
    close(&v, &[W0[0] - C[0] / n, W0[1] - C[1] / n]);
}

#[test]
fn no_gradient_for_any_variable_is_an_error() {
    let g = Graph::new();
    let _w = g.get_variable("w", &[2], DType::F32, None).unwrap();
    let x = g.placeholder(DType::F32, [2], "x").unwrap();
    let loss = kiln::reduce_sum(&x, kiln::Axes::All, false).unwrap();
    let e = GradientDescentOptimizer::new(0.1).minimize(&loss, None).unwrap_err();
    insta::assert_snapshot!("no_gradients", e.to_string());
}

#[test]
fn a_learning_rate_may_be_a_tensor_fed_each_step() {
    use kiln::train::{GradientDescentOptimizer, Optimizer};
    let g = kiln::Graph::new();
    let w = g.get_variable("w", &[2], kiln::DType::F32, kiln::Initializer::constant([1.0f32, -2.0])).unwrap();
    let lr = g.placeholder(kiln::DType::F32, Vec::<usize>::new(), "lr").unwrap();
    let loss = kiln::reduce_sum(&kiln::square(&w).unwrap(), kiln::Axes::All, false).unwrap();
    let train = GradientDescentOptimizer::new(&lr).minimize(&loss, None).unwrap();
    let mut sess = kiln::Session::new(&g);
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    sess.run(&[&train], &[(&lr, kiln::TensorValue::from(0.0f32))]).unwrap();
    assert_eq!(sess.variable(&w).unwrap().as_f32().unwrap().iter().copied().collect::<Vec<_>>(), vec![1.0, -2.0]);
    // w -= 0.25 * 2w
    sess.run(&[&train], &[(&lr, kiln::TensorValue::from(0.25f32))]).unwrap();
    assert_eq!(sess.variable(&w).unwrap().as_f32().unwrap().iter().copied().collect::<Vec<_>>(), vec![0.5, -1.0]);
    // a rate that is not a scalar is refused, naming it
    let bad = g.placeholder(kiln::DType::F32, [2], "bad_lr").unwrap();
    let e = GradientDescentOptimizer::new(&bad).minimize(&loss, None).unwrap_err();
    assert!(e.to_string().contains("bad_lr") && e.to_string().contains("scalar"), "{e}");
}
