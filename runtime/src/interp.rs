//! The reference interpreter: runs any verified module op by op over `ndarray`.
//! Slow and simple on purpose; it is the oracle the JIT is tested against.

use crate::TensorValue;
use kiln_ir::{
    BinaryOp, CmpOp, DType, Dim, DimClasses, Module, OpKind, RandomDist, ReduceOp, Shape, UnaryOp, ValueId, VarId,
};
use ndarray::{ArrayD, ArrayView1, Axis, IxDyn, Slice, Zip};
use num_traits::{Float, PrimInt, Signed, WrappingAdd, WrappingMul, WrappingNeg, WrappingSub};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

/// A failure while evaluating one op.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("op %{op}: {message}")]
pub struct EvalError {
    /// the op's name
    pub op: String,
    /// what went wrong
    pub message: String,
}

/// Applies `$e` to the array inside any dtype, keeping the dtype.
macro_rules! map_array {
    ($v:expr, $a:ident => $e:expr) => {
        match $v {
            TensorValue::F32($a) => TensorValue::F32($e),
            TensorValue::F64($a) => TensorValue::F64($e),
            TensorValue::I32($a) => TensorValue::I32($e),
            TensorValue::I64($a) => TensorValue::I64($e),
            TensorValue::Bool($a) => TensorValue::Bool($e),
            TensorValue::U8($a) => TensorValue::U8($e),
            TensorValue::I8($a) => TensorValue::I8($e),
            TensorValue::U16($a) => TensorValue::U16($e),
            TensorValue::I16($a) => TensorValue::I16($e),
            TensorValue::Unit => TensorValue::Unit,
        }
    };
}

/// A narrow-integer value widened to i32 (exact); `None` for other dtypes. The
/// interpreter computes narrow integers as i32 and wraps back with [`narrow`], which
/// wraps as the narrow type's own arithmetic does (the kernels do the same).
fn widen(x: &TensorValue) -> Option<TensorValue> {
    Some(TensorValue::I32(match x {
        TensorValue::U8(a) => a.mapv(i32::from),
        TensorValue::I8(a) => a.mapv(i32::from),
        TensorValue::U16(a) => a.mapv(i32::from),
        TensorValue::I16(a) => a.mapv(i32::from),
        _ => return None,
    }))
}

/// An i32 value wrapped into the narrow dtype `to` (other values pass through).
fn narrow(x: TensorValue, to: DType) -> TensorValue {
    let TensorValue::I32(a) = x else { return x };
    match to {
        DType::U8 => TensorValue::U8(a.mapv(|v| v as u8)),
        DType::I8 => TensorValue::I8(a.mapv(|v| v as i8)),
        DType::U16 => TensorValue::U16(a.mapv(|v| v as u16)),
        DType::I16 => TensorValue::I16(a.mapv(|v| v as i16)),
        _ => TensorValue::I32(a),
    }
}

/// Sizes bound to symbolic dims for one run, keyed by class representative.
#[derive(Clone, Debug, Default)]
pub struct Bindings {
    classes: DimClasses,
    sizes: HashMap<String, usize>,
    /// How many times each random op (by seed) has run in this session: a random op
    /// draws fresh numbers at every run, the n-th run's from `(seed, n)`.
    pub draws: std::sync::Arc<HashMap<u64, u64>>,
}

impl Bindings {
    /// Empty bindings under the module's dim constraints.
    pub fn new(m: &Module) -> Bindings {
        Bindings { classes: m.dim_classes(), sizes: HashMap::new(), draws: Default::default() }
    }

