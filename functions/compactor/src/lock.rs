//! The per-table merge lock: an S3 document written with `If-None-Match` (or over an expired
//! one with `If-Match`), so one run at a time merges a table.

use dmslake::athena::request_token;
use dmslake::state::{StateError, StateStore};

use crate::watermark::{lock_doc, Lock};

fn now_epoch() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A merge lock this run holds: the version of the lock document it wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldLock {
    pub table: String,
    pub owner: String,
    pub etag: String,
}

/// A lock owner token unique to this run and table: the table, the start time in
/// nanoseconds and a per-process random value. The lock document's ETag is the MD5 of its
/// content, so a unique owner also makes each run's lock version unique.
pub fn lock_owner(table: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let nanos = chrono::Utc::now()
        .timestamp_nanos_opt()
        .unwrap_or_default()
        .to_string();
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        .to_string();
    request_token(&[table, &nanos, &random])
}

/// Takes the table's lock for `owner`; `Ok(None)` when another run holds a live one.
pub async fn acquire_lock(
    state: &StateStore,
    table: &str,
    owner: &str,
    ttl: i64,
) -> Result<Option<HeldLock>, StateError> {
    let doc = lock_doc(table);
    let lock = Lock {
        owner: owner.to_string(),
        expires_at: now_epoch() + ttl,
    };
    let held = |etag: String| HeldLock {
        table: table.to_string(),
        owner: owner.to_string(),
        etag,
    };
    match state.put_if(&doc, &lock, None).await {
        Ok(etag) => Ok(Some(held(etag))),
        Err(StateError::Conflict { .. }) => {
            let Some(current) = state.get::<Lock>(&doc).await? else {
                return Ok(state.put_if(&doc, &lock, None).await.ok().map(held));
            };
            if current.value.expires_at > now_epoch() {
                return Ok(None);
            }
            // Expired: take it over, unless someone else does first.
            Ok(state
                .put_if(&doc, &lock, Some(&current.etag))
                .await
                .ok()
                .map(held))
        }
        Err(e) => Err(e),
    }
}

/// Releases a lock only if it is still the one this run wrote: after it expired and another
/// run took it over, the other run's lock stays. `Ok(false)` when it was no longer ours.
pub async fn release_lock(state: &StateStore, lock: &HeldLock) -> Result<bool, StateError> {
    state.delete_if(&lock_doc(&lock.table), &lock.etag).await
}
