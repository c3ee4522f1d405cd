//! kiln's IR: typed SSA values with explicit shapes, a verifier, and a text form that
//! prints and parses back to the same module.
//!
//! Every value has a [`DType`] and a [`Shape`] whose dims are fixed or symbolic
//! ([`Dim::Sym`]). Broadcasting is explicit ([`OpKind::Broadcast`]), so elementwise ops
//! take operands of one type. See `docs/ir.md` for the grammar and op semantics.
#![warn(missing_docs)]

mod attrs;
pub mod dot;
#[macro_use]
mod op_table;
mod infer;
mod loc;
mod module;
mod op;
mod parse;
mod print;
mod types;
mod verify;

pub use attrs::AttrRef;
pub use infer::infer_type;
pub use loc::Loc;
pub use module::{DimClasses, Module, Var};
pub use op::{
    BinaryOp, CmpOp, Literal, Op, OpKind, Operands, RandomDist, ReduceOp, UnaryOp, ValueId, VarId, BINARY_OPS, CMP_OPS,
    REDUCE_OPS, UNARY_OPS,
};
pub use parse::{parse, parse_unverified, IrTextError, ParseError};
pub use print::{literal_text, op_text, print};
pub use types::{DType, Dim, Shape, Type, MAX_ELEMENTS};
pub use verify::{is_valid_name, verify, verify_from, VerifyError};
