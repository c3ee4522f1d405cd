//! kiln's code generator: each fused loop kernel of a [`Schedule`] becomes one
//! Cranelift function, JIT-compiled for this CPU. Symbolic dims are run-time arguments,
//! so a graph compiles once whatever its batch size.
//!
//! The functions take one pointer to an argument block laid out by the kernel ABI
//! ([`kiln_passes::abi`]): codegen emits every load from the step's call, and the
//! runtime fills the same call from verified shapes, so every address a kernel forms
//! is in bounds.
#![warn(missing_docs)]

mod cascade;
mod emit;
mod math;
pub mod matmul;
mod padded;
pub mod stage;
mod transpose;
mod typed;

use cranelift_codegen::ir::types::*;
use cranelift_codegen::ir::{AbiParam, InstBuilder, UserFuncName};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};
use kiln_passes::abi::{Abi, CallAbi, CallKind};
use kiln_passes::schedule::{step_name, LoopKernel, Origin, Schedule, Step};
pub use matmul::MatMulKind;

/// A kernel entry point: a pointer to its argument block.
pub type KernelFn = unsafe extern "C" fn(*const i64);

/// Code generation failed (a Cranelift error; a bug in kiln, not in the user's graph).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("codegen: kernel {kernel}: {message}")]
pub struct CodegenError {
    /// The kernel being compiled.
    pub kernel: String,
    /// Cranelift's message.
    pub message: String,
}

/// Knobs for code generation.
#[derive(Clone, Debug, Default)]
pub struct CodegenOptions {
    /// Keep each kernel's CLIF text.
    pub keep_clif: bool,
    /// Keep each kernel's disassembly.
    pub keep_asm: bool,
    /// Run Cranelift's verifier (on in debug builds regardless).
    pub verify: bool,
    /// Allocate registers with the backtracking allocator in every kernel, however
    /// large (see [`LARGE_KERNEL_INSTS`]): slower compiles of long fused chains, for
    /// slightly faster kernels.
    pub thorough: bool,
    /// Test hook: the named kernel adds 1 to every value it stores, so tests can show
    /// that check mode catches a wrong kernel.
    #[doc(hidden)]
    pub sabotage: Option<String>,
}

/// What a compiled kernel computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelKind {
    /// A fused loop kernel.
    Loop,
    /// A small-matrix GEMM micro-kernel.
    MatMul(MatMulKind),
    /// An op the runtime runs on the interpreter: an empty function keeps one
    /// compiled entry per step.
    Host,
    /// The epilogue of a GEMM whose micro-kernel applies it in registers: an empty
    /// function until the GEMM goes to the library for some batch size, when the
    /// runtime compiles it ([`compile_kernels`]). Most never are.
    Deferred,
}

/// One compiled kernel, for one step of the schedule.
pub struct CompiledKernel {
    /// Its name (`fusion.3`, `matmul.4`).
    pub name: String,
    /// Loop kernel or GEMM micro-kernel.
    pub kind: KernelKind,
    /// The entry point; valid while the owning [`Jit`] lives.
    pub func: KernelFn,
    /// What it computes (print with [`Origin::print`]).
    pub provenance: Vec<Origin>,
    /// CLIF text, if kept.
    pub clif: Option<String>,
    /// Disassembly, if kept.
    pub asm: Option<String>,
}

/// Owns the JIT memory of a set of kernels and frees it on drop.
pub struct Jit {
    module: Option<JITModule>,
}

impl Drop for Jit {
    fn drop(&mut self) {
        if let Some(m) = self.module.take() {
            // SAFETY: the kernels' function pointers live in `CompiledKernel`s that the
            // runtime drops together with (and before) this `Jit`.
            unsafe { m.free_memory() };
        }
    }
}

// SAFETY: finalized JIT code is immutable; the module is only touched on drop.
unsafe impl Send for Jit {}

extern "C" fn kiln_powf(x: f32, y: f32) -> f32 {
    x.powf(y)
}

fn cg_err(kernel: &str, e: impl std::fmt::Display) -> CodegenError {
    CodegenError { kernel: kernel.to_string(), message: e.to_string() }
}

/// Compiles every step of `s` (loop kernels and matmul micro-kernels), in step order,
/// into one JIT module (one finalize: one set of pages), each from its call in `abi`.
/// The schedule must pass [`kiln_passes::schedule::verify`] and the ABI
/// [`kiln_passes::abi::verify`]; what does not is refused, not compiled.
pub fn compile(s: &Schedule, abi: &Abi, opts: &CodegenOptions) -> Result<(Jit, Vec<CompiledKernel>), CodegenError> {
    kiln_passes::schedule::verify(s).map_err(|e| CodegenError { kernel: e.step.clone(), message: e.to_string() })?;
    kiln_passes::abi::verify(s, abi).map_err(|e| CodegenError { kernel: e.step.clone(), message: e.to_string() })?;
    let steps: Vec<(String, &Step, &CallAbi)> =
        s.steps.iter().zip(&abi.calls).enumerate().map(|(i, (st, c))| (step_name(st, i), st, c)).collect();
    compile_steps(&steps, false, opts)
}

