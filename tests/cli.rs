//! The `kiln` binary, run as a user runs it: compile with dumps, run on `.npy` files
//! (against the Rust API), explain, DOT output, and every error's message and exit code.
//! Also: the `.kir` models in `examples/models/` are current and parse.

#[path = "../examples/sine.rs"]
#[allow(dead_code)]
mod sine;

#[path = "../examples/notebook.rs"]
#[allow(dead_code)]
mod notebook;

use kiln::train::{AdamOptimizer, Optimizer};
use kiln::{matmul, nn, reduce_mean, square, Axes, DType, Graph, Session, TensorValue};
use ndarray::{Array2, ArrayD};
use ndarray_npy::{read_npy, write_npy};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the binary from the workspace root: (exit code, stdout, stderr).
fn kiln(args: &[&str]) -> (i32, String, String) {
    kiln_env(args, &[])
}

/// [`kiln`] with extra environment variables.
fn kiln_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("KILN_BACKEND")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the kiln binary runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// A fresh scratch directory under `target/kiln-test/cli/` (relative, so messages that
/// name it are the same on every machine).
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new("target/kiln-test/cli").join(name);
    let _ = std::fs::remove_dir_all(Path::new(env!("CARGO_MANIFEST_DIR")).join(&dir));
    std::fs::create_dir_all(Path::new(env!("CARGO_MANIFEST_DIR")).join(&dir)).unwrap();
    dir
}

fn abs(p: &Path) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

const SINE: &str = "examples/models/sine_train.kir";

#[test]
fn models_are_current_and_parse() {
    let dir = scratch("models");
    notebook::run_saving(kiln::SessionOptions::default(), Some(abs(&dir))).unwrap();
    let mut count = 0;
    for entry in std::fs::read_dir(abs(Path::new("examples/models"))).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        // the printer reproduces the file exactly: no drift between text and printer
        let m = kiln::ir::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(kiln::ir::print(&m), text, "{}", path.display());
        Graph::load_ir(&path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        if name.starts_with("notebook_") {
            // the notebook example writes these; this run wrote them again
            let fresh = std::fs::read_to_string(abs(&dir).join(name)).unwrap();
            assert_eq!(fresh.replace("tests/../examples/", "examples/"), text, "{name} is stale: run the example");
        }
        count += 1;
    }
    // sine_train.kir is compared with a fresh one in tests/sine.rs (it needs training)
    assert_eq!(count, 5);
}

#[test]
fn compile_dumps_every_pass_and_kernel() {
    let dir = scratch("dump");
    let d = dir.to_str().unwrap();
    let (code, out, err) =
        kiln(&["compile", SINE, "--dump-after", "all", "--dump-dir", d, "--feed-shape", "input=32x1"]);
    assert_eq!(code, 0, "{err}");
    let files: Vec<String> =
        std::fs::read_dir(abs(&dir)).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    for pass in
        ["0000.input.ir", "0001.expand_argmax.ir", "0002.simplify.ir", "0003.cse.ir", "0004.dce.ir", "0005.simplify.ir"]
    {
        let text = std::fs::read_to_string(abs(&dir).join(pass)).unwrap();
        kiln::ir::parse(&text).unwrap_or_else(|e| panic!("{pass}: {e}"));
    }
    // every kernel: CLIF and assembly files, and a summary line with its IR ops
    let kernels: Vec<&String> = files.iter().filter(|f| f.starts_with("kernel.") && f.ends_with(".clif")).collect();
    assert_eq!(kernels.len(), 17, "{files:?}");
    for k in kernels {
        let name = k.trim_start_matches("kernel.").trim_end_matches(".clif");
        let name = &name[3..]; // "00."
        assert!(files.contains(&k.replace(".clif", ".s")), "{k}");
        let clif = std::fs::read_to_string(abs(&dir).join(k)).unwrap();
        assert!(clif.contains("\nfunction "), "{k}");
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name}: {out}"));
        assert!(line.contains(" %"), "{line}");
    }
    assert!(
        out.contains("matmul.0    gemm RowsOfB     %layer_0/MatMul + epilogue %layer_0/add %layer_0/Relu"),
        "{out}"
    );
    assert!(out.contains("arena: ") && out.contains(" bytes for input=32x1, output=32x1"), "{out}");
    // every Adam update (parameter and both slots) and both beta powers
    assert!(
        out.contains("in place: 20 update(s) computed in their variables: ") && out.contains(" layer_1/W1/Adam_1"),
        "{out}"
    );
    assert!(out.contains("compile time: ") && out.contains("  cse "), "{out}");
    assert!(files.contains(&"schedule.txt".to_string()) && files.contains(&"fused.dot".to_string()));
}

