//! A small YAML document tree that remembers the line of every node and tolerates duplicate
//! keys (the last one wins, and the duplicates are reported), so that registry errors can name
//! the exact line, and a repeated key is a warning rather than a lost mirror.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::Yaml;

/// A parsed node and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: usize,
    pub value: Value,
    /// The scalar as written (`8.10` stays `8.10` although it also reads as a number).
    pub raw: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in document order; unique (a repeated key replaced the earlier entry).
    Map(Vec<(String, Node)>),
}

impl Value {
    /// A short name of the type, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn entries(&self) -> Option<&[(String, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn items(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// A scalar as text: strings, and numbers written where text was meant (`version: 9.8`).
    pub fn text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(_) | Value::Float(_) => self.raw.clone(),
            _ => None,
        }
    }
}

/// A key that occurred more than once in one mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateKey {
    pub key: String,
    pub first_line: usize,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// `None` for an empty document.
    pub root: Option<Node>,
    pub duplicates: Vec<DuplicateKey>,
    /// The text the document holds once its aliases are expanded, keys included.
    pub expanded_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct YamlError {
    pub line: usize,
    pub message: String,
}

/// Nodes one document may expand to, aliases included: a guard against alias bombs.
const MAX_NODES: usize = 100_000;
/// Text one document may expand to, aliases included: a registry file is at most 1 MiB,
/// and one long string repeated through aliases must not become hundreds of megabytes.
const MAX_TEXT_BYTES: usize = 8 << 20;

/// Parses exactly one YAML document (an empty stream is an empty document).
pub fn parse(text: &str) -> Result<Document, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| YamlError {
        line: e.marker().line(),
        message: e.info().to_string(),
    })?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    if builder.documents > 1 {
        return Err(YamlError {
            line: 1,
            message: format!(
                "the file holds {} YAML documents; a registry file describes one mirror",
                builder.documents
            ),
        });
    }
    Ok(Document {
        root: builder.root,
        duplicates: builder.duplicates,
        expanded_bytes: builder.bytes,
    })
}

enum Frame {
    Seq(Node, usize),
    /// The mapping, its anchor, and the key waiting for its value (with the key's line).
    Map(Node, usize, Option<(String, usize)>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: std::collections::HashMap<usize, Node>,
    root: Option<Node>,
    documents: usize,
    duplicates: Vec<DuplicateKey>,
    nodes: usize,
    bytes: usize,
    error: Option<YamlError>,
}

fn line_of(mark: &Marker) -> usize {
    mark.line()
}

/// The text a node holds, keys included.
fn count_bytes(node: &Node) -> usize {
    match &node.value {
        Value::Str(s) => s.len(),
        Value::Seq(items) => items.iter().map(count_bytes).sum(),
        Value::Map(entries) => entries.iter().map(|(k, v)| k.len() + count_bytes(v)).sum(),
        _ => 0,
    }
}

fn count_nodes(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|(_, v)| count_nodes(v)).sum::<usize>(),
        _ => 1,
    }
}

fn resolve_plain(text: &str) -> Value {
    match Yaml::from_str(text) {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::Int(i),
        Yaml::Real(r) => r
            .parse::<f64>()
            .map_or_else(|_| Value::Str(text.to_string()), Value::Float),
        _ => Value::Str(text.to_string()),
    }
}