/// Compiles the given loop kernels alone, deferred or not, each with its call: kernels
/// of a schedule [`compile`] accepted (the runtime compiles a deferred epilogue this
/// way once its GEMM goes to the library).
pub fn compile_kernels(
    kernels: &[(&LoopKernel, &CallAbi)],
    opts: &CodegenOptions,
) -> Result<(Jit, Vec<CompiledKernel>), CodegenError> {
    let steps: Vec<(Step, &CallAbi)> = kernels.iter().map(|(k, c)| (Step::Loop((*k).clone()), *c)).collect();
    let refs: Vec<(String, &Step, &CallAbi)> =
        steps.iter().enumerate().map(|(i, (s, c))| (step_name(s, i), s, *c)).collect();
    compile_steps(&refs, true, opts)
}

/// Loop kernels with more CLIF instructions than this get the single-pass register
/// allocator. Compile time is about linear in instructions, and backtracking allocation
/// was most of it for long fused chains. On a 10,000-op `tanh` gradient (79 kernels of
/// up to 26,000 instructions) the single pass cuts codegen by about 40 %, and those
/// kernels run about 7 % slower. GEMM micro-kernels are register-bound and keep the
/// backtracking allocator. [`CodegenOptions::thorough`] (`KILN_THOROUGH=1`) turns the
/// tiers off.
pub const LARGE_KERNEL_INSTS: usize = 4096;

/// Loop kernels with more CLIF instructions than this are also compiled without the
/// e-graph optimizer: a further 15-25 % off that gradient's build; with both tiers its
/// kernels run about 20 % slower than with [`CodegenOptions::thorough`]. Kernels this
/// large come only from hundreds of fused ops.
pub const HUGE_KERNEL_INSTS: usize = 16384;

/// Compiles `ctx` with `isa` (not the module's) and defines the code as `fid`: what
/// `JITModule::define_function` does, for a function that gets other flags.
fn define_with(
    module: &mut JITModule,
    isa: &dyn cranelift_codegen::isa::TargetIsa,
    fid: cranelift_module::FuncId,
    ctx: &mut cranelift_codegen::Context,
) -> Result<(), String> {
    let res = ctx.compile(isa, &mut Default::default()).map_err(|x| format!("{:?}", x.inner))?;
    let align =
        u64::from(res.buffer.alignment).max(u64::from(isa.function_alignment().minimum)).max(isa.symbol_alignment());
    let code = ctx.compiled_code().ok_or("Cranelift returned no code")?;
    let relocs: Vec<cranelift_module::ModuleReloc> = code
        .buffer
        .relocs()
        .iter()
        .map(|r| cranelift_module::ModuleReloc::from_mach_reloc(r, &ctx.func, fid))
        .collect();
    module.define_function_bytes(fid, align, code.code_buffer(), &relocs).map_err(|x| format!("{x:?}"))
}

