//! The server's connections: how many are open, which are idle (waiting for a request, or for
//! the rest of one), and the means to close them. At the cap, the oldest idle connection is
//! shed to make room for a new one; with none idle, the new one is turned away. On shutdown
//! every connection is asked to finish its request and close.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// One connection's shared state.
#[derive(Debug, Default)]
pub struct Conn {
    /// No request is being answered on it.
    pub idle: AtomicBool,
    /// A request has been received on it.
    pub used: AtomicBool,
    /// Notified to close it (gracefully: a request being answered is finished first).
    pub close: Notify,
}

/// Every open connection, by age.
#[derive(Debug, Default)]
pub struct Conns {
    open: Mutex<BTreeMap<u64, Arc<Conn>>>,
    next: AtomicU64,
    /// Notified when a connection ends (shutdown waits on it).
    ended: Notify,
}

/// A registered connection; dropping it unregisters it.
pub struct Registered {
    conns: Arc<Conns>,
    id: u64,
    pub conn: Arc<Conn>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.conns.lock().remove(&self.id);
        self.conns.ended.notify_waiters();
    }
}

impl Conns {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Conn>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Registers a new connection under the cap `max`: when full, the oldest idle one is told
    /// to close and the new one takes its place (`shed` is set); with none idle, `None`.
    pub fn admit(self: &Arc<Self>, max: usize) -> Option<(Registered, bool)> {
        let mut open = self.lock();
        let mut shed = false;
        if open.len() >= max.max(1) {
            let oldest_idle = open
                .iter()
                .find(|(_, c)| c.idle.load(Ordering::Relaxed))
                .map(|(id, c)| (*id, c.clone()))?;
            oldest_idle.1.close.notify_one();
            open.remove(&oldest_idle.0);
            shed = true;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            idle: AtomicBool::new(true),
            used: AtomicBool::new(false),
            close: Notify::new(),
        });
        open.insert(id, conn.clone());
        Some((
            Registered {
                conns: self.clone(),
                id,
                conn,
            },
            shed,
        ))
    }

    /// Tells every connection to close once its request is answered.
    pub fn close_all(&self) {
        for c in self.lock().values() {
            c.close.notify_one();
        }
    }

    /// Waits until every connection has ended.
    pub async fn drained(&self) {
        loop {
            let ended = self.ended.notified();
            if self.is_empty() {
                return;
            }
            ended.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_oldest_idle_connection_makes_room() {
        let conns = Arc::new(Conns::default());
        let (first, _) = conns.admit(2).unwrap();
        let (second, _) = conns.admit(2).unwrap();
        first.conn.idle.store(false, Ordering::Relaxed);
        // Full: the first is busy, so the second (idle) is shed.
        let (third, shed) = conns.admit(2).unwrap();
        assert!(shed);
        tokio::time::timeout(
            std::time::Duration::from_secs(1),
            second.conn.close.notified(),
        )
        .await
        .expect("told to close");
        third.conn.idle.store(false, Ordering::Relaxed);
        assert!(conns.admit(2).is_none(), "none idle: turned away");
        drop((first, second, third));
        assert!(conns.is_empty());
        conns.drained().await;
    }
}
