//! Denormal flushing while kernels run. TF1 runs its CPU kernels with flush-to-zero
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

/// Sets FTZ and DAZ on this thread until dropped, then restores the previous mode
/// (keeping any exception flags raised meanwhile).
pub(crate) struct FlushDenormals {
    #[cfg(target_arch = "x86_64")]
    saved: Option<u32>,
}

impl FlushDenormals {
    /// Flushes when `on`; otherwise leaves the thread's mode alone.
    pub(crate) fn new(on: bool) -> FlushDenormals {
        #[cfg(target_arch = "x86_64")]
        {
            if !on {
                return FlushDenormals { saved: None };
            }
            let saved = read_mxcsr();
            write_mxcsr(saved | FTZ_DAZ);
            FlushDenormals { saved: Some(saved) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = on;
            FlushDenormals {}
        }
    }
}

impl Drop for FlushDenormals {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if let Some(saved) = self.saved {
            // the control bits as they were; the sticky exception flags as they are
            write_mxcsr((saved & !FLAGS) | (read_mxcsr() & FLAGS));
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn read_mxcsr() -> u32 {
    let mut x = 0u32;
    // SAFETY: stores the SSE control register into a local; no other effect
    unsafe { std::arch::asm!("stmxcsr [{}]", in(reg) &mut x, options(nostack, preserves_flags)) };
    x
}

#[cfg(target_arch = "x86_64")]
fn write_mxcsr(x: u32) {
    // SAFETY: loads a value read from MXCSR with only the FTZ/DAZ bits changed, both
    // valid on every x86-64 CPU; it changes rounding of denormals, nothing else
    unsafe { std::arch::asm!("ldmxcsr [{}]", in(reg) &x, options(nostack, preserves_flags, readonly)) };
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn flushes_while_alive_and_restores() {
        let before = read_mxcsr();
        let tiny = std::hint::black_box(1e-39f32); // a denormal
        {
            let _g = FlushDenormals::new(true);
            assert_eq!(read_mxcsr() & FTZ_DAZ, FTZ_DAZ);
            // DAZ reads the denormal as zero
            assert_eq!(std::hint::black_box(tiny) * 1.0, 0.0);
        }
        assert_eq!(read_mxcsr() & !FLAGS, before & !FLAGS);
        assert_eq!(std::hint::black_box(tiny) * 1.0, tiny);
        let _off = FlushDenormals::new(false);
        assert_eq!(read_mxcsr() & !FLAGS, before & !FLAGS);
    }
}
