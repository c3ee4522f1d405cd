//! Parser for the IR text printed by [`crate::print`]. Errors carry line and column;
//! a module that parses is then verified.

use crate::AttrRef;
use crate::{
    verify, BinaryOp, CmpOp, DType, Dim, Literal, Loc, Module, Op, OpKind, RandomDist, ReduceOp, Shape, Type, UnaryOp,
    ValueId, Var, VerifyError,
};
use std::collections::HashMap;

/// Malformed IR text: where and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What was expected or is wrong.
    pub message: String,
}

/// Why IR text was rejected: bad syntax, or a well-formed module that fails the verifier.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IrTextError {
    /// Malformed text.
    #[error("IR parse error at {0}")]
    Parse(#[from] ParseError),
    /// The module breaks an invariant.
    #[error("IR parsed but is invalid: {0}")]
    Verify(#[from] VerifyError),
}

/// Parses and verifies IR text.
pub fn parse(text: &str) -> Result<Module, IrTextError> {
    let m = parse_unverified(text)?;
    verify(&m)?;
    Ok(m)
}

/// Parses IR text, resolving names but skipping the verifier (for tests of the verifier).
pub fn parse_unverified(text: &str) -> Result<Module, ParseError> {
    let toks = lex(text)?;
    let mut p = Parser { toks, pos: 0, m: Module::new(), values: HashMap::new() };
    p.module()?;
    Ok(p.m)
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Value(String),
    VarRef(String),
    Num(String),
    Str(String),
    Punct(char),
    Eof,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    line: usize,
    col: usize,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-')
}

fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut out = Vec::new();
    for (li, line) in text.lines().enumerate() {
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let (line_no, col) = (li + 1, i + 1);
            let err = |message: String| ParseError { line: line_no, col, message };
            if c.is_whitespace() {
                i += 1;
                continue;
            }
            if c == '/' && chars.get(i + 1) == Some(&'/') {
                break; // comment to end of line
            }
            let take = |i: &mut usize, f: &dyn Fn(char) -> bool| {
                let s = *i;
                while *i < chars.len() && f(chars[*i]) {
                    *i += 1;
                }
                chars[s..*i].iter().collect::<String>()
            };
            let tok = if c == '%' || c == '@' {
                i += 1;
                let name = take(&mut i, &is_name_char);
                if name.is_empty() {
                    return Err(err(format!("expected a name after '{c}'")));
                }
                if c == '%' {
                    Tok::Value(name)
                } else {
                    Tok::VarRef(name)
                }
            } else if c == '"' {
                i += 1;
                let mut s = String::new();
                loop {
                    match chars.get(i) {
                        None => return Err(err("unterminated string".into())),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            match chars.get(i + 1) {
                                Some('"') => s.push('"'),
                                Some('\\') => s.push('\\'),
                                Some('n') => s.push('\n'),
                                Some('r') => s.push('\r'),
                                Some('t') => s.push('\t'),
                                Some('0') => s.push('\0'),
                                Some('u') if chars.get(i + 2) == Some(&'{') => {
                                    // \u{hex}: any character, as the printer writes controls
                                    let close = (i + 3..chars.len().min(i + 12)).find(|&k| chars[k] == '}');
                                    let hex: Option<String> = close.map(|k| chars[i + 3..k].iter().collect());
                                    let ch =
                                        hex.and_then(|h| u32::from_str_radix(&h, 16).ok()).and_then(char::from_u32);
                                    match (ch, close) {
                                        (Some(ch), Some(k)) => {
                                            s.push(ch);
                                            i = k + 1;
                                            continue;
                                        }
                                        _ => return Err(err("bad \\u{...} escape in string".into())),
                                    }
                                }
                                _ => return Err(err("bad escape in string".into())),
                            }
                            i += 2;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                Tok::Str(s)
            } else if c.is_ascii_digit()
                || ((c == '-' || c == '+')
                    && i + 1 < chars.len()
                    // `?0+?1` is a dim sum: a `+` right after a name or number joins
                    && !(c == '+' && i > 0 && (chars[i - 1].is_ascii_alphanumeric() || chars[i - 1] == '?')))
            {
                let s = i;
                i += 1;
                while i < chars.len() {
                    let ch = chars[i];
                    let after_e = matches!(chars[i - 1], 'e' | 'E')
                        && chars[s..i].iter().all(|c| !c.is_ascii_alphabetic() || *c == 'e' || *c == 'E');
                    if ch.is_ascii_alphanumeric() || ch == '.' || ((ch == '-' || ch == '+') && after_e) {
                        i += 1;
                    } else {
                        break;
                    }
                }
                Tok::Num(chars[s..i].iter().collect())
            } else if c.is_ascii_alphabetic() || c == '_' || c == '?' {
                Tok::Word(take(&mut i, &|ch| is_name_char(ch) || ch == '?'))
            } else if "=:,[]{}()+".contains(c) {
                i += 1;
                Tok::Punct(c)
            } else {
                return Err(err(format!("unexpected character {c:?}")));
            };
            out.push(Token { tok, line: line_no, col });
        }
    }
    let line = text.lines().count().max(1);
    let col = text.lines().last().map_or(0, |l| l.chars().count()) + 1;
    out.push(Token { tok: Tok::Eof, line, col });
    Ok(out)
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    m: Module,
    values: HashMap<String, ValueId>,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("'{w}'"),
        Tok::Value(v) => format!("'%{v}'"),
        Tok::VarRef(v) => format!("'@{v}'"),
        Tok::Num(n) => format!("number {n}"),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::Punct(c) => format!("'{c}'"),
        Tok::Eof => "end of input".into(),
    }
}

