//! Reads the text [`Schedule::print`] writes back into a schedule, against the module
//! it computes (values and variables are named in the text; constants' data comes from
//! the module's literals). Schedule tests are then text in, text out, as the IR's are.

use super::refusal::{NotEpilogue, Outside, Refusal, Why};
use super::*;
use kiln_ir::{BinaryOp, CmpOp, DType, ReduceOp, UnaryOp};
use rustc_hash::FxHashMap as HashMap;

/// A line of schedule text that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("schedule text line {line}: {message}")]
pub struct ScheduleParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

type R<T> = Result<T, String>;

/// Reads `text` (as [`Schedule::print`] writes it) as a schedule of `module`.
pub fn parse(text: &str, module: Module) -> Result<Schedule, ScheduleParseError> {
    let lines: Vec<(usize, &str)> =
        text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim().is_empty()).collect();
    // names looked up by index: `Module::value_by_name` scans, and a schedule names
    // every value it touches
    let values = module.ops.iter().enumerate().map(|(i, o)| (o.name.as_str(), ValueId(i as u32))).collect();
    let vars = module.vars.iter().enumerate().map(|(i, v)| (v.name.as_str(), VarId(i as u32))).collect();
    let mut p = Parser { m: &module, values, vars, lines: &lines, at: 0 };
    let s = p.schedule().map_err(|message| ScheduleParseError { line: p.line(), message })?;
    Ok(Schedule { module, ..s })
}

struct Parser<'a> {
    m: &'a Module,
    values: HashMap<&'a str, ValueId>,
    vars: HashMap<&'a str, VarId>,
    lines: &'a [(usize, &'a str)],
    at: usize,
}

impl<'a> Parser<'a> {
    fn line(&self) -> usize {
        self.lines.get(self.at).map_or_else(|| self.lines.last().map_or(1, |l| l.0), |l| l.0)
    }