    /// The stream a random op of `seed` draws from in this run.
    pub fn draw_seed(&self, seed: u64) -> u64 {
        match self.draws.get(&seed) {
            None | Some(0) => seed, // the first run draws what the seed alone gives
            Some(&n) => seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17),
        }
    }

    /// The concrete size of `d`, if known. A sum symbol (`?0+?1`, a concat along a
    /// symbolic axis) is the sum of its terms' sizes.
    pub fn size(&self, d: &Dim) -> Option<usize> {
        match self.classes.canon(d) {
            Dim::Fixed(n) => Some(n as usize),
            Dim::Sym(s) => match self.sizes.get(&s) {
                Some(&n) => Some(n),
                None if s.contains('+') => self.sum_of_terms(&s),
                None => None,
            },
        }
    }

    /// The sum of a sum symbol's terms under these bindings.
    fn sum_of_terms(&self, s: &str) -> Option<usize> {
        s.split('+').try_fold(0usize, |acc, t| {
            let n = match t.parse::<usize>() {
                Ok(n) => n,
                Err(_) => self.size(&Dim::Sym(t.to_string()))?,
            };
            acc.checked_add(n)
        })
    }

    /// Checks that every sum symbol constrained equal to another dim (a concat of two
    /// batches added to a third) has that dim's size; returns the first that does not,
    /// with its two sizes.
    pub fn check_sums(&self, m: &Module) -> Result<(), (String, usize, usize)> {
        for (a, b) in &m.constraints {
            for (sum, other) in [(a, b), (b, a)] {
                if let Dim::Sym(s) = sum {
                    if s.contains('+') {
                        if let (Some(x), Some(y)) = (self.sum_of_terms(s), self.size(other)) {
                            if x != y {
                                return Err((format!("{sum} = {other}"), x, y));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Binds `d` to `n`. Returns the previous size if it differs.
    pub fn bind(&mut self, d: &Dim, n: usize) -> Result<(), usize> {
        match self.classes.canon(d) {
            Dim::Fixed(k) if k as usize == n => Ok(()),
            Dim::Fixed(k) => Err(k as usize),
            Dim::Sym(s) => match self.sizes.get(&s) {
                Some(&k) if k != n => Err(k),
                _ => {
                    self.sizes.insert(s, n);
                    Ok(())
                }
            },
        }
    }

    /// The concrete shape of `s`.
    pub fn shape(&self, s: &Shape) -> Option<Vec<usize>> {
        s.0.iter().map(|d| self.size(d)).collect()
    }
}

/// Values needed to compute `roots`: every op they reach through operands.
pub fn reachable(m: &Module, roots: &[ValueId]) -> Vec<bool> {
    let mut need = vec![false; m.ops.len()];
    let mut stack: Vec<ValueId> = roots.to_vec();
    while let Some(v) = stack.pop() {
        if std::mem::replace(&mut need[v.index()], true) {
            continue;
        }
        stack.extend(m.op(v).operands.iter().copied());
    }
    need
}

/// The outcome of a run: fetched values and the variable writes to commit.
pub struct RunOutput {
    /// one per fetch
    pub fetches: Vec<TensorValue>,
    /// assignments, in op order; committed by the caller after the run
    pub assigns: Vec<(VarId, TensorValue)>,
}

/// Evaluates `fetches`. Reads see `vars` as they were at the start; assigns are
/// returned, not applied, so a failed run changes nothing.
pub fn run(
    m: &Module,
    fetches: &[ValueId],
    feeds: &HashMap<ValueId, &TensorValue>,
    vars: &[Option<TensorValue>],
    bindings: &Bindings,
) -> Result<RunOutput, EvalError> {
    let (vals, assigns) = run_all(m, fetches, feeds, vars, bindings)?;
    let fetches = fetches.iter().map(|f| vals[f.index()].clone().unwrap_or(TensorValue::Unit)).collect();
    Ok(RunOutput { fetches, assigns })
}

/// Every value of a run, indexed by op, and the variable writes.
pub type AllValues = (Vec<Option<TensorValue>>, Vec<(VarId, TensorValue)>);

/// The seeds of the random ops a run of `fetches` executes (the session counts their
/// draws).
pub fn random_seeds(m: &Module, need: &[bool]) -> Vec<u64> {
    m.values()
        .filter(|v| need.get(v.index()).copied().unwrap_or(false))
        .filter_map(|v| match m.op(v).kind {
            OpKind::Random { seed, .. } => Some(seed),
            _ => None,
        })
        .collect()
}

/// Like [`run`], but returns every value computed (indexed by op) and the assigns.
pub fn run_all(
    m: &Module,
    fetches: &[ValueId],
    feeds: &HashMap<ValueId, &TensorValue>,
    vars: &[Option<TensorValue>],
    bindings: &Bindings,
) -> Result<AllValues, EvalError> {
    let need = reachable(m, fetches);
    let mut vals: Vec<Option<TensorValue>> = vec![None; m.ops.len()];
    let mut assigns = Vec::new();
    for v in m.values().filter(|v| need[v.index()]) {
        let op = m.op(v);
        let out = match &op.kind {
            OpKind::Parameter => {
                (*feeds.get(&v).ok_or_else(|| EvalError { op: op.name.clone(), message: "no feed".into() })?).clone()
            }
            OpKind::Assign(var) => {
                let x = operand_value(&vals, op, 0)?.clone();
                assigns.push((*var, x));
                TensorValue::Unit
            }
            _ => {
                let args: Vec<&TensorValue> =
                    (0..op.operands.len()).map(|i| operand_value(&vals, op, i)).collect::<Result<_, _>>()?;
                eval_op(m, v, &args, vars, bindings)?
            }
        };
        vals[v.index()] = Some(out);
    }
    Ok((vals, assigns))
}

/// Operand `i` of `op`, which ran before it in a module that verifies; an error for a
/// module that does not (an operand defined later, or out of range).
fn operand_value<'a>(
    vals: &'a [Option<TensorValue>],
    op: &kiln_ir::Op,
    i: usize,
) -> Result<&'a TensorValue, EvalError> {
    op.operands.get(i).and_then(|o| vals.get(o.index())?.as_ref()).ok_or_else(|| EvalError {
        op: op.name.clone(),
        message: format!("operand {i} has no value before the op (the module does not verify)"),
    })
}

/// Evaluates one op on the values of its operands (any op but a parameter or assign).
pub fn eval_op(
    m: &Module,
    v: ValueId,
    args: &[&TensorValue],
    vars: &[Option<TensorValue>],
    bindings: &Bindings,
) -> Result<TensorValue, EvalError> {
    {
        let op = m.op(v);
        let err = |message: String| EvalError { op: op.name.clone(), message };
        let arg = |i: usize| -> &TensorValue { args[i] };
        let out_shape = || -> Result<Vec<usize>, EvalError> {
            let t = op.ty.as_ref().ok_or_else(|| err("op has no result type".into()))?;
            bindings.shape(&t.shape).ok_or_else(|| err(format!("unbound symbolic dim in {}", t.shape)))
        };
        if let Some(t) = &op.ty {
            if let Some(dims) = bindings.shape(&t.shape) {
                check_alloc(&dims, t.dtype).map_err(err)?;
            }
        }
        let out = match &op.kind {
            OpKind::Parameter => return Err(err("a parameter has no value without its feed".into())),
            OpKind::Constant(lit) => constant(lit, &out_shape()?).map_err(err)?,
            OpKind::Read(var) => vars
                .get(var.index())
                .and_then(|x| x.clone())
                .ok_or_else(|| err(format!("variable @{} is not initialized", m.var(*var).name)))?,
            OpKind::Assign(_) => TensorValue::Unit,
            OpKind::Random { dist, seed } => {
                random(*dist, bindings.draw_seed(*seed), op.ty.as_ref().map_or(DType::F32, |t| t.dtype), &out_shape()?)
            }
            OpKind::Unary(u) => unary(*u, arg(0)).map_err(err)?,
            OpKind::Binary(b) => binary(*b, arg(0), arg(1)).map_err(err)?,
            OpKind::Compare(c) => compare(*c, arg(0), arg(1)),
            OpKind::Select => select(arg(0), arg(1), arg(2)),
            OpKind::Broadcast { dims } => broadcast(arg(0), dims, &out_shape()?).map_err(err)?,
            OpKind::Reshape => {
                map_array!(arg(0), a => a.as_standard_layout().into_owned().into_shape_with_order(IxDyn(&out_shape()?)).map_err(|e| err(e.to_string()))?)
            }
            OpKind::Transpose { perm } => {
                map_array!(arg(0), a => a.view().permuted_axes(IxDyn(perm)).as_standard_layout().into_owned())
            }
            OpKind::Slice { begin } => {
                let shape = out_shape()?;
                map_array!(arg(0), a => a.slice_each_axis(|ax| {
                    let b = begin[ax.axis.index()] as isize;
                    Slice::from(b..b + shape[ax.axis.index()] as isize)
                }).to_owned())
            }
            OpKind::Concat { axis } => concat(args, *axis).map_err(err)?,
            OpKind::Reduce { op: r, axes, keepdims } => reduce(*r, arg(0), axes, *keepdims),
            OpKind::MatMul => matmul(arg(0), arg(1)).map_err(err)?,
            OpKind::Convert => convert(arg(0), op.ty.as_ref().map_or(DType::F32, |t| t.dtype)),
            OpKind::Group => TensorValue::Unit,
            OpKind::StopGradient => arg(0).clone(),
            OpKind::DimSize { axes } => {
                let n: usize = axes.iter().map(|&a| arg(0).shape()[a]).product();
                filled(op.ty.as_ref().map_or(DType::F32, |t| t.dtype), &[], n as f64)
            }
            OpKind::Iota { axis } => iota(op.ty.as_ref().map_or(DType::I32, |t| t.dtype), &out_shape()?, *axis),
            OpKind::ArgMax { axis } => argmax(arg(0), *axis, op.ty.as_ref().map_or(DType::I64, |t| t.dtype)),
            OpKind::CheckIndex { bound } => {
                let idx = indices(arg(0));
                if let Some(bad) = idx.iter().find(|&&i| i < 0 || i as u64 >= *bound) {
                    return Err(err(format!("label {bad} is outside the valid range [0, {bound})")));
                }
                arg(0).clone()
            }
            OpKind::Gather => gather(arg(0), &indices(arg(1))).map_err(err)?,
            OpKind::Cumsum { axis, exclusive, reverse } => cumsum(arg(0), *axis, *exclusive, *reverse),
            OpKind::ScatterAdd => scatter_add(&indices(arg(0)), arg(1), &out_shape()?).map_err(err)?,
        };
        // every value is kept in row-major layout, so callers can take slices
        Ok(map_array!(out, a => if a.is_standard_layout() { a } else { a.as_standard_layout().into_owned() }))
    }
}

/// Fails if a value of `dims` exceeds [`kiln_ir::MAX_ELEMENTS`], or is large and its
/// memory cannot be had: a typed error rather than an abort.
fn check_alloc(dims: &[usize], dtype: DType) -> Result<(), String> {
    let n = dims.iter().try_fold(1u64, |p, &d| p.checked_mul(d as u64));
    // a zero dim empties the value, but its other dims still size strides and
    // ndarray's shape checks: each stays within the limit too
    let dims_ok = dims.iter().all(|&d| d as u64 <= kiln_ir::MAX_ELEMENTS);
    let n = match n {
        Some(n) if n <= kiln_ir::MAX_ELEMENTS && dims_ok => n,
        _ => return Err(format!("a value of shape {dims:?} exceeds the limit of {} elements", kiln_ir::MAX_ELEMENTS)),
    };
    let bytes = n as usize * kiln_passes::abi::Width::of(dtype).bytes();
    if bytes > 256 << 20 {
        // probe: the allocator says no instead of aborting the process later
        Vec::<u8>::new()
            .try_reserve_exact(bytes)
            .map_err(|e| format!("{bytes} bytes for a value of shape {dims:?}: {e}"))?;
    }
    Ok(())
}

fn constant(lit: &kiln_ir::Literal, shape: &[usize]) -> Result<TensorValue, String> {
    use kiln_ir::Literal as L;
    let s = IxDyn(shape);
    // the verifier checks the literal's length; a module that skipped it gets an error
    let mk = |r: Result<TensorValue, ndarray::ShapeError>| {
        r.map_err(|e| format!("a literal of {} elements for shape {shape:?}: {e}", lit.len()))
    };
    match lit {
        L::F32(v) => mk(ArrayD::from_shape_vec(s, v.clone()).map(TensorValue::F32)),
        L::F64(v) => mk(ArrayD::from_shape_vec(s, v.clone()).map(TensorValue::F64)),
        L::I32(v) => mk(ArrayD::from_shape_vec(s, v.clone()).map(TensorValue::I32)),
        L::I64(v) => mk(ArrayD::from_shape_vec(s, v.clone()).map(TensorValue::I64)),
        L::Bool(v) => mk(ArrayD::from_shape_vec(s, v.clone()).map(TensorValue::Bool)),
        L::U8(v) => mk(ArrayD::from_shape_vec(s, v.clone()).map(TensorValue::U8)),
        L::I8(v) => mk(ArrayD::from_shape_vec(s, v.clone()).map(TensorValue::I8)),
        L::U16(v) => mk(ArrayD::from_shape_vec(s, v.clone()).map(TensorValue::U16)),
        L::I16(v) => mk(ArrayD::from_shape_vec(s, v.clone()).map(TensorValue::I16)),
    }
}

fn random(dist: RandomDist, seed: u64, dtype: DType, shape: &[usize]) -> TensorValue {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    let mut draw = || -> f64 {
        match dist {
            RandomDist::Uniform { min, max } => min + (max - min) * rng.random::<f64>(),
            RandomDist::Normal { mean, stddev } => mean + stddev * rng.sample::<f64, _>(rand_distr::StandardNormal),
            RandomDist::TruncatedNormal { mean, stddev } => loop {
                let z: f64 = rng.sample(rand_distr::StandardNormal);
                if z.abs() <= 2.0 {
                    break mean + stddev * z;
                }
            },
        }
    };
    let data: Vec<f64> = (0..n).map(|_| draw()).collect();
    let a = ArrayD::from_shape_vec(IxDyn(shape), data).expect("n matches the shape");
    match dtype {
        DType::F64 => TensorValue::F64(a),
        _ => TensorValue::F32(a.mapv(|x| x as f32)),
    }
}

fn unary_float<T: Float>(u: UnaryOp, x: T) -> T {
    let zero = T::zero();
    match u {
        UnaryOp::Neg => -x,
        UnaryOp::Abs => x.abs(),
        UnaryOp::Sign => {
            if x > zero {
                T::one()
            } else if x < zero {
                -T::one()
            } else {
                x // keeps 0, -0 and NaN as TF does
            }
        }
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Rsqrt => x.sqrt().recip(),
        UnaryOp::Square => x * x,
        UnaryOp::Tanh => x.tanh(),
        UnaryOp::Sigmoid => T::one() / (T::one() + (-x).exp()),
        UnaryOp::Relu => {
            // NaN passes through, as in TF
            if x > zero || x.is_nan() {
                x
            } else {
                zero
            }
        }
        // max(x, 0) + log1p(e^-|x|): no overflow for large x, exact for -inf and inf
        UnaryOp::Softplus => x.max(zero) + (-x.abs()).exp().ln_1p(),
        UnaryOp::Log1p => x.ln_1p(),
        UnaryOp::Elu => {
            if x > zero {
                x
            } else {
                x.exp_m1() // keeps NaN
            }
        }
    }
}

fn unary_int<T: PrimInt + Signed + WrappingNeg + WrappingMul>(u: UnaryOp, x: T) -> Result<T, String> {
    Ok(match u {
        UnaryOp::Neg => x.wrapping_neg(),
        UnaryOp::Abs => {
            if x < T::zero() {
                x.wrapping_neg()
            } else {
                x
            }
        }
        UnaryOp::Sign => x.signum(),
        UnaryOp::Square => x.wrapping_mul(&x),
        UnaryOp::Relu => x.max(T::zero()),
        // float-only ops (the verifier refuses them on integers)
        UnaryOp::Exp
        | UnaryOp::Log
        | UnaryOp::Sqrt
        | UnaryOp::Rsqrt
        | UnaryOp::Tanh
        | UnaryOp::Sigmoid
        | UnaryOp::Softplus
        | UnaryOp::Log1p
        | UnaryOp::Elu => return Err(format!("{} is not defined on integers", u.mnemonic())),
    })
}

fn unary(u: UnaryOp, a: &TensorValue) -> Result<TensorValue, String> {
    if let (Some(w), Some(d)) = (widen(a), a.dtype()) {
        return Ok(narrow(unary(u, &w)?, d));
    }
    Ok(match a {
        TensorValue::F32(x) => TensorValue::F32(x.mapv(|v| unary_float(u, v))),
        TensorValue::F64(x) => TensorValue::F64(x.mapv(|v| unary_float(u, v))),
        TensorValue::I32(x) => TensorValue::I32(try_map(x, |v| unary_int(u, v))?),
        TensorValue::I64(x) => TensorValue::I64(try_map(x, |v| unary_int(u, v))?),
        _ => return Err(format!("{u:?} on {:?}", a.dtype())),
    })
}

fn try_map<T: Copy, U>(x: &ArrayD<T>, f: impl Fn(T) -> Result<U, String>) -> Result<ArrayD<U>, String> {
    let data = x.iter().map(|&v| f(v)).collect::<Result<Vec<U>, String>>()?;
    Ok(ArrayD::from_shape_vec(x.raw_dim(), data).expect("same length"))
}

fn try_zip<T: Copy, U>(
    x: &ArrayD<T>,
    y: &ArrayD<T>,
    f: impl Fn(T, T) -> Result<U, String>,
) -> Result<ArrayD<U>, String> {
    if x.shape() != y.shape() {
        return Err(format!("operand shapes {:?} and {:?} differ at run time", x.shape(), y.shape()));
    }
    let data = x.iter().zip(y.iter()).map(|(&a, &b)| f(a, b)).collect::<Result<Vec<U>, String>>()?;
    Ok(ArrayD::from_shape_vec(x.raw_dim(), data).expect("same length"))
}

fn binary_float<T: Float>(b: BinaryOp, x: T, y: T) -> T {
    match b {
        BinaryOp::Add => x + y,
        BinaryOp::Sub => x - y,
        BinaryOp::Mul => x * y,
        BinaryOp::Div => x / y,
        BinaryOp::Pow => x.powf(y),
        // NaN-propagating, as TF's maximum/minimum
        BinaryOp::Maximum => {
            if x.is_nan() || y.is_nan() {
                T::nan()
            } else {
                x.max(y)
            }
        }
        BinaryOp::Minimum => {
            if x.is_nan() || y.is_nan() {
                T::nan()
            } else {
                x.min(y)
            }
        }
    }
}

fn binary_int<T: PrimInt + WrappingAdd + WrappingSub + WrappingMul>(b: BinaryOp, x: T, y: T) -> Result<T, String> {
    Ok(match b {
        BinaryOp::Add => x.wrapping_add(&y),
        BinaryOp::Sub => x.wrapping_sub(&y),
        BinaryOp::Mul => x.wrapping_mul(&y),
        BinaryOp::Div => x.checked_div(&y).ok_or("integer division by zero or overflow")?,
        BinaryOp::Maximum => x.max(y),
        BinaryOp::Minimum => x.min(y),
        BinaryOp::Pow => return Err("pow is not defined on integers".into()),
    })
}

fn binary(b: BinaryOp, x: &TensorValue, y: &TensorValue) -> Result<TensorValue, String> {
    use TensorValue as V;
    if let (Some(wx), Some(wy), Some(d)) = (widen(x), widen(y), x.dtype()) {
        return Ok(narrow(binary(b, &wx, &wy)?, d));
    }
    Ok(match (x, y) {
        (V::F32(x), V::F32(y)) => V::F32(try_zip(x, y, |a, c| Ok(binary_float(b, a, c)))?),
        (V::F64(x), V::F64(y)) => V::F64(try_zip(x, y, |a, c| Ok(binary_float(b, a, c)))?),
        (V::I32(x), V::I32(y)) => V::I32(try_zip(x, y, |a, c| binary_int(b, a, c))?),
        (V::I64(x), V::I64(y)) => V::I64(try_zip(x, y, |a, c| binary_int(b, a, c))?),
        _ => return Err(format!("{b:?} on {:?} and {:?}", x.dtype(), y.dtype())),
    })
}

fn cmp<T: PartialOrd>(c: CmpOp, a: &T, b: &T) -> bool {
    match c {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
    }
}

fn compare(c: CmpOp, x: &TensorValue, y: &TensorValue) -> TensorValue {
    use TensorValue as V;
    if let (Some(wx), Some(wy)) = (widen(x), widen(y)) {
        return compare(c, &wx, &wy);
    }
    let z = |r: ArrayD<bool>| V::Bool(r);
    match (x, y) {
        (V::F32(a), V::F32(b)) => z(Zip::from(a).and(b).map_collect(|p, q| cmp(c, p, q))),
        (V::F64(a), V::F64(b)) => z(Zip::from(a).and(b).map_collect(|p, q| cmp(c, p, q))),
        (V::I32(a), V::I32(b)) => z(Zip::from(a).and(b).map_collect(|p, q| cmp(c, p, q))),
        (V::I64(a), V::I64(b)) => z(Zip::from(a).and(b).map_collect(|p, q| cmp(c, p, q))),
        (V::Bool(a), V::Bool(b)) => z(Zip::from(a).and(b).map_collect(|p, q| cmp(c, p, q))),
        _ => V::Unit,
    }
}

fn select(c: &TensorValue, x: &TensorValue, y: &TensorValue) -> TensorValue {
    use TensorValue as V;
    let Ok(c) = c.as_bool() else { return V::Unit };
    macro_rules! sel {
        ($a:expr, $b:expr, $var:ident) => {
            V::$var(Zip::from(c).and($a).and($b).map_collect(|&k, &p, &q| if k { p } else { q }))
        };
    }
    match (x, y) {
        (V::F32(a), V::F32(b)) => sel!(a, b, F32),
        (V::F64(a), V::F64(b)) => sel!(a, b, F64),
        (V::I32(a), V::I32(b)) => sel!(a, b, I32),
        (V::I64(a), V::I64(b)) => sel!(a, b, I64),
        (V::Bool(a), V::Bool(b)) => sel!(a, b, Bool),
        (V::U8(a), V::U8(b)) => sel!(a, b, U8),
        (V::I8(a), V::I8(b)) => sel!(a, b, I8),
        (V::U16(a), V::U16(b)) => sel!(a, b, U16),
        (V::I16(a), V::I16(b)) => sel!(a, b, I16),
        _ => V::Unit,
    }
}

fn broadcast(x: &TensorValue, dims: &[usize], out: &[usize]) -> Result<TensorValue, String> {
    let mut expanded = vec![1usize; out.len()];
    for (i, &d) in dims.iter().enumerate() {
        expanded[d] = x.shape()[i];
    }
    let fail = || format!("cannot broadcast {:?} to {out:?}", x.shape());
    Ok(map_array!(x, a => a
        .view()
        .into_shape_with_order(IxDyn(&expanded))
        .map_err(|_| fail())?
        .broadcast(IxDyn(out))
        .ok_or_else(fail)?
        .to_owned()))
}

fn concat(xs: &[&TensorValue], axis: usize) -> Result<TensorValue, String> {
    macro_rules! cat {
        ($var:ident, $as:ident) => {{
            let views = xs
                .iter()
                .map(|x| x.$as().map(|a| a.view()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            TensorValue::$var(ndarray::concatenate(Axis(axis), &views).map_err(|e| e.to_string())?)
        }};
    }
    Ok(match xs[0] {
        TensorValue::F32(_) => cat!(F32, as_f32),
        TensorValue::F64(_) => cat!(F64, as_f64),
        TensorValue::I32(_) => cat!(I32, as_i32),
        TensorValue::I64(_) => cat!(I64, as_i64),
        TensorValue::Bool(_) => cat!(Bool, as_bool),
        TensorValue::U8(_) => cat!(U8, as_u8),
        TensorValue::I8(_) => cat!(I8, as_i8),
        TensorValue::U16(_) => cat!(U16, as_u16),
        TensorValue::I16(_) => cat!(I16, as_i16),
        TensorValue::Unit => TensorValue::Unit,
    })
}

/// Element types reductions run on.
trait Reducible: Copy + std::ops::Add<Output = Self> + std::ops::Mul<Output = Self> + PartialOrd {
    const ZERO: Self;
    const ONE: Self;
    const LOWEST: Self;
    const HIGHEST: Self;
    fn mean(sum: Self, n: usize) -> Self;
    fn is_nan(self) -> bool;
}

macro_rules! reducible {
    ($t:ty, $lo:expr, $hi:expr, $nan:expr, $mean:expr) => {
        impl Reducible for $t {
            const ZERO: Self = 0 as $t;
            const ONE: Self = 1 as $t;
            const LOWEST: Self = $lo;
            const HIGHEST: Self = $hi;
            fn mean(sum: Self, n: usize) -> Self {
                $mean(sum, n)
            }
            #[allow(clippy::redundant_closure_call)]
            fn is_nan(self) -> bool {
                $nan(self)
            }
        }
    };
}
reducible!(f32, f32::NEG_INFINITY, f32::INFINITY, |x: f32| x.is_nan(), |s: f32, n: usize| s / n as f32);
reducible!(f64, f64::NEG_INFINITY, f64::INFINITY, |x: f64| x.is_nan(), |s: f64, n: usize| s / n as f64);
reducible!(i32, i32::MIN, i32::MAX, |_| false, |s: i32, n: usize| if n == 0 { 0 } else { s / n as i32 });
reducible!(i64, i64::MIN, i64::MAX, |_| false, |s: i64, n: usize| if n == 0 { 0 } else { s / n as i64 });

/// `op` over `v` in a balanced tree: a long float32 sum then errs by O(log n) roundings,
/// as TF1's tree reductions do, not O(n) as a running sum would.
fn pairwise<T: Copy>(v: ArrayView1<T>, id: T, op: impl Fn(T, T) -> T + Copy) -> T {
    if v.len() <= 8 {
        return v.iter().fold(id, |acc, &x| op(acc, x));
    }
    let (l, r) = v.split_at(Axis(0), v.len() / 2);
    op(pairwise(l, id, op), pairwise(r, id, op))
}

fn reduce_arr<T: Reducible>(r: ReduceOp, x: &ArrayD<T>, axes: &[usize], keepdims: bool) -> ArrayD<T> {
    // adjacent reduced axes are one run of elements, reduced as one axis, as TF's
    // reduction helper merges them (a sum over [2, 2] is then one running sum of 4,
    // not two sums of 2 added)
    let contiguous = axes.len() > 1 && axes.windows(2).all(|w| w[1] == w[0] + 1);
    if contiguous {
        let (first, last) = (axes[0], axes[axes.len() - 1]);
        let shape = x.shape();
        let merged: usize = shape[first..=last].iter().product();
        let flat: Vec<usize> =
            shape[..first].iter().copied().chain([merged]).chain(shape[last + 1..].iter().copied()).collect();
        if let Ok(v) = x.as_standard_layout().into_owned().into_shape_with_order(IxDyn(&flat)) {
            let mut out = reduce_arr(r, &v, &[first], false);
            if keepdims {
                for &ax in axes {
                    out.insert_axis_inplace(Axis(ax));
                }
            }
            return out;
        }
    }
    let mut a = x.clone();
    let mut count = 1usize;
    for &ax in axes.iter().rev() {
        count *= a.shape()[ax];
        a = match r {
            ReduceOp::Sum | ReduceOp::Mean => a.map_axis(Axis(ax), |v| pairwise(v, T::ZERO, |x, y| x + y)),
            ReduceOp::Prod => a.map_axis(Axis(ax), |v| pairwise(v, T::ONE, |x, y| x * y)),
            // NaN wins, as in TF
            ReduceOp::Max => {
                a.fold_axis(
                    Axis(ax),
                    T::LOWEST,
                    |&acc, &v| {
                        if acc.is_nan() || !(v.is_nan() || v > acc) {
                            acc
                        } else {
                            v
                        }
                    },
                )
            }
            ReduceOp::Min => {
                a.fold_axis(
                    Axis(ax),
                    T::HIGHEST,
                    |&acc, &v| {
                        if acc.is_nan() || !(v.is_nan() || v < acc) {
                            acc
                        } else {
                            v
                        }
                    },
                )
            }
        };
    }
    if r == ReduceOp::Mean {
        a.mapv_inplace(|s| T::mean(s, count));
    }
    if keepdims {
        for &ax in axes {
            a.insert_axis_inplace(Axis(ax));
        }
    }
    a
}

fn reduce(r: ReduceOp, x: &TensorValue, axes: &[usize], keepdims: bool) -> TensorValue {
    if let (Some(w), Some(d)) = (widen(x), x.dtype()) {
        if r != ReduceOp::Mean {
            return narrow(reduce(r, &w, axes, keepdims), d);
        }
        // TF sums a mean's terms in the narrow type itself (wrapping), then divides
        let sum = narrow(reduce(ReduceOp::Sum, &w, axes, keepdims), d);
        let n: usize = axes.iter().map(|&a| x.shape()[a]).product();
        let Some(TensorValue::I32(s)) = widen(&sum) else { return TensorValue::Unit };
        return narrow(TensorValue::I32(s.mapv(|v| if n == 0 { 0 } else { v / n as i32 })), d);
    }
    match x {
        TensorValue::F32(a) => TensorValue::F32(reduce_arr(r, a, axes, keepdims)),
        TensorValue::F64(a) => TensorValue::F64(reduce_arr(r, a, axes, keepdims)),
        TensorValue::I32(a) => TensorValue::I32(reduce_arr(r, a, axes, keepdims)),
        TensorValue::I64(a) => TensorValue::I64(reduce_arr(r, a, axes, keepdims)),
        _ => TensorValue::Unit,
    }
}

/// Batched matmul by the definition; accumulates in the element type.
fn matmul_arr<T: Copy + std::ops::Add<Output = T> + std::ops::Mul<Output = T> + Default>(
    a: &ArrayD<T>,
    b: &ArrayD<T>,
    add: impl Fn(T, T) -> T,
    mul: impl Fn(T, T) -> T,
) -> Result<ArrayD<T>, String> {
    let r = a.ndim();
    let (m, k, n) = (a.shape()[r - 2], a.shape()[r - 1], b.shape()[r - 1]);
    if b.shape()[r - 2] != k || a.shape()[..r - 2] != b.shape()[..r - 2] {
        return Err(format!("matmul shapes {:?} and {:?} differ at run time", a.shape(), b.shape()));
    }
    let batch: usize = a.shape()[..r - 2].iter().product();
    let a = a.as_standard_layout();
    let b = b.as_standard_layout();
    let (ad, bd) = (a.as_slice().expect("contiguous"), b.as_slice().expect("contiguous"));
    let mut out = vec![T::default(); batch * m * n];
    for p in 0..batch {
        for i in 0..m {
            for j in 0..n {
                let mut acc = T::default();
                for q in 0..k {
                    acc = add(acc, mul(ad[p * m * k + i * k + q], bd[p * k * n + q * n + j]));
                }
                out[p * m * n + i * n + j] = acc;
            }
        }
    }
    let mut shape = a.shape().to_vec();
    shape[r - 1] = n;
    Ok(ArrayD::from_shape_vec(IxDyn(&shape), out).expect("sized above"))
}

fn matmul(x: &TensorValue, y: &TensorValue) -> Result<TensorValue, String> {
    use TensorValue as V;
    if let (Some(wx), Some(wy), Some(d)) = (widen(x), widen(y), x.dtype()) {
        return Ok(narrow(matmul(&wx, &wy)?, d));
    }
    Ok(match (x, y) {
        (V::F32(a), V::F32(b)) => V::F32(matmul_arr(a, b, |p, q| p + q, |p, q| p * q)?),
        (V::F64(a), V::F64(b)) => V::F64(matmul_arr(a, b, |p, q| p + q, |p, q| p * q)?),
        (V::I32(a), V::I32(b)) => V::I32(matmul_arr(a, b, |p: i32, q| p.wrapping_add(q), |p, q| p.wrapping_mul(q))?),
        (V::I64(a), V::I64(b)) => V::I64(matmul_arr(a, b, |p: i64, q| p.wrapping_add(q), |p, q| p.wrapping_mul(q))?),
        _ => return Err("matmul on unsupported dtypes".into()),
    })
}

fn convert(x: &TensorValue, to: DType) -> TensorValue {
    // a narrow integer converts as its i32; to one, through i32 (saturating from
    // floats, as the kernels' conversion does), then wrapped
    if let Some(w) = widen(x) {
        return convert(&w, to);
    }
    if to.is_narrow_int() {
        return narrow(convert(x, DType::I32), to);
    }
    macro_rules! to_all {
        ($a:expr, $f64:expr, $bool:expr) => {
            match to {
                DType::F32 => TensorValue::F32($a.mapv(|v| $f64(v) as f32)),
                DType::F64 => TensorValue::F64($a.mapv(|v| $f64(v))),
                // `as` saturates and maps NaN to 0: defined, never UB
                DType::I32 => TensorValue::I32($a.mapv(|v| $f64(v) as i32)),
                DType::I64 => TensorValue::I64($a.mapv(|v| $f64(v) as i64)),
                DType::Bool => TensorValue::Bool($a.mapv(|v| $bool(v))),
                DType::U8 | DType::I8 | DType::U16 | DType::I16 => unreachable!("handled above"),
            }
        };
    }
    match x {
        TensorValue::F32(a) => to_all!(a, |v: f32| v as f64, |v: f32| v != 0.0),
        TensorValue::F64(a) => to_all!(a, |v: f64| v, |v: f64| v != 0.0),
        TensorValue::I32(a) => match to {
            DType::I64 => TensorValue::I64(a.mapv(|v| v as i64)),
            _ => to_all!(a, |v: i32| v as f64, |v: i32| v != 0),
        },
        TensorValue::I64(a) => match to {
            DType::I32 => TensorValue::I32(a.mapv(|v| v as i32)),
            _ => to_all!(a, |v: i64| v as f64, |v: i64| v != 0),
        },
        TensorValue::Bool(a) => to_all!(a, |v: bool| if v { 1.0 } else { 0.0 }, |v: bool| v),
        _ => TensorValue::Unit,
    }
}

/// A value of `dtype` and `shape` with every element `x`.
pub fn filled(dtype: DType, shape: &[usize], x: f64) -> TensorValue {
    let s = IxDyn(shape);
    match dtype {
        DType::F32 => TensorValue::F32(ArrayD::from_elem(s, x as f32)),
        DType::F64 => TensorValue::F64(ArrayD::from_elem(s, x)),
        DType::I32 => TensorValue::I32(ArrayD::from_elem(s, x as i32)),
        DType::I64 => TensorValue::I64(ArrayD::from_elem(s, x as i64)),
        DType::Bool => TensorValue::Bool(ArrayD::from_elem(s, x != 0.0)),
        d => narrow(TensorValue::I32(ArrayD::from_elem(s, x as i32)), d),
    }
}

fn iota(dtype: DType, shape: &[usize], axis: usize) -> TensorValue {
    let idx = ArrayD::from_shape_fn(IxDyn(shape), |i| i[axis] as f64);
    convert(&TensorValue::F64(idx), dtype)
}

/// TF1's argmax: the first index of the largest value, NaNs skipped (a lane of NaNs
/// only gives 0), as Eigen's `>` scan does.
fn argmax_arr<T: Copy + PartialOrd>(a: &ArrayD<T>, axis: usize, is_nan: impl Fn(T) -> bool) -> ArrayD<i64> {
    a.map_axis(Axis(axis), |lane| {
        let mut best: Option<usize> = None;
        for (i, &v) in lane.iter().enumerate() {
            if is_nan(v) {
                continue;
            }
            if best.is_none_or(|b| v > lane[b]) {
                best = Some(i);
            }
        }
        best.unwrap_or(0) as i64
    })
}

fn cumsum_arr<T: Reducible>(a: &ArrayD<T>, axis: usize, exclusive: bool, reverse: bool) -> ArrayD<T> {
    let mut out = a.clone();
    for mut lane in out.lanes_mut(Axis(axis)) {
        let n = lane.len();
        let mut acc = T::ZERO;
        for k in 0..n {
            let i = if reverse { n - 1 - k } else { k };
            let x = lane[i];
            lane[i] = if exclusive { acc } else { acc + x };
            acc = acc + x;
        }
    }
    out
}

fn cumsum(x: &TensorValue, axis: usize, exclusive: bool, reverse: bool) -> TensorValue {
    if let (Some(w), Some(d)) = (widen(x), x.dtype()) {
        return narrow(cumsum(&w, axis, exclusive, reverse), d);
    }
    match x {
        TensorValue::F32(a) => TensorValue::F32(cumsum_arr(a, axis, exclusive, reverse)),
        TensorValue::F64(a) => TensorValue::F64(cumsum_arr(a, axis, exclusive, reverse)),
        TensorValue::I32(a) => TensorValue::I32(cumsum_arr(a, axis, exclusive, reverse)),
        TensorValue::I64(a) => TensorValue::I64(cumsum_arr(a, axis, exclusive, reverse)),
        _ => TensorValue::Unit,
    }
}

fn argmax(x: &TensorValue, axis: usize, to: DType) -> TensorValue {
    if let Some(w) = widen(x) {
        return argmax(&w, axis, to);
    }
    let r = match x {
        TensorValue::F32(a) => argmax_arr(a, axis, |v: f32| v.is_nan()),
        TensorValue::F64(a) => argmax_arr(a, axis, |v: f64| v.is_nan()),
        TensorValue::I32(a) => argmax_arr(a, axis, |_| false),
        TensorValue::I64(a) => argmax_arr(a, axis, |_| false),
        _ => return TensorValue::Unit,
    };
    convert(&TensorValue::I64(r), to)
}

/// Integer indices of any integer dtype, with their shape.
fn indices(x: &TensorValue) -> ArrayD<i64> {
    match x {
        TensorValue::I32(a) => a.mapv(|v| v as i64),
        TensorValue::I64(a) => a.clone(),
        other => match widen(other) {
            Some(TensorValue::I32(a)) => a.mapv(|v| v as i64),
            _ => ArrayD::zeros(IxDyn(&[0])),
        },
    }
}

fn gather_arr<T: Copy>(p: &ArrayD<T>, idx: &ArrayD<i64>) -> Result<ArrayD<T>, String> {
    let n = p.shape()[0];
    let rows: Vec<_> = idx
        .iter()
        .map(|&i| {
            usize::try_from(i).ok().filter(|&i| i < n).ok_or_else(|| format!("index {i} is out of range for {n} rows"))
        })
        .collect::<Result<_, _>>()?;
    let picked = p.select(Axis(0), &rows);
    let mut shape = idx.shape().to_vec();
    shape.extend_from_slice(&p.shape()[1..]);
    picked.into_shape_with_order(IxDyn(&shape)).map_err(|e| e.to_string())
}

fn gather(p: &TensorValue, idx: &ArrayD<i64>) -> Result<TensorValue, String> {
    Ok(match p {
        TensorValue::F32(a) => TensorValue::F32(gather_arr(a, idx)?),
        TensorValue::F64(a) => TensorValue::F64(gather_arr(a, idx)?),
        TensorValue::I32(a) => TensorValue::I32(gather_arr(a, idx)?),
        TensorValue::I64(a) => TensorValue::I64(gather_arr(a, idx)?),
        TensorValue::Bool(a) => TensorValue::Bool(gather_arr(a, idx)?),
        TensorValue::U8(a) => TensorValue::U8(gather_arr(a, idx)?),
        TensorValue::I8(a) => TensorValue::I8(gather_arr(a, idx)?),
        TensorValue::U16(a) => TensorValue::U16(gather_arr(a, idx)?),
        TensorValue::I16(a) => TensorValue::I16(gather_arr(a, idx)?),
        TensorValue::Unit => TensorValue::Unit,
    })
}

fn scatter_arr<T: Copy + Default + std::ops::Add<Output = T>>(
    idx: &ArrayD<i64>,
    u: &ArrayD<T>,
    shape: &[usize],
) -> Result<ArrayD<T>, String> {
    let n = shape[0];
    let row: usize = shape[1..].iter().product();
    let mut out = vec![T::default(); n * row];
    let u = u.as_standard_layout();
    let ud = u.as_slice().expect("contiguous");
    for (k, &i) in idx.iter().enumerate() {
        let r = usize::try_from(i)
            .ok()
            .filter(|&i| i < n)
            .ok_or_else(|| format!("index {i} is out of range for {n} rows"))?;
        for j in 0..row {
            out[r * row + j] = out[r * row + j] + ud[k * row + j];
        }
    }
    ArrayD::from_shape_vec(IxDyn(shape), out).map_err(|e| e.to_string())
}

fn scatter_add(idx: &ArrayD<i64>, u: &TensorValue, shape: &[usize]) -> Result<TensorValue, String> {
    if let (Some(w), Some(d)) = (widen(u), u.dtype()) {
        return Ok(narrow(scatter_add(idx, &w, shape)?, d));
    }
    Ok(match u {
        TensorValue::F32(a) => TensorValue::F32(scatter_arr(idx, a, shape)?),
        TensorValue::F64(a) => TensorValue::F64(scatter_arr(idx, a, shape)?),
        TensorValue::I32(a) => TensorValue::I32(scatter_arr(idx, a, shape)?),
        TensorValue::I64(a) => TensorValue::I64(scatter_arr(idx, a, shape)?),
        _ => return Err("scatter_add of bool".into()),
    })
}
