//! The deployment files, checked against the programs: every environment variable the docs
//! and deployment files name is one the programs read; the Kubernetes manifests hold
//! together (probes on declared ports, selectors matching pods, volumes and ConfigMaps and
//! Secrets that exist, non-root, the settings accepted by the programs themselves); the
//! Containerfile builds locked, runs as a user of its own and has a health check. No cluster
//! or image build is needed for that.

use e2e::*;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use yaml_rust2::{Yaml, YamlLoader};

const LIMIT: Duration = Duration::from_secs(60);

/// The environment variables a program reads: its `--help`'s `[env: NAME=]`.
fn env_names(program: &str) -> BTreeSet<String> {
    let mut cmd = Command::new(workspace_bin(program));
    cmd.arg("--help");
    let help = run_ok(cmd, LIMIT).stdout;
    help.split("[env: ")
        .skip(1)
        .filter_map(|rest| rest.split(['=', ']']).next())
        .map(str::to_string)
        .collect()
}

fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            text_files(&path, out);
        } else if fs::read_to_string(&path).is_ok() {
            out.push(path);
        }
    }
}

/// `MIRRORLIST_...` and `MIRROR_CHECKER_...` words of `text` (a bare prefix left out).
fn env_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in ["MIRRORLIST_", "MIRROR_CHECKER_"] {
        for (at, _) in text.match_indices(prefix) {
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let word: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !word.ends_with('_') {
                out.push(word);
            }
        }
    }
    out
}

#[test]
fn every_environment_variable_the_docs_name_is_read() {
    let mut known = env_names("mirrorlist-server");
    known.extend(env_names("mirror-checker"));
    assert!(known.contains("MIRRORLIST_SNAPSHOT_URL"), "{known:?}");
    let root = project_root();
    let mut files = vec![
        root.join("README.md"),
        root.join("ARCHITECTURE.md"),
        root.join("Containerfile"),
    ];
    text_files(&root.join("deploy"), &mut files);
    text_files(&root.join("docs"), &mut files);
    let mut unknown = Vec::new();
    for f in &files {
        for word in env_words(&fs::read_to_string(f).unwrap()) {
            if !known.contains(&word) {
                unknown.push(format!(
                    "{}: {word}",
                    f.strip_prefix(&root).unwrap().display()
                ));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "not read by either program: {unknown:#?}"
    );
}

#[test]
fn env_words_are_found_whole() {
    assert_eq!(
        env_words(
            "a MIRRORLIST_GEOIP=x, prefix MIRRORLIST_ and XMIRRORLIST_NO `MIRROR_CHECKER_DATABASE`"
        ),
        ["MIRRORLIST_GEOIP", "MIRROR_CHECKER_DATABASE"]
    );
}

/// Every document of every manifest in deploy/kubernetes (but the kustomization).
fn manifests() -> Vec<Yaml> {
    let dir = project_root().join("deploy/kubernetes");
    let kustomization =
        YamlLoader::load_from_str(&fs::read_to_string(dir.join("kustomization.yaml")).unwrap())
            .unwrap();
    let listed: Vec<&str> = kustomization[0]["resources"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let mut files: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    files.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(files, sorted, "the kustomization lists every manifest");
    listed
        .iter()
        .flat_map(|f| YamlLoader::load_from_str(&fs::read_to_string(dir.join(f)).unwrap()).unwrap())
        .collect()
}

fn find<'a>(docs: &'a [Yaml], kind: &str, name: &str) -> &'a Yaml {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn strs(y: &Yaml) -> Vec<&str> {
    y.as_vec()
        .map(|v| v.iter().filter_map(Yaml::as_str).collect())
        .unwrap_or_default()
}

/// A workload's pod template holds together: labels match the selector, it runs as
/// non-root, every volume mount names a volume, every ConfigMap and Secret a volume or an
/// environment variable names exists, every probe's port is declared. Returns the one
/// container.
fn pod<'a>(docs: &[Yaml], workload: &'a Yaml) -> &'a Yaml {
    let name = workload["metadata"]["name"].as_str().unwrap();
    let template = &workload["spec"]["template"];
    let selector = workload["spec"]["selector"]["matchLabels"]
        .as_hash()
        .unwrap();
    for (k, v) in selector {
        assert_eq!(
            &template["metadata"]["labels"][k.as_str().unwrap()],
            v,
            "{name}"
        );
    }
    let spec = &template["spec"];
    assert_eq!(
        spec["securityContext"]["runAsNonRoot"].as_bool(),
        Some(true),
        "{name}"
    );
    let containers = spec["containers"].as_vec().unwrap();
    assert_eq!(containers.len(), 1, "{name}");
    let c = &containers[0];
    assert_eq!(
        c["securityContext"]["allowPrivilegeEscalation"].as_bool(),
        Some(false)
    );
    assert_eq!(
        c["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true)
    );
    let volumes = spec["volumes"].as_vec().unwrap();
    for m in c["volumeMounts"].as_vec().unwrap() {
        let v = m["name"].as_str().unwrap();
        let volume = volumes
            .iter()
            .find(|x| x["name"].as_str() == Some(v))
            .unwrap_or_else(|| panic!("{name}: no volume {v}"));
        if let Some(cm) = volume["configMap"]["name"].as_str() {
            find(docs, "ConfigMap", cm);
        }
        if let Some(s) = volume["secret"]["secretName"].as_str() {
            find(docs, "Secret", s);
        }
    }
    for e in c["env"].as_vec().into_iter().flatten() {
        if let Some(s) = e["valueFrom"]["secretKeyRef"]["name"].as_str() {
            let key = e["valueFrom"]["secretKeyRef"]["key"].as_str().unwrap();
            assert!(
                !find(docs, "Secret", s)["stringData"][key].is_badvalue(),
                "{s}.{key}"
            );
        }
    }
    let ports: Vec<&str> = c["ports"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
        let p = &c[probe];
        if p.is_badvalue() {
            continue;
        }
        let port = p["httpGet"]["port"]
            .as_str()
            .or(p["tcpSocket"]["port"].as_str());
        assert!(
            port.is_some_and(|x| ports.contains(&x)),
            "{name} {probe}: {port:?}"
        );
    }
    c
}

