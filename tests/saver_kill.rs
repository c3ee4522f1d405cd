//! Checkpoints survive a process killed at any moment of a save loop. This binary runs
//! itself as the child (`--child DIR KEEP`), which saves a small model in a loop;
//! the parent kills it after a random delay, hundreds of times, and checks after each
//! kill that
//! - `latest_checkpoint()` names a complete file that restores,
//! - every file the `checkpoint` index lists exists and restores,
//! - temporary files left by a killed save are cleaned by the next save (a short save
//!   loop that is not killed leaves none behind).
//!
//! It has its own `main` (no test harness) and prints a libtest-style result line.

use kiln::train::{AdamOptimizer, Optimizer, Saver};
use kiln::{DType, Graph, Initializer, Session};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A model with Adam slots (several tensors per file), initialized and stepped.
fn model() -> (Graph, Session, kiln::Tensor) {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None, Some(8)], "x").unwrap();
    let w = g.get_variable("dense/W", &[8, 64], DType::F32, None).unwrap();
    let b = g.get_variable("dense/b", &[64], DType::F32, Initializer::Zeros).unwrap();
    let y = kiln::matmul(&x, &w).unwrap() + &b;
    let loss = kiln::reduce_mean(&kiln::square(&y).unwrap(), kiln::Axes::All, false).unwrap();
    let train = AdamOptimizer::new(0.01).minimize(&loss, None).unwrap();
    let mut sess = Session::new(&g);
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    (g, sess, train)
}

fn child(dir: &Path, keep: usize) -> ! {
    let (g, mut sess, _) = model();
    let mut saver = Saver::new(&g).max_to_keep(keep);
    // continue numbering after what an earlier child saved
    let mut step = kiln::latest_checkpoint(dir)
        .and_then(|p| p.file_stem()?.to_str()?.rsplit('-').next()?.parse::<u64>().ok())
        .map_or(0, |s| s + 1);
    let limit: Option<u64> = std::env::var("KILN_SAVE_STEPS").ok().and_then(|s| s.parse().ok());
    loop {
        sess.set_variable_by_name("dense/b", ndarray::Array1::from_elem(64, step as f32).into_dyn().into()).unwrap();
        saver.save(&sess, dir.join("ckpt"), Some(step)).unwrap();
        step += 1;
        if limit.is_some_and(|l| step >= l) {
            std::process::exit(0);
        }
    }
}

/// Restores `path` into a fresh session: the file is complete and consistent.
fn restores(path: &Path) -> Result<(), String> {
    let (g, mut sess, _) = model();
    Saver::new(&g).restore(&mut sess, path).map_err(|e| e.to_string())
}

fn listed(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(dir.join("checkpoint")).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("all_model_checkpoint_paths: "))
        .map(|n| dir.join(n.trim().trim_matches('"')))
        .collect()
}

fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.') && n.contains(".tmp-"))
                .collect()
        })
        .unwrap_or_default()
}

fn spawn(dir: &Path, keep: usize, steps: Option<u64>) -> std::process::Child {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.arg("--child").arg(dir).arg(keep.to_string()).stdout(Stdio::null()).stderr(Stdio::null());
    if let Some(s) = steps {
        c.env("KILN_SAVE_STEPS", s.to_string());
    }
    c.spawn().unwrap()
}

/// One trial: kill a saving child at a random moment, then check the directory.
fn trial(dir: &Path, keep: usize, rng: &mut rand::rngs::StdRng) -> Result<(), String> {
    let mut c = spawn(dir, keep, None);
    std::thread::sleep(Duration::from_micros(rng.random_range(2_000..40_000)));
    c.kill().unwrap();
    c.wait().unwrap();
    let Some(latest) = kiln::latest_checkpoint(dir) else {
        // the child may not have finished a first save; then nothing may be listed
        return if listed(dir).is_empty() { Ok(()) } else { Err("files listed but no latest".into()) };
    };
    restores(&latest).map_err(|e| format!("latest {}: {e}", latest.display()))?;
    for p in listed(dir) {
        restores(&p).map_err(|e| format!("listed {}: {e}", p.display()))?;
    }
    if keep > 0 && listed(dir).len() > keep {
        return Err(format!("{} files listed with max_to_keep={keep}", listed(dir).len()));
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        child(Path::new(&args[2]), args[3].parse().unwrap());
    }
    if args.iter().any(|a| a == "--list") {
        println!("kill_mid_save: test");
        return;
    }
    let trials: usize = std::env::var("KILN_KILL_TRIALS").ok().and_then(|s| s.parse().ok()).unwrap_or(150);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let (mut passed, mut failed) = (0, 0);
    for keep in [1usize, 3] {
        let dir = PathBuf::from(format!("target/kiln-test/saver_kill/keep{keep}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut first_error = None;
        for _ in 0..trials {
            if let Err(e) = trial(&dir, keep, &mut rng) {
                first_error.get_or_insert(e);
            }
        }
        // a save loop that runs to completion cleans what killed saves left behind
        let mut c = spawn(&dir, keep, Some(3));
        let status = c.wait().unwrap();
        let left = temporaries(&dir);
        let ok = first_error.is_none() && status.success() && left.is_empty();
        println!("test kill_mid_save_keep{keep} ({trials} kills) ... {}", if ok { "ok" } else { "FAILED" });
        if let Some(e) = first_error {
            println!("  first failure: {e}");
        }
        if !left.is_empty() {
            println!("  temporary files left: {left:?}");
        }
        if ok {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 filtered out",
        if failed == 0 { "ok" } else { "FAILED" }
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
