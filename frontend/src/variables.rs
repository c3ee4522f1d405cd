//! Variables: `get_variable` under variable scopes, initializers, and the collections.

use crate::constant::{cast_literal, IntoConstant};
use crate::graph::{check_name, VarInfo};
use crate::ops::values;
use crate::{Error, Graph, Result, Reuse, Tensor};
use kiln_ir::{DType, Literal, Loc, OpKind, RandomDist, Shape, Type, Var};
use std::sync::Arc;

/// The options of [`Graph::get_variable_with`] (TF `get_variable`'s keywords).
#[derive(Clone, Debug)]
pub struct VarOptions {
    /// The initializer (default: the variable scope's, else Glorot uniform).
    pub initializer: Option<Initializer>,
    /// A weight penalty added to `regularization_losses` when the variable is made.
    pub regularizer: Option<crate::Regularizer>,
    /// Whether optimizers train it (default true).
    pub trainable: bool,
}

impl Default for VarOptions {
    fn default() -> Self {
        VarOptions { initializer: None, regularizer: None, trainable: true }
    }
}

/// How a variable gets its first value (TF initializers). Random ones draw from a seed
/// derived from the graph seed, so a run is reproducible.
#[derive(Clone, Debug)]
pub enum Initializer {
    /// The value a tensor of the graph computes when the initializer runs (TF
    /// `Variable(initial_value)` with a tensor, or `get_variable(initializer=tensor)`);
    /// its dtype and fixed shape must be the variable's.
    Value(crate::Tensor),
    /// A given value of the declared shape, or a scalar filling it.
    Constant(Literal, Vec<usize>),
    /// All zeros.
    Zeros,
    /// All ones.
    Ones,
    /// Normal(mean, stddev).
    RandomNormal {
        /// mean
        mean: f64,
        /// standard deviation
        stddev: f64,
    },
    /// Normal(mean, stddev) redrawn beyond two standard deviations.
    TruncatedNormal {
        /// mean
        mean: f64,
        /// standard deviation
        stddev: f64,
    },
    /// Uniform on `[min, max)`.
    RandomUniform {
        /// lower bound
        min: f64,
        /// upper bound
        max: f64,
    },
    /// Glorot (Xavier) uniform: `U(-l, l)`, `l = sqrt(6 / (fan_in + fan_out))`.
    GlorotUniform,
    /// Glorot normal: truncated normal with `stddev = sqrt(2 / (fan_in + fan_out)) / 0.8796`.
    GlorotNormal,
    /// A random orthogonal matrix times `gain` (TF `orthogonal_initializer`), over the
    /// variable's rows (every dim but the last) and columns (the last). Drawn once, when
    /// the variable is declared.
    Orthogonal {
        /// scale
        gain: f64,
    },
}

impl Initializer {
    /// TF `constant_initializer(value)`. Invalid data (ragged lists) becomes an error
    /// when the variable is created.
    pub fn constant(value: impl IntoConstant) -> Initializer {
        match value.into_literal() {
            Ok((lit, shape)) => Initializer::Constant(lit, shape),
            // keep the error for get_variable, which knows the location
            Err(_) => Initializer::Constant(Literal::F32(Vec::new()), vec![usize::MAX]),
        }
    }

    /// TF `contrib.layers.xavier_initializer()` (= Glorot uniform).
    pub fn xavier() -> Initializer {
        Initializer::GlorotUniform
    }
}

/// TF's fan computation: `[.., in, out]` with receptive field the product of the rest.
fn fans(shape: &[usize]) -> (f64, f64) {
    match shape {
        [] => (1.0, 1.0),
        [n] => (*n as f64, *n as f64),
        _ => {
            let rf: usize = shape[..shape.len() - 2].iter().product();
            let k = shape.len();
            ((shape[k - 2] * rf) as f64, (shape[k - 1] * rf) as f64)
        }
    }
}

