//! The local emulator is reached through the real SDK over HTTP.

#[tokio::test]
async fn s3_round_trip_through_the_real_sdk() {
    let clients = dmslake_tests::clients().await;
    let bucket = dmslake_tests::new_bucket(&clients, "roundtrip").await;
    clients
        .s3
        .put_object()
        .bucket(&bucket)
        .key("dms/public/orders/LOAD00000001.csv")
        .body(b"I,1,a\n".to_vec().into())
        .send()
        .await
        .expect("put");
    let got = clients
        .s3
        .get_object()
        .bucket(&bucket)
        .key("dms/public/orders/LOAD00000001.csv")
        .range("bytes=-4")
        .send()
        .await
        .expect("ranged get");
    let body = got.body.collect().await.expect("body").into_bytes();
    assert_eq!(
        &body[..],
        b"1,a\n",
        "a suffix range returns the last 4 bytes"
    );
}

#[test]
fn samples_are_reachable() {
    let dir = dmslake_tests::samples_dir();
    assert!(
        dir.join("README.md").is_file(),
        "DMS samples not found at {}",
        dir.display()
    );
}
