//! The pass manager: the IR passes (expand_argmax, simplify, CSE, DCE, simplify,
//! split_masks, DCE) and then the stages below the IR (fusion, the ABI, buffer
//! planning), all run through one driver ([`crate::stage::run_stages`]) that verifies
//! after each (in debug builds, tests, and on request) and dumps each by name.

use crate::buffer_plan::PlanOptions;
use crate::fusion::FusionOptions;
use crate::rewrite::compose;
use crate::stage::{run_stages, AbiStage, Dumper, FusionStage, PlanStage, Program, Stage};
use crate::{cse, dce, expand_argmax, simplify, split_masks, PassError};
use kiln_ir::{Module, ValueId};
use std::path::PathBuf;
use std::time::Duration;

/// The IR passes `optimize` runs, by name (simplify and DCE run twice, see
/// [`IR_PASSES`]). [`lower`] follows them with the stages below the IR: `fusion`, `abi`
/// and `buffer_plan`.
pub const PASSES: &[&str] = &["expand_argmax", "simplify", "cse", "dce", "split_masks"];

/// The stages below the IR, by name, in order.
pub const LOWER_STAGES: &[&str] = &["fusion", "abi", "buffer_plan"];

/// Pipeline knobs.
#[derive(Clone, Debug, Default)]
pub struct PipelineOptions {
    /// Verify after every pass even in release builds.
    pub verify: bool,
    /// Write `NNNN.<pass>.ir` after each pass into this directory (`KILN_DUMP`).
    pub dump_dir: Option<PathBuf>,
    /// Only dump passes whose name matches this regex (`KILN_DUMP_PASS_RE`); the
    /// input module is dumped as pass `input`.
    pub dump_filter: Option<regex::Regex>,
    /// Passes to skip by name.
    pub disabled: Vec<String>,
}

impl PipelineOptions {
    /// Options from `KILN_DUMP`, `KILN_DUMP_PASS_RE` and `KILN_VERIFY` (verify after
    /// every pass in a release build too; CI's tests run with it).
    pub fn from_env() -> PipelineOptions {
        PipelineOptions {
            verify: std::env::var("KILN_VERIFY").is_ok_and(|v| !v.is_empty() && v != "0"),
            dump_dir: std::env::var_os("KILN_DUMP").map(PathBuf::from),
            // an invalid regex matches as plain text rather than failing a run
            dump_filter: std::env::var("KILN_DUMP_PASS_RE").ok().map(|re| {
                regex::Regex::new(&re).unwrap_or_else(|_| regex::Regex::new(&regex::escape(&re)).expect("escaped"))
            }),
            disabled: Vec::new(),
        }
    }
}

/// What one pass did.
#[derive(Clone, Debug)]
pub struct PassRecord {
    /// Pass name.
    pub name: &'static str,
    /// Whether it changed the module.
    pub changed: bool,
    /// Wall time.
    pub time: Duration,
}

/// The optimized module, its roots and the old-to-new value map.
pub struct Optimized {
    /// The module after every pass.
    pub module: Module,
    /// The roots, renumbered.
    pub roots: Vec<ValueId>,
    /// Old value index to new value.
    pub remap: Vec<Option<ValueId>>,
    /// One record per pass run.
    pub records: Vec<PassRecord>,
}

/// An IR pass as a stage: rewrites the module and its roots, and may renumber them.
pub struct IrPass {
    /// The pass's name.
    pub name: &'static str,
    /// The pass: whether it changed the module, and its renumbering if it made one.
    pub run: IrPassFn,
}

/// A renumbering of values: old index to new value (`None`: removed).
pub type Renumbering = Vec<Option<ValueId>>;

/// The signature every IR pass is adapted to (see [`IR_PASSES`]): whether it changed
/// the module, and its renumbering if it made one.
pub type IrPassFn = fn(&mut Module, &mut [ValueId]) -> Result<(bool, Option<Renumbering>), PassError>;

