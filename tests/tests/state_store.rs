//! S3 state documents: conditional writes give optimistic concurrency.

use dmslake::state::{StateError, StateLocation, StateStore};

#[tokio::test]
async fn conditional_writes_refuse_a_stale_version_and_a_duplicate_create() {
    let clients = dmslake_tests::clients().await;
    let bucket = dmslake_tests::new_bucket(&clients, "state").await;
    let store = StateStore::new(
        clients.s3.clone(),
        StateLocation::new(&bucket, "dmslake-state"),
    );

    assert!(store
        .get::<serde_json::Value>("w.json")
        .await
        .expect("get")
        .is_none());
    let first = store
        .put_if("w.json", &serde_json::json!({"n": 1}), None)
        .await
        .expect("create");
    let again = store
        .put_if("w.json", &serde_json::json!({"n": 9}), None)
        .await;
    assert!(
        matches!(again, Err(StateError::Conflict { .. })),
        "{again:?}"
    );

    let read = store
        .get::<serde_json::Value>("w.json")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(read.value["n"], 1);
    assert_eq!(read.etag, first);
    store
        .put_if("w.json", &serde_json::json!({"n": 2}), Some(&read.etag))
        .await
        .expect("update");
    let stale = store
        .put_if("w.json", &serde_json::json!({"n": 3}), Some(&read.etag))
        .await;
    assert!(
        matches!(stale, Err(StateError::Conflict { .. })),
        "{stale:?}"
    );
    let now = store
        .get::<serde_json::Value>("w.json")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(now.value["n"], 2);
}
