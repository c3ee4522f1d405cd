//! `kiln compile` and `kiln explain`: build a model's executable with the requested
//! passes, dumps and output, and say what went into each kernel and why.

use crate::common::{check_shape, fetches, lib_error, load, parse_feed_shape, CliError};
use kiln::codegen::{CodegenOptions, KernelKind};
use kiln::ir::ValueId;
use kiln::passes::fusion::FusionOptions;
use kiln::passes::pipeline::{PipelineOptions, PASSES};
use kiln::passes::schedule::{Origin, OutMode, Step};
use kiln::runtime::build::BuildOptions;
use kiln::runtime::exec::Executable;
use kiln::runtime::interp::Bindings;
use std::fmt::Write;
use std::path::PathBuf;

/// What `compile` and `explain` share: the model, what to compute, the switches.
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// The model, as IR text (`Graph::save_ir`).
    pub model: String,
    /// Ops to compute, by name, comma-separated (default: every op nothing else uses,
    /// except variable initializers).
    #[arg(long, value_delimiter = ',')]
    pub fetch: Vec<String>,
    /// A placeholder's shape, to bind symbolic dims (`x=32x1`); repeat per placeholder.
    #[arg(long = "feed-shape", value_name = "NAME=DIMS")]
    pub feed_shape: Vec<String>,
    /// Turn fusion off: one kernel per op.
    #[arg(long)]
    pub no_fusion: bool,
    /// Skip a pass by name (simplify, cse, dce, split_masks, fusion); repeatable.
    #[arg(long = "disable-pass", value_name = "NAME")]
    pub disable_pass: Vec<String>,
}

/// What `--emit` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emit {
    /// The IR after the passes.
    Ir,
    /// The fused schedule in brief: kernels, loop nests, refusals.
    Fused,
    /// The whole schedule: buffers, steps down to each kernel's scalar body and access
    /// strides, writes, fetches, refusals.
    Schedule,
    /// Each kernel's Cranelift IR.
    Clif,
    /// Each kernel's machine code.
    Asm,
    /// The graph after fusion in Graphviz DOT, kernels as clusters.
    Dot,
    /// The graph as loaded, before any pass, in Graphviz DOT.
    DotIr,
}

/// `kiln compile` flags beyond the target.
#[derive(clap::Args, Debug, Clone)]
pub struct CompileArgs {
    #[command(flatten)]
    pub target: Target,
    /// Write per-pass IR, the schedule, DOT, CLIF and assembly into this directory.
    #[arg(long = "dump-dir", value_name = "DIR")]
    pub dump_dir: Option<PathBuf>,
    /// Which passes' IR to dump: a regex over pass names, or `all` (needs --dump-dir).
    #[arg(long = "dump-after", value_name = "REGEX|all")]
    pub dump_after: Option<String>,
    /// Print this instead of the summary (the summary then goes to stderr).
    #[arg(long, value_enum)]
    pub emit: Option<Emit>,
}

/// A built executable and what it was built from.
pub struct Built {
    pub graph: kiln::Graph,
    pub fetch_names: Vec<String>,
    pub exec: Executable,
    /// `name=shape` pairs the arena was bound to, if every symbolic dim was given.
    pub bound: Option<Vec<String>>,
}