/// `mirrorlist-server --check` of the example network's snapshot succeeds with these
/// settings (and no other environment): clap parses each.
fn server_accepts<'a>(settings: impl Iterator<Item = (&'a str, &'a str)>) {
    let dir = test_dir();
    let example = example_snapshot(dir.path());
    let mut check = Command::new(workspace_bin("mirrorlist-server"));
    check
        .env_clear()
        .arg("--check")
        .arg("--snapshot")
        .arg(&example);
    for (n, v) in settings {
        check.env(n, v);
    }
    run_ok(check, LIMIT);
}

/// The value of a container's plain environment variable.
fn env<'a>(c: &'a Yaml, name: &str) -> Option<&'a str> {
    c["env"]
        .as_vec()?
        .iter()
        .find(|e| e["name"].as_str() == Some(name))?["value"]
        .as_str()
}

#[test]
fn the_kubernetes_manifests_hold_together() {
    let docs = manifests();
    for d in &docs {
        for field in ["apiVersion", "kind"] {
            assert!(d[field].as_str().is_some(), "{field} missing: {d:?}");
        }
        assert!(d["metadata"]["name"].as_str().is_some(), "{d:?}");
    }

    // The server: a Deployment ready on /readyz, behind a Service, with a PDB and an HPA.
    let server = find(&docs, "Deployment", "mirrorlist-server");
    let c = pod(&docs, server);
    assert_eq!(
        c["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/readyz")
    );
    assert_eq!(
        c["livenessProbe"]["httpGet"]["path"].as_str(),
        Some("/healthz")
    );
    let labels = &server["spec"]["template"]["metadata"]["labels"];
    for kind in ["Service", "PodDisruptionBudget"] {
        let d = find(&docs, kind, "mirrorlist-server");
        let selector = if kind == "Service" {
            &d["spec"]["selector"]
        } else {
            &d["spec"]["selector"]["matchLabels"]
        };
        for (k, v) in selector.as_hash().unwrap() {
            assert_eq!(&labels[k.as_str().unwrap()], v, "{kind}");
        }
    }
    let service = find(&docs, "Service", "mirrorlist-server");
    let target = service["spec"]["ports"][0]["targetPort"].as_str().unwrap();
    assert!(c["ports"]
        .as_vec()
        .unwrap()
        .iter()
        .any(|p| p["name"].as_str() == Some(target)));
    let hpa = find(&docs, "HorizontalPodAutoscaler", "mirrorlist-server");
    assert_eq!(
        hpa["spec"]["scaleTargetRef"]["kind"].as_str(),
        Some("Deployment")
    );
    assert_eq!(
        hpa["spec"]["scaleTargetRef"]["name"].as_str(),
        Some("mirrorlist-server")
    );
    let replicas = server["spec"]["replicas"].as_i64().unwrap();
    assert!(hpa["spec"]["minReplicas"].as_i64().unwrap() <= replicas);
    assert!(
        hpa["spec"]["minReplicas"].as_i64().unwrap() >= 2,
        "a PDB needs two"
    );

    // It is fed by the checkers, by name, and verifies with a key a volume provides.
    let checker = find(&docs, "StatefulSet", "mirror-checker");
    let k = pod(&docs, checker);
    let checkers = checker["spec"]["replicas"].as_i64().unwrap();
    let service_name = checker["spec"]["serviceName"].as_str().unwrap();
    assert!(find(&docs, "Service", service_name)["spec"]["clusterIP"].as_str() == Some("None"));
    let urls: Vec<&str> = env(c, "MIRRORLIST_SNAPSHOT_URL")
        .unwrap()
        .split(',')
        .collect();
    let expected: Vec<String> = (0..checkers)
        .map(|i| format!("http://mirror-checker-{i}.{service_name}:9465/snapshot"))
        .collect();
    assert_eq!(urls, expected);
    let key = env(c, "MIRRORLIST_SNAPSHOT_KEY").unwrap();
    let mounted = c["volumeMounts"]
        .as_vec()
        .unwrap()
        .iter()
        .any(|m| key.starts_with(m["mountPath"].as_str().unwrap()));
    assert!(mounted, "{key} is on no volume");
    let snapshot = env(c, "MIRRORLIST_SNAPSHOT").unwrap();
    assert!(
        c["volumeMounts"]
            .as_vec()
            .unwrap()
            .iter()
            .any(|m| { snapshot.starts_with(m["mountPath"].as_str().unwrap()) }),
        "the last good snapshot is kept on a writable volume"
    );

    // The server accepts every other setting as given (durations, addresses, proxies).
    let settings = c["env"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["value"].as_str().unwrap()))
        .filter(|(n, _)| !["MIRRORLIST_SNAPSHOT", "MIRRORLIST_SNAPSHOT_KEY"].contains(n));
    server_accepts(settings);
    let dir = test_dir();

    // The checker's configuration is one it accepts (checked without a store), and its
    // ports are the ones the configuration listens on.
    let config = find(&docs, "ConfigMap", "mirror-checker-config")["data"]["checker.toml"]
        .as_str()
        .unwrap();
    for port in ["9464", "9465"] {
        assert!(config.contains(&format!(":{port}\"")), "{port}");
    }
    let path = dir.path().join("checker.toml");
    fs::write(&path, config).unwrap();
    let mut check = Command::new(workspace_bin("mirror-checker"));
    check
        .env_clear()
        .arg("--config")
        .arg(&path)
        .args(["registry", "check"])
        .arg(project_root().join("deploy/examples/mirrors.d"));
    run_ok(check, LIMIT);
    assert_eq!(
        env(k, "MIRROR_CHECKER_CONFIG").map(|p| p.ends_with("checker.toml")),
        Some(true)
    );
    assert_eq!(strs(&k["args"]), ["crawl"]);
}