    fn peek(&self) -> Option<&'a str> {
        self.lines.get(self.at).map(|l| l.1)
    }

    /// The next line without its `indent`, which it must have.
    fn take(&mut self, indent: usize) -> R<&'a str> {
        let l = self.peek().ok_or("unexpected end of text")?;
        let pad = " ".repeat(indent);
        let rest = l.strip_prefix(pad.as_str()).filter(|r| !r.starts_with(' '));
        let rest = rest.ok_or_else(|| format!("expected {indent} spaces of indent: '{l}'"))?;
        self.at += 1;
        Ok(rest)
    }

    fn indented(&self, indent: usize) -> bool {
        self.peek()
            .is_some_and(|l| l.len() > indent && l[..indent].bytes().all(|c| c == b' ') && l.as_bytes()[indent] != b' ')
    }

    fn schedule(&mut self) -> R<Schedule> {
        if self.take(0)? != "schedule {" {
            return Err("expected 'schedule {'".into());
        }
        let mut s = Schedule {
            module: Module::default(),
            buffers: Vec::new(),
            steps: Vec::new(),
            assigns: Vec::new(),
            roots: Vec::new(),
            refusals: Vec::new(),
        };
        while self.indented(2) {
            let l = self.take(2)?;
            let (head, rest) = l.split_once(' ').ok_or_else(|| format!("expected a schedule entry: '{l}'"))?;
            if let Some(k) = head.strip_prefix('b').filter(|k| k.parse::<usize>().is_ok()) {
                expect_index(k, s.buffers.len(), "buffer")?;
                s.buffers.push(self.buffer(rest)?);
            } else if let Some(k) = head.strip_prefix("step") {
                expect_index(k, s.steps.len(), "step")?;
                let step = self.step(rest, s.steps.len())?;
                s.steps.push(step);
            } else if head == "assign" {
                let (var, src) = rest.split_once(" <- ").ok_or("expected 'assign VAR <- %value'")?;
                let v = self.var(var).ok_or_else(|| format!("no variable {var}"))?;
                s.assigns.push((v, self.value(src)?));
            } else if head == "fetch" {
                s.roots = rest.split(", ").filter(|r| !r.is_empty()).map(|r| self.value(r)).collect::<R<_>>()?;
            } else if head == "refused" {
                s.refusals.push(self.refusal(rest)?);
            } else {
                return Err(format!("unknown schedule entry '{head}'"));
            }
        }
        if self.take(0)? != "}" {
            return Err("expected '}'".into());
        }
        Ok(s)
    }

    fn var(&self, name: &str) -> Option<VarId> {
        self.vars.get(name).copied()
    }

    fn value(&self, name: &str) -> R<ValueId> {
        let n = name.strip_prefix('%').ok_or_else(|| format!("expected a %value, found '{name}'"))?;
        self.values.get(n).copied().ok_or_else(|| format!("no value {name}"))
    }

    /// `%name f32[dims] kind`.
    fn buffer(&self, l: &str) -> R<Buffer> {
        let mut w = l.splitn(4, ' ');
        let (eq, name, ty, kind) = (w.next(), w.next(), w.next(), w.next().unwrap_or(""));
        if eq != Some("=") {
            return Err(format!("expected 'bN = %value type kind': '{l}'"));
        }
        let value = self.value(name.unwrap_or(""))?;
        let ty = ty.unwrap_or("");
        let open = ty.find('[').ok_or_else(|| format!("expected a type such as f32[2,3], found '{ty}'"))?;
        let dtype = DType::from_name(&ty[..open]).ok_or_else(|| format!("unknown dtype in '{ty}'"))?;
        let shape = Shape(list(&ty[open..], ',')?);
        let kind = if kind == "feed" {
            BufKind::Feed
        } else if kind == "temp" {
            BufKind::Temp
        } else if let Some(var) = kind.strip_prefix("var ") {
            BufKind::Var(self.var(var).ok_or_else(|| format!("no variable {var}"))?)
        } else if kind.starts_with("const (") {
            match &self.m.op(value).kind {
                kiln_ir::OpKind::Constant(lit) => BufKind::Const(crate::fusion::const_words(lit)),
                _ => return Err(format!("{} is not a constant", self.m.op(value).name)),
            }
        } else {
            return Err(format!("unknown buffer kind '{kind}'"));
        };
        Ok(Buffer { value, shape, dtype, kind })
    }

    fn step(&mut self, l: &str, index: usize) -> R<Step> {
        let (name, rest) = l.split_once(' ').ok_or_else(|| format!("expected a step: '{l}'"))?;
        if let Some(rest) = rest.strip_prefix('{') {
            let (from, tail) = rest.split_once('}').ok_or("expected '}' after the kernel's ops")?;
            let provenance = from
                .split(", ")
                .filter(|o| !o.is_empty())
                .map(|o| match o.strip_suffix(" (copy)") {
                    Some(v) => self.value(v).map(Origin::Copy),
                    None => self.value(o).map(Origin::Op),
                })
                .collect::<R<Vec<_>>>()?;
            let tail = tail.strip_suffix(':').ok_or("expected ':' after the kernel's head")?;
            let epilogue_of = match tail.strip_prefix(" epilogue of ") {
                Some(v) => Some(self.value(v)?),
                None if tail.is_empty() => None,
                None => return Err(format!("unexpected '{tail}'")),
            };
            let mut nests = Vec::new();
            while self.indented(4) {
                nests.push(self.nest(4)?);
            }
            return Ok(Step::Loop(LoopKernel { name: name.to_string(), nests, provenance, epilogue_of }));
        }
        let name = name.strip_suffix(':').ok_or_else(|| format!("expected 'name:' in '{l}'"))?;
        if name == format!("host.{index}") {
            let (v, reason) =
                rest.split_once(" on the interpreter (").ok_or("expected '%v on the interpreter (why)'")?;
            let reason = reason.strip_suffix(')').ok_or("expected ')' after the reason")?;
            return Ok(Step::Host(HostStep { value: self.value(v)?, reason: reason.to_string() }));
        }
        if name != format!("matmul.{index}") {
            return Err(format!("step {index} is named '{name}'"));
        }
        // %out = A x B, batch [..] m M k K n N
        let w: Vec<&str> = rest.split(' ').collect();
        let ok = w.len() == 13
            && w[1] == "="
            && w[3] == "x"
            && w[5] == "batch"
            && w[7] == "m"
            && w[9] == "k"
            && w[11] == "n";
        if !ok {
            return Err(format!("expected '%out = A x B, batch [..] m M k K n N', found '{rest}'"));
        }
        let b = w[4].strip_suffix(',').ok_or("expected ',' after the right operand")?;
        let mut mm = MatMulStep {
            out: self.value(w[0])?,
            a: self.access(w[2])?,
            b: self.access(b)?,
            batch: list(w[6], ',')?,
            m: dim(w[8])?,
            k: dim(w[10])?,
            n: dim(w[12])?,
            epilogue: None,
        };
        if self.indented(4) {
            let l = self.take(4)?;
            let e = l.strip_prefix("epilogue on in").ok_or_else(|| format!("expected an epilogue: '{l}'"))?;
            let (k, stored) = e.split_once(' ').ok_or("expected 'epilogue on inK (...)'")?;
            let store_out = match stored {
                "(product stored):" => true,
                "(product not stored):" => false,
                _ => return Err(format!("unexpected '{stored}'")),
            };
            let acc_input = k.parse().map_err(|_| format!("bad input number '{k}'"))?;
            mm.epilogue = Some(Box::new(Epilogue { nest: self.nest(6)?, acc_input, store_out }));
        }
        Ok(Step::MatMul(mm))
    }

    fn nest(&mut self, indent: usize) -> R<LoopNest> {
        let l = self.take(indent)?;
        let space = l.strip_prefix("nest ").and_then(|s| s.strip_suffix(':')).ok_or("expected 'nest [dims]:'")?;
        let mut n = LoopNest {
            space: list(space, ',')?,
            inputs: Vec::new(),
            scalars: Vec::new(),
            nodes: Vec::new(),
            types: Vec::new(),
            outputs: Vec::new(),
        };
        while self.indented(indent + 2) {
            let l = self.take(indent + 2)?;
            if let Some((k, a)) = l.strip_prefix("in").and_then(|r| r.split_once(" = ")) {
                expect_index(k, n.inputs.len(), "input")?;
                n.inputs.push(self.access(a)?);
            } else if let Some((k, d)) = l.strip_prefix('s').and_then(|r| r.split_once(" = ")) {
                expect_index(k, n.scalars.len(), "scalar")?;
                n.scalars.push(if d == "1" { Vec::new() } else { d.split('*').map(dim).collect::<R<_>>()? });
            } else if let Some((k, rest)) = l.strip_prefix('n').and_then(|r| r.split_once(": ")) {
                expect_index(k, n.nodes.len(), "node")?;
                let (ty, body) = rest.split_once(" = ").ok_or("expected 'nK: type = body'")?;
                if ty != "?" {
                    n.types.push(DType::from_name(ty).ok_or_else(|| format!("unknown dtype '{ty}'"))?);
                }
                n.nodes.push(node(body)?);
            } else if l.starts_with('%') {
                n.outputs.push(self.output(l)?);
            } else {
                return Err(format!("unexpected '{l}' in a nest"));
            }
        }
        Ok(n)
    }

    /// `%name+k*d[strides]`.
    fn access(&self, a: &str) -> R<Access> {
        let open = a.rfind('[').ok_or_else(|| format!("expected '%buf[strides]', found '{a}'"))?;
        let mut parts = a[..open].split('+');
        let buf = self.value(parts.next().unwrap_or(""))?;
        let offset = parts
            .map(|t| {
                let mut f = t.split('*');
                let k = f.next().unwrap_or("").parse::<u64>().map_err(|_| format!("bad offset '{t}'"))?;
                Ok((k, f.map(dim).collect::<R<Vec<_>>>()?))
            })
            .collect::<R<_>>()?;
        Ok(Access { buf, offset, strides: strides(&a[open..])? })
    }

    /// `%name mode nK[strides] len [dims] [mean of [dims]] [scatter row nK stride S rows R]`.
    fn output(&self, l: &str) -> R<KernelOutput> {
        let w: Vec<&str> = l.split(' ').collect();
        if w.len() < 5 || w[3] != "len" {
            return Err(format!("expected '%value mode nK[strides] len [dims]', found '{l}'"));
        }
        let mode = match w[1] {
            "store" => OutMode::Store,
            r => OutMode::Reduce(ReduceOp::from_mnemonic(r).ok_or_else(|| format!("unknown output mode '{r}'"))?),
        };
        let open = w[2].find('[').ok_or("expected the output's strides")?;
        let node = node_ref(&w[2][..open])?;
        let mut out = KernelOutput {
            value: self.value(w[0])?,
            node,
            mode,
            strides: strides(&w[2][open..])?,
            len: list(w[4], '*')?,
            mean_of: None,
            scatter: None,
        };
        let mut rest = &w[5..];
        if rest.len() >= 3 && rest[0] == "mean" && rest[1] == "of" {
            out.mean_of = Some(list(rest[2], '*')?);
            rest = &rest[3..];
        }
        if rest.len() == 7 && rest[0] == "scatter" && rest[1] == "row" && rest[3] == "stride" && rest[5] == "rows" {
            out.scatter = Some(Scatter { index: node_ref(rest[2])?, stride: stride(rest[4])?, rows: dim(rest[6])? });
            rest = &[];
        }
        if !rest.is_empty() {
            return Err(format!("unexpected '{}' after an output", rest.join(" ")));
        }
        Ok(out)
    }

    /// `%value: what`, as [`Refusal::print`] writes it.
    fn refusal(&self, l: &str) -> R<Refusal> {
        let (v, what) = l.split_once(": ").ok_or("expected '%value: what'")?;
        let value = self.value(v)?;
        let fixed = [
            ("stored, fusion is off", Why::FusionOff),
            ("stored, its consumer's kernel is full", Why::KernelFull),
            ("stored, some consumers' kernels depend on each other", Why::ConsumersDepend),
            ("stored, fusing it would make a cycle", Why::Cycle),
            ("copied, a reshape needs it row-major", Why::CopiedForReshape),
            ("copied, a matmul wants its rows contiguous", Why::CopiedForMatMul),
            ("copied, the interpreter reads whole buffers", Why::CopiedForInterpreter),
            ("copied, a fetched or assigned view needs a buffer", Why::CopiedToStore),
            ("kernel not merged: the earlier kernel is full", Why::MergedKernelFull),
        ];
        if let Some((_, why)) = fixed.iter().find(|(t, _)| *t == what) {
            return Ok(Refusal { value, why: why.clone() });
        }
        let why = if what.starts_with("stored, a consumer iterates another space than ") {
            Why::OtherSpace
        } else if let Some(r) = what.strip_prefix("on the interpreter: ") {
            Why::OnInterpreter(r.to_string())
        } else if let Some(r) = what.strip_prefix("kernel not merged: it reads ") {
            Why::NotMerged {
                reads: self.value(r.strip_suffix(", computed since").ok_or("expected ', computed since'")?)?,
            }
        } else if let Some(r) = what.strip_prefix("no epilogue in registers: ") {
            Why::NotEpilogue(self.not_epilogue(r)?)
        } else if let Some(r) = what.strip_prefix("stored, ") {
            let (by, consumer) = r.rsplit_once(" (").ok_or_else(|| format!("unknown refusal '{what}'"))?;
            let by = match by {
                "a matmul operand" => Outside::MatMul,
                "read through a view" => Outside::View,
                "assigned to a variable" => Outside::Assign,
                "used outside loop kernels" => Outside::Other,
                _ => return Err(format!("unknown refusal '{what}'")),
            };
            let consumer = self.value(consumer.strip_suffix(')').ok_or("expected ')'")?)?;
            Why::ReadOutside { consumer, by }
        } else {
            return Err(format!("unknown refusal '{what}'"));
        };
        Ok(Refusal { value, why })
    }

    fn not_epilogue(&self, r: &str) -> R<NotEpilogue> {
        Ok(match r {
            "the product is read elsewhere" => NotEpilogue::ReadElsewhere,
            "the kernel computes more than f32" => NotEpilogue::NotF32,
            "the GEMM runs transposed or batched" => NotEpilogue::Shape,
            _ => {
                let (v, why) = r.split_once(' ').ok_or_else(|| format!("unknown reason '{r}'"))?;
                let v = self.value(v)?;
                match why {
                    "is strided across a tile" => NotEpilogue::StridedInput(v),
                    "is neither a tile nor a row sum" => NotEpilogue::Output(v),
                    "depends on the product" => NotEpilogue::DependsOnProduct(v),
                    _ => return Err(format!("unknown reason '{r}'")),
                }
            }
        })
    }
}

