//! The kernel ABI: what every step of a [`Schedule`](crate::schedule::Schedule) is called with, computed once from
//! the schedule and read by everyone who touches a call. Codegen emits its loads from
//! it, binding fills the argument block from it, thread splitting restricts a block by
//! it, and error decoding reads a kernel's error tags through it. No slot index, slot
//! count or element width is written down anywhere else.
//!
//! A kernel takes one pointer to an argument block of 8-byte slots ([`SLOT_BYTES`]).
//! Each slot has a meaning ([`Slot`]); pointers carry the width of the elements they
//! address ([`Width`]). The typed views ([`NestLayout`], [`GemmBlock`], [`Split`]) are
//! derived from the slot list by [`CallAbi::new`], so the list is the whole truth and
//! its text form ([`Abi::print`], [`parse`]) round-trips.

use crate::schedule::MatMulStep;
use kiln_ir::DType;

mod build;
mod text;
mod verify;

use build::{call_of, in_register_epilogues};
pub use build::{loop_call, run};
pub use text::{parse, AbiParseError};
pub use verify::{verify, AbiError};

/// Bytes of one argument slot (every slot is an `i64`; f32 values sit in its low bits).
pub const SLOT_BYTES: usize = 8;

/// The byte offset of slot `i` in an argument block.
pub fn slot_offset(i: usize) -> i32 {
    i32::try_from(i * SLOT_BYTES).unwrap_or(i32::MAX)
}

/// The width of one element in a buffer: bools and 32-bit numbers take a 32-bit word,
/// 64-bit numbers two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    /// 4 bytes.
    W32,
    /// 8 bytes.
    W64,
}

impl Width {
    /// The width a buffer of `t` stores its elements in.
    pub fn of(t: DType) -> Width {
        match t {
            DType::I64 | DType::F64 => Width::W64,
            // narrow integers are held widened, one word each, as bools are
            DType::F32 | DType::I32 | DType::Bool | DType::U8 | DType::I8 | DType::U16 | DType::I16 => Width::W32,
        }
    }

    /// Bytes per element.
    pub const fn bytes(self) -> usize {
        1 << self.shift()
    }

    /// log2 of [`Width::bytes`]: addresses are `index << shift`.
    pub const fn shift(self) -> i64 {
        match self {
            Width::W32 => 2,
            Width::W64 => 3,
        }
    }

    /// 32-bit words per element (the arena's unit).
    pub const fn words(self) -> usize {
        self.bytes() / 4
    }

    fn mnemonic(self) -> &'static str {
        match self {
            Width::W32 => "w32",
            Width::W64 => "w64",
        }
    }
}

/// The element width of every GEMM operand: GEMMs run on f32 only.
pub const GEMM_WIDTH: Width = Width::W32;

/// A loop nest's access: input `i` or output `i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Port {
    /// Input `i` of the nest.
    In(u32),
    /// Output `i` of the nest.
    Out(u32),
}

/// A field of a GEMM's block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GemmField {
    /// Pointer to `a`'s first element.
    A,
    /// Pointer to `b`'s first element.
    B,
    /// Pointer to `c`, row-major.
    C,
    /// Rows of `c`.
    M,
    /// The inner extent.
    K,
    /// Columns of `c`.
    N,
    /// `a`'s row stride (elements).
    Rsa,
    /// `a`'s column stride.
    Csa,
    /// `b`'s row stride.
    Rsb,
    /// `b`'s column stride.
    Csb,
}

const GEMM_FIELDS: [GemmField; 10] = [
    GemmField::A,
    GemmField::B,
    GemmField::C,
    GemmField::M,
    GemmField::K,
    GemmField::N,
    GemmField::Rsa,
    GemmField::Csa,
    GemmField::Rsb,
    GemmField::Csb,
];

