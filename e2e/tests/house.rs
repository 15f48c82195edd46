//! The house rules, read from the sources of every crate, so that CI fails when they are
//! broken: no module circle (a module using one that uses it back, read from the `crate::`,
//! `super::` and child-module paths), at most three non-test files over 450 lines (each
//! saying on its first line why it is one piece), and no non-test function over 150 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: [&str; 7] = [
    "shared",
    "listen",
    "store",
    "mirror-checker",
    "mirrorlist-server",
    "mirror-sim",
    "e2e",
];
const MAX_FILE_LINES: usize = 450;
const MAX_LONG_FILES: usize = 3;
const MAX_FN_LINES: usize = 150;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A module's path inside its crate (`["crawl", "mirror"]`), and its file.
type Modules = BTreeMap<Vec<String>, PathBuf>;

/// Test modules (`tests.rs`, anything under `tests/`) are left out.
fn modules(src: &Path) -> Modules {
    let mut out = Modules::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().unwrap() != "tests" {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            match parts.last().map(String::as_str) {
                Some("tests") => continue,
                Some("lib" | "main") if parts.len() == 1 => parts.clear(),
                Some("mod") => {
                    parts.pop();
                }
                _ => {}
            }
            out.insert(parts, path);
        }
    }
    out
}

/// Code without comments, string and char literals (their insides blanked, lines kept),
/// and without `#[cfg(test)] mod … { … }` bodies.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').map_or(b.len(), |n| i + n);
            i = end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(b.len(), |n| i + n + 2);
            out.extend(text[i..end].chars().filter(|c| *c == '\n'));
            i = end;
        } else if let Some(n) = raw_string_len(rest) {
            out.push_str("\"\"");
            out.extend(rest[..n].chars().filter(|c| *c == '\n'));
            i += n;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            out.extend(text[i..j.min(b.len())].chars().filter(|c| *c == '\n'));
            i = j + 1;
        } else if let Some(n) = char_literal_len(rest) {
            out.push_str("' '");
            i += n;
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    strip_test_modules(&out)
}

/// `r"…"`, `r#"…"#`, `br"…"`: its length.
fn raw_string_len(s: &str) -> Option<usize> {
    let body = s.strip_prefix("br").or_else(|| s.strip_prefix('r'))?;
    let hashes = body.len() - body.trim_start_matches('#').len();
    let after = body[hashes..].strip_prefix('"')?;
    let close = format!("\"{}", "#".repeat(hashes));
    let end = after.find(&close)?;
    Some(s.len() - after.len() + end + close.len())
}

/// `'x'`, `'\n'`, `'\u{1F600}'` (not a lifetime): its length.
fn char_literal_len(s: &str) -> Option<usize> {
    let rest = s.strip_prefix('\'')?;
    if let Some(esc) = rest.strip_prefix('\\') {
        return esc.find('\'').map(|n| n + 3);
    }
    let c = rest.chars().next()?;
    rest[c.len_utf8()..]
        .starts_with('\'')
        .then(|| c.len_utf8() + 2)
}

