//! The elementwise and reduction op families, each op on one line: everything else
//! about them (the enums, mnemonics, TF names, dtype rules, the frontend's functions,
//! the Python binding's names) is generated from these tables by the crates that need
//! it, through the `for_each_*` macros. Matches over the enums are exhaustive
//! everywhere, so a new line here makes the compiler list what it still needs: the
//! interpreter, the kernel lowering and the gradient (see `docs/adding-an-op.md`).
//!
//! Each `for_each_*!(callback, args..)` calls `callback!` with `[args..]` and then the
//! table, one entry per op:
//! `Variant "mnemonic" "TfOpName" tf_function operand_kind "doc";`, where the operand
//! kind is `numeric` (ints and floats), `float` (floats only) or `any`.

/// The unary elementwise ops.
#[macro_export]
macro_rules! for_each_unary_op {
    ($m:ident $(, $extra:tt)*) => {
        $m! {
            [$($extra),*]
            Neg "neg" "Neg" negative numeric "`-x`";
            Abs "abs" "Abs" abs numeric "`|x|`";
            Sign "sign" "Sign" sign numeric "-1, 0 or 1 (0 for -0 and +0, NaN for NaN)";
            Exp "exp" "Exp" exp float "`e^x`";
            Log "log" "Log" log float "natural log";
            Sqrt "sqrt" "Sqrt" sqrt float "square root";
            Rsqrt "rsqrt" "Rsqrt" rsqrt float "`1/sqrt(x)`";
            Square "square" "Square" square numeric "`x*x`";
            Tanh "tanh" "Tanh" tanh float "hyperbolic tangent";
            Sigmoid "sigmoid" "Sigmoid" sigmoid float "`1/(1+e^-x)`";
            Relu "relu" "Relu" relu numeric "`max(x, 0)`";
            Softplus "softplus" "Softplus" softplus float "`log(1 + e^x)`, computed without overflow";
            Log1p "log1p" "Log1p" log1p float "`log(1 + x)`, accurate for small x";
            Elu "elu" "Elu" elu float "`x` for `x > 0`, else `e^x - 1`";
        }
    };
}

/// The binary elementwise ops (operands of one type, result of that type).
#[macro_export]
macro_rules! for_each_binary_op {
    ($m:ident $(, $extra:tt)*) => {
        $m! {
            [$($extra),*]
            Add "add" "add" add numeric "`a + b`";
            Sub "sub" "sub" subtract numeric "`a - b`";
            Mul "mul" "mul" multiply numeric "`a * b`";
            Div "div" "truediv" divide numeric "`a / b` (integer division truncates toward zero)";
            Pow "pow" "Pow" pow numeric "`a ^ b`";
            Maximum "maximum" "Maximum" maximum numeric "larger of the two";
            Minimum "minimum" "Minimum" minimum numeric "smaller of the two";
        }
    };
}

/// The comparisons (operands of one type, a `bool` result).
#[macro_export]
macro_rules! for_each_cmp_op {
    ($m:ident $(, $extra:tt)*) => {
        $m! {
            [$($extra),*]
            Eq "eq" "Equal" equal any "`==`";
            Ne "ne" "NotEqual" not_equal any "`!=`";
            Lt "lt" "Less" less numeric "`<`";
            Le "le" "LessEqual" less_equal numeric "`<=`";
            Gt "gt" "Greater" greater numeric "`>`";
            Ge "ge" "GreaterEqual" greater_equal numeric "`>=`";
        }
    };
}

/// The reductions over a set of axes.
#[macro_export]
macro_rules! for_each_reduce_op {
    ($m:ident $(, $extra:tt)*) => {
        $m! {
            [$($extra),*]
            Sum "reduce_sum" "Sum" reduce_sum numeric "sum";
            Mean "reduce_mean" "Mean" reduce_mean numeric "arithmetic mean (divides by the bound size of the reduced axes)";
            Max "reduce_max" "Max" reduce_max numeric "maximum";
            Min "reduce_min" "Min" reduce_min numeric "minimum";
            Prod "reduce_prod" "Prod" reduce_prod numeric "product";
        }
    };
}

/// Which operand dtypes an op of a family takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operands {
    /// Integers and floats.
    Numeric,
    /// Floats only.
    Float,
    /// Any dtype, bool included.
    Any,
}

/// Defines one family's enum and its tables from a `for_each_*` table (called as
/// `for_each_unary_op!(define_family, UnaryOp, UNARY_OPS, "for_each_unary_op")`).
macro_rules! define_family {
    ([$name:ident, $all:ident, $table:literal] $($v:ident $mn:literal $tf:literal $f:ident $kind:ident $doc:literal;)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[doc = concat!("One family of ops, defined by [`", $table, "`](crate::", $table, ").")]
        pub enum $name {
            $(#[doc = $doc] $v,)*
        }

        #[doc = concat!("Every `", stringify!($name), "`, in table order.")]
        pub const $all: &[$name] = &[$($name::$v),*];

        impl $name {
            /// The IR mnemonic.
            pub fn mnemonic(self) -> &'static str {
                match self { $($name::$v => $mn,)* }
            }
            /// TF's op type, which names the op (`Tanh`, `truediv`).
            pub fn tf_name(self) -> &'static str {
                match self { $($name::$v => $tf,)* }
            }
            /// The TF function that builds it (`tanh`, `divide`).
            pub fn tf_function(self) -> &'static str {
                match self { $($name::$v => stringify!($f),)* }
            }
            /// The operand dtypes it takes.
            pub fn operands(self) -> Operands {
                match self { $($name::$v => family_kind!($kind),)* }
            }
            /// The op with this mnemonic.
            pub fn from_mnemonic(s: &str) -> Option<$name> {
                match s { $($mn => Some($name::$v),)* _ => None }
            }
        }
    };
}

macro_rules! family_kind {
    (numeric) => {
        Operands::Numeric
    };
    (float) => {
        Operands::Float
    };
    (any) => {
        Operands::Any
    };
}

for_each_unary_op!(define_family, UnaryOp, UNARY_OPS, "for_each_unary_op");
for_each_binary_op!(define_family, BinaryOp, BINARY_OPS, "for_each_binary_op");
for_each_cmp_op!(define_family, CmpOp, CMP_OPS, "for_each_cmp_op");
for_each_reduce_op!(define_family, ReduceOp, REDUCE_OPS, "for_each_reduce_op");
