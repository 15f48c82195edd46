//! The control plane's commands: `serve`, `mail list|show`, `admin add|list|queue|prove|
//! approve|refuse|hold|release|log`, `maintenance add|list|change|end`.

use super::{mail, Control};
use crate::cli::{AdminCommand, MailCommand, MaintenanceCommand};
use crate::config::Config;
use crate::error::{Error, Result};
use store::{AuditEntry, Store};

/// `serve`: the control plane on `listen` (or `[control] listen`) until `shutdown`.
pub async fn serve(
    config: &Config,
    store: Store,
    listen: Option<std::net::SocketAddr>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let addr = listen.unwrap_or(config.control.listen);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
    let addr = listener.local_addr().unwrap_or(addr);
    let control = of(config, store, addr)?;
    tracing::info!(
        listen = %addr,
        public_url = %control.public_url,
        mail = %control.mailer.shown(),
        "control plane serving"
    );
    let limits = config.daemon.listener_limits();
    super::serve(control, listener, limits, shutdown).await;
    Ok(())
}

fn of(config: &Config, store: Store, listen: std::net::SocketAddr) -> Result<Control> {
    let (control, rules) = (config.control.clone(), config.registry_rules());
    Control::new(store, control, rules, config.http.clone(), listen)
}

/// `mail list|show`.
pub fn mail(config: &Config, command: MailCommand) -> Result<()> {
    let folder = &config.control.mail_folder;
    let messages = mail::list(folder).map_err(Error::io("cannot read", folder))?;
    match command {
        MailCommand::List => {
            if !config.control.smtp_relay.trim().is_empty() {
                say!(
                    "mail goes through the relay {}; this folder holds what was written before it was set",
                    config.control.smtp_relay
                );
            }
            if messages.is_empty() {
                say!("no mail in {}", folder.display());
            }
            for (i, (path, to, subject)) in messages.iter().enumerate() {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                say!("{:>3}  {name}  to {to}: {subject}", i + 1);
            }
            Ok(())
        }
        MailCommand::Show { number } => {
            let count = messages.len() as i64;
            let number: i64 = number.trim().parse().map_err(|_| {
                Error::Usage(format!(
                    "`{number}` is not a message number: give one from `mail list`, or -1 for the newest"
                ))
            })?;
            let index = if number < 0 {
                count + number
            } else {
                number - 1
            };
            let Some((path, _, _)) = usize::try_from(index).ok().and_then(|i| messages.get(i))
            else {
                return Err(Error::Usage(format!(
                    "no message {number}: {} holds {count} (`mail list` numbers them)",
                    folder.display()
                )));
            };
            let text = std::fs::read_to_string(path).map_err(Error::io("cannot read", path))?;
            crate::output::text(&text.replace("\r\n", "\n"));
            Ok(())
        }
    }
}

/// `admin add|list`.
pub async fn admin(config: &Config, store: Store, command: AdminCommand) -> Result<()> {
    match command {
        AdminCommand::Add { address } => {
            let address =
                super::signin::address(&address).map_err(|r| Error::Usage(r.message()))?;
            let now = shared::time::now();
            if store.add_admin(&address, "cli", now).await? {
                store
                    .audit(&AuditEntry {
                        at: now,
                        actor: "cli".into(),
                        via: "cli".into(),
                        action: "admin add".into(),
                        subject: address.clone(),
                        before: None,
                        after: None,
                    })
                    .await?;
                say!("{address} is an admin; they sign in with a link mailed to that address");
            } else {
                say!("{address} was an admin already");
            }
            Ok(())
        }
        AdminCommand::List => {
            for a in &config.control.admins {
                say!("{a}  (named in the config)");
            }
            for a in store.stored_admins().await? {
                say!("{a}");
            }
            Ok(())
        }
        AdminCommand::Log { name, limit } => {
            for e in store.audit_log(name.as_deref(), limit.max(1)).await? {
                let after = e.after.as_deref().map_or(String::new(), |a| {
                    format!(": {}", shared::text::bounded(&a.replace('\n', " "), 120))
                });
                let when = shared::duration::utc_minute(e.at);
                say!(
                    "{when}  {} via {}: {} {}{after}",
                    e.actor,
                    e.via,
                    e.action,
                    e.subject
                );
            }
            Ok(())
        }
        other => decisions(config, store, other).await,
    }
}

/// `admin queue|prove|approve|refuse`: what an admin does on the pages, from the shell.
async fn decisions(config: &Config, store: Store, command: AdminCommand) -> Result<()> {
    let control = of(config, store, config.control.listen)?;
    let cli = cli_admin();
    let refused = |r: super::web::Refused| Error::Usage(r.message());
    let r = match command {
        AdminCommand::Queue => {
            let open = super::admin::open(&control).await?;
            if open.is_empty() {
                say!("nothing is waiting");
            }
            for r in open {
                let since = shared::duration::utc_minute(r.updated_at);
                say!(
                    "{}  {}  contact {}  since {since}",
                    r.name,
                    r.state.as_str(),
                    r.contact
                );
                for f in super::registration::findings(&r) {
                    say!("    {}: {}", f.protocol, f.reason);
                }
            }
            return Ok(());
        }
        AdminCommand::Hold { name, reason } => {
            super::hold::hold(&control, &cli, &name, Some(&reason), "cli")
                .await
                .map_err(refused)?;
            say!("{name}: held out of the answers from the next snapshot");
            return Ok(());
        }
        AdminCommand::Release { name } => {
            super::hold::hold(&control, &cli, &name, None, "cli")
                .await
                .map_err(refused)?;
            say!("{name}: hold lifted");
            return Ok(());
        }
        AdminCommand::Prove { name } => super::registration::prove_now(&control, &cli, &name)
            .await
            .map_err(refused)?,
        AdminCommand::Approve { name } => {
            super::registration::decide(&control, &cli, &name, true, None, "cli")
                .await
                .map_err(refused)?
        }
        AdminCommand::Refuse { name, reason } => {
            super::registration::decide(&control, &cli, &name, false, Some(&reason), "cli")
                .await
                .map_err(refused)?
        }
        AdminCommand::Add { .. } | AdminCommand::List | AdminCommand::Log { .. } => {
            unreachable!("handled by admin()")
        }
    };
    say!("{}: {}", r.name, r.state.as_str());
    for f in super::registration::findings(&r) {
        say!("    {}: {}", f.protocol, f.reason);
    }
    Ok(())
}

