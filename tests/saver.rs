//! Checkpoints: round trip, every restore error (as snapshots), all-or-nothing restore,
//! and saves that fail midway leaving the previous checkpoint intact.

use kiln::train::{AdamOptimizer, Optimizer, Saver};
use kiln::{DType, Graph, Initializer, Session, TensorValue};
use std::path::{Path, PathBuf};

/// A fresh directory under `target/`, relative so messages are the same on every machine.
fn dir(name: &str) -> PathBuf {
    let d = Path::new("target/kiln-test/saver").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A small model with an Adam train op, initialized and stepped once.
fn trained() -> (Graph, Session) {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None, Some(2)], "x").unwrap();
    let w = g.get_variable("dense/W", &[2, 3], DType::F32, None).unwrap();
    let b = g.get_variable("dense/b", &[3], DType::F32, Initializer::Zeros).unwrap();
    let y = kiln::matmul(&x, &w).unwrap() + &b;
    let loss = kiln::reduce_mean(&kiln::square(&y).unwrap(), kiln::Axes::All, false).unwrap();
    let train = AdamOptimizer::new(0.1).minimize(&loss, None).unwrap();
    let mut sess = Session::new(&g);
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    sess.run1(&train, &[(&x, [[1.0f32, 2.0], [3.0, -1.0]].into())]).unwrap();
    (g, sess)
}

fn model_only(w_shape: &[usize], w_dtype: DType) -> (Graph, Session) {
    let g = Graph::new();
    g.get_variable("dense/W", w_shape, w_dtype, Initializer::Ones).unwrap();
    g.get_variable("dense/b", &[3], DType::F32, Initializer::Ones).unwrap();
    let mut sess = Session::new(&g);
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    (g, sess)
}

fn values(sess: &Session, names: &[&str]) -> Vec<TensorValue> {
    names.iter().map(|n| sess.variable_by_name(n).unwrap().clone()).collect()
}

#[test]
fn round_trip_with_slots() {
    let d = dir("round_trip");
    let (g, sess) = trained();
    let mut saver = Saver::new(&g);
    let path = saver.save(&sess, d.join("ckpt"), Some(7)).unwrap();
    assert_eq!(path, d.join("ckpt-7.safetensors"));
    assert_eq!(kiln::latest_checkpoint(&d), Some(path.clone()));
    let names = ["dense/W", "dense/b", "dense/W/Adam", "dense/W/Adam_1", "beta1_power", "beta2_power"];
    // a second graph with the same training setup restores everything
    let (g2, mut sess2) = trained();
    Saver::new(&g2).restore(&mut sess2, &path).unwrap();
    assert_eq!(values(&sess2, &names), values(&sess, &names));
    // a prediction-only graph restores its subset, by prefix without the extension
    let (g3, mut sess3) = model_only(&[2, 3], DType::F32);
    Saver::new(&g3).restore(&mut sess3, d.join("ckpt-7")).unwrap();
    assert_eq!(values(&sess3, &names[..2]), values(&sess, &names[..2]));
}

#[test]
fn max_to_keep_and_checkpoint_file() {
    let d = dir("keep");
    let (g, sess) = trained();
    let mut saver = Saver::new(&g).max_to_keep(2);
    for step in [0, 1000, 2000] {
        saver.save(&sess, d.join("ckpt"), Some(step)).unwrap();
    }
    assert!(!d.join("ckpt-0.safetensors").exists());
    assert!(d.join("ckpt-1000.safetensors").exists() && d.join("ckpt-2000.safetensors").exists());
    let index = std::fs::read_to_string(d.join("checkpoint")).unwrap();
    assert_eq!(
        index,
        "model_checkpoint_path: \"ckpt-2000.safetensors\"\nall_model_checkpoint_paths: \"ckpt-1000.safetensors\"\nall_model_checkpoint_paths: \"ckpt-2000.safetensors\"\n"
    );
    assert_eq!(kiln::latest_checkpoint(&d), Some(d.join("ckpt-2000.safetensors")));
    assert_eq!(kiln::latest_checkpoint(d.join("nowhere")), None);
}

