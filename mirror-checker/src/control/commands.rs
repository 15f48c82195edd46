//! The control plane's commands: `serve`, `mail list|show`, `admin add|list`.

use super::{mail, Control};
use crate::cli::{AdminCommand, MailCommand};
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
    let control = Control::new(store, config.control.clone(), addr);
    tracing::info!(
        listen = %addr,
        public_url = %control.public_url,
        mail_folder = %config.control.mail_folder.display(),
        "control plane serving"
    );
    let limits = crate::daemon::listener_limits(&config.daemon);
    super::serve(control, listener, limits, shutdown).await;
    Ok(())
}

/// `mail list|show`.
pub fn mail(config: &Config, command: MailCommand) -> Result<()> {
    let folder = &config.control.mail_folder;
    let messages = mail::list(folder).map_err(Error::io("cannot read", folder))?;
    match command {
        MailCommand::List => {
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
    }
}
