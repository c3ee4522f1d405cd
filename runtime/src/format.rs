//! NumPy's `str()` of an array, so printed results read exactly as the notebook's:
//! `[3. 6.]`, `[[ 0.  1.  2.]\n [-1.  0.  1.]]`, `2.0`. Follows numpy's
//! `array2string` defaults: precision 8, `floatmode='maxprec'`, line width 75,
//! summarisation above 1000 elements with 3 edge items.

const LINE_WIDTH: usize = 75;
const THRESHOLD: usize = 1000;
const EDGE: usize = 3;

/// Shortest round-trip digits and decimal exponent of a finite float, from Rust's
/// `{:e}` (which prints the shortest representation that parses back).
fn digits_exp(sci: &str) -> (bool, String, i32) {
    let (mant, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    (neg, digits, exp.parse().unwrap_or(0))
}

/// Python's `repr` of a float given its `{:e}` form: positional for
/// `1e-4 <= |x| < 1e16`, else `1.5e-05`.
pub fn python_float_repr(sci: &str, is_nan: bool, is_inf: bool, neg_inf: bool) -> String {
    if is_nan {
        return "nan".into();
    }
    if is_inf {
        return if neg_inf { "-inf" } else { "inf" }.into();
    }
    let (neg, digits, exp) = digits_exp(sci);
    let sign = if neg { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let (int, frac) = positional(&digits, exp);
        let frac = if frac.is_empty() { "0".to_string() } else { frac };
        format!("{sign}{int}.{frac}")
    } else {
        let (h, t) = digits.split_at(1);
        let mant = if t.is_empty() { h.to_string() } else { format!("{h}.{t}") };
        let es = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mant}e{es}{:02}", exp.abs())
    }
}

/// Integer and fraction digit strings of `0.d1d2.. x 10^(exp+1)`.
fn positional(digits: &str, exp: i32) -> (String, String) {
    let n = digits.len() as i32;
    if exp < 0 {
        (String::from("0"), format!("{}{}", "0".repeat((-exp - 1) as usize), digits))
    } else if exp + 1 >= n {
        (format!("{}{}", digits, "0".repeat((exp + 1 - n) as usize)), String::new())
    } else {
        let (i, f) = digits.split_at((exp + 1) as usize);
        (i.to_string(), f.to_string())
    }
}

/// One float as numpy's dragon4 with `unique=True, precision=8`: the shortest
/// round-trip digits, rounded to at most 8 fractional (or mantissa) digits.
/// Returns (sign+int part, fraction part, exponent) — exponent only in scientific mode.
fn float_parts(
    sci: &str,
    rounded_pos: impl Fn() -> String,
    rounded_sci: impl Fn() -> String,
    scientific: bool,
) -> (String, String, Option<i32>) {
    let (neg, digits, exp) = digits_exp(sci);
    let sign = if neg { "-" } else { "" };
    if scientific {
        let (neg, mut digits, mut exp) = (neg, digits, exp);
        if digits.len() > 9 {
            let (n2, d2, e2) = digits_exp(&rounded_sci());
            let _ = n2;
            digits = d2.trim_end_matches('0').to_string();
            exp = e2;
        }
        if digits.is_empty() {
            digits.push('0');
        }
        let (h, t) = digits.split_at(1);
        let sign = if neg { "-" } else { "" };
        (format!("{sign}{h}"), t.to_string(), Some(exp))
    } else {
        let (int, frac) = positional(&digits, exp);
        if frac.len() > 8 {
            // more than `precision` digits: round, then trim trailing zeros
            let r = rounded_pos();
            let (i, f) = r.split_once('.').unwrap_or((&r, ""));
            let f = f.trim_end_matches('0').to_string();
            let i = i.trim_start_matches('-');
            let neg = r.starts_with('-') && (i.chars().any(|c| c != '0') || !f.is_empty());
            return (format!("{}{i}", if neg { "-" } else { "" }), f, None);
        }
        (format!("{sign}{int}"), frac, None)
    }
}

/// A float in either precision, as numpy would see it.
pub(crate) trait NpFloat: Copy {
    fn sci(self) -> String;
    fn pos8(self) -> String;
    fn sci8(self) -> String;
    fn is_finite_(self) -> bool;
    fn is_nan_(self) -> bool;
    fn abs_f64(self) -> f64;
    fn is_neg(self) -> bool;
}

macro_rules! np_float {
    ($t:ty) => {
        impl NpFloat for $t {
            fn sci(self) -> String {
                format!("{:e}", self)
            }
            fn pos8(self) -> String {
                format!("{:.8}", self)
            }
            fn sci8(self) -> String {
                format!("{:.8e}", self)
            }
            fn is_finite_(self) -> bool {
                self.is_finite()
            }
            fn is_nan_(self) -> bool {
                self.is_nan()
            }
            fn abs_f64(self) -> f64 {
                (self as f64).abs()
            }
            fn is_neg(self) -> bool {
                self < 0.0
            }
        }
    };
}
np_float!(f32);
np_float!(f64);

fn float_elem<T: NpFloat>(x: T, scientific: bool) -> (String, String, Option<i32>) {
    float_parts(&x.sci(), || x.pos8(), || x.sci8(), scientific)
}