/// Loads, checks the switches and builds.
pub fn build(
    t: &Target,
    dump_dir: Option<PathBuf>,
    dump_after: Option<&str>,
    emit: Option<Emit>,
) -> Result<Built, CliError> {
    for p in &t.disable_pass {
        if !PASSES.contains(&p.as_str()) && p != "fusion" {
            return Err(CliError::input(format!(
                "--disable-pass {p}: no such pass; the passes are {} and fusion",
                PASSES.join(", ")
            )));
        }
    }
    let dump_filter = match (dump_after, &dump_dir) {
        (Some(_), None) => return Err(CliError::input("--dump-after needs --dump-dir DIR")),
        (None, _) | (Some("all"), _) => None,
        (Some(re), _) => Some(
            regex::Regex::new(re)
                .map_err(|e| CliError::input(format!("--dump-after {re:?} is not a valid regex: {e}")))?,
        ),
    };
    let shapes = t.feed_shape.iter().map(|s| parse_feed_shape(s)).collect::<Result<Vec<_>, _>>()?;
    let graph = load(&t.model)?;
    let fetched = fetches(&graph, &t.fetch)?;
    let m = graph.module().clone();
    let roots: Vec<ValueId> = fetched.iter().map(|f| f.value().map_err(lib_error)).collect::<Result<_, _>>()?;
    let mut bindings = Bindings::new(&m);
    for (name, shape) in &shapes {
        let v = m
            .value_by_name(name)
            .ok_or_else(|| CliError::input(format!("--feed-shape: no placeholder named '{name}'")))?;
        check_shape(&m, v, shape, "--feed-shape")?;
        let declared = m.ty(v).map(|t| t.shape.clone()).unwrap_or_default();
        for (d, &n) in declared.dims().iter().zip(shape) {
            bindings.bind(d, n).map_err(|was| {
                CliError::input(format!("--feed-shape {name}: {d} is {n} here but {was} in an earlier feed shape"))
            })?;
        }
    }
    let keep = dump_dir.is_some();
    let opts = BuildOptions {
        pipeline: PipelineOptions {
            verify: true,
            dump_dir: dump_dir.clone(),
            dump_filter,
            disabled: t.disable_pass.iter().filter(|p| *p != "fusion").cloned().collect(),
        },
        fusion: FusionOptions { fuse: !t.no_fusion && !t.disable_pass.iter().any(|p| p == "fusion") },
        codegen: CodegenOptions {
            keep_clif: keep || emit == Some(Emit::Clif),
            keep_asm: keep || emit == Some(Emit::Asm),
            ..Default::default()
        },
        plan: Default::default(),
        dump_dir,
    };
    let mut exec = Executable::build(&m, &roots, &opts).map_err(|e| CliError::input(format!("cannot compile: {e}")))?;
    // bind the arena when every fed shape is known: given, or fixed in the IR
    let signature: Option<Vec<Vec<usize>>> = exec
        .params()
        .iter()
        .map(|&p| {
            let name = &exec.module().op(p).name;
            let given = shapes.iter().find(|(n, _)| n == name).map(|(_, s)| s.clone());
            // or implied: fixed in the IR, or bound through a constraint (`?1 = ?0`)
            given.or_else(|| bindings.shape(&exec.module().ty(p)?.shape))
        })
        .collect();
    let mut bound = None;
    if let Some(sig) = signature {
        exec.prepare(&bindings, sig.clone())
            .map_err(|e| CliError::input(format!("cannot bind the feed shapes: {e}")))?;
        let names = exec.params().iter().map(|&p| exec.module().op(p).name.clone());
        bound = Some(names.zip(sig).map(|(n, s)| format!("{n}={}", dims_text(&s))).collect());
    }
    let fetch_names = roots.iter().map(|&v| m.op(v).name.clone()).collect();
    Ok(Built { graph, fetch_names, exec, bound })
}

fn dims_text(s: &[usize]) -> String {
    s.iter().map(ToString::to_string).collect::<Vec<_>>().join("x")
}

/// `kiln compile`.
pub fn compile(a: &CompileArgs) -> Result<(), CliError> {
    let dump_dir = a.dump_dir.clone();
    let built = build(&a.target, dump_dir.clone(), a.dump_after.as_deref(), a.emit)?;
    let summary = summary(&built, dump_dir.as_ref());
    match a.emit {
        None => print!("{summary}"),
        Some(e) => {
            eprint!("{summary}");
            print!("{}", emit(&built, e));
        }
    }
    Ok(())
}

fn emit(b: &Built, e: Emit) -> String {
    let s = b.exec.schedule();
    let m = &s.module;
    match e {
        Emit::Ir => kiln::ir::print(&s.module),
        Emit::Fused => s.describe(),
        Emit::Schedule => s.print(),
        Emit::Dot => s.to_dot(),
        Emit::DotIr => b.graph.to_dot(),
        Emit::Clif | Emit::Asm => {
            let mut out = String::new();
            for k in b.exec.kernels() {
                let text = if e == Emit::Clif { &k.clif } else { &k.asm };
                if let Some(text) = text {
                    let _ = writeln!(
                        out,
                        "; kernel {} ({:?})\n; from: {}\n{text}",
                        k.name,
                        k.kind,
                        ops(m, &k.provenance).join(", ")
                    );
                }
            }
            out
        }
    }
}

