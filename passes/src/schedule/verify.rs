//! The schedule verifier: what codegen and the runtime rely on, checked before either
//! sees a schedule.
//!
//! - Buffers: one per value, of the value's type, and every value a step reads or
//!   writes has one; nothing writes a fed, variable or constant buffer.
//! - Order: a step reads only buffers written by an earlier step (or fed, variables,
//!   constants), and each temporary is written by one step (a GEMM's epilogue kernel
//!   repeats its GEMM's writes, which is the one exception).
//! - Loop nests: accesses have one stride per space dim; the body refers only to
//!   earlier nodes, existing inputs and scalars; each node's type follows from its
//!   operands (a comparison gives bool, a select's branches match); outputs store a
//!   node of their buffer's type.
//! - Bounds, where every extent is fixed: the last element an access reaches lies in
//!   its buffer (bindings check the symbolic ones at run time).

use super::*;
use kiln_ir::DType;
use std::collections::{HashMap, HashSet};

/// A schedule broke an invariant; names the step and says which.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("schedule: {step}: {message}")]
pub struct ScheduleError {
    /// The step (`fusion.3`), or `buffers`, `assigns`, `fetch`.
    pub step: String,
    /// What is wrong.
    pub message: String,
}

/// Checks `s` (see the module docs).
pub fn verify(s: &Schedule) -> Result<(), ScheduleError> {
    let m = &s.module;
    let fail = |step: &str, message: String| ScheduleError { step: step.to_string(), message };
    let name = |v: ValueId| {
        if v.index() < m.ops.len() {
            format!("%{}", m.op(v).name)
        } else {
            format!("{v:?} (no such value)")
        }
    };
    // buffer shapes are canonical under the module's dim constraints
    let classes = m.dim_classes();
    let mut index: HashMap<ValueId, BufId> = HashMap::new();
    for (i, b) in s.buffers.iter().enumerate() {
        if b.value.index() >= m.ops.len() {
            return Err(fail("buffers", format!("{} holds {}", BufId(i as u32), name(b.value))));
        }
        if index.insert(b.value, BufId(i as u32)).is_some() {
            return Err(fail("buffers", format!("{} has two buffers", name(b.value))));
        }
        match m.ty(b.value) {
            Some(t) if t.dtype == b.dtype && classes.same_shape(&t.shape, &b.shape) => {}
            t => {
                let t = t.map_or_else(|| "no type".to_string(), |t| t.to_string());
                return Err(fail("buffers", format!("{} is {t}, its buffer {}{}", name(b.value), b.dtype, b.shape)));
            }
        }
        if let BufKind::Const(d) = &b.kind {
            // 64-bit elements take two words
            let per = if matches!(b.dtype, DType::I64 | DType::F64) { 2 } else { 1 };
            if b.shape.fixed_elements().and_then(|n| n.checked_mul(per)) != Some(d.len() as u64) {
                return Err(fail(
                    "buffers",
                    format!("constant {} has {} words for {}", name(b.value), d.len(), b.shape),
                ));
            }
        }
    }
    let buf = |step: &str, v: ValueId| -> Result<&Buffer, ScheduleError> {
        index.get(&v).map(|b| &s.buffers[b.index()]).ok_or_else(|| fail(step, format!("{} has no buffer", name(v))))
    };
    let mut written: HashSet<ValueId> =
        s.buffers.iter().filter(|b| !matches!(b.kind, BufKind::Temp)).map(|b| b.value).collect();
    let epilogue_writes: HashSet<ValueId> = s
        .steps
        .iter()
        .filter_map(|st| match st {
            Step::MatMul(mm) => mm.epilogue.as_ref(),
            _ => None,
        })
        .flat_map(|e| e.nest.outputs.iter().map(|o| o.value))
        .collect();
    for id in s.step_ids() {
        let step = s.step(id);
        let sn = s.step_name(id.index());
        for v in step.reads(m) {
            if v.index() >= m.ops.len() {
                return Err(fail(&sn, format!("reads {}", name(v))));
            }
            // an interpreter op's operands include groups and other buffer-less values
            if matches!(step, Step::Host(_)) && m.ty(v).is_none() {
                continue;
            }
            buf(&sn, v)?;
            if !written.contains(&v) {
                return Err(fail(&sn, format!("reads {} before any step writes it", name(v))));
            }
        }
        let repeats = matches!(step, Step::Loop(k) if k.epilogue_of.is_some());
        for v in step.writes() {
            if v.index() >= m.ops.len() {
                return Err(fail(&sn, format!("writes {}", name(v))));
            }
            if matches!(step, Step::Host(_)) && m.ty(v).is_none() {
                continue;
            }
            let b = buf(&sn, v)?;
            // an interpreter step may compute a constant or read a variable (of a
            // dtype kernels do not hold) into that value's own buffer
            let own = matches!(step, Step::Host(h) if h.value == v);
            if !matches!(b.kind, BufKind::Temp) && !own {
                return Err(fail(&sn, format!("writes {}, which is not a temporary", name(v))));
            }
            let repeated = (repeats && epilogue_writes.contains(&v)) || (own && !matches!(b.kind, BufKind::Temp));
            if !written.insert(v) && !repeated {
                return Err(fail(&sn, format!("writes {}, which an earlier step wrote", name(v))));
            }
        }
        match step {
            Step::Loop(k) => {
                if k.nests.is_empty() {
                    return Err(fail(&sn, "has no loop nests".into()));
                }
                for n in &k.nests {
                    nest(s, n, &buf, &sn)?;
                }
            }
            Step::MatMul(mm) => {
                let r = mm.batch.len() + 2;
                if mm.a.strides.len() != r || mm.b.strides.len() != r {
                    return Err(fail(&sn, format!("operands need {r} strides each")));
                }
                for a in [&mm.a, &mm.b] {
                    if buf(&sn, a.buf)?.dtype != DType::F32 {
                        return Err(fail(&sn, format!("{} is not f32", name(a.buf))));
                    }
                }
                let mut dims = mm.batch.clone();
                dims.extend([mm.m.clone(), mm.k.clone()]);
                in_bounds(&dims, &mm.a, None, buf(&sn, mm.a.buf)?).map_err(|e| fail(&sn, e))?;
                let mut dims = mm.batch.clone();
                dims.extend([mm.k.clone(), mm.n.clone()]);
                in_bounds(&dims, &mm.b, None, buf(&sn, mm.b.buf)?).map_err(|e| fail(&sn, e))?;
                if let Some(e) = &mm.epilogue {
                    if e.acc_input >= e.nest.inputs.len() || e.nest.inputs[e.acc_input].buf != mm.out {
                        return Err(fail(&sn, "the epilogue's product input is not the GEMM's result".into()));
                    }
                    if e.nest.space != [mm.m.clone(), mm.n.clone()] {
                        return Err(fail(&sn, "the epilogue does not iterate [m, n]".into()));
                    }
                    nest(s, &e.nest, &buf, &sn)?;
                }
            }
            Step::Host(h) => {
                if h.value.index() >= m.ops.len() {
                    return Err(fail(&sn, format!("runs {}", name(h.value))));
                }
            }
        }
    }
    for &(var, src) in &s.assigns {
        if var.0 as usize >= m.vars.len() {
            return Err(fail("assigns", format!("{var:?} is no variable")));
        }
        if !written.contains(&buf("assigns", src)?.value) {
            return Err(fail("assigns", format!("{} is assigned but never computed", name(src))));
        }
    }
    for &v in &s.roots {
        if v.index() >= m.ops.len() {
            return Err(fail("fetch", format!("fetches {}", name(v))));
        }
        if m.ty(v).is_some() && !written.contains(&buf("fetch", v)?.value) {
            return Err(fail("fetch", format!("{} is fetched but never computed", name(v))));
        }
    }
    Ok(())
}

