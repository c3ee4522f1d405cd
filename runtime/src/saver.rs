//! `Saver`: checkpoints as safetensors files, written atomically, restored all or nothing.
//!
//! A checkpoint is one `.safetensors` file holding every variable under its TF name
//! (`layer_0/W0`, `layer_0/W0/Adam`), readable by `safetensors.numpy.load_file`. The
//! header metadata carries a CRC-32 per tensor, so a flipped bit is caught on restore.
//! Saving writes a temporary file, fsyncs it and renames it over the target, so a crash
//! or an I/O error mid-save leaves the previous checkpoint intact. A text `checkpoint`
//! file beside it names the latest one, as TF's does. A save replaces that index (the
//! same way) before it prunes old checkpoints, so whenever a process dies the index
//! names only complete files that exist; temporary files a dead process left behind
//! are removed by the next save to the directory. A restore refuses a file whose
//! tensors lack their checksums unless [`Saver::allow_missing_checksums`] says so
//! (safetensors written by another tool carry none).

use crate::{Error, Result, Session, TensorValue};
use kiln_frontend::{Graph, Tensor};
use kiln_ir::{DType, Loc};
use safetensors::{Dtype, SafeTensors};
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};

const EXT: &str = "safetensors";

/// Saves and restores a set of variables (TF `train.Saver`).
pub struct Saver {
    vars: Vec<String>,
    max_to_keep: usize,
    kept: VecDeque<PathBuf>,
    /// The directories whose index this saver has read back into `kept`.
    recovered: Vec<PathBuf>,
    allow_unchecked: bool,
    fail_after: Option<usize>,
}

impl Saver {
    /// A saver of every variable the graph has now, optimizer slots included.
    pub fn new(graph: &Graph) -> Saver {
        let vars = graph.module().vars.iter().map(|v| v.name.clone()).collect();
        Saver::of(vars)
    }

    fn of(vars: Vec<String>) -> Saver {
        Saver {
            vars,
            max_to_keep: 5,
            kept: VecDeque::new(),
            recovered: Vec::new(),
            allow_unchecked: false,
            fail_after: None,
        }
    }

    /// A saver of the given variables only.
    #[track_caller]
    pub fn with_vars(vars: &[&Tensor]) -> Result<Saver> {
        let loc = Loc::caller();
        let names = vars
            .iter()
            .map(|v| {
                v.value()?;
                v.var_name().ok_or_else(|| Error::NotAPlaceholder { tensor: v.name(), loc: loc.clone() })
            })
            .collect::<Result<_>>()?;
        Ok(Saver::of(names))
    }

    /// Restore safetensors files that carry no checksums (written by NumPy, PyTorch or
    /// by hand), which are otherwise refused: without them a changed byte goes unseen.
    pub fn allow_missing_checksums(mut self, allow: bool) -> Saver {
        self.allow_unchecked = allow;
        self
    }

    /// How many of its checkpoints this saver keeps (TF default 5; 0 keeps all).
    pub fn max_to_keep(mut self, n: usize) -> Saver {
        self.max_to_keep = n;
        self
    }

    /// The names of the variables saved.
    pub fn var_names(&self) -> &[String] {
        &self.vars
    }

    /// Test hook: make every following save fail with an I/O error after writing this
    /// many bytes of the temporary file (`None` switches it off).
    #[doc(hidden)]
    pub fn fail_writes_after(&mut self, bytes: Option<usize>) {
        self.fail_after = bytes;
    }

