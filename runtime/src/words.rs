//! Values in the arena's 32-bit words: f32 and i32 as themselves, bools as 0 or 1,
//! 64-bit integers as two words (little-endian). Reading one into a [`TensorValue`]
//! and writing one back, for interpreter steps, fetches and feeds.

use crate::TensorValue;
use kiln_ir::DType;
use ndarray::{ArrayD, IxDyn};

/// The value of `n` elements of `dtype` at `ptr`, shaped `shape`.
///
/// # Safety
/// `ptr` must address `n` initialized elements of `dtype` in the arena's layout,
/// aligned for the element type (arena slots are 64-byte aligned).
pub(crate) unsafe fn read(dtype: DType, ptr: *const f32, n: usize, shape: &[usize]) -> Result<TensorValue, String> {
    /// `n` elements of `T` at `ptr`.
    ///
    /// # Safety
    /// As for `read`: `n` initialized, aligned `T`s.
    unsafe fn slice<'a, T>(ptr: *const f32, n: usize) -> &'a [T] {
        // SAFETY: forwarded from the caller; every dtype here has the arena's layout.
        unsafe { std::slice::from_raw_parts(ptr.cast::<T>(), n) }
    }
    // SAFETY (each arm): forwarded from the caller, the slice read as the dtype it holds.
    let v = unsafe {
        match dtype {
            DType::F32 => TensorValue::F32(array(shape, slice::<f32>(ptr, n).to_vec())?),
            DType::I32 => TensorValue::I32(array(shape, slice::<i32>(ptr, n).to_vec())?),
            DType::I64 => TensorValue::I64(array(shape, slice::<i64>(ptr, n).to_vec())?),
            DType::F64 => TensorValue::F64(array(shape, slice::<f64>(ptr, n).to_vec())?),
            DType::Bool => TensorValue::Bool(array(shape, slice::<u32>(ptr, n).iter().map(|&x| x != 0).collect())?),
            // narrow integers are held widened, one word each
            DType::U8 => TensorValue::U8(array(shape, slice::<i32>(ptr, n).iter().map(|&x| x as u8).collect())?),
            DType::I8 => TensorValue::I8(array(shape, slice::<i32>(ptr, n).iter().map(|&x| x as i8).collect())?),
            DType::U16 => TensorValue::U16(array(shape, slice::<i32>(ptr, n).iter().map(|&x| x as u16).collect())?),
            DType::I16 => TensorValue::I16(array(shape, slice::<i32>(ptr, n).iter().map(|&x| x as i16).collect())?),
        }
    };
    Ok(v)
}

/// The value of `n` elements of `dtype` held in arena words (a 64-bit element in two
/// words, low word first, as x86 stores it and fusion lays out constants), shaped
/// `shape`. Safe: it reads the words' bits, whatever their alignment.
pub(crate) fn decode(dtype: DType, words: &[f32], n: usize, shape: &[usize]) -> Result<TensorValue, String> {
    let per = if matches!(dtype, DType::I64 | DType::F64) { 2 } else { 1 };
    let words = words.get(..n.checked_mul(per).ok_or("size overflows")?).ok_or("too few words")?;
    let bits = |i: usize| words[i].to_bits();
    let wide = |i: usize| u64::from(bits(2 * i)) | (u64::from(bits(2 * i + 1)) << 32);
    Ok(match dtype {
        DType::F32 => TensorValue::F32(array(shape, words.to_vec())?),
        DType::I32 => TensorValue::I32(array(shape, (0..n).map(|i| bits(i) as i32).collect())?),
        DType::Bool => TensorValue::Bool(array(shape, (0..n).map(|i| bits(i) != 0).collect())?),
        DType::U8 => TensorValue::U8(array(shape, (0..n).map(|i| bits(i) as u8).collect())?),
        DType::I8 => TensorValue::I8(array(shape, (0..n).map(|i| bits(i) as i8).collect())?),
        DType::U16 => TensorValue::U16(array(shape, (0..n).map(|i| bits(i) as u16).collect())?),
        DType::I16 => TensorValue::I16(array(shape, (0..n).map(|i| bits(i) as i16).collect())?),
        DType::I64 => TensorValue::I64(array(shape, (0..n).map(|i| wide(i) as i64).collect())?),
        DType::F64 => TensorValue::F64(array(shape, (0..n).map(|i| f64::from_bits(wide(i))).collect())?),
    })
}

