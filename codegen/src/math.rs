//! Inline polynomial math for F32 and F32X4, so exp/log/tanh/sigmoid vectorize.
//!
//! Max errors, measured against f64 over the tests' ranges (see `tests/jit.rs`):
//! - `exp`: Cephes expf, ~1 ulp (relative 1.2e-7) on [-87, 88]; 2^n is applied as two
//!   halves, so results overflow to inf exactly where f32 does (x > 88.7228) and fall
//!   through the denormals to 0 (x < -103.3) as the interpreter's do.
//! - `log`: Cephes logf, ~1 ulp for normal positive inputs, and for denormal ones, which
//!   are scaled by 2^23 first; log(0) = -inf, log(x<0) and log(NaN) = NaN,
//!   log(inf) = inf.
//! - `tanh`: Eigen's (and XLA's) rational approximation on [-7.9, 7.9]: absolute
//!   3.5e-7 over [-10, 10], relative 4e-7 on [-0.5, 0.5]; odd, exact at 0.
//! - `sigmoid`: `1/(1+exp(-x))`, absolute 1e-7.

// Cephes' coefficients are kept exactly as published; f32 rounds them.
#![allow(clippy::excessive_precision)]

use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::types::*;
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;
use std::cell::RefCell;
use std::collections::HashMap;

thread_local! {
    /// The constants already made in the function being built, by type and bits.
    static CONSTANTS: RefCell<HashMap<(Type, u64), Value>> = RefCell::new(HashMap::new());
}

/// Starts a new function: constants of the last one are not values of this one.
pub(crate) fn forget_constants() {
    CONSTANTS.with(|c| c.borrow_mut().clear());
}

/// The constant `key`, made once per function in its entry block (which dominates
/// every use). The polynomials make about a third of a long kernel's instructions
/// constants; Cranelift's e-graph would merge them, at a cost per instruction that
/// was the larger part of compiling a 10,000-op `tanh` gradient.
fn cached(b: &mut FunctionBuilder, key: (Type, u64), make: impl FnOnce(&mut FuncCursor) -> Value) -> Value {
    if let Some(v) = CONSTANTS.with(|c| c.borrow().get(&key).copied()) {
        return v;
    }
    let entry = b.func.layout.entry_block();
    let v = match (entry, b.current_block()) {
        // still in the entry block: here
        (Some(e), Some(cur)) if e == cur => make(&mut b.cursor()),
        // before the entry block's terminator: built blocks end in one
        (Some(e), _) => match b.func.layout.last_inst(e) {
            Some(last) => make(&mut FuncCursor::new(b.func).at_inst(last)),
            None => make(&mut b.cursor()),
        },
        (None, _) => make(&mut b.cursor()),
    };
    CONSTANTS.with(|c| c.borrow_mut().insert(key, v));
    v
}

/// A float of type `ty` (F32 or F32X4) equal to `c` in every lane.
pub fn splat_const(b: &mut FunctionBuilder, ty: Type, c: f32) -> Value {
    cached(b, (ty, u64::from(c.to_bits())), |pos| {
        let s = pos.ins().f32const(c);
        if ty == F32 {
            s
        } else {
            pos.ins().splat(ty, s)
        }
    })
}

/// An integer of `ty`'s lane shape (I32 or I32X4) equal to `k` in every lane.
fn int_const(b: &mut FunctionBuilder, ty: Type, k: i64) -> Value {
    let ity = int_ty(ty);
    cached(b, (ity, k as u64), |pos| {
        let c = pos.ins().iconst(I32, k);
        if ty == F32 {
            c
        } else {
            pos.ins().splat(I32X4, c)
        }
    })
}

fn int_ty(ty: Type) -> Type {
    if ty == F32 {
        I32
    } else {
        I32X4
    }
}

/// Reinterprets bits between float and int lanes of the same width.
pub fn bits(b: &mut FunctionBuilder, to: Type, v: Value) -> Value {
    let flags = MemFlagsData::new().with_endianness(cranelift_codegen::ir::Endianness::Little);
    b.ins().bitcast(to, flags, v)
}

/// `mask ? a : b` where `mask` comes from `fcmp` on `ty` (i8 for scalars, I32X4 lanes).
pub fn select(b: &mut FunctionBuilder, ty: Type, mask: Value, x: Value, y: Value) -> Value {
    if ty == F32 {
        b.ins().select(mask, x, y)
    } else {
        let m = bits(b, F32X4, mask);
        b.ins().bitselect(m, x, y)
    }
}