#[test]
fn the_containerfile_builds_locked_and_runs_unprivileged_with_a_health_check() {
    let text = fs::read_to_string(project_root().join("Containerfile")).unwrap();
    let stages: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert!(stages.len() >= 2, "multi-stage: {stages:?}");
    assert!(stages[0].ends_with(" AS build"), "{stages:?}");
    assert!(text.contains("cargo build --release --locked -p mirror-checker -p mirrorlist-server"));
    let runtime = &text[text.rfind("\nFROM ").unwrap()..];
    assert!(runtime.contains("COPY --from=build"), "{runtime}");
    let user = runtime
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER in the runtime stage");
    assert!(user.trim().parse::<u32>().is_ok_and(|u| u > 0), "{user}");
    assert!(runtime.contains("HEALTHCHECK"), "{runtime}");
    assert!(runtime.contains("/healthz"), "{runtime}");
    // The image's defaults are settings the server accepts.
    let env_block: String = runtime
        .split("\nENV ")
        .nth(1)
        .unwrap()
        .split("\nEXPOSE")
        .next()
        .unwrap()
        .replace("\\\n", " ");
    server_accepts(
        env_block
            .split_whitespace()
            .map(|pair| pair.split_once('=').unwrap())
            .filter(|(n, _)| *n != "MIRRORLIST_SNAPSHOT"),
    );
    // What the build leaves out of its context.
    let ignored = fs::read_to_string(project_root().join(".containerignore")).unwrap();
    assert!(ignored.lines().any(|l| l == "target"), "{ignored}");
}