fn strip_test_modules(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        let after = &rest[at + "#[cfg(test)]".len()..];
        let head = after.trim_start();
        let is_mod = ["mod ", "pub mod ", "pub(crate) mod "]
            .iter()
            .any(|p| head.starts_with(p));
        match (is_mod, head.find(['{', ';'])) {
            (true, Some(n)) if head.as_bytes()[n] == b'{' => {
                out.push_str(&rest[..at]);
                let start = rest.len() - head.len() + n;
                let end = matching_brace(rest, start).unwrap_or(rest.len());
                out.extend(rest[at..end].chars().filter(|c| *c == '\n'));
                rest = &rest[end..];
            }
            _ => {
                out.push_str(&rest[..at + 1]);
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The index just past the brace that closes the one at `open`.
fn matching_brace(code: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Every path the code names: `a::b::c`, with `x::{a, b::c}` groups expanded one level.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut tokens: Vec<String> = Vec::new();
    let mut word = String::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            if !word.is_empty() {
                tokens.push(std::mem::take(&mut word));
            }
            if c == ':' && chars.get(i + 1) == Some(&':') {
                tokens.push("::".into());
                i += 1;
            } else if "{},;".contains(c) || !c.is_whitespace() {
                tokens.push(c.to_string());
            }
        }
        i += 1;
    }
    let is_word = |t: &str| t.chars().all(|c| c.is_alphanumeric() || c == '_');
    let mut out = Vec::new();
    let mut t = 0;
    while t < tokens.len() {
        // A path starts at a word not preceded by `::`.
        if !is_word(&tokens[t]) || (t > 0 && tokens[t - 1] == "::") {
            t += 1;
            continue;
        }
        let mut path = vec![tokens[t].clone()];
        let mut k = t + 1;
        while k + 1 < tokens.len() && tokens[k] == "::" {
            if is_word(&tokens[k + 1]) {
                path.push(tokens[k + 1].clone());
                k += 2;
            } else if tokens[k + 1] == "{" {
                // One level of a group: each item's leading words.
                let mut item = path.clone();
                let mut j = k + 2;
                let mut depth = 0;
                while j < tokens.len() {
                    match tokens[j].as_str() {
                        "{" => depth += 1,
                        "}" if depth == 0 => break,
                        "}" => depth -= 1,
                        "," if depth == 0 => {
                            out.push(std::mem::replace(&mut item, path.clone()));
                        }
                        w if depth == 0
                            && is_word(w)
                            && item.len() < path.len() + 8
                            && ["::", "{", ","].contains(&tokens[j - 1].as_str()) =>
                        {
                            item.push(w.to_string());
                        }
                        _ => {}
                    }
                    j += 1;
                }
                out.push(item);
                k = j;
                break;
            } else {
                break;
            }
        }
        if path.len() > 1 {
            out.push(path);
        }
        t = k.max(t + 1);
    }
    out
}

/// The longest module `parts` begins with.
fn resolve(mods: &Modules, parts: &[String]) -> Option<Vec<String>> {
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].to_vec())
        .find(|p| mods.contains_key(p))
}

/// Edges from a module to the modules it names; a module naming an ancestor is the
/// ordinary shape of a tree, not an edge.
fn edges(mods: &Modules) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut graph = BTreeMap::new();
    for (m, file) in mods {
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        let children: BTreeSet<String> = code
            .lines()
            .filter_map(|l| {
                let l = l.trim_start();
                let l = l.strip_prefix("pub ").unwrap_or(l);
                let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
                let l = l.strip_prefix("pub(super) ").unwrap_or(l);
                let name = l.strip_prefix("mod ")?.strip_suffix(';')?;
                Some(name.trim().to_string())
            })
            .collect();
        let mut to = BTreeSet::new();
        for p in paths(&code) {
            let target = match p[0].as_str() {
                "crate" => resolve(mods, &p[1..]),
                "super" => {
                    let ups = p.iter().take_while(|s| *s == "super").count();
                    let mut base = m[..m.len().saturating_sub(ups)].to_vec();
                    base.extend_from_slice(&p[ups..]);
                    resolve(mods, &base)
                }
                "self" => resolve(mods, &[m.as_slice(), &p[1..]].concat()),
                first if children.contains(first) => {
                    resolve(mods, &[m.as_slice(), p.as_slice()].concat())
                }
                _ => None,
            };
            if let Some(t) = target.filter(|t| t != m && !m.starts_with(t)) {
                to.insert(t);
            }
        }
        graph.insert(m.clone(), to);
    }
    graph
}

