//! The network as the operator's commands list it: `mirrors` (every mirror's state and
//! last check) and `propagation` (how the master's versions reached the mirrors).

use super::snapshot_now;
use crate::error::{Error, Result};
use shared::snapshot::{self};
use store::Store;

/// One version's propagation as `propagation DIR --json` prints it.
#[derive(serde::Serialize)]
struct VersionReport {
    sha256: String,
    published_at: i64,
    carriers: u32,
    arrived: u32,
    p50: Option<i64>,
    p90: Option<i64>,
    p99: Option<i64>,
    behind: Vec<String>,
}

/// `propagation [DIR]`.
pub async fn propagation(
    store: &Store,
    directory: Option<&str>,
    versions: usize,
    json: bool,
) -> Result<()> {
    let now = shared::time::now();
    let within = |t: Option<i64>| {
        t.map_or("not yet".to_string(), |s| {
            shared::duration::human_age(s.max(0) as u64)
        })
    };
    let Some(path) = directory else {
        let all = shared::status::propagation(&snapshot_now(store).await?);
        if json {
            say!(
                "{}",
                serde_json::to_string_pretty(&all).expect("serializable")
            );
            return Ok(());
        }
        let width = all.iter().map(|p| p.path.len()).max().unwrap_or(9).max(9);
        say!(
            "{:<width$}  {:<10}  {:>9}  {:>7}  {:>7}  {:>7}  STILL BEHIND",
            "DIRECTORY",
            "PUBLISHED",
            "SERVING",
            "50%",
            "90%",
            "99%"
        );
        for p in &all {
            say!(
                "{:<width$}  {:<10}  {:>9}  {:>7}  {:>7}  {:>7}  {}",
                p.path,
                format!(
                    "{} ago",
                    shared::duration::human_age((now - p.published_at).max(0) as u64)
                ),
                format!("{}/{}", p.arrived, p.carriers),
                within(p.p50),
                within(p.p90),
                within(p.p99),
                match p.behind_count as usize {
                    0 => "none".to_string(),
                    n if n > p.behind.len() => {
                        format!("{} and {} more", p.behind.join(", "), n - p.behind.len())
                    }
                    _ => p.behind.join(", "),
                }
            );
        }
        say!(
            "SERVING: mirrors serving the current version (or a newer one) of those watched since \
             before its publication; 50/90/99%: how long after the publication that share of them \
             did. `propagation DIR` gives a directory's last versions."
        );
        return Ok(());
    };
    let input = store.snapshot_input().await?.ok_or(Error::NoCatalog)?;
    if !input.directory_ids.contains_key(path) {
        return Err(Error::Usage(format!(
            "no directory {path:?} in the catalog (`propagation` lists them)"
        )));
    }
    let reports: Vec<VersionReport> = snapshot::build::propagation_of(&input, path, versions)
        .into_iter()
        .map(|p| VersionReport {
            behind: p
                .behind
                .iter()
                .filter_map(|i| input.mirrors.get(*i as usize).map(|(_, m)| m.name.clone()))
                .collect(),
            sha256: p.sha256,
            published_at: p.published_at,
            carriers: p.carriers,
            arrived: p.arrived,
            p50: p.p50,
            p90: p.p90,
            p99: p.p99,
        })
        .collect();
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&reports).expect("serializable")
        );
        return Ok(());
    }
    say!("{path}: the last {} versions, newest first", reports.len());
    for r in &reports {
        say!(
            "  {} published {} ({}): {} of {} mirrors serve it; 50% after {}, 90% after {}, 99% after {}",
            &r.sha256[..r.sha256.len().min(12)],
            format!("{} ago", shared::duration::human_age((now - r.published_at).max(0) as u64)),
            shared::duration::utc_minute(r.published_at),
            r.arrived,
            r.carriers,
            within(r.p50),
            within(r.p90),
            within(r.p99)
        );
        if !r.behind.is_empty() {
            say!("    still behind: {}", r.behind.join(", "));
        }
    }
    Ok(())
}

/// `mirrors`: every mirror (or those matching the filters) with its state.
pub async fn list(
    store: &Store,
    state: Option<crate::cli::StateFilter>,
    country: Option<&str>,
    json: bool,
) -> Result<()> {
    use crate::cli::StateFilter;
    use shared::status::MirrorState;
    let network = shared::status::network(&snapshot_now(store).await?);
    let rows: Vec<_> = network
        .mirrors
        .iter()
        .filter(|m| match state {
            None => true,
            Some(StateFilter::Served) => m.state == MirrorState::Served,
            Some(StateFilter::Partly) => m.state == MirrorState::Partly,
            Some(StateFilter::NotServed) => m.state == MirrorState::NotServed,
            Some(StateFilter::Unserved) => m.state != MirrorState::Served,
        })
        .filter(|m| {
            country.is_none_or(|c| {
                m.country
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(c))
            })
        })
        .collect();
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&rows).expect("serializable")
        );
        return Ok(());
    }
    let width = rows.iter().map(|m| m.name.len()).max().unwrap_or(6).max(6);
    say!(
        "{:<width$}  {:<7}  {:<13}  {:>9}  {:>7}  {:<12}  WHY NOT / SERVED TO",
        "MIRROR",
        "COUNTRY",
        "STATE",
        "SERVED",
        "LAG",
        "CHECKED"
    );
    let now = shared::time::now();
    for m in &rows {
        say!(
            "{:<width$}  {:<7}  {:<13}  {:>9}  {:>7}  {:<12}  {}",
            m.name,
            m.country.as_deref().unwrap_or("?"),
            m.state.as_str(),
            format!("{}/{}", m.current + m.behind, m.checked_pairs),
            match m.lag_seconds {
                Some(0) => "0".to_string(),
                Some(s) => shared::duration::human_age(s.max(0) as u64),
                None => "?".to_string(),
            },
            m.checked_at.map_or("never".to_string(), |t| format!(
                "{} ago",
                shared::duration::human_age((now - t).max(0) as u64)
            )),
            m.reason.as_deref().unwrap_or(&m.audience)
        );
    }
    say!(
        "{} of {} mirrors listed; {} served. LAG: how long ago the master published the first \
         version its worst directory lacks. `status NAME` says why, directory by directory.",
        rows.len(),
        network.mirrors_total,
        network.mirrors_served
    );
    Ok(())
}
