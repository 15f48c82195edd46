use super::*;
use shared::testing::AllOf;

fn version(n: u8, timestamp: i64, size: u64) -> Version {
    let hex = |len: usize| std::iter::repeat_n(format!("{n:x}"), len).collect::<String>();
    Version {
        size,
        timestamp,
        md5: hex(32),
        sha1: hex(40),
        sha256: hex(64),
        sha512: hex(128),
        first_seen: 0,
    }
}

/// Well-formed XML, read the way librepo does: element names literally, `mm0:` prefix.
fn elements(xml: &str) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut names = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                names.push(String::from_utf8_lossy(e.name().as_ref()).into_owned())
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    names
}

#[test]
fn metalink_in_mirrormanagers_exact_shape() {
    let versions = [
        version(0xa, 1_795_320_664, 3063),
        version(0xb, 1_795_317_064, 3050),
    ];
    // Escaped once per snapshot by `Fragments`, as the server does.
    let bases = [
        Text::new("https://m1.example/pub/"),
        Text::new("http://m2.example/a&b/"),
    ];
    let path = Text::new("9.8/BaseOS/x86_64/os/");
    let urls = [
        UrlXml {
            protocol: "https",
            country: "DE",
            private: false,
            base: [&bases[0].xml, &path.xml],
        },
        UrlXml {
            protocol: "http",
            country: "CZ",
            private: true,
            base: [&bases[1].xml, &path.xml],
        },
    ];
    let mut files = String::new();
    metalink_files(&versions, &mut files);
    let mut out = String::new();
    metalink(&files, &urls, 1_795_321_476, &mut out);
    let a = |len| "a".repeat(len);
    let b = |len| "b".repeat(len);
    let expected = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic" pubdate="Sun, 22 Nov 2026 04:24:36 GMT" generator="mirrormanager" xmlns:mm0="http://fedorahosted.org/mirrormanager">
 <files>
  <file name="repomd.xml">
   <mm0:timestamp>1795320664</mm0:timestamp>
   <size>3063</size>
   <verification>
    <hash type="md5">{}</hash>
    <hash type="sha1">{}</hash>
    <hash type="sha256">{}</hash>
    <hash type="sha512">{}</hash>
   </verification>
   <mm0:alternates>
    <mm0:alternate>
     <mm0:timestamp>1795317064</mm0:timestamp>
     <size>3050</size>
     <verification>
      <hash type="md5">{}</hash>
      <hash type="sha1">{}</hash>
      <hash type="sha256">{}</hash>
      <hash type="sha512">{}</hash>
     </verification>
    </mm0:alternate>
   </mm0:alternates>
   <resources maxconnections="1">
    <url protocol="https" type="https" location="DE" preference="100">https://m1.example/pub/9.8/BaseOS/x86_64/os/repodata/repomd.xml</url>
    <url protocol="http" type="http" location="CZ" preference="99" mm0:private="True">http://m2.example/a&amp;b/9.8/BaseOS/x86_64/os/repodata/repomd.xml</url>
   </resources>
  </file>
 </files>
</metalink>
"#,
        a(32),
        a(40),
        a(64),
        a(128),
        b(32),
        b(40),
        b(64),
        b(128)
    );
    assert_eq!(out, expected);
    let names = elements(&out);
    assert!(
        names.contains(&"mm0:alternate".to_string())
            && names.contains(&"mm0:timestamp".to_string())
    );
    assert_eq!(names.iter().filter(|n| *n == "url").count(), 2);
}

#[test]
fn preferences_descend_and_never_reach_zero() {
    let urls = vec![
        UrlXml {
            protocol: "http",
            country: "",
            private: false,
            base: ["http://m.example/", ""],
        };
        150
    ];
    let mut files = String::new();
    metalink_files(&[version(1, 1, 1)], &mut files);
    let mut out = String::new();
    metalink(&files, &urls, 0, &mut out);
    let prefs: Vec<u32> = out
        .match_indices("preference=\"")
        .map(|(i, m)| {
            out[i + m.len()..]
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(prefs.len(), 150);
    assert!(prefs.windows(2).all_of(|w| w[0] >= w[1]));
    assert_eq!((prefs[0], prefs[99], prefs[149]), (100, 1, 1));
}

#[test]
fn errors_and_mirrorlists() {
    let mut out = String::new();
    metalink_error(
        "error: invalid repo or arch\n# repo=baseos-9&arch=x86_64 -- and more\n",
        0,
        &mut out,
    );
    assert!(
        out.contains(
            "<!--\nerror: invalid repo or arch\n# repo=baseos-9&arch=x86_64 - - and more\n-->"
        ),
        "{out}"
    );
    assert_eq!(elements(&out), vec!["metalink".to_string()]);
    let mut list = String::new();
    mirrorlist(
        "mirrors for 9.8/BaseOS/x86_64/os\r\nsecond line",
        &["https://a.example/x/", "http://b.example/y/"],
        &mut list,
    );
    assert_eq!(list, "# mirrors for 9.8/BaseOS/x86_64/os  second line\nhttps://a.example/x/\nhttp://b.example/y/\n");
    assert!(!list.contains('\r'));
}
