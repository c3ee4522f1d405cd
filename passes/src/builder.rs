//! Appends typed ops to a module with unique names, for passes that create IR.

use crate::PassError;
use kiln_ir::{
    infer_type, BinaryOp, CmpOp, DType, Dim, DimClasses, Literal, Loc, Module, Op, OpKind, ReduceOp, Shape, Type,
    UnaryOp, ValueId,
};
use std::collections::{HashMap, HashSet};

/// Builds ops at the end of a module. Every op gets a name under `prefix` that is unique
/// in the module, the given location, and a type checked by [`infer_type`].
pub struct Builder<'m> {
    /// The module being extended.
    pub m: &'m mut Module,
    classes: DimClasses,
    names: HashSet<String>,
    /// Per base name, the suffix to try next: without it the n-th `Mul` would probe
    /// `Mul`, `Mul_1`, ... `Mul_n`, quadratic over a pass that builds many.
    next: HashMap<String, usize>,
    pass: &'static str,
    /// Name prefix of new ops (`gradients/`).
    pub prefix: String,
    loc: Option<Loc>,
}

impl<'m> Builder<'m> {
    /// A builder for `pass` naming ops `prefix/...` at `loc`.
    pub fn new(m: &'m mut Module, pass: &'static str, prefix: &str, loc: Option<Loc>) -> Builder<'m> {
        let names = m.ops.iter().map(|o| o.name.clone()).chain(m.vars.iter().map(|v| v.name.clone())).collect();
        let classes = m.dim_classes();
        Builder { m, classes, names, next: HashMap::new(), pass, prefix: prefix.to_string(), loc }
    }

    fn unique(&mut self, base: &str) -> String {
        let full = if self.prefix.is_empty() { base.to_string() } else { format!("{}/{base}", self.prefix) };
        let mut i = self.next.get(&full).copied().unwrap_or(0);
        let mut name = if i == 0 { full.clone() } else { format!("{full}_{i}") };
        while self.names.contains(&name) {
            i += 1;
            name = format!("{full}_{i}");
        }
        self.next.insert(full, i + 1);
        self.names.insert(name.clone());
        name
    }

    /// The type of a value (values handled by passes always have one).
    pub fn ty(&self, v: ValueId) -> Type {
        self.m.ty(v).cloned().unwrap_or_else(|| Type::scalar(DType::F32))
    }

    /// True if the dims are known equal.
    pub fn same_dim(&self, a: &Dim, b: &Dim) -> bool {
        self.classes.same(a, b)
    }

    /// Appends a checked op.
    pub fn op(
        &mut self,
        kind: OpKind,
        operands: &[ValueId],
        declared: Option<Type>,
        base: &str,
    ) -> Result<ValueId, PassError> {
        let ty = infer_type(self.m, &self.classes, &kind, operands, declared.as_ref())
            .map_err(|message| PassError { pass: self.pass, op: format!("{}/{base}", self.prefix), message })?;
        let name = self.unique(base);
        Ok(self.m.push(Op { kind, operands: operands.to_vec(), ty, name, loc: self.loc.clone() }))
    }

    /// A scalar constant of `dtype`.
    pub fn scalar(&mut self, dtype: DType, x: f64) -> Result<ValueId, PassError> {
        let lit = match dtype {
            DType::F32 => Literal::F32(vec![x as f32]),
            DType::F64 => Literal::F64(vec![x]),
            DType::I32 => Literal::I32(vec![x as i32]),
            DType::I64 => Literal::I64(vec![x as i64]),
            DType::Bool => Literal::Bool(vec![x != 0.0]),
            DType::U8 => Literal::U8(vec![x as u8]),
            DType::I8 => Literal::I8(vec![x as i8]),
            DType::U16 => Literal::U16(vec![x as u16]),
            DType::I16 => Literal::I16(vec![x as i16]),
        };
        self.op(OpKind::Constant(lit), &[], Some(Type::scalar(dtype)), "Const")
    }

    /// `x` broadcast to `shape` with operand axis `i` at result axis `dims[i]`.
    pub fn broadcast(&mut self, x: ValueId, dims: Vec<usize>, shape: &Shape) -> Result<ValueId, PassError> {
        let t = Type::new(self.ty(x).dtype, shape.clone());
        self.op(OpKind::Broadcast { dims }, &[x], Some(t), "BroadcastTo")
    }

    /// A tensor of type `t` filled with `x`.
    pub fn fill(&mut self, t: &Type, x: f64) -> Result<ValueId, PassError> {
        let c = self.scalar(t.dtype, x)?;
        if t.shape.rank() == 0 {
            return Ok(c);
        }
        self.broadcast(c, vec![], &t.shape)
    }

    /// Zeros of `v`'s type.
    pub fn zeros_like(&mut self, v: ValueId) -> Result<ValueId, PassError> {
        let t = self.ty(v);
        self.fill(&t, 0.0)
    }

    /// `x` elementwise.
    pub fn unary(&mut self, u: UnaryOp, x: ValueId) -> Result<ValueId, PassError> {
        self.op(OpKind::Unary(u), &[x], None, u.mnemonic())
    }

    /// `a op b` on equal types.
    pub fn binary(&mut self, b: BinaryOp, x: ValueId, y: ValueId) -> Result<ValueId, PassError> {
        self.op(OpKind::Binary(b), &[x, y], None, b.mnemonic())
    }

    /// `x op c` for a scalar constant `c` broadcast to `x`'s type.
    pub fn binary_scalar(&mut self, b: BinaryOp, x: ValueId, c: f64) -> Result<ValueId, PassError> {
        let t = self.ty(x);
        let s = self.fill(&t, c)?;
        self.binary(b, x, s)
    }

    /// Elementwise comparison.
    pub fn compare(&mut self, c: CmpOp, x: ValueId, y: ValueId) -> Result<ValueId, PassError> {
        self.op(OpKind::Compare(c), &[x, y], None, c.mnemonic())
    }

    /// `c ? a : b`.
    pub fn select(&mut self, c: ValueId, a: ValueId, b: ValueId) -> Result<ValueId, PassError> {
        self.op(OpKind::Select, &[c, a, b], None, "Select")
    }

    /// A reduction.
    pub fn reduce(&mut self, r: ReduceOp, x: ValueId, axes: Vec<usize>, keepdims: bool) -> Result<ValueId, PassError> {
        self.op(OpKind::Reduce { op: r, axes, keepdims }, &[x], None, r.mnemonic())
    }

    /// Reshape to `shape` (identity if already so).
    pub fn reshape(&mut self, x: ValueId, shape: &Shape) -> Result<ValueId, PassError> {
        let t = self.ty(x);
        if self.classes.same_shape(&t.shape, shape) {
            return Ok(x);
        }
        self.op(OpKind::Reshape, &[x], Some(Type::new(t.dtype, shape.clone())), "Reshape")
    }

    /// Permute axes.
    pub fn transpose(&mut self, x: ValueId, perm: Vec<usize>) -> Result<ValueId, PassError> {
        self.op(OpKind::Transpose { perm }, &[x], None, "transpose")
    }

    /// Swap the last two axes.
    pub fn transpose_last2(&mut self, x: ValueId) -> Result<ValueId, PassError> {
        let r = self.ty(x).shape.rank();
        let mut perm: Vec<usize> = (0..r).collect();
        perm.swap(r - 2, r - 1);
        self.transpose(x, perm)
    }

    /// Matrix product.
    pub fn matmul(&mut self, a: ValueId, b: ValueId) -> Result<ValueId, PassError> {
        self.op(OpKind::MatMul, &[a, b], None, "MatMul")
    }

    /// Convert to `dtype`.
    pub fn convert(&mut self, x: ValueId, dtype: DType) -> Result<ValueId, PassError> {
        let t = self.ty(x);
        self.op(OpKind::Convert, &[x], Some(Type::new(dtype, t.shape)), "Cast")
    }
}