fn ms(d: std::time::Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Passes with their times, kernels with their ops, in-place updates, arena, compile
/// time.
fn summary(b: &Built, dump_dir: Option<&PathBuf>) -> String {
    let r = &b.exec.report;
    let s = b.exec.schedule();
    let m = &s.module;
    let mut o = String::new();
    let _ = writeln!(o, "fetch: {}", b.fetch_names.join(", "));
    let _ = writeln!(o, "passes:");
    // codegen's record is the last line, with its kernel count
    for p in r.passes.iter().filter(|p| p.name != "codegen") {
        let _ = writeln!(o, "  {:<12} {:>9}  {}", p.name, ms(p.time), if p.changed { "changed" } else { "no change" });
    }
    let _ = writeln!(o, "  {:<12} {:>9}  {} step(s)", "fusion", ms(r.fusion), s.steps.len());
    let _ = writeln!(o, "  {:<12} {:>9}  {} kernel(s)", "codegen", ms(r.codegen), b.exec.kernels().len());
    let _ = writeln!(o, "kernels:");
    for (i, k) in b.exec.kernels().iter().enumerate() {
        let kind = match k.kind {
            KernelKind::Loop => "loop".to_string(),
            KernelKind::MatMul(mk) => format!("gemm {mk:?}"),
            KernelKind::Host => "interpreter".to_string(),
            KernelKind::Deferred => "loop (deferred)".to_string(),
        };
        let (ops, note) = match &s.steps[i] {
            Step::Loop(l) if l.epilogue_of.is_some() => {
                let note = if k.kind == KernelKind::Deferred {
                    "  [epilogue: its GEMM applies it in registers; compiled only if a batch size sends the GEMM to the library]"
                } else {
                    "  [epilogue: skipped while its GEMM applies it in registers]"
                };
                (ops(m, &k.provenance).join(" "), note)
            }
            Step::MatMul(mm) if mm.epilogue.is_some() => {
                let epi: Vec<String> =
                    s.step_ops(i).iter().skip(1).map(|&v| format!("%{}", s.module.op(v).name)).collect();
                (format!("{} + epilogue {}", ops(m, &k.provenance).join(" "), epi.join(" ")), "")
            }
            _ => (ops(m, &k.provenance).join(" "), ""),
        };
        let _ = writeln!(o, "  {:<11} {:<16} {ops}{note}", k.name, kind);
    }
    let in_place = b.exec.in_place_updates();
    if !in_place.is_empty() {
        let vars: Vec<&str> = in_place.iter().map(|(_, v)| v.as_str()).collect();
        let _ = writeln!(o, "in place: {} update(s) computed in their variables: {}", vars.len(), vars.join(" "));
    }
    match (&b.bound, b.exec.arena_bytes()) {
        (Some(feeds), Some(bytes)) => {
            let _ = writeln!(
                o,
                "arena: {bytes} bytes for {}",
                if feeds.is_empty() { "no feeds".into() } else { feeds.join(", ") }
            );
        }
        _ => {
            let _ = writeln!(o, "arena: sized at run time (give every placeholder's --feed-shape to size it now)");
        }
    }
    let _ = writeln!(o, "compile time: {}", ms(r.total));
    if let Some(d) = dump_dir {
        let _ = writeln!(o, "dumped to {}", d.display());
    }
    o
}

/// `kiln explain`: every fusion decision with its reason.
pub fn explain(t: &Target) -> Result<(), CliError> {
    let b = build(t, None, None, None)?;
    let s = b.exec.schedule();
    let m = &s.module;
    let mut o = String::new();
    let _ = writeln!(o, "fetch: {}", b.fetch_names.join(", "));
    let _ = writeln!(o, "{} step(s); fused:", s.steps.len());
    for (i, step) in s.steps.iter().enumerate() {
        let name = s.step_name(i);
        match step {
            Step::Loop(k) if k.epilogue_of.is_some() => {
                let target = k.epilogue_of.map(|v| m.op(v).name.clone()).unwrap_or_default();
                let _ = writeln!(
                    o,
                    "  {name}: {} -- the epilogue of %{target}: its GEMM applies it to each tile in registers, so \
                     this kernel runs only when the GEMM goes to the library",
                    ops(m, &k.provenance).join(", ")
                );
            }
            Step::Loop(k) => {
                let why = if k.nests.len() > 1 {
                    let kinds: Vec<String> = k.nests.iter().map(nest_kind).collect();
                    format!(
                        "{} independent loop nests merged into one kernel, one call instead of {} (no data flows \
                         between them): {}",
                        k.nests.len(),
                        k.nests.len(),
                        kinds.join("; ")
                    )
                } else {
                    nest_kind(&k.nests[0])
                };
                let _ = writeln!(o, "  {name}: {} -- {why}", ops(m, &k.provenance).join(", "));
            }
            Step::MatMul(mm) => {
                let epi = match &mm.epilogue {
                    Some(e) => format!(
                        " + epilogue {} -- applied to each output tile while it is in registers{}",
                        s.step_ops(i)
                            .iter()
                            .skip(1)
                            .map(|&v| format!("%{}", m.op(v).name))
                            .collect::<Vec<_>>()
                            .join(", "),
                        if e.store_out { "" } else { "; the product itself is never stored" }
                    ),
                    None => String::new(),
                };
                let operands = &m.op(mm.out).operands;
                let views = if operands.iter().any(|&u| u != mm.a.buf && u != mm.b.buf) {
                    " (transposes and slices folded into operand strides)"
                } else {
                    ""
                };
                let _ = writeln!(o, "  {name}: %{}{epi}{views}", m.op(mm.out).name);
            }
            Step::Host(h) => {
                let _ = writeln!(o, "  {name}: %{} -- on the interpreter: {}", m.op(h.value).name, h.reason);
            }
        }
    }
    let _ = writeln!(o, "refused ({}):", s.refusals.len());
    for r in &s.refusals {
        let _ = writeln!(o, "  {}", r.print(m));
    }
    print!("{o}");
    Ok(())
}

/// What one loop nest does, for `explain`.
fn nest_kind(n: &kiln::passes::schedule::LoopNest) -> String {
    let space = kiln::ir::Shape(n.space.clone());
    let reduces = n.outputs.iter().filter(|o| matches!(o.mode, OutMode::Reduce(_))).count();
    if reduces > 0 {
        format!("a reduction fused with its elementwise producers over {space}: one pass, no intermediate buffers")
    } else if n.nodes.len() > n.inputs.len() + 1 {
        format!("an elementwise chain over {space}: one loop, intermediates stay in registers")
    } else {
        format!("a copy or single op over {space}")
    }
}

/// What a kernel came from, as `%name` strings.
fn ops(m: &kiln::ir::Module, from: &[Origin]) -> Vec<String> {
    from.iter().map(|o| o.print(m)).collect()
}
