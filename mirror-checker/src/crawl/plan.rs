//! What one check of a mirror looks at: a repomd.xml per directory it should carry and web
//! protocol it has a URL for, what its earlier checks saw of each (for conditional requests
//! and the content finding), and on the polite schedule only the directories due
//! ([`super::select`]).

use super::check::Task;
use super::{CrawlConfig, CrawlInput, Seen};
use shared::model::Family;
use shared::registry::{Mirror, Protocol};
use std::collections::{HashMap, HashSet};
use store::CheckRecord;
use url::Url;

/// Every repomd.xml the mirror should serve.
pub(super) fn tasks(input: &CrawlInput, mirror: &Mirror) -> Vec<Task> {
    let mut tasks = Vec::new();
    for protocol in [Protocol::Http, Protocol::Https] {
        for (_, d) in input.catalog.mirrored() {
            let (Some(base), Some(&directory_id)) = (
                mirror.base_url(d.module.as_deref(), protocol),
                input.directory_ids.get(&d.path),
            ) else {
                continue;
            };
            let Ok(url) = Url::parse(&format!("{base}{}/repodata/repomd.xml", d.path)) else {
                continue;
            };
            tasks.push(Task {
                directory_id,
                protocol,
                url,
            });
        }
    }
    tasks
}

/// What the mirror's earlier checks saw.
#[derive(Default)]
pub(super) struct Earlier {
    /// By (directory, protocol, family).
    pub previous: HashMap<(i64, Protocol, Family), Seen>,
    /// The family-neutral results, for the content finding over what this check does not
    /// look at again.
    pub neutral: Vec<CheckRecord>,
}

impl Earlier {
    pub fn add(&mut self, c: CheckRecord) {
        let seen = Seen {
            timestamp: c.timestamp_seen,
            sha256: c.sha256_seen.clone(),
            etag: c.etag.clone(),
            last_modified: c.last_modified.clone(),
            outcome: Some(c.outcome),
            checked_at: Some(c.checked_at),
        };
        self.previous
            .insert((c.directory_id, c.protocol, c.family), seen);
        if c.family == Family::Any {
            self.neutral.push(c);
        }
    }
}

/// Keeps the tasks the polite schedule says are due. `synced_since`: the mirror's TIME file
/// changed since its last check.
pub(super) fn retain_due(
    tasks: &mut Vec<Task>,
    input: &CrawlInput,
    config: &CrawlConfig,
    previous: &HashMap<(i64, Protocol, Family), Seen>,
    synced_since: bool,
    now: i64,
) {
    let rule = super::select::Rule {
        base: config.recheck_base.as_secs() as i64,
        sweep: config.sweep_interval.as_secs() as i64,
    };
    tasks.retain(|t| {
        let master = input
            .history
            .get(&t.directory_id)
            .and_then(|h| h.first())
            .map(|v| super::select::Master {
                sha256: &v.sha256,
                published: v.first_seen,
            });
        super::select::due(
            rule,
            previous.get(&(t.directory_id, t.protocol, Family::Any)),
            master,
            synced_since,
            now,
        )
    });
}

/// This check's results over the earlier ones, for every directory the mirror carries
/// (what the content finding reads on the polite schedule).
pub(super) fn merged(
    checks: &[CheckRecord],
    earlier: Vec<CheckRecord>,
    carried: &HashSet<(i64, Protocol)>,
) -> Vec<CheckRecord> {
    let fresh: HashSet<(i64, Protocol)> = checks
        .iter()
        .map(|c| (c.directory_id, c.protocol))
        .collect();
    let mut all = checks.to_vec();
    all.extend(earlier.into_iter().filter(|c| {
        carried.contains(&(c.directory_id, c.protocol))
            && !fresh.contains(&(c.directory_id, c.protocol))
    }));
    all
}