impl Builder {
    fn fail(&mut self, line: usize, message: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(YamlError {
                line,
                message: message.into(),
            });
        }
    }

    /// Places a finished node. `weight` is what it adds to the document's expansion: a
    /// mapping or sequence adds one node (its contents were counted as they arrived), an
    /// alias everything it repeats.
    fn insert(&mut self, node: Node, anchor: usize, weight: (usize, usize)) {
        self.nodes += weight.0;
        if self.nodes > MAX_NODES {
            self.fail(node.line, "the document expands to too many nodes");
            return;
        }
        self.bytes += weight.1;
        if self.bytes > MAX_TEXT_BYTES {
            self.fail(
                node.line,
                format!(
                    "the document expands to more than {} MiB of text (aliases included)",
                    MAX_TEXT_BYTES >> 20
                ),
            );
            return;
        }
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.documents == 1 {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq(seq, _)) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Frame::Map(map, _, pending)) => match pending.take() {
                None => {
                    let key = match (&node.value, &node.raw) {
                        (Value::Seq(_) | Value::Map(_), _) | (_, None) => {
                            let line = node.line;
                            let kind = node.value.kind();
                            self.fail(line, format!("a mapping key is {kind}"));
                            return;
                        }
                        (_, Some(raw)) => raw.clone(),
                    };
                    *pending = Some((key, node.line));
                }
                Some((key, key_line)) => {
                    if let Value::Map(entries) = &mut map.value {
                        if let Some(pos) = entries.iter().position(|(k, _)| *k == key) {
                            let (_, old) = entries.remove(pos);
                            self.duplicates.push(DuplicateKey {
                                key: key.clone(),
                                first_line: old.line,
                                line: key_line,
                            });
                        }
                        entries.push((key, node));
                    }
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let line = line_of(&mark);
        match event {
            Event::DocumentStart => self.documents += 1,
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq(
                Node {
                    line,
                    value: Value::Seq(Vec::new()),
                    raw: None,
                },
                anchor,
            )),
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map(
                Node {
                    line,
                    value: Value::Map(Vec::new()),
                    raw: None,
                },
                anchor,
                None,
            )),
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq(node, anchor)) | Some(Frame::Map(node, anchor, _)) => {
                    self.insert(node, anchor, (1, 0))
                }
                None => self.fail(line, "unbalanced document"),
            },
            Event::Scalar(text, style, anchor, tag) => {
                let value = if style != TScalarStyle::Plain || tag.is_some() {
                    Value::Str(text.clone())
                } else {
                    resolve_plain(&text)
                };
                let weight = (1, text.len());
                let raw = Some(text);
                self.insert(Node { line, value, raw }, anchor, weight);
            }
            Event::Alias(anchor) => match self.anchors.get(&anchor).cloned() {
                Some(mut node) => {
                    node.line = line;
                    let weight = (count_nodes(&node), count_bytes(&node));
                    self.insert(node, 0, weight);
                }
                None => self.fail(line, "an alias refers to an unknown anchor"),
            },
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_lines_and_types() {
        let doc =
            parse("---\nname: a.example\nasn: [1, 2]\nprivate: true\nlat: 1.5\nq: '12'\n").unwrap();
        let root = doc.root.unwrap();
        assert_eq!(root.get("name").unwrap().line, 2);
        assert_eq!(
            root.get("name").unwrap().value,
            Value::Str("a.example".into())
        );
        match &root.get("asn").unwrap().value {
            Value::Seq(items) => assert_eq!(items[1].value, Value::Int(2)),
            other => panic!("{other:?}"),
        }
        assert_eq!(root.get("private").unwrap().value, Value::Bool(true));
        assert_eq!(root.get("lat").unwrap().value, Value::Float(1.5));
        assert_eq!(root.get("q").unwrap().value, Value::Str("12".into()));
    }

    #[test]
    fn duplicate_keys_keep_the_last_and_are_reported() {
        let doc = parse("a: 1\nb: 2\na: 3\n").unwrap();
        let root = doc.root.unwrap();
        assert_eq!(root.get("a").unwrap().value, Value::Int(3));
        assert_eq!(
            doc.duplicates,
            vec![DuplicateKey {
                key: "a".into(),
                first_line: 1,
                line: 3
            }]
        );
    }

    #[test]
    fn errors_name_a_line() {
        let err = parse("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(err.line >= 2, "{err}");
        assert!(parse("").unwrap().root.is_none());
        assert!(parse("---\na: 1\n---\nb: 2\n").is_err());
        assert!(parse("? [1]\n: 2\n").is_err());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("too many nodes"), "{err}");
    }

    /// Few nodes, but one long string repeated through aliases: the expanded size counts.
    #[test]
    fn a_long_string_repeated_through_aliases_is_refused() {
        let long = "x".repeat(200_000);
        let aliases = vec!["*s"; 100].join(", ");
        let text = format!(
            "sponsor: &s {long}
cloud_regions: [{aliases}]
"
        );
        let started = std::time::Instant::now();
        let Err(err) = parse(&text) else {
            panic!("a 20 MB expansion was accepted")
        };
        assert!(err.message.contains("expands to more than"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
