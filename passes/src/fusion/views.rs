//! Views (broadcast, transpose, slice, contiguous reshape, stop_gradient) composed into
//! the strided access of whoever reads them.

use super::*;

impl Fusion<'_> {
    /// The scalar value of a one-element constant, seen through views.
    pub(super) fn scalar_const(&self, v: ValueId) -> Option<f32> {
        match &self.m.op(self.through_views(v)).kind {
            OpKind::Constant(Literal::F32(d)) if d.len() == 1 => Some(d[0]),
            _ => None,
        }
    }

    /// The first value under `v` that is not a shape-only view (broadcast, reshape,
    /// transpose, stop_gradient).
    pub(super) fn through_views(&self, v: ValueId) -> ValueId {
        let mut u = v;
        while let OpKind::Broadcast { .. } | OpKind::Reshape | OpKind::StopGradient | OpKind::Transpose { .. } =
            self.m.op(u).kind
        {
            u = self.m.op(u).operands[0];
        }
        u
    }

    /// The dims whose product a `dim_size` computes, seen through views.
    pub(super) fn dim_size(&self, v: ValueId) -> Option<Vec<Dim>> {
        let mut op = self.m.op(v);
        while let OpKind::Broadcast { .. } | OpKind::Reshape | OpKind::StopGradient = op.kind {
            op = self.m.op(op.operands[0]);
        }
        match &op.kind {
            // kernels take f32 scalar arguments; an integer size is a buffer
            OpKind::DimSize { axes } if op.ty.as_ref().is_some_and(|t| t.dtype == DType::F32) => {
                let xs = self.shape(op.operands[0]);
                Some(axes.iter().map(|&a| xs.0[a].clone()).collect())
            }
            _ => None,
        }
    }

    pub(super) fn is_materialized(&self, v: ValueId) -> bool {
        if self.copied.contains(&v) {
            return true;
        }
        match self.class(v) {
            Class::Base | Class::MatMul | Class::Reduce | Class::Host => true,
            Class::Elementwise => self.force.contains(&v),
            _ => false,
        }
    }

    /// How to read `v` over its own shape: through views down to a materialized buffer
    /// (walked as a loop: a chain of views of any length needs no stack depth).
    pub(super) fn access(&self, v: ValueId) -> Option<Access> {
        let mut chain = Vec::new();
        let mut u = v;
        while !self.is_materialized(u) {
            chain.push(u);
            u = *self.m.op(u).operands.first()?;
        }
        let mut a = Access { buf: u, offset: vec![], strides: contiguous(&self.shape(u)) };
        for &w in chain.iter().rev() {
            a = self.view(w, a)?;
        }
        Some(a)
    }

    /// The access of view `v` given the access `a` of its operand.
    pub(super) fn view(&self, v: ValueId, a: Access) -> Option<Access> {
        let op = self.m.op(v);
        let x = *op.operands.first()?;
        let xs = self.shape(x);
        let out = self.shape(v);
        Some(match &op.kind {
            OpKind::StopGradient => a,
            OpKind::Broadcast { dims } => {
                let mut strides = vec![Stride::Zero; out.rank()];
                for (i, &r) in dims.iter().enumerate() {
                    let expanded = xs.0[i] == Dim::Fixed(1) && out.0[r] != Dim::Fixed(1);
                    strides[r] = if expanded { Stride::Zero } else { a.strides[i].clone() };
                }
                Access { buf: a.buf, offset: a.offset, strides }
            }
            OpKind::Transpose { perm } => {
                Access { buf: a.buf, offset: a.offset, strides: perm.iter().map(|&p| a.strides[p].clone()).collect() }
            }
            OpKind::Slice { begin } => {
                let mut offset = a.offset.clone();
                for (d, &b) in begin.iter().enumerate() {
                    match &a.strides[d] {
                        Stride::Prod(dims) if b > 0 => offset.push((b, dims.clone())),
                        _ => {}
                    }
                }
                Access { buf: a.buf, offset, strides: a.strides }
            }
            OpKind::Reshape => {
                // a reshape is free only over row-major data
                let size_one = |d: usize| xs.0[d] == Dim::Fixed(1);
                let contiguous_x = contiguous(&xs);
                let ok = (0..xs.rank()).all(|d| size_one(d) || a.strides[d] == contiguous_x[d]);
                if !ok {
                    return None;
                }
                Access { buf: a.buf, offset: a.offset, strides: contiguous(&out) }
            }
            _ => return None,
        })
    }
}
