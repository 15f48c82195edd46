//! Real dnf through the whole system. Tiny RPM repositories (rpmbuild, createrepo_c) for
//! 9.8 BaseOS, AppStream and an extras repo no mirror carries; nginx on loopback serving the
//! master and five mirrors (two current, one a version behind, one three behind, one without
//! AppStream) while a sixth is down; mirror-checker crawls them into a snapshot and
//! mirrorlist-server answers dnf from it. Needs root, dnf, rpmbuild, createrepo_c and nginx
//! (`./scripts/test` installs them).

use e2e::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const DNF_LIMIT: Duration = Duration::from_secs(180);
const CHECKER_LIMIT: Duration = Duration::from_secs(120);
/// Older versions stay valid as alternates this long: short, so that the stale mirror's copy
/// falls out of the window while the test runs.
const WINDOW_SECS: u64 = 5;

/// The mirrors, by name: how each one holds the tree.
const CURRENT_A: &str = "current-a"; // follows the master; the loopback client's own network
const CURRENT_B: &str = "current-b"; // follows the master
const BEHIND: &str = "behind"; // one version behind; network 192.0.2.0/24
const STALE: &str = "stale"; // three versions behind
const MISSING: &str = "missing-appstream"; // follows the master, but has no AppStream
const DOWN: &str = "down"; // registered, nothing listens
const HALF: &str = "half-synced"; // version 4's repomd.xml, version 3's files and packages

const REPOS: [(&str, &str); 3] = [
    ("baseos", "BaseOS"),
    ("appstream", "AppStream"),
    ("extras", "extras"),
];

struct World {
    dir: PathBuf,
    nginx: Nginx,
    ports: Vec<(&'static str, u16)>,
    server: Option<Proc>,
    server_addr: String,
    checker_config: PathBuf,
}

fn repo_dir(root: &Path, repo: &str) -> PathBuf {
    root.join("9.8").join(repo).join("x86_64/os")
}

impl World {
    fn port(&self, name: &str) -> u16 {
        self.ports.iter().find(|(n, _)| *n == name).unwrap().1
    }

    fn mirror_url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/", self.port(name))
    }

    /// Every version the test publishes, built up front: version N of BaseOS holds
    /// e2e-base-1..N, of AppStream e2e-app-1..N; extras holds e2e-extras throughout.
    fn build_versions(dir: &Path) {
        let mut names: Vec<String> = (1..=5)
            .flat_map(|n| [format!("e2e-base-{n}"), format!("e2e-app-{n}")])
            .collect();
        names.push("e2e-extras".into());
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let rpms = build_rpms(dir, &refs);
        let pick = |prefix: &str, n: usize| -> Vec<PathBuf> {
            rpms.iter()
                .filter(|p| {
                    let f = p.file_name().unwrap().to_string_lossy().to_string();
                    (1..=n).any(|k| f.starts_with(&format!("{prefix}-{k}-")))
                })
                .cloned()
                .collect()
        };
        for v in 1..=5u32 {
            let root = dir.join(format!("versions/v{v}"));
            make_repo(&repo_dir(&root, "BaseOS"), &pick("e2e-base", v as usize), v);
            make_repo(
                &repo_dir(&root, "AppStream"),
                &pick("e2e-app", v as usize),
                v,
            );
            let extras: Vec<PathBuf> = rpms
                .iter()
                .filter(|p| p.to_string_lossy().contains("e2e-extras"))
                .cloned()
                .collect();
            make_repo(&repo_dir(&root, "extras"), &extras, v);
        }
    }

