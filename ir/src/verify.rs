//! The verifier: every invariant of a module, checked in one walk.

use crate::{infer_type, DimClasses, Loc, Module, Type};
// FxHash: verifying hashes every name, and SipHash was a fifth of building a long chain
use rustc_hash::FxHashSet as HashSet;
use std::fmt;

/// A broken invariant, naming the op (or variable) and where it was built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct VerifyError {
    /// `%name` of the op or `@name` of the variable at fault, if any.
    pub at: Option<String>,
    /// The op's source location, if known.
    pub loc: Option<Loc>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = &self.loc {
            write!(f, "{l}: ")?;
        }
        f.write_str("verifier: ")?;
        if let Some(a) = &self.at {
            write!(f, "{a}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// True if `s` is a valid value or variable name: `[A-Za-z0-9_./-]+`, not starting
/// with `/`.
pub fn is_valid_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('/')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
}

/// Checks names, def-before-use, operand counts, dtypes, shapes and constraints.
pub fn verify(m: &Module) -> Result<(), VerifyError> {
    verify_from(m, 0)
}

/// [`verify`] for a module that grew: the constraints and variables, and the ops from
/// index `from` on, each against the module's types. For a module that only grows (a
/// graph under construction), checking each op once when it is new checks them all;
/// a new op's name is checked against the other new ones, since the graph that built
/// the old ones names every op uniquely.
pub fn verify_from(m: &Module, from: usize) -> Result<(), VerifyError> {
    let err = |at: Option<String>, loc: Option<&Loc>, message: String| VerifyError { at, loc: loc.cloned(), message };
    let mut classes = DimClasses::default();
    for (a, b) in &m.constraints {
        if let Some((x, y)) = classes.union(a, b) {
            return Err(err(None, None, format!("constraint {a} = {b} equates {x} and {y}")));
        }
    }
    let mut names = HashSet::with_capacity_and_hasher(m.ops.len().max(m.vars.len()), Default::default());
    for v in &m.vars {
        let at = Some(format!("@{}", v.name));
        if !is_valid_name(&v.name) {
            return Err(err(at, v.loc.as_ref(), "invalid variable name".into()));
        }
        if !names.insert(v.name.as_str()) {
            return Err(err(at, v.loc.as_ref(), "variable declared twice".into()));
        }
        if v.ty.shape.has_sym() {
            return Err(err(at, v.loc.as_ref(), format!("variable type {} must have fixed dims", v.ty)));
        }
        v.ty.shape.check_size().map_err(|e| err(at.clone(), v.loc.as_ref(), e))?;
    }
    names.clear();
    for (i, op) in m.ops.iter().enumerate().skip(from) {
        // the op's name is formatted only for an error: verifying is once per op
        let fail = |message: String| err(Some(format!("%{}", op.name)), op.loc.as_ref(), message);
        if !is_valid_name(&op.name) {
            return Err(fail("invalid value name".into()));
        }
        if !names.insert(op.name.as_str()) {
            return Err(fail("value name defined twice".into()));
        }
        if let Some(&u) = op.operands.iter().find(|u| u.index() >= i) {
            let what = m.ops.get(u.index()).map_or(format!("{u}"), |o| format!("%{}", o.name));
            return Err(fail(format!("uses {what} before its definition")));
        }
        let got = infer_type(m, &classes, &op.kind, &op.operands, op.ty.as_ref())
            .map_err(|e| fail(format!("{}: {e}", op.kind.mnemonic())))?;
        let same = match (&got, &op.ty) {
            (None, None) => true,
            (Some(a), Some(b)) => same_ty(&classes, a, b),
            _ => false,
        };
        if !same {
            let show = |t: &Option<Type>| t.as_ref().map_or("()".to_string(), Type::to_string);
            return Err(fail(format!(
                "{}: result type is {} but the operands give {}",
                op.kind.mnemonic(),
                show(&op.ty),
                show(&got)
            )));
        }
    }
    Ok(())
}

fn same_ty(c: &DimClasses, a: &Type, b: &Type) -> bool {
    a.dtype == b.dtype && c.same_shape(&a.shape, &b.shape)
}
