//! The YAML layer of Compose files: one document read into plain values with the line and
//! column of every key and item (from the parser's own spans), with depth, size and alias
//! limits so that hostile input fails fast with a located error instead of crawling.
//!
//! Scalars are resolved as Compose's parser does (YAML 1.2 core schema); every mapping key is
//! normalised to its string form, and two keys that become the same string are an error at the
//! second one (`1` and `"1"` would otherwise silently drop a service). Merge keys (`<<`) are
//! applied here, with the merged keys keeping the position where they were written.

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_yaml::{Mapping, Number, Value};

/// Nesting deeper than this is refused (real Compose files nest fewer than ten levels).
pub const MAX_DEPTH: usize = 64;
/// Nodes a document may hold once aliases are expanded (the input itself is at most 1 MiB).
pub const MAX_NODES: usize = 250_000;

/// A 1-based line and column (in characters) in one of the files read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Which file (an index into the caller's list of files).
    pub file: usize,
    pub line: usize,
    pub col: usize,
}

/// Where each key and item is: paths of mapping keys and sequence indexes (as strings).
pub type Spans = HashMap<Vec<String>, Pos>;

/// A parsed document: its value and the position of every key and item.
#[derive(Debug, Clone, Default)]
pub struct Doc {
    pub value: Value,
    pub spans: Spans,
}

impl Doc {
    /// The position of `path`, or of its closest ancestor that has one.
    pub fn pos(&self, path: &[&str]) -> Pos {
        let mut owned: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        loop {
            if let Some(p) = self.spans.get(&owned) {
                return *p;
            }
            if owned.pop().is_none() {
                return Pos {
                    line: 1,
                    col: 1,
                    ..Pos::default()
                };
            }
        }
    }
}

/// A YAML error with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

/// Parse one YAML document (file number `file`, for positions).
pub fn parse(text: &str, file: usize) -> Result<Doc, YamlError> {
    check_characters(text, file)?;
    let tree = Builder::new(text, file).document()?;
    let mut doc = Doc::default();
    let mut path = Vec::new();
    doc.value = flatten(tree, &mut path, &mut doc.spans, file)?;
    Ok(doc)
}

/// Control characters are not allowed in YAML (only tab, LF and CR are): report the first at
/// its real position.
fn check_characters(text: &str, file: usize) -> Result<(), YamlError> {
    let mut line = 1;
    let mut col = 1;
    for c in text.chars() {
        if c == '\n' {
            line += 1;
            col = 1;
            continue;
        }
        let bad = (c.is_control() && c != '\t' && c != '\r') || c == '\u{feff}' && line + col > 2;
        if bad {
            return Err(YamlError {
                pos: Pos { file, line, col },
                message: format!(
                    "control character U+{:04X} is not allowed in a Compose file",
                    c as u32
                ),
            });
        }
        col += 1;
    }
    Ok(())
}

/// A node with where it starts; aliases are already copies of what they name.
#[derive(Debug, Clone)]
enum Node {
    Scalar(Value, Pos),
    Seq(Vec<Node>, Pos),
    /// Keys in written order with their positions; `<<` entries are kept for `flatten`.
    Map(Vec<(String, Pos, Node)>, Pos),
}

impl Node {
    fn pos(&self) -> Pos {
        match self {
            Node::Scalar(_, p) | Node::Seq(_, p) | Node::Map(_, p) => *p,
        }
    }

    fn size(&self) -> usize {
        match self {
            Node::Scalar(..) => 1,
            Node::Seq(items, _) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Node::Map(entries, _) => 1 + entries.iter().map(|(_, _, n)| n.size()).sum::<usize>(),
        }
    }
}

struct Builder<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    file: usize,
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
    depth: usize,
}

impl<'a> Builder<'a> {
    fn new(text: &'a str, file: usize) -> Builder<'a> {
        Builder {
            parser: Parser::new_from_str(text),
            file,
            anchors: HashMap::new(),
            nodes: 0,
            depth: 0,
        }
    }

    fn pos(&self, span: &Span) -> Pos {
        Pos {
            file: self.file,
            line: span.start.line(),
            col: span.start.col() + 1,
        }
    }

    fn err(&self, pos: Pos, message: impl Into<String>) -> YamlError {
        YamlError {
            pos,
            message: message.into(),
        }
    }

    fn next(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        match self.parser.next() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => Err(YamlError {
                pos: Pos {
                    file: self.file,
                    line: e.marker().line(),
                    col: e.marker().col() + 1,
                },
                message: match e.info() {
                    "recursion limit exceeded" => {
                        "the YAML nests deeper than 255 flow levels (`[` or `{`)".to_string()
                    }
                    info => format!("not valid YAML: {info}"),
                },
            }),
            None => Err(self.err(self.end_pos(), "the YAML ends too early")),
        }
    }