type PResult<T> = Result<T, ParseError>;

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }

    fn err_at(&self, pos: usize, message: String) -> ParseError {
        let t = &self.toks[pos.min(self.toks.len() - 1)];
        ParseError { line: t.line, col: t.col, message }
    }

    fn err(&self, message: String) -> ParseError {
        self.err_at(self.pos, message)
    }

    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].tok.clone();
        if t != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    fn expected(&self, what: &str) -> ParseError {
        self.err(format!("expected {what}, found {}", describe(self.peek())))
    }

    fn punct(&mut self, c: char) -> PResult<()> {
        if *self.peek() == Tok::Punct(c) {
            self.next();
            Ok(())
        } else {
            Err(self.expected(&format!("'{c}'")))
        }
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if *self.peek() == Tok::Punct(c) {
            self.next();
            true
        } else {
            false
        }
    }

    fn keyword(&mut self, k: &str) -> PResult<()> {
        if *self.peek() == Tok::Word(k.into()) {
            self.next();
            Ok(())
        } else {
            Err(self.expected(&format!("'{k}'")))
        }
    }

    fn word(&mut self, what: &str) -> PResult<String> {
        match self.peek().clone() {
            Tok::Word(w) => {
                self.next();
                Ok(w)
            }
            _ => Err(self.expected(what)),
        }
    }

    fn module(&mut self) -> PResult<()> {
        self.keyword("module")?;
        self.punct('{')?;
        loop {
            match self.peek().clone() {
                Tok::Punct('}') => {
                    self.next();
                    break;
                }
                Tok::Word(w) if w == "constraint" => {
                    self.next();
                    let a = self.dim()?;
                    self.punct('=')?;
                    let b = self.dim()?;
                    self.m.constraints.push((a, b));
                }
                Tok::Word(w) if w == "var" => {
                    self.next();
                    self.var_decl()?;
                }
                Tok::Value(_) => self.op()?,
                _ => return Err(self.expected("'constraint', 'var', an op or '}'")),
            }
        }
        if *self.peek() != Tok::Eof {
            return Err(self.expected("end of input after the module"));
        }
        Ok(())
    }

    fn var_decl(&mut self) -> PResult<()> {
        let at = self.pos;
        let name = match self.next() {
            Tok::VarRef(n) => n,
            _ => return Err(self.err_at(at, "expected '@name' after 'var'".into())),
        };
        if self.m.var_by_name(&name).is_some() {
            return Err(self.err_at(at, format!("variable @{name} declared twice")));
        }
        self.punct(':')?;
        let ty = self.ty()?;
        let trainable = *self.peek() == Tok::Word("trainable".into());
        if trainable {
            self.next();
        }
        let loc = self.opt_loc()?;
        self.m.add_var(Var { name, ty, trainable, loc });
        Ok(())
    }

    /// A dim: a size, a symbol, or a sum of them (`?0+?1+5`, a concat along a
    /// symbolic axis).
    fn dim(&mut self) -> PResult<Dim> {
        let first = self.dim_term()?;
        if *self.peek() != Tok::Punct('+') {
            return Ok(first);
        }
        let mut terms = vec![first];
        while *self.peek() == Tok::Punct('+') {
            self.next();
            terms.push(self.dim_term()?);
        }
        let text: Vec<String> = terms.iter().map(Dim::to_string).collect();
        let sum = Dim::sum(&terms).ok_or_else(|| self.err_at(self.pos - 1, "a dim sum overflows".to_string()))?;
        // a sum is printed as built: symbols in order, then one fixed total
        if sum.to_string() != text.join("+") {
            return Err(self.err_at(self.pos - 1, format!("a dim sum is written as {sum}, not {}", text.join("+"))));
        }
        Ok(sum)
    }

    fn dim_term(&mut self) -> PResult<Dim> {
        match self.peek().clone() {
            Tok::Num(n) => {
                self.next();
                n.parse::<u64>().map(Dim::Fixed).map_err(|_| self.err_at(self.pos - 1, format!("bad dim {n}")))
            }
            Tok::Word(w) if w.starts_with('?') && w.len() > 1 || !w.contains('?') => {
                self.next();
                Ok(Dim::Sym(w))
            }
            _ => Err(self.expected("a dim (size or symbol)")),
        }
    }

    fn ty(&mut self) -> PResult<Type> {
        let at = self.pos;
        let d = self.word("a type such as f32[2,3]")?;
        let dtype = DType::from_name(&d).ok_or_else(|| self.err_at(at, format!("unknown dtype '{d}'")))?;
        self.punct('[')?;
        let mut dims = Vec::new();
        if !self.eat_punct(']') {
            loop {
                dims.push(self.dim()?);
                if self.eat_punct(']') {
                    break;
                }
                self.punct(',')?;
            }
        }
        Ok(Type::new(dtype, Shape(dims)))
    }

    fn opt_loc(&mut self) -> PResult<Option<Loc>> {
        if *self.peek() != Tok::Word("loc".into()) {
            return Ok(None);
        }
        self.next();
        self.punct('(')?;
        let file = match self.next() {
            Tok::Str(s) => s,
            _ => return Err(self.err_at(self.pos - 1, "expected a quoted file name in loc(...)".into())),
        };
        self.punct(':')?;
        let line = self.uint("a line number")? as u32;
        self.punct(':')?;
        let col = self.uint("a column number")? as u32;
        self.punct(')')?;
        Ok(Some(Loc { file: file.into(), line, col }))
    }

    fn uint(&mut self, what: &str) -> PResult<u64> {
        match self.peek().clone() {
            Tok::Num(n) => {
                let r = n.parse::<u64>().map_err(|_| self.expected(what));
                self.next();
                r
            }
            _ => Err(self.expected(what)),
        }
    }

    fn value_ref(&mut self) -> PResult<ValueId> {
        let at = self.pos;
        match self.next() {
            Tok::Value(n) => {
                self.values.get(&n).copied().ok_or_else(|| self.err_at(at, format!("use of undefined value %{n}")))
            }
            _ => Err(self.err_at(at, format!("expected an operand '%name', found {}", describe(&self.toks[at].tok)))),
        }
    }

    fn var_ref(&mut self) -> PResult<crate::VarId> {
        let at = self.pos;
        match self.next() {
            Tok::VarRef(n) => {
                self.m.var_by_name(&n).ok_or_else(|| self.err_at(at, format!("use of undeclared variable @{n}")))
            }
            _ => Err(self.err_at(at, "expected a variable '@name'".into())),
        }
    }

    fn op(&mut self) -> PResult<()> {
        let at = self.pos;
        let Tok::Value(name) = self.next() else { unreachable!("op() is entered on a value token") };
        if self.values.contains_key(&name) {
            return Err(self.err_at(at, format!("value %{name} defined twice")));
        }
        self.punct('=')?;
        let mn_at = self.pos;
        let mnemonic = self.word("an op mnemonic")?;
        let mut operands = Vec::new();
        let mut raw_literal = None;
        let mut kind = match mnemonic.as_str() {
            "read" => OpKind::Read(self.var_ref()?),
            "assign" => {
                let v = self.var_ref()?;
                self.punct(',')?;
                OpKind::Assign(v)
            }
            "constant" => {
                raw_literal = Some(self.raw_list()?);
                OpKind::Constant(Literal::Bool(Vec::new()))
            }
            _ => kind_of(&mnemonic).ok_or_else(|| self.err_at(mn_at, format!("unknown op '{mnemonic}'")))?,
        };
        if !matches!(kind, OpKind::Constant(_) | OpKind::Read(_)) {
            if let Tok::Value(_) = self.peek() {
                operands.push(self.value_ref()?);
                while self.eat_punct(',') {
                    operands.push(self.value_ref()?);
                }
            } else if matches!(kind, OpKind::Assign(_)) {
                return Err(self.expected("an operand '%name'"));
            }
        }
        let attrs_at = self.pos;
        let attrs = if *self.peek() == Tok::Punct('{') { self.attrs()? } else { Vec::new() };
        self.apply_attrs(&mut kind, attrs, attrs_at)?;
        self.punct(':')?;
        let ty = if self.eat_punct('(') {
            self.punct(')')?;
            None
        } else {
            Some(self.ty()?)
        };
        if let Some(raw) = raw_literal {
            let dtype = ty.as_ref().map_or(DType::F32, |t| t.dtype);
            kind = OpKind::Constant(self.literal(dtype, raw)?);
        }
        let loc = self.opt_loc()?;
        let id = self.m.push(Op { kind, operands, ty, name: name.clone(), loc });
        self.values.insert(name, id);
        Ok(())
    }
}