/// A node's body, as `print_nest` writes it.
fn node(body: &str) -> R<Node> {
    let (op, args) = body.split_once(' ').ok_or_else(|| format!("expected 'op operands', found '{body}'"))?;
    let refs = |s: &str| s.split(", ").map(node_ref).collect::<R<Vec<usize>>>();
    let num = |s: &str, p: &str| s.strip_prefix(p).and_then(|k| k.parse::<usize>().ok()).ok_or(format!("bad '{s}'"));
    Ok(match op {
        "load" => Node::Load(num(args, "in")?),
        "const" => Node::Const(args.parse().map_err(|_| format!("bad constant '{args}'"))?),
        "int" => Node::Int(args.parse().map_err(|_| format!("bad integer '{args}'"))?),
        "iota" => Node::Iota(args.parse().map_err(|_| format!("bad dim '{args}'"))?),
        "convert" => Node::Convert(node_ref(args)?),
        "scalar" => Node::Scalar(num(args, "s")?),
        "gather" => {
            let w: Vec<&str> = args.split(' ').collect();
            if w.len() != 7 || w[1] != "row" || w[3] != "stride" || w[5] != "rows" {
                return Err(format!("expected 'gather inK row nK stride S rows R', found '{body}'"));
            }
            Node::Gather { input: num(w[0], "in")?, index: node_ref(w[2])?, stride: stride(w[4])?, rows: dim(w[6])? }
        }
        "check_index" => {
            let (x, b) = args.split_once(" < ").ok_or("expected 'check_index nK < bound'")?;
            Node::CheckIndex(node_ref(x)?, b.parse().map_err(|_| format!("bad bound '{b}'"))?)
        }
        "select" => match refs(args)?[..] {
            [c, x, y] => Node::Select(c, x, y),
            _ => return Err(format!("select takes three operands: '{body}'")),
        },
        _ => {
            let r = refs(args)?;
            match (UnaryOp::from_mnemonic(op), BinaryOp::from_mnemonic(op), CmpOp::from_mnemonic(op), &r[..]) {
                (Some(u), _, _, &[x]) => Node::Unary(u, x),
                (_, Some(b), _, &[x, y]) => Node::Binary(b, x, y),
                (_, _, Some(c), &[x, y]) => Node::Cmp(c, x, y),
                _ => return Err(format!("unknown node '{body}'")),
            }
        }
    })
}