/// Formats the shown floats into equal-width strings.
pub(crate) fn format_floats<T: NpFloat>(shown: &[T]) -> Vec<String> {
    let finite: Vec<T> = shown.iter().copied().filter(|x| x.is_finite_()).collect();
    let nz: Vec<f64> = finite.iter().map(|x| x.abs_f64()).filter(|&a| a != 0.0).collect();
    let scientific = if nz.is_empty() {
        false
    } else {
        let max = nz.iter().cloned().fold(f64::MIN, f64::max);
        let min = nz.iter().cloned().fold(f64::MAX, f64::min);
        max >= 1e8 || min < 1e-4 || max / min > 1e3
    };
    let parts: Vec<(String, String, Option<i32>)> = finite.iter().map(|&x| float_elem(x, scientific)).collect();
    let mut pad_left = parts.iter().map(|p| p.0.len()).max().unwrap_or(0);
    let pad_right = parts.iter().map(|p| p.1.len()).max().unwrap_or(0);
    if finite.len() != shown.len() {
        // make room for "nan", "inf" and "-inf" as numpy does
        let neginf = shown.iter().any(|x| !x.is_finite_() && !x.is_nan_() && x.is_neg()) as usize;
        let offset = pad_right + 1;
        pad_left = pad_left.max(3usize.saturating_sub(offset)).max((3 + neginf).saturating_sub(offset));
    }
    let exp_size = parts.iter().filter_map(|p| p.2).map(|e| e.abs().to_string().len().max(2)).max();
    let finite_width = pad_left + 1 + pad_right + exp_size.map_or(0, |e| e + 2);
    shown
        .iter()
        .map(|&x| {
            if !x.is_finite_() {
                let s = if x.is_nan_() {
                    "nan"
                } else if x.is_neg() {
                    "-inf"
                } else {
                    "inf"
                };
                return format!("{s:>finite_width$}");
            }
            let (i, f, e) = float_elem(x, scientific);
            match (e, exp_size) {
                // scientific mode gives every mantissa the same digits, zero-filled
                (Some(e), Some(w)) => {
                    let es = if e < 0 { '-' } else { '+' };
                    format!("{i:>pad_left$}.{f:0<pad_right$}e{es}{:0w$}", e.abs())
                }
                _ => format!("{i:>pad_left$}.{f:<pad_right$}"),
            }
        })
        .collect()
}

/// Right-justifies strings to their common width (ints, bools).
pub(crate) fn justify(strs: Vec<String>) -> Vec<String> {
    let w = strs.iter().map(String::len).max().unwrap_or(0);
    strs.into_iter().map(|s| format!("{s:>w$}")).collect()
}

/// Indices shown along an axis of length `n` (all, or 3 + 3 when summarising).
fn shown_indices(n: usize, summarize: bool) -> (Vec<usize>, bool) {
    if summarize && n > 2 * EDGE {
        let mut v: Vec<usize> = (0..EDGE).collect();
        v.extend(n - EDGE..n);
        (v, true)
    } else {
        ((0..n).collect(), false)
    }
}

/// Flat indices of every shown element, in order.
pub(crate) fn shown_flat(shape: &[usize], summarize: bool) -> Vec<usize> {
    let mut out = vec![0usize];
    for &n in shape {
        let (idx, _) = shown_indices(n, summarize);
        out = out.iter().flat_map(|&base| idx.iter().map(move |&i| base * n + i)).collect();
    }
    out
}

/// True if numpy would summarise an array of this size.
pub(crate) fn summarize(shape: &[usize]) -> bool {
    shape.iter().product::<usize>() > THRESHOLD
}

/// Lays out formatted elements (`elem(flat_index)`) as numpy's `_formatArray` does.
pub(crate) fn layout(shape: &[usize], elem: &dyn Fn(usize) -> String) -> String {
    let summ = summarize(shape);
    let mut index = Vec::new();
    recurse(shape, &mut index, " ", LINE_WIDTH, summ, elem)
}

fn extend_line(s: &mut String, line: &mut String, word: &str, width: usize, prefix: &str) {
    let needs_wrap = line.len() + word.len() > width && line.len() > prefix.len();
    if needs_wrap {
        s.push_str(line.trim_end());
        s.push('\n');
        *line = prefix.to_string();
    }
    line.push_str(word);
}

fn recurse(
    shape: &[usize],
    index: &mut Vec<usize>,
    hang: &str,
    width: usize,
    summ: bool,
    elem: &dyn Fn(usize) -> String,
) -> String {
    let axis = index.len();
    if axis == shape.len() {
        let flat = index.iter().zip(shape).fold(0, |acc, (&i, &n)| acc * n + i);
        return elem(flat);
    }
    let axes_left = shape.len() - axis;
    let next_hang = format!("{hang} ");
    let next_width = width - 1;
    let n = shape[axis];
    let (idx, cut) = shown_indices(n, summ);
    let lead = if cut { EDGE } else { idx.len() };
    let mut s = String::new();
    if axes_left == 1 {
        let mut line = hang.to_string();
        for (k, &i) in idx.iter().enumerate() {
            index.push(i);
            let word = recurse(shape, index, &next_hang, next_width, summ, elem);
            index.pop();
            let last = k + 1 == idx.len();
            // numpy keeps room for the separator or the closing bracket
            extend_line(&mut s, &mut line, &word, if last { next_width } else { width - 1 }, hang);
            if !last {
                line.push(' ');
            }
            if cut && k + 1 == lead {
                extend_line(&mut s, &mut line, "...", width - 1, hang);
                line.push(' ');
            }
        }
        s.push_str(&line);
    } else {
        let sep = "\n".repeat(axes_left - 1);
        for (k, &i) in idx.iter().enumerate() {
            index.push(i);
            let nested = recurse(shape, index, &next_hang, next_width, summ, elem);
            index.pop();
            s.push_str(hang);
            s.push_str(&nested);
            if k + 1 < idx.len() {
                s.push_str(&sep);
            }
            if cut && k + 1 == lead {
                s.push_str(hang);
                s.push_str("...");
                s.push_str(&sep);
            }
        }
    }
    format!("[{}]", &s[hang.len().min(s.len())..])
}
