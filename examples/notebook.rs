//! Sections 2, 3, 4 and 6 of the CS294 TensorFlow notebook, cell by cell, in kiln.
//! Each cell prints what the notebook printed (NumPy formatting included).
//!
//! Run with `cargo run --release --example notebook`; `-- --save-models DIR` also saves
//! the sections' graphs as `DIR/notebook_*.kir` (the committed ones are in
//! `examples/models/`).

use kiln::{matmul, reduce_mean, Axes, DType, Graph, Initializer, Session, SessionOptions, Tensor};
use ndarray::Array2;
use rand::{Rng, SeedableRng};

type Result<T> = std::result::Result<T, kiln::Error>;

/// Appends a line to the cell output.
macro_rules! out {
    ($o:expr, $($t:tt)*) => {{
        use std::fmt::Write;
        let _ = writeln!($o, $($t)*);
    }};
}

thread_local! {
    static OPTIONS: std::cell::RefCell<SessionOptions> = std::cell::RefCell::new(SessionOptions::default());
    static MODELS: std::cell::RefCell<Option<std::path::PathBuf>> = const { std::cell::RefCell::new(None) };
}

/// Saves a cell's graph as `<models dir>/<name>.kir` (IR text for the `kiln` CLI) when
/// a models directory is set.
fn save(g: &Graph, name: &str) -> Result<()> {
    match MODELS.with(|m| m.borrow().clone()) {
        Some(dir) => Ok(g.save_ir(dir.join(format!("{name}.kir")))?),
        None => Ok(()),
    }
}

/// `tf_reset()`: a fresh graph and a session over it.
fn tf_reset() -> (Graph, Session) {
    let g = Graph::new();
    let sess = OPTIONS.with(|o| Session::with_options(&g, o.borrow().clone()));
    (g, sess)
}

fn section_2(o: &mut String) -> Result<()> {
    out!(o, "## 2. How to input data\n");
    // constants
    let (g, mut sess) = tf_reset();
    let a = g.constant(1.0)?;
    let b = g.constant(2.0)?;
    let c = &a + &b;
    let c_run = sess.run1(&c, &[])?;
    out!(o, "c = {c_run}\n");

    // placeholders of shape [1], one graph fed twice
    let (g, mut sess) = tf_reset();
    let a = g.placeholder(DType::F32, [1], "a_placeholder")?;
    let b = g.placeholder(DType::F32, [1], "b_placeholder")?;
    let c = &a + &b;
    let c0_run = sess.run1(&c, &[(&a, vec![1.0f32].into()), (&b, vec![2.0f32].into())])?;
    let c1_run = sess.run1(&c, &[(&a, vec![2.0f32].into()), (&b, vec![4.0f32].into())])?;
    out!(o, "c0 = {c0_run}");
    out!(o, "c1 = {c1_run}\n");

    // placeholders of shape [None]: the same graph takes any length
    let (g, mut sess) = tf_reset();
    let a = g.placeholder(DType::F32, [None], "a_placeholder")?;
    let b = g.placeholder(DType::F32, [None], "b_placeholder")?;
    let c = &a + &b;
    let c0_run = sess.run1(&c, &[(&a, vec![1.0f32].into()), (&b, vec![2.0f32].into())])?;
    let c1_run = sess.run1(&c, &[(&a, vec![1.0f32, 2.0].into()), (&b, vec![2.0f32, 4.0].into())])?;
    out!(o, "{a}");
    out!(o, "a shape: {}", a.get_shape());
    out!(o, "{b}");
    out!(o, "b shape: {}", b.get_shape());
    out!(o, "c0 = {c0_run}");
    out!(o, "c1 = {c1_run}\n");
    save(&g, "notebook_s2_placeholders")
}

fn section_3(o: &mut String) -> Result<()> {
    out!(o, "## 3. How to perform computations\n");
    let (g, mut sess) = tf_reset();
    let a = g.constant([[-1.0], [-2.0], [-3.0]])?;
    let b = g.constant([[1.0, 2.0, 3.0]])?;
    let r = sess.run(&[&a, &b], &[])?;
    out!(o, "a:\n{}\nb:\n{}\n", r[0], r[1]);

    let c = &b + &b;
    let r = sess.run(&[&b, &c], &[])?;
    out!(o, "b:\n{}\nc:\n{}\n", r[0], r[1]);

    // the notebook's warning: a column plus a row silently becomes a 3x3 matrix;
    // kiln reports it on stderr with this line (policy: allow / warn / error)
    let c = &a + &b;
    let r = sess.run(&[&a, &b, &c], &[])?;
    out!(o, "a:\n{}\nb:\n{}\nc:\n{}\n", r[0], r[1], r[2]);

    let c_elementwise = &a * &b;
    let c_matmul = matmul(&b, &a)?;
    let r = sess.run(&[&a, &b, &c_elementwise, &c_matmul], &[])?;
    out!(o, "a:\n{}\nb:\n{}\nc_elementwise:\n{}\nc_matmul:\n{}\n", r[0], r[1], r[2], r[3]);

    let c0 = &b + &b;
    let c1 = &c0 + 1.0;
    let r = sess.run(&[&b, &c0, &c1], &[])?;
    out!(o, "b:\n{}\nc0:\n{}\nc1:\n{}\n", r[0], r[1], r[2]);

    let c = reduce_mean(&b, Axes::All, false)?;
    let r = sess.run(&[&b, &c], &[])?;
    out!(o, "b:\n{}\nc:\n{}\n", r[0], r[1]);
    save(&g, "notebook_s3_computations")
}