    /// A half-synced copy of `repo`: version `new`'s repomd.xml over version `old`'s
    /// repodata files and packages (a sync that replaced repomd.xml first and stopped).
    fn half_synced(dir: &Path, repo: &str, new: u32, old: u32) -> PathBuf {
        let out = dir.join("half-synced").join(repo);
        let from = |v: u32| repo_dir(&dir.join(format!("versions/v{v}")), repo);
        fs::create_dir_all(out.join("repodata")).unwrap();
        fs::create_dir_all(out.join("Packages")).unwrap();
        for sub in ["repodata", "Packages"] {
            for entry in fs::read_dir(from(old).join(sub)).unwrap() {
                let path = entry.unwrap().path();
                if path.file_name().unwrap() != "repomd.xml" {
                    fs::copy(&path, out.join(sub).join(path.file_name().unwrap())).unwrap();
                }
            }
        }
        fs::copy(
            from(new).join("repodata/repomd.xml"),
            out.join("repodata/repomd.xml"),
        )
        .unwrap();
        // The tree a mirror links to holds the arch level above os/.
        let top = dir.join("half-synced-tree").join(repo).join("x86_64");
        fs::create_dir_all(&top).unwrap();
        std::os::unix::fs::symlink(&out, top.join("os")).unwrap();
        top.parent().unwrap().to_path_buf()
    }

    /// A mirror's tree: per repo, a link to where its copy lives.
    fn mirror_tree(dir: &Path, name: &str, repos: &[(&str, PathBuf)]) -> PathBuf {
        let root = dir.join("mirrors").join(name);
        fs::create_dir_all(root.join("9.8")).unwrap();
        for (repo, target) in repos {
            std::os::unix::fs::symlink(target, root.join("9.8").join(repo)).unwrap();
        }
        root
    }

    fn set_master(&self, version: u32) {
        switch_link(
            &self.dir.join("master"),
            &self.dir.join(format!("versions/v{version}")),
        );
    }

    fn checker(&self, args: &[&str]) -> Ran {
        let mut cmd = Command::new(workspace_bin("mirror-checker"));
        cmd.arg("--config")
            .arg(&self.checker_config)
            .arg("--log")
            .arg("warn")
            .args(args);
        run_ok(cmd, CHECKER_LIMIT)
    }

