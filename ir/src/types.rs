//! Dtypes, dims, shapes and value types.

use std::fmt;

/// Element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// 32-bit IEEE float.
    F32,
    /// 64-bit IEEE float.
    F64,
    /// 32-bit signed integer.
    I32,
    /// 64-bit signed integer.
    I64,
    /// Boolean.
    Bool,
    /// 8-bit unsigned integer (TF `uint8`: Atari frames).
    U8,
    /// 8-bit signed integer.
    I8,
    /// 16-bit unsigned integer.
    U16,
    /// 16-bit signed integer.
    I16,
}

impl DType {
    /// Every dtype, in a fixed order.
    pub const ALL: [DType; 9] =
        [DType::F32, DType::F64, DType::I32, DType::I64, DType::Bool, DType::U8, DType::I8, DType::U16, DType::I16];

    /// The IR spelling: `f32`, `f64`, `i32`, `i64`, `bool`.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::Bool => "bool",
            DType::U8 => "u8",
            DType::I8 => "i8",
            DType::U16 => "u16",
            DType::I16 => "i16",
        }
    }

    /// TensorFlow's spelling: `float32`, `float64`, `int32`, `int64`, `bool`.
    pub fn tf_name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::Bool => "bool",
            DType::U8 => "uint8",
            DType::I8 => "int8",
            DType::U16 => "uint16",
            DType::I16 => "int16",
        }
    }

    /// Parses the IR spelling.
    pub fn from_name(s: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == s)
    }

    /// True for f32 and f64.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    /// True for the integer dtypes.
    pub fn is_int(self) -> bool {
        matches!(self, DType::I32 | DType::I64 | DType::U8 | DType::I8 | DType::U16 | DType::I16)
    }

    /// True for the integers narrower than 32 bits, which kernels hold widened to 32
    /// bits (one arena word each, like bools) and wrap after arithmetic.
    pub fn is_narrow_int(self) -> bool {
        matches!(self, DType::U8 | DType::I8 | DType::U16 | DType::I16)
    }

    /// The value range of an integer dtype, as `(min, max)`.
    pub fn int_range(self) -> Option<(i64, i64)> {
        Some(match self {
            DType::I32 => (i32::MIN.into(), i32::MAX.into()),
            DType::I64 => (i64::MIN, i64::MAX),
            DType::U8 => (0, u8::MAX.into()),
            DType::I8 => (i8::MIN.into(), i8::MAX.into()),
            DType::U16 => (0, u16::MAX.into()),
            DType::I16 => (i16::MIN.into(), i16::MAX.into()),
            _ => return None,
        })
    }

    /// True for every dtype arithmetic is defined on (all but bool).
    pub fn is_numeric(self) -> bool {
        self != DType::Bool
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One dimension: a fixed size or a named symbol bound at run time.
///
/// Unknown dims from placeholders are named `?0`, `?1`, ...; users may also name a
/// dim (`batch`), and every tensor sharing a symbol must have the same size there.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    /// A size known at build time.
    Fixed(u64),
    /// A size bound from the feeds of each run.
    Sym(String),
}

impl Dim {
    /// The fixed size, if known.
    pub fn fixed(&self) -> Option<u64> {
        match self {
            Dim::Fixed(n) => Some(*n),
            Dim::Sym(_) => None,
        }
    }

    /// True if this is a symbol.
    pub fn is_sym(&self) -> bool {
        matches!(self, Dim::Sym(_))
    }

    /// The sum of `parts` (a concat along a symbolic axis): fixed when every part is,
    /// else a symbol named for the sum, `?0+?1+5` (its symbols in order, then the fixed
    /// total), which a run evaluates from its parts. `None` if the fixed total
    /// overflows.
    pub fn sum(parts: &[Dim]) -> Option<Dim> {
        let mut syms = Vec::new();
        let mut total = 0u64;
        for p in parts {
            match p {
                Dim::Fixed(n) => total = total.checked_add(*n)?,
                Dim::Sym(s) => {
                    for term in s.split('+') {
                        match term.parse::<u64>() {
                            Ok(n) => total = total.checked_add(n)?,
                            Err(_) => syms.push(term.to_string()),
                        }
                    }
                }
            }
        }
        if syms.is_empty() {
            return Some(Dim::Fixed(total));
        }
        if total > 0 {
            syms.push(total.to_string());
        }
        Some(Dim::Sym(syms.join("+")))
    }

