//! What a kernel computes for each dtype: the one table fusion routes ops by (what it
//! cannot compute runs on the interpreter), the schedule verifier checks every node
//! against, and codegen lowers by. Every match is exhaustive, so a new op or dtype
//! must be placed here before anything compiles.
//!
//! Kernels hold f32, 32- and 64-bit integers, bools (as 32-bit 0 or 1) and the narrow
//! integers (u8, i8, u16, i16: widened to 32 bits, wrapped back after arithmetic); f64
//! values stay on the interpreter.

use kiln_ir::{BinaryOp, CmpOp, DType, ReduceOp, UnaryOp};

/// Whether kernels hold values of `t` at all.
pub fn holds(t: DType) -> bool {
    match t {
        DType::F32 | DType::I32 | DType::I64 | DType::Bool => true,
        DType::U8 | DType::I8 | DType::U16 | DType::I16 => true,
        DType::F64 => false,
    }
}

/// Whether a kernel computes `u` on values of `t`.
pub fn unary(u: UnaryOp, t: DType) -> bool {
    use UnaryOp::*;
    match t {
        DType::F32 => true,
        DType::I32 | DType::I64 | DType::U8 | DType::I8 | DType::U16 | DType::I16 => match u {
            Neg | Abs | Sign | Square | Relu => true,
            Exp | Log | Sqrt | Rsqrt | Tanh | Sigmoid | Softplus | Log1p | Elu => false,
        },
        DType::Bool | DType::F64 => false,
    }
}

/// Whether a kernel computes `b` on values of `t` (integer division and powers run on
/// the interpreter, which reports a division by zero).
pub fn binary(b: BinaryOp, t: DType) -> bool {
    use BinaryOp::*;
    match t {
        DType::F32 => true,
        DType::I32 | DType::I64 | DType::U8 | DType::I8 | DType::U16 | DType::I16 => match b {
            Add | Sub | Mul | Maximum | Minimum => true,
            Div | Pow => false,
        },
        DType::Bool | DType::F64 => false,
    }
}

/// Whether a kernel compares values of `t` with `c`.
pub fn compare(c: CmpOp, t: DType) -> bool {
    use CmpOp::*;
    match c {
        Eq | Ne | Lt | Le | Gt | Ge => t != DType::F64 && t != DType::Bool,
    }
}

/// Whether a kernel reduces values of `t` with `r` (an integer mean runs on the
/// interpreter, which truncates as TF does).
pub fn reduce(r: ReduceOp, t: DType) -> bool {
    use ReduceOp::*;
    match t {
        DType::F32 => true,
        DType::I32 | DType::I64 | DType::U8 | DType::I8 | DType::U16 | DType::I16 => match r {
            Sum | Max | Min | Prod => true,
            Mean => false,
        },
        DType::Bool | DType::F64 => false,
    }
}