    fn build() -> (tempfile::TempDir, World) {
        let tmp = test_dir();
        let dir = tmp.path().to_path_buf();
        Self::build_versions(&dir);
        let v = |n: u32, repo: &str| dir.join(format!("versions/v{n}/9.8/{repo}"));
        let master = dir.join("master");
        let follow = |repo: &str| master.join("9.8").join(repo);
        let mut sites = vec![Site {
            name: "master".into(),
            port: candidate_port(),
            root: master.clone(),
        }];
        let half = |repo: &str| Self::half_synced(&dir, repo, 4, 3);
        let trees: [(&str, Vec<(&str, PathBuf)>); 6] = [
            (
                CURRENT_A,
                vec![
                    ("BaseOS", follow("BaseOS")),
                    ("AppStream", follow("AppStream")),
                ],
            ),
            (
                CURRENT_B,
                vec![
                    ("BaseOS", follow("BaseOS")),
                    ("AppStream", follow("AppStream")),
                ],
            ),
            (
                BEHIND,
                vec![("BaseOS", v(3, "BaseOS")), ("AppStream", v(3, "AppStream"))],
            ),
            (
                STALE,
                vec![("BaseOS", v(1, "BaseOS")), ("AppStream", v(1, "AppStream"))],
            ),
            (MISSING, vec![("BaseOS", follow("BaseOS"))]),
            (
                HALF,
                vec![("BaseOS", half("BaseOS")), ("AppStream", half("AppStream"))],
            ),
        ];
        for (name, repos) in &trees {
            sites.push(Site {
                name: name.to_string(),
                port: candidate_port(),
                root: Self::mirror_tree(&dir, name, repos),
            });
        }
        // The master starts at version 1 so the checker learns the history.
        switch_link(&master, &dir.join("versions/v1"));
        let nginx = Nginx::start(&dir.join("nginx"), &mut sites);
        let mut ports: Vec<(&'static str, u16)> = vec![("master", sites[0].port)];
        for (i, (name, _)) in trees.iter().enumerate() {
            ports.push((name, sites[i + 1].port));
        }
        // Nothing listens there: the registered mirror that is down.
        ports.push((DOWN, candidate_port()));

        let registry = dir.join("registry");
        fs::create_dir_all(&registry).unwrap();
        for (name, port) in ports.iter().skip(1) {
            let subnets = match *name {
                CURRENT_A => "subnets:\n  - 127.0.0.0/8\n",
                BEHIND => "subnets:\n  - 192.0.2.0/24\n",
                _ => "",
            };
            fs::write(
                registry.join(format!("{name}.yml")),
                format!(
                    "---\nname: {name}.e2e.test\naddress:\n  http: http://127.0.0.1:{port}/\n\
                     geolocation:\n  country: US\n  latitude: 40.7\n  longitude: -74.0\n\
                     sponsor: End-to-end test\nsponsor_url: https://e2e.test/\n\
                     email: mirror@e2e.test\nbandwidth_mbps: 1000\n{subnets}"
                ),
            )
            .unwrap();
        }
        let catalog = dir.join("catalog.toml");
        let mut spec = format!(
            "distribution = \"E2E\"\nalternates_window = \"{WINDOW_SECS}s\"\n\n\
             [[release]]\nversion = \"9.8\"\naliases = [\"9\"]\narches = [\"x86_64\"]\n"
        );
        for (name, path) in REPOS {
            spec.push_str(&format!(
                "\n[[repo]]\nname = \"{name}\"\npath = \"{path}/{{arch}}/os\"\n"
            ));
        }
        fs::write(&catalog, spec).unwrap();
        let checker_config = dir.join("checker.toml");
        fs::write(
            &checker_config,
            format!(
                "database = \"sqlite://{d}/checker.db\"\nsnapshot_path = \"{d}/snapshot.bin\"\n\n\
                 [master]\nurl = \"http://127.0.0.1:{m}/\"\n\n\
                 [http]\nconnect_timeout = \"1s\"\nfirst_byte_timeout = \"2s\"\ntotal_timeout = \"3s\"\n\
                 allow_internal = [\"127.0.0.0/8\"]\n\n\
                 [crawl]\nretries = 0\n",
                d = dir.display(),
                m = sites[0].port
            ),
        )
        .unwrap();

        // The server binds a free port and says which.
        let server_addr = "127.0.0.1:0".to_string();
        let mut world = World {
            dir: dir.clone(),
            nginx,
            ports,
            server: None,
            server_addr,
            checker_config,
        };
        world.checker(&["catalog", "load", catalog.to_str().unwrap()]);
        world.checker(&["import-registry", registry.to_str().unwrap(), "--sync"]);

        // History: versions 1 and 2, then (after the window has passed over them) 3, and the
        // current 4, crawled.
        world.checker(&["scan"]);
        world.set_master(2);
        world.checker(&["scan"]);
        std::thread::sleep(Duration::from_secs(WINDOW_SECS + 1));
        world.set_master(3);
        world.checker(&["scan"]);
        world.set_master(4);
        world.checker(&["crawl", "--once"]);

        let mut cmd = Command::new(workspace_bin("mirrorlist-server"));
        cmd.arg("--snapshot")
            .arg(dir.join("snapshot.bin"))
            .arg("--listen")
            .arg(&world.server_addr)
            .args(["--allow-ip-param", "--poll", "1s", "--no-locate-mirrors"])
            .args(["--log", "info"]);
        let mut server = Proc::spawn("mirrorlist-server", cmd, &dir.join("server.log"));
        world.server_addr = server.server_address(Duration::from_secs(30));
        world.server = Some(server);
        let addr = world.server_addr.clone();
        wait_for("mirrorlist-server ready", Duration::from_secs(30), || {
            http_get(&addr, "/readyz").ok().filter(|(s, _)| *s == 200)
        });
        (tmp, world)
    }

    fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.server_addr, path).unwrap()
    }

    fn metrics(&self) -> String {
        self.get("/metrics").1
    }

    /// A dnf client of its own (install root, cache, repo file): `repos` is the repo file.
    fn client(&self, name: &str, repos: &str) -> Client {
        let root = self.dir.join("clients").join(name);
        fs::create_dir_all(root.join("repos")).unwrap();
        fs::create_dir_all(root.join("root")).unwrap();
        fs::write(root.join("repos/e2e.repo"), repos).unwrap();
        fs::write(
            root.join("dnf.conf"),
            "[main]\nskip_if_unavailable=False\nlogfilelevel=10\ngpgcheck=0\n\
             install_weak_deps=False\ntimeout=10\n",
        )
        .unwrap();
        Client { dir: root }
    }

    /// The access-log lines a dnf client left on a site (the checker's requests excluded).
    fn dnf_requests(&self, site: &str) -> Vec<String> {
        self.nginx
            .access_log(site)
            .into_iter()
            .filter(|l| l.contains("libdnf"))
            .collect()
    }

    fn all_dnf_requests(&self) -> usize {
        self.ports
            .iter()
            .map(|(name, _)| self.dnf_requests(name).len())
            .sum()
    }

    fn metalink_url(&self, repo: &str, extra: &str) -> String {
        format!(
            "http://{}/metalink?repo={repo}-$releasever&arch=$basearch{extra}",
            self.server_addr
        )
    }
}