/// The shell's admin, as the audit log names it.
fn cli_admin() -> super::who::Who {
    super::who::Who {
        address: "cli".into(),
        session_id: String::new(),
        admin: true,
        token: None,
    }
}

/// `maintenance add|list|change|end`, as an admin.
pub async fn maintenance(config: &Config, store: Store, command: MaintenanceCommand) -> Result<()> {
    use super::maintenance::{change, declare, describe, end, Asked};
    let control = of(config, store.clone(), config.control.listen)?;
    let cli = cli_admin();
    let refused = |r: super::web::Refused| Error::Usage(r.message());
    let asked = |pairs: [(&str, Option<String>); 4]| -> Asked {
        pairs
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?)))
            .collect()
    };
    let mirror_of = |id: String| {
        let store = store.clone();
        async move {
            let missing = || {
                Error::Usage(format!(
                    "no maintenance window {id} holds or is to come (`maintenance list` numbers them)"
                ))
            };
            let number: i64 = id
                .trim()
                .trim_start_matches('#')
                .parse()
                .map_err(|_| missing())?;
            match store.window(number).await? {
                Some(w) => Ok((w.mirror, number.to_string())),
                None => Err(missing()),
            }
        }
    };
    match command {
        MaintenanceCommand::Add {
            name,
            scope,
            from,
            until,
            for_,
            note,
        } => {
            let a = asked([
                ("scope", Some(scope)),
                ("from", Some(from)),
                ("until", until.or(for_)),
                ("note", Some(note)),
            ]);
            let w = declare(&control, &cli, &name, &a, "cli")
                .await
                .map_err(refused)?;
            say!("{name}: {}", describe(&w));
        }
        MaintenanceCommand::List { name } => {
            let windows = store.windows(name.as_deref(), shared::time::now()).await?;
            if windows.is_empty() {
                say!("no maintenance window holds or is to come");
            }
            for w in windows {
                say!("{}: {}  (by {})", w.mirror, describe(&w), w.created_by);
            }
        }
        MaintenanceCommand::Change {
            id,
            from,
            until,
            for_,
            note,
        } => {
            let (name, id) = mirror_of(id).await?;
            let a = asked([
                ("scope", None),
                ("from", from),
                ("until", until.or(for_)),
                ("note", note),
            ]);
            let w = change(&control, &cli, &name, &id, &a, "cli")
                .await
                .map_err(refused)?;
            say!("{name}: {}", describe(&w));
        }
        MaintenanceCommand::End { id } => {
            let (name, id) = mirror_of(id).await?;
            end(&control, &cli, &name, &id, "cli")
                .await
                .map_err(refused)?;
            say!("{name}: window {id} ended (cancelled, if it had not started); served again once a check finds it current");
        }
    }
    Ok(())
}

/// `notice`: one message to every contact (or those of `country`), audited.
pub async fn notice(
    (config, store): (&Config, &Store),
    subject: &str,
    body: &str,
    country: Option<&str>,
) -> Result<()> {
    let (subject, body) = (subject.trim(), body.trim());
    if subject.is_empty() || body.is_empty() {
        return Err(Error::Usage(
            "a notice needs a --subject and a --body".into(),
        ));
    }
    let mirrors = store.load_mirrors().await?;
    let mut messages = crate::notifications::notice(&mirrors, subject, body, country);
    let hooks = store.webhooks(None).await?.into_iter();
    let hooks = hooks.map(|h| (h.mirror, h.url)).collect();
    let base = config.control.public_url(config.control.listen);
    let text = (subject, body);
    messages.extend(crate::webhooks::notice(
        &mirrors, &hooks, text, country, &base,
    ));
    if messages.is_empty() {
        return Err(Error::Usage(match country {
            Some(c) => format!("no mirror placed in {c} by the registry has a contact"),
            None => "no mirror has a contact".into(),
        }));
    }
    let now = shared::time::now();
    store.enqueue(&messages, now).await?;
    store
        .audit(&AuditEntry {
            at: now,
            actor: "cli".into(),
            via: "cli".into(),
            action: "notice".into(),
            subject: country.map_or("every mirror".into(), |c| format!("mirrors in {c}")),
            before: None,
            after: Some(format!("{subject}: {} contacts", messages.len())),
        })
        .await?;
    let n = messages.len();
    let plural = if n == 1 { "" } else { "s" };
    say!("{n} message{plural} (mail to each contact, webhooks) will be sent \"{subject}\" by the checker daemons");
    Ok(())
}