/// What one slot of an argument block holds. Nest-relative slots name their nest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// The extent of space dim `dim`.
    Extent {
        /// the nest
        nest: u32,
        /// the dim
        dim: u32,
    },
    /// The address of an access's first element.
    Ptr {
        /// the nest
        nest: u32,
        /// which access
        port: Port,
        /// the width of its elements
        width: Width,
    },
    /// An access's stride (elements) along space dim `dim`.
    Stride {
        /// the nest
        nest: u32,
        /// which access
        port: Port,
        /// the dim
        dim: u32,
    },
    /// The element count of an output buffer (a reduction initializes that many).
    OutLen {
        /// the nest
        nest: u32,
        /// the output
        output: u32,
    },
    /// Run-time scalar `index` (f32 bits).
    Scalar {
        /// the nest
        nest: u32,
        /// which scalar
        index: u32,
    },
    /// `1 / count` for a mean output (f32 bits).
    MeanScale {
        /// the nest
        nest: u32,
        /// the output
        output: u32,
    },
    /// Elements from one row to the next of indexed site `site` (gathers in node order,
    /// then scatter-add outputs in output order).
    RowStride {
        /// the nest
        nest: u32,
        /// the indexed site
        site: u32,
    },
    /// Rows of indexed site `site`: an index outside `0..rows` fails the run.
    Rows {
        /// the nest
        nest: u32,
        /// the indexed site
        site: u32,
    },
    /// Written by the kernel: 0, or the tag of the site that met a bad index.
    ErrorTag {
        /// the nest
        nest: u32,
    },
    /// Written by the kernel: the bad index.
    ErrorIndex {
        /// the nest
        nest: u32,
    },
    /// A field of the GEMM block.
    Gemm(GemmField),
}

/// One nest's slots, by meaning (derived from the slot list).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NestLayout {
    /// The slot of each space dim's extent.
    pub dims: Vec<usize>,
    /// Per input: its pointer slot, its element width, and its stride slot per dim.
    pub inputs: Vec<AccessSlots>,
    /// Per output: as for inputs.
    pub outputs: Vec<AccessSlots>,
    /// Per output: the slot of its element count.
    pub out_lens: Vec<usize>,
    /// Run-time scalar slots (f32 bits).
    pub scalars: Vec<usize>,
    /// Per output: the slot of `1/count` for a mean.
    pub means: Vec<Option<usize>>,
    /// Per indexed site: (row stride slot, rows slot).
    pub sites: Vec<(usize, usize)>,
    /// For a nest that can fail: (tag slot, index slot).
    pub error: Option<(usize, usize)>,
}

/// Where an access's pointer and strides sit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessSlots {
    /// The pointer's slot.
    pub ptr: usize,
    /// The width of the elements it addresses.
    pub width: Option<Width>,
    /// The stride slot per space dim.
    pub strides: Vec<usize>,
}

/// A GEMM's block, field by field (slot indices).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GemmBlock {
    /// `a`'s pointer.
    pub a: usize,
    /// `b`'s pointer.
    pub b: usize,
    /// `c`'s pointer.
    pub c: usize,
    /// Rows of `c`.
    pub m: usize,
    /// The inner extent.
    pub k: usize,
    /// Columns of `c`.
    pub n: usize,
    /// `a`'s row stride.
    pub rsa: usize,
    /// `a`'s column stride.
    pub csa: usize,
    /// `b`'s row stride.
    pub rsb: usize,
    /// `b`'s column stride.
    pub csb: usize,
}

/// How a thread's row range restricts a splittable call: the outermost extent shrinks
/// to the range's length and each pointer moves by `start × stride × width`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// The slot of the outermost extent.
    pub extent: usize,
    /// (pointer slot, its outermost stride slot, its element width).
    pub pointers: Vec<(usize, usize, Width)>,
}

/// Where a kernel can meet an index out of range; tag `i + 1` names `errors[i]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorSite {
    /// A gather node reading row `index` of `rows` (site `site` of the nest).
    Gather {
        /// the nest
        nest: u32,
        /// the node
        node: u32,
        /// its indexed site
        site: u32,
    },
    /// An index check against a constant bound.
    CheckIndex {
        /// the nest
        nest: u32,
        /// the node
        node: u32,
        /// the bound
        bound: u64,
    },
    /// A scatter-add output adding into row `index`.
    Scatter {
        /// the nest
        nest: u32,
        /// the output
        output: u32,
        /// its indexed site
        site: u32,
    },
}

impl ErrorSite {
    fn nest(self) -> u32 {
        match self {
            ErrorSite::Gather { nest, .. } | ErrorSite::CheckIndex { nest, .. } | ErrorSite::Scatter { nest, .. } => {
                nest
            }
        }
    }
}

