//! Live updates of the overview: one poller per server (started by the first `/events`
//! subscriber, stopped when the last one leaves) reads each user's newest result every
//! `poll_interval` and pushes a server-sent event naming each user with a new result (`result`,
//! data: the user id), or `users` when users were added or removed. The page then fetches that
//! user's tile (`/tiles/{id}`) and swaps it in, or reloads for `users`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use results_store::{Store, StoreError};
use tokio::sync::broadcast;

use crate::AppState;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LiveEvent {
    /// This user has a new newest result.
    Result(String),
    /// Users were added or removed.
    Users,
    /// The server is shutting down: streams end.
    Closed,
}

pub(crate) struct Live {
    tx: broadcast::Sender<LiveEvent>,
    running: AtomicBool,
    closed: AtomicBool,
    interval: Duration,
}

/// Each user's newest result, as (run id, time).
type Snapshot = BTreeMap<String, Option<(String, DateTime<Utc>)>>;

async fn snapshot(store: &Store) -> Result<Snapshot, StoreError> {
    let users = store.list_users().await?;
    let latest =
        futures::future::try_join_all(users.iter().map(|u| store.latest_result(&u.user_id)))
            .await?;
    Ok(users
        .into_iter()
        .zip(latest)
        .map(|(u, r)| (u.user_id, r.map(|r| (r.run_id.to_string(), r.taken_at))))
        .collect())
}

/// What changed between two snapshots.
pub(crate) fn changes(before: &Snapshot, after: &Snapshot) -> Vec<LiveEvent> {
    if before.keys().ne(after.keys()) {
        return vec![LiveEvent::Users];
    }
    after
        .iter()
        .filter(|(user, latest)| before.get(*user) != Some(latest))
        .map(|(user, _)| LiveEvent::Result(user.clone()))
        .collect()
}

impl Live {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            tx: broadcast::channel(256).0,
            running: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            interval: interval.max(Duration::from_millis(50)),
        }
    }

    /// Ends every event stream (server shutdown).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.tx.send(LiveEvent::Closed);
    }

    fn subscribe(self: &Arc<Self>, store: &Store) -> broadcast::Receiver<LiveEvent> {
        let rx = self.tx.subscribe();
        if !self.running.swap(true, Ordering::SeqCst) {
            tokio::spawn(poll(self.clone(), store.clone()));
        }
        rx
    }
}

async fn poll(live: Arc<Live>, store: Store) {
    let mut previous = snapshot(&store).await.ok();
    loop {
        tokio::time::sleep(live.interval).await;
        if live.closed.load(Ordering::SeqCst) {
            live.running.store(false, Ordering::SeqCst);
            return;
        }
        if live.tx.receiver_count() == 0 {
            live.running.store(false, Ordering::SeqCst);
            // A subscriber that came in meanwhile saw `running` and started no poller: go on.
            if live.tx.receiver_count() == 0 || live.running.swap(true, Ordering::SeqCst) {
                return;
            }
        }
        match snapshot(&store).await {
            Ok(now) => {
                if let Some(before) = &previous {
                    for event in changes(before, &now) {
                        let _ = live.tx.send(event);
                    }
                }
                previous = Some(now);
            }
            Err(error) => tracing::warn!(%error, "live updates: the store could not be read"),
        }
    }
}

/// `GET /events`: server-sent events, starting with `ready`.
pub(crate) async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.inner.live.subscribe(state.store());
    let ready = futures::stream::once(async { Ok(Event::default().event("ready").data("ready")) });
    let updates = futures::stream::unfold(rx, |mut rx| async move {
        let event = match rx.recv().await {
            Ok(LiveEvent::Result(user)) => Event::default().event("result").data(user),
            Ok(LiveEvent::Users) | Err(broadcast::error::RecvError::Lagged(_)) => {
                Event::default().event("users").data("changed")
            }
            Ok(LiveEvent::Closed) | Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(event), rx))
    });
    Sse::new(ready.chain(updates)).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_users_with_new_results() {
        let t = Utc::now();
        let mut before = Snapshot::new();
        before.insert("a".into(), None);
        before.insert("b".into(), Some(("r1".into(), t)));
        let mut after = before.clone();
        assert!(changes(&before, &after).is_empty());
        after.insert("a".into(), Some(("r2".into(), t)));
        assert_eq!(
            changes(&before, &after),
            vec![LiveEvent::Result("a".into())]
        );
        after.insert("c".into(), None);
        assert_eq!(changes(&before, &after), vec![LiveEvent::Users]);
    }
}
