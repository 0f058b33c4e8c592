//! Small JSON documents in S3 that must survive cold starts (watermarks, restart counts,
//! task history, locks), with optimistic concurrency through S3 conditional writes
//! (`If-Match` / `If-None-Match`).

use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use serde::{de::DeserializeOwned, Serialize};

/// How a read-modify-write waits between attempts after losing a conditional-write race:
/// exponential backoff with "full jitter" (a uniformly random wait between zero and the
/// exponential bound), so writers that collided spread out instead of colliding again in
/// step. The algorithm is the one the AWS Architecture Blog's "Exponential Backoff And
/// Jitter" and the AWS SDKs' retry behaviour describe
/// (<https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html>).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in all (the first one included).
    pub attempts: u32,
    /// Bound of the first wait; each further wait's bound doubles, up to `cap`.
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    /// For state documents that several invocations update at once (one watched task's
    /// record under a burst of events): 12 attempts, bounds 25 ms doubling to 2 s, about 11 s
    /// of waiting at worst, well inside a function's timeout.
    pub const CONFLICTS: Backoff = Backoff {
        attempts: 12,
        base: Duration::from_millis(25),
        cap: Duration::from_secs(2),
    };

    /// The bound of the wait after failed attempt `attempt` (1-based): `base * 2^(attempt-1)`,
    /// at most `cap`.
    pub fn bound(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The wait after failed attempt `attempt` for a random `unit` in `[0, 1)`.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        self.bound(attempt).mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// A random number in `[0, 1)` for jitter (from the standard library's per-process random
/// hash keys, mixed with the clock: no cryptographic quality is needed).
pub fn jitter_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Where state documents live: a bucket and a key prefix ending in `/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateLocation {
    pub bucket: String,
    pub prefix: String,
}

impl StateLocation {
    pub fn new(bucket: impl Into<String>, prefix: &str) -> Self {
        let trimmed = prefix.trim_matches('/');
        let prefix = if trimmed.is_empty() {
            String::new()
        } else {
            format!("{trimmed}/")
        };
        Self {
            bucket: bucket.into(),
            prefix,
        }
    }

    /// The object key of a document name such as `watermarks/public_orders.json`.
    pub fn key(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }
}

/// A document read back with the version tag needed for a conditional update.
#[derive(Clone, Debug, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub etag: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("s3://{bucket}/{key}: {message}")]
    S3 {
        bucket: String,
        key: String,
        message: String,
    },
    #[error("s3://{bucket}/{key}: not a valid state document: {source}")]
    Decode {
        bucket: String,
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("s3://{bucket}/{key}: changed concurrently (conditional write refused)")]
    Conflict { bucket: String, key: String },
    #[error("s3://{bucket}/{key}: still changed concurrently after {attempts} attempts; the update was not stored")]
    Contended {
        bucket: String,
        key: String,
        attempts: u32,
    },
}

/// A JSON document store over one S3 client.
#[derive(Clone, Debug)]
pub struct StateStore {
    s3: aws_sdk_s3::Client,
    location: StateLocation,
}

impl StateStore {
    pub fn new(s3: aws_sdk_s3::Client, location: StateLocation) -> Self {
        Self { s3, location }
    }

    pub fn location(&self) -> &StateLocation {
        &self.location
    }

    /// The S3 client the store uses (for other reads in the same account).
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.s3
    }

    fn s3_error<E, R>(&self, key: &str, err: &aws_sdk_s3::error::SdkError<E, R>) -> StateError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        let message = crate::aws_error::sdk_message(err);
        StateError::S3 {
            bucket: self.location.bucket.clone(),
            key: key.to_string(),
            message,
        }
    }

    /// Reads a document; `None` when it does not exist yet.
    pub async fn get<T: DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<Versioned<T>>, StateError> {
        let key = self.location.key(name);
        let out = match self
            .s3
            .get_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(err) => {
                if err.as_service_error().is_some_and(|e| e.is_no_such_key()) {
                    return Ok(None);
                }
                return Err(self.s3_error(&key, &err));
            }
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StateError::S3 {
                bucket: self.location.bucket.clone(),
                key: key.clone(),
                message: e.to_string(),
            })?
            .into_bytes();
        let value = serde_json::from_slice(&bytes).map_err(|source| StateError::Decode {
            bucket: self.location.bucket.clone(),
            key: key.clone(),
            source,
        })?;
        Ok(Some(Versioned { value, etag }))
    }

    /// Writes a document. `expected_etag`: `Some(tag)` replaces only that version,
    /// `None` creates it only if absent; a lost race is [`StateError::Conflict`].
    pub async fn put_if<T: Serialize>(
        &self,
        name: &str,
        value: &T,
        expected_etag: Option<&str>,
    ) -> Result<String, StateError> {
        let key = self.location.key(name);
        let body = serde_json::to_vec(value).map_err(|source| StateError::Decode {
            bucket: self.location.bucket.clone(),
            key: key.clone(),
            source,
        })?;
        let mut req = self
            .s3
            .put_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .content_type("application/json")
            .body(ByteStream::from(body));
        req = match expected_etag {
            Some(tag) => req.if_match(tag),
            None => req.if_none_match("*"),
        };
        match req.send().await {
            Ok(out) => Ok(out.e_tag().unwrap_or_default().to_string()),
            Err(err) => {
                let status = err.raw_response().map(|r| r.status().as_u16());
                if matches!(status, Some(412) | Some(409)) {
                    return Err(StateError::Conflict {
                        bucket: self.location.bucket.clone(),
                        key,
                    });
                }
                Err(self.s3_error(&key, &err))
            }
        }
    }

    /// Read-modify-write of one document with optimistic concurrency: `change` runs on the
    /// current value (`fresh()` when there is none) and returns its result; a concurrent
    /// writer makes the whole step run again after a jittered backoff. After
    /// `backoff.attempts` lost races the answer is [`StateError::Contended`]: nothing was
    /// stored, and the caller must fail so the work is retried, not dropped.
    pub async fn update<T, R>(
        &self,
        name: &str,
        backoff: Backoff,
        fresh: impl Fn() -> T,
        mut change: impl FnMut(&mut T) -> R,
    ) -> Result<(T, R), StateError>
    where
        T: DeserializeOwned + Serialize,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (mut value, etag) = match self.get::<T>(name).await? {
                Some(Versioned { value, etag }) => (value, Some(etag)),
                None => (fresh(), None),
            };
            let result = change(&mut value);
            match self.put_if(name, &value, etag.as_deref()).await {
                Ok(_) => return Ok((value, result)),
                Err(StateError::Conflict { bucket, key }) => {
                    if attempt >= backoff.attempts {
                        return Err(StateError::Contended {
                            bucket,
                            key,
                            attempts: attempt,
                        });
                    }
                    let wait = backoff.delay(attempt, jitter_unit());
                    tracing::info!(
                        document = name,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "state document changed concurrently; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// The names (relative to the prefix, like [`Self::get`] takes them) of the documents in
    /// `folder` (`watermarks/`), in key order.
    pub async fn list(&self, folder: &str) -> Result<Vec<String>, StateError> {
        let folder_key = self.location.key(folder);
        let mut names = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.location.bucket)
            .prefix(&folder_key)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| self.s3_error(&folder_key, &err))?;
            names.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter_map(|k| k.strip_prefix(&self.location.prefix))
                    .map(str::to_string),
            );
        }
        Ok(names)
    }

    /// Writes a document unconditionally (last writer wins).
    pub async fn put<T: Serialize>(&self, name: &str, value: &T) -> Result<String, StateError> {
        let key = self.location.key(name);
        let body = serde_json::to_vec(value).map_err(|source| StateError::Decode {
            bucket: self.location.bucket.clone(),
            key: key.clone(),
            source,
        })?;
        self.s3
            .put_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map(|out| out.e_tag().unwrap_or_default().to_string())
            .map_err(|err| self.s3_error(&key, &err))
    }

    /// Deletes a document only while it is still the version `etag`: `Ok(true)` when deleted,
    /// `Ok(false)` when it has changed or is gone (someone else's document now, or nothing to
    /// delete). Uses S3's conditional delete (`If-Match` on DeleteObject, "Conditional deletes"
    /// in the S3 user guide, conditional-deletes.md).
    pub async fn delete_if(&self, name: &str, etag: &str) -> Result<bool, StateError> {
        let key = self.location.key(name);
        let sent = self
            .s3
            .delete_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .if_match(etag)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(err) => {
                let status = err.raw_response().map(|r| r.status().as_u16());
                if matches!(status, Some(412) | Some(409) | Some(404)) {
                    return Ok(false);
                }
                Err(self.s3_error(&key, &err))
            }
        }
    }

    /// Deletes a document (absent is fine).
    pub async fn delete(&self, name: &str) -> Result<(), StateError> {
        let key = self.location.key(name);
        self.s3
            .delete_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| self.s3_error(&key, &err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_bounds_double_from_base_up_to_the_cap_and_jitter_stays_inside() {
        let b = Backoff {
            attempts: 6,
            base: Duration::from_millis(25),
            cap: Duration::from_millis(150),
        };
        let bounds: Vec<u128> = (1..=5).map(|a| b.bound(a).as_millis()).collect();
        assert_eq!(bounds, vec![25, 50, 100, 150, 150]);
        assert_eq!(b.delay(3, 0.0), Duration::ZERO);
        assert_eq!(b.delay(3, 0.5), Duration::from_millis(50));
        assert_eq!(b.delay(3, 7.0), Duration::from_millis(100), "clamped");
        assert_eq!(Backoff::CONFLICTS.bound(60), Duration::from_secs(2));
        let units: Vec<f64> = (0..64).map(|_| jitter_unit()).collect();
        assert!(units.iter().all(|u| (0.0..1.0).contains(u)), "{units:?}");
        let distinct: std::collections::BTreeSet<u64> =
            units.iter().map(|u| (u * 1e9) as u64).collect();
        assert!(distinct.len() > 32, "jitter is not random: {units:?}");
    }

    #[test]
    fn prefix_is_normalised_to_one_trailing_slash() {
        assert_eq!(StateLocation::new("b", "/a/b/").key("x.json"), "a/b/x.json");
        assert_eq!(StateLocation::new("b", "").key("x.json"), "x.json");
        assert_eq!(
            StateLocation::new("b", "state").key("w/t.json"),
            "state/w/t.json"
        );
    }
}