fn section_4(o: &mut String) -> Result<()> {
    out!(o, "## 4. How to create variables\n");
    let (g, mut sess) = tf_reset();
    let b = g.constant([[1.0, 2.0, 3.0]])?;
    let b_run = sess.run1(&b, &[])?;
    out!(o, "b:\n{b_run}\n");

    let var_init_value = [[2.0f32, 4.0, 6.0]];
    // The notebook's slip: shape [1,2] declared, a [1,3] value given. TF went on with
    // shape (1,3); kiln refuses and says why.
    let slip = g.get_variable("myvar", &[1, 2], DType::F32, Initializer::constant(var_init_value));
    match slip {
        Err(e) => out!(o, "kiln rejects the notebook's slip:\n  {e}\n"),
        Ok(v) => out!(o, "unexpectedly accepted: {v}"),
    }
    let var = g.get_variable("myvar", &[1, 3], DType::F32, Initializer::constant(var_init_value))?;
    out!(o, "{var}\n");
    out!(o, "{}\n", list(&g.global_variables()));

    let c = &b + &var;
    out!(o, "{b}\n{var}\n{c}\n");

    // reading before initialization is an error, as in TF
    if let Err(e) = sess.run1(&c, &[]) {
        out!(o, "before init:\n  {e}\n");
    }
    let init_op = g.global_variables_initializer()?;
    sess.run1(&init_op, &[])?;

    let c_run = sess.run1(&c, &[])?;
    out!(o, "b:\n{b_run}\nvar:\n{var_init_value:?}\nc:\n{c_run}\n");
    save(&g, "notebook_s4_variables")
}

fn section_6(o: &mut String) -> Result<()> {
    out!(o, "## 6. Tips and tricks\n");
    let (g, _sess) = tf_reset();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let a = g.constant(Array2::from_shape_fn((4, 1), |_| rng.random::<f64>()))?;
    let b = g.constant(Array2::from_shape_fn((1, 4), |_| rng.random::<f64>()))?;
    let c = &a * &b;
    assert!(c.get_shape() == [4, 4]);
    out!(o, "c.get_shape() == (4, 4): {}\n", c.get_shape() == [4, 4]);

    let (g, _sess) = tf_reset();
    g.get_variable("var1", &[4, 6], DType::F32, None)?;
    g.get_variable("var2", &[2, 7], DType::F32, None)?;
    for var in g.global_variables() {
        out!(o, "{}", var.name());
    }
    out!(o, "");

    out!(o, "help(tf.reduce_mean): see `cargo doc --open` (kiln::reduce_mean)\n");

    let (g, _sess) = tf_reset();
    let layers: [(usize, [usize; 2]); 3] = [(0, [1, 20]), (1, [20, 20]), (2, [20, 1])];
    for (i, shape) in layers {
        let _scope = g.variable_scope(&format!("layer_{i}"));
        g.get_variable(&format!("W{i}"), &shape, DType::F32, Initializer::xavier())?;
        g.get_variable(&format!("b{i}"), &[shape[1]], DType::F32, Initializer::Zeros)?;
    }
    let mut var_names: Vec<String> = g.global_variables().iter().map(Tensor::name).collect();
    var_names.sort();
    out!(o, "{}\n", var_names.join("\n"));
    save(&g, "notebook_s6_scopes")?;

    // the same name twice without reuse is an error naming the first definition
    let _scope = g.variable_scope("layer_0");
    if let Err(e) = g.get_variable("W0", &[1, 20], DType::F32, None) {
        out!(o, "creating layer_0/W0 again:\n  {e}");
    }
    Ok(())
}

fn list(vars: &[Tensor]) -> String {
    format!("[{}]", vars.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
}

/// Every cell's output, with sessions made from `options`.
pub fn run(options: SessionOptions) -> Result<String> {
    run_saving(options, None)
}

/// [`run`], also saving the sections' graphs as `.kir` files into `models`.
pub fn run_saving(options: SessionOptions, models: Option<std::path::PathBuf>) -> Result<String> {
    OPTIONS.with(|o| *o.borrow_mut() = options);
    MODELS.with(|m| *m.borrow_mut() = models);
    let mut o = String::new();
    section_2(&mut o)?;
    section_3(&mut o)?;
    section_4(&mut o)?;
    section_6(&mut o)?;
    Ok(o)
}

#[allow(dead_code)] // unused when the tests include this file as a module
fn main() -> Result<()> {
    // `--save-models DIR`: the graphs as IR text for the `kiln` CLI
    let args: Vec<String> = std::env::args().collect();
    let models = args.iter().position(|a| a == "--save-models").and_then(|i| args.get(i + 1)).map(Into::into);
    print!("{}", run_saving(SessionOptions::default(), models)?);
    Ok(())
}
