//! One contract for every stage of compilation, as XLA's `HloPassInterface` and MLIR's
//! `PassManager` have one for every pass: a [`Stage`] has a name, a run, a verify and a
//! print. The IR passes, fusion, the kernel ABI and buffer planning are all stages over
//! one [`Program`], run by one driver ([`run_stages`]) that verifies after each stage
//! on request and dumps each stage's output as text by name.
//!
//! What each hands the next: IR passes rewrite `Program::module`; fusion makes
//! `Program::schedule` from it; the ABI stage makes `Program::abi` from the schedule;
//! buffer planning makes `Program::plan`. Codegen (in `kiln-codegen`) compiles the
//! schedule against the ABI, and the runtime binds the plan.

use crate::abi::Abi;
use crate::buffer_plan::{BufferPlan, PlanOptions};
use crate::fusion::FusionOptions;
use crate::pipeline::{PassRecord, PipelineOptions};
use crate::schedule::Schedule;
use crate::PassError;
use kiln_ir::{Module, ValueId};
use std::time::Instant;

/// A program on its way down: the IR and, once their stages ran, the schedule, the ABI
/// and the buffer plan.
#[derive(Clone, Debug)]
pub struct Program {
    /// The module (rewritten by the IR passes).
    pub module: Module,
    /// The fetched values, renumbered with the module.
    pub roots: Vec<ValueId>,
    /// The input module's value index to the current module's value.
    pub remap: Vec<Option<ValueId>>,
    /// Fusion's output.
    pub schedule: Option<Schedule>,
    /// Every step's call.
    pub abi: Option<Abi>,
    /// Where every buffer lives.
    pub plan: Option<BufferPlan>,
}

impl Program {
    /// A program of a copy of `m` computing `roots`, before any stage.
    pub fn new(m: &Module, roots: &[ValueId]) -> Program {
        Program {
            module: m.clone(),
            roots: roots.to_vec(),
            remap: (0..m.ops.len() as u32).map(|i| Some(ValueId(i))).collect(),
            schedule: None,
            abi: None,
            plan: None,
        }
    }

    fn missing(stage: &'static str, what: &str) -> PassError {
        PassError { pass: stage, op: String::new(), message: format!("runs after the stage that makes the {what}") }
    }

    /// The schedule, or an error naming `stage` that needed it.
    pub fn schedule(&self, stage: &'static str) -> Result<&Schedule, PassError> {
        self.schedule.as_ref().ok_or_else(|| Program::missing(stage, "schedule"))
    }
}

/// One stage of compilation.
pub trait Stage {
    /// The name dumps and `--dump-after` select it by.
    fn name(&self) -> &'static str;
    /// Runs the stage; returns whether it changed the program.
    fn run(&self, p: &mut Program) -> Result<bool, PassError>;
    /// Checks every invariant of what the stage produced.
    fn verify(&self, p: &Program) -> Result<(), PassError>;
    /// What the stage produced, as text that parses back.
    fn print(&self, p: &Program) -> String;
    /// The dump file's extension: `ir`, `schedule`, `abi`, `plan`.
    fn extension(&self) -> &'static str;
}

/// Dumps numbered in order, per driver run.
pub struct Dumper<'o> {
    opts: &'o PipelineOptions,
    next: usize,
}