/// Restores into a prediction graph and asserts the failure changed nothing.
fn restore_err(path: &Path, w_shape: &[usize], w_dtype: DType) -> String {
    let (g, mut sess) = model_only(w_shape, w_dtype);
    let before = values(&sess, &["dense/W", "dense/b"]);
    let e = Saver::new(&g).restore(&mut sess, path).unwrap_err();
    assert_eq!(values(&sess, &["dense/W", "dense/b"]), before, "a failed restore must not load anything");
    e.to_string()
}

fn saved(name: &str) -> PathBuf {
    let d = dir(name);
    let (g, sess) = trained();
    Saver::new(&g).save(&sess, d.join("ckpt"), None).unwrap()
}

#[test]
fn restore_errors() {
    let mut msgs = Vec::new();
    msgs.push(restore_err(Path::new("target/kiln-test/saver/missing/model.ckpt"), &[2, 3], DType::F32));
    let p = saved("errors");
    msgs.push(restore_err(&p, &[3, 3], DType::F32));
    msgs.push(restore_err(&p, &[2, 3], DType::F64));
    // a variable the file lacks: a graph with one more variable
    let g = Graph::new();
    g.get_variable("dense/W", &[2, 3], DType::F32, None).unwrap();
    g.get_variable("dense/extra", &[1], DType::F32, None).unwrap();
    let mut sess = Session::new(&g);
    msgs.push(Saver::new(&g).restore(&mut sess, &p).unwrap_err().to_string());
    // truncated, bit-flipped, and not safetensors at all
    let bytes = std::fs::read(&p).unwrap();
    let d = p.parent().unwrap();
    let truncated = d.join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() - 5]).unwrap();
    msgs.push(restore_err(&truncated, &[2, 3], DType::F32));
    let flipped = d.join("flipped.safetensors");
    let mut f = bytes.clone();
    let n = f.len();
    f[n - 3] ^= 0x10; // a bit in the last tensor's data
    std::fs::write(&flipped, &f).unwrap();
    msgs.push(restore_err(&flipped, &[2, 3], DType::F32));
    let garbage = d.join("garbage.safetensors");
    std::fs::write(&garbage, b"this is not a checkpoint").unwrap();
    msgs.push(restore_err(&garbage, &[2, 3], DType::F32));
    insta::assert_snapshot!("restore_errors", msgs.join("\n"));
}

#[test]
fn bit_flips_anywhere_are_caught() {
    let p = saved("flips");
    let bytes = std::fs::read(&p).unwrap();
    let d = p.parent().unwrap().join("f.safetensors");
    // every bit of the data section, and a sample of the header
    let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let positions: Vec<usize> = (header..bytes.len()).chain((0..header).step_by(7)).collect();
    for pos in positions {
        for bit in [0u8, 3, 7] {
            let mut f = bytes.clone();
            f[pos] ^= 1 << bit;
            std::fs::write(&d, &f).unwrap();
            let (g, mut sess) = model_only(&[2, 3], DType::F32);
            // some header flips land in JSON whitespace or an unused key and are harmless;
            // any flip that changes what would be loaded must fail
            if Saver::new(&g).restore(&mut sess, &d).is_ok() {
                let (g0, mut s0) = model_only(&[2, 3], DType::F32);
                Saver::new(&g0).restore(&mut s0, &p).unwrap();
                assert_eq!(
                    values(&sess, &["dense/W", "dense/b"]),
                    values(&s0, &["dense/W", "dense/b"]),
                    "flip at {pos}:{bit}"
                );
            }
        }
    }
}