/// Attribute value as written.
#[derive(Clone, Debug)]
enum Attr {
    Scalar(String, usize),
    List(Vec<(String, usize)>),
}

fn kind_of(mn: &str) -> Option<OpKind> {
    let rnd = |dist| OpKind::Random { dist, seed: 0 };
    Some(match mn {
        "parameter" => OpKind::Parameter,
        "random_uniform" => rnd(RandomDist::Uniform { min: 0.0, max: 1.0 }),
        "random_normal" => rnd(RandomDist::Normal { mean: 0.0, stddev: 1.0 }),
        "truncated_normal" => rnd(RandomDist::TruncatedNormal { mean: 0.0, stddev: 1.0 }),
        "select" => OpKind::Select,
        "broadcast" => OpKind::Broadcast { dims: Vec::new() },
        "reshape" => OpKind::Reshape,
        "transpose" => OpKind::Transpose { perm: Vec::new() },
        "slice" => OpKind::Slice { begin: Vec::new() },
        "concat" => OpKind::Concat { axis: 0 },
        "matmul" => OpKind::MatMul,
        "convert" => OpKind::Convert,
        "group" => OpKind::Group,
        "stop_gradient" => OpKind::StopGradient,
        "dim_size" => OpKind::DimSize { axes: Vec::new() },
        "iota" => OpKind::Iota { axis: 0 },
        "argmax" => OpKind::ArgMax { axis: 0 },
        "gather" => OpKind::Gather,
        "scatter_add" => OpKind::ScatterAdd,
        "check_index" => OpKind::CheckIndex { bound: 0 },
        "cumsum" => OpKind::Cumsum { axis: 0, exclusive: false, reverse: false },
        _ => {
            if let Some(u) = UnaryOp::from_mnemonic(mn) {
                OpKind::Unary(u)
            } else if let Some(b) = BinaryOp::from_mnemonic(mn) {
                OpKind::Binary(b)
            } else if let Some(c) = CmpOp::from_mnemonic(mn) {
                OpKind::Compare(c)
            } else if let Some(r) = ReduceOp::from_mnemonic(mn) {
                OpKind::Reduce { op: r, axes: Vec::new(), keepdims: false }
            } else {
                return None;
            }
        }
    })
}