    fn end_pos(&self) -> Pos {
        Pos {
            file: self.file,
            line: 1,
            col: 1,
        }
    }

    /// The stream's one document (an empty stream is an empty mapping's absence: null).
    fn document(mut self) -> Result<Node, YamlError> {
        let mut root = None;
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::DocumentStart(_) if root.is_some() => {
                    return Err(self.err(
                        self.pos(&span),
                        "a second YAML document: a Compose file holds one",
                    ));
                }
                Event::DocumentStart(_) => root = Some(self.node()?),
                Event::StreamEnd => break,
                _ => return Err(self.err(self.pos(&span), "unexpected YAML structure")),
            }
        }
        Ok(root.unwrap_or(Node::Scalar(Value::Null, self.end_pos())))
    }

    fn count(&mut self, n: usize, pos: Pos) -> Result<(), YamlError> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(self.err(
                pos,
                format!(
                    "the document expands to more than {MAX_NODES} values (aliases of aliases?)"
                ),
            ));
        }
        Ok(())
    }

    fn node(&mut self) -> Result<Node, YamlError> {
        let (ev, span) = self.next()?;
        self.node_from(ev, span)
    }

    fn node_from(&mut self, ev: Event<'a>, span: Span) -> Result<Node, YamlError> {
        let pos = self.pos(&span);
        let (node, anchor) = match ev {
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, pos)?;
                (
                    Node::Scalar(resolve(&text, style, tag.as_deref()), pos),
                    anchor,
                )
            }
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(&id).cloned() else {
                    return Err(self.err(pos, "an alias names no anchor defined before it"));
                };
                self.count(size, pos)?;
                return Ok(node);
            }
            Event::SequenceStart(anchor, _) => {
                self.enter(pos)?;
                self.count(1, pos)?;
                let mut items = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node_from(ev, span)?);
                }
                self.depth -= 1;
                (Node::Seq(items, pos), anchor)
            }
            Event::MappingStart(anchor, _) => {
                self.enter(pos)?;
                self.count(1, pos)?;
                let node = self.mapping(pos)?;
                self.depth -= 1;
                (node, anchor)
            }
            _ => return Err(self.err(pos, "unexpected YAML structure")),
        };
        if anchor > 0 {
            let size = node.size();
            self.anchors.insert(anchor, (node.clone(), size));
        }
        Ok(node)
    }

    fn enter(&mut self, pos: Pos) -> Result<(), YamlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(
                pos,
                format!("the YAML nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn mapping(&mut self, pos: Pos) -> Result<Node, YamlError> {
        let mut entries: Vec<(String, Pos, Node)> = Vec::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        loop {
            let (ev, span) = self.next()?;
            if matches!(ev, Event::MappingEnd) {
                break;
            }
            let key_pos = self.pos(&span);
            let written = match &ev {
                Event::Scalar(t, ScalarStyle::Plain, ..) => t.to_string(),
                Event::Scalar(t, ..) => format!("\"{t}\""),
                _ => String::new(),
            };
            let key = match self.node_from(ev, span)? {
                Node::Scalar(v, _) => key_string(&v),
                _ => return Err(self.err(key_pos, "a mapping key must be a plain value")),
            };
            if let Some(first) = seen.get(&key) {
                return Err(self.err(
                    key_pos,
                    format!(
                        "key `{written}` repeats the key `{first}` of the same mapping (both are `{key}`)"
                    ),
                ));
            }
            seen.insert(key.clone(), written);
            let value = self.node()?;
            entries.push((key, key_pos, value));
        }
        Ok(Node::Map(entries, pos))
    }
}

