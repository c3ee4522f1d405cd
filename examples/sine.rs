//! Section 5 of the notebook, the main job: a 1-20-20-1 ReLU network fit to noisy
//! sin(x) with Adam, checkpointed every 1000 steps, then restored into a fresh graph
//! to predict on all 10,000 points and plot the fit.
//!
//! `cargo run --release --example sine -- --steps 10000 --batch-size 32 --out DIR`
//!
//! Checkpoints and the plot go to `--out` (default: `kiln-sine` in the system's
//! temporary directory), nothing into the source tree; `--save-ir PATH` also saves
//! the training graph as IR text for the `kiln` CLI.

use clap::Parser;
use kiln::train::{AdamOptimizer, Saver};
use kiln::{
    matmul, nn, reduce_mean, square, Axes, Backend, DType, Graph, Initializer, Optimizer, Session, SessionOptions,
    Tensor, TensorValue,
};
use ndarray::{Array1, Array2, Axis};
use rand::{Rng, SeedableRng};
use std::path::PathBuf;

/// Command-line flags.
#[derive(Parser, Debug, Clone)]
pub struct Args {
    /// training steps
    #[arg(long, default_value_t = 10_000)]
    pub steps: usize,
    /// examples per step
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// where `model/` checkpoints and `sine_fit.png` go (default: `kiln-sine` in the
    /// system's temporary directory)
    #[arg(long, default_value_os_t = std::env::temp_dir().join("kiln-sine"))]
    pub out: PathBuf,
    /// data and sampling seed
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// `jit` or `interp` (default: the session's default, `KILN_BACKEND` or the JIT)
    #[arg(long)]
    pub backend: Option<String>,
    /// Save the training graph as IR text here, for the `kiln` CLI
    /// (`examples/models/sine_train.kir` is the committed one)
    #[arg(long)]
    pub save_ir: Option<PathBuf>,
}

fn session(g: &Graph, args: &Args) -> Session {
    let mut opts = SessionOptions::default();
    match args.backend.as_deref() {
        Some("interp") => opts.backend = Backend::Interpreter,
        Some("jit") => opts.backend = Backend::Jit,
        _ => {}
    }
    Session::with_options(g, opts)
}

/// What a run produced.
pub struct Report {
    /// the `NNNN mse: X` lines
    pub log: Vec<String>,
    /// MSE of the restored model on all 10,000 points
    pub final_mse: f32,
    /// the last checkpoint written
    pub checkpoint: PathBuf,
}

/// The notebook's data: `linspace(-2pi, 2pi, 10000)` and `sin(x) + 0.05 N(0, 1)`.
pub fn data(seed: u64) -> (Array2<f32>, Array2<f32>) {
    let n = 10_000;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let two_pi = 2.0 * std::f64::consts::PI;
    let x = Array1::linspace(-two_pi, two_pi, n);
    let y = x.mapv(|v| v.sin() + 0.05 * rng.sample::<f64, _>(rand_distr::StandardNormal));
    (x.mapv(|v| v as f32).insert_axis(Axis(1)), y.mapv(|v| v as f32).insert_axis(Axis(1)))
}

/// The model: placeholders, three layers under variable scopes, and the prediction.
pub fn create_model(g: &Graph) -> kiln::Result<(Tensor, Tensor, Tensor)> {
    let input_ph = g.placeholder(DType::F32, [None, Some(1)], "input")?;
    let output_ph = g.placeholder(DType::F32, [None, Some(1)], "output")?;
    let sizes = [(1, 20), (20, 20), (20, 1)];
    let mut layer = input_ph.clone();
    for (i, (fan_in, fan_out)) in sizes.into_iter().enumerate() {
        let _scope = g.variable_scope(&format!("layer_{i}"));
        let w = g.get_variable(&format!("W{i}"), &[fan_in, fan_out], DType::F32, Initializer::xavier())?;
        let b = g.get_variable(&format!("b{i}"), &[fan_out], DType::F32, Initializer::Zeros)?;
        layer = matmul(&layer, &w)? + &b;
        if i + 1 < sizes.len() {
            layer = nn::relu(&layer)?;
        }
    }
    Ok((input_ph, output_ph, layer))
}

fn batch(x: &Array2<f32>, idx: &[usize]) -> TensorValue {
    x.select(Axis(0), idx).into()
}