impl Stage for IrPass {
    fn name(&self) -> &'static str {
        self.name
    }
    fn run(&self, p: &mut Program) -> Result<bool, PassError> {
        let (changed, map) = (self.run)(&mut p.module, &mut p.roots)?;
        if let Some(map) = map {
            p.remap = compose(&p.remap, &map);
        }
        Ok(changed)
    }
    fn verify(&self, p: &Program) -> Result<(), PassError> {
        kiln_ir::verify(&p.module).map_err(|e| PassError {
            pass: self.name,
            op: e.at.clone().unwrap_or_default(),
            message: e.to_string(),
        })
    }
    fn print(&self, p: &Program) -> String {
        kiln_ir::print(&p.module)
    }
    fn extension(&self) -> &'static str {
        "ir"
    }
}

/// DCE's adapter: changed when it removed ops.
fn dce_pass(m: &mut Module, r: &mut [ValueId]) -> Result<(bool, Option<Renumbering>), PassError> {
    let before = m.ops.len();
    let map = dce::run(m, r)?;
    Ok((m.ops.len() != before, Some(map)))
}

/// The IR passes in order, each adapted to [`IrPassFn`] once, here.
pub const IR_PASSES: [IrPass; 7] = [
    IrPass { name: "expand_argmax", run: |m, r| expand_argmax::run(m, r).map(|map| (map.is_some(), map)) },
    IrPass { name: "simplify", run: |m, r| simplify::run(m, r).map(|c| (c, None)) },
    IrPass { name: "cse", run: |m, r| cse::run(m, r).map(|c| (c, None)) },
    IrPass { name: "dce", run: dce_pass },
    IrPass { name: "simplify", run: |m, r| simplify::run(m, r).map(|c| (c, None)) },
    IrPass { name: "split_masks", run: |m, r| split_masks::run(m, r).map(|map| (map.is_some(), map)) },
    // the last simplify may leave dead constants behind
    IrPass { name: "dce", run: dce_pass },
];

/// Runs the IR passes on `p`, dumping the input first.
fn run_ir(
    p: &mut Program,
    opts: &PipelineOptions,
    dumper: &mut Dumper,
    records: &mut Vec<PassRecord>,
) -> Result<(), PassError> {
    dumper.dump("input", "ir", || kiln_ir::print(&p.module));
    let stages: Vec<&dyn Stage> = IR_PASSES.iter().map(|s| s as &dyn Stage).collect();
    run_stages(p, &stages, opts, dumper, records)
}

/// Runs the IR passes on a copy of `m` for `roots`.
pub fn optimize(m: &Module, roots: &[ValueId], opts: &PipelineOptions) -> Result<Optimized, PassError> {
    let mut p = Program::new(m, roots);
    let mut records = Vec::new();
    run_ir(&mut p, opts, &mut Dumper::new(opts), &mut records)?;
    Ok(Optimized { module: p.module, roots: p.roots, remap: p.remap, records })
}

/// Everything below the IR a compile needs, from one run of every stage.
pub struct Lowered {
    /// The program with its schedule, ABI and plan.
    pub program: Program,
    /// One record per stage run.
    pub records: Vec<PassRecord>,
}

/// Runs every stage on a copy of `m` for `roots`: the IR passes, then fusion, the ABI
/// and buffer planning, each verified when asked and dumped by name.
pub fn lower(
    m: &Module,
    roots: &[ValueId],
    opts: &PipelineOptions,
    fusion: &FusionOptions,
    plan: PlanOptions,
) -> Result<Lowered, PassError> {
    lower_with(m, roots, opts, fusion, plan, &[])
}

/// [`lower`], then `below`: stages of later crates (codegen), run by the same driver,
/// verified and dumped in the same sequence.
pub fn lower_with(
    m: &Module,
    roots: &[ValueId],
    opts: &PipelineOptions,
    fusion: &FusionOptions,
    plan: PlanOptions,
    below: &[&dyn Stage],
) -> Result<Lowered, PassError> {
    let mut p = Program::new(m, roots);
    let mut records = Vec::new();
    let mut dumper = Dumper::new(opts);
    run_ir(&mut p, opts, &mut dumper, &mut records)?;
    let (f, a, b) = (FusionStage(fusion.clone()), AbiStage, PlanStage(plan));
    let mut stages: Vec<&dyn Stage> = vec![&f, &a, &b];
    stages.extend_from_slice(below);
    run_stages(&mut p, &stages, opts, &mut dumper, &mut records)?;
    Ok(Lowered { program: p, records })
}