fn node_ref(s: &str) -> R<usize> {
    s.strip_prefix('n').and_then(|k| k.parse().ok()).ok_or_else(|| format!("expected a node nK, found '{s}'"))
}

fn expect_index(k: &str, want: usize, what: &str) -> R<()> {
    if k.parse::<usize>().ok() == Some(want) {
        Ok(())
    } else {
        Err(format!("expected {what} {want}, found {k}"))
    }
}

fn dim(s: &str) -> R<Dim> {
    if s.is_empty() {
        return Err("expected a dim".into());
    }
    Ok(match s.parse::<u64>() {
        Ok(n) => Dim::Fixed(n),
        Err(_) if s.bytes().next().is_some_and(|c| c.is_ascii_digit()) => return Err(format!("bad dim '{s}'")),
        Err(_) => Dim::Sym(s.to_string()),
    })
}

/// `[a<sep>b<sep>c]` as dims (`[]` is none).
fn list(s: &str, sep: char) -> R<Vec<Dim>> {
    let inner =
        s.strip_prefix('[').and_then(|r| r.strip_suffix(']')).ok_or_else(|| format!("expected [..], found '{s}'"))?;
    if inner.is_empty() {
        return Ok(Vec::new());
    }
    inner.split(sep).map(dim).collect()
}

fn stride(s: &str) -> R<Stride> {
    Ok(match s {
        "0" => Stride::Zero,
        "1" => Stride::one(),
        _ => Stride::Prod(s.split('*').map(dim).collect::<R<_>>()?),
    })
}

fn strides(s: &str) -> R<Vec<Stride>> {
    let inner = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| format!("expected [strides], found '{s}'"))?;
    if inner.is_empty() {
        return Ok(Vec::new());
    }
    inner.split(',').map(stride).collect()
}
