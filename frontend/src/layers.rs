//! `tf.layers` (v1) and `tf.contrib.layers`: `dense`, `fully_connected` and `flatten`,
//! the layers the course's `build_mlp` is written with. Variables are named as TF1
//! names them (`<scope>/dense/kernel`, `<scope>/fully_connected/weights`, then
//! `dense_1`, ... for unnamed layers, counted afresh each time the enclosing variable
//! scope is entered, so re-entering a scope with reuse shares them).

use crate::ops::data_ty;
use crate::{Axes, Error, Initializer, Regularizer, Result, Reuse, Tensor, VarOptions, VarScope};
use kiln_ir::Loc;

/// An activation applied to a layer's output.
pub type Activation = fn(&Tensor) -> Result<Tensor>;

/// The options of [`dense`] (TF `layers.dense`'s keywords).
#[derive(Clone, Debug)]
pub struct Dense {
    /// Applied to the output (default none).
    pub activation: Option<Activation>,
    /// Whether to add a bias (default true).
    pub use_bias: bool,
    /// The kernel's initializer (default: the scope's, else Glorot uniform).
    pub kernel_initializer: Option<Initializer>,
    /// The bias' initializer (default zeros).
    pub bias_initializer: Option<Initializer>,
    /// A penalty on the kernel.
    pub kernel_regularizer: Option<Regularizer>,
    /// A penalty on the bias.
    pub bias_regularizer: Option<Regularizer>,
    /// Whether its variables train (default true).
    pub trainable: bool,
    /// Its variable scope (default `dense`, `dense_1`, ...).
    pub name: Option<String>,
    /// Reuse of its scope.
    pub reuse: Reuse,
}

impl Default for Dense {
    fn default() -> Self {
        Dense {
            activation: None,
            use_bias: true,
            kernel_initializer: None,
            bias_initializer: None,
            kernel_regularizer: None,
            bias_regularizer: None,
            trainable: true,
            name: None,
            reuse: Reuse::Inherit,
        }
    }
}

/// `x @ w + b` over the last axis of `x`, in the open variable scope. `weight` and
/// `bias` are (name, initializer, regularizer). Shared by `dense` and
/// `fully_connected`, which differ in names and defaults only.
type Param<'a> = (&'a str, Option<Initializer>, Option<Regularizer>);

#[track_caller]
fn affine(x: &Tensor, units: usize, weight: Param<'_>, bias: Option<Param<'_>>, trainable: bool) -> Result<Tensor> {
    let loc = Loc::caller();
    let t = data_ty("dense", x, &loc)?;
    let dims = t.shape.dims();
    let g = x.graph();
    let opts = |(_, initializer, regularizer): &Param<'_>| VarOptions {
        initializer: initializer.clone(),
        regularizer: *regularizer,
        trainable,
    };
    let last = dims.last().and_then(|d| d.fixed()).unwrap_or(0) as usize;
    let (kernel, _) = g.get_variable_with(weight.0, &[last, units], t.dtype, opts(&weight))?;
    let mut y = if dims.len() == 2 {
        crate::matmul(x, &kernel)?
    } else {
        // symbolic dims have no products, so [?, 2, 3] cannot become [?*2, 3]:
        // contract the last axis by broadcasting instead
        let e = crate::expand_dims(x, -1)?;
        crate::reduce_sum(&crate::multiply(&e, &kernel)?, Axes::List(vec![-2]), false)?
    };
    if let Some(b) = bias {
        let mut o = opts(&b);
        o.initializer = o.initializer.or(Some(Initializer::Zeros));
        let (bias, _) = g.get_variable_with(b.0, &[units], t.dtype, o)?;
        y = crate::add(&y, &bias)?;
    }
    Ok(y)
}

fn check_input(op: &str, x: &Tensor, loc: &Loc) -> Result<()> {
    let t = data_ty(op, x, loc)?;
    if t.shape.dims().last().and_then(|d| d.fixed()).is_none() {
        let message = format!(
            "The last dimension of the inputs to a Dense layer should be defined. Found None. Full input shape received: {}",
            t.shape.tf_string()
        );
        return Err(Error::Invalid { op: op.into(), message, loc: loc.clone() });
    }
    if !t.dtype.is_float() {
        let message = format!(
            "A Dense layer can only be built with a floating-point dtype. Received: dtype=<dtype: '{}'>",
            t.dtype.tf_name()
        );
        return Err(Error::Type { op: op.into(), message, loc: loc.clone() });
    }
    Ok(())
}

