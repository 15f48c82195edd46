use super::*;
use crate::testing::{example, shared_data};

fn almalinux() -> Option<Catalog> {
    let path = shared_data("almalinux-mirrors/config.yml")?;
    Some(Catalog::from_spec(import_almalinux(&path).unwrap()).unwrap())
}

#[test]
fn almalinux_config_expands_to_the_expected_directories() {
    let Some(catalog) = almalinux() else { return };
    // 8.10: 44 mirrored, 9.8: 43, 10.2: 49, 10-kitten: 15 (baseos, appstream and
    // resilientstorage exist in every release; extras-common only in kitten).
    let mirrored: Vec<&str> = catalog.mirrored().map(|(_, d)| d.path.as_str()).collect();
    assert_eq!(mirrored.len(), 151);
    // The vault releases: 11 of 8 (44 each), 16 of 9 (43), 5 of 10 (49).
    let vault: Vec<&Directory> = catalog.directories.iter().filter(|d| d.vault).collect();
    assert_eq!(vault.len(), 11 * 44 + 16 * 43 + 5 * 49);
    assert_eq!(catalog.directories.len(), 151 + 193 + vault.len());
    let d = vault
        .iter()
        .find(|d| d.path == "9.4/BaseOS/x86_64/os")
        .expect("9.4's BaseOS in the vault");
    assert_eq!(
        (d.release.as_str(), d.repo.as_str(), d.vault_only),
        ("9.4", "baseos", true)
    );
    assert!(vault.iter().any(|d| d.path == "8.5/PowerTools/aarch64/os"));
    assert!(vault
        .iter()
        .any(|d| d.path == "10.0-beta/AppStream/x86_64_v2/os"));
    assert!(
        catalog
            .repo_ids()
            .iter()
            .all(|(id, _)| !id.ends_with("-9.4")),
        "vault releases are not listed as repo ids"
    );
    for path in [
        "8.10/BaseOS/x86_64/os",
        "8.10/PowerTools/aarch64/os",
        "8.10/HighAvailability/s390x/os",
        "8.10/raspberrypi/aarch64/os",
        "9.8/CRB/ppc64le/os",
        "9.8/NFV/x86_64/os",
        "10.2/AppStream/x86_64_v2/os",
        "10.2/RT/x86_64/os",
        "10-kitten/BaseOS/x86_64_v2/os",
        "10-kitten/extras-common/s390x/os",
    ] {
        assert!(mirrored.contains(&path), "{path} is missing");
    }
    for absent in [
        "9.8/x86_64_v2",
        "9.8/BaseOS/x86_64_v2/os",
        "8.10/CRB/x86_64/os",
        "9.8/PowerTools/x86_64/os",
        "9.8/NFV/aarch64/os",
        "10.2/raspberrypi/aarch64/os",
    ] {
        assert!(!mirrored.contains(&absent), "{absent} should not exist");
    }
    let source = &catalog.directories[catalog.directory_index("9.8/BaseOS/Source").unwrap()];
    assert!(source.vault_only);
    assert_eq!(source.arch, SOURCE_ARCH);
    let kitten = &catalog.directories[catalog
        .directory_index("10-kitten/AppStream/x86_64/os")
        .unwrap()];
    assert_eq!(kitten.module.as_deref(), Some("kitten"));
    assert_eq!(catalog.max_sync_age_secs(), 12 * 3600);
    assert_eq!(catalog.alternates_window_secs(), 3 * 86_400);
}