impl Parser {
    /// `[tok, tok, ...]` of numbers or words, kept raw until the dtype is known.
    fn raw_list(&mut self) -> PResult<Vec<(String, usize)>> {
        self.punct('[')?;
        let mut out = Vec::new();
        if self.eat_punct(']') {
            return Ok(out);
        }
        loop {
            let at = self.pos;
            match self.next() {
                Tok::Num(n) | Tok::Word(n) => out.push((n, at)),
                t => return Err(self.err_at(at, format!("expected a number, found {}", describe(&t)))),
            }
            if self.eat_punct(']') {
                return Ok(out);
            }
            self.punct(',')?;
        }
    }

    fn literal(&self, dtype: DType, raw: Vec<(String, usize)>) -> PResult<Literal> {
        fn conv<T: std::str::FromStr>(p: &Parser, raw: &[(String, usize)], what: &str) -> PResult<Vec<T>> {
            raw.iter()
                .map(|(s, at)| s.parse::<T>().map_err(|_| p.err_at(*at, format!("'{s}' is not a valid {what}"))))
                .collect()
        }
        Ok(match dtype {
            DType::F32 => Literal::F32(conv(self, &raw, "f32")?),
            DType::F64 => Literal::F64(conv(self, &raw, "f64")?),
            DType::I32 => Literal::I32(conv(self, &raw, "i32")?),
            DType::I64 => Literal::I64(conv(self, &raw, "i64")?),
            DType::Bool => Literal::Bool(conv(self, &raw, "bool")?),
            DType::U8 => Literal::U8(conv(self, &raw, "u8")?),
            DType::I8 => Literal::I8(conv(self, &raw, "i8")?),
            DType::U16 => Literal::U16(conv(self, &raw, "u16")?),
            DType::I16 => Literal::I16(conv(self, &raw, "i16")?),
        })
    }