fn array<T>(shape: &[usize], data: Vec<T>) -> Result<ArrayD<T>, String> {
    ArrayD::from_shape_vec(IxDyn(shape), data).map_err(|e| e.to_string())
}

/// Writes `v` (row-major) to `ptr`, at most `n` elements.
///
/// # Safety
/// `ptr` must address room for `n` elements of `v`'s dtype in the arena's layout.
pub(crate) unsafe fn write(v: &TensorValue, ptr: *mut f32, n: usize) -> Result<(), String> {
    fn put<T: Copy>(a: &ArrayD<T>, dst: *mut T, n: usize) -> Result<(), String> {
        let src = a.as_slice().ok_or("interpreter results are row-major")?;
        // SAFETY: the caller's slot holds `n` elements; at most that many are copied.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len().min(n)) };
        Ok(())
    }
    match v {
        TensorValue::F32(a) => put(a, ptr, n),
        TensorValue::I32(a) => put(a, ptr.cast(), n),
        TensorValue::I64(a) => put(a, ptr.cast(), n),
        TensorValue::F64(a) => put(a, ptr.cast(), n),
        TensorValue::Bool(a) => widen(a, ptr, n, |x| x as i32),
        TensorValue::U8(a) => widen(a, ptr, n, i32::from),
        TensorValue::I8(a) => widen(a, ptr, n, i32::from),
        TensorValue::U16(a) => widen(a, ptr, n, i32::from),
        TensorValue::I16(a) => widen(a, ptr, n, i32::from),
        TensorValue::Unit => Err("a value-less result for a slot".into()),
    }
}

/// Writes at most `n` elements of `a`, each widened to a 32-bit word, to `ptr`.
///
/// # Safety
/// `ptr` must address room for `n` 32-bit words.
unsafe fn widen<T: Copy>(a: &ArrayD<T>, ptr: *mut f32, n: usize, f: impl Fn(T) -> i32) -> Result<(), String> {
    let src = a.as_slice().ok_or("interpreter results are row-major")?;
    for (k, &x) in src.iter().take(n).enumerate() {
        // SAFETY: k < n, inside the caller's slot.
        unsafe { ptr.cast::<i32>().add(k).write(f(x)) };
    }
    Ok(())
}

/// Copies a fed array of `n` elements of `dtype` from `src` into a slot (bools and
/// narrow integers widen to 32-bit words).
///
/// # Safety
/// `src` must address `n` elements of `dtype` (a bool as one byte); `dst` room for
/// them in the arena's layout.
pub(crate) unsafe fn copy_feed(dtype: DType, src: *const u8, dst: *mut f32, n: usize) {
    match dtype {
        DType::Bool => {
            for k in 0..n {
                // SAFETY: k < n on both sides; a Rust bool is one byte, 0 or 1.
                unsafe { dst.cast::<u32>().add(k).write(*src.add(k) as u32) };
            }
        }
        DType::U8 | DType::I8 | DType::U16 | DType::I16 => {
            let out = dst.cast::<i32>();
            for k in 0..n {
                // SAFETY: k < n on both sides; `src` holds n elements of the dtype
                // (1 or 2 bytes, possibly unaligned: read unaligned).
                let x = unsafe {
                    match dtype {
                        DType::U8 => i32::from(*src.add(k)),
                        DType::I8 => i32::from(*src.add(k) as i8),
                        DType::U16 => i32::from(src.cast::<u16>().add(k).read_unaligned()),
                        _ => i32::from(src.cast::<i16>().add(k).read_unaligned()),
                    }
                };
                // SAFETY: k < n: inside the slot's n words.
                unsafe { out.add(k).write(x) };
            }
        }
        // SAFETY: both hold n elements of 4 or 8 bytes.
        _ => unsafe {
            std::ptr::copy_nonoverlapping(src, dst.cast::<u8>(), n * kiln_passes::abi::Width::of(dtype).bytes())
        },
    }
}
