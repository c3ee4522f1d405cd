//! Property test: kiln's broadcasting against a small model of NumPy's rule, on
//! shapes and on values (ndarray's own co-broadcasting computes the expected sums).

use kiln::{DType, Graph, RankPromotion, Session, TensorValue};
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;

/// NumPy's rule: align right; each pair of dims is equal or one of them is 1.
fn numpy_broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for i in 0..r {
        let da = if i + a.len() >= r { a[i + a.len() - r] } else { 1 };
        let db = if i + b.len() >= r { b[i + b.len() - r] } else { 1 };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![Just(1usize), Just(2), Just(3), Just(0)], 0..=4)
}

fn iota(shape: &[usize], scale: f32) -> ArrayD<f32> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(|i| i as f32 * scale).collect()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(512)))]

    #[test]
    fn static_shapes_follow_numpy(a in shape(), b in shape()) {
        let g = Graph::new();
        g.set_rank_promotion(RankPromotion::Allow);
        let x = g.placeholder(DType::F32, a.clone(), "x").unwrap();
        let y = g.placeholder(DType::F32, b.clone(), "y").unwrap();
        match (kiln::add(&x, &y), numpy_broadcast(&a, &b)) {
            (Ok(z), Some(expect)) => {
                prop_assert!(z.get_shape() == expect.as_slice(), "{:?} vs {:?}", z.get_shape(), expect);
                // values agree with ndarray's broadcasting
                let (xa, ya) = (iota(&a, 1.0), iota(&b, 100.0));
                let want = &xa + &ya;
                let mut sess = Session::new(&g);
                let got = sess.run1(&z, &[(&x, xa.into()), (&y, ya.into())]).unwrap();
                prop_assert_eq!(got, TensorValue::F32(want));
            }
            (Err(e), None) => prop_assert!(matches!(e, kiln::BuildError::Broadcast { .. }), "{}", e),
            (z, expect) => prop_assert!(false, "kiln {:?} vs numpy {:?}", z.map(|t| t.get_shape()), expect),
        }
    }

    /// With unknown dims, broadcasting builds whenever some binding would broadcast, and
    /// each concrete feed either runs with NumPy's answer or is refused with an error
    /// (never a wrong result).
    #[test]
    fn symbolic_dims_never_give_wrong_answers(a in shape(), b in shape(), unknown_a in any::<u8>(), unknown_b in any::<u8>()) {
        let g = Graph::new();
        g.set_rank_promotion(RankPromotion::Allow);
        let spec = |s: &[usize], mask: u8| -> Vec<Option<usize>> {
            s.iter().enumerate().map(|(i, &d)| if mask >> i & 1 == 1 { None } else { Some(d) }).collect()
        };
        let x = g.placeholder(DType::F32, spec(&a, unknown_a), "x").unwrap();
        let y = g.placeholder(DType::F32, spec(&b, unknown_b), "y").unwrap();
        let Ok(z) = kiln::add(&x, &y) else {
            // kiln refuses only fixed dims that clash, and those clash in any binding
            prop_assert!(numpy_broadcast(&a, &b).is_none());
            return Ok(());
        };
        let (xa, ya) = (iota(&a, 1.0), iota(&b, 100.0));
        let mut sess = Session::new(&g);
        match (sess.run1(&z, &[(&x, xa.clone().into()), (&y, ya.clone().into())]), numpy_broadcast(&a, &b)) {
            (Ok(got), Some(_)) => prop_assert_eq!(got, TensorValue::F32(&xa + &ya)),
            (Err(e), _) => prop_assert!(
                matches!(e, kiln::Error::DimMismatch { .. } | kiln::Error::FeedShape { .. } | kiln::Error::FeedConstraint { .. }),
                "{}", e
            ),
            (Ok(got), None) => prop_assert!(false, "ran {:?} + {:?} to {:?}", a, b, got.shape()),
        }
    }
}