#[test]
fn failed_save_keeps_the_previous_checkpoint() {
    let d = dir("atomic");
    let (g, mut sess) = trained();
    let mut saver = Saver::new(&g);
    let path = saver.save(&sess, d.join("ckpt"), None).unwrap();
    let before = std::fs::read(&path).unwrap();
    let index = std::fs::read(d.join("checkpoint")).unwrap();
    // change a variable, then fail the next save of the same file half way
    sess.set_variable_by_name("dense/b", TensorValue::from(vec![9.0f32, 9.0, 9.0])).unwrap();
    saver.fail_writes_after(Some(before.len() / 2));
    let e = saver.save(&sess, d.join("ckpt"), None).unwrap_err();
    assert!(e.to_string().contains("injected write failure"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "the previous checkpoint is unchanged");
    assert_eq!(std::fs::read(d.join("checkpoint")).unwrap(), index);
    let leftovers: Vec<_> = std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "no temporary file is left: {leftovers:?}");
    // and it still restores
    let (g2, mut sess2) = model_only(&[2, 3], DType::F32);
    Saver::new(&g2).restore(&mut sess2, &path).unwrap();
    // an unwritable target (its directory is a file) fails cleanly too
    saver.fail_writes_after(None);
    std::fs::write(d.join("blocker"), b"").unwrap();
    let e = saver.save(&sess, d.join("blocker").join("ckpt"), None).unwrap_err();
    assert!(matches!(e, kiln::Error::CheckpointIo { .. }), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn saving_an_uninitialized_variable_is_an_error() {
    let g = Graph::new();
    g.get_variable("v", &[1], DType::F32, None).unwrap();
    let sess = Session::new(&g);
    let e = Saver::new(&g).save(&sess, dir("uninit").join("ckpt"), None).unwrap_err();
    assert!(matches!(e, kiln::Error::Uninitialized { .. }), "{e}");
}

/// Rewrites a checkpoint without its checksum metadata, one value changed.
fn stripped(p: &Path, change: bool) -> PathBuf {
    let bytes = std::fs::read(p).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<(String, Vec<u8>, Vec<usize>, safetensors::Dtype)> =
        st.tensors().into_iter().map(|(n, t)| (n, t.data().to_vec(), t.shape().to_vec(), t.dtype())).collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    if change {
        tensors[0].1[0] ^= 0x40;
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, d, s, t)| (n.clone(), safetensors::tensor::TensorView::new(*t, s.clone(), d).unwrap()))
        .collect();
    let out = p.with_file_name("stripped.safetensors");
    std::fs::write(&out, safetensors::serialize(views, None).unwrap()).unwrap();
    out
}

#[test]
fn checkpoints_without_checksums_are_refused_unless_allowed() {
    let p = saved("stripped");
    let changed = stripped(&p, true);
    let e = restore_err(&changed, &[2, 3], DType::F32);
    assert!(e.contains("stripped.safetensors") && e.contains("has no checksum"), "{e}");
    assert!(e.contains("tensor 'beta1_power'"), "names the first variable: {e}");
    // safetensors from another tool restore on request
    let clean = stripped(&p, false);
    let (g, mut sess) = model_only(&[2, 3], DType::F32);
    Saver::new(&g).allow_missing_checksums(true).restore(&mut sess, &clean).unwrap();
    let (g0, mut s0) = model_only(&[2, 3], DType::F32);
    Saver::new(&g0).restore(&mut s0, &p).unwrap();
    assert_eq!(values(&sess, &["dense/W", "dense/b"]), values(&s0, &["dense/W", "dense/b"]));
}

#[test]
fn every_corruption_error_names_the_file_and_a_tensor_entry_names_its_variable() {
    let p = saved("corrupt_names");
    let bytes = std::fs::read(&p).unwrap();
    let d = p.parent().unwrap().join("c.safetensors");
    let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let text = String::from_utf8_lossy(&bytes[8..header]).into_owned();
    // the data offsets of each tensor, as digits in the header: change one digit
    let mut cases = 0;
    for (i, c) in text.char_indices().filter(|(_, c)| c.is_ascii_digit()) {
        let mut f = bytes.clone();
        f[8 + i] = if c == '9' { b'1' } else { c as u8 + 1 };
        std::fs::write(&d, &f).unwrap();
        let (g, mut sess) = model_only(&[2, 3], DType::F32);
        let Err(e) = Saver::new(&g).restore(&mut sess, &d) else { continue };
        let e = e.to_string();
        assert!(e.contains("c.safetensors"), "names the file: {e}");
        // a digit inside a tensor's entry (its shape, offsets or checksum) names it
        let before = &text[..i];
        let entry = [
            "dense/W/Adam_1",
            "dense/W/Adam",
            "dense/b/Adam_1",
            "dense/b/Adam",
            "dense/W",
            "dense/b",
            "beta1_power",
            "beta2_power",
        ]
        .iter()
        .filter_map(|n| before.rfind(&format!("\"{n}\"")).map(|at| (at, *n)))
        .max();
        if let Some((at, name)) = entry {
            let inside = !before[at..].contains('}');
            if inside && !e.contains("not a complete safetensors file") {
                assert!(e.contains(&format!("'{name}'")), "a change in {name}'s entry: {e}");
            }
        }
        cases += 1;
    }
    assert!(cases > 20, "{cases} corrupt headers tried");
}
