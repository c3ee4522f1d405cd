//! Runs the sine training step many times through `make_callable` (for profilers).
#[path = "sine.rs"]
#[allow(dead_code)]
mod sine;
use kiln::train::{AdamOptimizer, Optimizer};
fn main() {
    let g = kiln::Graph::new();
    let (x, y, pred) = sine::create_model(&g).unwrap();
    let mse = kiln::reduce_mean(&(0.5 * kiln::square(&(&pred - &y)).unwrap()), kiln::Axes::All, false).unwrap();
    let train = AdamOptimizer::default().minimize(&mse, None).unwrap();
    let mut sess = kiln::Session::new(&g);
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    let mut step = sess.make_callable(&[&train, &mse], &[&x, &y]).unwrap();
    let (xs, ys) = sine::data(0);
    let (xb, yb) = (xs.slice(ndarray::s![0..32, ..]).to_owned(), ys.slice(ndarray::s![0..32, ..]).to_owned());
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let t = std::time::Instant::now();
    for _ in 0..n {
        step.run(&mut sess, &[xb.view().into_dyn(), yb.view().into_dyn()]).unwrap();
    }
    println!("{:.2} us/step", t.elapsed().as_secs_f64() * 1e6 / n as f64);
}
