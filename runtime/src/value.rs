//! Run-time values: an `ndarray` array of one of the IR's dtypes.

use crate::format::{format_floats, justify, layout, python_float_repr, shown_flat, summarize};
use kiln_ir::DType;
use ndarray::{ArrayD, Dimension, IxDyn};
use std::fmt;

/// A fed or fetched value. Fetching an op without a result (an assign, a group such
/// as the init op or a train op) gives [`TensorValue::Unit`], as TF returns `None`.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorValue {
    /// f32 data
    F32(ArrayD<f32>),
    /// f64 data
    F64(ArrayD<f64>),
    /// i32 data
    I32(ArrayD<i32>),
    /// i64 data
    I64(ArrayD<i64>),
    /// bool data
    Bool(ArrayD<bool>),
    /// u8 data
    U8(ArrayD<u8>),
    /// i8 data
    I8(ArrayD<i8>),
    /// u16 data
    U16(ArrayD<u16>),
    /// i16 data
    I16(ArrayD<i16>),
    /// The result of an op without a value.
    Unit,
}

/// A fetched value was not of the requested kind.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected a {expected} value, got {got}")]
pub struct ValueTypeError {
    /// requested dtype
    pub expected: DType,
    /// what the value holds (`f64`, `()`)
    pub got: String,
}

macro_rules! accessors {
    ($($as:ident, $into:ident, $var:ident, $t:ty);*) => {$(
        /// Borrows the array if the value has this dtype.
        pub fn $as(&self) -> Result<&ArrayD<$t>, ValueTypeError> {
            match self {
                TensorValue::$var(a) => Ok(a),
                other => Err(ValueTypeError { expected: DType::$var, got: other.kind() }),
            }
        }
        /// Takes the array if the value has this dtype.
        pub fn $into(self) -> Result<ArrayD<$t>, ValueTypeError> {
            match self {
                TensorValue::$var(a) => Ok(a),
                other => Err(ValueTypeError { expected: DType::$var, got: other.kind() }),
            }
        }
    )*};
}

impl TensorValue {
    accessors!(as_f32, into_f32, F32, f32; as_f64, into_f64, F64, f64; as_i32, into_i32, I32, i32;
               as_i64, into_i64, I64, i64; as_bool, into_bool, Bool, bool; as_u8, into_u8, U8, u8;
               as_i8, into_i8, I8, i8; as_u16, into_u16, U16, u16; as_i16, into_i16, I16, i16);

    /// The dtype, or `None` for [`TensorValue::Unit`].
    pub fn dtype(&self) -> Option<DType> {
        Some(match self {
            TensorValue::F32(_) => DType::F32,
            TensorValue::F64(_) => DType::F64,
            TensorValue::I32(_) => DType::I32,
            TensorValue::I64(_) => DType::I64,
            TensorValue::Bool(_) => DType::Bool,
            TensorValue::U8(_) => DType::U8,
            TensorValue::I8(_) => DType::I8,
            TensorValue::U16(_) => DType::U16,
            TensorValue::I16(_) => DType::I16,
            TensorValue::Unit => return None,
        })
    }

    fn kind(&self) -> String {
        self.dtype().map_or("()".into(), |d| d.to_string())
    }

    /// The shape (empty for scalars and `Unit`).
    pub fn shape(&self) -> &[usize] {
        match self {
            TensorValue::F32(a) => a.shape(),
            TensorValue::F64(a) => a.shape(),
            TensorValue::I32(a) => a.shape(),
            TensorValue::I64(a) => a.shape(),
            TensorValue::Bool(a) => a.shape(),
            TensorValue::U8(a) => a.shape(),
            TensorValue::I8(a) => a.shape(),
            TensorValue::U16(a) => a.shape(),
            TensorValue::I16(a) => a.shape(),
            TensorValue::Unit => &[],
        }
    }

    /// The single element of a scalar (or one-element) f32 value.
    pub fn scalar_f32(&self) -> Result<f32, ValueTypeError> {
        let a = self.as_f32()?;
        a.iter()
            .next()
            .copied()
            .filter(|_| a.len() == 1)
            .ok_or(ValueTypeError { expected: DType::F32, got: format!("f32 array of shape {:?}", a.shape()) })
    }