/// `a` or `b` of two masks.
pub fn or_mask(b: &mut FunctionBuilder, ty: Type, x: Value, y: Value) -> Value {
    let _ = ty;
    b.ins().bor(x, y)
}

fn clamp(b: &mut FunctionBuilder, ty: Type, x: Value, lo: f32, hi: f32) -> Value {
    let l = splat_const(b, ty, lo);
    let h = splat_const(b, ty, hi);
    let below = b.ins().fcmp(FloatCC::LessThan, x, l);
    let x = select(b, ty, below, l, x);
    let above = b.ins().fcmp(FloatCC::GreaterThan, x, h);
    select(b, ty, above, h, x)
}

fn poly(b: &mut FunctionBuilder, ty: Type, x: Value, coeffs: &[f32]) -> Value {
    let mut acc = splat_const(b, ty, coeffs[0]);
    for &c in &coeffs[1..] {
        let k = splat_const(b, ty, c);
        acc = b.ins().fma(acc, x, k);
    }
    acc
}

/// `e^x` (Cephes expf). `x` is clamped to [-104, 89], beyond which f32's exp is 0 or
/// inf anyway, so that `n = round(x log2 e)` stays within [-150, 129].
pub fn exp(b: &mut FunctionBuilder, ty: Type, x: Value) -> Value {
    let x = clamp(b, ty, x, -104.0, 89.0);
    let log2e = splat_const(b, ty, std::f32::consts::LOG2_E);
    let magic = splat_const(b, ty, 12_582_912.0); // 1.5 * 2^23: adding it rounds to an integer
    let t = b.ins().fma(x, log2e, magic);
    let n = b.ins().fsub(t, magic);
    let c1 = splat_const(b, ty, -0.693_359_4);
    let c2 = splat_const(b, ty, 2.121_944_4e-4);
    let r = b.ins().fma(n, c1, x);
    let r = b.ins().fma(n, c2, r);
    let p =
        poly(b, ty, r, &[1.987_569_1e-4, 1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 5.000_000_1e-1]);
    let r2 = b.ins().fmul(r, r);
    let one = splat_const(b, ty, 1.0);
    let r1 = b.ins().fadd(r, one);
    let y = b.ins().fma(p, r2, r1);
    // 2^n = 2^(n/2) * 2^(n - n/2), each a normal float for n in [-150, 129]: the second
    // multiply overflows or underflows exactly as e^x does in f32
    let it = int_ty(ty);
    let ni = b.ins().fcvt_to_sint_sat(it, n);
    let n1 = b.ins().sshr_imm_s(ni, 1);
    let n2 = b.ins().isub(ni, n1);
    let k127 = int_const(b, ty, 127);
    let pow2 = |b: &mut FunctionBuilder, k: Value| {
        let e = b.ins().iadd(k, k127);
        let sh = b.ins().iconst(I32, 23);
        let e = b.ins().ishl(e, sh);
        bits(b, ty, e)
    };
    let (s1, s2) = (pow2(b, n1), pow2(b, n2));
    let y = b.ins().fmul(y, s1);
    b.ins().fmul(y, s2)
}

