//! The calls a run makes besides plain kernel calls: a loop kernel split across
//! threads, and GEMMs on the `gemm` crate (split by rows across threads when large).

use crate::bind::MatMulArgs;
use kiln_codegen::CompiledKernel;
use kiln_passes::abi::CallAbi;

/// A large GEMM `c = a x b` (c row-major with row stride `rsc`) on the `gemm` crate's
/// AVX-512 kernels.
///
/// # Safety
/// The pointers must address matrices of the given extents and strides.
#[allow(clippy::too_many_arguments)]
unsafe fn big_gemm(
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    c: *mut f32,
    rsc: isize,
) {
    // SAFETY: forwarded from the caller; `read_dst = false` ignores c's old contents
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c,
            1,
            rsc,
            false,
            a,
            csa,
            rsa,
            b,
            csb,
            rsb,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// Runs a loop kernel split along its outermost dim: each thread gets the bound block
/// restricted to its rows by the call's ABI ([`CallAbi::restrict`]), so the threads
/// write disjoint rows and each element is computed exactly as on one thread. False if
/// the call does not split or has too few rows.
///
/// # Safety
/// `args` must be the kernel's bound argument block for `call`.
pub(crate) unsafe fn run_split(k: &CompiledKernel, call: &CallAbi, args: &[i64], threads: usize, flush: bool) -> bool {
    let Some(sp) = &call.split else { return false };
    let n0 = usize::try_from(args[sp.extent]).unwrap_or(0);
    if threads < 2 || n0 < threads {
        return false;
    }
    let blocks: Option<Vec<Vec<i64>>> =
        (0..threads).map(|c| call.restrict(args, n0 * c / threads, n0 * (c + 1) / threads)).collect();
    let Some(blocks) = blocks else { return false };
    let func = k.func;
    std::thread::scope(|sc| {
        for (c, a) in blocks.into_iter().enumerate().rev() {
            let run = move || {
                let mut a = a;
                // SAFETY: the block is the bound one restricted to rows start..end.
                unsafe { crate::denormals::call(func, a.as_mut_ptr(), flush) }
            };
            if c == 0 {
                run();
            } else {
                sc.spawn(run);
            }
        }
    });
    true
}

/// Runs a GEMM on the library, splitting the rows of a large one across threads. The
/// library is Rust code, so it runs in the default floating-point mode (IEEE
/// denormals) whatever the session's setting.
///
/// # Safety
/// `a`, `b` and `c` must be the bases of the buffers `mm` was bound for.
pub(crate) unsafe fn library_gemm(mm: &MatMulArgs, a: *const f32, b: *const f32, c: *mut f32, threads: usize) {
    if threads > 1 && mm.batches.len() == 1 && mm.m >= 256 {
        // rows of c split across threads: each row is computed as on one
        let (oa, ob, oc) = mm.batches[0];
        let (a, b, c) = (a as usize, b as usize, c as usize);
        std::thread::scope(|sc| {
            // boundaries at multiples of 128 rows: the library's row blocks then match a
            // one-thread run exactly
            let cut = |p: usize| ((mm.m * p / threads) / 128 * 128).min(mm.m);
            for part in 0..threads {
                let r0 = if part == 0 { 0 } else { cut(part) };
                let r1 = if part + 1 == threads { mm.m } else { cut(part + 1) };
                if r0 >= r1 {
                    continue;
                }
                // SAFETY: rows r0..r1 of a and c lie inside their buffers; b is shared
                // read-only; the threads write disjoint rows of c.
                let run = move || unsafe {
                    let a = (a as *const f32).add(mm.a.1 + oa).offset(r0 as isize * mm.rsa);
                    let b = (b as *const f32).add(mm.b.1 + ob);
                    let c = (c as *mut f32).add(oc + r0 * mm.n);
                    big_gemm(r1 - r0, mm.k, mm.n, a, mm.rsa, mm.csa, b, mm.rsb, mm.csb, c, mm.n as isize)
                };
                sc.spawn(run);
            }
        });
        return;
    }
    for &(oa, ob, oc) in &mm.batches {
        // SAFETY: strides and extents come from the bound shapes.
        unsafe {
            big_gemm(
                mm.m,
                mm.k,
                mm.n,
                a.add(mm.a.1 + oa),
                mm.rsa,
                mm.csa,
                b.add(mm.b.1 + ob),
                mm.rsb,
                mm.csb,
                c.add(oc),
                mm.n as isize,
            )
        };
    }
}
