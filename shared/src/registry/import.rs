//! Judging registry files. Each file is accepted, accepted with warnings, or rejected with
//! reasons that name the file, the line, the field and the problem. Nothing here panics or
//! stops on bad input: one broken file never costs another file its mirror.
//!
//! The rules each field is judged by are in `judge.rs`.

use super::judge::Judge;
use super::Mirror;
use serde::Serialize;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// Registry files are a few hundred bytes; anything over this is refused unread.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Text one import may expand to over all its files, aliases included. Each file is bounded
/// (8 MiB expanded), but five hundred of them must not swell the store and every snapshot to
/// gigabytes; the real registry's 530 files expand to well under 1 MiB.
pub const MAX_IMPORT_BYTES: usize = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileOutcome {
    Accepted,
    AcceptedWithWarnings,
    Rejected,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub file: String,
    pub outcome: FileOutcome,
    /// The mirror's name, when one could be read.
    pub name: Option<String>,
    /// Each message reads `<file>: line N: <field>: <problem>`.
    pub messages: Vec<String>,
    /// The text the file expanded to, aliases included (0 when it was not read).
    #[serde(skip)]
    pub expanded_bytes: usize,
    /// How many of `messages`, from the first, are rejections (the rest are warnings).
    #[serde(skip)]
    pub errors: usize,
}

impl FileReport {
    /// Rejects the file for `message` (after its other rejections, before its warnings).
    pub fn reject(&mut self, message: String) {
        self.outcome = FileOutcome::Rejected;
        self.messages.insert(self.errors, message);
        self.errors += 1;
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub files: Vec<FileReport>,
    #[serde(skip)]
    pub mirrors: Vec<Mirror>,
}

impl ImportReport {
    pub fn count(&self, outcome: FileOutcome) -> usize {
        self.files.iter().filter(|f| f.outcome == outcome).count()
    }

    /// `530 files: 510 accepted, 17 accepted with warnings, 3 rejected`.
    pub fn summary(&self) -> String {
        format!(
            "{} files: {} accepted, {} accepted with warnings, {} rejected",
            self.files.len(),
            self.count(FileOutcome::Accepted),
            self.count(FileOutcome::AcceptedWithWarnings),
            self.count(FileOutcome::Rejected)
        )
    }

    /// One line per file that was not accepted cleanly, then its messages indented.
    pub fn details(&self) -> String {
        let mut out = String::new();
        for f in self
            .files
            .iter()
            .filter(|f| f.outcome != FileOutcome::Accepted)
        {
            let word = match f.outcome {
                FileOutcome::Rejected => "rejected",
                _ => "warnings",
            };
            out.push_str(&format!("{word}: {}\n", f.file));
            for m in &f.messages {
                out.push_str(&format!("  {m}\n"));
            }
        }
        out
    }
}

/// Imports every `*.yml` / `*.yaml` file of a directory (not recursive), in name order, under
/// the default [`super::Rules`].
pub fn import_dir(dir: &Path) -> std::io::Result<ImportReport> {
    import_dir_with(dir, &super::Rules::default())
}

/// [`import_dir`] under `rules`.
pub fn import_dir_with(dir: &Path, rules: &super::Rules) -> std::io::Result<ImportReport> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")))
        .collect();
    paths.sort();
    let folder = std::fs::canonicalize(dir)?;
    let mut judged: Vec<(FileReport, Option<Mirror>)> = Vec::new();
    for path in paths {
        let file = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        judged.push(match leaves(&path, &folder) {
            Some(to) => rejected(
                &file,
                format!("a link out of the registry folder (to {to}); not followed"),
            ),
            None => import_file_with(&path, &file, rules),
        });
    }
    bound_the_whole(&mut judged);
    // A mirror two files name is taken from neither: sorted first must not win.
    let mut by_name: HashMap<String, Vec<String>> = HashMap::new();
    for (r, m) in &judged {
        if let Some(m) = m {
            by_name
                .entry(m.name.clone())
                .or_default()
                .push(r.file.clone());
        }
    }
    let mut report = ImportReport::default();
    for (mut file_report, mirror) in judged {
        if let Some(mirror) = mirror {
            let files = &by_name[&mirror.name];
            if files.len() > 1 {
                let others: Vec<&str> = files
                    .iter()
                    .filter(|f| **f != file_report.file)
                    .map(String::as_str)
                    .collect();
                let message = format!(
                    "{}: name: {} is also registered by {}; neither file is taken",
                    file_report.file,
                    mirror.name,
                    others.join(", ")
                );
                file_report.reject(message);
            } else {
                report.mirrors.push(mirror);
            }
        }
        report.files.push(file_report);
    }
    Ok(report)
}