/// Natural log (Cephes logf) with IEEE special cases. A denormal input is scaled by
/// 2^23 (and its exponent lowered by 23) so it reads as a normal float.
pub fn log(b: &mut FunctionBuilder, ty: Type, x0: Value) -> Value {
    let it = int_ty(ty);
    let tiny = splat_const(b, ty, f32::MIN_POSITIVE);
    let denormal = b.ins().fcmp(FloatCC::LessThan, x0, tiny);
    let two23 = splat_const(b, ty, 8_388_608.0);
    let scaled = b.ins().fmul(x0, two23);
    let x = select(b, ty, denormal, scaled, x0);
    let xi = bits(b, it, x);
    let sh = b.ins().iconst(I32, 23);
    let e = b.ins().sshr(xi, sh);
    let k = int_const(b, ty, -126);
    let e = b.ins().iadd(e, k);
    let (normal_bias, denormal_bias) = (int_const(b, ty, 0), int_const(b, ty, -23));
    let dmask = if ty == F32 { denormal } else { bits(b, I32X4, denormal) };
    let bias = if ty == F32 {
        b.ins().select(dmask, denormal_bias, normal_bias)
    } else {
        b.ins().bitselect(dmask, denormal_bias, normal_bias)
    };
    let e = b.ins().iadd(e, bias);
    let mask = int_const(b, ty, 0x007f_ffff);
    let mant = b.ins().band(xi, mask);
    let half = int_const(b, ty, 0x3f00_0000); // exponent of 0.5
    let mant = b.ins().bor(mant, half);
    let m = bits(b, ty, mant);
    let mut ef = b.ins().fcvt_from_sint(ty, e);
    let sqrthf = splat_const(b, ty, std::f32::consts::FRAC_1_SQRT_2);
    let small = b.ins().fcmp(FloatCC::LessThan, m, sqrthf);
    let one = splat_const(b, ty, 1.0);
    // m < sqrt(1/2): use 2m - 1 and e - 1
    let m2 = b.ins().fadd(m, m);
    let m_small = b.ins().fsub(m2, one);
    let m_big = b.ins().fsub(m, one);
    let m = select(b, ty, small, m_small, m_big);
    let ef_small = b.ins().fsub(ef, one);
    ef = select(b, ty, small, ef_small, ef);
    let z = b.ins().fmul(m, m);
    let p = poly(
        b,
        ty,
        m,
        &[
            7.037_683_6e-2,
            -1.151_461e-1,
            1.167_699_9e-1,
            -1.242_014_1e-1,
            1.424_932_3e-1,
            -1.666_805_8e-1,
            2.000_071_4e-1,
            -2.499_999_4e-1,
            3.333_333_1e-1,
        ],
    );
    let mz = b.ins().fmul(m, z);
    let y = b.ins().fmul(p, mz);
    let q1 = splat_const(b, ty, -2.121_944_4e-4);
    let y = b.ins().fma(ef, q1, y);
    let half = splat_const(b, ty, -0.5);
    let y = b.ins().fma(z, half, y);
    let s = b.ins().fadd(m, y);
    let q2 = splat_const(b, ty, 0.693_359_4);
    let r = b.ins().fma(ef, q2, s);
    // special cases: 0 -> -inf (a denormal scaled above is not 0), x < 0 or NaN -> NaN,
    // inf -> inf
    let zero = splat_const(b, ty, 0.0);
    let ninf = splat_const(b, ty, f32::NEG_INFINITY);
    let inf = splat_const(b, ty, f32::INFINITY);
    let nan = splat_const(b, ty, f32::NAN);
    let is_zero = b.ins().fcmp(FloatCC::Equal, x, zero);
    let r = select(b, ty, is_zero, ninf, r);
    let neg = b.ins().fcmp(FloatCC::LessThan, x, zero);
    let unord = b.ins().fcmp(FloatCC::Unordered, x, x);
    let bad = or_mask(b, ty, neg, unord);
    let r = select(b, ty, bad, nan, r);
    let is_inf = b.ins().fcmp(FloatCC::Equal, x, inf);
    select(b, ty, is_inf, inf, r)
}

/// `log(1 + x)` by Kahan's trick: `log(u) * x / (u - 1)` for `u = 1 + x` cancels the
/// rounding of `u`, so small x keep their digits (`x` itself where `u` rounds to 1).
pub fn log1p(b: &mut FunctionBuilder, ty: Type, x: Value) -> Value {
    let one = splat_const(b, ty, 1.0);
    let u = b.ins().fadd(one, x);
    let d = b.ins().fsub(u, one);
    let l = log(b, ty, u);
    let r = b.ins().fdiv(x, d);
    let r = b.ins().fmul(l, r);
    let zero = splat_const(b, ty, 0.0);
    let tiny = b.ins().fcmp(FloatCC::Equal, d, zero);
    let r = select(b, ty, tiny, x, r);
    // x = inf: inf/inf would be NaN
    let inf = splat_const(b, ty, f32::INFINITY);
    let is_inf = b.ins().fcmp(FloatCC::Equal, x, inf);
    select(b, ty, is_inf, inf, r)
}

