//! (Tests only.) The OpenAPI document against the types: every document the API serves for a varied
//! network validates against its schema, and every schema lists each of its properties as
//! required (the types always write every field), so neither can drift from the other.

use serde_json::Value;

/// The schema `$ref` names, resolved in the document's components.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// Problems with `value` against `schema`, each with its JSON path.
pub fn validate(doc: &Value, schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if value.is_null() {
        if schema["nullable"] != true {
            out.push(format!("{path}: null where it may not be"));
        }
        return;
    }
    let ok = match schema["type"].as_str() {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        other => {
            out.push(format!("{path}: schema type {other:?} not understood"));
            return;
        }
    };
    if !ok {
        out.push(format!("{path}: {value} is not a {}", schema["type"]));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            out.push(format!("{path}: {value} is not one of {allowed:?}"));
        }
    }
    if let (Some(min), Some(x)) = (schema["minimum"].as_f64(), value.as_f64()) {
        if x < min {
            out.push(format!("{path}: {x} under {min}"));
        }
    }
    if let (Some(max), Some(x)) = (schema["maximum"].as_f64(), value.as_f64()) {
        if x > max {
            out.push(format!("{path}: {x} over {max}"));
        }
    }
    if let Some(items) = value.as_array() {
        for (i, item) in items.iter().enumerate() {
            validate(doc, &schema["items"], item, &format!("{path}[{i}]"), out);
        }
    }
    if let Some(fields) = value.as_object() {
        let properties = schema["properties"].as_object();
        for name in schema["required"].as_array().into_iter().flatten() {
            if !fields.contains_key(name.as_str().unwrap_or_default()) {
                out.push(format!("{path}: required {name} missing"));
            }
        }
        for (name, v) in fields {
            match properties.and_then(|p| p.get(name)) {
                Some(s) => validate(doc, s, v, &format!("{path}.{name}"), out),
                None if schema["additionalProperties"] == false => {
                    out.push(format!("{path}: {name} is not in the schema"))
                }
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::OPENAPI;
    use shared::model::{CheckOutcome, HealthState, RepomdVersion};
    use shared::testing::{all_current_input, example};

    #[test]
    fn every_schema_requires_all_its_properties() {
        let doc: Value = serde_json::from_str(OPENAPI).unwrap();
        for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
            let mut props: Vec<&str> = schema["properties"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let mut required: Vec<&str> = schema["required"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            props.sort_unstable();
            required.sort_unstable();
            assert_eq!(props, required, "{name}");
        }
    }

    /// The countries the explain operation documents are those the parser knows.
    #[test]
    fn the_documented_countries_are_the_known_ones() {
        let doc: Value = serde_json::from_str(OPENAPI).unwrap();
        let country = doc["paths"]["/api/v1/explain"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "country")
            .unwrap();
        let documented: Vec<&str> = country["schema"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let known: Vec<&str> = std::iter::once("global")
            .chain(shared::geo::country_codes())
            .collect();
        assert_eq!(documented, known);
        for c in &documented {
            crate::parse::query(Some(&format!("country={c}"))).unwrap();
        }
    }

    /// A network with every kind of mirror state and verdict: the API's documents for it
    /// validate against the schema, and the schema's paths are the routes.
    #[test]
    fn the_documents_validate_against_the_schema() {
        let doc: Value = serde_json::from_str(OPENAPI).unwrap();
        let catalog = shared::catalog::Catalog::load(&example("catalog.toml")).unwrap();
        let registry = shared::registry::import_dir(&example("mirrors.d"))
            .unwrap()
            .mirrors;
        let v = |n: i64| RepomdVersion {
            size: 1,
            timestamp: n,
            md5: "m".into(),
            sha1: "s".into(),
            sha256: format!("v{n}"),
            sha512: "x".into(),
            first_seen: n,
        };
        let mut input = all_current_input(catalog, registry, |_| Some(v(2_000)));
        for h in input.history.values_mut() {
            h.push(v(1_000));
        }
        // A variety: on every other mirror some checks behind, missing, failed; a
        // capability down.
        for (i, c) in input.checks.iter_mut().enumerate() {
            if c.mirror_id % 2 == 0 {
                continue;
            }
            match i % 7 {
                1 => {
                    c.sha256 = Some("v1000".into());
                    c.good_sha256 = Some("v1000".into());
                    c.outcome = CheckOutcome::Behind;
                    c.versions_behind = Some(1);
                }
                2 => {
                    c.outcome = CheckOutcome::Missing;
                    c.http_status = Some(404);
                    c.sha256 = None;
                    c.good_sha256 = None;
                }
                3 => {
                    c.outcome = CheckOutcome::Error;
                    c.error = Some("timed out".into());
                    c.sha256 = None;
                    c.good_sha256 = None;
                }
                _ => {}
            }
        }
        if let Some(h) = input.health.iter_mut().find(|h| h.capability == "https") {
            h.state = HealthState::Down;
            h.reason = "certificate expired".into();
        }
        // A recorded past: last checks, TIME files, state changes.
        for (id, _) in &input.mirrors {
            let change = |capability: &str, from, to, at| shared::snapshot::history::Change {
                capability: capability.into(),
                from,
                to,
                reason: "r".into(),
                at,
            };
            input.activity.insert(
                *id,
                shared::snapshot::Activity {
                    checked_at: Some(2_900),
                    sync_age: Some(600),
                    changes: vec![
                        change("http", HealthState::Unknown, HealthState::Up, 2_000),
                        change("https", HealthState::Up, HealthState::Down, 2_500),
                    ],
                },
            );
        }
        let snap = shared::snapshot::build(&input, 9, 3_000, "test");
        assert!(snap.mirrors.iter().any(|m| !m.record.errors.is_empty()));
        assert!(snap.mirrors.iter().all(|m| !m.record.timeline.is_empty()));
        assert!(snap.mirrors.iter().any(|m| m.record.timeline.len() >= 2));
        let network = serde_json::to_value(shared::status::network(&snap)).unwrap();
        let mut problems = Vec::new();
        let get = |path: &str| {
            &doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        };
        validate(
            &doc,
            get("/api/v1/status"),
            &network,
            "status",
            &mut problems,
        );
        let states: std::collections::BTreeSet<&str> = network["mirrors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["state"].as_str().unwrap())
            .collect();
        assert_eq!(states.len(), 3, "every state is exercised: {states:?}");
        for m in &snap.mirrors {
            let detail =
                serde_json::to_value(shared::status::mirror(&snap, &m.name).unwrap()).unwrap();
            validate(
                &doc,
                get("/api/v1/mirrors/{name}"),
                &detail,
                &m.name,
                &mut problems,
            );
        }
        // Explanations, through the routes, for a few clients.
        let state = crate::state::AppState::new(crate::state::Settings {
            allow_ip_param: true,
            ..Default::default()
        });
        state.swap(crate::state::Loaded::new(snap.clone()));
        for query in [
            "repo=baseos-9&arch=x86_64&ip=198.51.100.7&country=DE",
            "repo=baseos-9&arch=x86_64&ip=192.0.2.10",
            "repo=appstream-9&arch=aarch64&country=global",
        ] {
            let req = http::Request::get(format!("/api/v1/explain?{query}"))
                .body(())
                .unwrap();
            let e = crate::app::explain(&state, &req)
                .unwrap_or_else(|r| panic!("{query}: {}", r.message));
            let e = serde_json::to_value(e).unwrap();
            validate(&doc, get("/api/v1/explain"), &e, query, &mut problems);
        }
        let error = serde_json::json!({ "error": "no mirror is registered as x" });
        validate(
            &doc,
            &serde_json::json!({"$ref": "#/components/schemas/Error"}),
            &error,
            "error",
            &mut problems,
        );
        assert_eq!(problems, Vec::<String>::new());
        // And a document that drifted is caught.
        let mut drifted = network.clone();
        drifted["mirrors"][0]["renamed"] = Value::Bool(true);
        drifted["mirrors"][0]
            .as_object_mut()
            .unwrap()
            .remove("state");
        let mut found = Vec::new();
        validate(&doc, get("/api/v1/status"), &drifted, "status", &mut found);
        assert_eq!(found.len(), 2, "{found:?}");
    }
}