    /// The terms of a sum symbol (`?0+?1+5`: `["?0", "?1", "5"]`); `None` for any other dim.
    pub fn sum_terms(&self) -> Option<Vec<&str>> {
        match self {
            Dim::Sym(s) if s.contains('+') => Some(s.split('+').collect()),
            _ => None,
        }
    }
}

impl From<u64> for Dim {
    fn from(n: u64) -> Self {
        Dim::Fixed(n)
    }
}

impl From<usize> for Dim {
    fn from(n: usize) -> Self {
        Dim::Fixed(n as u64)
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Sym(s) => f.write_str(s),
        }
    }
}

/// The most elements one value may have: 2^31, 8 GiB of f32. Sizes, strides and offsets
/// computed from shapes within it cannot overflow, and no op can ask for an allocation
/// or a loop of more.
pub const MAX_ELEMENTS: u64 = 1 << 31;

/// A tensor shape: one [`Dim`] per axis. Rank 0 is a scalar.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Shape(pub Vec<Dim>);

impl Shape {
    /// A shape of fixed dims.
    pub fn fixed(dims: &[usize]) -> Shape {
        Shape(dims.iter().map(|&d| Dim::Fixed(d as u64)).collect())
    }

    /// The scalar shape.
    pub fn scalar() -> Shape {
        Shape(Vec::new())
    }

    /// Number of axes.
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// The dims.
    pub fn dims(&self) -> &[Dim] {
        &self.0
    }

    /// All dims as fixed sizes, if none is symbolic.
    pub fn as_fixed(&self) -> Option<Vec<usize>> {
        self.0.iter().map(|d| d.fixed().map(|n| n as usize)).collect()
    }

    /// The product of the fixed dims (all dims, for a fixed shape), or `None` if it
    /// overflows 64 bits.
    pub fn fixed_elements(&self) -> Option<u64> {
        self.0.iter().filter_map(Dim::fixed).try_fold(1u64, u64::checked_mul)
    }

    /// Fails if the fixed dims alone make more than [`MAX_ELEMENTS`] elements (symbolic
    /// dims are checked against the same limit when a run binds them).
    pub fn check_size(&self) -> Result<(), String> {
        let dims = self.0.iter().filter_map(Dim::fixed);
        match self.fixed_elements() {
            None => Err(format!("shape {self} has more elements than 64 bits can count")),
            Some(n) if n > MAX_ELEMENTS => {
                Err(format!("shape {self} has {n} elements, more than the limit of {MAX_ELEMENTS} (2^31) per value"))
            }
            // a zero dim empties the value, but every other dim still sizes strides
            // and loops: each stays within the limit on its own
            Some(_) if dims.clone().any(|d| d > MAX_ELEMENTS) => Err(format!(
                "shape {self} has a dim of {}, more than the limit of {MAX_ELEMENTS} (2^31) per value",
                dims.max().unwrap_or(0)
            )),
            Some(_) => Ok(()),
        }
    }

    /// True if some dim is a symbol.
    pub fn has_sym(&self) -> bool {
        self.0.iter().any(Dim::is_sym)
    }

    /// TensorFlow's rendering in its shape-inference errors: `[2,3]`, `[?,3]`, `[]`.
    pub fn tf_list(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|d| d.fixed().map_or("?".into(), |n| n.to_string())).collect();
        format!("[{}]", parts.join(","))
    }

    /// TensorFlow's rendering: `(1, 3)`, `(?,)`, `()`.
    pub fn tf_string(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|d| match d {
                Dim::Fixed(n) => n.to_string(),
                Dim::Sym(_) => "?".to_string(),
            })
            .collect();
        match parts.len() {
            1 => format!("({},)", parts[0]),
            _ => format!("({})", parts.join(", ")),
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

/// The type of a tensor value: dtype and shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Type {
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub shape: Shape,
}

impl Type {
    /// Builds a type.
    pub fn new(dtype: DType, shape: Shape) -> Type {
        Type { dtype, shape }
    }

    /// A scalar of `dtype`.
    pub fn scalar(dtype: DType) -> Type {
        Type::new(dtype, Shape::scalar())
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.dtype, self.shape)
    }
}
