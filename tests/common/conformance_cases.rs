// The conformance cases of the homework ops, the long reductions and the build errors,
// written with kiln's Rust API (included by tests/conformance.rs).

fn errs(m: &mut BTreeMap<String, Case>) {
    let e = |name: &str, f: fn(&Graph, DType) -> R<Tensor>| {
        let build: Case = Box::new(move |g, dt| {
            let mut o = Out::default();
            o.put("z", f(g, dt)?);
            Ok(o)
        });
        (format!("error/{name}"), build)
    };
    for (k, v) in [
        e("broadcast_mismatch", |g, dt| kiln::add(&c(g, vec![1.0; 6], &[2, 3], dt), &c(g, vec![1.0; 4], &[4], dt))),
        e("matmul_inner", |g, dt| kiln::matmul(&c(g, vec![1.0; 6], &[2, 3], dt), &c(g, vec![1.0; 8], &[4, 2], dt))),
        e("dtype_mix", |g, dt| kiln::add(&c(g, vec![1.0], &[1], dt), &g.constant(vec![1i32])?)),
        e("softmax_int", |g, _| kiln::nn::softmax(&g.constant(ndarray::arr2(&[[1i32, 2]]))?)),
        e("xent_shapes", |g, dt| {
            kiln::nn::softmax_cross_entropy_with_logits(
                &c(g, vec![1.0; 8], &[2, 4], dt),
                &c(g, vec![1.0; 6], &[2, 3], dt),
            )
        }),
        e("sparse_xent_float_labels", |g, dt| {
            kiln::nn::sparse_softmax_cross_entropy_with_logits(
                &c(g, vec![0.0, 1.0], &[2], dt),
                &c(g, vec![1.0; 6], &[2, 3], dt),
            )
        }),
        e("sparse_xent_rank", |g, dt| {
            let labels = g.constant(ndarray::arr2(&[[0i32], [1]]))?;
            kiln::nn::sparse_softmax_cross_entropy_with_logits(&labels, &c(g, vec![1.0; 6], &[2, 3], dt))
        }),
        e("huber_shapes", |g, dt| {
            kiln::losses::huber_loss(&c(g, vec![1.0; 8], &[2, 4], dt), &c(g, vec![1.0; 6], &[2, 3], dt), 1.0, 1.0)
        }),
        e("sigmoid_xent_shapes", |g, dt| {
            kiln::nn::sigmoid_cross_entropy_with_logits(&c(g, vec![1.0; 4], &[4], dt), &c(g, vec![1.0; 3], &[3], dt))
        }),
        e("logsumexp_int", |g, _| kiln::reduce_logsumexp(&g.constant(vec![1i32, 2, 3])?, Axes::All, false)),
    ] {
        m.insert(k, v);
    }
}

fn long(m: &mut BTreeMap<String, Case>) {
    let one = |name: &str, f: fn(&Graph, DType, &mut Out) -> R<()>| {
        let build: Case = Box::new(move |g, dt| {
            let mut o = Out::default();
            f(g, dt, &mut o)?;
            Ok(o)
        });
        (format!("long/{name}"), build)
    };
    for (k, v) in [
        one("reduce_sum_f32", |g, dt, o| {
            o.put("s", kiln::reduce_sum(&c(g, vec![0.1; 1 << 20], &[1 << 20], dt), Axes::All, false)?);
            Ok(())
        }),
        one("reduce_mean_rows", |g, dt, o| {
            o.put("m", kiln::reduce_mean(&uni(g, 4, 0.0, 1.0, &[4, 100_000], dt), 1, false)?);
            Ok(())
        }),
        one("reduce_sum_columns", |g, dt, o| {
            o.put("s", kiln::reduce_sum(&uni(g, 41, 0.0, 1.0, &[200_000, 3], dt), 0, false)?);
            Ok(())
        }),
        one("reduce_sum_all_2d", |g, dt, o| {
            o.put("s", kiln::reduce_sum(&uni(g, 42, 0.0, 1.0, &[1000, 1000], dt), Axes::All, false)?);
            Ok(())
        }),
        one("reduce_sum_fed", |g, dt, o| {
            let x = g.placeholder(dt, [None], "x")?;
            o.put("s", kiln::reduce_sum(&x, Axes::All, false)?);
            o.feed.push((x, value(rng(43).uniform(0.0, 1.0, 300_001), &[300_001], dt)));
            Ok(())
        }),
    ] {
        m.insert(k, v);
    }
}

