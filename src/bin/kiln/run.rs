//! `kiln run`: a model on `.npy` inputs, fetches written as `.npy` files.

use crate::common::{check_shape, fetches, lib_error, load, CliError};
use kiln::ir::DType;
use kiln::{Backend, Saver, Session, SessionOptions, TensorValue};
use ndarray::ArrayD;
use ndarray_npy::{read_npy, write_npy, ReadNpyError};
use std::path::{Path, PathBuf};

/// Which backend runs the model.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendArg {
    /// The Cranelift JIT (default).
    Jit,
    /// The reference interpreter.
    Interp,
}

/// `kiln run` flags.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// The model, as IR text.
    pub model: String,
    /// A placeholder's value: `NAME=FILE.npy`; repeat per placeholder.
    #[arg(long, value_name = "NAME=FILE.npy")]
    pub feed: Vec<String>,
    /// Ops to compute, comma-separated (default: every op nothing else uses, except
    /// variable initializers).
    #[arg(long, value_delimiter = ',')]
    pub fetch: Vec<String>,
    /// Where the fetched values go, one `.npy` per fetch under its op name.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// jit or interp.
    #[arg(long, value_enum, default_value_t = BackendArg::Jit)]
    pub backend: BackendArg,
    /// Run the interpreter beside the JIT and stop at the first kernel whose result
    /// differs (exit code 1).
    #[arg(long)]
    pub check: bool,
    /// Load the variables from this checkpoint instead of running their initializers.
    #[arg(long, value_name = "CKPT")]
    pub restore: Option<PathBuf>,
    /// Run the fetches this many times (training steps); the last run's values are
    /// written.
    #[arg(long, default_value_t = 1)]
    pub steps: usize,
}

/// The dtype an `.npy` descriptor names, for messages.
fn descr_name(d: &str) -> &str {
    match d.trim_matches(|c| c == '\'' || c == '"') {
        "<f4" => "f32",
        "<f8" => "f64",
        "<i4" => "i32",
        "<i8" => "i64",
        "|b1" => "bool",
        other => other,
    }
}

/// Reads `path` as the placeholder's dtype.
fn read_feed(name: &str, path: &Path, dtype: DType) -> Result<TensorValue, CliError> {
    fn read<T: ndarray_npy::ReadableElement>(p: &Path) -> Result<ArrayD<T>, ReadNpyError> {
        read_npy(p)
    }
    let r = match dtype {
        DType::F32 => read::<f32>(path).map(TensorValue::F32),
        DType::F64 => read::<f64>(path).map(TensorValue::F64),
        DType::I32 => read::<i32>(path).map(TensorValue::I32),
        DType::I64 => read::<i64>(path).map(TensorValue::I64),
        DType::Bool => read::<bool>(path).map(TensorValue::Bool),
        DType::U8 => read::<u8>(path).map(TensorValue::U8),
        DType::I8 => read::<i8>(path).map(TensorValue::I8),
        DType::U16 => read::<u16>(path).map(TensorValue::U16),
        DType::I16 => read::<i16>(path).map(TensorValue::I16),
    };
    r.map_err(|e| {
        let why = match &e {
            ReadNpyError::WrongDescriptor(d) => {
                format!("holds {} data, but placeholder '{name}' is {dtype}", descr_name(&d.to_string()))
            }
            ReadNpyError::Io(io) => io.to_string(),
            other => format!("not a valid .npy file: {other}"),
        };
        CliError::input(format!("--feed {name}: {}: {why}", path.display()))
    })
}

fn write_value(path: &Path, v: &TensorValue) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let r = match v {
        TensorValue::F32(a) => write_npy(path, a),
        TensorValue::F64(a) => write_npy(path, a),
        TensorValue::I32(a) => write_npy(path, a),
        TensorValue::I64(a) => write_npy(path, a),
        TensorValue::Bool(a) => write_npy(path, a),
        TensorValue::U8(a) => write_npy(path, a),
        TensorValue::I8(a) => write_npy(path, a),
        TensorValue::U16(a) => write_npy(path, a),
        TensorValue::I16(a) => write_npy(path, a),
        TensorValue::Unit => return Ok(()),
    };
    r.map_err(|e| e.to_string())
}