/// TF `layers.dense(inputs, units, ...)`: `activation(inputs @ kernel + bias)` over the
/// last axis; variables `<name>/kernel` and `<name>/bias`.
#[track_caller]
pub fn dense(x: &Tensor, units: usize, opts: Dense) -> Result<Tensor> {
    let loc = Loc::caller();
    check_input("dense", x, &loc)?;
    let g = x.graph();
    let name = opts.name.clone().unwrap_or_else(|| g.unique_layer_name("dense"));
    let y = {
        let _scope = g.variable_scope_with(&name, VarScope { reuse: opts.reuse, ..Default::default() });
        let weight = ("kernel", opts.kernel_initializer, opts.kernel_regularizer);
        let bias = opts.use_bias.then_some(("bias", opts.bias_initializer, opts.bias_regularizer));
        affine(x, units, weight, bias, opts.trainable)?
    };
    // a call through a fn pointer cannot track its caller: place its ops at `loc`
    opts.activation.map_or(Ok(y.clone()), |f| Loc::with_user(loc.clone(), || f(&y)))
}

/// The options of [`fully_connected`] (TF `contrib.layers.fully_connected`'s keywords).
#[derive(Clone, Debug)]
pub struct FullyConnected {
    /// Applied to the output (default ReLU).
    pub activation: Option<Activation>,
    /// The weights' initializer (default Glorot uniform, TF's `xavier_initializer`).
    pub weights_initializer: Option<Initializer>,
    /// A penalty on the weights.
    pub weights_regularizer: Option<Regularizer>,
    /// The biases' initializer (default zeros); `None` with `biases` false: no biases.
    pub biases_initializer: Option<Initializer>,
    /// Whether to add biases (TF: `biases_initializer=None` means none).
    pub biases: bool,
    /// A penalty on the biases.
    pub biases_regularizer: Option<Regularizer>,
    /// Whether its variables train (default true).
    pub trainable: bool,
    /// Its variable scope (default `fully_connected`, `fully_connected_1`, ...).
    pub scope: Option<String>,
    /// Reuse of its scope.
    pub reuse: Reuse,
}

impl Default for FullyConnected {
    fn default() -> Self {
        FullyConnected {
            activation: Some(crate::nn::relu),
            weights_initializer: None,
            weights_regularizer: None,
            biases_initializer: None,
            biases: true,
            biases_regularizer: None,
            trainable: true,
            scope: None,
            reuse: Reuse::Inherit,
        }
    }
}

/// TF `contrib.layers.fully_connected(inputs, num_outputs, ...)`: a dense layer whose
/// variables are `<scope>/weights` and `<scope>/biases`.
#[track_caller]
pub fn fully_connected(x: &Tensor, num_outputs: usize, opts: FullyConnected) -> Result<Tensor> {
    let loc = Loc::caller();
    check_input("fully_connected", x, &loc)?;
    let g = x.graph();
    let name = opts.scope.clone().unwrap_or_else(|| g.unique_layer_name("fully_connected"));
    let y = {
        let _scope = g.variable_scope_with(&name, VarScope { reuse: opts.reuse, ..Default::default() });
        let init = opts.weights_initializer.or(Some(Initializer::GlorotUniform));
        let weight = ("weights", init, opts.weights_regularizer);
        let bias = opts.biases.then_some(("biases", opts.biases_initializer, opts.biases_regularizer));
        affine(x, num_outputs, weight, bias, opts.trainable)?
    };
    // a call through a fn pointer cannot track its caller: place its ops at `loc`
    opts.activation.map_or(Ok(y.clone()), |f| Loc::with_user(loc.clone(), || f(&y)))
}

/// TF `layers.flatten`: `[batch, d1, d2, ...]` to `[batch, d1 * d2 * ...]` (the dims
/// after the first known).
#[track_caller]
pub fn flatten(x: &Tensor) -> Result<Tensor> {
    let loc = Loc::caller();
    let t = data_ty("flatten", x, &loc)?;
    let dims = t.shape.dims();
    let rest: Option<u64> = dims.iter().skip(1).try_fold(1u64, |a, d| d.fixed().and_then(|n| a.checked_mul(n)));
    let (Some(first), Some(size)) = (dims.first(), rest) else {
        let message = format!("flatten needs every dim after the first known, got {}", t.shape.tf_string());
        return Err(Error::Invalid { op: "flatten".into(), message, loc });
    };
    crate::array_ops::reshape_dims(x, vec![first.clone(), kiln_ir::Dim::Fixed(size)], "flatten", &loc)
}