fn homework(m: &mut BTreeMap<String, Case>) {
    let hw = |name: &str, f: fn(&Graph, DType, &mut Out) -> R<()>| {
        let build: Case = Box::new(move |g, dt| {
            let mut o = Out::default();
            f(g, dt, &mut o)?;
            Ok(o)
        });
        (format!("homework/{name}"), build)
    };
    for (k, v) in [
        hw("cumsum", |g, dt, o| {
            let x = uni(g, 50, -2.0, 2.0, &[3, 5], dt);
            for ex in [false, true] {
                for rev in [false, true] {
                    for ax in [0i64, 1, -1] {
                        o.put(&format!("c{ax}{}{}", ex as u8, rev as u8), kiln::cumsum(&x, ax, ex, rev)?);
                    }
                }
            }
            let y = kiln::add(&kiln::cumsum(&kiln::square(&x)?, 1, false, true)?, &kiln::cumsum(&x, 0, true, false)?)?;
            grads(o, &y, &[&x])
        }),
        hw("reward_to_go", |g, dt, o| {
            let r = g.placeholder(dt, [None], "r")?;
            o.put("togo", kiln::cumsum(&r, 0, false, true)?);
            o.feed.push((r, value(vec![1.0, 0.0, 1.0, 1.0, -1.0, 2.0, 0.5], &[7], dt)));
            Ok(())
        }),
        hw("reduce_prod", |g, dt, o| {
            let v = vec![
                1.5,
                -2.0,
                3.0,
                0.5,
                2.0,
                0.0,
                5.0,
                1.0,
                0.0,
                3.0,
                0.0,
                2.0,
                INF,
                2.0,
                -1.0,
                1.0,
                f64::NAN,
                1.0,
                2.0,
                3.0,
            ];
            let x = c(g, v, &[5, 4], dt);
            let gg = uni(g, 51, 0.5, 1.5, &[3, 4], dt);
            let x3 = kiln::getitem(&x, &[Index::Range { start: None, stop: Some(3), step: None }])?;
            o.put("rows", kiln::reduce_prod(&x, 1, false)?);
            o.put("cols", kiln::reduce_prod(&x, 0, true)?);
            o.put("all", kiln::reduce_prod(&x3, Axes::All, false)?);
            o.put("neg_axis", kiln::reduce_prod(&gg, -1, false)?);
            let w = c(g, vec![1.0, 2.0, 3.0], &[3], dt);
            let s = kiln::reduce_sum(&kiln::multiply(&kiln::reduce_prod(&x3, 1, false)?, &w)?, Axes::All, false)?;
            o.put("grad_zeros", kiln::gradients(&[&s], &[&x])?[0].clone().expect("x"));
            grads(o, &kiln::reduce_prod(&gg, 0, false)?, &[&gg])
        }),
        hw("losses", |g, dt, o| {
            let lab = c(g, vec![0.0, 1.0, -2.0, 3.0, 0.5], &[5], dt);
            let pred = c(g, vec![0.1, 3.0, -2.5, -1.0, 0.5], &[5], dt);
            let h = kiln::losses::huber_loss(&lab, &pred, 1.0, 1.0)?;
            let mse = kiln::losses::mean_squared_error(&lab, &pred, 1.0)?;
            o.put("grad", kiln::gradients(&[&kiln::add(&h, &mse)?], &[&pred])?[0].clone().expect("pred"));
            o.put("huber", h);
            o.put("mse", mse);
            Ok(())
        }),
        hw("logsumexp_any_all", |g, dt, o| {
            let x = c(g, vec![1.0, 2.0, 3.0, 1000.0, 1000.0, -1000.0, -INF, 0.0, 1.0], &[3, 3], dt);
            let b = g.constant(ndarray::arr2(&[[true, false], [false, false]]))?;
            let x2 = kiln::getitem(&x, &[Index::Range { start: None, stop: Some(2), step: None }])?;
            o.put("lse", kiln::reduce_logsumexp(&x, 1, false)?);
            o.put("lse_all", kiln::reduce_logsumexp(&x2, Axes::All, false)?);
            let s = kiln::reduce_sum(&kiln::reduce_logsumexp(&x2, 1, false)?, Axes::All, false)?;
            o.put("grad", kiln::gradients(&[&s], &[&x])?[0].clone().expect("x"));
            o.put("any", kiln::reduce_any(&b, 1, false)?);
            o.put("all", kiln::reduce_all(&b, 0, false)?);
            Ok(())
        }),
        hw("gathers", |g, dt, o| {
            let q = uni(g, 12, -1.0, 1.0, &[4, 3], dt);
            let a = g.constant(vec![2i32, 0, 1, 1])?;
            let r = kiln::range(g, 0.0, 4.0, 1.0, DType::I32)?;
            let nd = kiln::gather_nd(&q, &kiln::stack(&[&r, &a], 1)?, 0)?;
            let bd = kiln::gather_v2(&q, &a, Some(1), 1)?;
            o.put("cols", kiln::gather_v2(&q, &g.constant(vec![2i32, 0])?, Some(1), 0)?);
            let s = kiln::reduce_sum(&kiln::multiply(&nd, &bd)?, Axes::All, false)?;
            o.put("grad", kiln::gradients(&[&s], &[&q])?[0].clone().expect("q"));
            o.put("nd", nd);
            o.put("bd", bd);
            Ok(())
        }),
        hw("gather_nd_depths", |g, dt, o| {
            let q = uni(g, 13, -1.0, 1.0, &[3, 4, 2], dt);
            let rows = kiln::gather_nd(&q, &g.constant(ndarray::arr2(&[[2i32], [0]]))?, 0)?;
            let pi = ndarray::arr3(&[[[1i32, 3], [0, 0]], [[2, 1], [2, 2]]]);
            let pairs = kiln::gather_nd(&q, &g.constant(pi)?, 0)?;
            let batch = kiln::gather_nd(&q, &g.constant(ndarray::arr2(&[[1i32], [3], [0]]))?, 1)?;
            let bi = ndarray::arr3(&[[[1i32, 0], [3, 1]], [[0, 1], [0, 0]], [[2, 0], [2, 1]]]);
            let batch2 = kiln::gather_nd(&q, &g.constant(bi)?, 1)?;
            let s = |t: &Tensor, k: f32| kiln::reduce_sum(&(t * k), Axes::All, false);
            let y = kiln::add_n(&[&s(&rows, 1.0)?, &s(&pairs, 2.0)?, &s(&batch, 3.0)?, &s(&batch2, 5.0)?])?;
            o.put("grad", kiln::gradients(&[&y], &[&q])?[0].clone().expect("q"));
            o.put("rows", rows);
            o.put("pairs", pairs);
            o.put("batch", batch);
            o.put("batch2", batch2);
            Ok(())
        }),
        hw("sigmoid_xent", |g, dt, o| {
            let x = c(g, vec![0.0, 1.5, -2.0, 30.0, -30.0, 0.25, 100.0, -100.0, -0.0], &[3, 3], dt);
            let z = c(g, vec![0.0, 1.0, 0.5, 1.0, 0.0, 0.25, 0.0, 1.0, 1.0], &[3, 3], dt);
            let y = kiln::nn::sigmoid_cross_entropy_with_logits(&z, &x)?;
            o.put("y", y.clone());
            grads(o, &y, &[&x, &z])
        }),
        hw("one_hot_options", |g, _, o| {
            let i = g.constant(vec![0i32, 2, 1])?;
            o.put("plain", kiln::one_hot(&i, 3)?);
            let on_off = OneHot { on_value: Some(5.0.into()), off_value: Some((-1.0).into()), ..Default::default() };
            o.put("on_off", kiln::one_hot_with(&i, 3, on_off)?);
            o.put("int", kiln::one_hot_with(&i, 3, OneHot { dtype: Some(DType::I32), ..Default::default() })?);
            o.put("axis0", kiln::one_hot_with(&i, 4, OneHot { axis: Some(0), ..Default::default() })?);
            Ok(())
        }),
        hw("where_v1_rows", |g, dt, o| {
            let cnd = g.constant(vec![true, false, true])?;
            let x = c(g, vec![1.0; 6], &[3, 2], dt);
            let y = c(g, vec![0.0; 6], &[3, 2], dt);
            o.put("rows", kiln::where_v1(&cnd, &x, &y)?);
            let v2c = g.constant(vec![true, false])?;
            o.put("v2", kiln::where_(&v2c, &c(g, vec![1.0, 2.0], &[2], dt), &c(g, vec![0.0], &[], dt))?);
            Ok(())
        }),
        hw("range_stack_squeeze", |g, _, o| {
            o.put("r", kiln::range(g, 0.0, 5.0, 1.0, DType::I32)?);
            o.put("rf", kiln::range(g, 0.0, 1.0, 0.25, DType::F32)?);
            o.put("r2", kiln::range(g, 2.0, 9.0, 3.0, DType::I32)?);
            Ok(())
        }),
        hw("tile_unstack", |g, dt, o| {
            let x = uni(g, 13, -1.0, 1.0, &[2, 3], dt);
            let parts = kiln::unstack(&x, None, 1)?;
            let t = kiln::tile(&x, &[2, 3])?;
            o.put("tile_rows", kiln::tile(&x, &[3, 1])?);
            for (i, p) in parts.iter().enumerate() {
                o.put(&format!("unstack{i}"), p.clone());
            }
            let y = kiln::add(
                &kiln::reduce_sum(&kiln::square(&t)?, Axes::All, false)?,
                &kiln::reduce_sum(&parts[1], Axes::All, false)?,
            )?;
            o.put("grad", kiln::gradients(&[&y], &[&x])?[0].clone().expect("x"));
            o.put("tile", t);
            Ok(())
        }),
    ] {
        m.insert(k, v);
    }
}

