//! The server's connections: how many are open, which are idle (waiting for a request, or for
//! the rest of one), and the means to close them. At the cap, the oldest idle connection is
//! shed to make room for a new one; with none idle, the new one is turned away. On shutdown
//! every connection is asked to finish its request and close.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// One connection's shared state.
#[derive(Debug, Default)]
pub struct Conn {
    /// No request is being answered on it.
    pub idle: AtomicBool,
    /// A request has been received on it.
    pub used: AtomicBool,
    /// Requests whose answers are not yet sent (HTTP/2 answers several at once).
    in_flight: AtomicUsize,
    /// When it last became idle (or was opened), in milliseconds of [`clock`].
    idle_since: AtomicU64,
    /// When it last wrote to its peer, or its first request in flight began.
    progress_at: AtomicU64,
    /// Told to close (shed at the cap, or the server stopping); counted until it has.
    closing: AtomicBool,
    /// Notified to close it (gracefully: a request being answered is finished first).
    pub close: Notify,
}

/// Milliseconds since the first call: the connections' clock.
fn clock() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
}

impl Conn {
    /// A request begins on it.
    pub fn begin(&self) {
        if self.in_flight.fetch_add(1, Ordering::Relaxed) == 0 {
            self.progressed();
        }
        self.idle.store(false, Ordering::Relaxed);
        self.used.store(true, Ordering::Relaxed);
    }

    /// Asks it to close (its request, if any, answered first).
    pub fn tell_to_close(&self) {
        self.closing.store(true, Ordering::Relaxed);
        self.close.notify_one();
    }

    /// Bytes of it were written to the peer.
    pub fn progressed(&self) {
        self.progress_at.store(clock(), Ordering::Relaxed);
    }

    /// A request's answer is sent (or given up).
    pub fn end(&self) {
        if self.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.idle_since.store(clock(), Ordering::Relaxed);
            self.idle.store(true, Ordering::Relaxed);
        }
    }

    /// How long it has been idle; `None` while a request is answered.
    pub fn idle_for(&self) -> Option<std::time::Duration> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let since = self.idle_since.load(Ordering::Relaxed);
        Some(std::time::Duration::from_millis(
            clock().saturating_sub(since),
        ))
    }

    /// How long it has had answers to send and sent nothing; `None` while idle.
    fn stalled_for(&self) -> Option<std::time::Duration> {
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let since = self.progress_at.load(Ordering::Relaxed);
        Some(std::time::Duration::from_millis(
            clock().saturating_sub(since),
        ))
    }

    /// Resolves once it has had answers to send and written nothing for `limit`: a peer
    /// that does not read (over HTTP/2, one that keeps its flow-control window shut).
    pub async fn stall_deadline(&self, limit: std::time::Duration) {
        loop {
            let wait = match self.stalled_for() {
                Some(stalled) if stalled >= limit => return,
                Some(stalled) => limit - stalled,
                None => limit,
            };
            tokio::time::sleep(wait.max(std::time::Duration::from_millis(10))).await;
        }
    }

    /// Resolves once it has been idle for `limit` (an HTTP/2 connection's keep-alive
    /// deadline, the same as HTTP/1.1's).
    pub async fn idle_deadline(&self, limit: std::time::Duration) {
        loop {
            let wait = match self.idle_for() {
                Some(idle) if idle >= limit => return,
                Some(idle) => limit - idle,
                None => limit,
            };
            tokio::time::sleep(wait.max(std::time::Duration::from_millis(10))).await;
        }
    }
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
    /// Connections told to close count against [`Conns::room`] until they have.
    pub fn admit(self: &Arc<Self>, max: usize) -> Option<(Registered, bool)> {
        let max = max.max(1);
        let mut open = self.lock();
        let mut shed = false;
        let closing = open
            .values()
            .filter(|c| c.closing.load(Ordering::Relaxed))
            .count();
        if open.len() - closing >= max {
            let oldest_idle = open
                .values()
                .find(|c| c.idle.load(Ordering::Relaxed) && !c.closing.load(Ordering::Relaxed))?;
            oldest_idle.tell_to_close();
            shed = true;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            idle: AtomicBool::new(true),
            idle_since: AtomicU64::new(clock()),
            ..Conn::default()
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

    /// Waits until fewer than half the cap `max` again are open, those told to close
    /// included: an accept loop waits for it before accepting, so the descriptors held stay
    /// bounded however fast connections arrive (the others wait in the kernel's queue).
    pub async fn room(&self, max: usize) {
        let bound = max.max(1) + max.max(1) / 2;
        loop {
            let ended = self.ended.notified();
            if self.len() < bound {
                return;
            }
            ended.await;
        }
    }

    /// Tells every connection to close once its request is answered.
    pub fn close_all(&self) {
        for c in self.lock().values() {
            c.tell_to_close();
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
        // The second counts until it has closed.
        assert_eq!(conns.len(), 3);
        drop((first, second, third));
        assert!(conns.is_empty());
        conns.drained().await;
    }

    /// Connections told to close count until they have: however fast connections come,
    /// the accept loop waits once half the cap again are open.
    #[tokio::test]
    async fn connections_being_shed_still_count() {
        let conns = Arc::new(Conns::default());
        let mut held = Vec::new();
        for _ in 0..6 {
            let (registered, _) = conns.admit(4).expect("the oldest idle make room");
            held.push(registered);
        }
        let wait = std::time::Duration::from_millis(50);
        assert!(
            tokio::time::timeout(wait, conns.room(4)).await.is_err(),
            "6 open under 4"
        );
        drop(held.remove(0));
        tokio::time::timeout(wait, conns.room(4))
            .await
            .expect("room again");
    }
}
