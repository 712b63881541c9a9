//! The API's event streams: a record read from the catalog every `every` and sent as one
//! event each time it changes, until it is finished, can no longer be read, or its caller's
//! standing ends (`standing`). Reading the catalog rather than listening to a worker lets any
//! node serve the stream of work another node does.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use bulwark_core::platform::catalog::Catalog;
use futures_util::Stream;

use super::standing::Standing;

/// How a watched record becomes events.
pub struct Watched<T> {
    /// The event's name (`event:` line).
    pub event: &'static str,
    pub every: Duration,
    /// Nothing more will change: the stream ends after this event.
    pub finished: fn(&T) -> bool,
    /// What must change for a new event (a restoration's rate moves each tick; its progress is
    /// what counts).
    pub key: fn(&T) -> String,
    /// The event's data.
    pub data: fn(&T) -> String,
}

/// The stream of `first` and then of each `read` that changed; a `read` of `None` (the record
/// is gone, the catalog failed) ends it.
pub fn stream<T, R, Fut>(catalog: Catalog, standing: Standing, first: T, watched: Watched<T>, read: R) -> Sse<impl Stream<Item = Result<Event, Infallible>>>
where
    T: Send + 'static,
    R: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Option<T>> + Send,
{
    struct State<T, R> {
        first: Option<T>,
        last: Option<String>,
        ended: bool,
        standing: Standing,
        catalog: Catalog,
        watched: Watched<T>,
        read: R,
    }
    let state = State { first: Some(first), last: None, ended: false, standing, catalog, watched, read };
    let events = futures_util::stream::unfold(state, |mut st| async move {
        if st.ended {
            return None;
        }
        loop {
            let record = match st.first.take() {
                Some(record) => record,
                None => {
                    tokio::time::sleep(st.watched.every).await;
                    if !st.standing.holds(&st.catalog).await {
                        return None;
                    }
                    (st.read)().await?
                }
            };
            let key = (st.watched.key)(&record);
            if st.last.as_deref() != Some(key.as_str()) {
                st.ended = (st.watched.finished)(&record);
                let event = Event::default().event(st.watched.event).data((st.watched.data)(&record));
                st.last = Some(key);
                return Some((Ok(event), st));
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// A record as its JSON text: the key and data of records sent whole.
pub fn json<T: serde::Serialize>(record: &T) -> String {
    serde_json::to_string(record).unwrap_or_default()
}