    /// Writes `prefix-STEP.safetensors` (or `prefix.safetensors`) and updates the
    /// `checkpoint` file beside it. Returns the checkpoint's path.
    #[track_caller]
    pub fn save(&mut self, sess: &Session, prefix: impl AsRef<Path>, global_step: Option<u64>) -> Result<PathBuf> {
        let loc = Loc::caller();
        let prefix = prefix.as_ref();
        let path = match global_step {
            Some(s) => PathBuf::from(format!("{}-{s}.{EXT}", prefix.display())),
            None => PathBuf::from(format!("{}.{EXT}", prefix.display())),
        };
        let bytes = self.serialize(sess, &path, &loc)?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
        let io = |e: std::io::Error, p: &Path| Error::CheckpointIo {
            path: p.display().to_string(),
            action: "write",
            message: e.to_string(),
            loc: loc.clone(),
        };
        std::fs::create_dir_all(&dir).map_err(|e| io(e, &dir))?;
        remove_stale_temporaries(&dir);
        if !self.recovered.contains(&dir) {
            // go on pruning what an earlier saver (another run of the program) kept
            self.recovered.push(dir.clone());
            for p in listed_checkpoints(&dir) {
                if !self.kept.contains(&p) {
                    self.kept.push_back(p);
                }
            }
        }
        // 1. the new checkpoint, complete on disk before anything names it
        atomic_write(&path, &bytes, self.fail_after).map_err(|e| io(e, &path))?;
        let mut kept = self.kept.clone();
        kept.retain(|p| *p != path);
        kept.push_back(path.clone());
        let mut pruned = Vec::new();
        while self.max_to_keep > 0 && kept.len() > self.max_to_keep {
            pruned.extend(kept.pop_front());
        }
        // 2. the index, naming only files that exist
        let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut index = format!("model_checkpoint_path: {:?}\n", name(&path));
        for p in &kept {
            index.push_str(&format!("all_model_checkpoint_paths: {:?}\n", name(p)));
        }
        let index_path = dir.join("checkpoint");
        atomic_write(&index_path, index.as_bytes(), None).map_err(|e| io(e, &index_path))?;
        self.kept = kept;
        // 3. only now the files nothing names any more (best effort, as TF)
        for old in pruned {
            let _ = std::fs::remove_file(old);
        }
        Ok(path)
    }