#[test]
fn almalinux_releases_aliases_and_repo_ids() {
    let Some(catalog) = almalinux() else { return };
    let version = |name: &str| match catalog.resolve_release(name) {
        ReleaseLookup::Current(r) => r.version.clone(),
        other => format!("{other:?}"),
    };
    assert_eq!(version("9"), "9.8");
    assert_eq!(version("9.8"), "9.8");
    assert_eq!(version("10"), "10.2");
    assert_eq!(version("10-kitten"), "10-kitten");
    assert_eq!(
        catalog.resolve_release("8.5"),
        ReleaseLookup::Vault("http://vault.almalinux.org/8.5/".into())
    );
    assert_eq!(
        catalog.resolve_release("$releasever"),
        ReleaseLookup::Unknown
    );
    assert_eq!(catalog.resolve_release("7"), ReleaseLookup::Unknown);
    let path = |id: &str, arch: &str| {
        catalog
            .find_repo_id(id, arch)
            .map(|i| catalog.directories[i].path.clone())
    };
    assert_eq!(
        path("baseos-9", "x86_64").as_deref(),
        Some("9.8/BaseOS/x86_64/os")
    );
    assert_eq!(
        path("appstream-9.8", "aarch64").as_deref(),
        Some("9.8/AppStream/aarch64/os")
    );
    assert_eq!(
        path("ha-8", "x86_64").as_deref(),
        Some("8.10/HighAvailability/x86_64/os")
    );
    assert_eq!(
        path("highavailability-9", "x86_64").as_deref(),
        Some("9.8/HighAvailability/x86_64/os")
    );
    assert_eq!(
        path("extras-common-10-kitten", "x86_64").as_deref(),
        Some("10-kitten/extras-common/x86_64/os")
    );
    assert_eq!(path("ha-9", "x86_64"), None);
    assert_eq!(path("baseos-9", "x86_64_v2"), None);
    assert_eq!(path("baseos-$releasever", "x86_64"), None);
    assert!(catalog
        .repo_ids()
        .contains(&("crb-9".into(), "x86_64".into())));
}

#[test]
fn toml_form_and_almalinux_form_agree() {
    let Some(catalog) = almalinux() else { return };
    let text = catalog.spec.to_toml();
    let again = Catalog::from_spec(CatalogSpec::from_toml(&text, "roundtrip").unwrap()).unwrap();
    assert_eq!(again, catalog);
}

#[test]
fn example_catalog_loads() {
    let catalog = Catalog::load(&example("catalog.toml")).unwrap();
    assert!(catalog.mirrored().count() > 10);
    assert!(catalog.find_repo_id("baseos-9", "x86_64").is_some());
}

#[test]
fn invalid_catalogs_are_refused_with_a_reason() {
    let base = r#"
distribution = "T"
[[release]]
version = "9.8"
aliases = ["9"]
arches = ["x86_64"]
[[repo]]
name = "baseos"
path = "BaseOS/{arch}/os"
"#;
    assert!(Catalog::from_spec(CatalogSpec::from_toml(base, "t").unwrap()).is_ok());
    let cases = [
        (
            base.replace("aliases = [\"9\"]", "aliases = [\"9.8\"]"),
            "used by both",
        ),
        (
            base.replace("BaseOS/{arch}/os", "../etc"),
            "not a relative directory",
        ),
        (
            base.replace("arches = [\"x86_64\"]", "arches = []"),
            "has no arches",
        ),
        (
            format!("{base}[[repo]]\nname = \"x\"\npath = \"BaseOS/{{arch}}/os\"\n"),
            "both use directory",
        ),
        (
            format!("{base}[[repo]]\nname = \"y\"\npath = \"Y\"\nreleases = [\"7\"]\n"),
            "unknown release",
        ),
    ];
    // A duration is checked where the file is read.
    let bad_window = base.replace(
        "distribution = \"T\"",
        "distribution = \"T\"\nalternates_window = \"soon\"",
    );
    let err = CatalogSpec::from_toml(&bad_window, "t")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("alternates_window") && err.contains("not a duration"),
        "{err}"
    );
    for (text, expected) in cases {
        let err = Catalog::from_spec(CatalogSpec::from_toml(&text, "t").unwrap()).unwrap_err();
        assert!(
            err.to_string().contains(expected),
            "{err} should mention {expected}"
        );
    }
    let err = CatalogSpec::from_toml("distribution = 1", "bad.toml").unwrap_err();
    assert!(err.to_string().starts_with("bad.toml:"), "{err}");
    let err = import_almalinux_str("versions: [9]\n", "config.yml").unwrap_err();
    assert!(err.to_string().contains("config.yml: line"), "{err}");
}
