//! NumPy arrays in and out: dtypes by TF's names, constants and feeds from arrays
//! (C-contiguous ones read in place), results as arrays or NumPy scalars.

use kiln::{DType, Feed, TensorValue};
use numpy::{PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// A dtype from TF's name (`float32`, `int64`, `bool`, ...).
pub fn dtype(name: &str) -> PyResult<DType> {
    Ok(match name {
        "float32" => DType::F32,
        "float64" => DType::F64,
        "int32" => DType::I32,
        "int64" => DType::I64,
        "bool" => DType::Bool,
        "uint8" => DType::U8,
        "int8" => DType::I8,
        "uint16" => DType::U16,
        "int16" => DType::I16,
        _ => return Err(PyTypeError::new_err(format!("kiln has no dtype {name}"))),
    })
}

/// TF's name of a dtype.
pub fn dtype_name(d: DType) -> &'static str {
    d.tf_name()
}

/// A NumPy array borrowed for a run: the guard keeps it alive and unmoved.
pub enum Borrowed<'py> {
    /// f32 data
    F32(PyReadonlyArrayDyn<'py, f32>),
    /// f64 data
    F64(PyReadonlyArrayDyn<'py, f64>),
    /// i32 data
    I32(PyReadonlyArrayDyn<'py, i32>),
    /// i64 data
    I64(PyReadonlyArrayDyn<'py, i64>),
    /// bool data
    Bool(PyReadonlyArrayDyn<'py, bool>),
    /// u8 data
    U8(PyReadonlyArrayDyn<'py, u8>),
    /// i8 data
    I8(PyReadonlyArrayDyn<'py, i8>),
    /// u16 data
    U16(PyReadonlyArrayDyn<'py, u16>),
    /// i16 data
    I16(PyReadonlyArrayDyn<'py, i16>),
}

impl<'py> Borrowed<'py> {
    /// `x` as an array of `dtype`: read in place if it is one, else converted by
    /// `numpy.asarray` (lists, scalars, other dtypes: TF converts feeds the same way).
    pub fn new(x: &Bound<'py, PyAny>, dtype: DType) -> PyResult<Borrowed<'py>> {
        macro_rules! get {
            ($t:ty, $v:ident) => {{
                if let Ok(a) = x.cast::<PyArrayDyn<$t>>() {
                    return Ok(Borrowed::$v(a.try_readonly()?));
                }
                let np = x.py().import("numpy")?;
                let a = np.call_method1("asarray", (x, dtype_name(dtype)))?;
                let a = a.cast_into::<PyArrayDyn<$t>>().map_err(|e| PyTypeError::new_err(e.to_string()))?;
                Ok(Borrowed::$v(a.try_readonly()?))
            }};
        }
        match dtype {
            DType::F32 => get!(f32, F32),
            DType::F64 => get!(f64, F64),
            DType::I32 => get!(i32, I32),
            DType::I64 => get!(i64, I64),
            DType::Bool => get!(bool, Bool),
            DType::U8 => get!(u8, U8),
            DType::I8 => get!(i8, I8),
            DType::U16 => get!(u16, U16),
            DType::I16 => get!(i16, I16),
        }
    }

    /// The data as a feed (a view, no copy).
    pub fn feed(&self) -> Feed<'_> {
        match self {
            Borrowed::F32(a) => Feed::F32(a.as_array()),
            Borrowed::F64(a) => Feed::F64(a.as_array()),
            Borrowed::I32(a) => Feed::I32(a.as_array()),
            Borrowed::I64(a) => Feed::I64(a.as_array()),
            Borrowed::Bool(a) => Feed::Bool(a.as_array()),
            Borrowed::U8(a) => Feed::U8(a.as_array()),
            Borrowed::I8(a) => Feed::I8(a.as_array()),
            Borrowed::U16(a) => Feed::U16(a.as_array()),
            Borrowed::I16(a) => Feed::I16(a.as_array()),
        }
    }
}

/// An owned value from any array-like, converted to `dtype` when given (constants).
pub fn value(x: &Bound<'_, PyAny>, dtype: Option<DType>) -> PyResult<TensorValue> {
    let d = match dtype {
        Some(d) => d,
        None => {
            // NumPy's own inference, then TF's: Python floats become float32 and ints int32
            let np = x.py().import("numpy")?;
            let a = np.call_method1("asarray", (x,))?;
            let kind: String = a.getattr("dtype")?.getattr("name")?.extract()?;
            let is_array = x.is_instance(&np.getattr("ndarray")?)?;
            match kind.as_str() {
                "float64" if is_array => DType::F64,
                "float64" | "float32" | "float16" => DType::F32,
                "int64" if is_array => DType::I64,
                // an array keeps its integer dtype, as TF's constant does
                "uint8" if is_array => DType::U8,
                "int8" if is_array => DType::I8,
                "uint16" if is_array => DType::U16,
                "int16" if is_array => DType::I16,
                "int64" | "int32" | "int16" | "int8" | "uint8" => DType::I32,
                "bool" => DType::Bool,
                k => return Err(PyTypeError::new_err(format!("kiln cannot make a constant of dtype {k}"))),
            }
        }
    };
    let b = Borrowed::new(x, d)?;
    Ok(b.feed().to_value())
}

/// A run-time value as a NumPy array (a NumPy scalar for rank 0, as TF returns).
pub fn to_py(py: Python<'_>, v: TensorValue) -> PyResult<Py<PyAny>> {
    let rank0 = v.shape().is_empty();
    let arr: Bound<'_, PyAny> = match v {
        TensorValue::F32(a) => PyArrayDyn::from_owned_array(py, a).into_any(),
        TensorValue::F64(a) => PyArrayDyn::from_owned_array(py, a).into_any(),
        TensorValue::I32(a) => PyArrayDyn::from_owned_array(py, a).into_any(),
        TensorValue::I64(a) => PyArrayDyn::from_owned_array(py, a).into_any(),
        TensorValue::Bool(a) => PyArrayDyn::from_owned_array(py, a).into_any(),
        TensorValue::U8(a) => PyArrayDyn::from_owned_array(py, a).into_any(),
        TensorValue::I8(a) => PyArrayDyn::from_owned_array(py, a).into_any(),
        TensorValue::U16(a) => PyArrayDyn::from_owned_array(py, a).into_any(),
        TensorValue::I16(a) => PyArrayDyn::from_owned_array(py, a).into_any(),
        TensorValue::Unit => return Ok(py.None()),
    };
    if rank0 {
        return Ok(arr.get_item(PyTuple::empty(py))?.unbind());
    }
    Ok(arr.unbind())
}
