//! The TF1 surface the Rust API has (the frontend's functions and the runtime's
//! `Saver`): every TF1 function (by its Python name, `nn.relu`
//! for `tf.nn.relu`) and the Rust item that is it. The compiler checks each item
//! exists, and a Python test checks `kiln.compat.v1` exports the same names (apart
//! from its documented Python-object-only ones), so the two cannot drift.

use kiln_frontend::{Graph, Tensor};

macro_rules! surface {
    (
        functions { $($tf:literal => $($seg:ident)::+;)* }
        runtime { $($tfr:literal => $($rseg:ident)::+;)* }
        methods { $($tfm:literal => Graph::$m:ident;)* }
        generic { $($tfg:literal => $call:expr;)* }
    ) => {
        /// `(TF1 name, Rust item)` for every TF1 function of the Rust API.
        pub const TF1_FUNCTIONS: &[(&str, &str)] = &[
            $(($tf, concat!("kiln_frontend", $("::", stringify!($seg),)*)),)*
            $(($tfr, concat!("kiln_runtime", $("::", stringify!($rseg),)*)),)*
            $(($tfm, concat!("Graph::", stringify!($m))),)*
            $(($tfg, stringify!($call)),)*
        ];

        // every item named above exists (a build error otherwise)
        #[allow(unused_imports, dead_code, clippy::no_effect_underscore_binding)]
        fn _items_exist() {
            $( #[allow(unused_imports)] use kiln_frontend::$($seg)::+ as _; )*
            $( #[allow(unused_imports)] use kiln_runtime::$($rseg)::+ as _; )*
            $( let _ = Graph::$m; )*
            $( let _ = $call; )*
        }
    };
}

surface! {
    functions {
        "abs" => abs; "add" => add; "add_n" => add_n; "argmax" => argmax_typed; "argmin" => argmin;
        "assign" => assign; "broadcast_to" => broadcast_to; "cast" => cast;
        "clip_by_global_norm" => clip_by_global_norm; "clip_by_norm" => clip_by_norm;
        "clip_by_value" => clip_by_value; "concat" => concat; "cumsum" => cumsum; "div" => divide;
        "divide" => divide; "elu" => elu; "equal" => equal; "exp" => exp; "expand_dims" => expand_dims;
        "gather" => gather_v2; "gather_nd" => gather_nd; "global_norm" => global_norm;
        "gradients" => gradients_with; "greater" => greater; "greater_equal" => greater_equal;
        "group" => group; "identity" => identity; "less" => less; "less_equal" => less_equal; "log" => log;
        "log1p" => log1p; "matmul" => matmul_with; "maximum" => maximum; "minimum" => minimum;
        "mul" => multiply; "multinomial" => categorical_as; "multiply" => multiply; "neg" => negative;
        "negative" => negative; "not_equal" => not_equal; "one_hot" => one_hot_with; "ones_like" => ones_like;
        "pow" => pow; "range" => range; "realdiv" => divide; "reduce_all" => reduce_all;
        "reduce_any" => reduce_any; "reduce_logsumexp" => reduce_logsumexp; "reduce_max" => reduce_max;
        "reduce_mean" => reduce_mean; "reduce_min" => reduce_min; "reduce_prod" => reduce_prod;
        "reduce_sum" => reduce_sum; "relu" => relu; "reshape" => reshape; "rsqrt" => rsqrt; "shape" => shape;
        "sigmoid" => sigmoid; "sign" => sign; "slice" => slice; "softplus" => softplus; "split" => split;
        "sqrt" => sqrt; "square" => square; "squeeze" => squeeze; "stack" => stack;
        "stop_gradient" => stop_gradient; "sub" => subtract; "subtract" => subtract; "tanh" => tanh;
        "tile" => tile; "transpose" => transpose; "truediv" => divide; "unstack" => unstack;
        "where" => where_v1; "where_v2" => where_; "zeros_like" => zeros_like;
        "random.categorical" => categorical;
        "nn.bias_add" => nn::bias_add; "nn.dropout" => nn::dropout; "nn.elu" => elu; "nn.l2_loss" => nn::l2_loss;
        "nn.leaky_relu" => nn::leaky_relu; "nn.log_softmax" => nn::log_softmax_along; "nn.relu" => nn::relu;
        "nn.sigmoid" => nn::sigmoid; "nn.sigmoid_cross_entropy_with_logits" => nn::sigmoid_cross_entropy_with_logits;
        "nn.softmax" => nn::softmax_along;
        "nn.softmax_cross_entropy_with_logits" => nn::softmax_cross_entropy_with_logits;
        "nn.softmax_cross_entropy_with_logits_v2" => nn::softmax_cross_entropy_with_logits;
        "nn.softplus" => softplus; "nn.sparse_softmax_cross_entropy_with_logits" => nn::sparse_softmax_cross_entropy_with_logits;
        "nn.tanh" => nn::tanh;
        "losses.absolute_difference" => losses::absolute_difference; "losses.huber_loss" => losses::huber_loss;
        "losses.mean_squared_error" => losses::mean_squared_error;
        "assign_add" => assign_add; "assign_sub" => assign_sub; "zeros" => zeros; "ones" => ones;
        "to_float" => to_float;
        "train.exponential_decay" => exponential_decay; "train.polynomial_decay" => polynomial_decay;
        "train.piecewise_constant" => piecewise_constant;
        "constant_initializer" => Initializer::Constant; "zeros_initializer" => Initializer::Zeros;
        "ones_initializer" => Initializer::Ones; "random_normal_initializer" => Initializer::RandomNormal;
        "truncated_normal_initializer" => Initializer::TruncatedNormal;
        "random_uniform_initializer" => Initializer::RandomUniform;
        "glorot_uniform_initializer" => Initializer::GlorotUniform;
        "glorot_normal_initializer" => Initializer::GlorotNormal;
        "orthogonal_initializer" => Initializer::Orthogonal; "initializers.orthogonal" => Initializer::Orthogonal;
        "initializers.orthogonal_initializer" => Initializer::Orthogonal; "make_template" => Template;
        "initializers.constant" => Initializer::Constant; "initializers.zeros" => Initializer::Zeros;
        "initializers.ones" => Initializer::Ones; "initializers.random_normal" => Initializer::RandomNormal;
        "initializers.truncated_normal" => Initializer::TruncatedNormal;
        "initializers.random_uniform" => Initializer::RandomUniform;
        "initializers.glorot_uniform" => Initializer::GlorotUniform;
        "initializers.glorot_normal" => Initializer::GlorotNormal;
        "initializers.constant_initializer" => Initializer::Constant;
        "initializers.zeros_initializer" => Initializer::Zeros; "initializers.ones_initializer" => Initializer::Ones;
        "initializers.random_normal_initializer" => Initializer::RandomNormal;
        "initializers.truncated_normal_initializer" => Initializer::TruncatedNormal;
        "initializers.random_uniform_initializer" => Initializer::RandomUniform;
        "initializers.glorot_uniform_initializer" => Initializer::GlorotUniform;
        "initializers.glorot_normal_initializer" => Initializer::GlorotNormal;
        "initializers.xavier_initializer" => Initializer::GlorotUniform;
        "contrib.layers.xavier_initializer" => Initializer::GlorotUniform;
        "contrib.layers.xavier_initializer_conv2d" => Initializer::GlorotUniform;
        "losses.get_regularization_losses" => get_regularization_losses;
        "losses.get_regularization_loss" => get_regularization_loss;
        "layers.dense" => layers::dense; "layers.flatten" => layers::flatten;
        "contrib.layers.flatten" => layers::flatten; "contrib.layers.fully_connected" => layers::fully_connected;
        "contrib.layers.l2_regularizer" => Regularizer::L2; "contrib.layers.l1_regularizer" => Regularizer::L1;
        "train.AdamOptimizer" => AdamOptimizer; "train.GradientDescentOptimizer" => GradientDescentOptimizer;
        "train.MomentumOptimizer" => MomentumOptimizer; "train.RMSPropOptimizer" => RMSPropOptimizer;
    }
    runtime {
        "train.Saver" => Saver; "train.latest_checkpoint" => latest_checkpoint;
    }
    methods {
        "global_variables" => Graph::global_variables; "all_variables" => Graph::global_variables;
        "trainable_variables" => Graph::trainable_variables;
        "global_variables_initializer" => Graph::global_variables_initializer;
        "initialize_all_variables" => Graph::global_variables_initializer;
        "variables_initializer" => Graph::variables_initializer;
        "initialize_variables" => Graph::variables_initializer; "no_op" => Graph::no_op;
        "set_random_seed" => Graph::set_random_seed; "random.set_random_seed" => Graph::set_random_seed;
        "random_normal" => Graph::random_normal; "random.normal" => Graph::random_normal;
        "random_uniform" => Graph::random_uniform; "random.uniform" => Graph::random_uniform;
        "truncated_normal" => Graph::truncated_normal; "random.truncated_normal" => Graph::truncated_normal;
        "train.get_global_step" => Graph::get_global_step;
        "add_to_collection" => Graph::add_to_collection; "add_to_collections" => Graph::add_to_collections;
        "get_collection" => Graph::get_collection;
        "name_scope" => Graph::name_scope; "variable_scope" => Graph::variable_scope_reuse;
    }
    generic {
        "placeholder" => |g: &Graph| g.placeholder(kiln_frontend::DType::F32, [None], "x");
        "constant" => |g: &Graph| g.constant_named(1.0f32, None, "c");
        "train.get_or_create_global_step" => |g: &Graph| g.get_or_create_global_step();
        "get_variable" => |g: &Graph| g.get_variable_trainable("v", &[1], kiln_frontend::DType::F32, None, true);
        "control_dependencies" => |g: &Graph, t: &Tensor| g.control_dependencies(&[t]);
    }
}
