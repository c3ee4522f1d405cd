//! The pass manager: expand_argmax, simplify, CSE, DCE, simplify and split_masks in order, verifying
//! after each pass (in debug builds, tests, and on request) and dumping the IR after
//! each pass by name.

use crate::rewrite::compose;
use crate::{cse, dce, expand_argmax, simplify, split_masks, PassError};
use kiln_ir::{Module, ValueId};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The passes `optimize` runs, by name, in order (simplify runs twice). Fusion follows
/// as its own stage (`fusion::run`).
pub const PASSES: &[&str] = &["expand_argmax", "simplify", "cse", "dce", "split_masks"];

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

/// Runs the pipeline on a copy of `m` for `roots`.
pub fn optimize(m: &Module, roots: &[ValueId], opts: &PipelineOptions) -> Result<Optimized, PassError> {
    let mut module = m.clone();
    let mut roots = roots.to_vec();
    let mut remap: Vec<Option<ValueId>> = (0..m.ops.len() as u32).map(|i| Some(ValueId(i))).collect();
    let mut records = Vec::new();
    let check = opts.verify || cfg!(debug_assertions);
    let mut dumped = 0;
    let mut dump = |name: &str, module: &Module| {
        if let Some(dir) = &opts.dump_dir {
            if opts.dump_filter.as_ref().is_none_or(|f| f.is_match(name)) {
                let _ = std::fs::create_dir_all(dir);
                let _ = std::fs::write(dir.join(format!("{dumped:04}.{name}.ir")), kiln_ir::print(module));
                dumped += 1;
            }
        }
    };
    dump("input", &module);
    type Pass = fn(&mut Module, &mut Vec<ValueId>) -> Result<(bool, Option<Vec<Option<ValueId>>>), PassError>;
    let passes: [(&'static str, Pass); 6] = [
        ("expand_argmax", |m, r| expand_argmax::run(m, r).map(|map| (map.is_some(), map))),
        ("simplify", |m, r| simplify::run(m, r).map(|c| (c, None))),
        ("cse", |m, r| cse::run(m, r).map(|c| (c, None))),
        ("dce", |m, r| {
            let before = m.ops.len();
            let map = dce::run(m, r)?;
            Ok((m.ops.len() != before, Some(map)))
        }),
        ("simplify", |m, r| simplify::run(m, r).map(|c| (c, None))),
        ("split_masks", |m, r| split_masks::run(m, r).map(|map| (map.is_some(), map))),
    ];
    for (name, pass) in passes {
        if opts.disabled.iter().any(|d| d == name) {
            continue;
        }
        let t0 = Instant::now();
        let (changed, map) = pass(&mut module, &mut roots)?;
        if let Some(map) = map {
            remap = compose(&remap, &map);
        }
        records.push(PassRecord { name, changed, time: t0.elapsed() });
        if check {
            kiln_ir::verify(&module).map_err(|e| PassError {
                pass: name,
                op: e.at.clone().unwrap_or_default(),
                message: e.to_string(),
            })?;
        }
        dump(name, &module);
    }
    // the last simplify may leave dead constants behind
    let map = dce::run(&mut module, &mut roots)?;
    remap = compose(&remap, &map);
    Ok(Optimized { module, roots, remap, records })
}