impl<'o> Dumper<'o> {
    /// A dumper for `opts`, numbering from 0.
    pub fn new(opts: &'o PipelineOptions) -> Dumper<'o> {
        Dumper { opts, next: 0 }
    }

    /// Writes `text` as `NNNN.name.ext` when dumping and `name` passes the filter. A
    /// dump that cannot be written is skipped: it never fails a compile.
    pub fn dump(&mut self, name: &str, ext: &str, text: impl FnOnce() -> String) {
        let Some(dir) = &self.opts.dump_dir else { return };
        if self.opts.dump_filter.as_ref().is_some_and(|f| !f.is_match(name)) {
            return;
        }
        let _ = std::fs::create_dir_all(dir);
        let _ = std::fs::write(dir.join(format!("{:04}.{name}.{ext}", self.next)), text());
        self.next += 1;
    }
}

/// Runs `stages` in order over `p`: each run, verified when asked (and in debug
/// builds), dumped when asked, and recorded.
pub fn run_stages(
    p: &mut Program,
    stages: &[&dyn Stage],
    opts: &PipelineOptions,
    dumper: &mut Dumper,
    records: &mut Vec<PassRecord>,
) -> Result<(), PassError> {
    let check = opts.verify || cfg!(debug_assertions);
    for stage in stages {
        let name = stage.name();
        if opts.disabled.iter().any(|d| d == name) {
            continue;
        }
        let t0 = Instant::now();
        let changed = stage.run(p)?;
        records.push(PassRecord { name, changed, time: t0.elapsed() });
        // dumped before it is verified, so output the verifier refuses can be read
        dumper.dump(name, stage.extension(), || stage.print(p));
        if check {
            stage.verify(p)?;
        }
    }
    Ok(())
}

/// A stage's text must parse back and print the same: what `--dump-after` writes is
/// then exactly what the stage handed on (checked whenever stages are verified).
fn round_trip(pass: &'static str, text: &str, back: Result<String, String>) -> Result<(), PassError> {
    let message = match back {
        Ok(b) if b == text => return Ok(()),
        Ok(b) => {
            let at = text.lines().zip(b.lines()).position(|(x, y)| x != y).unwrap_or(0);
            format!("its text prints differently once parsed back, from line {}", at + 1)
        }
        Err(e) => format!("its text does not parse back: {e}"),
    };
    Err(PassError { pass, op: String::new(), message })
}

/// Fusion as a stage: the module becomes a schedule.
pub struct FusionStage(pub FusionOptions);

impl Stage for FusionStage {
    fn name(&self) -> &'static str {
        "fusion"
    }
    fn run(&self, p: &mut Program) -> Result<bool, PassError> {
        p.schedule = Some(crate::fusion::run(&p.module, &p.roots, &self.0)?);
        Ok(true)
    }
    fn verify(&self, p: &Program) -> Result<(), PassError> {
        let s = p.schedule("fusion")?;
        crate::schedule::verify(s).map_err(|e| PassError {
            pass: "fusion",
            op: e.step.clone(),
            message: e.to_string(),
        })?;
        let text = s.print();
        let back = crate::schedule::parse(&text, s.module.clone()).map(|b| b.print());
        round_trip("fusion", &text, back.map_err(|e| e.to_string()))
    }
    fn print(&self, p: &Program) -> String {
        p.schedule.as_ref().map_or_else(String::new, Schedule::print)
    }
    fn extension(&self) -> &'static str {
        "schedule"
    }
}

/// The kernel ABI as a stage: every step's call.
pub struct AbiStage;

impl Stage for AbiStage {
    fn name(&self) -> &'static str {
        "abi"
    }
    fn run(&self, p: &mut Program) -> Result<bool, PassError> {
        p.abi = Some(crate::abi::run(p.schedule("abi")?));
        Ok(true)
    }
    fn verify(&self, p: &Program) -> Result<(), PassError> {
        let abi = p.abi.as_ref().ok_or_else(|| Program::missing("abi", "ABI"))?;
        let s = p.schedule("abi")?;
        crate::abi::verify(s, abi).map_err(|e| PassError { pass: "abi", op: e.step.clone(), message: e.message })?;
        let text = abi.print(s);
        let back = crate::abi::parse(&text).map(|(names, a)| a.print_named(&names));
        round_trip("abi", &text, back.map_err(|e| e.to_string()))
    }
    fn print(&self, p: &Program) -> String {
        match (&p.abi, &p.schedule) {
            (Some(a), Some(s)) => a.print(s),
            _ => String::new(),
        }
    }
    fn extension(&self) -> &'static str {
        "abi"
    }
}

/// Buffer planning as a stage: where every buffer lives, for every binding.
pub struct PlanStage(pub PlanOptions);

impl Stage for PlanStage {
    fn name(&self) -> &'static str {
        "buffer_plan"
    }
    fn run(&self, p: &mut Program) -> Result<bool, PassError> {
        p.plan = Some(crate::buffer_plan::run(p.schedule("buffer_plan")?, self.0));
        Ok(true)
    }
    fn verify(&self, p: &Program) -> Result<(), PassError> {
        let plan = p.plan.as_ref().ok_or_else(|| Program::missing("buffer_plan", "plan"))?;
        let s = p.schedule("buffer_plan")?;
        crate::buffer_plan::verify(s, plan).map_err(|message| PassError {
            pass: "buffer_plan",
            op: String::new(),
            message,
        })?;
        let text = plan.print(s);
        round_trip("buffer_plan", &text, crate::buffer_plan::parse(&text, s).map(|b| b.print(s)))
    }
    fn print(&self, p: &Program) -> String {
        match (&p.plan, &p.schedule) {
            (Some(plan), Some(s)) => plan.print(s),
            _ => String::new(),
        }
    }
    fn extension(&self) -> &'static str {
        "plan"
    }
}
