//! Changing a control-plane mirror: an edit judged like an import, applied at once unless
//! it needs an admin (a new URL, a wider audience: `shared::registry::change`), in which
//! case it waits while the old values keep serving; an admin's decision on it (a new URL
//! must hold the ownership token first); deleting the mirror. A registry mirror is refused
//! with its file named. Every step is audited with the before and after.

use super::mirrors::own;
use super::register::Problems;
use super::web::{Refused, Who};
use super::{proof, Control};
use shared::registry::change::needs_admin;
use shared::registry::form::judge_fields;
use shared::registry::{mirror_to_yaml, Mirror};
use std::collections::BTreeMap;
use store::{AuditEntry, PendingChange};

/// What an edit came to.
pub enum Edited {
    Applied,
    /// Waiting for an admin, for these reasons.
    Waiting(Vec<String>),
    /// The judge's rejections, and its warnings.
    Rejected(Problems, Problems),
}

/// `name` when `who` may change it: theirs, and the control plane's.
pub async fn changeable(c: &Control, who: &Who, name: &str) -> Result<Mirror, Refused> {
    let mirror = own(c, who, name).await?;
    if !c.store.control_managed().await?.contains(name) {
        let file = shared::registry::file_name(&mirror);
        return Err(Refused::Forbidden(format!(
            "{name} is managed by the registry: change its file {file} there; the next import applies it"
        )));
    }
    Ok(mirror)
}

async fn audit(
    c: &Control,
    who: &Who,
    via: &str,
    action: &str,
    name: &str,
    before: Option<String>,
    after: Option<String>,
) -> Result<(), Refused> {
    let entry = AuditEntry {
        at: shared::time::now(),
        actor: who.address.clone(),
        via: who.via(via),
        action: action.into(),
        subject: name.into(),
        before,
        after,
    };
    Ok(c.store.audit(&entry).await?)
}

/// Judges `fields` as `name`'s new values and applies them or sends them to the admins.
pub async fn edit(
    c: &Control,
    who: &Who,
    name: &str,
    mut fields: BTreeMap<String, String>,
    via: &str,
) -> Result<Edited, Refused> {
    let old = changeable(c, who, name).await?;
    if fields.get("name").is_some_and(|n| n.trim() != name) {
        let why = "a mirror's name does not change: register the new one, then delete this";
        return Ok(Edited::Rejected(
            vec![("name".into(), why.into())],
            Vec::new(),
        ));
    }
    fields.insert("name".into(), name.into());
    let judged = judge_fields(&fields, &c.rules);
    let Some(mut new) = judged.mirror.filter(|_| judged.errors.is_empty()) else {
        return Ok(Edited::Rejected(judged.errors, judged.warnings));
    };
    new.enabled = old.enabled;
    let why = needs_admin(&old, &new);
    let (before, after) = (mirror_to_yaml(&old), mirror_to_yaml(&new));
    if before == after {
        return Ok(Edited::Applied);
    }
    let now = shared::time::now();
    if why.is_empty() {
        c.store.write_control_mirror(&new, now).await?;
        audit(c, who, via, "edit", name, Some(before), Some(after)).await?;
        return Ok(Edited::Applied);
    }
    let change = PendingChange {
        name: name.into(),
        yaml: after.clone(),
        reasons: why.join("\n"),
        proposed_by: who.address.clone(),
        proposed_at: now,
    };
    c.store.propose_change(&change).await?;
    audit(
        c,
        who,
        via,
        "propose change",
        name,
        Some(before),
        Some(after),
    )
    .await?;
    Ok(Edited::Waiting(why))
}

/// An admin's decision on `name`'s waiting change: approved, it is applied once every new
/// web URL holds the mirror's ownership token; refused, it is dropped with a reason.
pub async fn decide(
    c: &Control,
    who: &Who,
    name: &str,
    approve: bool,
    reason: Option<&str>,
    via: &str,
) -> Result<(), Refused> {
    if !who.admin {
        return Err(Refused::Forbidden(
            "only admins approve or refuse changes".into(),
        ));
    }
    let old = changeable(c, who, name).await?;
    let Some(change) = c.store.pending_changes(Some(name)).await?.pop() else {
        return Err(Refused::NotFound(format!("no change to {name} is waiting")));
    };
    let reason = reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| shared::text::bounded(r, 500));
    if !approve {
        let Some(reason) = reason else {
            return Err(Refused::Field {
                field: "reason".into(),
                message: "say why: the operator reads it".into(),
            });
        };
        c.store.drop_change(name).await?;
        return audit(
            c,
            who,
            via,
            "refuse change",
            name,
            Some(change.yaml),
            Some(reason),
        )
        .await;
    }
    let (_, new) = shared::registry::judge_with(&change.yaml, name, &c.rules);
    let mut new = new.ok_or_else(|| Refused::Store("the waiting change no longer reads".into()))?;
    new.enabled = old.enabled;
    prove_new_urls(c, name, &old, &new).await?;
    c.store
        .write_control_mirror(&new, shared::time::now())
        .await?;
    audit(
        c,
        who,
        via,
        "approve change",
        name,
        Some(mirror_to_yaml(&old)),
        Some(change.yaml),
    )
    .await
}

/// Every web URL `new` has that `old` had not must hold the registration's token.
async fn prove_new_urls(
    c: &Control,
    name: &str,
    old: &Mirror,
    new: &Mirror,
) -> Result<(), Refused> {
    let mut fresh = new.clone();
    fresh
        .urls
        .retain(|p, url| p.is_web() && old.urls.get(p) != Some(url));
    if fresh.urls.is_empty() {
        return Ok(());
    }
    let registration = c.store.registration(name).await?;
    let token = registration.map(|r| r.token).unwrap_or_default();
    let found = proof::prove(&c.client, &fresh, &token).await;
    if proof::proven(&found) {
        return Ok(());
    }
    let why: Vec<String> = found
        .iter()
        .filter(|f| !f.found)
        .map(|f| format!("{}: {}", f.protocol, f.reason))
        .collect();
    Err(Refused::Forbidden(format!(
        "the new URL does not hold {name}'s ownership token yet: {}",
        why.join("; ")
    )))
}

/// Deletes `name` when `confirm` repeats its name.
pub async fn delete(
    c: &Control,
    who: &Who,
    name: &str,
    confirm: Option<&str>,
    via: &str,
) -> Result<(), Refused> {
    let old = changeable(c, who, name).await?;
    if confirm.map(str::trim) != Some(name) {
        return Err(Refused::Field {
            field: "confirm".into(),
            message: format!("type the mirror's name ({name}) to delete it"),
        });
    }
    let now = shared::time::now();
    c.store.delete_control_mirror(name).await?;
    c.store.revoke_api_tokens_of(name, now).await?;
    audit(
        c,
        who,
        via,
        "delete",
        name,
        Some(mirror_to_yaml(&old)),
        None,
    )
    .await
}