/// A train case: the train op, the values read after each step, and the loss.
fn trained(o: &mut Out, train: Tensor, vars: Vec<Tensor>, loss: Tensor) {
    o.train = Some((train, vars, loss));
}

fn optimizers(m: &mut BTreeMap<String, Case>) {
    use kiln::train::{AdamOptimizer, GradientDescentOptimizer, MomentumOptimizer, Optimizer, RMSPropOptimizer};
    fn make(name: &str) -> Box<dyn Optimizer> {
        match name {
            "sgd" => Box::new(GradientDescentOptimizer::new(0.1)),
            "momentum" => Box::new(MomentumOptimizer::new(0.1, 0.9)),
            "nesterov" => Box::new(MomentumOptimizer::new(0.1, 0.9).nesterov(true)),
            "adam" => Box::new(AdamOptimizer::new(0.05)),
            "rmsprop" => Box::new(RMSPropOptimizer::new(0.05)),
            _ => Box::new(RMSPropOptimizer::new(0.05).momentum(0.5)),
        }
    }
    for name in ["sgd", "momentum", "nesterov", "adam", "rmsprop", "rmsprop_momentum"] {
        m.insert(
            format!("optimizer/{name}"),
            Box::new(move |g, dt| {
                let w0 = ArrayD::from_shape_vec(IxDyn(&[3, 2]), rng(9).uniform(-1.0, 1.0, 6)).expect("6");
                let w = g.get_variable("w", &[3, 2], dt, kiln::Initializer::constant(w0))?;
                let b = g.get_variable("b", &[2], dt, kiln::Initializer::constant(vec![0.5f64, -0.5]))?;
                let x = uni(g, 10, -1.0, 1.0, &[8, 3], dt);
                let y = uni(g, 11, -1.0, 1.0, &[8, 2], dt);
                let e = kiln::subtract(&kiln::add(&kiln::matmul(&x, &w)?, &b)?, &y)?;
                let loss = kiln::reduce_mean(&kiln::square(&e)?, Axes::All, false)?;
                let train = make(name).minimize(&loss, None)?;
                let mut o = Out::default();
                trained(&mut o, train, vec![w, b], loss);
                Ok(o)
            }),
        );
    }
    m.insert(
        "optimizer/sgd_tensor_lr".into(),
        Box::new(|g, dt| {
            let w = g.get_variable("w", &[3], dt, kiln::Initializer::constant(vec![1.0f64, -2.0, 0.5]))?;
            let lr = g.get_variable("lr", &[], DType::F32, kiln::Initializer::constant(0.2f64))?;
            let loss = kiln::reduce_sum(&kiln::square(&w)?, Axes::All, false)?;
            let rate = if dt == DType::F32 { lr } else { kiln::cast(&lr, dt)? };
            let train = GradientDescentOptimizer::new(rate).minimize(&loss, None)?;
            let mut o = Out::default();
            trained(&mut o, train, vec![w], loss);
            Ok(o)
        }),
    );
    m.insert(
        "schedule/decays".into(),
        Box::new(|g, _| {
            let gs = g.get_or_create_global_step()?;
            let lrs = vec![
                kiln::train::exponential_decay(0.1, &gs, 2.0, 0.5, false)?,
                kiln::train::exponential_decay(0.1, &gs, 2.0, 0.5, true)?,
                kiln::train::polynomial_decay(0.1, &gs, 3.0, 0.01, 2.0)?,
                kiln::train::piecewise_constant(&gs, &[1.0, 2.0], &[1.0, 0.5, 0.1])?,
            ];
            let (_, step) = kiln::assign_add(&gs, &g.constant(1i64)?)?;
            let mut o = Out::default();
            let first = lrs[0].clone();
            trained(&mut o, step, lrs, first);
            Ok(o)
        }),
    );
}