    /// A zero-filled value of `dtype` and `shape`.
    pub fn zeros(dtype: DType, shape: &[usize]) -> TensorValue {
        let s = IxDyn(shape);
        match dtype {
            DType::F32 => TensorValue::F32(ArrayD::zeros(s)),
            DType::F64 => TensorValue::F64(ArrayD::zeros(s)),
            DType::I32 => TensorValue::I32(ArrayD::zeros(s)),
            DType::I64 => TensorValue::I64(ArrayD::zeros(s)),
            DType::Bool => TensorValue::Bool(ArrayD::from_elem(s, false)),
            DType::U8 => TensorValue::U8(ArrayD::zeros(s)),
            DType::I8 => TensorValue::I8(ArrayD::zeros(s)),
            DType::U16 => TensorValue::U16(ArrayD::zeros(s)),
            DType::I16 => TensorValue::I16(ArrayD::zeros(s)),
        }
    }
}

macro_rules! from_array {
    ($($t:ty => $var:ident),*) => {$(
        impl<D: Dimension> From<ndarray::Array<$t, D>> for TensorValue {
            fn from(a: ndarray::Array<$t, D>) -> Self {
                TensorValue::$var(a.into_dyn())
            }
        }
        impl From<$t> for TensorValue {
            fn from(x: $t) -> Self {
                TensorValue::$var(ndarray::arr0(x).into_dyn())
            }
        }
        impl From<Vec<$t>> for TensorValue {
            fn from(v: Vec<$t>) -> Self {
                TensorValue::$var(ndarray::Array1::from(v).into_dyn())
            }
        }
        impl<const N: usize> From<[$t; N]> for TensorValue {
            fn from(v: [$t; N]) -> Self {
                TensorValue::$var(ndarray::Array1::from(v.to_vec()).into_dyn())
            }
        }
        impl<const N: usize, const M: usize> From<[[$t; N]; M]> for TensorValue {
            fn from(v: [[$t; N]; M]) -> Self {
                TensorValue::$var(ndarray::Array2::from(v.to_vec()).into_dyn())
            }
        }
    )*};
}
from_array!(f32 => F32, f64 => F64, i32 => I32, i64 => I64, bool => Bool, u8 => U8, i8 => I8, u16 => U16, i16 => I16);

fn fmt_array<T: Copy>(a: &ArrayD<T>, fmt_shown: impl Fn(&[T]) -> Vec<String>, scalar: impl Fn(T) -> String) -> String {
    let std = a.as_standard_layout();
    let data = std.as_slice().expect("standard layout is contiguous");
    if a.ndim() == 0 {
        return scalar(data[0]);
    }
    if a.is_empty() {
        return "[]".to_string(); // numpy prints every empty array so
    }
    let shape = a.shape();
    let shown = shown_flat(shape, summarize(shape));
    let strs = fmt_shown(&shown.iter().map(|&i| data[i]).collect::<Vec<_>>());
    let pos: std::collections::HashMap<usize, usize> = shown.iter().enumerate().map(|(k, &i)| (i, k)).collect();
    layout(shape, &|flat| strs[pos[&flat]].clone())
}

fn py_f32(x: f32) -> String {
    python_float_repr(&format!("{x:e}"), x.is_nan(), x.is_infinite(), x < 0.0)
}

fn py_f64(x: f64) -> String {
    python_float_repr(&format!("{x:e}"), x.is_nan(), x.is_infinite(), x < 0.0)
}

fn fmt_int<T: Copy + ToString>(a: &ArrayD<T>) -> String {
    fmt_array(a, |v| justify(v.iter().map(|x| x.to_string()).collect()), |x| x.to_string())
}

fn py_bool(b: bool) -> String {
    if b { "True" } else { "False" }.to_string()
}

/// NumPy's `str()`: `[[1. 2. 3.]]`, a scalar as `2.0`, `None` for `Unit`.
impl fmt::Display for TensorValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            TensorValue::F32(a) => fmt_array(a, format_floats, py_f32),
            TensorValue::F64(a) => fmt_array(a, format_floats, py_f64),
            TensorValue::I32(a) => {
                fmt_array(a, |v| justify(v.iter().map(|x| x.to_string()).collect()), |x| x.to_string())
            }
            TensorValue::I64(a) => {
                fmt_array(a, |v| justify(v.iter().map(|x| x.to_string()).collect()), |x| x.to_string())
            }
            TensorValue::Bool(a) => fmt_array(a, |v| justify(v.iter().map(|&x| py_bool(x)).collect()), py_bool),
            TensorValue::U8(a) => fmt_int(a),
            TensorValue::I8(a) => fmt_int(a),
            TensorValue::U16(a) => fmt_int(a),
            TensorValue::I16(a) => fmt_int(a),
            TensorValue::Unit => "None".to_string(),
        };
        f.write_str(&s)
    }
}