/// Refuses the accepted files that expand most until the rest fit in [`MAX_IMPORT_BYTES`]:
/// a few swollen files cost their own mirrors, never everyone else's.
fn bound_the_whole(judged: &mut [(FileReport, Option<Mirror>)]) {
    let mut total: usize = judged
        .iter()
        .filter(|(_, m)| m.is_some())
        .map(|(r, _)| r.expanded_bytes)
        .sum();
    if total <= MAX_IMPORT_BYTES {
        return;
    }
    let whole = total;
    let mut largest: Vec<usize> = (0..judged.len())
        .filter(|&i| judged[i].1.is_some())
        .collect();
    largest.sort_by_key(|&i| std::cmp::Reverse(judged[i].0.expanded_bytes));
    for i in largest {
        if total <= MAX_IMPORT_BYTES {
            break;
        }
        let (report, mirror) = &mut judged[i];
        total -= report.expanded_bytes;
        *mirror = None;
        let message = format!(
            "{}: the registry's files expand to {} MiB of text, more than the {} MiB one import \
             takes; the largest are refused first, and this one expands to {} KiB",
            report.file,
            whole >> 20,
            MAX_IMPORT_BYTES >> 20,
            report.expanded_bytes >> 10
        );
        report.reject(message);
    }
}

/// Where `path` leads when it is a link out of `folder` (canonical), else `None`.
fn leaves(path: &Path, folder: &Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_symlink() {
        return None;
    }
    match std::fs::canonicalize(path) {
        Ok(target) if target.starts_with(folder) => None,
        Ok(target) => Some(target.display().to_string()),
        Err(_) => Some("nowhere".into()),
    }
}

/// A file's report when it is refused before it is read.
fn rejected(shown: &str, message: String) -> (FileReport, Option<Mirror>) {
    (
        FileReport {
            file: shown.to_string(),
            outcome: FileOutcome::Rejected,
            name: None,
            messages: vec![format!("{shown}: {message}")],
            expanded_bytes: 0,
            errors: 1,
        },
        None,
    )
}

/// Reads and judges one file. `shown` is how the file is named in messages.
pub fn import_file(path: &Path, shown: &str) -> (FileReport, Option<Mirror>) {
    import_file_with(path, shown, &super::Rules::default())
}

fn import_file_with(
    path: &Path,
    shown: &str,
    rules: &super::Rules,
) -> (FileReport, Option<Mirror>) {
    let reject = |message: String| rejected(shown, message);
    // Opening a FIFO or a device could block forever: regular files only.
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => {
            return reject("not a regular file (a FIFO, a device or a folder); skipped".into())
        }
        Err(e) => return reject(format!("cannot read the file: {e}")),
    }
    let mut bytes = Vec::new();
    let read =
        std::fs::File::open(path).and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        return reject(format!("cannot read the file: {e}"));
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return reject(format!(
            "the file is larger than {} KiB; a registry file describes one mirror",
            MAX_FILE_BYTES / 1024
        ));
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return reject("the file is not UTF-8 text".into());
    };
    let (report, mut mirror) = judge_with(&text, shown, rules);
    if let Some(m) = &mut mirror {
        m.source_file = path.file_name().map(|n| n.to_string_lossy().into_owned());
    }
    (report, mirror)
}

/// Judges the text of one registry file under the default [`super::Rules`].
#[cfg(test)]
pub fn judge(text: &str, shown: &str) -> (FileReport, Option<Mirror>) {
    judge_with(text, shown, &super::Rules::default())
}

/// Judges the text of one registry file under `rules`.
pub fn judge_with(text: &str, shown: &str, rules: &super::Rules) -> (FileReport, Option<Mirror>) {
    let mut j = Judge {
        rules,
        shown,
        errors: Vec::new(),
        warnings: Vec::new(),
        expanded: 0,
    };
    let mirror = j.mirror(text);
    let name = mirror
        .as_ref()
        .map(|m| m.name.clone())
        .or_else(|| j.name_hint(text));
    let outcome = if !j.errors.is_empty() {
        FileOutcome::Rejected
    } else if j.warnings.is_empty() {
        FileOutcome::Accepted
    } else {
        FileOutcome::AcceptedWithWarnings
    };
    let errors = j.errors.len();
    let mut messages = j.errors;
    messages.extend(j.warnings);
    let mirror = if outcome == FileOutcome::Rejected {
        None
    } else {
        mirror
    };
    (
        FileReport {
            file: shown.to_string(),
            outcome,
            name,
            messages,
            expanded_bytes: j.expanded,
            errors,
        },
        mirror,
    )
}

#[cfg(test)]
mod tests;
