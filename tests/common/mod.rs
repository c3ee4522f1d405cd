//! The notebook's graphs, one builder per cell, shared by the value, snapshot and
//! error tests. Line numbers here appear in snapshots, so append, don't insert.
#![allow(dead_code)]

use kiln::{matmul, reduce_mean, Axes, DType, Graph, Initializer, RankPromotion, Tensor};

/// A built cell: its graph and the tensors the notebook fetched or printed, by name.
pub struct Cell {
    pub graph: Graph,
    pub t: Vec<(&'static str, Tensor)>,
}

impl Cell {
    pub fn get(&self, name: &str) -> &Tensor {
        &self.t.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no tensor {name}")).1
    }
}

fn quiet() -> Graph {
    let g = Graph::new();
    g.set_rank_promotion(RankPromotion::Allow);
    g
}

/// 2: `c = constant(1.0) + constant(2.0)`.
pub fn s2_constants() -> Cell {
    let g = quiet();
    let a = g.constant(1.0).unwrap();
    let b = g.constant(2.0).unwrap();
    let c = &a + &b;
    Cell { graph: g, t: vec![("a", a), ("b", b), ("c", c)] }
}

/// 2: placeholders of shape `[1]`.
pub fn s2_placeholders_fixed() -> Cell {
    let g = quiet();
    let a = g.placeholder(DType::F32, [1], "a_placeholder").unwrap();
    let b = g.placeholder(DType::F32, [1], "b_placeholder").unwrap();
    let c = &a + &b;
    Cell { graph: g, t: vec![("a", a), ("b", b), ("c", c)] }
}

/// 2: placeholders of shape `[None]`.
pub fn s2_placeholders_none() -> Cell {
    let g = quiet();
    let a = g.placeholder(DType::F32, [None], "a_placeholder").unwrap();
    let b = g.placeholder(DType::F32, [None], "b_placeholder").unwrap();
    let c = &a + &b;
    Cell { graph: g, t: vec![("a", a), ("b", b), ("c", c)] }
}

fn s3_ab(g: &Graph) -> (Tensor, Tensor) {
    (g.constant([[-1.0], [-2.0], [-3.0]]).unwrap(), g.constant([[1.0, 2.0, 3.0]]).unwrap())
}

/// 3: `b + b`.
pub fn s3_add() -> Cell {
    let g = quiet();
    let (a, b) = s3_ab(&g);
    let c = &b + &b;
    Cell { graph: g, t: vec![("a", a), ("b", b), ("c", c)] }
}

/// 3: `a + b`, the column-plus-row broadcast.
pub fn s3_broadcast() -> Cell {
    let g = quiet();
    let (a, b) = s3_ab(&g);
    let c = &a + &b;
    Cell { graph: g, t: vec![("a", a), ("b", b), ("c", c)] }
}

/// 3: `a * b` and `matmul(b, a)`.
pub fn s3_mul_matmul() -> Cell {
    let g = quiet();
    let (a, b) = s3_ab(&g);
    let c_elementwise = &a * &b;
    let c_matmul = matmul(&b, &a).unwrap();
    Cell { graph: g, t: vec![("a", a), ("b", b), ("c_elementwise", c_elementwise), ("c_matmul", c_matmul)] }
}

/// 3: `c0 = b + b; c1 = c0 + 1`.
pub fn s3_chain() -> Cell {
    let g = quiet();
    let (a, b) = s3_ab(&g);
    let c0 = &b + &b;
    let c1 = &c0 + 1.0;
    Cell { graph: g, t: vec![("a", a), ("b", b), ("c0", c0), ("c1", c1)] }
}

/// 3: `reduce_mean(b)`.
pub fn s3_reduce_mean() -> Cell {
    let g = quiet();
    let (a, b) = s3_ab(&g);
    let c = reduce_mean(&b, Axes::All, false).unwrap();
    Cell { graph: g, t: vec![("a", a), ("b", b), ("c", c)] }
}

/// 4: a `[1,3]` variable from a constant initializer, `c = b + var`, and `init`.
pub fn s4_variables() -> Cell {
    let g = quiet();
    let b = g.constant([[1.0, 2.0, 3.0]]).unwrap();
    let var = g.get_variable("myvar", &[1, 3], DType::F32, Initializer::constant([[2.0, 4.0, 6.0]])).unwrap();
    let c = &b + &var;
    let init = g.global_variables_initializer().unwrap();
    Cell { graph: g, t: vec![("b", b), ("var", var), ("c", c), ("init", init)] }
}

/// 6: `a[4,1] * b[1,4]` from f64 NumPy-like arrays.
pub fn s6_shape_check() -> Cell {
    let g = quiet();
    let a = g.constant(ndarray::Array2::from_shape_fn((4, 1), |(i, _)| 0.25 * i as f64)).unwrap();
    let b = g.constant(ndarray::Array2::from_shape_fn((1, 4), |(_, j)| 0.5 + j as f64)).unwrap();
    let c = &a * &b;
    Cell { graph: g, t: vec![("a", a), ("b", b), ("c", c)] }
}

/// 6: two variables with default (Glorot uniform) initializers.
pub fn s6_var_names() -> Cell {
    let g = quiet();
    let a = g.get_variable("var1", &[4, 6], DType::F32, None).unwrap();
    let b = g.get_variable("var2", &[2, 7], DType::F32, None).unwrap();
    let init = g.global_variables_initializer().unwrap();
    Cell { graph: g, t: vec![("a", a), ("b", b), ("init", init)] }
}

/// 6: three layers of variables under `variable_scope`s.
pub fn s6_scopes() -> Cell {
    let g = quiet();
    let mut t = Vec::new();
    let names = [("W0", "b0"), ("W1", "b1"), ("W2", "b2")];
    let shapes: [[usize; 2]; 3] = [[1, 20], [20, 20], [20, 1]];
    for (i, ((w, b), shape)) in names.into_iter().zip(shapes).enumerate() {
        let _scope = g.variable_scope(&format!("layer_{i}"));
        t.push((w, g.get_variable(w, &shape, DType::F32, Initializer::xavier()).unwrap()));
        t.push((b, g.get_variable(b, &[shape[1]], DType::F32, Initializer::Zeros).unwrap()));
    }
    t.push(("init", g.global_variables_initializer().unwrap()));
    Cell { graph: g, t }
}

/// Every cell, named for its snapshot.
pub fn all_cells() -> Vec<(&'static str, Cell)> {
    vec![
        ("s2_constants", s2_constants()),
        ("s2_placeholders_fixed", s2_placeholders_fixed()),
        ("s2_placeholders_none", s2_placeholders_none()),
        ("s3_add", s3_add()),
        ("s3_broadcast", s3_broadcast()),
        ("s3_mul_matmul", s3_mul_matmul()),
        ("s3_chain", s3_chain()),
        ("s3_reduce_mean", s3_reduce_mean()),
        ("s4_variables", s4_variables()),
        ("s6_shape_check", s6_shape_check()),
        ("s6_var_names", s6_var_names()),
        ("s6_scopes", s6_scopes()),
    ]
}
