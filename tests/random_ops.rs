//! Random ops at run time: fresh draws at every run, reproducible from the seeds, the
//! right distributions, on both backends; `categorical` samples softmax(logits).

use kiln::{Backend, DType, Graph, Session, SessionOptions, TensorValue};
use ndarray::arr2;

fn session(g: &Graph, backend: Backend) -> Session {
    Session::with_options(g, SessionOptions { backend, ..Default::default() })
}

fn ints(v: &TensorValue) -> Vec<i64> {
    v.as_i64().unwrap().iter().copied().collect()
}

#[test]
fn categorical_samples_softmax_of_the_logits() {
    let g = Graph::new();
    // probabilities 1/7, 2/7, 4/7 in row 0; a certain class 2 in row 1
    let ln2 = std::f32::consts::LN_2;
    let logits = g.constant(arr2(&[[0.0f32, ln2, 2.0 * ln2], [-1e9, -1e9, 0.0]])).unwrap();
    let n = 4000;
    let s = kiln::categorical(&logits, n, None).unwrap();
    assert_eq!(s.dtype(), Some(DType::I64));
    assert_eq!(s.get_shape().as_list(), vec![Some(2), Some(n)]);
    for backend in [Backend::Jit, Backend::Interpreter] {
        let mut sess = session(&g, backend);
        let a = ints(&sess.run1(&s, &[]).unwrap());
        let counts = (0..3).map(|c| a[..n].iter().filter(|&&x| x == c).count() as f64 / n as f64).collect::<Vec<_>>();
        for (got, want) in counts.iter().zip([1.0 / 7.0, 2.0 / 7.0, 4.0 / 7.0]) {
            // 4000 draws: a standard error under 0.008
            assert!((got - want).abs() < 0.03, "{backend:?}: frequencies {counts:?}");
        }
        assert!(a[n..].iter().all(|&x| x == 2), "{backend:?}: the certain row");
        // the next run draws afresh
        let b = ints(&sess.run1(&s, &[]).unwrap());
        assert_ne!(a, b, "{backend:?}: a second run drew the same samples");
    }
}

#[test]
fn draws_are_fresh_per_run_and_reproducible_per_session() {
    let g = Graph::new();
    g.set_random_seed(7);
    let u = g.random_uniform(&[1000], -1.0, 3.0, DType::F32, None).unwrap();
    let runs = |backend| {
        let mut sess = session(&g, backend);
        (0..3).map(|_| sess.run1(&u, &[]).unwrap().into_f32().unwrap()).collect::<Vec<_>>()
    };
    let jit = runs(Backend::Jit);
    let interp = runs(Backend::Interpreter);
    assert_eq!(jit, interp, "both backends draw the same streams");
    assert_eq!(jit, runs(Backend::Jit), "a new session replays the same sequence");
    assert_ne!(jit[0], jit[1]);
    for r in &jit {
        assert!(r.iter().all(|&x| (-1.0..3.0).contains(&x)));
        let mean = r.iter().sum::<f32>() / r.len() as f32;
        assert!((mean - 1.0).abs() < 0.15, "mean {mean}");
    }
    // another graph seed, other numbers
    let g2 = Graph::new();
    g2.set_random_seed(8);
    let u2 = g2.random_uniform(&[1000], -1.0, 3.0, DType::F32, None).unwrap();
    assert_ne!(session(&g2, Backend::Jit).run1(&u2, &[]).unwrap().into_f32().unwrap(), jit[0]);
}

#[test]
fn normal_draws_have_their_moments() {
    let g = Graph::new();
    let z = g.random_normal(&[20_000], 2.0, 0.5, DType::F32, Some(3)).unwrap();
    let t = g.truncated_normal(&[20_000], 0.0, 1.0, DType::F32, Some(3)).unwrap();
    let mut sess = Session::new(&g);
    let r = sess.run(&[&z, &t], &[]).unwrap();
    let z = r[0].as_f32().unwrap();
    let mean = z.mean().unwrap();
    let var = z.mapv(|x| (x - mean) * (x - mean)).mean().unwrap();
    assert!((mean - 2.0).abs() < 0.02 && (var.sqrt() - 0.5).abs() < 0.02, "{mean} {var}");
    assert!(r[1].as_f32().unwrap().iter().all(|x| x.abs() <= 2.0));
}

#[test]
fn a_policy_samples_actions_in_the_graph() {
    // the homework's pattern: logits from a placeholder, one action per row
    let g = Graph::new();
    let obs = g.placeholder(DType::F32, [None, Some(4)], "obs").unwrap();
    let w = g.constant(arr2(&[[1.0f32, -1.0], [0.5, 0.5], [0.0, 2.0], [-1.0, 0.0]])).unwrap();
    let logits = kiln::matmul(&obs, &w).unwrap();
    let action = kiln::squeeze(&kiln::categorical(&logits, 1, Some(1)).unwrap(), &[1]).unwrap();
    assert_eq!(action.get_shape().as_list(), vec![None]);
    let mut sess = Session::new(&g);
    for batch in [1usize, 5, 64] {
        let x = ndarray::Array2::<f32>::zeros((batch, 4)).into_dyn();
        let a = ints(&sess.run1(&action, &[(&obs, x.into())]).unwrap());
        assert_eq!(a.len(), batch);
        assert!(a.iter().all(|&x| x == 0 || x == 1));
    }
}

#[test]
fn gaussian_noise_takes_the_shape_of_a_batch_of_any_size() {
    // a Gaussian policy's `mean + std * random_normal(tf.shape(mean))`, and `tf.shape`
    // itself, for batches the graph does not know the size of
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None, Some(3)], "x").unwrap();
    let dist = kiln::ir::RandomDist::Normal { mean: 0.0, stddev: 1.0 };
    let noise = g.random_shaped_like(dist, &x, DType::F32, Some(7)).unwrap();
    let y = &x + &noise;
    let s32 = kiln::shape(&x, DType::I32).unwrap();
    let s64 = kiln::shape(&noise, DType::I64).unwrap();
    assert!(kiln::shape(&x, DType::F32).is_err(), "out_type must be an integer");
    for backend in [Backend::Jit, Backend::Interpreter] {
        let mut sess = session(&g, backend);
        for n in [1usize, 5, 300] {
            let feed = TensorValue::from(ndarray::Array2::<f32>::zeros((n, 3)));
            let out = sess.run(&[&y, &s32, &s64], &[(&x, feed)]).unwrap();
            assert_eq!(out[0].shape(), &[n, 3], "{backend:?}");
            assert_eq!(out[1], TensorValue::from(vec![n as i32, 3]), "{backend:?}");
            assert_eq!(out[2], TensorValue::from(vec![n as i64, 3]), "{backend:?}");
            let v = out[0].as_f32().unwrap();
            assert!(v.iter().all(|z| z.is_finite()) && v.iter().any(|&z| z != 0.0), "{backend:?}: {v}");
        }
    }
}