/// Strongly connected components of two or more modules (Tarjan's algorithm).
fn circles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'g Vec<String>, (usize, usize)>,
        stack: Vec<&'g Vec<String>>,
        next: usize,
        out: Vec<Vec<Vec<String>>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, v: &'g Vec<String>) {
            self.index.insert(v, (self.next, self.next));
            self.next += 1;
            self.stack.push(v);
            for w in &self.graph[v] {
                let w = self.graph.get_key_value(w).unwrap().0;
                match self.index.get(w).copied() {
                    None => {
                        self.visit(w);
                        let low = self.index[w].1.min(self.index[v].1);
                        self.index.get_mut(v).unwrap().1 = low;
                    }
                    Some((wi, _)) if self.stack.contains(&w) => {
                        let low = wi.min(self.index[v].1);
                        self.index.get_mut(v).unwrap().1 = low;
                    }
                    Some(_) => {}
                }
            }
            let (vi, vl) = self.index[v];
            if vi == vl {
                let at = self.stack.iter().rposition(|x| *x == v).unwrap();
                let comp: Vec<Vec<String>> = self.stack.drain(at..).cloned().collect();
                if comp.len() > 1 {
                    self.out.push(comp);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.out
}

fn crate_modules() -> Vec<(&'static str, Modules)> {
    CRATES
        .iter()
        .map(|c| (*c, modules(&root().join(c).join("src"))))
        .collect()
}

#[test]
fn no_crate_has_a_module_circle() {
    let mut found = Vec::new();
    for (name, mods) in crate_modules() {
        for comp in circles(&edges(&mods)) {
            let files: Vec<String> = comp
                .iter()
                .map(|m| mods[m].strip_prefix(root()).unwrap().display().to_string())
                .collect();
            found.push(format!("{name}: {}", files.join(" ↔ ")));
        }
    }
    assert!(
        found.is_empty(),
        "module circles (give the piece both need a home of its own):\n{}",
        found.join("\n")
    );
}

/// The checker itself: a circle made on purpose is found, and named.
#[test]
fn a_circle_is_found_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\nmod c;\n").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::b::{self, Thing};\n").unwrap();
    std::fs::write(
        src.join("b.rs"),
        "// crate::c is a comment\nfn f() { let s = \"crate::c\"; super::a::g(); }\n",
    )
    .unwrap();
    std::fs::write(src.join("c.rs"), "use crate::a;\n").unwrap();
    let mods = modules(src);
    let found = circles(&edges(&mods));
    assert_eq!(found.len(), 1, "{found:?}");
    let mut names: Vec<String> = found[0].iter().map(|m| m.join("::")).collect();
    names.sort();
    assert_eq!(names, ["a", "b"]);
}

/// Non-test source files, with their text.
fn sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (_, mods) in crate_modules() {
        for file in mods.values() {
            let rel = file.strip_prefix(root()).unwrap().display().to_string();
            out.push((rel, std::fs::read_to_string(file).unwrap()));
        }
    }
    out
}

#[test]
fn files_are_a_sitting_long() {
    let long: Vec<(String, usize, String)> = sources()
        .into_iter()
        .map(|(f, text)| {
            let first = text.lines().next().unwrap_or("").to_string();
            (f, text.lines().count(), first)
        })
        .filter(|(_, n, _)| *n > MAX_FILE_LINES)
        .collect();
    let listed: Vec<String> = long.iter().map(|(f, n, _)| format!("{f} ({n})")).collect();
    assert!(
        long.len() <= MAX_LONG_FILES,
        "{} files over {MAX_FILE_LINES} lines (at most {MAX_LONG_FILES}); split them by job: {listed:?}",
        long.len()
    );
    for (f, _, first) in &long {
        assert!(
            first.starts_with("//!") && first.contains("one piece"),
            "{f} is over {MAX_FILE_LINES} lines: its first line must say why it is one piece"
        );
    }
}

#[test]
fn functions_are_short() {
    let mut long = Vec::new();
    for (file, text) in sources() {
        let code = code_only(&text);
        for (at, _) in code.match_indices("fn ") {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let Some(open) = code[at..].find(['{', ';']).map(|n| at + n) else {
                continue;
            };
            if code.as_bytes()[open] != b'{' {
                continue;
            }
            let Some(end) = matching_brace(&code, open) else {
                continue;
            };
            let lines = code[at..end].lines().count();
            if lines > MAX_FN_LINES {
                let line = code[..at].lines().count() + 1;
                let name: String = code[at + 3..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                long.push(format!("{file}:{line} {name} ({lines} lines)"));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines:\n{}",
        long.join("\n")
    );
}