/// `kiln run`.
pub fn run(a: &RunArgs) -> Result<(), CliError> {
    let g = load(&a.model)?;
    let fetched = fetches(&g, &a.fetch)?;
    let m = g.module().clone();
    let mut feeds = Vec::new();
    for f in &a.feed {
        let (name, file) =
            f.split_once('=').ok_or_else(|| CliError::input(format!("--feed {f:?}: expected NAME=FILE.npy")))?;
        let t = g.get_tensor_by_name(name).map_err(lib_error)?;
        let v = t.value().map_err(lib_error)?;
        let dtype = m.ty(v).map_or(DType::F32, |t| t.dtype);
        let value = read_feed(name, Path::new(file), dtype)?;
        check_shape(&m, v, value.shape(), &format!("--feed {name}"))?;
        feeds.push((t, value));
    }
    let backend = match a.backend {
        BackendArg::Jit => Backend::Jit,
        BackendArg::Interp => Backend::Interpreter,
    };
    let opts = SessionOptions { backend, check: a.check, ..SessionOptions::default() };
    let mut sess = Session::with_options(&g, opts);
    let vars = g.global_variables();
    match &a.restore {
        Some(ckpt) => Saver::new(&g).restore(&mut sess, ckpt).map_err(lib_error)?,
        None if !vars.is_empty() => {
            // the initializers are seeded ops in the model: the same values as the
            // program that saved it
            let init = g.global_variables_initializer().map_err(lib_error)?;
            sess.run1(&init, &[]).map_err(lib_error)?;
            eprintln!("initialized {} variable(s) from the model's initializers", vars.len());
        }
        None => {}
    }
    let fetch_refs: Vec<&kiln::Tensor> = fetched.iter().collect();
    let feed_refs: Vec<(&kiln::Tensor, TensorValue)> = feeds.iter().map(|(t, v)| (t, v.clone())).collect();
    let mut values = Vec::new();
    for _ in 0..a.steps.max(1) {
        values = sess.run(&fetch_refs, &feed_refs).map_err(|e| {
            let mut err = lib_error(&e);
            if matches!(e, kiln::Error::CheckFailed { .. }) {
                err.code = 1;
            }
            err
        })?;
    }
    if a.check {
        eprintln!("check: every kernel agrees with the interpreter");
    }
    for (t, v) in fetched.iter().zip(&values) {
        let name = t.value().map(|id| m.op(id).name.clone()).unwrap_or_else(|_| t.name());
        if matches!(v, TensorValue::Unit) {
            println!("{name}: (no value)");
            continue;
        }
        match &a.out {
            Some(dir) => {
                let path = out_path(dir, &name);
                write_value(&path, v).map_err(|e| CliError::input(format!("--out: {}: {e}", path.display())))?;
                println!(
                    "{name}: {} {:?} -> {}",
                    v.dtype().map_or("unit".to_string(), |d| d.to_string()),
                    v.shape(),
                    path.display()
                );
            }
            None => println!("{name} = {v}"),
        }
    }
    Ok(())
}

/// `DIR/<op name>.npy`, scopes as subdirectories. Op names may hold `.` and `/`, so a
/// `..` or `.` component is renamed `_`: a model cannot write outside `DIR`.
fn out_path(dir: &Path, name: &str) -> PathBuf {
    let mut path = dir.to_path_buf();
    let parts: Vec<&str> = name.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        let safe = if part.is_empty() || part.chars().all(|c| c == '.') { "_" } else { part };
        if i + 1 == parts.len() {
            path.push(format!("{safe}.npy"));
        } else {
            path.push(safe);
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::out_path;
    use std::path::Path;

    #[test]
    fn outputs_stay_inside_the_directory() {
        let d = Path::new("out");
        assert_eq!(out_path(d, "layer_2/add"), Path::new("out/layer_2/add.npy"));
        assert_eq!(out_path(d, "../../etc/x"), Path::new("out/_/_/etc/x.npy"));
        assert_eq!(out_path(d, "a//.."), Path::new("out/a/_/_.npy"));
    }
}
