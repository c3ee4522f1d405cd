//! Codegen as the last stage of the pipeline, behind the same contract as the others
//! (`kiln_passes::stage::Stage`: a name, a run, a verify, a print). Its output, the
//! compiled kernels, is a type of this crate, which the passes cannot name (data flows
//! one way), so the stage keeps it until the runtime takes it.

use crate::{compile, CodegenOptions, CompiledKernel, Jit, KernelKind};
use kiln_passes::abi::CallKind;
use kiln_passes::stage::{Program, Stage};
use kiln_passes::PassError;
use std::sync::Mutex;

/// What codegen made: the JIT memory and one kernel per step, in step order.
pub struct Compiled {
    /// Owns the kernels' code.
    pub jit: Jit,
    /// One per schedule step.
    pub kernels: Vec<CompiledKernel>,
}

/// Codegen as a stage: every step of the program's schedule compiled from its call.
pub struct CodegenStage {
    opts: CodegenOptions,
    out: Mutex<Option<Compiled>>,
}

impl CodegenStage {
    /// A stage compiling with `opts`.
    pub fn new(opts: CodegenOptions) -> CodegenStage {
        CodegenStage { opts, out: Mutex::new(None) }
    }

    /// The kernels the last run made (once).
    pub fn take(&self) -> Option<Compiled> {
        self.out.lock().ok()?.take()
    }
}

fn err(op: String, message: impl std::fmt::Display) -> PassError {
    PassError { pass: "codegen", op, message: message.to_string() }
}

impl Stage for CodegenStage {
    fn name(&self) -> &'static str {
        "codegen"
    }

    fn run(&self, p: &mut Program) -> Result<bool, PassError> {
        let s = p.schedule("codegen")?;
        let abi = p.abi.as_ref().ok_or_else(|| err(String::new(), "no ABI to compile from"))?;
        let (jit, kernels) = compile(s, abi, &self.opts).map_err(|e| err(e.kernel, e.message))?;
        *self.out.lock().map_err(|_| err(String::new(), "a compile panicked"))? = Some(Compiled { jit, kernels });
        Ok(true)
    }

    /// One kernel per step, named as the step, of the kind its call implies. (Each
    /// function passed Cranelift's own verifier when stages are verified.)
    fn verify(&self, p: &Program) -> Result<(), PassError> {
        let s = p.schedule("codegen")?;
        let abi = p.abi.as_ref().ok_or_else(|| err(String::new(), "no ABI"))?;
        let out = self.out.lock().map_err(|_| err(String::new(), "a compile panicked"))?;
        let c = out.as_ref().ok_or_else(|| err(String::new(), "the stage has not run"))?;
        if c.kernels.len() != s.steps.len() {
            return Err(err(String::new(), format!("{} kernels for {} steps", c.kernels.len(), s.steps.len())));
        }
        for (i, (k, call)) in c.kernels.iter().zip(&abi.calls).enumerate() {
            let name = s.step_name(i);
            let kind_ok = match call.kind {
                CallKind::Loop { deferred } => k.kind == if deferred { KernelKind::Deferred } else { KernelKind::Loop },
                CallKind::MatMul(m) => k.kind == KernelKind::MatMul(m),
                CallKind::Host => k.kind == KernelKind::Host,
            };
            if k.name != name || !kind_ok {
                return Err(err(name, format!("compiled as {} ({:?}), its call is {:?}", k.name, k.kind, call.kind)));
            }
        }
        Ok(())
    }

    /// Each kernel's CLIF (when kept: dumping keeps it), headed by its name and kind.
    fn print(&self, _p: &Program) -> String {
        let Ok(out) = self.out.lock() else { return String::new() };
        let Some(c) = out.as_ref() else { return String::new() };
        let mut text = String::new();
        for k in &c.kernels {
            text.push_str(&format!("; kernel {} ({:?})\n", k.name, k.kind));
            text.push_str(k.clif.as_deref().unwrap_or("; (CLIF not kept)\n"));
            text.push('\n');
        }
        text
    }

    fn extension(&self) -> &'static str {
        "clif"
    }
}
