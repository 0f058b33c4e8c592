//! Small JSON documents in S3 that must survive cold starts (watermarks, restart counts,
//! task history, locks), with optimistic concurrency through S3 conditional writes
//! (`If-Match` / `If-None-Match`).

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use serde::{de::DeserializeOwned, Serialize};

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
    fn prefix_is_normalised_to_one_trailing_slash() {
        assert_eq!(StateLocation::new("b", "/a/b/").key("x.json"), "a/b/x.json");
        assert_eq!(StateLocation::new("b", "").key("x.json"), "x.json");
        assert_eq!(
            StateLocation::new("b", "state").key("w/t.json"),
            "state/w/t.json"
        );
    }
}