/// A scalar as Compose's YAML parser reads it: plain `null`/`~`/empty, booleans and numbers
/// are typed; quoted and block scalars (and `!!str`) are strings.
fn resolve(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    if style != ScalarStyle::Plain {
        return Value::String(text.to_string());
    }
    if tag.is_some_and(|t| t.suffix == "str") {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(n) = integer(text) {
        return Value::Number(n);
    }
    if is_float(text)
        && let Ok(f) = text.parse::<f64>()
    {
        return Value::Number(Number::from(f));
    }
    Value::String(text.to_string())
}

fn integer(text: &str) -> Option<Number> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (radix, digits) = if let Some(h) = body.strip_prefix("0x") {
        (16, h)
    } else if let Some(o) = body.strip_prefix("0o") {
        (8, o)
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let n = i64::from_str_radix(digits, radix).ok()?;
    Some(Number::from(if neg { -n } else { n }))
}

fn is_float(text: &str) -> bool {
    let body = text.trim_start_matches(['-', '+']);
    if matches!(body, ".inf" | ".Inf" | ".INF") || matches!(text, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let digits = mantissa.replace('.', "");
    let ok_mantissa = mantissa.matches('.').count() <= 1
        && !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit());
    let ok_exp = exp.is_none_or(|e| {
        let e = e.trim_start_matches(['-', '+']);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    ok_mantissa && ok_exp
}

/// A key's string form: the text of a string, a number or a boolean as written by Compose.
pub fn key_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        _ => String::new(),
    }
}

/// The node as a plain value, recording positions under `path`; merge keys applied (keys
/// written in the mapping win over merged ones, earlier merged mappings over later ones).
fn flatten(
    node: Node,
    path: &mut Vec<String>,
    spans: &mut Spans,
    file: usize,
) -> Result<Value, YamlError> {
    match node {
        Node::Scalar(v, _) => Ok(v),
        Node::Seq(items, _) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                path.push(i.to_string());
                spans.insert(path.clone(), item.pos());
                out.push(flatten(item, path, spans, file)?);
                path.pop();
            }
            Ok(Value::Sequence(out))
        }
        Node::Map(entries, _) => {
            let mut merged: Vec<(String, Pos, Node)> = Vec::new();
            let own: HashSet<String> = entries.iter().map(|(k, _, _)| k.clone()).collect();
            let mut written = Vec::new();
            for (key, pos, value) in entries {
                if key == "<<" {
                    for source in merge_sources(value, pos, file)? {
                        for (k, p, v) in source {
                            if !own.contains(&k) && !merged.iter().any(|(m, _, _)| *m == k) {
                                merged.push((k, p, v));
                            }
                        }
                    }
                } else {
                    written.push((key, pos, value));
                }
            }
            let mut out = Mapping::new();
            for (key, pos, value) in written.into_iter().chain(merged) {
                path.push(key.clone());
                spans.insert(path.clone(), pos);
                let v = flatten(value, path, spans, file)?;
                path.pop();
                out.insert(Value::String(key), v);
            }
            Ok(Value::Mapping(out))
        }
    }
}

type Entries = Vec<(String, Pos, Node)>;