/// SplitMix64's output function: seeds from graph seeds and op counts.
pub(crate) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Graph {
    /// Creates or (under a reuse scope) returns a variable (TF `get_variable`).
    ///
    /// The full name is the variable-scope prefix plus `name`. Without reuse an
    /// existing name is an error naming where it was first defined; with reuse a
    /// missing one is. `None` as initializer means Glorot uniform, as in TF.
    #[track_caller]
    pub fn get_variable(
        &self,
        name: &str,
        shape: &[usize],
        dtype: DType,
        initializer: impl Into<Option<Initializer>>,
    ) -> Result<Tensor> {
        let opts = VarOptions { initializer: initializer.into(), ..Default::default() };
        self.get_variable_full(name, shape, dtype, opts, Loc::caller()).map(|(t, _)| t)
    }

    /// [`Graph::get_variable`] with `trainable` (TF's `trainable=` argument).
    #[track_caller]
    pub fn get_variable_trainable(
        &self,
        name: &str,
        shape: &[usize],
        dtype: DType,
        initializer: impl Into<Option<Initializer>>,
        trainable: bool,
    ) -> Result<Tensor> {
        let opts = VarOptions { initializer: initializer.into(), regularizer: None, trainable };
        self.get_variable_full(name, shape, dtype, opts, Loc::caller()).map(|(t, _)| t)
    }

    /// TF `get_variable` with every option; also says whether the variable was created
    /// (rather than reused). A new variable's regularizer penalty (its own, else the
    /// scope's) goes to the `regularization_losses` collection, as in TF1.
    #[track_caller]
    pub fn get_variable_with(
        &self,
        name: &str,
        shape: &[usize],
        dtype: DType,
        opts: VarOptions,
    ) -> Result<(Tensor, bool)> {
        self.get_variable_full(name, shape, dtype, opts, Loc::caller())
    }

    fn get_variable_full(
        &self,
        name: &str,
        shape: &[usize],
        dtype: DType,
        opts: VarOptions,
        loc: Loc,
    ) -> Result<(Tensor, bool)> {
        check_name(name, &loc)?;
        let (full, reuse) = {
            let g = self.lock();
            (format!("{}{name}", g.var_prefix()), g.reuse())
        };
        let ty = Type::new(dtype, Shape::fixed(shape));
        let existing = {
            let g = self.lock();
            g.module.var_by_name(&full).map(|v| (g.module.var(v).clone(), g.vars[v.index()].clone()))
        };
        match (existing, reuse) {
            (Some((var, info)), Reuse::Yes | Reuse::Auto) => {
                if var.ty != ty {
                    return Err(Error::VariableMismatch {
                        name: full,
                        existing: var.ty.to_string(),
                        requested: ty.to_string(),
                        loc,
                    });
                }
                return Ok((self.tensor(info.read), false));
            }
            (Some((var, _)), Reuse::Inherit) => {
                return Err(Error::DuplicateVariable { name: full, first: var.loc, loc })
            }
            (None, Reuse::Yes) => return Err(Error::NoSuchVariable { name: full, loc }),
            (None, Reuse::Inherit | Reuse::Auto) => {}
        }
        let (scope_init, scope_reg) = self.scope_defaults();
        let init = opts.initializer.or(scope_init).unwrap_or(Initializer::GlorotUniform);
        let v = self.create_variable(&full, shape, dtype, init, opts.trainable, loc)?;
        if let Some(reg) = opts.regularizer.or(scope_reg) {
            if let Some(p) = reg.penalty(&v)? {
                self.add_to_collection(crate::graph_keys::REGULARIZATION_LOSSES, &p)?;
            }
        }
        Ok((v, true))
    }

    /// Declares a variable by its full name, outside any scope (optimizer slots).
    pub(crate) fn create_variable(
        &self,
        full: &str,
        shape: &[usize],
        dtype: DType,
        init: Initializer,
        trainable: bool,
        loc: Loc,
    ) -> Result<Tensor> {
        let full = full.to_string();
        let ty = Type::new(dtype, Shape::fixed(shape));
        if self.lock().module.var_by_name(&full).is_some() {
            let first = self.lock().module.vars.iter().find(|v| v.name == full).and_then(|v| v.loc.clone());
            return Err(Error::DuplicateVariable { name: full, first, loc });
        }
        if let Initializer::Constant(lit, vshape) = &init {
            if vshape.first() == Some(&usize::MAX) && lit.is_empty() {
                return Err(Error::Constant { message: format!("initializer of '{full}' has ragged data"), loc });
            }
            if !vshape.is_empty() && vshape.as_slice() != shape {
                return Err(Error::InitializerShape {
                    name: full,
                    declared: ty.shape.clone(),
                    value: Shape::fixed(vshape),
                    loc,
                });
            }
        }
        let random =
            !matches!(init, Initializer::Constant(..) | Initializer::Zeros | Initializer::Ones | Initializer::Value(_));
        if matches!(init, Initializer::Orthogonal { .. }) && shape.len() < 2 {
            let message = format!("The tensor to initialize must be at least two-dimensional ('{full}')");
            return Err(Error::Invalid { op: "orthogonal_initializer".into(), message, loc });
        }
        if random && !dtype.is_float() {
            let message = format!("random initializer for '{full}' needs a float dtype, not {dtype}");
            return Err(Error::Constant { message, loc });
        }
        let var = {
            let mut g = self.lock();
            g.reserve_name(&full);
            Arc::make_mut(&mut g.module).add_var(Var {
                name: full.clone(),
                ty: ty.clone(),
                trainable,
                loc: Some(loc.clone()),
            })
        };
        // variable ops live at the root of the name space, named after the variable
        let saved = std::mem::take(&mut self.lock().name_scopes);
        let built = self.build_variable(var, &full, &ty, &init, &loc);
        self.lock().name_scopes = saved;
        let (read, init_op) = built?;
        self.lock().vars.push(VarInfo { var, read, init: init_op });
        Ok(self.tensor(read))
    }

    fn build_variable(
        &self,
        var: kiln_ir::VarId,
        full: &str,
        ty: &Type,
        init: &Initializer,
        loc: &Loc,
    ) -> Result<(kiln_ir::ValueId, kiln_ir::ValueId)> {
        let read = {
            let mut g = self.lock();
            let ok = g.module.value_by_name(full).is_none();
            let name = if ok { full.to_string() } else { g.unique_name(full) };
            Arc::make_mut(&mut g.module).push(kiln_ir::Op {
                kind: OpKind::Read(var),
                operands: vec![],
                ty: Some(ty.clone()),
                name,
                loc: Some(loc.clone()),
            })
        };
        let value = self.initial_value(full, ty, init, loc)?;
        let init_op = self.add_op(OpKind::Assign(var), &[value], None, &format!("{full}/Assign"), loc)?;
        Ok((read, init_op))
    }

    fn initial_value(&self, full: &str, ty: &Type, init: &Initializer, loc: &Loc) -> Result<kiln_ir::ValueId> {
        let dims = ty.shape.as_fixed().unwrap_or_default();
        let prefix = format!("{full}/Initializer");
        let cerr = |message: String| Error::Constant { message, loc: loc.clone() };
        let fill = |lit: Literal, what: &str| -> Result<kiln_ir::ValueId> {
            let lit = cast_literal(&lit, ty.dtype).map_err(cerr)?;
            if dims.is_empty() {
                return self.add_op(OpKind::Constant(lit), &[], Some(ty.clone()), &format!("{prefix}/{what}"), loc);
            }
            let c = self.add_op(
                OpKind::Constant(lit),
                &[],
                Some(Type::scalar(ty.dtype)),
                &format!("{prefix}/{what}/Const"),
                loc,
            )?;
            self.add_op(OpKind::Broadcast { dims: vec![] }, &[c], Some(ty.clone()), &format!("{prefix}/{what}"), loc)
        };
        let (fan_in, fan_out) = fans(&dims);
        let dist = match init {
            Initializer::Value(t) => {
                let v = crate::ops::values("Variable", self, &[t], loc)?;
                let have = crate::ops::data_ty("Variable", t, loc)?;
                if have.dtype != ty.dtype {
                    return Err(Error::DType {
                        op: "Variable".into(),
                        lhs: ty.dtype,
                        rhs: have.dtype,
                        loc: loc.clone(),
                    });
                }
                if have.shape != ty.shape {
                    let (name, declared, value) = (full.to_string(), ty.shape.clone(), have.shape);
                    return Err(Error::InitializerShape { name, declared, value, loc: loc.clone() });
                }
                return Ok(v[0]);
            }
            Initializer::Orthogonal { gain } => {
                if !ty.dtype.is_float() {
                    return Err(cerr(format!(
                        "orthogonal initializer for '{full}' needs a float dtype, not {}",
                        ty.dtype
                    )));
                }
                let seed = {
                    let mut g = self.lock();
                    g.random_ops += 1;
                    splitmix(g.seed ^ splitmix(g.random_ops))
                };
                let q = crate::orthogonal::orthogonal(&dims, *gain, seed);
                let lit = cast_literal(&Literal::F64(q), ty.dtype).map_err(cerr)?;
                return self.add_op(OpKind::Constant(lit), &[], Some(ty.clone()), &format!("{prefix}/orthogonal"), loc);
            }
            Initializer::Constant(lit, vshape) => {
                if vshape.is_empty() {
                    return fill(lit.clone(), "Const");
                }
                let lit = cast_literal(lit, ty.dtype).map_err(cerr)?;
                return self.add_op(OpKind::Constant(lit), &[], Some(ty.clone()), &format!("{prefix}/Const"), loc);
            }
            Initializer::Zeros => return fill(Literal::F64(vec![0.0]), "zeros"),
            Initializer::Ones => return fill(Literal::F64(vec![1.0]), "ones"),
            Initializer::RandomNormal { mean, stddev } => RandomDist::Normal { mean: *mean, stddev: *stddev },
            Initializer::TruncatedNormal { mean, stddev } => {
                RandomDist::TruncatedNormal { mean: *mean, stddev: *stddev }
            }
            Initializer::RandomUniform { min, max } => RandomDist::Uniform { min: *min, max: *max },
            Initializer::GlorotUniform => {
                let l = (6.0 / (fan_in + fan_out).max(1.0)).sqrt();
                RandomDist::Uniform { min: -l, max: l }
            }
            Initializer::GlorotNormal => {
                let s = (2.0 / (fan_in + fan_out).max(1.0)).sqrt() / 0.879_625_661_034_239_8;
                RandomDist::TruncatedNormal { mean: 0.0, stddev: s }
            }
        };
        if !ty.dtype.is_float() {
            return Err(cerr(format!("random initializer for '{full}' needs a float dtype, not {}", ty.dtype)));
        }
        let seed = {
            let mut g = self.lock();
            g.random_ops += 1;
            splitmix(g.seed ^ splitmix(g.random_ops))
        };
        let kind = OpKind::Random { dist, seed };
        let base = format!("{prefix}/{}", kind.mnemonic());
        self.add_op(kind, &[], Some(ty.clone()), &base, loc)
    }

    /// Every variable, in creation order (TF `global_variables()`).
    pub fn global_variables(&self) -> Vec<Tensor> {
        let reads: Vec<_> = self.lock().vars.iter().map(|v| v.read).collect();
        reads.into_iter().map(|r| self.tensor(r)).collect()
    }

    /// The trainable variables, in creation order (TF `trainable_variables()`).
    pub fn trainable_variables(&self) -> Vec<Tensor> {
        let reads: Vec<_> = {
            let g = self.lock();
            g.vars.iter().filter(|v| g.module.var(v.var).trainable).map(|v| v.read).collect()
        };
        reads.into_iter().map(|r| self.tensor(r)).collect()
    }

    /// An op that assigns every variable its initial value (TF
    /// `global_variables_initializer()`), named `init`.
    #[track_caller]
    pub fn global_variables_initializer(&self) -> Result<Tensor> {
        let vars = self.global_variables();
        let refs: Vec<&Tensor> = vars.iter().collect();
        self.variables_initializer_at(&refs, Loc::caller())
    }

    /// An op that initializes the given variables (TF `variables_initializer`).
    #[track_caller]
    pub fn variables_initializer(&self, vars: &[&Tensor]) -> Result<Tensor> {
        self.variables_initializer_at(vars, Loc::caller())
    }

    fn variables_initializer_at(&self, vars: &[&Tensor], loc: Loc) -> Result<Tensor> {
        let vs = values("init", self, vars, &loc)?;
        let inits = {
            let g = self.lock();
            vs.iter()
                .map(|v| {
                    g.vars.iter().find(|i| i.read == *v).map(|i| i.init).ok_or_else(|| Error::Invalid {
                        op: "init".into(),
                        message: format!("'{}' is not a variable", g.module.op(*v).name),
                        loc: loc.clone(),
                    })
                })
                .collect::<Result<Vec<_>>>()?
        };
        let v = self.add_op(OpKind::Group, &inits, None, "init", &loc)?;
        Ok(self.tensor(v))
    }

    /// The initializer (assign) op of a variable.
    pub fn initializer_of(&self, var: &Tensor) -> Option<Tensor> {
        let id = var.value().ok()?;
        let init = self.lock().vars.iter().find(|i| i.read == id).map(|i| i.init)?;
        Some(self.tensor(init))
    }
}
