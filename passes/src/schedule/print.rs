//! The schedule as text: every buffer, every step with its loop nests down to the scalar
//! body and the strides of each access, the variable writes, the fetches and every
//! refusal. Snapshot tests compare it, and `kiln compile --emit schedule` prints it.

use super::*;

impl Schedule {
    /// The whole schedule as text (see the module docs).
    pub fn print(&self) -> String {
        let m = &self.module;
        let name = |v: ValueId| format!("%{}", m.op(v).name);
        let mut o = String::from("schedule {\n");
        for (i, b) in self.buffers.iter().enumerate() {
            let kind = match &b.kind {
                BufKind::Feed => "feed".to_string(),
                BufKind::Var(var) => format!("var {}", m.var(*var).name),
                BufKind::Const(d) => format!("const ({} words)", d.len()),
                BufKind::Temp => "temp".to_string(),
            };
            let _ = writeln!(o, "  {} = {} {}{} {kind}", BufId(i as u32), name(b.value), b.dtype, b.shape);
        }
        for id in self.step_ids() {
            let i = id.index();
            let head = format!("  {id} {}", self.step_name(i));
            match self.step(id) {
                Step::Loop(k) => {
                    let from: Vec<String> = k.provenance.iter().map(|p| p.print(m)).collect();
                    let _ = write!(o, "{head} {{{}}}", from.join(", "));
                    if let Some(v) = k.epilogue_of {
                        let _ = write!(o, " epilogue of {}", name(v));
                    }
                    o.push_str(":\n");
                    for n in &k.nests {
                        print_nest(&mut o, m, n, "    ");
                    }
                }
                Step::MatMul(mm) => {
                    let batch: Vec<String> = mm.batch.iter().map(|d| d.to_string()).collect();
                    let _ = writeln!(
                        o,
                        "{head}: {} = {} x {}, batch [{}] m {} k {} n {}",
                        name(mm.out),
                        access(m, &mm.a),
                        access(m, &mm.b),
                        batch.join(","),
                        mm.m,
                        mm.k,
                        mm.n
                    );
                    if let Some(e) = &mm.epilogue {
                        let stored = if e.store_out { "product stored" } else { "product not stored" };
                        let _ = writeln!(o, "    epilogue on in{} ({stored}):", e.acc_input);
                        print_nest(&mut o, m, &e.nest, "      ");
                    }
                }
                Step::Host(h) => {
                    let _ = writeln!(o, "{head}: {} on the interpreter ({})", name(h.value), h.reason);
                }
            }
        }
        for (var, src) in &self.assigns {
            let _ = writeln!(o, "  assign {} <- {}", m.var(*var).name, name(*src));
        }
        let roots: Vec<String> = self.roots.iter().map(|&v| name(v)).collect();
        let _ = writeln!(o, "  fetch {}", roots.join(", "));
        for r in &self.refusals {
            let _ = writeln!(o, "  refused {}", r.print(m));
        }
        o.push_str("}\n");
        o
    }
}

fn stride(s: &Stride) -> String {
    match s {
        Stride::Zero => "0".into(),
        Stride::Prod(d) if d.is_empty() => "1".into(),
        Stride::Prod(d) => d.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("*"),
    }
}

fn strides(s: &[Stride]) -> String {
    format!("[{}]", s.iter().map(stride).collect::<Vec<_>>().join(","))
}

/// `%buf+offset[strides]`.
fn access(m: &Module, a: &Access) -> String {
    let mut off = String::new();
    for (k, dims) in &a.offset {
        off.push('+');
        off.push_str(&k.to_string());
        for d in dims {
            let _ = write!(off, "*{d}");
        }
    }
    format!("%{}{off}{}", m.op(a.buf).name, strides(&a.strides))
}

fn print_nest(o: &mut String, m: &Module, n: &LoopNest, pad: &str) {
    let space: Vec<String> = n.space.iter().map(|d| d.to_string()).collect();
    let _ = writeln!(o, "{pad}nest [{}]:", space.join(","));
    for (i, a) in n.inputs.iter().enumerate() {
        let _ = writeln!(o, "{pad}  in{i} = {}", access(m, a));
    }
    for (i, s) in n.scalars.iter().enumerate() {
        let dims: Vec<String> = s.iter().map(|d| d.to_string()).collect();
        let _ = writeln!(o, "{pad}  s{i} = {}", if dims.is_empty() { "1".into() } else { dims.join("*") });
    }
    for (i, node) in n.nodes.iter().enumerate() {
        let body = match node {
            Node::Load(x) => format!("load in{x}"),
            Node::Const(c) => format!("const {c:?}"),
            Node::Int(c) => format!("int {c}"),
            Node::Iota(d) => format!("iota {d}"),
            Node::Convert(x) => format!("convert n{x}"),
            Node::Gather { input, index, stride: s, rows } => {
                format!("gather in{input} row n{index} stride {} rows {rows}", stride(s))
            }
            Node::CheckIndex(x, b) => format!("check_index n{x} < {b}"),
            Node::Scalar(x) => format!("scalar s{x}"),
            Node::Unary(u, x) => format!("{} n{x}", u.mnemonic()),
            Node::Binary(b, x, y) => format!("{} n{x}, n{y}", b.mnemonic()),
            Node::Cmp(c, x, y) => format!("{} n{x}, n{y}", c.mnemonic()),
            Node::Select(c, x, y) => format!("select n{c}, n{x}, n{y}"),
        };
        let ty = n.types.get(i).map_or_else(|| "?".to_string(), |t| t.to_string());
        let _ = writeln!(o, "{pad}  n{i}: {ty} = {body}");
    }
    for out in &n.outputs {
        let mode = match out.mode {
            OutMode::Store => "store".to_string(),
            OutMode::Reduce(r) => r.mnemonic().to_string(),
        };
        let len: Vec<String> = out.len.iter().map(|d| d.to_string()).collect();
        let _ = write!(
            o,
            "{pad}  %{} {mode} n{}{} len [{}]",
            m.op(out.value).name,
            out.node,
            strides(&out.strides),
            len.join("*")
        );
        if let Some(d) = &out.mean_of {
            let d: Vec<String> = d.iter().map(|x| x.to_string()).collect();
            let _ = write!(o, " mean of [{}]", d.join("*"));
        }
        if let Some(s) = &out.scatter {
            let _ = write!(o, " scatter row n{} stride {} rows {}", s.index, stride(&s.stride), s.rows);
        }
        o.push('\n');
    }
}