/// What a `<<` key merges: a mapping, or a list of mappings.
fn merge_sources(value: Node, pos: Pos, _file: usize) -> Result<Vec<Entries>, YamlError> {
    let bad = || YamlError {
        pos,
        message: "`<<` merges a mapping or a list of mappings (`<<: *anchor`)".into(),
    };
    match value {
        Node::Map(entries, _) => Ok(vec![entries]),
        Node::Seq(items, _) => items
            .into_iter()
            .map(|i| match i {
                Node::Map(entries, _) => Ok(entries),
                _ => Err(bad()),
            })
            .collect(),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(doc: &Doc, path: &[&str]) -> (usize, usize) {
        let p = doc.pos(path);
        (p.line, p.col)
    }

    #[test]
    fn positions_are_the_keys_own_even_when_repeated_at_several_depths() {
        let text = "services:\n  db:\n    image: postgres\n    volumes:\n      - data:/x\n  web:\n    volumes: [\"a:/b\", c:/d]\nvolumes:\n  data:\n    driver: local\n";
        let doc = parse(text, 0).unwrap();
        assert_eq!(at(&doc, &["services", "db", "volumes"]), (4, 5));
        assert_eq!(at(&doc, &["services", "db", "volumes", "0"]), (5, 9));
        assert_eq!(at(&doc, &["services", "web", "volumes", "1"]), (7, 23));
        assert_eq!(at(&doc, &["volumes"]), (8, 1));
        assert_eq!(at(&doc, &["volumes", "data", "driver"]), (10, 5));
        // An unknown path falls back to its closest known ancestor.
        assert_eq!(at(&doc, &["volumes", "data", "nope"]), (9, 3));
    }

    #[test]
    fn scalars_resolve_as_compose_reads_them() {
        let doc = parse(
            "a: 1\nb: \"1\"\nc: true\nd: yes\ne: 1.5\nf: ~\ng:\nh: 5432:5432\ni: 0x1F\nj: !!str 3\n",
            0,
        )
        .unwrap();
        let m = doc.value.as_mapping().unwrap();
        assert_eq!(m["a"], Value::Number(1.into()));
        assert_eq!(m["b"], Value::String("1".into()));
        assert_eq!(m["c"], Value::Bool(true));
        assert_eq!(m["d"], Value::String("yes".into()));
        assert_eq!(m["e"].as_f64(), Some(1.5));
        assert_eq!(m["f"], Value::Null);
        assert_eq!(m["g"], Value::Null);
        assert_eq!(m["h"], Value::String("5432:5432".into()));
        assert_eq!(m["i"], Value::Number(31.into()));
        assert_eq!(m["j"], Value::String("3".into()));
    }

    #[test]
    fn keys_that_normalise_alike_are_an_error_at_the_second() {
        for (text, pos) in [
            (
                "services:\n  1:\n    image: a\n  \"1\":\n    image: b\n",
                (4, 3),
            ),
            ("services:\n  true: {}\n  \"true\": {}\n", (3, 3)),
            ("a: 1\na: 2\n", (2, 1)),
        ] {
            let e = parse(text, 0).unwrap_err();
            assert_eq!((e.pos.line, e.pos.col), pos, "{text}: {e:?}");
            assert!(e.message.contains("repeats"), "{}", e.message);
        }
    }

    #[test]
    fn merge_keys_keep_the_position_where_the_merged_key_was_written() {
        let text = "x-base: &base\n  restart: always\n  image: a\nservices:\n  web:\n    <<: *base\n    image: b\n";
        let doc = parse(text, 0).unwrap();
        let web = &doc.value["services"]["web"];
        assert_eq!(web["image"], Value::String("b".into()));
        assert_eq!(web["restart"], Value::String("always".into()));
        assert!(web.get("<<").is_none());
        assert_eq!(at(&doc, &["services", "web", "restart"]), (2, 3));
        assert_eq!(at(&doc, &["services", "web", "image"]), (7, 5));
    }

    #[test]
    fn limits_give_located_errors() {
        let deep = format!(
            "a: {}1{}\n",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        let e = parse(&deep, 0).unwrap_err();
        assert!(e.message.contains("nests deeper"), "{e:?}");
        assert_eq!(e.pos.line, 1);
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            bomb.push_str(&format!(
                "l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        let e = parse(&bomb, 0).unwrap_err();
        assert!(e.message.contains("expands"), "{e:?}");
        let e = parse("a: b\nc: \"x\u{7}y\"\n", 0).unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (2, 6));
        assert!(e.message.contains("U+0007"), "{e:?}");
        let e = parse("a: [1, 2\n", 0).unwrap_err();
        assert!(e.message.starts_with("not valid YAML"), "{e:?}");
    }

    #[test]
    fn a_mebibyte_of_brackets_fails_at_the_limit() {
        let text = "[".repeat(1 << 20);
        let e = parse(&text, 0).unwrap_err();
        assert!(
            e.message.contains("nests deeper") || e.message.contains("not valid YAML"),
            "{e:?}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Random nesting of flow and block collections never panics and either parses or
        /// fails with a position inside the text.
        #[test]
        fn random_nesting_is_bounded(
            opens in proptest::collection::vec(prop_oneof!["\\[", "\\{", "a: ", "- ", "\n  ", "&x ", "\\*x", "\"", "'", ":", ","], 0..400),
            depth in 0usize..3000,
        ) {
            let mut text: String = opens.concat();
            text.push_str(&"[".repeat(depth));
            match parse(&text, 0) {
                Ok(_) => {}
                Err(e) => {
                    prop_assert!(e.pos.line >= 1 && e.pos.line <= text.lines().count().max(1) + 1);
                }
            }
        }
    }
}