/// The random compositions of cases.py, drawn from the same NumPy streams.
fn random_graphs(m: &mut BTreeMap<String, Case>) {
    const UNARY: [&str; 11] =
        ["abs", "elu", "exp_tanh", "log1p_abs", "negative", "relu", "sigmoid", "softplus", "sqrt_1p", "square", "tanh"];
    const BINARY: [&str; 6] = ["add", "div_1p", "maximum", "minimum", "multiply", "subtract"];
    const KINDS: [&str; 6] = ["unary", "binary", "binary", "reduce", "matmul", "softmax"];
    const SHAPES: [&[usize]; 3] = [&[3, 4], &[4], &[3, 1]];
    fn shape(t: &Tensor) -> Vec<usize> {
        t.get_shape().as_list().into_iter().map(|d| d.expect("known")).collect()
    }
    for seed in 0..16u32 {
        m.insert(
            format!("random/{seed:02}"),
            Box::new(move |g, dt| {
                let num = |x: f64| c(g, vec![x], &[], dt);
                let mut r = RandomState::new(7000 + seed);
                let inputs: Vec<Tensor> = SHAPES
                    .iter()
                    .enumerate()
                    .map(|(i, s)| uni(g, 200 + seed * 10 + i as u32, -2.0, 2.0, s, dt))
                    .collect();
                let mut nodes = inputs.clone();
                for _ in 0..r.randint(6, 12) {
                    let kind = KINDS[r.randint(0, 6) as usize];
                    let x = nodes[r.randint(0, nodes.len() as i64) as usize].clone();
                    let s = shape(&x);
                    match kind {
                        "unary" => {
                            let y = match UNARY[r.randint(0, 11) as usize] {
                                "tanh" => kiln::tanh(&x)?,
                                "sigmoid" => kiln::sigmoid(&x)?,
                                "softplus" => kiln::softplus(&x)?,
                                "square" => kiln::square(&x)?,
                                "abs" => kiln::abs(&x)?,
                                "negative" => kiln::negative(&x)?,
                                "exp_tanh" => kiln::exp(&kiln::tanh(&x)?)?,
                                "log1p_abs" => kiln::log1p(&kiln::abs(&x)?)?,
                                "sqrt_1p" => kiln::sqrt(&kiln::add(&kiln::abs(&x)?, &num(1.0))?)?,
                                "relu" => kiln::nn::relu(&x)?,
                                _ => kiln::elu(&x)?,
                            };
                            nodes.push(y);
                        }
                        "binary" => {
                            let y = nodes[r.randint(0, nodes.len() as i64) as usize].clone();
                            let z = match BINARY[r.randint(0, 6) as usize] {
                                "add" => kiln::add(&x, &y)?,
                                "subtract" => kiln::subtract(&x, &y)?,
                                "multiply" => kiln::multiply(&x, &y)?,
                                "maximum" => kiln::maximum(&x, &y)?,
                                "minimum" => kiln::minimum(&x, &y)?,
                                _ => kiln::divide(&x, &kiln::add(&kiln::abs(&y)?, &num(1.0))?)?,
                            };
                            nodes.push(z);
                        }
                        "reduce" if !s.is_empty() => {
                            let axis = r.randint(0, s.len() as i64);
                            let op =
                                ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min"][r.randint(0, 4) as usize];
                            let ro = kiln::ir::REDUCE_OPS.iter().find(|o| o.tf_function() == op).expect("table");
                            nodes.push(kiln::reduce_op(*ro, &x, axis, true)?);
                        }
                        "matmul" if s == [3, 4] => {
                            let w = uni(g, 300 + seed, -1.0, 1.0, &[4, 4], dt);
                            nodes.push(kiln::matmul(&x, &w)?);
                        }
                        "softmax" if s.len() == 2 && s[1] == 4 => nodes.push(kiln::nn::softmax(&x)?),
                        _ => {}
                    }
                }
                // every node past the inputs feeds the output, so every op's gradient is used
                let mut out = nodes.last().expect("inputs").clone();
                for x in &nodes[3..nodes.len() - 1] {
                    let s = kiln::reduce_sum(x, Axes::All, false)?;
                    out = kiln::add(&out, &kiln::multiply(&s, &num(0.1))?)?;
                }
                let mut o = Out::default();
                o.put("y", out.clone());
                let refs: Vec<&Tensor> = inputs.iter().collect();
                grads(&mut o, &out, &refs)?;
                Ok(o)
            }),
        );
    }
}

fn subnormals(m: &mut BTreeMap<String, Case>) {
    m.insert(
        "edge/subnormals".into(),
        Box::new(|g, dt| {
            let x = c(g, vec![1e-40, -1e-40, 1e-45, 1.2e-38], &[4], dt);
            let mut o = Out::default();
            o.put("sign", kiln::sign(&x)?);
            o.put("abs", kiln::abs(&x)?);
            o.put("mul", kiln::multiply(&x, &c(g, vec![2.0], &[], dt))?);
            o.put("log", kiln::log(&kiln::abs(&x)?)?);
            Ok(o)
        }),
    );
}
