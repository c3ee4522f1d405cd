//! Denormal flushing while kernels run (and only while they run). TF1 runs its CPU kernels with flush-to-zero
//! and denormals-are-zero set, and kiln does the same by default: a training step whose
//! optimizer moments decay towards zero otherwise spends a sixth of its time in
//! microcode assists for denormal operands. The interpreter, the oracle, keeps IEEE
//! denormals; the two differ by less than 1.2e-38 per value.

/// MXCSR's FTZ (bit 15) and DAZ (bit 6).
#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = 0x8040;

/// MXCSR's sticky exception flags (bits 0 to 5).
#[cfg(target_arch = "x86_64")]
const FLAGS: u32 = 0x3f;

/// Calls a kernel, with FTZ and DAZ set for the call alone when `flush`: the mode is
/// set and restored inside one `asm!` block around the call, so no Rust code ever runs
/// with a floating-point environment other than the default (which Rust requires), and
/// the exception flags the kernel raised are kept. Elsewhere than x86-64 kernels run
/// with IEEE denormals.
///
/// # Safety
/// `f` must be a JIT kernel (System V `extern "C" fn(*const i64)`) that `args` is a
/// valid argument block for.
pub(crate) unsafe fn call(f: kiln_codegen::KernelFn, args: *mut i64, flush: bool) {
    #[cfg(target_arch = "x86_64")]
    if flush {
        // [0]: the mode before, [1]: scratch
        let mut csr = [0u32; 2];
        // SAFETY: the block saves MXCSR, sets FTZ|DAZ, calls `f(args)` as the System V
        // ABI requires (the stack is call-aligned on entry to an asm block; `clobber_abi`
        // marks every caller-saved register), then restores the control bits and keeps
        // the sticky flags. `csr` lives in callee-saved r12 across the call.
        unsafe {
            std::arch::asm!(
                "stmxcsr [r12]",
                "mov eax, [r12]",
                "or eax, {on}",
                "mov [r12 + 4], eax",
                "ldmxcsr [r12 + 4]",
                "call r13",
                "stmxcsr [r12 + 4]",
                "mov eax, [r12 + 4]",
                "and eax, {flags}",
                "mov ecx, [r12]",
                "and ecx, {keep}",
                "or eax, ecx",
                "mov [r12 + 4], eax",
                "ldmxcsr [r12 + 4]",
                on = const FTZ_DAZ,
                flags = const FLAGS,
                keep = const !FLAGS,
                in("r12") csr.as_mut_ptr(),
                in("r13") f,
                in("rdi") args,
                clobber_abi("C"),
            );
        }
        return;
    }
    let _ = flush;
    // SAFETY: forwarded from the caller
    unsafe { f(args) }
}

#[cfg(all(test, target_arch = "x86_64"))]
fn read_mxcsr() -> u32 {
    let mut x = 0u32;
    // SAFETY: stores the SSE control register into a local; no other effect
    unsafe { std::arch::asm!("stmxcsr [{}]", in(reg) &mut x, options(nostack, preserves_flags)) };
    x
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// A kernel that reports the MXCSR it runs under.
    ///
    /// # Safety
    /// The block's first slot must point to a writable u32.
    unsafe extern "C" fn report_mode(args: *const i64) {
        // SAFETY: the test passes a block whose first slot points to a u32
        unsafe { *(*args as *mut u32) = read_mxcsr() };
    }

    #[test]
    fn flushes_for_the_call_only_and_restores() {
        let before = read_mxcsr();
        let mut seen = 0u32;
        let mut args = [&mut seen as *mut u32 as i64];
        // SAFETY: `report_mode` reads its block as written above
        unsafe { call(report_mode, args.as_mut_ptr(), true) };
        assert_eq!(seen & FTZ_DAZ, FTZ_DAZ, "the kernel ran with FTZ and DAZ");
        assert_eq!(read_mxcsr() & !FLAGS, before & !FLAGS, "the caller's mode is back");
        let tiny = std::hint::black_box(1e-39f32); // a denormal survives in Rust code
        assert_eq!(std::hint::black_box(tiny) * 1.0, tiny);
        // SAFETY: as above
        unsafe { call(report_mode, args.as_mut_ptr(), false) };
        assert_eq!(seen & FTZ_DAZ, before & FTZ_DAZ, "left alone when not flushing");
    }
}
