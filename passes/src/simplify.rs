//! Algebraic simplification and constant folding:
//! `x + 0`, `x - 0`, `x * 1`, `x / 1` -> `x`; `neg(neg(x))` -> `x`; broadcasts,
//! reshapes and transposes that change nothing -> their operand; unary and binary ops
//! on f32 scalar constants -> a constant.

use crate::PassError;
use kiln_ir::{BinaryOp, Literal, Module, OpKind, UnaryOp, ValueId};

/// The f32 value every element of `v` has, seen through broadcasts and reshapes.
fn splat_value(m: &Module, v: ValueId) -> Option<f32> {
    match &m.op(v).kind {
        OpKind::Constant(Literal::F32(d)) if !d.is_empty() && d.iter().all(|x| x.to_bits() == d[0].to_bits()) => {
            Some(d[0])
        }
        OpKind::Broadcast { .. } | OpKind::Reshape => splat_value(m, m.op(v).operands[0]),
        _ => None,
    }
}

fn fold_unary(u: UnaryOp, x: f32) -> Option<f32> {
    Some(match u {
        UnaryOp::Neg => -x,
        UnaryOp::Abs => x.abs(),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Square => x * x,
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.ln(),
        _ => return None,
    })
}

fn fold_binary(b: BinaryOp, x: f32, y: f32) -> Option<f32> {
    Some(match b {
        BinaryOp::Add => x + y,
        BinaryOp::Sub => x - y,
        BinaryOp::Mul => x * y,
        BinaryOp::Div => x / y,
        _ => return None,
    })
}

/// Rewrites in place (dead originals are left for DCE). Returns whether anything changed.
///
/// One forward pass in op order: an op's operands are first redirected to what they
/// were replaced by (operands precede their users), so a rewrite sees the rewritten
/// graph and a chain (`neg(neg(neg(neg(x))))`) collapses in the same pass. Linear in
/// the number of ops and operands.
pub fn run(m: &mut Module, roots: &mut [ValueId]) -> Result<bool, PassError> {
    let mut changed = false;
    // what each value was replaced by (itself if nothing), resolved to the end
    let mut subst: Vec<ValueId> = (0..m.ops.len() as u32).map(ValueId).collect();
    for i in 0..m.ops.len() {
        for u in m.ops[i].operands.iter_mut() {
            *u = subst[u.index()];
        }
        let op = &m.ops[i];
        let same_ty = |u: ValueId| m.ty(u) == op.ty.as_ref();
        let to = match &op.kind {
            OpKind::Binary(b) => {
                let (x, y) = (op.operands[0], op.operands[1]);
                let (cx, cy) = (splat_value(m, x), splat_value(m, y));
                match (b, cx, cy) {
                    (BinaryOp::Add, _, Some(c)) | (BinaryOp::Sub, _, Some(c)) if c == 0.0 && same_ty(x) => Some(x),
                    (BinaryOp::Add, Some(c), _) if c == 0.0 && same_ty(y) => Some(y),
                    (BinaryOp::Mul, _, Some(c)) | (BinaryOp::Div, _, Some(c)) if c == 1.0 && same_ty(x) => Some(x),
                    (BinaryOp::Mul, Some(c), _) if c == 1.0 && same_ty(y) => Some(y),
                    _ => None,
                }
            }
            OpKind::Unary(UnaryOp::Neg) => {
                let x = op.operands[0];
                match m.op(x).kind {
                    OpKind::Unary(UnaryOp::Neg) => Some(m.op(x).operands[0]),
                    _ => None,
                }
            }
            OpKind::Broadcast { .. } | OpKind::Reshape | OpKind::Transpose { .. } => {
                let x = op.operands[0];
                let identity = match &op.kind {
                    OpKind::Broadcast { dims } => dims.iter().enumerate().all(|(i, &d)| i == d),
                    OpKind::Transpose { perm } => perm.iter().enumerate().all(|(i, &p)| i == p),
                    _ => true,
                };
                (identity && same_ty(x)).then_some(x)
            }
            _ => None,
        };
        if let Some(x) = to {
            subst[i] = x;
            changed = true;
            continue;
        }
        // constant folding of f32 scalars
        let scalar = |u: ValueId| match &m.op(u).kind {
            OpKind::Constant(Literal::F32(d)) if d.len() == 1 && m.ty(u).is_some_and(|t| t.shape.rank() == 0) => {
                Some(d[0])
            }
            _ => None,
        };
        let folded = match &op.kind {
            OpKind::Unary(u) => scalar(op.operands[0]).and_then(|x| fold_unary(*u, x)),
            OpKind::Binary(b) => match (scalar(op.operands[0]), scalar(op.operands[1])) {
                (Some(x), Some(y)) => fold_binary(*b, x, y),
                _ => None,
            },
            _ => None,
        };
        if let Some(c) = folded {
            m.ops[i].kind = OpKind::Constant(Literal::F32(vec![c]));
            m.ops[i].operands.clear();
            changed = true;
        }
    }
    for r in roots.iter_mut() {
        *r = subst[r.index()];
    }
    Ok(changed)
}