/// `e^x - 1` by Kahan's trick: `(u - 1) * x / log(u)` for `u = e^x` (`x` itself where
/// `u` rounds to 1, -1 where it rounds to 0).
pub fn expm1(b: &mut FunctionBuilder, ty: Type, x: Value) -> Value {
    let one = splat_const(b, ty, 1.0);
    let u = exp(b, ty, x);
    let d = b.ins().fsub(u, one);
    let l = log(b, ty, u);
    let r = b.ins().fdiv(x, l);
    let r = b.ins().fmul(d, r);
    let is_one = b.ins().fcmp(FloatCC::Equal, u, one);
    let r = select(b, ty, is_one, x, r);
    let mone = splat_const(b, ty, -1.0);
    let is_m1 = b.ins().fcmp(FloatCC::Equal, d, mone);
    let r = select(b, ty, is_m1, mone, r);
    let inf = splat_const(b, ty, f32::INFINITY);
    let is_inf = b.ins().fcmp(FloatCC::Equal, u, inf);
    select(b, ty, is_inf, inf, r)
}

/// `log(1 + e^x)` as `max(x, 0) + log1p(e^-|x|)`: no overflow, exact at ±inf, NaN
/// for NaN.
pub fn softplus(b: &mut FunctionBuilder, ty: Type, x: Value) -> Value {
    let zero = splat_const(b, ty, 0.0);
    let pos = b.ins().fcmp(FloatCC::GreaterThan, x, zero);
    let m = select(b, ty, pos, x, zero);
    let a = b.ins().fabs(x);
    let na = b.ins().fneg(a);
    let e = exp(b, ty, na);
    let l = log1p(b, ty, e);
    b.ins().fadd(m, l)
}

/// `x` for `x > 0`, else `e^x - 1` (NaN for NaN).
pub fn elu(b: &mut FunctionBuilder, ty: Type, x: Value) -> Value {
    let zero = splat_const(b, ty, 0.0);
    let pos = b.ins().fcmp(FloatCC::GreaterThan, x, zero);
    let e = expm1(b, ty, x);
    select(b, ty, pos, x, e)
}

/// `1/(1+e^-x)`.
pub fn sigmoid(b: &mut FunctionBuilder, ty: Type, x: Value) -> Value {
    let nx = b.ins().fneg(x);
    let e = exp(b, ty, nx);
    let one = splat_const(b, ty, 1.0);
    let d = b.ins().fadd(one, e);
    b.ins().fdiv(one, d)
}

/// Hyperbolic tangent: the rational approximation Eigen and XLA use, an odd degree-13
/// polynomial over an even degree-6 one on x clamped to [-7.9, 7.9], and exactly ±1
/// from |x| = 9.0115 on, where tanh rounds to 1 in f32 (the clamped approximation stops 3
/// ulp short, which TF1's newer Eigen does not). One division and no exp: about half
/// the work of `1 - 2/(e^2x + 1)`.
pub fn tanh(b: &mut FunctionBuilder, ty: Type, x0: Value) -> Value {
    let x = clamp(b, ty, x0, -7.905_311, 7.905_311);
    let z = b.ins().fmul(x, x);
    let p = poly(
        b,
        ty,
        z,
        &[
            -2.760_768_5e-16,
            2.000_187_9e-13,
            -8.604_671_5e-11,
            5.122_297e-8,
            1.485_722_4e-5,
            6.372_619_3e-4,
            4.893_524_6e-3,
        ],
    );
    let p = b.ins().fmul(p, x);
    let q = poly(b, ty, z, &[1.198_258_4e-6, 1.185_347_1e-4, 2.268_434_6e-3, 4.893_525_2e-3]);
    let r = b.ins().fdiv(p, q);
    let ax = b.ins().fabs(x0);
    let nine = splat_const(b, ty, 9.011_5);
    let saturated = b.ins().fcmp(FloatCC::GreaterThanOrEqual, ax, nine);
    // copysign(1, x) in the integer lanes (x64 has no vector fcopysign)
    let it = int_ty(ty);
    let xb = bits(b, it, x0);
    let sign_mask = int_const(b, ty, 0x8000_0000);
    let sign = b.ins().band(xb, sign_mask);
    let one_bits = int_const(b, ty, 0x3f80_0000);
    let unit_bits = b.ins().bor(sign, one_bits);
    let unit = bits(b, ty, unit_bits);
    select(b, ty, saturated, unit, r)
}