struct Client {
    dir: PathBuf,
}

impl Client {
    fn dnf(&self, args: &[&str]) -> Ran {
        let mut cmd = Command::new("dnf");
        cmd.arg("-c")
            .arg(self.dir.join("dnf.conf"))
            .arg("--releasever=9")
            .arg(format!("--installroot={}", self.dir.join("root").display()))
            .arg(format!(
                "--setopt=reposdir={}",
                self.dir.join("repos").display()
            ))
            .args(["--disableplugin=local", "-y"])
            .args(args);
        run(cmd, DNF_LIMIT)
    }

    fn dnf_ok(&self, args: &[&str]) -> Ran {
        let ran = self.dnf(args);
        assert!(ran.ok(), "dnf {args:?} failed:\n{}", ran.text());
        ran
    }

    fn installed(&self, package: &str) -> bool {
        self.dir.join("root/usr/share/e2e").join(package).is_file()
    }

    fn librepo_log(&self) -> String {
        fs::read_to_string(self.dir.join("root/var/log/dnf.librepo.log")).unwrap_or_default()
    }
}

fn repomd_sha(world: &World, version: u32, repo: &str) -> String {
    sha256_file(
        &repo_dir(&world.dir.join(format!("versions/v{version}")), repo)
            .join("repodata/repomd.xml"),
    )
}

