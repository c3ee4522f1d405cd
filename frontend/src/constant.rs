//! Conversions from Rust data to constant literals.
//!
//! As in TF, Rust scalars, arrays and `Vec`s of floats become f32 (Python floats become
//! float32), while `ndarray` arrays keep their element type (NumPy arrays do).

use kiln_ir::{DType, Literal};
use ndarray::{ArrayBase, Data, Dimension};

/// Data that can become a constant: flat row-major values and a shape.
pub trait IntoConstant {
    /// The literal and its shape, or why the data is unusable (ragged nesting).
    fn into_literal(self) -> Result<(Literal, Vec<usize>), String>;

    /// The literal in `dtype` when given, converted from the data's own precision (an
    /// `f64` becomes a float64 constant without passing through f32), else as
    /// [`IntoConstant::into_literal`] gives it.
    fn into_literal_in(self, dtype: Option<DType>) -> Result<(Literal, Vec<usize>), String>
    where
        Self: Sized,
    {
        let (lit, shape) = self.into_literal()?;
        Ok((
            match dtype {
                Some(d) => cast_literal(&lit, d)?,
                None => lit,
            },
            shape,
        ))
    }
}

macro_rules! scalar {
    ($t:ty, $v:ident, $e:expr) => {
        impl IntoConstant for $t {
            fn into_literal(self) -> Result<(Literal, Vec<usize>), String> {
                let $v = self;
                Ok(($e, Vec::new()))
            }
        }
    };
}
scalar!(f32, x, Literal::F32(vec![x]));
scalar!(i32, x, Literal::I32(vec![x]));
scalar!(i64, x, Literal::I64(vec![x]));
scalar!(bool, x, Literal::Bool(vec![x]));
scalar!(u8, x, Literal::U8(vec![x]));

// a Rust float is float32 unless a dtype is asked for, as a Python float is in TF
impl IntoConstant for f64 {
    fn into_literal(self) -> Result<(Literal, Vec<usize>), String> {
        Ok((Literal::F32(vec![self as f32]), Vec::new()))
    }
    fn into_literal_in(self, dtype: Option<DType>) -> Result<(Literal, Vec<usize>), String> {
        match dtype {
            Some(d) => Ok((cast_literal(&Literal::F64(vec![self]), d)?, Vec::new())),
            None => self.into_literal(),
        }
    }
}

fn append(acc: &mut Option<Literal>, lit: Literal) -> Result<(), String> {
    let Some(a) = acc else {
        *acc = Some(lit);
        return Ok(());
    };
    match (a, lit) {
        (Literal::F32(a), Literal::F32(b)) => a.extend(b),
        (Literal::F64(a), Literal::F64(b)) => a.extend(b),
        (Literal::I32(a), Literal::I32(b)) => a.extend(b),
        (Literal::I64(a), Literal::I64(b)) => a.extend(b),
        (Literal::Bool(a), Literal::Bool(b)) => a.extend(b),
        (a, b) => return Err(format!("mixed element types {} and {}", a.dtype(), b.dtype())),
    }
    Ok(())
}

fn stack<T: IntoConstant>(
    items: impl IntoIterator<Item = T>,
    dtype: Option<DType>,
) -> Result<(Literal, Vec<usize>), String> {
    let mut acc = None;
    let mut inner: Option<Vec<usize>> = None;
    let mut n = 0;
    for (i, it) in items.into_iter().enumerate() {
        let (lit, shape) = it.into_literal_in(dtype)?;
        match &inner {
            None => inner = Some(shape),
            Some(s) if *s != shape => {
                return Err(format!("ragged data: element {i} has shape {shape:?}, element 0 has {s:?}"))
            }
            _ => {}
        }
        append(&mut acc, lit)?;
        n += 1;
    }
    let mut shape = vec![n];
    shape.extend(inner.unwrap_or_default());
    // an empty list has no elements to tell its dtype: f32, as in TF
    let lit = acc.unwrap_or(Literal::F32(Vec::new()));
    Ok((
        match dtype {
            Some(d) => cast_literal(&lit, d)?,
            None => lit,
        },
        shape,
    ))
}

impl<T: IntoConstant, const N: usize> IntoConstant for [T; N] {
    fn into_literal(self) -> Result<(Literal, Vec<usize>), String> {
        stack(self, None)
    }
    fn into_literal_in(self, dtype: Option<DType>) -> Result<(Literal, Vec<usize>), String> {
        stack(self, dtype)
    }
}

