//! Judging plain fields: the name, texts, flags and lists.

use super::*;

impl Judge<'_> {
    pub(super) fn name(&mut self, node: Option<&Node>) -> Option<String> {
        let Some(node) = node else {
            self.error(
                None,
                "name",
                "missing; the mirror's host name is its identity",
            );
            return None;
        };
        let Some(raw) = node.text() else {
            self.error(
                Some(node),
                "name",
                format!("expected a host name, found {}", node.value.kind()),
            );
            return None;
        };
        let name = raw.trim().to_ascii_lowercase();
        if !valid_hostname(&name) {
            self.error(
                Some(node),
                "name",
                format!("{raw:?} is not a host name (no scheme, no slash, no port)"),
            );
            return None;
        }
        if name != raw {
            self.warn(Some(node), "name", format!("{raw:?} written as {name:?}"));
        }
        Some(name)
    }

    pub(super) fn text_of(&mut self, node: &Node, field: &str) -> Option<String> {
        match node.text() {
            Some(t) if !t.trim().is_empty() => Some(t.trim().to_string()),
            _ if node.value == Value::Null => None,
            _ => {
                self.warn(
                    Some(node),
                    field,
                    format!("expected text, found {}; ignored", node.value.kind()),
                );
                None
            }
        }
    }

    pub(super) fn optional_text(&mut self, root: &Node, field: &str) -> Option<String> {
        let node = root.get(field)?;
        self.text_of(node, field)
    }

    pub(super) fn required_text(&mut self, root: &Node, field: &str) -> Option<String> {
        let value = match root.get(field) {
            None => None,
            Some(node) => match node.text() {
                Some(t) if !t.trim().is_empty() => Some(t.trim().to_string()),
                _ => None,
            },
        };
        if value.is_none() {
            self.error(
                root.get(field),
                field,
                "missing or empty; the registry requires it",
            );
        }
        value
    }

    pub(super) fn flag(&mut self, root: &Node, field: &str, default: bool) -> bool {
        match root.get(field) {
            None => default,
            Some(Node {
                value: Value::Bool(b),
                ..
            }) => *b,
            Some(Node {
                value: Value::Null, ..
            }) => default,
            Some(node) => {
                let raw = node.raw.as_deref().unwrap_or(node.value.kind());
                // The registry is read by YAML 1.1 parsers elsewhere, where these are booleans.
                let yaml11 = match raw.to_ascii_lowercase().as_str() {
                    "yes" | "y" | "on" => Some(true),
                    "no" | "n" | "off" => Some(false),
                    _ => None,
                };
                match yaml11 {
                    Some(b) if matches!(node.value, Value::Str(_)) => {
                        self.warn(
                            Some(node),
                            field,
                            format!("{raw} read as {b}; write true or false"),
                        );
                        b
                    }
                    _ => {
                        self.error(
                            Some(node),
                            field,
                            format!("expected true or false, found {raw}"),
                        );
                        default
                    }
                }
            }
        }
    }

    pub(super) fn text_list(&mut self, node: Option<&Node>, field: &str) -> Vec<String> {
        let Some(node) = node else { return Vec::new() };
        match &node.value {
            Value::Null => Vec::new(),
            Value::Seq(items) => items
                .iter()
                .filter_map(|i| self.text_of(i, field))
                .collect(),
            _ => match self.text_of(node, field) {
                Some(t) => vec![t],
                None => Vec::new(),
            },
        }
    }
}