/// The strategy of a small GEMM's micro-kernel, which the operands' strides allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatMulKind {
    /// `b` has unit column stride: vectorize over output columns.
    RowsOfB,
    /// `a` has unit column stride and `b` unit row stride: vectorize along k.
    DotAlongK,
    /// Anything else: scalar.
    Scalar,
}

impl MatMulKind {
    /// The strategy the strides of `mm` allow.
    pub fn of(mm: &MatMulStep) -> MatMulKind {
        let r = mm.a.strides.len();
        let unit = |s: &crate::schedule::Stride| s.known() == Some(1);
        let dots = unit(&mm.a.strides[r - 1]) && unit(&mm.b.strides[r - 2]);
        // one output column: rows of b are single floats, so dot products along k
        // vectorize where a 4-column block would fall back to scalar code
        if dots && mm.n == kiln_ir::Dim::Fixed(1) {
            MatMulKind::DotAlongK
        } else if unit(&mm.b.strides[r - 1]) {
            MatMulKind::RowsOfB
        } else if dots {
            MatMulKind::DotAlongK
        } else {
            MatMulKind::Scalar
        }
    }

    fn mnemonic(self) -> &'static str {
        match self {
            MatMulKind::RowsOfB => "rows_of_b",
            MatMulKind::DotAlongK => "dot_along_k",
            MatMulKind::Scalar => "scalar",
        }
    }
}

/// What a step's compiled function is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallKind {
    /// A fused loop kernel; `deferred` when it is the epilogue of a GEMM whose
    /// micro-kernel applies it in registers: its function stays empty until the GEMM
    /// goes to the library for some batch size.
    Loop {
        /// see above
        deferred: bool,
    },
    /// A small-GEMM micro-kernel (its fused epilogue's nest, if any, after the block).
    MatMul(MatMulKind),
    /// An op on the interpreter: no block.
    Host,
}

/// One step's call: its argument block slot by slot, and the views derived from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallAbi {
    /// What the function is.
    pub kind: CallKind,
    /// Whether the runtime may split the call across threads.
    pub splits: bool,
    /// The argument block, slot by slot.
    pub slots: Vec<Slot>,
    /// The error sites; tag `i + 1` names `errors[i]`.
    pub errors: Vec<ErrorSite>,
    /// Per nest (a GEMM's epilogue is nest 0): its slots by meaning.
    pub nests: Vec<NestLayout>,
    /// The GEMM block, for a micro-kernel.
    pub gemm: Option<GemmBlock>,
    /// How a row range restricts the block, for a call that splits.
    pub split: Option<Split>,
}

