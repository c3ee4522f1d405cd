//! Each op's attributes, listed once ([`OpKind::attrs`]): the printer, the parser and
//! CSE's hash all go through that list, and its match is exhaustive, so a new op's
//! attributes cannot be missed by one of them.

use crate::op::{OpKind, RandomDist};

/// One attribute of an op, by kind of value, borrowed for reading or writing.
#[derive(Debug)]
pub enum AttrRef<'a> {
    /// An axis (`axis=1`).
    Index(&'a mut usize),
    /// A list of axes (`dims=[0, 1]`).
    Indices(&'a mut Vec<usize>),
    /// A count, bound or seed (`bound=3`).
    Count(&'a mut u64),
    /// A list of offsets (`begin=[1, 0]`).
    Counts(&'a mut Vec<u64>),
    /// A flag (`keepdims=true`).
    Flag(&'a mut bool),
    /// A real number, in Rust's shortest round-trip form (`min=-0.5`).
    Number(&'a mut f64),
}

impl AttrRef<'_> {
    /// The value as IR text.
    pub fn text(&self) -> String {
        let list = |xs: Vec<String>| format!("[{}]", xs.join(", "));
        match self {
            AttrRef::Index(x) => x.to_string(),
            AttrRef::Indices(v) => list(v.iter().map(|x| x.to_string()).collect()),
            AttrRef::Count(x) => x.to_string(),
            AttrRef::Counts(v) => list(v.iter().map(|x| x.to_string()).collect()),
            AttrRef::Flag(b) => b.to_string(),
            AttrRef::Number(x) => format!("{x:?}"),
        }
    }
}

impl OpKind {
    /// The attributes in their text order, by name.
    pub fn attrs(&mut self) -> Vec<(&'static str, AttrRef<'_>)> {
        use AttrRef::*;
        match self {
            OpKind::Random { dist, seed } => {
                let mut v = vec![("seed", Count(seed))];
                match dist {
                    RandomDist::Uniform { min, max } => v.extend([("min", Number(min)), ("max", Number(max))]),
                    RandomDist::Normal { mean, stddev } | RandomDist::TruncatedNormal { mean, stddev } => {
                        v.extend([("mean", Number(mean)), ("stddev", Number(stddev))])
                    }
                }
                v
            }
            OpKind::Broadcast { dims } => vec![("dims", Indices(dims))],
            OpKind::Transpose { perm } => vec![("perm", Indices(perm))],
            OpKind::Slice { begin } => vec![("begin", Counts(begin))],
            OpKind::Concat { axis } | OpKind::Iota { axis } | OpKind::ArgMax { axis } => vec![("axis", Index(axis))],
            OpKind::Reduce { axes, keepdims, .. } => vec![("axes", Indices(axes)), ("keepdims", Flag(keepdims))],
            OpKind::DimSize { axes } => vec![("axes", Indices(axes))],
            OpKind::CheckIndex { bound } => vec![("bound", Count(bound))],
            OpKind::Cumsum { axis, exclusive, reverse } => {
                vec![("axis", Index(axis)), ("exclusive", Flag(exclusive)), ("reverse", Flag(reverse))]
            }
            // a constant's data and a variable reference are operands in the text
            OpKind::Parameter
            | OpKind::Constant(_)
            | OpKind::Read(_)
            | OpKind::Assign(_)
            | OpKind::Unary(_)
            | OpKind::Binary(_)
            | OpKind::Compare(_)
            | OpKind::Select
            | OpKind::Reshape
            | OpKind::MatMul
            | OpKind::Convert
            | OpKind::Group
            | OpKind::StopGradient
            | OpKind::Gather
            | OpKind::ScatterAdd => vec![],
        }
    }

    /// The attributes as IR text (`axes=[1], keepdims=true`), empty if none.
    pub fn attr_text(&self) -> String {
        // constants carry data, not attributes: no need to copy it
        if matches!(self, OpKind::Constant(_)) {
            return String::new();
        }
        let mut k = self.clone();
        let parts: Vec<String> = k.attrs().iter().map(|(n, a)| format!("{n}={}", a.text())).collect();
        parts.join(", ")
    }
}