    fn attrs(&mut self) -> PResult<Vec<(String, Attr, usize)>> {
        self.punct('{')?;
        let mut out = Vec::new();
        loop {
            let at = self.pos;
            let key = self.word("an attribute name")?;
            self.punct('=')?;
            let val = if *self.peek() == Tok::Punct('[') {
                Attr::List(self.raw_list()?)
            } else {
                let vat = self.pos;
                match self.next() {
                    Tok::Num(n) | Tok::Word(n) => Attr::Scalar(n, vat),
                    t => return Err(self.err_at(vat, format!("expected an attribute value, found {}", describe(&t)))),
                }
            };
            out.push((key, val, at));
            if self.eat_punct('}') {
                return Ok(out);
            }
            self.punct(',')?;
        }
    }

    fn apply_attrs(&self, kind: &mut OpKind, attrs: Vec<(String, Attr, usize)>, at: usize) -> PResult<()> {
        let mut map: HashMap<String, (Attr, usize)> = HashMap::new();
        for (k, v, kat) in attrs {
            if map.insert(k.clone(), (v, kat)).is_some() {
                return Err(self.err_at(kat, format!("attribute '{k}' given twice")));
            }
        }
        let mn = kind.mnemonic();
        let mut take = |key: &str| -> PResult<Attr> {
            map.remove(key).map(|(v, _)| v).ok_or_else(|| self.err_at(at, format!("{mn} needs attribute '{key}'")))
        };
        let scalar = |p: &Parser, a: Attr| -> PResult<(String, usize)> {
            match a {
                Attr::Scalar(s, i) => Ok((s, i)),
                Attr::List(_) => Err(p.err_at(at, "expected a scalar attribute, found a list".into())),
            }
        };
        let uints = |p: &Parser, a: Attr, what: &str| -> PResult<Vec<u64>> {
            let items = match a {
                Attr::List(v) => v,
                Attr::Scalar(_, i) => return Err(p.err_at(i, "expected a list like [0, 1]".into())),
            };
            items
                .into_iter()
                .map(|(s, i)| s.parse::<u64>().map_err(|_| p.err_at(i, format!("'{s}' is not {what}"))))
                .collect()
        };
        for (key, attr) in kind.attrs() {
            let a = take(key)?;
            match attr {
                AttrRef::Index(x) => {
                    let (s, i) = scalar(self, a)?;
                    *x = s.parse().map_err(|_| self.err_at(i, format!("'{s}' is not an axis")))?;
                }
                AttrRef::Count(x) => {
                    let (s, i) = scalar(self, a)?;
                    *x = s.parse().map_err(|_| self.err_at(i, format!("'{s}' is not a {key}")))?;
                }
                AttrRef::Flag(x) => {
                    let (s, i) = scalar(self, a)?;
                    *x = s.parse().map_err(|_| self.err_at(i, format!("'{s}' is not true or false")))?;
                }
                AttrRef::Number(x) => {
                    let (s, i) = scalar(self, a)?;
                    *x = s.parse().map_err(|_| self.err_at(i, format!("'{s}' is not a number")))?;
                }
                AttrRef::Counts(v) => *v = uints(self, a, "an index")?,
                AttrRef::Indices(v) => *v = uints(self, a, "an index")?.into_iter().map(|x| x as usize).collect(),
            }
        }
        if let Some((k, (_, kat))) = map.into_iter().min_by_key(|(_, (_, i))| *i) {
            return Err(self.err_at(kat, format!("{mn} has no attribute '{k}'")));
        }
        Ok(())
    }
}
