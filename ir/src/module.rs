//! The module: variables, dim constraints and a list of ops in SSA order.

use crate::{Dim, Loc, Op, OpKind, Shape, Type, ValueId, VarId};
use rustc_hash::FxHashMap as HashMap;

/// A variable: storage that outlives runs, read with `read` and written with `assign`.
#[derive(Clone, Debug, PartialEq)]
pub struct Var {
    /// Unique name (`layer_0/W0`).
    pub name: String,
    /// Type; variables always have fixed shapes.
    pub ty: Type,
    /// Listed by `trainable_variables()` and differentiated by optimizers.
    pub trainable: bool,
    /// Where it was declared.
    pub loc: Option<Loc>,
}

/// A whole program: variables, symbolic-dim equalities and ops in definition order.
///
/// A value is identified by the index of the op that defines it. Every op's operands
/// are defined before it, so the op list is already a topological order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Module {
    /// Declared variables, indexed by [`VarId`].
    pub vars: Vec<Var>,
    /// Equalities between dims that broadcasting assumed (`?1 = ?0`, `?0 = 3`).
    pub constraints: Vec<(Dim, Dim)>,
    /// Ops, indexed by [`ValueId`].
    pub ops: Vec<Op>,
}

impl Module {
    /// An empty module.
    pub fn new() -> Module {
        Module::default()
    }

    /// Appends an op and returns its value.
    pub fn push(&mut self, op: Op) -> ValueId {
        self.ops.push(op);
        ValueId(self.ops.len() as u32 - 1)
    }

    /// Declares a variable.
    pub fn add_var(&mut self, var: Var) -> VarId {
        self.vars.push(var);
        VarId(self.vars.len() as u32 - 1)
    }

    /// The op defining `v`.
    pub fn op(&self, v: ValueId) -> &Op {
        &self.ops[v.index()]
    }

    /// The variable `v`.
    pub fn var(&self, v: VarId) -> &Var {
        &self.vars[v.index()]
    }

    /// The result type of `v`, if it has one.
    pub fn ty(&self, v: ValueId) -> Option<&Type> {
        self.ops.get(v.index()).and_then(|o| o.ty.as_ref())
    }

    /// All values, in order.
    pub fn values(&self) -> impl Iterator<Item = ValueId> {
        (0..self.ops.len() as u32).map(ValueId)
    }

    /// Finds a value by op name.
    pub fn value_by_name(&self, name: &str) -> Option<ValueId> {
        self.ops.iter().position(|o| o.name == name).map(|i| ValueId(i as u32))
    }

    /// Finds a variable by name.
    pub fn var_by_name(&self, name: &str) -> Option<VarId> {
        self.vars.iter().position(|v| v.name == name).map(|i| VarId(i as u32))
    }

    /// The parameters (feeds), in order.
    pub fn parameters(&self) -> Vec<ValueId> {
        self.values().filter(|&v| matches!(self.op(v).kind, OpKind::Parameter)).collect()
    }

    /// The equivalence classes of dims under [`Module::constraints`].
    pub fn dim_classes(&self) -> DimClasses {
        DimClasses::new(&self.constraints)
    }
}

/// Union-find over dims. Each class's representative is its fixed size if it has one,
/// else its first symbol, so canonical shapes compare equal exactly when the
/// constraints make them equal.
#[derive(Clone, Debug, Default)]
pub struct DimClasses {
    parent: HashMap<Dim, Dim>,
}

impl DimClasses {
    /// Builds classes from equalities. Conflicting fixed sizes are reported by
    /// [`DimClasses::conflict`], not here.
    pub fn new(eqs: &[(Dim, Dim)]) -> DimClasses {
        let mut c = DimClasses::default();
        for (a, b) in eqs {
            c.union(a, b);
        }
        c
    }

    fn find(&self, d: &Dim) -> Dim {
        let mut cur = d.clone();
        while let Some(p) = self.parent.get(&cur) {
            if *p == cur {
                break;
            }
            cur = p.clone();
        }
        cur
    }

    /// Records `a = b`. Returns the two fixed sizes if that equates different ones.
    pub fn union(&mut self, a: &Dim, b: &Dim) -> Option<(u64, u64)> {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return None;
        }
        match (&ra, &rb) {
            (Dim::Fixed(x), Dim::Fixed(y)) => return Some((*x, *y)),
            // a fixed size is always the representative
            (Dim::Sym(_), Dim::Fixed(_)) => {
                self.parent.insert(ra, rb);
            }
            _ => {
                self.parent.insert(rb, ra);
            }
        }
        None
    }

    /// Would `a = b` equate two different fixed sizes?
    pub fn conflict(&self, a: &Dim, b: &Dim) -> bool {
        matches!((self.find(a), self.find(b)), (Dim::Fixed(x), Dim::Fixed(y)) if x != y)
    }

    /// The representative of `d`'s class.
    pub fn canon(&self, d: &Dim) -> Dim {
        self.find(d)
    }

    /// `s` with every dim replaced by its representative.
    pub fn canon_shape(&self, s: &Shape) -> Shape {
        Shape(s.0.iter().map(|d| self.canon(d)).collect())
    }

    /// True if the two dims are known equal.
    pub fn same(&self, a: &Dim, b: &Dim) -> bool {
        self.canon(a) == self.canon(b)
    }

    /// True if the two shapes are known equal.
    pub fn same_shape(&self, a: &Shape, b: &Shape) -> bool {
        a.rank() == b.rank() && a.0.iter().zip(&b.0).all(|(x, y)| self.same(x, y))
    }
}
