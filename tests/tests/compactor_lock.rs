//! The compactor's per-table merge lock: a run releases only the lock it wrote.

use compactor::handler::{acquire_lock, lock_owner, release_lock};
use compactor::watermark::{lock_doc, Lock};
use dmslake::state::{StateLocation, StateStore};

async fn store() -> StateStore {
    let clients = dmslake_tests::clients().await;
    let bucket = dmslake_tests::new_bucket(&clients, "lock").await;
    StateStore::new(
        clients.s3.clone(),
        StateLocation::new(&bucket, "dmslake-state"),
    )
}

#[tokio::test]
async fn releasing_an_expired_lock_taken_over_by_another_run_leaves_that_runs_lock() {
    let state = store().await;
    let table = "public_orders";
    let owner_a = lock_owner(table);
    let owner_b = lock_owner(table);
    assert_ne!(owner_a, owner_b, "each run gets its own owner token");

    // Run A takes a lock that is already expired (it outlived its time to live).
    let a = acquire_lock(&state, table, &owner_a, -1)
        .await
        .expect("acquire A")
        .expect("A holds the lock");
    // Run B sees it expired and takes it over.
    let b = acquire_lock(&state, table, &owner_b, 600)
        .await
        .expect("acquire B")
        .expect("B takes over the expired lock");
    assert_ne!(a.etag, b.etag);

    // A finishes late: its release must not remove B's lock.
    assert!(!release_lock(&state, &a).await.expect("release A"));
    let held = state
        .get::<Lock>(&lock_doc(table))
        .await
        .expect("get")
        .expect("B's lock is still there");
    assert_eq!(held.value.owner, owner_b);

    // A live lock keeps a third run out; B's own release removes it.
    let c = acquire_lock(&state, table, &lock_owner(table), 600)
        .await
        .expect("acquire C");
    assert!(c.is_none(), "B's live lock refuses C");
    assert!(release_lock(&state, &b).await.expect("release B"));
    assert!(state
        .get::<Lock>(&lock_doc(table))
        .await
        .expect("get")
        .is_none());
}

#[tokio::test]
async fn releasing_a_lock_that_is_already_gone_is_not_an_error() {
    let state = store().await;
    let table = "public_customers";
    let a = acquire_lock(&state, table, &lock_owner(table), 600)
        .await
        .expect("acquire")
        .expect("free lock");
    assert!(release_lock(&state, &a).await.expect("first release"));
    assert!(!release_lock(&state, &a).await.expect("second release"));
}
