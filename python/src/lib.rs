//! `kiln._kiln`, the extension module under the Python package `kiln`: graphs,
//! tensors, ops, sessions, savers and optimizers over kiln's Rust crates, NumPy in and
//! out. `kiln.compat.v1` (Python) gives them TensorFlow 1's API.

mod convert;
mod errors;
mod graph;
mod ops;
mod scopes;
mod session;
mod tf_ops;

use pyo3::prelude::*;

#[pymodule]
fn _kiln(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<graph::PyGraph>()?;
    m.add_class::<graph::PyTensor>()?;
    m.add_class::<graph::PyScope>()?;
    m.add_class::<scopes::PyTemplate>()?;
    m.add_class::<session::PySession>()?;
    m.add_class::<session::PyCallable>()?;
    m.add_class::<session::PySaver>()?;
    m.add_class::<session::PyOptimizer>()?;
    for (name, e) in [
        ("OpError", py.get_type::<errors::OpError>()),
        ("InvalidArgumentError", py.get_type::<errors::InvalidArgumentError>()),
        ("FailedPreconditionError", py.get_type::<errors::FailedPreconditionError>()),
        ("NotFoundError", py.get_type::<errors::NotFoundError>()),
        ("DataLossError", py.get_type::<errors::DataLossError>()),
        ("InternalError", py.get_type::<errors::InternalError>()),
    ] {
        m.add(name, e)?;
    }
    // the op tables' TF function names: kiln.compat.v1 defines one function per entry
    let names = |v: Vec<&'static str>| v;
    m.add("UNARY_FUNCTIONS", names(kiln::ir::UNARY_OPS.iter().map(|u| u.tf_function()).collect()))?;
    m.add(
        "BINARY_FUNCTIONS",
        names(
            kiln::ir::BINARY_OPS
                .iter()
                .map(|b| b.tf_function())
                .chain(kiln::ir::CMP_OPS.iter().map(|c| c.tf_function()))
                .collect(),
        ),
    )?;
    // the TF1 functions the Rust API has: a test checks kiln.compat.v1 has the same
    m.add("TF1_FUNCTIONS", kiln::surface::TF1_FUNCTIONS.iter().map(|(n, _)| *n).collect::<Vec<_>>())?;
    m.add("REDUCE_FUNCTIONS", names(kiln::ir::REDUCE_OPS.iter().map(|r| r.tf_function()).collect()))?;
    m.add_function(wrap_pyfunction!(errors::_set_package_dir, m)?)?;
    m.add_function(wrap_pyfunction!(errors::_user_location, m)?)?;
    m.add_function(wrap_pyfunction!(session::latest_checkpoint, m)?)?;
    macro_rules! fns {
        ($($f:ident),*) => {$( m.add_function(wrap_pyfunction!(ops::$f, m)?)?; )*};
    }
    fns!(
        arith,
        binary,
        unary,
        reduce,
        matmul,
        reshape,
        transpose,
        slice,
        concat,
        cast,
        broadcast_to,
        where_,
        assign,
        group,
        identity,
        gradients,
        gather,
        one_hot,
        argmax,
        cumsum,
        shape,
        global_norm,
        clip_by_global_norm,
        softmax_cross_entropy,
        expand_dims,
        squeeze,
        stack,
        categorical
    );
    macro_rules! tf_fns {
        ($($f:ident),*) => {$( m.add_function(wrap_pyfunction!(tf_ops::$f, m)?)?; )*};
    }
    tf_fns!(
        matmul_with,
        add_n,
        reduce_special,
        arg_extreme,
        clip_by_value,
        clip_by_norm,
        tile,
        split,
        unstack,
        gather_v2,
        gather_nd,
        one_hot_with,
        where_v1,
        filled_like,
        range,
        getitem,
        nn_unary,
        nn_binary,
        dropout,
        loss,
        global_step,
        decay,
        piecewise_constant,
        assign_delta,
        filled
    );
    macro_rules! scope_fns {
        ($($f:ident),*) => {$( m.add_function(wrap_pyfunction!(scopes::$f, m)?)?; )*};
    }
    scope_fns!(
        variable_scope_with,
        scope_state,
        get_variable_with,
        regularize,
        add_to_collection,
        get_collection,
        get_regularization_loss,
        unique_layer_name,
        dense,
        flatten
    );
    Ok(())
}
