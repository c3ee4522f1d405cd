//! Parse, verify, compile and run on small feeds: any module the parser accepts either
//! fails with a typed error or runs, on the JIT and on the interpreter, without a
//! panic, an abort or a fault. The first byte picks the symbolic dims' sizes (1..=4).
#![no_main]

use kiln::{Backend, Graph, Session, SessionOptions, TensorValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&seed, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let Ok(g) = Graph::parse_ir(text) else { return };
    let m = g.module();
    // fetch every op nothing uses (the module's results)
    let mut used = vec![false; m.ops.len()];
    for op in &m.ops {
        for u in &op.operands {
            used[u.index()] = true;
        }
    }
    let fetches: Vec<kiln::Tensor> = m
        .values()
        .filter(|v| !used[v.index()])
        .filter_map(|v| g.get_tensor_by_name(&m.op(v).name).ok())
        .collect();
    let size = 1 + (seed as usize % 4);
    let mut feeds = Vec::new();
    for v in m.parameters() {
        let Some(t) = m.ty(v) else { return };
        let shape: Vec<usize> = t.shape.dims().iter().map(|d| d.fixed().map_or(size, |k| k as usize)).collect();
        if shape.iter().product::<usize>() > 1 << 16 {
            return; // small feeds only
        }
        let Ok(p) = g.get_tensor_by_name(&m.op(v).name) else { return };
        feeds.push((p, TensorValue::zeros(t.dtype, &shape)));
    }
    drop(m);
    let refs: Vec<&kiln::Tensor> = fetches.iter().collect();
    let feed_refs: Vec<(&kiln::Tensor, TensorValue)> = feeds.iter().map(|(t, v)| (t, v.clone())).collect();
    for backend in [Backend::Jit, Backend::Interpreter] {
        let mut sess = Session::with_options(&g, SessionOptions { backend, threads: 1, ..Default::default() });
        if let Ok(init) = g.global_variables_initializer() {
            let _ = sess.run1(&init, &[]);
        }
        let _ = sess.run(&refs, &feed_refs);
    }
});
