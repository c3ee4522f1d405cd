//! TF's `orthogonal_initializer`: a random orthogonal matrix (the Q of a QR
//! decomposition of a standard-normal one, its columns' signs fixed so R's diagonal is
//! positive), scaled by `gain` and shaped as the variable. Computed once, when the
//! variable is declared, from a seed drawn as the other random initializers draw
//! theirs; the numbers are kiln's own.

use crate::variables::splitmix;

/// Standard normals from a splitmix stream (Box-Muller).
fn normals(seed: u64, n: usize) -> Vec<f64> {
    let mut state = seed;
    let mut uniform = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        // 53 bits in (0, 1]: the log below stays finite
        ((splitmix(state) >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    };
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let (u, v) = (uniform(), uniform());
        let r = (-2.0 * u.ln()).sqrt();
        let t = std::f64::consts::TAU * v;
        out.push(r * t.cos());
        out.push(r * t.sin());
    }
    out.truncate(n);
    out
}

/// `gain * Q` for a variable of `shape` (rows: every dim but the last; columns: the
/// last), row-major. Q has orthonormal columns when rows >= columns, orthonormal rows
/// otherwise.
pub(crate) fn orthogonal(shape: &[usize], gain: f64, seed: u64) -> Vec<f64> {
    let cols = shape.last().copied().unwrap_or(1);
    let rows: usize = shape[..shape.len().saturating_sub(1)].iter().product();
    let (m, n) = (rows.max(cols), rows.min(cols));
    if m == 0 || n == 0 {
        return vec![0.0; rows * cols];
    }
    // column-major m x n, orthonormalized by modified Gram-Schmidt (twice, for
    // orthogonality to rounding); the norms it divides by are R's positive diagonal
    let mut a = normals(seed, m * n);
    for j in 0..n {
        for _ in 0..2 {
            for k in 0..j {
                let dot: f64 = (0..m).map(|i| a[k * m + i] * a[j * m + i]).sum();
                for i in 0..m {
                    a[j * m + i] -= dot * a[k * m + i];
                }
            }
        }
        let norm = (0..m).map(|i| a[j * m + i] * a[j * m + i]).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
        for i in 0..m {
            a[j * m + i] /= norm;
        }
    }
    // row-major rows x cols: Q itself when rows >= cols, else its transpose
    let mut out = vec![0.0; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            let q = if rows >= cols { a[c * m + r] } else { a[r * m + c] };
            out[r * cols + c] = gain * q;
        }
    }
    out
}