#[test]
fn dnf_installs_through_the_system_and_never_meets_a_stale_mirror() {
    if !tools_present(&["dnf", "rpmbuild", "createrepo_c", "nginx"], true) {
        return;
    }
    let (_tmp, w) = World::build();

    // What the server answers: the current hash first, the previous version as an alternate;
    // mirrors that hold a servable copy, and none of the others.
    let (status, baseos) = w.get("/metalink?repo=baseos-9&arch=x86_64");
    assert_eq!(status, 200, "{baseos}");
    let current = repomd_sha(&w, 4, "BaseOS");
    let previous = repomd_sha(&w, 3, "BaseOS");
    let first_hash = baseos
        .find(&format!(">{current}<"))
        .expect("current hash listed");
    let alternates = baseos.find("<mm0:alternates>").expect("alternates listed");
    assert!(first_hash < alternates, "{baseos}");
    assert!(
        baseos[alternates..].contains(&previous),
        "version 3 is an alternate:\n{baseos}"
    );
    assert!(
        !baseos.contains(&repomd_sha(&w, 1, "BaseOS")),
        "version 1 is outside the window:\n{baseos}"
    );
    for name in [CURRENT_A, CURRENT_B, BEHIND, MISSING] {
        assert!(
            baseos.contains(&w.mirror_url(name)),
            "{name} serves BaseOS:\n{baseos}"
        );
    }
    for name in [STALE, DOWN, HALF] {
        assert!(
            !baseos.contains(&w.mirror_url(name)),
            "{name} is not listed:\n{baseos}"
        );
    }
    // The half-synced mirror is explained: its repomd.xml names files it does not have.
    let (_, page) = w.get(&format!("/api/v1/mirrors/{HALF}.e2e.test"));
    assert!(
        page.contains("half-synced: repomd.xml names repodata/") && page.contains("HTTP 404"),
        "{page}"
    );
    let (_, appstream) = w.get("/metalink?repo=appstream-9&arch=x86_64");
    assert!(appstream.contains(&w.mirror_url(CURRENT_A)), "{appstream}");
    assert!(
        !appstream.contains(&w.mirror_url(MISSING)),
        "a mirror without AppStream is not listed for it:\n{appstream}"
    );

    // dnf with metalinks, from the loopback network (current-a's own network: first).
    let countme_before = metric(
        &w.metrics(),
        r#"mirrorlist_countme_total{arch="x86_64",bucket="1",release="9.8",repo="baseos"}"#,
    );
    let main = w.client(
        "metalink",
        &format!(
            "[e2e-baseos]\nname=E2E $releasever BaseOS\nmetalink={}\ncountme=1\n\n\
             [e2e-appstream]\nname=E2E $releasever AppStream\nmetalink={}\n",
            w.metalink_url("baseos", ""),
            w.metalink_url("appstream", "")
        ),
    );
    main.dnf_ok(&["makecache"]);
    main.dnf_ok(&["install", "e2e-base-4", "e2e-app-4"]);
    assert!(main.installed("e2e-base-4") && main.installed("e2e-app-4"));
    assert!(
        !w.dnf_requests(CURRENT_A).is_empty(),
        "dnf used the mirror of its own network"
    );
    // Revive: the cache expired but nothing changed; dnf fetches the metalinks and nothing else.
    let metalinks = |w: &World| {
        metric(
            &w.metrics(),
            r#"mirrorlist_requests_total{endpoint="metalink",status="200"}"#,
        )
    };
    let (asked, fetched) = (metalinks(&w), w.all_dnf_requests());
    main.dnf_ok(&["makecache", "--refresh"]);
    assert_eq!(
        w.all_dnf_requests(),
        fetched,
        "an unchanged repo is revived from the metalink alone"
    );
    assert_eq!(metalinks(&w), asked + 2.0, "both metalinks were fetched");

    // countme: libdnf adds countme=1 to one metalink request in a machine's first week, after
    // a random budget of one to four metadata fetches. Fetch until it has been sent.
    let sent = |c: &Client| {
        c.librepo_log()
            .lines()
            .filter(|l| l.contains("Downloading: ") && l.contains("countme=1"))
            .count()
    };
    for _ in 0..6 {
        if sent(&main) > 0 {
            break;
        }
        main.dnf_ok(&["makecache", "--refresh"]);
    }
    assert_eq!(sent(&main), 1, "dnf sent countme=1 once");
    let countme_after = metric(
        &w.metrics(),
        r#"mirrorlist_countme_total{arch="x86_64",bucket="1",release="9.8",repo="baseos"}"#,
    );
    assert_eq!(
        countme_after,
        countme_before + 1.0,
        "the server counted dnf's countme=1:\n{}",
        w.metrics()
    );

    // The mirror one version behind: first for clients of its network; dnf accepts its
    // repomd.xml through the metalink's alternates and installs from it.
    let near_behind = w.client(
        "behind",
        &format!(
            "[e2e-baseos]\nname=E2E $releasever BaseOS\nmetalink={}\n",
            w.metalink_url("baseos", "&ip=192.0.2.10")
        ),
    );
    near_behind.dnf_ok(&["install", "e2e-base-3"]);
    assert!(near_behind.installed("e2e-base-3"));
    let from_behind = w.dnf_requests(BEHIND);
    assert!(
        from_behind
            .iter()
            .any(|l| l.contains("/repodata/repomd.xml 200")),
        "dnf took repomd.xml from the mirror a version behind: {from_behind:?}"
    );
    assert!(
        from_behind
            .iter()
            .any(|l| l.contains("e2e-base-3-1-1.noarch.rpm 200")),
        "and the package: {from_behind:?}"
    );
    // Version 4's package is not in version 3's metadata.
    let ran = near_behind.dnf(&["install", "e2e-base-4"]);
    assert!(!ran.ok(), "{}", ran.text());

    // AlmaLinux's mirrorlist form.
    let listed = w.client(
        "mirrorlist",
        &format!(
            "[e2e-appstream]\nname=E2E $releasever AppStream\n\
             mirrorlist=http://{}/mirrorlist/$releasever/appstream?arch=$basearch\n",
            w.server_addr
        ),
    );
    listed.dnf_ok(&["install", "e2e-app-2"]);
    assert!(listed.installed("e2e-app-2"));

    // An unknown repo: dnf fails and shows why.
    let unknown = w.client(
        "unknown",
        &format!(
            "[e2e-nothing]\nname=E2E nothing\nmetalink={}\n",
            w.metalink_url("nothing", "")
        ),
    );
    let ran = unknown.dnf(&["makecache"]);
    assert!(!ran.ok(), "{}", ran.text());
    assert!(
        ran.stderr.contains("Status code: 404 for http://")
            && ran.stderr.contains("/metalink?repo=nothing-9&arch=x86_64"),
        "dnf reports the server's 404 for the repo:\n{}",
        ran.text()
    );

    // No mirror carries extras: the metalink lists none and dnf fails at once, clearly.
    let (_, extras) = w.get("/metalink?repo=extras-9&arch=x86_64");
    assert!(!extras.contains("<url"), "{extras}");
    let nowhere = w.client(
        "extras",
        &format!(
            "[e2e-extras]\nname=E2E extras\nmetalink={}\n",
            w.metalink_url("extras", "")
        ),
    );
    let ran = nowhere.dnf(&["install", "e2e-extras"]);
    assert!(!ran.ok(), "{}", ran.text());
    assert!(!nowhere.installed("e2e-extras"));
    assert!(
        ran.stderr.contains("'e2e-extras'") && ran.stderr.contains("No URLs in metalink"),
        "dnf names the repo it could not load:\n{}",
        ran.text()
    );

    // The master publishes version 5; the checker runs again; the server swaps in the new
    // snapshot; dnf sees the new hash and installs the new package.
    w.set_master(5);
    w.checker(&["crawl", "--once"]);
    let newest = repomd_sha(&w, 5, "BaseOS");
    wait_for(
        "the server to serve version 5",
        Duration::from_secs(30),
        || {
            let (_, body) = w.get("/metalink?repo=baseos-9&arch=x86_64");
            let first = body.find("<hash type=\"sha256\">")?;
            body[first..].contains(&newest).then_some(())
        },
    );
    main.dnf_ok(&["install", "--refresh", "e2e-base-5"]);
    assert!(main.installed("e2e-base-5"));

    // Over all of it: dnf never went to the stale mirror or the down one.
    assert_eq!(w.dnf_requests(STALE), Vec::<String>::new());
    for client in [&main, &near_behind, &listed] {
        let log = client.librepo_log();
        assert!(!log.is_empty(), "dnf wrote its librepo log");
        for name in [STALE, DOWN] {
            assert!(
                !log.contains(&format!("127.0.0.1:{}", w.port(name))),
                "dnf contacted {name}"
            );
        }
    }
    // The mirror without AppStream was never asked for it.
    assert!(
        !w.dnf_requests(MISSING)
            .iter()
            .any(|l| l.contains("AppStream")),
        "{:?}",
        w.dnf_requests(MISSING)
    );
    // dnf never reached the half-synced mirror, which the checker did look at.
    assert!(
        w.dnf_requests(HALF).is_empty(),
        "{:?}",
        w.dnf_requests(HALF)
    );
    // And the checker did visit them: the logs above are the right ones.
    assert!(!w.nginx.access_log(STALE).is_empty());
    assert!(!w.nginx.access_log(HALF).is_empty());
}