/// Trains, checkpoints, restores and predicts; prints the notebook's log.
pub fn run(args: &Args) -> kiln::Result<Report> {
    let (inputs, outputs) = data(args.seed);
    let g = Graph::new();
    let (input_ph, output_ph, output_pred) = create_model(&g)?;
    let mse = reduce_mean(&(0.5 * square(&(&output_pred - &output_ph))?), Axes::All, false)?;
    let opt = AdamOptimizer::default().minimize(&mse, None)?;
    let mut sess = session(&g, args);
    sess.run1(&g.global_variables_initializer()?, &[])?;
    if let Some(path) = &args.save_ir {
        // the whole training graph (model, loss, gradients, Adam, `init`) as text:
        // `kiln compile examples/models/sine_train.kir` picks it up
        g.save_ir(path)?;
    }
    let mut saver = Saver::new(&g);
    let prefix = args.out.join("model").join("ckpt");

    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed + 1);
    let mut log = Vec::new();
    let mut checkpoint = PathBuf::new();
    for step in 0..args.steps {
        let idx: Vec<usize> = (0..args.batch_size).map(|_| rng.random_range(0..inputs.nrows())).collect();
        let feeds = [(&input_ph, batch(&inputs, &idx)), (&output_ph, batch(&outputs, &idx))];
        let r = sess.run(&[&opt, &mse], &feeds)?;
        if step % 1000 == 0 {
            let line = format!("{step:04} mse: {:.3}", r[1].scalar_f32()?);
            println!("{line}");
            log.push(line);
            checkpoint = saver.save(&sess, &prefix, Some(step as u64))?;
        }
    }

    // the notebook restores from `tmp/model.ckpt`, a path it never saved to
    let wrong = args.out.join("model.ckpt");
    let g2 = Graph::new();
    let (input_ph, output_ph, output_pred) = create_model(&g2)?;
    let mse2 = reduce_mean(&(0.5 * square(&(&output_pred - &output_ph))?), Axes::All, false)?;
    let mut sess2 = session(&g2, args);
    let saver2 = Saver::new(&g2);
    if let Err(e) = saver2.restore(&mut sess2, &wrong) {
        println!("restore from the notebook's path fails as it should:\n  {e}");
    }
    let latest = kiln::latest_checkpoint(args.out.join("model")).unwrap_or(checkpoint.clone());
    saver2.restore(&mut sess2, &latest)?;
    println!("restored {}", latest.display());
    // the notebook's "mse" is mean(0.5 * error^2); the final figure uses the same loss
    let r = sess2
        .run(&[&output_pred, &mse2], &[(&input_ph, inputs.clone().into()), (&output_ph, outputs.clone().into())])?;
    let final_mse = r[1].scalar_f32()?;
    let pred = r[0].as_f32()?.clone();
    println!("final mse: {final_mse:.4}");
    plot(&args.out.join("sine_fit.png"), &inputs, &outputs, &pred)?;
    Ok(Report { log, final_mse, checkpoint })
}

/// Data in black, predictions in red, on axes with ticks and a legend, as in the
/// notebook's figure (the font is embedded: DejaVu Sans, from the `dejavu` crate).
fn plot(path: &std::path::Path, x: &Array2<f32>, y: &Array2<f32>, pred: &ndarray::ArrayD<f32>) -> kiln::Result<()> {
    use plotters::prelude::*;
    let fail = |e: String| kiln::Error::CheckpointIo {
        path: path.display().to_string(),
        action: "write",
        message: e,
        loc: kiln::ir::Loc::caller(),
    };
    // registering twice (a second run in one process) is harmless
    let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let two_pi = 2.0 * std::f32::consts::PI;
    let mut chart = ChartBuilder::on(&root)
        .margin(20)
        .caption("sin(x) + noise, and the fitted network", ("sans-serif", 20))
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(-two_pi..two_pi, -1.5f32..1.5f32)
        .map_err(|e| fail(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("input")
        .y_desc("output")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    let pts = |ys: Vec<f32>, color: RGBColor| {
        x.iter().copied().zip(ys).map(move |(a, b)| Circle::new((a, b), 1, color.filled())).collect::<Vec<_>>()
    };
    chart
        .draw_series(pts(y.iter().copied().collect(), BLACK))
        .map_err(|e| fail(e.to_string()))?
        .label("data")
        .legend(|(x, y)| Circle::new((x, y), 3, BLACK.filled()));
    chart
        .draw_series(pts(pred.iter().copied().collect(), RED))
        .map_err(|e| fail(e.to_string()))?
        .label("prediction")
        .legend(|(x, y)| Circle::new((x, y), 3, RED.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    root.present().map_err(|e| fail(e.to_string()))?;
    println!("wrote {}", path.display());
    Ok(())
}

#[allow(dead_code)] // unused when the tests include this file as a module
fn main() -> kiln::Result<()> {
    run(&Args::parse()).map(|_| ())
}