impl CallAbi {
    /// The call with these slots and error sites; derives the typed views.
    pub fn new(kind: CallKind, splits: bool, slots: Vec<Slot>, errors: Vec<ErrorSite>) -> CallAbi {
        let mut nests: Vec<NestLayout> = Vec::new();
        let mut gemm = [usize::MAX; 10];
        fn grow<T: Default>(v: &mut Vec<T>, i: u32) -> &mut T {
            let i = i as usize;
            if v.len() <= i {
                v.resize_with(i + 1, T::default);
            }
            &mut v[i]
        }
        for (at, s) in slots.iter().enumerate() {
            match *s {
                Slot::Extent { nest, dim } => *grow(&mut grow(&mut nests, nest).dims, dim) = at,
                Slot::Ptr { nest, port, width } => {
                    let acc = port_slots(grow(&mut nests, nest), port);
                    acc.ptr = at;
                    acc.width = Some(width);
                }
                Slot::Stride { nest, port, dim } => {
                    *grow(&mut port_slots(grow(&mut nests, nest), port).strides, dim) = at;
                }
                Slot::OutLen { nest, output } => *grow(&mut grow(&mut nests, nest).out_lens, output) = at,
                Slot::Scalar { nest, index } => *grow(&mut grow(&mut nests, nest).scalars, index) = at,
                Slot::MeanScale { nest, output } => *grow(&mut grow(&mut nests, nest).means, output) = Some(at),
                Slot::RowStride { nest, site } => grow(&mut grow(&mut nests, nest).sites, site).0 = at,
                Slot::Rows { nest, site } => grow(&mut grow(&mut nests, nest).sites, site).1 = at,
                Slot::ErrorTag { nest } => grow(&mut nests, nest).error.get_or_insert((0, 0)).0 = at,
                Slot::ErrorIndex { nest } => grow(&mut nests, nest).error.get_or_insert((0, 0)).1 = at,
                Slot::Gemm(f) => gemm[f as usize] = at,
            }
        }
        // every output has a mean entry, so `means[j]` indexes like `outputs[j]`
        for n in &mut nests {
            n.means.resize(n.outputs.len(), None);
        }
        let gemm = gemm.iter().all(|&s| s != usize::MAX).then(|| GemmBlock {
            a: gemm[0],
            b: gemm[1],
            c: gemm[2],
            m: gemm[3],
            k: gemm[4],
            n: gemm[5],
            rsa: gemm[6],
            csa: gemm[7],
            rsb: gemm[8],
            csb: gemm[9],
        });
        let split = match (splits, nests.first()) {
            (true, Some(l)) if !l.dims.is_empty() => Some(Split {
                extent: l.dims[0],
                pointers: l
                    .inputs
                    .iter()
                    .chain(&l.outputs)
                    .map(|a| (a.ptr, a.strides.first().copied().unwrap_or(usize::MAX), a.width.unwrap_or(Width::W32)))
                    .collect(),
            }),
            _ => None,
        };
        CallAbi { kind, splits, slots, errors, nests, gemm, split }
    }

    /// The tag a kernel stores for node `node` of nest `nest` (0: the node cannot fail).
    pub fn node_tag(&self, nest: usize, node: usize) -> i64 {
        self.tag_where(|e| match e {
            ErrorSite::Gather { nest: n, node: k, .. } | ErrorSite::CheckIndex { nest: n, node: k, .. } => {
                n as usize == nest && k as usize == node
            }
            ErrorSite::Scatter { .. } => false,
        })
    }

    /// The tag a kernel stores for scatter-add output `output` of nest `nest`.
    pub fn scatter_tag(&self, nest: usize, output: usize) -> i64 {
        self.tag_where(|e| matches!(e, ErrorSite::Scatter { nest: n, output: o, .. } if n as usize == nest && o as usize == output))
    }

    fn tag_where(&self, f: impl Fn(ErrorSite) -> bool) -> i64 {
        self.errors.iter().position(|&e| f(e)).map_or(0, |i| i as i64 + 1)
    }

    /// The site a stored tag names.
    pub fn site(&self, tag: i64) -> Option<ErrorSite> {
        usize::try_from(tag).ok()?.checked_sub(1).and_then(|i| self.errors.get(i).copied())
    }

    /// The (tag, index) slot pairs where this call's nests report errors.
    pub fn error_slots(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.nests.iter().filter_map(|n| n.error)
    }

    /// `args` (a bound block of this call) restricted to rows `start..end` of its
    /// outermost dim; `None` if the call does not split.
    pub fn restrict(&self, args: &[i64], start: usize, end: usize) -> Option<Vec<i64>> {
        let sp = self.split.as_ref()?;
        let mut a = args.to_vec();
        a[sp.extent] = i64::try_from(end.checked_sub(start)?).ok()?;
        for &(ptr, stride, w) in &sp.pointers {
            let step = i64::try_from(start).ok()?.checked_mul(a[stride])?.checked_mul(w.bytes() as i64)?;
            a[ptr] = a[ptr].checked_add(step)?;
        }
        Some(a)
    }
}

fn port_slots(n: &mut NestLayout, port: Port) -> &mut AccessSlots {
    match port {
        Port::In(i) => {
            let i = i as usize;
            if n.inputs.len() <= i {
                n.inputs.resize_with(i + 1, Default::default);
            }
            &mut n.inputs[i]
        }
        Port::Out(i) => {
            let i = i as usize;
            if n.outputs.len() <= i {
                n.outputs.resize_with(i + 1, Default::default);
            }
            &mut n.outputs[i]
        }
    }
}

/// Every step's call, in step order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Abi {
    /// One per step of the schedule.
    pub calls: Vec<CallAbi>,
}