#[test]
fn dump_after_picks_passes_by_regex() {
    let dir = scratch("dump-cse");
    let (code, _, err) = kiln(&["compile", SINE, "--dump-after", "^(cse|dce)$", "--dump-dir", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let mut irs: Vec<String> = std::fs::read_dir(abs(&dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".ir"))
        .collect();
    irs.sort();
    // DCE runs twice: after CSE, and last (the second simplify leaves dead constants)
    assert_eq!(irs, ["0000.cse.ir", "0001.dce.ir", "0002.dce.ir"]);
}

/// `--dump-after all` writes every stage's output as text: the IR after each pass, the
/// schedule, the ABI and the buffer plan. The ABI and the plan parse back (against the
/// schedule) and print the same text.
#[test]
fn dump_after_all_writes_every_stage_and_each_parses_back() {
    let dir = scratch("dump-all");
    let d = dir.to_str().unwrap();
    let (code, _, err) = kiln(&["compile", SINE, "--fetch", "Adam,Mean", "--dump-after", "all", "--dump-dir", d]);
    assert_eq!(code, 0, "{err}");
    let mut files: Vec<String> =
        std::fs::read_dir(abs(&dir)).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    files.sort();
    let stage_of = |f: &String| f.split('.').nth(1).unwrap_or_default().to_string();
    let numbered: Vec<String> = files.iter().filter(|f| f.starts_with("00")).map(stage_of).collect();
    assert_eq!(
        numbered,
        [
            "input",
            "expand_argmax",
            "simplify",
            "cse",
            "dce",
            "simplify",
            "split_masks",
            "dce",
            "fusion",
            "abi",
            "buffer_plan",
            "codegen"
        ],
        "{files:?}"
    );
    let read = |ext: &str| {
        let f = files.iter().find(|f| f.ends_with(ext)).unwrap_or_else(|| panic!("no {ext} in {files:?}"));
        std::fs::read_to_string(abs(&dir).join(f)).unwrap()
    };
    // the schedule the dumps describe, rebuilt from the same model through the API
    let graph = kiln::Graph::parse_ir(&std::fs::read_to_string(SINE).unwrap()).unwrap();
    let m = graph.module().clone();
    let roots: Vec<_> = ["Adam", "Mean"].iter().map(|n| m.value_by_name(n).unwrap()).collect();
    let lowered =
        kiln::passes::pipeline::lower(&m, &roots, &Default::default(), &Default::default(), Default::default())
            .unwrap();
    let s = lowered.program.schedule.unwrap();
    let schedule_text = read(".schedule");
    assert_eq!(schedule_text, s.print(), "the dumped schedule is the API's");
    let parsed = kiln::passes::schedule::parse(&schedule_text, s.module.clone()).unwrap();
    assert_eq!(parsed.print(), schedule_text, "the schedule prints back the same");
    assert_eq!(parsed, s, "and parses to the schedule the stage made");
    let abi_text = read(".abi");
    let (names, abi) = kiln::passes::abi::parse(&abi_text).unwrap();
    assert_eq!(abi.print_named(&names), abi_text, "the ABI prints back the same");
    assert_eq!(Some(&abi), lowered.program.abi.as_ref(), "and parses to the ABI the stage made");
    kiln::passes::abi::verify(&s, &abi).unwrap();
    let plan_text = read(".plan");
    let plan = kiln::passes::buffer_plan::parse(&plan_text, &s).unwrap();
    assert_eq!(plan.print(&s), plan_text, "the plan prints back the same");
    assert_eq!(Some(&plan), lowered.program.plan.as_ref(), "and parses to the plan the stage made");
    kiln::passes::buffer_plan::verify(&s, &plan).unwrap();
    // codegen is a stage too: every step's kernel, in step order, as CLIF
    let clif = read(".codegen.clif");
    let heads: Vec<&str> = clif.lines().filter(|l| l.starts_with("; kernel ")).collect();
    assert_eq!(heads.len(), s.steps.len(), "{clif}");
    for (i, h) in heads.iter().enumerate() {
        assert!(h.starts_with(&format!("; kernel {} (", s.step_name(i))), "{h}");
    }
    assert!(clif.contains("\nfunction ") && !clif.contains("(CLIF not kept)"), "{clif}");
}

#[test]
fn emits_ir_schedule_clif_asm() {
    let (code, ir, _) = kiln(&["compile", SINE, "--emit", "ir"]);
    assert_eq!(code, 0);
    kiln::ir::parse(&ir).unwrap();
    let (_, fused, _) = kiln(&["compile", SINE, "--emit", "fused"]);
    assert!(fused.contains("fusion.5 (1 nest(s)): %layer_2/add, %sub, %Square, %mul, %Mean"), "{fused}");
    let (_, clif, _) = kiln(&["compile", SINE, "--emit", "clif"]);
    assert_eq!(clif.matches("\nfunction ").count() + usize::from(clif.starts_with("function")), 17);
    let (_, asm, summary) = kiln(&["compile", SINE, "--emit", "asm"]);
    assert!(asm.contains("; kernel matmul.0") && asm.contains("ret"), "{asm}");
    assert!(summary.contains("kernels:"), "the summary goes to stderr with --emit: {summary}");
    // fusion off: one kernel per op, said in the refusals
    let (code, fused, _) = kiln(&["compile", SINE, "--no-fusion", "--emit", "fused"]);
    assert_eq!(code, 0);
    assert!(fused.contains("fusion is off") && !fused.contains("+ epilogue"), "{fused}");
    let (_, nofuse, _) = kiln(&["compile", SINE, "--disable-pass", "fusion", "--disable-pass", "cse"]);
    assert!(!nofuse.contains("  cse ") && nofuse.contains("  dce "), "{nofuse}");
}

fn write(path: &Path, a: &Array2<f32>) {
    write_npy(abs(path), a).unwrap();
}

fn read(path: &Path) -> ArrayD<f32> {
    read_npy(abs(path)).unwrap()
}

#[test]
fn run_matches_the_rust_api() {
    let dir = scratch("run");
    let (xs, ys) = sine::data(3);
    let x = xs.slice(ndarray::s![0..32, ..]).to_owned();
    let y = ys.slice(ndarray::s![0..32, ..]).to_owned();
    write(&dir.join("x.npy"), &x);
    write(&dir.join("y.npy"), &y);
    let feed_x = format!("input={}", dir.join("x.npy").display());
    let feed_y = format!("output={}", dir.join("y.npy").display());
    let out = dir.join("out");

    // the Rust API: the example's model, initialized, then three Adam steps
    let g = Graph::new();
    let (input, output, pred) = sine::create_model(&g).unwrap();
    let mse = reduce_mean(&(0.5 * square(&(&pred - &output)).unwrap()), Axes::All, false).unwrap();
    let train = AdamOptimizer::default().minimize(&mse, None).unwrap();
    let mut sess = Session::new(&g);
    sess.run1(&g.global_variables_initializer().unwrap(), &[]).unwrap();
    let want_pred = sess.run1(&pred, &[(&input, x.clone().into())]).unwrap();
    let mut want_mse = TensorValue::Unit;
    for _ in 0..3 {
        let r = sess.run(&[&train, &mse], &[(&input, x.clone().into()), (&output, y.clone().into())]).unwrap();
        want_mse = r[1].clone();
    }

    for backend in ["jit", "interp"] {
        let o = out.join(backend);
        let (code, stdout, err) = kiln(&[
            "run",
            SINE,
            "--feed",
            &feed_x,
            "--fetch",
            "layer_2/add",
            "--out",
            o.to_str().unwrap(),
            "--backend",
            backend,
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(stdout.contains("layer_2/add: f32 [32, 1] -> "), "{stdout}");
        let got = read(&o.join("layer_2/add.npy"));
        let want = want_pred.as_f32().unwrap();
        let worst = got.iter().zip(want.iter()).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-6, "{backend}: prediction differs by {worst}");

        let (code, _, err) = kiln(&[
            "run",
            SINE,
            "--feed",
            &feed_x,
            "--feed",
            &feed_y,
            "--fetch",
            "Adam,Mean",
            "--steps",
            "3",
            "--out",
            o.to_str().unwrap(),
            "--backend",
            backend,
        ]);
        assert_eq!(code, 0, "{err}");
        let got = read(&o.join("Mean.npy"));
        let want = want_mse.scalar_f32().unwrap();
        assert!((got.sum() - want).abs() <= 1e-6 * want.abs().max(1.0), "{backend}: mse {} vs {want}", got.sum());
    }

    // --check runs the interpreter beside the JIT
    let (code, _, err) =
        kiln(&["run", SINE, "--feed", &feed_x, "--feed", &feed_y, "--fetch", "Adam,Mean", "--steps", "2", "--check"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("check: every kernel agrees with the interpreter"), "{err}");
}

/// `KILN_DUMP` without the CLI's flags: every executable a session compiles gets its
/// own directory of per-pass IR, schedule, CLIF and assembly; `KILN_DUMP_PASS_RE`
/// filters the passes.
#[test]
fn kiln_dump_env_writes_every_executable() {
    let dir = scratch("kiln-dump");
    let x = dir.join("x.npy");
    write(&x, &Array2::zeros((8, 1)));
    let feed = format!("input={}", x.display());
    let dump = dir.join("all");
    let env = [("KILN_DUMP", dump.to_str().unwrap())];
    let (code, _, err) = kiln_env(&["run", SINE, "--feed", &feed, "--fetch", "layer_2/add"], &env);
    assert_eq!(code, 0, "{err}");
    let mut execs: Vec<String> =
        std::fs::read_dir(abs(&dump)).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    execs.sort();
    // the initializer run, then the prediction
    assert_eq!(execs.len(), 2, "{execs:?}");
    assert!(execs[1].starts_with("001.layer_2_add"), "{execs:?}");
    let files: Vec<String> = std::fs::read_dir(abs(&dump).join(&execs[1]))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    for f in [
        "0000.input.ir",
        "0003.cse.ir",
        "0005.simplify.ir",
        "schedule.txt",
        "fused.dot",
        "kernel.00.matmul.0.clif",
        "kernel.00.matmul.0.s",
    ] {
        assert!(files.iter().any(|x| x == f), "{f} in {files:?}");
    }
    let only_cse = dir.join("cse");
    let env = [("KILN_DUMP", only_cse.to_str().unwrap()), ("KILN_DUMP_PASS_RE", "^cse$")];
    let (code, _, err) = kiln_env(&["run", SINE, "--feed", &feed, "--fetch", "layer_2/add"], &env);
    assert_eq!(code, 0, "{err}");
    let sub = std::fs::read_dir(abs(&only_cse)).unwrap().map(|e| e.unwrap().path()).max().unwrap();
    let irs: Vec<String> = std::fs::read_dir(sub)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".ir"))
        .collect();
    assert_eq!(irs, ["0000.cse.ir"]);
}

/// A graph whose producers cannot all fuse: a value that feeds a matmul, a value read
/// through a transpose, a reduction over another space.
fn refusing_model(path: &Path) {
    let g = Graph::new();
    let x = g.placeholder(DType::F32, [8, 4], "x").unwrap();
    let w = g.constant(ndarray::Array2::from_shape_fn((4, 4), |(i, j)| (i + j) as f32 * 0.1)).unwrap();
    let e = kiln::exp(&x).unwrap();
    // fetched as is: the ReLU runs as the GEMM's epilogue
    let _h = nn::relu(&(&matmul(&e, &w).unwrap() + 1.0)).unwrap();
    let t = kiln::transpose(&e, None).unwrap();
    let s = kiln::reduce_sum(&(&t * 2.0), Axes::List(vec![1]), false).unwrap();
    let _total = kiln::reduce_sum(&kiln::sqrt(&s).unwrap(), Axes::All, false).unwrap();
    g.save_ir(abs(path)).unwrap();
}

#[test]
fn explain_gives_reasons() {
    let dir = scratch("explain");
    let model = dir.join("refuse.kir");
    refusing_model(&model);
    let (code, out, err) = kiln(&["explain", model.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("refused ("), "{out}");
    assert!(out.contains("%Exp: stored, a matmul operand (%MatMul)"), "{out}");
    assert!(out.contains("%MatMul + epilogue %add, %Relu"), "{out}");
    assert!(out.contains("a reduction fused with its elementwise producers"), "{out}");
    let (_, sine_out, _) = kiln(&["explain", SINE]);
    assert!(sine_out.contains("independent loop nests merged into one kernel"), "{sine_out}");
    assert!(sine_out.contains("stored, assigned to a variable"), "{sine_out}");
}

/// A minimal DOT reader: `digraph "name" {`, then node, edge, attribute and
/// `subgraph cluster_N { ... }` statements, braces balanced, strings closed.
fn check_dot(dot: &str) -> (usize, usize, usize) {
    let mut lines = dot.lines();
    let head = lines.next().unwrap();
    assert!(head.starts_with("digraph \"") && head.ends_with("\" {"), "{head}");
    let (mut depth, mut nodes, mut edges, mut clusters) = (1, 0, 0, 0);
    for l in lines {
        let l = l.trim();
        // quotes balance once escaped quotes are removed
        assert_eq!(l.replace("\\\"", "").matches('"').count() % 2, 0, "{l}");
        if l.starts_with("subgraph cluster_") && l.ends_with('{') {
            depth += 1;
            clusters += 1;
        } else if l == "}" {
            depth -= 1;
        } else if l.starts_with("node ") {
            assert!(l.ends_with("];"), "{l}");
        } else if let Some(rest) = l.strip_prefix('n') {
            let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
            assert!(!id.is_empty(), "{l}");
            let rest = &rest[id.len()..];
            if let Some(to) = rest.strip_prefix(" -> n") {
                assert!(to.trim_end_matches(';').chars().all(|c| c.is_ascii_digit()), "{l}");
                edges += 1;
            } else {
                assert!(rest.starts_with(" [label = \"") && rest.ends_with("];"), "{l}");
                nodes += 1;
            }
        } else {
            assert!(l.ends_with(';') && (l.contains('=') || l.starts_with("node ")), "{l}");
        }
        assert!(depth >= 0, "{l}");
    }
    assert_eq!(depth, 0);
    (nodes, edges, clusters)
}

#[test]
fn emit_dot_is_valid() {
    let dir = scratch("dot");
    for (emit, want_clusters) in [("dot", true), ("dot-ir", false)] {
        let (code, dot, err) = kiln(&["compile", SINE, "--emit", emit]);
        assert_eq!(code, 0, "{err}");
        let (nodes, edges, clusters) = check_dot(&dot);
        assert!(nodes > 50 && edges > nodes, "{emit}: {nodes} nodes, {edges} edges");
        assert_eq!(clusters > 0, want_clusters, "{emit}");
        assert!(dot.contains("layer_0/MatMul\\nmatmul : f32[?0,20]"), "{emit}: names and shapes on nodes");
        let path = abs(&dir.join(format!("{emit}.dot")));
        std::fs::write(&path, &dot).unwrap();
        // Graphviz itself, where it is installed
        if let Ok(out) = Command::new("dot").arg("-Tsvg").arg(&path).output() {
            assert!(out.status.success(), "dot -Tsvg: {}", String::from_utf8_lossy(&out.stderr));
            assert!(String::from_utf8_lossy(&out.stdout).contains("<svg"));
        }
    }
    // Graph::to_dot from the API
    let g = Graph::load_ir(abs(Path::new(SINE))).unwrap();
    assert_eq!(check_dot(&g.to_dot()).2, 0);
}

/// Every bad input: its message and exit code (2; clap's usage errors also exit 2).
#[test]
fn error_messages_and_exit_codes() {
    let dir = scratch("errors");
    let bad_ir = dir.join("bad.kir");
    std::fs::write(abs(&bad_ir), "module {\n  %x = parameter : f32[2]\n  %y = frobnicate %x : f32[2]\n}\n").unwrap();
    let bad_verify = dir.join("unverified.kir");
    std::fs::write(abs(&bad_verify), "module {\n  %x = parameter : f32[2]\n  %y = exp %x : f32[3]\n}\n").unwrap();
    let f64_npy = dir.join("x64.npy");
    write_npy(abs(&f64_npy), &ndarray::Array2::<f64>::zeros((32, 1))).unwrap();
    let wide = dir.join("x2.npy");
    write(&wide, &Array2::zeros((32, 2)));
    let garbage = dir.join("garbage.npy");
    std::fs::write(abs(&garbage), b"not numpy").unwrap();
    let x = dir.join("x.npy");
    write(&x, &Array2::zeros((32, 1)));
    let feed = |p: &Path| format!("input={}", p.display());
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("missing_file", vec!["compile".into(), "nope.kir".into()]),
        ("malformed_ir", vec!["compile".into(), bad_ir.display().to_string()]),
        ("ir_fails_verifier", vec!["explain".into(), bad_verify.display().to_string()]),
        ("unknown_subcommand", vec!["frobnicate".into()]),
        ("bad_emit", vec!["compile".into(), SINE.into(), "--emit".into(), "pdf".into()]),
        ("unknown_fetch", vec!["compile".into(), SINE.into(), "--fetch".into(), "nope".into()]),
        ("bad_feed_shape", vec!["compile".into(), SINE.into(), "--feed-shape".into(), "input=32xq".into()]),
        ("feed_shape_mismatch", vec!["compile".into(), SINE.into(), "--feed-shape".into(), "input=32x3".into()]),
        ("unknown_pass", vec!["compile".into(), SINE.into(), "--disable-pass".into(), "inline".into()]),
        ("dump_after_without_dir", vec!["compile".into(), SINE.into(), "--dump-after".into(), "all".into()]),
        (
            "bad_regex",
            vec![
                "compile".into(),
                SINE.into(),
                "--dump-after".into(),
                "(".into(),
                "--dump-dir".into(),
                dir.display().to_string(),
            ],
        ),
        (
            "npy_wrong_dtype",
            vec!["run".into(), SINE.into(), "--feed".into(), feed(&f64_npy), "--fetch".into(), "layer_2/add".into()],
        ),
        (
            "npy_wrong_shape",
            vec!["run".into(), SINE.into(), "--feed".into(), feed(&wide), "--fetch".into(), "layer_2/add".into()],
        ),
        (
            "npy_garbage",
            vec!["run".into(), SINE.into(), "--feed".into(), feed(&garbage), "--fetch".into(), "layer_2/add".into()],
        ),
        ("npy_missing", vec!["run".into(), SINE.into(), "--feed".into(), "input=nope.npy".into()]),
        ("feed_syntax", vec!["run".into(), SINE.into(), "--feed".into(), "input".into()]),
        ("feed_not_placeholder", vec!["run".into(), SINE.into(), "--feed".into(), format!("Mean={}", x.display())]),
        ("missing_feed", vec!["run".into(), SINE.into(), "--feed".into(), feed(&x), "--fetch".into(), "Mean".into()]),
        ("missing_checkpoint", vec!["run".into(), SINE.into(), "--restore".into(), "nope.safetensors".into()]),
    ];
    for (name, args) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, stderr) = kiln(&args);
        assert_eq!(code, 2, "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        insta::assert_snapshot!(
            format!("cli_error_{name}"),
            format!("$ kiln {}\nexit: {code}\n{stdout}{stderr}", args.join(" "))
        );
    }
}