    fn serialize(&self, sess: &Session, path: &Path, loc: &Loc) -> Result<Vec<u8>> {
        let mut buffers: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        for name in &self.vars {
            let v = sess.variable_by_name(name).ok_or_else(|| Error::Uninitialized {
                var: name.clone(),
                fetch: "Saver::save".into(),
                loc: loc.clone(),
            })?;
            let (dtype, bytes) = to_bytes(v);
            buffers.push((name.clone(), dtype, v.shape().to_vec(), bytes));
        }
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), "kiln-checkpoint-1".to_string());
        for (name, _, _, bytes) in &buffers {
            meta.insert(format!("crc32/{name}"), format!("{:08x}", crc32fast::hash(bytes)));
        }
        let views = buffers
            .iter()
            .map(|(n, d, s, b)| safetensors::tensor::TensorView::new(*d, s.clone(), b).map(|v| (n.clone(), v)))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::CheckpointCorrupt {
                path: path.display().to_string(),
                message: e.to_string(),
                loc: loc.clone(),
            })?;
        safetensors::serialize(views, Some(meta)).map_err(|e| Error::CheckpointCorrupt {
            path: path.display().to_string(),
            message: e.to_string(),
            loc: loc.clone(),
        })
    }

    /// Restores every variable of this saver from `path` (with or without the
    /// `.safetensors` extension). Every variable is checked for presence, dtype, shape
    /// and checksum before any is changed: on error the session is untouched.
    #[track_caller]
    pub fn restore(&self, sess: &mut Session, path: impl AsRef<Path>) -> Result<()> {
        let loc = Loc::caller();
        let given = path.as_ref();
        let file = if given.exists() || given.extension().is_some_and(|e| e == EXT) {
            given.to_path_buf()
        } else {
            PathBuf::from(format!("{}.{EXT}", given.display()))
        };
        let shown = file.display().to_string();
        let bytes = std::fs::read(&file).map_err(|e| Error::CheckpointIo {
            path: if file == given { shown.clone() } else { format!("{} (nor {shown})", given.display()) },
            action: "read",
            message: e.to_string(),
            loc: loc.clone(),
        })?;
        let corrupt = |message: String| Error::CheckpointCorrupt { path: shown.clone(), message, loc: loc.clone() };
        let invalid = |e: safetensors::SafeTensorError| corrupt(format!("not a complete safetensors file ({e:?})"));
        let (header, meta) = SafeTensors::read_metadata(&bytes).map_err(invalid)?;
        let data_len = bytes.len().saturating_sub(8).saturating_sub(header);
        let st = SafeTensors::deserialize(&bytes).map_err(|e| match bad_tensor(&meta, data_len) {
            // name the tensor whose entry does not fit the file
            Some(why) => corrupt(why),
            None => invalid(e),
        })?;
        let sums = meta.metadata().clone().unwrap_or_default();
        // the whole file must be intact, not only the tensors this saver loads
        let mut all = st.tensors();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, t) in &all {
            match sums.get(&format!("crc32/{name}")) {
                Some(sum) => {
                    let got = format!("{:08x}", crc32fast::hash(t.data()));
                    if *sum != got {
                        return Err(corrupt(format!("tensor '{name}' fails its checksum ({got}, expected {sum})")));
                    }
                }
                None if !self.allow_unchecked => {
                    let by =
                        if sums.contains_key("format") { "its kiln header lost it" } else { "not written by kiln?" };
                    return Err(corrupt(format!(
                        "tensor '{name}' has no checksum ({by}); Saver::allow_missing_checksums(true) restores it unchecked"
                    )));
                }
                None => {}
            }
        }
        let graph = sess.graph().clone();
        let mut staged = Vec::new();
        for name in &self.vars {
            let ty = {
                let m = graph.module();
                let id = m.var_by_name(name).ok_or_else(|| Error::CheckpointMissing {
                    path: format!("{shown} (the session's graph)"),
                    var: name.clone(),
                    loc: loc.clone(),
                })?;
                m.var(id).ty.clone()
            };
            let t = st.tensor(name).map_err(|_| Error::CheckpointMissing {
                path: shown.clone(),
                var: name.clone(),
                loc: loc.clone(),
            })?;
            let dtype = from_dtype(t.dtype());
            let want_shape = ty.shape.as_fixed().unwrap_or_default();
            if dtype != Some(ty.dtype) || t.shape() != want_shape.as_slice() {
                return Err(Error::CheckpointMismatch {
                    path: shown.clone(),
                    var: name.clone(),
                    expected: ty.to_string(),
                    found: match dtype {
                        Some(d) => kiln_ir::Type::new(d, kiln_ir::Shape::fixed(t.shape())).to_string(),
                        None => format!("{:?}{:?}", t.dtype(), t.shape()),
                    },
                    loc,
                });
            }
            let value = from_bytes(ty.dtype, t.shape(), t.data())
                .ok_or_else(|| corrupt(format!("variable '{name}' has bad data")))?;
            staged.push((name.clone(), value));
        }
        for (name, value) in staged {
            sess.set_variable_by_name(&name, value)?;
        }
        Ok(())
    }
}

/// The checkpoint the `checkpoint` file in `dir` names as latest (TF
/// `train.latest_checkpoint`), if there is one.
pub fn latest_checkpoint(dir: impl AsRef<Path>) -> Option<PathBuf> {
    let dir = dir.as_ref();
    let text = std::fs::read_to_string(dir.join("checkpoint")).ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix("model_checkpoint_path: "))?;
    let name = line.trim().trim_matches('"');
    Some(dir.join(name))
}

/// The checkpoints the `checkpoint` index in `dir` lists, oldest first.
fn listed_checkpoints(dir: &Path) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(dir.join("checkpoint")) else { return Vec::new() };
    text.lines()
        .filter_map(|l| l.strip_prefix("all_model_checkpoint_paths: "))
        .map(|n| dir.join(n.trim().trim_matches('"')))
        .collect()
}

/// Removes the temporary files (`.NAME.tmp-PID`) that processes no longer running left
/// in `dir` when they died mid-write.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix('.').and_then(|n| n.rsplit_once(".tmp-")).map(|(_, pid)| pid.to_string())
        else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if pid != std::process::id() && !process_alive(pid) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Whether a process is running; where that cannot be told, assume it is (its
/// temporary file stays).
fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

/// Which tensor entry of a header does not fit its size or the `body` bytes of data
/// after the header, if one does not.
fn bad_tensor(meta: &safetensors::tensor::Metadata, body: usize) -> Option<String> {
    let mut infos: Vec<(String, &safetensors::tensor::TensorInfo)> = meta.tensors().into_iter().collect();
    infos.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, info) in infos {
        let (start, end) = info.data_offsets;
        let elems = info.shape.iter().try_fold(1usize, |p, &d| p.checked_mul(d));
        let need = elems.and_then(|n| n.checked_mul(info.dtype.bitsize()).map(|b| b.div_ceil(8)));
        if start > end || end > body || need != Some(end - start) {
            return Some(format!(
                "tensor '{name}' ({:?}{:?}) has data offsets {start}..{end}, which do not fit its size or the file",
                info.dtype, info.shape
            ));
        }
    }
    None
}

