//! The polite schedule's benchmark: requests per mirror per day, and how soon a publication
//! is seen, on the simulated AlmaLinux network (its real registry and catalog, every mirror
//! current, one in ten syncing one version behind).
//!
//! A day is 96 checks of every mirror, 15 minutes apart, run back to back with the clock the
//! schedule reads set to each check's time (what is due, and the times recorded): the
//! requests are real, sent to the simulator and counted there; only the waiting between
//! checks is skipped. The schedule from before (every directory at every check) is measured
//! over its first hour (4 checks) in the same process, on the same simulator, and
//! extrapolated to the day (x 24: it does the same at every check).
//!
//! `./scripts/bench-schedule` runs it; `cargo run --release -p mirror-checker --example
//! schedule_day -- REGISTRY_DIR CONFIG_YML`.

use mirror_checker::config::Config;
use mirror_checker::service::Checker;
use mirror_sim::{Behavior, Families, Mix, Profile, Sim, SimOptions};
use shared::catalog::Catalog;
use shared::duration::Human;
use shared::model::CheckOutcome;
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;

const CHECK: i64 = 900;
const CHECKS_PER_DAY: i64 = 96;

async fn checker(sim: &Sim, catalog: &Catalog, dir: &std::path::Path, sweep: Human) -> Checker {
    // The settings the simulator writes for a checker: its master, routes and CA.
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, sim.ca_pem()).unwrap();
    let mut config: Config = toml::from_str(&format!(
        "database = {:?}\nsnapshot_path = {:?}\n{}",
        format!("sqlite://{}", dir.join("state.db").display()),
        dir.join("snapshot.bin").display().to_string(),
        mirror_sim::cli::checker_settings(sim, &ca)
    ))
    .unwrap();
    config.crawl.sweep_interval = sweep;
    config.crawl.recheck_base = Human::secs(CHECK as u64);
    let checker = Checker::new(config).await.unwrap();
    checker.store.save_catalog(catalog).await.unwrap();
    checker
}

fn per_mirror_per_day(requests: u64, mirrors: usize, checks: i64) -> f64 {
    requests as f64 / mirrors as f64 * (CHECKS_PER_DAY as f64 / checks as f64)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (registry, config_yml) = match args.as_slice() {
        [_, r, c] => (r.clone(), c.clone()),
        _ => {
            eprintln!("usage: schedule_day REGISTRY_DIR ALMALINUX_CONFIG_YML");
            std::process::exit(2);
        }
    };
    let spec = shared::catalog::import_almalinux(std::path::Path::new(&config_yml)).unwrap();
    let catalog = Catalog::from_spec(spec).unwrap();
    let mirrors = shared::registry::import_dir(std::path::Path::new(&registry))
        .unwrap()
        .mirrors;
    let enabled = mirrors.iter().filter(|m| m.enabled).count();
    // One mirror in ten syncs a version behind.
    let overrides: HashMap<String, Profile> = mirrors
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 10 == 0)
        .map(|(_, m)| {
            (
                m.name.clone(),
                Profile {
                    behavior: Behavior::Behind(1),
                    families: Families::Dual,
                },
            )
        })
        .collect();
    let behind: Vec<String> = overrides.keys().cloned().collect();
    let sim = Sim::start(
        &catalog,
        &mirrors,
        SimOptions {
            mix: Mix::AllCurrent,
            overrides,
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let cancel = CancellationToken::new();
    let t0 = shared::time::now();
    println!(
        "network: {enabled} enabled mirrors of {}; {} directories",
        mirrors.len(),
        catalog.mirrored().count()
    );

    // Before: every directory at every check, its first hour.
    let dir = tempfile::tempdir().unwrap();
    let before = checker(&sim, &catalog, dir.path(), Human::secs(0)).await;
    before.store.apply_registry(&mirrors, true).await.unwrap();
    before.crawl_on_schedule_at(t0, &cancel).await.unwrap();
    let start = sim.total_requests();
    let clock = std::time::Instant::now();
    for k in 1..=4 {
        before
            .crawl_on_schedule_at(t0 + k * CHECK, &cancel)
            .await
            .unwrap();
    }
    let old = sim.total_requests() - start;
    let old_day = per_mirror_per_day(old, enabled, 4);
    println!(
        "before (every directory at every check): {old} requests in 4 checks ({:.0} s); {old_day:.0} per mirror per day (x 24)",
        clock.elapsed().as_secs_f64()
    );
    drop(before);

    // After: the polite schedule, a whole day after the first check.
    let dir = tempfile::tempdir().unwrap();
    let after = checker(&sim, &catalog, dir.path(), Human::secs(6 * 3600)).await;
    after.store.apply_registry(&mirrors, true).await.unwrap();
    let first = sim.total_requests();
    after.crawl_on_schedule_at(t0, &cancel).await.unwrap();
    let first_check = sim.total_requests() - first;
    let start = sim.total_requests();
    let clock = std::time::Instant::now();
    let mut heavy = Vec::new();
    for k in 1..=CHECKS_PER_DAY {
        let before = sim.total_requests();
        after
            .crawl_on_schedule_at(t0 + k * CHECK, &cancel)
            .await
            .unwrap();
        let spent = sim.total_requests() - before;
        if spent > 10 * enabled as u64 {
            heavy.push((k, spent));
        }
    }
    let new = sim.total_requests() - start;
    let new_day = per_mirror_per_day(new, enabled, CHECKS_PER_DAY);
    println!(
        "after (polite schedule, sweep every 6 h): {new} requests in {CHECKS_PER_DAY} checks ({:.0} s); {new_day:.0} per mirror per day; the sweeps at checks {:?}",
        clock.elapsed().as_secs_f64(),
        heavy
    );
    println!(
        "first check of a new deployment (every directory, every file of every copy): {first_check} requests, {:.0} per mirror",
        first_check as f64 / enabled as f64
    );
    println!(
        "reduction: {:.1}x fewer requests per mirror per day",
        old_day / new_day
    );

    // A publication: the next check must see it everywhere.
    let published_at = t0 + (CHECKS_PER_DAY + 1) * CHECK - 60;
    sim.publish();
    let before_pub = sim.total_requests();
    let at = published_at + 60;
    let summary = after.crawl_on_schedule_at(at, &cancel).await.unwrap();
    let spent = sim.total_requests() - before_pub;
    let checks = after.store.load_checks().await.unwrap();
    let names: HashMap<i64, String> = after
        .store
        .load_mirrors_with_ids()
        .await
        .unwrap()
        .into_iter()
        .map(|(id, m)| (id, m.name))
        .collect();
    let (mut current_seen, mut current_all, mut behind_seen, mut behind_all) = (0, 0, 0, 0);
    for c in checks
        .iter()
        .filter(|c| c.family == shared::model::Family::Any && c.outcome != CheckOutcome::Missing)
    {
        let lagging = behind.contains(&names[&c.mirror_id]);
        let fresh = c.checked_at == at;
        if lagging {
            behind_all += 1;
            behind_seen += usize::from(fresh && c.outcome == CheckOutcome::Behind);
        } else {
            current_all += 1;
            current_seen += usize::from(fresh && c.outcome == CheckOutcome::Current);
        }
    }
    println!(
        "publication of every directory, checked 1 min later: current mirrors seen on the new version {current_seen} of {current_all} pairs; mirrors a version behind seen behind {behind_seen} of {behind_all}; {spent} requests ({} repomd.xml checks, the rest files of new copies and TIME)",
        summary.judgement.run.checks
    );
}