/// Compiles each step from its call; `late`: deferred epilogues get their bodies.
fn compile_steps(
    steps: &[(String, &Step, &CallAbi)],
    late: bool,
    opts: &CodegenOptions,
) -> Result<(Jit, Vec<CompiledKernel>), CodegenError> {
    let e = |m: &dyn std::fmt::Display| cg_err("<module>", m);
    let mut fb = settings::builder();
    fb.set("opt_level", "speed").map_err(|x| e(&x))?;
    let verify = opts.verify || cfg!(debug_assertions);
    fb.set("enable_verifier", if verify { "true" } else { "false" }).map_err(|x| e(&x))?;
    fb.set("use_colocated_libcalls", "false").map_err(|x| e(&x))?;
    fb.set("is_pic", "false").map_err(|x| e(&x))?;
    let isa =
        cranelift_native::builder().map_err(|x| e(&x))?.finish(settings::Flags::new(fb.clone())).map_err(|x| e(&x))?;
    // the same target with the linear-time register allocator, for very large kernels
    fb.set("regalloc_algorithm", "single_pass").map_err(|x| e(&x))?;
    let large_isa =
        cranelift_native::builder().map_err(|x| e(&x))?.finish(settings::Flags::new(fb.clone())).map_err(|x| e(&x))?;
    // and without the e-graph, for huge ones
    fb.set("opt_level", "none").map_err(|x| e(&x))?;
    let huge_isa =
        cranelift_native::builder().map_err(|x| e(&x))?.finish(settings::Flags::new(fb)).map_err(|x| e(&x))?;
    let mut jb = JITBuilder::with_isa(isa, default_libcall_names());
    jb.symbol("kiln_powf", kiln_powf as *const u8);
    let mut module = JITModule::new(jb);
    let mut pow_sig = module.make_signature();
    pow_sig.params.push(AbiParam::new(F32));
    pow_sig.params.push(AbiParam::new(F32));
    pow_sig.returns.push(AbiParam::new(F32));
    let pow_id = module.declare_function("kiln_powf", Linkage::Import, &pow_sig).map_err(|x| e(&x))?;
    let mut ctx = module.make_context();
    let mut fctx = FunctionBuilderContext::new();
    let mut pending = Vec::new();
    for (i, (name, step, call)) in steps.iter().enumerate() {
        let (name, step, call) = (name.clone(), *step, *call);
        let kind = match call.kind {
            CallKind::Loop { deferred: true } if !late => KernelKind::Deferred,
            CallKind::Loop { .. } => KernelKind::Loop,
            CallKind::MatMul(k) => KernelKind::MatMul(k),
            CallKind::Host => KernelKind::Host,
        };
        let provenance = match step {
            Step::Loop(k) => k.provenance.clone(),
            Step::MatMul(mm) => vec![Origin::Op(mm.out)],
            Step::Host(h) => vec![Origin::Op(h.value)],
        };
        let err = |m: &dyn std::fmt::Display| cg_err(&name, m);
        let mut sig = module.make_signature();
        sig.params.push(AbiParam::new(I64));
        let fid = module.declare_function(&format!("kernel{i}"), Linkage::Local, &sig).map_err(|x| err(&x))?;
        ctx.func.signature = sig;
        ctx.func.name = UserFuncName::user(0, fid.as_u32());
        math::forget_constants();
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
            let powf = module.declare_func_in_func(pow_id, b.func);
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let args = b.block_params(entry)[0];
            let broken = opts.sabotage.as_deref() == Some(name.as_str());
            match kind {
                KernelKind::Loop => {
                    let Step::Loop(k) = step else { return Err(err(&"a loop call for another step")) };
                    for (j, n) in k.nests.iter().enumerate() {
                        emit::emit_nest(&mut b, args, n, call, j, powf, broken, call.splits);
                    }
                }
                KernelKind::Host | KernelKind::Deferred => {}
                KernelKind::MatMul(mk) => {
                    let g = call.gemm.as_ref().ok_or_else(|| err(&"a GEMM call without its block"))?;
                    // a micro-kernel with rows of B applies its fused epilogue in registers:
                    // the call then lays out the epilogue's nest after the block
                    let epilogue = match step {
                        Step::MatMul(mm) => mm.epilogue.as_ref().filter(|_| !call.nests.is_empty()),
                        _ => None,
                    };
                    let epi = epilogue.map(|e| matmul::Epi {
                        nest: &e.nest,
                        layout: &call.nests[0],
                        acc: e.acc_input,
                        powf,
                        store_out: e.store_out,
                    });
                    let known = match step {
                        Step::MatMul(mm) => {
                            let r = mm.a.strides.len();
                            let k = |s: &kiln_passes::schedule::Stride| s.known().and_then(|x| i64::try_from(x).ok());
                            let d = |d: &kiln_ir::Dim| d.fixed().and_then(|x| i64::try_from(x).ok());
                            matmul::Known {
                                rsa: k(&mm.a.strides[r - 2]),
                                csa: k(&mm.a.strides[r - 1]),
                                rsb: k(&mm.b.strides[r - 2]),
                                m: d(&mm.m),
                                k: d(&mm.k),
                                n: d(&mm.n),
                            }
                        }
                        _ => matmul::Known::default(),
                    };
                    matmul::emit_matmul(&mut b, args, g, mk, known, epi.as_ref())
                }
            }
            b.ins().return_(&[]);
            b.seal_all_blocks();
            b.finalize(module.target_config());
        }
        let clif = opts.keep_clif.then(|| ctx.func.display().to_string());
        ctx.set_disasm(opts.keep_asm);
        // a Cranelift panic (a lowering it lacks) becomes this kernel's error, not a crash
        // GEMM micro-kernels are register-bound: they keep the backtracking allocator
        let insts = if !opts.thorough && kind == KernelKind::Loop { ctx.func.dfg.num_insts() } else { 0 };
        let defined = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if insts > HUGE_KERNEL_INSTS {
                define_with(&mut module, &*huge_isa, fid, &mut ctx)
            } else if insts > LARGE_KERNEL_INSTS {
                define_with(&mut module, &*large_isa, fid, &mut ctx)
            } else {
                module.define_function(fid, &mut ctx).map_err(|x| format!("{x:?}"))
            }
        }));
        match defined {
            Ok(r) => r.map_err(|x| err(&x))?,
            Err(_) => return Err(err(&"Cranelift panicked compiling this kernel (a kiln or Cranelift bug)")),
        }
        let asm = if opts.keep_asm { ctx.compiled_code().and_then(|c| c.vcode.clone()) } else { None };
        module.clear_context(&mut ctx);
        pending.push((fid, name, kind, provenance, clif, asm));
    }
    module.finalize_definitions().map_err(|x| e(&x))?;
    let mut out = Vec::new();
    for (fid, name, kind, provenance, clif, asm) in pending {
        let ptr = module.get_finalized_function(fid);
        // SAFETY: the function was built with exactly this signature above.
        let func: KernelFn = unsafe { std::mem::transmute::<*const u8, KernelFn>(ptr) };
        out.push(CompiledKernel { name, kind, func, provenance, clif, asm });
    }
    Ok((Jit { module: Some(module) }, out))
}
