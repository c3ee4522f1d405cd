//! From a module to an [`Executable`]: the pass pipeline, fusion and codegen, with the
//! switches and dumps the `kiln` CLI and `KILN_DUMP` expose, and a report of what each
//! stage took.

use crate::exec::Executable;
use kiln_codegen::CodegenOptions;
use kiln_ir::{Module, ValueId};
use kiln_passes::buffer_plan::PlanOptions;
use kiln_passes::fusion::FusionOptions;
use kiln_passes::pipeline::{PassRecord, PipelineOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Everything that decides how a module is compiled.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// The pass pipeline: disabled passes, per-pass IR dumps.
    pub pipeline: PipelineOptions,
    /// Fusion on or off.
    pub fusion: FusionOptions,
    /// Codegen switches (keep CLIF or assembly text, verifier).
    pub codegen: CodegenOptions,
    /// Buffer planning switches (check mode gives every buffer its own slot).
    pub plan: PlanOptions,
    /// Write `schedule.txt`, `fused.dot` and each kernel's `.clif` and `.s` here.
    pub dump_dir: Option<PathBuf>,
}

/// Numbers the executables a process dumps, so that each gets its own directory.
static DUMPS: AtomicUsize = AtomicUsize::new(0);

impl BuildOptions {
    /// Options from the environment: `KILN_DUMP=DIR` dumps every executable the process
    /// compiles into `DIR/NNN.<first fetch>/` (per-pass IR, schedule, CLIF, assembly);
    /// `KILN_DUMP_PASS_RE` picks the passes whose IR is written; `KILN_VERIFY=1` runs
    /// the IR verifier after every pass and Cranelift's verifier on every kernel;
    /// `KILN_THOROUGH=1` compiles every kernel with Cranelift's full optimizer and
    /// register allocator, however large ([`CodegenOptions::thorough`]).
    pub fn from_env(m: &Module, roots: &[ValueId], mut codegen: CodegenOptions) -> BuildOptions {
        let mut pipeline = PipelineOptions::from_env();
        codegen.verify |= pipeline.verify;
        codegen.thorough |= std::env::var("KILN_THOROUGH").is_ok_and(|v| v == "1");
        let dump_dir = pipeline.dump_dir.take().map(|base| {
            let n = DUMPS.fetch_add(1, Ordering::Relaxed);
            let first = roots.first().map_or("module".to_string(), |&r| m.op(r).name.replace('/', "_"));
            base.join(format!("{n:03}.{first}"))
        });
        pipeline.dump_dir = dump_dir.clone();
        BuildOptions { pipeline, fusion: FusionOptions::default(), codegen, plan: PlanOptions::default(), dump_dir }
    }
}

/// What building an executable took.
#[derive(Clone, Debug, Default)]
pub struct BuildReport {
    /// One record per pass run, in order, with its time.
    pub passes: Vec<PassRecord>,
    /// Time spent below the IR before codegen: fusion, the ABI and buffer planning.
    pub fusion: Duration,
    /// Time spent in Cranelift.
    pub codegen: Duration,
    /// From module to executable.
    pub total: Duration,
}

impl Executable {
    /// Optimizes `m` for `roots` (simplify, CSE, DCE), fuses and compiles it.
    ///
    /// The module is verified first (it may come from anywhere through this public
    /// entry), so a malformed one is an error here, not a panic in a later stage.
    pub fn build(m: &Module, roots: &[ValueId], opts: &BuildOptions) -> Result<Executable, String> {
        let t0 = Instant::now();
        kiln_ir::verify(m).map_err(|e| e.to_string())?;
        if let Some(r) = roots.iter().find(|r| r.index() >= m.ops.len()) {
            return Err(format!("root {} is not a value of the module ({} values)", r.index(), m.ops.len()));
        }
        let mut codegen = opts.codegen.clone();
        if opts.dump_dir.is_some() || opts.pipeline.dump_dir.is_some() {
            codegen.keep_clif = true;
            codegen.keep_asm |= opts.dump_dir.is_some();
        }
        // every stage down to the kernels, verified and dumped by one driver
        let codegen_stage = kiln_codegen::stage::CodegenStage::new(codegen.clone());
        let lowered =
            kiln_passes::pipeline::lower_with(m, roots, &opts.pipeline, &opts.fusion, opts.plan, &[&codegen_stage])
                .map_err(|e| e.to_string())?;
        let p = lowered.program;
        let missing = |what: &str| format!("lowering made no {what} (a kiln bug)");
        let schedule = p.schedule.ok_or_else(|| missing("schedule"))?;
        let abi = p.abi.ok_or_else(|| missing("ABI"))?;
        let plan = p.plan.ok_or_else(|| missing("buffer plan"))?;
        let compiled = codegen_stage.take().ok_or_else(|| missing("kernels"))?;
        let mut exec = Executable::new(schedule, abi, plan, compiled, &codegen).map_err(|e| e.to_string())?;
        let t2 = Instant::now();
        exec.set_remap(&p.remap);
        let below_ir = |r: &&PassRecord| kiln_passes::pipeline::LOWER_STAGES.contains(&r.name);
        let fusion = lowered.records.iter().filter(below_ir).map(|r| r.time).sum();
        let codegen_time = lowered.records.iter().filter(|r| r.name == "codegen").map(|r| r.time).sum();
        exec.report = BuildReport { passes: lowered.records, fusion, codegen: codegen_time, total: t2 - t0 };
        if let Some(dir) = &opts.dump_dir {
            exec.dump(dir).map_err(|e| format!("dump to {}: {e}", dir.display()))?;
        }
        Ok(exec)
    }

    /// Writes the fused schedule (`schedule.txt`, `fused.dot`) and each kernel's CLIF
    /// and assembly (if kept), headed by the IR ops it came from, into `dir`.
    pub fn dump(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("schedule.txt"), self.schedule.print())?;
        std::fs::write(dir.join("fused.dot"), self.schedule.to_dot())?;
        for (i, k) in self.kernels().iter().enumerate() {
            let from: Vec<String> = k.provenance.iter().map(|o| o.print(&self.schedule.module)).collect();
            let head = format!("; kernel {} ({:?})\n; from: {}\n", k.name, k.kind, from.join(", "));
            if let Some(c) = &k.clif {
                std::fs::write(dir.join(format!("kernel.{i:02}.{}.clif", k.name)), format!("{head}{c}"))?;
            }
            if let Some(a) = &k.asm {
                std::fs::write(dir.join(format!("kernel.{i:02}.{}.s", k.name)), format!("{head}{a}"))?;
            }
        }
        Ok(())
    }
}