/// One loop nest's body, types and accesses.
fn nest<'s>(
    s: &'s Schedule,
    n: &LoopNest,
    buf: &dyn Fn(&str, ValueId) -> Result<&'s Buffer, ScheduleError>,
    sn: &str,
) -> Result<(), ScheduleError> {
    let fail = |message: String| ScheduleError { step: sn.to_string(), message };
    let r = n.space.len();
    if n.types.len() != n.nodes.len() {
        return Err(fail(format!("{} nodes but {} types", n.nodes.len(), n.types.len())));
    }
    let input_ty: Vec<DType> = n.inputs.iter().map(|a| buf(sn, a.buf).map(|b| b.dtype)).collect::<Result<_, _>>()?;
    for (i, node) in n.nodes.iter().enumerate() {
        let t = n.types[i];
        let node_ty = |x: usize| -> Result<DType, ScheduleError> {
            if x < i {
                Ok(n.types[x])
            } else {
                Err(fail(format!("n{i} uses n{x}, which does not come before it")))
            }
        };
        let input = |x: usize| -> Result<DType, ScheduleError> {
            input_ty.get(x).copied().ok_or_else(|| fail(format!("n{i} loads in{x}, which does not exist")))
        };
        let int = |d: DType| matches!(d, DType::I32 | DType::I64);
        let ok = match node {
            Node::Load(x) => input(*x)? == t,
            Node::Const(_) | Node::Scalar(_) => {
                if let Node::Scalar(x) = node {
                    if *x >= n.scalars.len() {
                        return Err(fail(format!("n{i} reads scalar s{x}, which does not exist")));
                    }
                }
                t == DType::F32
            }
            Node::Int(_) => t != DType::F32 && t != DType::F64,
            Node::Iota(d) => {
                if *d >= r {
                    return Err(fail(format!("n{i} counts along dim {d} of a rank-{r} space")));
                }
                int(t)
            }
            Node::Convert(x) => {
                node_ty(*x)?;
                true
            }
            Node::Gather { input: x, index, .. } => input(*x)? == t && int(node_ty(*index)?),
            Node::CheckIndex(x, _) => int(node_ty(*x)?) && t == n.types[*x],
            // what kernels compute for each dtype: one table (`dtypes`)
            Node::Unary(u, x) => node_ty(*x)? == t && super::dtypes::unary(*u, t),
            Node::Binary(b, x, y) => node_ty(*x)? == t && node_ty(*y)? == t && super::dtypes::binary(*b, t),
            Node::Cmp(c, x, y) => {
                node_ty(*x)? == node_ty(*y)? && t == DType::Bool && super::dtypes::compare(*c, node_ty(*x)?)
            }
            Node::Select(c, x, y) => node_ty(*c)? == DType::Bool && node_ty(*x)? == t && node_ty(*y)? == t,
        };
        if !ok || !super::dtypes::holds(t) {
            return Err(fail(format!("n{i}: {t} does not follow from {node:?}, or kernels do not compute it")));
        }
    }
    for (i, a) in n.inputs.iter().enumerate() {
        if a.strides.len() != r {
            return Err(fail(format!("in{i} has {} strides for a rank-{r} space", a.strides.len())));
        }
        let rows = n.nodes.iter().find_map(|x| match x {
            Node::Gather { input, stride, rows, .. } if *input == i => Some((stride, rows)),
            _ => None,
        });
        in_bounds(&n.space, a, rows, buf(sn, a.buf)?).map_err(|e| fail(format!("in{i}: {e}")))?;
    }
    for o in &n.outputs {
        let b = buf(sn, o.value)?;
        if o.node >= n.nodes.len() || n.types[o.node] != b.dtype {
            return Err(fail(format!(
                "%{} stores n{}, not a node of its type {}",
                s.module.op(o.value).name,
                o.node,
                b.dtype
            )));
        }
        if o.strides.len() != r {
            return Err(fail(format!(
                "%{} has {} strides for a rank-{r} space",
                s.module.op(o.value).name,
                o.strides.len()
            )));
        }
        if let Some(sc) = &o.scatter {
            if sc.index >= n.nodes.len() || !matches!(n.types[sc.index], DType::I32 | DType::I64) {
                return Err(fail(format!(
                    "%{} scatters by n{}, not an integer node",
                    s.module.op(o.value).name,
                    sc.index
                )));
            }
        }
        let a = Access { buf: o.value, offset: Vec::new(), strides: o.strides.clone() };
        let rows = o.scatter.as_ref().map(|sc| (&sc.stride, &sc.rows));
        in_bounds(&n.space, &a, rows, b).map_err(|e| format!("%{}: {e}", s.module.op(o.value).name)).map_err(fail)?;
    }
    Ok(())
}

