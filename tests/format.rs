//! NumPy's `str()` of arrays. Every expected string was printed by numpy 2.x.

use kiln::TensorValue;
use ndarray::{Array, ArrayD, IxDyn};

fn f32s(shape: &[usize], v: Vec<f32>) -> TensorValue {
    TensorValue::F32(ArrayD::from_shape_vec(IxDyn(shape), v).unwrap())
}

fn arange(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32).collect()
}

#[test]
fn notebook_values() {
    assert_eq!(TensorValue::from(3.0f32).to_string(), "3.0");
    assert_eq!(TensorValue::from(vec![3.0f32]).to_string(), "[3.]");
    assert_eq!(TensorValue::from(vec![3.0f32, 6.0]).to_string(), "[3. 6.]");
    assert_eq!(TensorValue::from([[-14.0f32]]).to_string(), "[[-14.]]");
    let m = f32s(&[3, 3], vec![0., 1., 2., -1., 0., 1., -2., -1., 0.]);
    assert_eq!(m.to_string(), "[[ 0.  1.  2.]\n [-1.  0.  1.]\n [-2. -1.  0.]]");
}

#[test]
fn fractions_pad_right() {
    assert_eq!(TensorValue::from(vec![0.5f32, 1.25]).to_string(), "[0.5  1.25]");
    assert_eq!(TensorValue::from(vec![1.0f32 / 3.0, 2.0 / 3.0]).to_string(), "[0.33333334 0.6666667 ]");
    assert_eq!(TensorValue::from(vec![0.1f64, 0.2 + 0.1]).to_string(), "[0.1 0.3]");
}

#[test]
fn precision_is_eight_digits() {
    let v: Vec<f32> = (0..12).map(|i| i as f32 + 0.123_456_79).collect();
    assert_eq!(
        f32s(&[3, 4], v).to_string(),
        "[[ 0.12345679  1.1234568   2.1234567   3.1234567 ]\n [ 4.123457    5.123457    6.123457    7.123457  ]\n [ 8.123457    9.123457   10.123457   11.123457  ]]"
    );
}

#[test]
fn scientific_mode() {
    assert_eq!(TensorValue::from(vec![1e-5f32, 1.0]).to_string(), "[1.e-05 1.e+00]");
    assert_eq!(TensorValue::from(vec![1e9f32, 1.0]).to_string(), "[1.e+09 1.e+00]");
}

#[test]
fn non_finite_and_signed_zero() {
    assert_eq!(TensorValue::from(vec![f32::NAN, 1.5, f32::NEG_INFINITY]).to_string(), "[ nan  1.5 -inf]");
    assert_eq!(TensorValue::from(vec![-0.0f32, 1.0]).to_string(), "[-0.  1.]");
}

#[test]
fn ints_and_bools() {
    assert_eq!(TensorValue::from(vec![1i32, -20, 3]).to_string(), "[  1 -20   3]");
    assert_eq!(TensorValue::from(vec![true, false]).to_string(), "[ True False]");
    assert_eq!(TensorValue::from(7i64).to_string(), "7");
    assert_eq!(TensorValue::from(true).to_string(), "True");
}

#[test]
fn scalars_use_python_repr() {
    assert_eq!(TensorValue::from(0.1f32).to_string(), "0.1");
    assert_eq!(TensorValue::from(1e-5f32).to_string(), "1e-05");
    assert_eq!(TensorValue::from(1e16f32).to_string(), "1e+16");
    assert_eq!(TensorValue::from(2.0f64).to_string(), "2.0");
    assert_eq!(TensorValue::from(123456.7f32).to_string(), "123456.7");
}

#[test]
fn line_wrapping_at_75() {
    let v: Vec<f32> = (0..30).map(|i| i as f32 * 1.5).collect();
    assert_eq!(
        TensorValue::from(v).to_string(),
        "[ 0.   1.5  3.   4.5  6.   7.5  9.  10.5 12.  13.5 15.  16.5 18.  19.5\n 21.  22.5 24.  25.5 27.  28.5 30.  31.5 33.  34.5 36.  37.5 39.  40.5\n 42.  43.5]"
    );
}

#[test]
fn rank_three() {
    assert_eq!(
        f32s(&[2, 3, 4], arange(24)).to_string(),
        "[[[ 0.  1.  2.  3.]\n  [ 4.  5.  6.  7.]\n  [ 8.  9. 10. 11.]]\n\n [[12. 13. 14. 15.]\n  [16. 17. 18. 19.]\n  [20. 21. 22. 23.]]]"
    );
}

#[test]
fn summarised_above_1000_elements() {
    assert_eq!(
        f32s(&[2000], arange(2000)).to_string(),
        "[0.000e+00 1.000e+00 2.000e+00 ... 1.997e+03 1.998e+03 1.999e+03]"
    );
    assert_eq!(
        f32s(&[40, 30], arange(1200)).to_string(),
        "[[0.000e+00 1.000e+00 2.000e+00 ... 2.700e+01 2.800e+01 2.900e+01]\n [3.000e+01 3.100e+01 3.200e+01 ... 5.700e+01 5.800e+01 5.900e+01]\n [6.000e+01 6.100e+01 6.200e+01 ... 8.700e+01 8.800e+01 8.900e+01]\n ...\n [1.110e+03 1.111e+03 1.112e+03 ... 1.137e+03 1.138e+03 1.139e+03]\n [1.140e+03 1.141e+03 1.142e+03 ... 1.167e+03 1.168e+03 1.169e+03]\n [1.170e+03 1.171e+03 1.172e+03 ... 1.197e+03 1.198e+03 1.199e+03]]"
    );
}

#[test]
fn empty_and_unit() {
    assert_eq!(TensorValue::F32(Array::zeros(IxDyn(&[0, 3]))).to_string(), "[]");
    assert_eq!(TensorValue::Unit.to_string(), "None");
}