/// Writes `bytes` to a temporary file beside `path`, fsyncs it and renames it over
/// `path`; the directory is synced too, so the rename survives a crash.
fn atomic_write(path: &Path, bytes: &[u8], fail_after: Option<usize>) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        match fail_after {
            Some(n) if n < bytes.len() => {
                f.write_all(&bytes[..n])?;
                return Err(std::io::Error::other("injected write failure"));
            }
            _ => f.write_all(bytes)?,
        }
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            // not every platform can sync a directory; the rename itself is atomic
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn to_bytes(v: &TensorValue) -> (Dtype, Vec<u8>) {
    fn le<T: Copy, const N: usize>(a: &ndarray::ArrayD<T>, f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
        a.iter().flat_map(|&x| f(x)).collect()
    }
    match v {
        TensorValue::F32(a) => (Dtype::F32, le(a, f32::to_le_bytes)),
        TensorValue::F64(a) => (Dtype::F64, le(a, f64::to_le_bytes)),
        TensorValue::I32(a) => (Dtype::I32, le(a, i32::to_le_bytes)),
        TensorValue::I64(a) => (Dtype::I64, le(a, i64::to_le_bytes)),
        TensorValue::Bool(a) => (Dtype::BOOL, le(a, |b| [b as u8])),
        TensorValue::U8(a) => (Dtype::U8, le(a, u8::to_le_bytes)),
        TensorValue::I8(a) => (Dtype::I8, le(a, i8::to_le_bytes)),
        TensorValue::U16(a) => (Dtype::U16, le(a, u16::to_le_bytes)),
        TensorValue::I16(a) => (Dtype::I16, le(a, i16::to_le_bytes)),
        TensorValue::Unit => (Dtype::U8, Vec::new()),
    }
}

fn from_dtype(d: Dtype) -> Option<DType> {
    Some(match d {
        Dtype::F32 => DType::F32,
        Dtype::F64 => DType::F64,
        Dtype::I32 => DType::I32,
        Dtype::I64 => DType::I64,
        Dtype::BOOL => DType::Bool,
        Dtype::U8 => DType::U8,
        Dtype::I8 => DType::I8,
        Dtype::U16 => DType::U16,
        Dtype::I16 => DType::I16,
        _ => return None,
    })
}

fn from_bytes(dtype: DType, shape: &[usize], data: &[u8]) -> Option<TensorValue> {
    fn read<T, const N: usize>(shape: &[usize], data: &[u8], f: impl Fn([u8; N]) -> T) -> Option<ndarray::ArrayD<T>> {
        let v: Vec<T> = data.chunks_exact(N).map(|c| f(c.try_into().expect("chunks of N"))).collect();
        ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(shape), v).ok()
    }
    Some(match dtype {
        DType::F32 => TensorValue::F32(read(shape, data, f32::from_le_bytes)?),
        DType::F64 => TensorValue::F64(read(shape, data, f64::from_le_bytes)?),
        DType::I32 => TensorValue::I32(read(shape, data, i32::from_le_bytes)?),
        DType::I64 => TensorValue::I64(read(shape, data, i64::from_le_bytes)?),
        DType::Bool => TensorValue::Bool(read(shape, data, |b: [u8; 1]| b[0] != 0)?),
        DType::U8 => TensorValue::U8(read(shape, data, u8::from_le_bytes)?),
        DType::I8 => TensorValue::I8(read(shape, data, i8::from_le_bytes)?),
        DType::U16 => TensorValue::U16(read(shape, data, u16::from_le_bytes)?),
        DType::I16 => TensorValue::I16(read(shape, data, i16::from_le_bytes)?),
    })
}