impl<T: IntoConstant> IntoConstant for Vec<T> {
    fn into_literal(self) -> Result<(Literal, Vec<usize>), String> {
        stack(self, None)
    }
    fn into_literal_in(self, dtype: Option<DType>) -> Result<(Literal, Vec<usize>), String> {
        stack(self, dtype)
    }
}

/// Element types an `ndarray` constant may have.
pub trait Element: Copy + 'static {
    /// The matching dtype.
    const DTYPE: DType;
    /// Wraps a flat vector.
    fn literal(v: Vec<Self>) -> Literal;
}

macro_rules! element {
    ($t:ty, $d:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$d;
            fn literal(v: Vec<Self>) -> Literal {
                Literal::$d(v)
            }
        }
    };
}
element!(f32, F32);
element!(f64, F64);
element!(i32, I32);
element!(i64, I64);
element!(bool, Bool);
element!(u8, U8);
element!(i8, I8);
element!(u16, U16);
element!(i16, I16);

impl<S: Data<Elem = T>, D: Dimension, T: Element> IntoConstant for &ArrayBase<S, D> {
    fn into_literal(self) -> Result<(Literal, Vec<usize>), String> {
        Ok((T::literal(self.iter().copied().collect()), self.shape().to_vec()))
    }
}

impl<S: Data<Elem = T>, D: Dimension, T: Element> IntoConstant for ArrayBase<S, D> {
    fn into_literal(self) -> Result<(Literal, Vec<usize>), String> {
        (&self).into_literal()
    }
}

/// Converts a literal to `dtype` (for `constant_with_dtype` and scalar operands).
pub fn cast_literal(lit: &Literal, dtype: DType) -> Result<Literal, String> {
    let vals: Vec<f64> = match lit {
        Literal::F32(v) => v.iter().map(|&x| x as f64).collect(),
        Literal::F64(v) => v.clone(),
        Literal::I32(v) => v.iter().map(|&x| x as f64).collect(),
        Literal::I64(v) => v.iter().map(|&x| x as f64).collect(),
        Literal::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
        Literal::I8(v) => v.iter().map(|&x| f64::from(x)).collect(),
        Literal::U16(v) => v.iter().map(|&x| f64::from(x)).collect(),
        Literal::I16(v) => v.iter().map(|&x| f64::from(x)).collect(),
        Literal::Bool(_) => {
            if dtype == DType::Bool {
                return Ok(lit.clone());
            }
            return Err(format!("cannot use bool data as {dtype}"));
        }
    };
    if lit.dtype() == dtype {
        return Ok(lit.clone());
    }
    let exact_int = |x: f64| x.fract() == 0.0;
    Ok(match dtype {
        DType::F32 => Literal::F32(vals.iter().map(|&x| x as f32).collect()),
        DType::F64 => match lit {
            // widen f32 through its exact value, not a rounded decimal
            Literal::F32(v) => Literal::F64(v.iter().map(|&x| x as f64).collect()),
            _ => Literal::F64(vals),
        },
        d if d.is_int() => {
            if let Some(x) = vals.iter().find(|&&x| !exact_int(x)) {
                return Err(format!("{x} is not an integer, cannot use it as {dtype}"));
            }
            let (lo, hi) = d.int_range().unwrap_or((i64::MIN, i64::MAX));
            if let Some(x) = vals.iter().find(|&&x| x < lo as f64 || x > hi as f64) {
                return Err(format!("{x} is out of range for {}", d.tf_name()));
            }
            match d {
                DType::I32 => Literal::I32(vals.iter().map(|&x| x as i32).collect()),
                DType::U8 => Literal::U8(vals.iter().map(|&x| x as u8).collect()),
                DType::I8 => Literal::I8(vals.iter().map(|&x| x as i8).collect()),
                DType::U16 => Literal::U16(vals.iter().map(|&x| x as u16).collect()),
                DType::I16 => Literal::I16(vals.iter().map(|&x| x as i16).collect()),
                _ => Literal::I64(vals.iter().map(|&x| x as i64).collect()),
            }
        }
        _ => return Err(format!("cannot use {} data as {dtype}", lit.dtype())),
    })
}
