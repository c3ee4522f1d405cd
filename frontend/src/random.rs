//! Random ops that draw at run time (TF `random_uniform`, `random_normal`,
//! `truncated_normal`, `random.categorical` / `multinomial`): each run draws fresh
//! numbers, reproducibly from the seeds.
//!
//! Seeds follow TF1's rule: an op's stream is fixed by the graph seed
//! (`set_random_seed`, 0 by default) and its op seed; without an op seed, the op seed is
//! the graph's count of random ops so far. The numbers are kiln's own (TF's Philox
//! streams are not reproduced), with TF's distributions.

use crate::ops::values;
use crate::{DType, Graph, Result, Tensor};
use kiln_ir::{Dim, Loc, OpKind, RandomDist, Shape, Type};

use crate::variables::splitmix;

impl Graph {
    /// A random op of `shape` (symbolic dims allowed) drawing from `dist`.
    pub(crate) fn random_at(
        &self,
        dist: RandomDist,
        shape: Shape,
        dtype: DType,
        seed: Option<u64>,
        name: &str,
        loc: &Loc,
    ) -> Result<Tensor> {
        let seed = {
            let mut g = self.lock();
            g.random_ops += 1;
            let op_seed = seed.unwrap_or(g.random_ops);
            // the op seed is mixed twice so an explicit seed never collides with a count
            splitmix(g.seed ^ splitmix(op_seed ^ if seed.is_some() { 0x5EED } else { 0 }))
        };
        let ty = Type::new(dtype, shape);
        let v = self.add_op(OpKind::Random { dist, seed }, &[], Some(ty), name, loc)?;
        Ok(self.tensor(v))
    }

    /// A random op of `like`'s shape, its symbolic dims included (TF's
    /// `random_normal(tf.shape(x))`: noise for a batch of any size).
    #[track_caller]
    pub fn random_shaped_like(
        &self,
        dist: RandomDist,
        like: &Tensor,
        dtype: DType,
        seed: Option<u64>,
    ) -> Result<Tensor> {
        let loc = Loc::caller();
        values("random", self, &[like], &loc)?;
        let shape = like.ty().map(|t| t.shape).unwrap_or_default();
        self.random_at(dist, shape, dtype, seed, dist.mnemonic(), &loc)
    }

    /// TF `random_uniform(shape, minval, maxval, dtype, seed)`: uniform on `[min, max)`.
    #[track_caller]
    pub fn random_uniform(
        &self,
        shape: &[usize],
        min: f64,
        max: f64,
        dtype: DType,
        seed: Option<u64>,
    ) -> Result<Tensor> {
        let loc = Loc::caller();
        self.random_at(RandomDist::Uniform { min, max }, Shape::fixed(shape), dtype, seed, "random_uniform", &loc)
    }

    /// TF `random_normal(shape, mean, stddev, dtype, seed)`.
    #[track_caller]
    pub fn random_normal(
        &self,
        shape: &[usize],
        mean: f64,
        stddev: f64,
        dtype: DType,
        seed: Option<u64>,
    ) -> Result<Tensor> {
        let loc = Loc::caller();
        self.random_at(RandomDist::Normal { mean, stddev }, Shape::fixed(shape), dtype, seed, "random_normal", &loc)
    }

    /// TF `truncated_normal(shape, mean, stddev, dtype, seed)`: redrawn beyond two
    /// standard deviations.
    #[track_caller]
    pub fn truncated_normal(
        &self,
        shape: &[usize],
        mean: f64,
        stddev: f64,
        dtype: DType,
        seed: Option<u64>,
    ) -> Result<Tensor> {
        let loc = Loc::caller();
        let dist = RandomDist::TruncatedNormal { mean, stddev };
        self.random_at(dist, Shape::fixed(shape), dtype, seed, "truncated_normal", &loc)
    }
}

/// TF `random.categorical(logits, num_samples)` (and `multinomial`): for each row of
/// `logits` (`[batch, classes]`, unnormalised log-probabilities), `num_samples` class
/// indices drawn with probabilities `softmax(row)`, as int64 `[batch, num_samples]`.
/// By the Gumbel-max rule: the argmax of `logits + G` for standard Gumbel noise `G`.
/// Not differentiable (TF's is not either).
#[track_caller]
pub fn categorical(logits: &Tensor, num_samples: usize, seed: Option<u64>) -> Result<Tensor> {
    categorical_as(logits, num_samples, seed, DType::I64)
}

/// [`categorical`] with TF's `output_dtype` (int64 or int32), as `multinomial` takes it.
#[track_caller]
pub fn categorical_as(logits: &Tensor, num_samples: usize, seed: Option<u64>, output_dtype: DType) -> Result<Tensor> {
    let loc = Loc::caller();
    let g = logits.graph().clone();
    values("categorical", &g, &[logits], &loc)?;
    let t = logits.ty().ok_or_else(|| crate::Error::Invalid {
        op: "categorical".into(),
        message: "logits must be a tensor".into(),
        loc: loc.clone(),
    })?;
    let dims = t.shape.dims();
    if dims.len() != 2 || !t.dtype.is_float() {
        return Err(crate::Error::Invalid {
            op: "categorical".into(),
            message: format!(
                "logits must be a float matrix [batch, classes], got {} {}",
                t.dtype.tf_name(),
                t.shape.tf_string()
            ),
            loc,
        });
    }
    let (batch, classes) = (dims[0].clone(), dims[1].clone());
    let noise_shape = Shape(vec![batch.clone(), Dim::Fixed(num_samples as u64), classes.clone()]);
    // U on (0, 1): -log(-log(U)) is finite
    let dist = RandomDist::Uniform { min: f64::from(f32::MIN_POSITIVE), max: 1.0 };
    let u = g.random_at(dist, noise_shape.clone(), t.dtype, seed, "categorical/uniform", &loc)?;
    let gumbel = crate::negative(&crate::log(&crate::negative(&crate::log(&u)?)?)?)?;
    let rows = crate::ops::expand_dims_at(logits, 1, &loc)?;
    let scores = crate::add(&rows, &gumbel)?;
    crate::argmax_typed(&scores, 2, output_dtype)
}
