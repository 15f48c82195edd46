//! Small files in each provider's format, written for these tests after the providers'
//! published shapes.

use super::*;

pub const AWS: &str = r#"{
  "syncToken": "1700000000", "createDate": "2026-11-20-00-00-00",
  "prefixes": [
    {"ip_prefix": "198.18.0.0/15", "region": "GLOBAL", "service": "AMAZON", "network_border_group": "GLOBAL"},
    {"ip_prefix": "198.18.4.0/22", "region": "eu-central-1", "service": "AMAZON", "network_border_group": "eu-central-1"},
    {"ip_prefix": "198.18.4.0/22", "region": "eu-central-1", "service": "EC2", "network_border_group": "eu-central-1"},
    {"ip_prefix": "198.18.8.0/22", "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"}
  ],
  "ipv6_prefixes": [
    {"ipv6_prefix": "2001:db8:a000::/36", "region": "eu-central-1", "service": "EC2", "network_border_group": "eu-central-1"}
  ]
}"#;

pub const GCP: &str = r#"{
  "syncToken": "1700000000", "creationTime": "2026-11-20T00:00:00",
  "prefixes": [
    {"ipv4Prefix": "203.0.113.0/25", "service": "Google Cloud", "scope": "europe-west3"},
    {"ipv6Prefix": "2001:db8:b000::/36", "service": "Google Cloud", "scope": "us-central1"}
  ]
}"#;

pub const AZURE: &str = r#"{
  "changeNumber": 300, "cloud": "Public",
  "values": [
    {"name": "AzureCloud", "id": "AzureCloud", "properties": {"changeNumber": 1, "region": "", "regionId": 0, "platform": "Azure", "systemService": "", "addressPrefixes": ["192.0.2.0/26", "192.0.2.64/26"]}},
    {"name": "AzureCloud.westeurope", "id": "AzureCloud.westeurope", "properties": {"changeNumber": 1, "region": "westeurope", "regionId": 18, "platform": "Azure", "systemService": "", "addressPrefixes": ["192.0.2.0/26"]}}
  ]
}"#;

pub const OCI: &str = r#"{
  "last_updated_timestamp": "2026-11-20T00:00:00.000000",
  "regions": [
    {"region": "eu-frankfurt-1", "cidrs": [{"cidr": "198.51.100.0/25", "tags": ["OCI"]}, {"cidr": "198.51.100.128/25", "tags": ["OSN"]}]}
  ]
}"#;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn each_providers_format_is_read() {
    let ranges = CloudRanges::build([
        ("aws", parse(AWS.as_bytes()).unwrap()),
        ("gcp", parse(GCP.as_bytes()).unwrap()),
        ("azure", parse(AZURE.as_bytes()).unwrap()),
        ("oci", parse(OCI.as_bytes()).unwrap()),
    ]);
    let at = |s: &str| {
        ranges
            .lookup(ip(s))
            .map(|p| format!("{} {}", p.provider, p.region))
    };
    assert_eq!(
        at("198.18.5.1").as_deref(),
        Some("aws eu-central-1"),
        "most specific"
    );
    assert_eq!(at("198.18.9.1").as_deref(), Some("aws us-east-1"));
    assert_eq!(
        at("198.19.200.1").as_deref(),
        Some("aws "),
        "GLOBAL: no region"
    );
    assert_eq!(at("2001:db8:a123::1").as_deref(), Some("aws eu-central-1"));
    assert_eq!(at("203.0.113.7").as_deref(), Some("gcp europe-west3"));
    assert_eq!(at("2001:db8:b000::9").as_deref(), Some("gcp us-central1"));
    assert_eq!(
        at("192.0.2.10").as_deref(),
        Some("azure westeurope"),
        "the regional tag wins over the whole-cloud one"
    );
    assert_eq!(at("192.0.2.70").as_deref(), Some("azure "));
    assert_eq!(at("198.51.100.200").as_deref(), Some("oci eu-frankfurt-1"));
    assert_eq!(
        at("::ffff:198.51.100.1").as_deref(),
        Some("oci eu-frankfurt-1")
    );
    assert_eq!(at("8.8.8.8"), None);
}

#[test]
fn unreadable_files_are_refused_with_a_clear_error() {
    for (body, why) in [
        ("<html>", "not JSON"),
        ("{\"something\": []}", "not a cloud provider's ranges file"),
        (
            "{\"prefixes\": [{\"ip_prefix\": \"300.1.2.3/8\"}]}",
            "range 1 has no valid network",
        ),
        ("{\"prefixes\": []}", "no ranges"),
    ] {
        let err = parse(body.as_bytes()).unwrap_err();
        assert!(err.contains(why), "{body}: {err}");
    }
    assert!(parse_arg("aws").is_err());
    assert_eq!(
        parse_arg("AWS=/x/ip-ranges.json").unwrap(),
        ("aws".to_string(), PathBuf::from("/x/ip-ranges.json"))
    );
    let dir = tempfile::tempdir().unwrap();
    let err = CloudRanges::load(&[("aws".into(), dir.path().to_path_buf())]).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let err = CloudRanges::load(&[("aws".into(), dir.path().join("missing.json"))]).unwrap_err();
    assert!(
        err.to_string().contains("cannot read the cloud ranges"),
        "{err}"
    );
}
