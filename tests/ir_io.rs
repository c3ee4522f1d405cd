//! Graphs to and from `.kir` text: round trips, extending a loaded graph, running and
//! restoring it, and every error (missing file, malformed text, unknown name).

use kiln::train::{AdamOptimizer, Optimizer, Saver};
use kiln::{reduce_mean, square, Axes, BuildError as Error, DType, Graph, Initializer, Session};
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from("target/kiln-test/ir_io").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A small training graph: y = relu(x W + b), MSE, Adam, init.
fn model() -> (Graph, kiln::Tensor, kiln::Tensor) {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [None, Some(3)], "x").unwrap();
    let t = g.placeholder(DType::F32, [None, Some(2)], "t").unwrap();
    let w = g.get_variable("w", &[3, 2], DType::F32, Initializer::xavier()).unwrap();
    let b = g.get_variable("b", &[2], DType::F32, Initializer::Zeros).unwrap();
    let y = kiln::nn::relu(&(&kiln::matmul(&x, &w).unwrap() + &b)).unwrap();
    let loss = reduce_mean(&square(&(&y - &t)).unwrap(), Axes::All, false).unwrap();
    let train = AdamOptimizer::new(0.01).minimize(&loss, None).unwrap();
    g.global_variables_initializer().unwrap();
    (g, loss, train)
}

#[test]
fn save_load_round_trip() {
    let dir = scratch("round_trip");
    let (g, _, _) = model();
    let path = dir.join("m.kir");
    g.save_ir(&path).unwrap();
    assert!(!dir.join("m.kir.tmp").exists(), "the temporary file is renamed into place");
    let loaded = Graph::load_ir(&path).unwrap();
    assert_eq!(loaded.to_ir_text(), g.to_ir_text());
    assert_eq!(Graph::parse_ir(&g.to_ir_text()).unwrap().to_ir_text(), g.to_ir_text());
    let names: Vec<String> = loaded.global_variables().iter().map(|v| v.name()).collect();
    assert!(names.contains(&"w:0".to_string()) && names.contains(&"w/Adam:0".to_string()), "{names:?}");
    assert_eq!(loaded.trainable_variables().len(), 2);
}

#[test]
fn loaded_graph_trains_like_the_original() {
    let (g, loss, train) = model();
    let loaded = Graph::parse_ir(&g.to_ir_text()).unwrap();
    let x = ndarray::Array2::from_shape_fn((4, 3), |(i, j)| (i as f32 - j as f32) * 0.3);
    let t = ndarray::Array2::from_shape_fn((4, 2), |(i, j)| (i + j) as f32 * 0.1);
    let mut losses = Vec::new();
    for graph in [&g, &loaded] {
        let get = |n: &str| graph.get_tensor_by_name(n).unwrap();
        let mut sess = Session::new(graph);
        sess.run1(&get("init"), &[]).unwrap();
        let mut last = 0.0;
        for _ in 0..5 {
            let feeds = [(&get("x"), x.clone().into()), (&get("t:0"), t.clone().into())];
            let r = sess.run(&[&get("Adam"), &get("Mean")], &feeds).unwrap();
            last = r[1].scalar_f32().unwrap();
        }
        losses.push(last);
    }
    let _ = (loss, train);
    assert_eq!(losses[0], losses[1], "same seeds, same kernels, same numbers");
}

#[test]
fn a_loaded_graph_can_grow() {
    let (g, _, _) = model();
    let loaded = Graph::parse_ir(&g.to_ir_text()).unwrap();
    // new names and symbols do not collide with the module's
    let z = loaded.placeholder(DType::F32, [None], "x").unwrap();
    assert_eq!(z.name(), "x_1:0");
    let text = loaded.to_ir_text();
    assert!(text.contains("%x_1 = parameter : f32[?2]"), "{text}");
    let y = loaded.get_tensor_by_name("Relu").unwrap();
    let s = kiln::reduce_sum(&y, Axes::All, false).unwrap();
    assert_eq!(s.name(), "Sum:0");
    let m = kiln::reduce_mean(&y, Axes::All, false).unwrap();
    assert_eq!(m.name(), "Mean_1:0");
    // duplicate variables are still caught
    let again = loaded.get_variable("w", &[3, 2], DType::F32, Initializer::Zeros);
    assert!(matches!(again, Err(Error::DuplicateVariable { .. })), "{again:?}");
}

#[test]
fn checkpoints_restore_into_a_loaded_graph() {
    let dir = scratch("ckpt");
    let (g, _, _) = model();
    let mut sess = Session::new(&g);
    sess.run1(&g.get_tensor_by_name("init").unwrap(), &[]).unwrap();
    let saved = Saver::new(&g).save(&sess, dir.join("ckpt"), Some(1)).unwrap();
    let loaded = Graph::parse_ir(&g.to_ir_text()).unwrap();
    let mut sess2 = Session::new(&loaded);
    Saver::new(&loaded).restore(&mut sess2, &saved).unwrap();
    assert_eq!(sess2.variable_by_name("w"), sess.variable_by_name("w"));
}

#[test]
fn errors_name_the_file_the_line_and_the_call() {
    let dir = scratch("errors");
    let e = Graph::load_ir(dir.join("missing.kir")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.starts_with("tests/ir_io.rs:") && msg.contains("missing.kir: No such file"), "{msg}");

    let bad = dir.join("bad.kir");
    std::fs::write(&bad, "module {\n  %x = parameter : f32[2]\n  %y = exp %x, : f32[2]\n}\n").unwrap();
    let msg = Graph::load_ir(&bad).unwrap_err().to_string();
    assert!(msg.contains("bad.kir: IR parse error at 3:"), "{msg}");

    let no_init = "module {\n  var @v : f32[2] trainable\n  %v/read = read @v : f32[2]\n}\n";
    let msg = Graph::parse_ir(no_init).unwrap_err().to_string();
    assert!(msg.contains("variable @v has no initializer (assign)"), "{msg}");

    let (g, _, _) = model();
    let e = g.get_tensor_by_name("nope:0").unwrap_err();
    assert!(matches!(&e, Error::UnknownName { name, .. } if name == "nope:0"), "{e:?}");
    assert!(e.to_string().starts_with("tests/ir_io.rs:"), "{e}");

    let unwritable = dir.join("missing-dir-file").join("x.kir");
    std::fs::write(dir.join("missing-dir-file"), "a file, not a directory").unwrap();
    assert!(matches!(g.save_ir(&unwritable), Err(Error::Io { .. })));
}