/// Where every extent is fixed: the last element `a` reaches over `space` (and over
/// `rows` rows of `stride`, for a gather or scatter) lies inside `b`.
fn in_bounds(space: &[Dim], a: &Access, rows: Option<(&Stride, &Dim)>, b: &Buffer) -> Result<(), String> {
    let fixed = |d: &[Dim]| d.iter().map(Dim::fixed).try_fold(1u64, |acc, x| acc.checked_mul(x?));
    let Some(len) = b.shape.fixed_elements() else { return Ok(()) };
    let mut last: u64 = 0;
    for (k, dims) in &a.offset {
        let Some(p) = fixed(dims).and_then(|p| p.checked_mul(*k)) else { return Ok(()) };
        last = last.checked_add(p).ok_or("offset overflows")?;
    }
    let steps = space.iter().zip(&a.strides);
    for (d, st) in steps.chain(rows.map(|(st, d)| (d, st))) {
        let (Some(d), Some(st)) = (d.fixed(), st.known()) else { return Ok(()) };
        if d == 0 {
            return Ok(()); // an empty space reaches nothing
        }
        last = (d - 1).checked_mul(st).and_then(|x| last.checked_add(x)).ok_or("the reach overflows")?;
    }
    if len == 0 || last >= len {
        return Err(format!("reaches element {last} of a buffer of {len}"));
    }
    Ok(())
}
