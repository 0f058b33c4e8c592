//! dms-task-watcher against the emulator through the real SDK. moto emits no DMS events, so
//! each test puts the sample events from `events/` (with the emulator's task ARN in
//! `resources`) and reads the effects back: alerts from an SQS queue subscribed to the SNS
//! topic, baseline requests from an SQS queue targeted by a rule on a private event bus,
//! task status from DMS, history from the state bucket.

use chrono::{DateTime, Utc};
use dms_task_watcher::adapters::{activity_since, ActivityScan, CompactionRequested};
use dms_task_watcher::config::{Policy, WatcherConfig};
use dms_task_watcher::decide::Activity;
use dms_task_watcher::dms::TaskCommand;
use dms_task_watcher::event::Request;
use dms_task_watcher::handler::{self, Deps, Done, Outcome};
use dms_task_watcher::state::{self, TaskRecord};
use dmslake::config::{DatePartitionDelimiter, DatePartitionSequence, LayoutConfig};
use dmslake::dms_events::{parse_event, DmsEventKind, ResourceKind};
use dmslake::layout::{cdc_name_prefix, date_folder};
use dmslake::state::{StateLocation, StateStore};
use dmslake_tests::{clients, new_bucket, repo_dir, sdk_config_with_attempts, unique_name};
use serde_json::{json, Value};

const TABLE_MAPPINGS: &str = r#"{"rules":[{"rule-type":"selection","rule-id":"1","rule-name":"orders","object-locator":{"schema-name":"public","table-name":"orders"},"rule-action":"include"}]}"#;
const INSTANCE_ARN: &str = "arn:aws:dms:us-east-1:123456789012:rep:T3OM7OUB5NM2LCVZF7JPGJRNUE";

/// moto writes DMS timestamps as ISO strings where the DMS JSON protocol (and so the Rust
/// SDK) expects epoch seconds, so every DMS response carrying a task fails to deserialize.
/// This pass-through proxy in front of the emulator rewrites those strings into numbers for
/// DMS calls only; everything else is forwarded unchanged (`scripts/moto_server.py` makes the
/// same correction for the whole local stack; the proxy keeps these tests independent of how
/// the emulator was started). moto also cannot put a task in
/// `failed` or report a full load in progress, so `POST /__override` with
/// `{"arn": ..., "fields": {...}}` merges fields into that task in later DMS answers (the way
/// moto's own state manager scripts other services). It exits when the test process closes
/// its stdin.
const DMS_DATE_PROXY: &str = r#"
import datetime, http.client, http.server, json, os, re, sys, threading
UPSTREAM = sys.argv[1]
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
def fix(v):
    if isinstance(v, dict):
        return {k: fix(x) for k, x in v.items()}
    if isinstance(v, list):
        return [fix(x) for x in v]
    if isinstance(v, str) and ISO.match(v):
        d = datetime.datetime.fromisoformat(v)
        if d.tzinfo is None:
            d = d.replace(tzinfo=datetime.timezone.utc)
        return d.timestamp()
    return v
OVERRIDES = {}
def merge(task):
    extra = OVERRIDES.get(task.get("ReplicationTaskArn"))
    if extra:
        for k, v in extra.items():
            if isinstance(v, dict) and isinstance(task.get(k), dict):
                task[k].update(v)
            else:
                task[k] = v
def patch(doc):
    for t in doc.get("ReplicationTasks") or []:
        merge(t)
    if isinstance(doc.get("ReplicationTask"), dict):
        merge(doc["ReplicationTask"])
    return doc
class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def forward(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/__override":
            req = json.loads(body)
            OVERRIDES.setdefault(req["arn"], {}).update(req["fields"])
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        conn = http.client.HTTPConnection(UPSTREAM, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        if (self.headers.get("X-Amz-Target") or "").startswith("AmazonDMSv20160101.") and resp.status == 200:
            data = json.dumps(fix(patch(json.loads(data)))).encode()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_POST = do_GET = do_PUT = do_DELETE = do_HEAD = forward
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
print(server.server_address[1], flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()
os._exit(0)
"#;

/// The proxy's URL, and the process with its stdin held open for the life of the tests.
type Proxy = (
    String,
    std::sync::Mutex<(std::process::Child, std::process::ChildStdin)>,
);
static PROXY: std::sync::OnceLock<Proxy> = std::sync::OnceLock::new();

/// The DMS endpoint for tests: the date-fixing proxy in front of the emulator.
fn dms_endpoint() -> String {
    let (url, _) = PROXY.get_or_init(|| {
        use std::io::BufRead;
        let upstream = dmslake_tests::endpoint();
        let host = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let mut child = std::process::Command::new(repo_dir().join(".venv/bin/python"))
            .arg("-c")
            .arg(DMS_DATE_PROXY)
            .arg(host)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the DMS date proxy");
        let stdout = child.stdout.take().expect("proxy stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("proxy port");
        let port: u16 = line.trim().parse().expect("proxy port number");
        let stdin = child.stdin.take().expect("proxy stdin");
        (
            format!("http://127.0.0.1:{port}"),
            std::sync::Mutex::new((child, stdin)),
        )
    });
    url.clone()
}

/// Makes later DMS answers about `arn` carry `fields` (merged into `ReplicationTaskStats`
/// when that is given as an object).
fn override_task(arn: &str, fields: Value) {
    use std::io::{Read, Write};
    let url = dms_endpoint();
    let addr = url.trim_start_matches("http://");
    let body = json!({"arn": arn, "fields": fields}).to_string();
    let mut conn = std::net::TcpStream::connect(addr).expect("proxy connection");
    write!(
        conn,
        "POST /__override HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("override request");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("override answer");
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
}

fn dms_client(sdk: &aws_config::SdkConfig) -> aws_sdk_databasemigration::Client {
    aws_sdk_databasemigration::Client::from_conf(
        aws_sdk_databasemigration::config::Builder::from(sdk)
            .endpoint_url(dms_endpoint())
            .build(),
    )
}

fn sample(name: &str) -> Value {
    let path = repo_dir().join("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A sample event aimed at `arn`, with its own envelope id (a new delivery).
fn event_for(name: &str, arn: &str, delivery: &str) -> Value {
    let mut ev = sample(name);
    ev["resources"] = json!([arn]);
    ev["id"] = json!(format!("{}-{delivery}", ev["id"].as_str().unwrap_or("id")));
    ev
}

fn manual(name: &str, arn: &str) -> Value {
    let mut req = sample(name);
    req["task"] = json!(arn);
    req
}

struct Fixture {
    sdk: aws_config::SdkConfig,
    task_arn: String,
    config: WatcherConfig,
    alerts_queue: String,
    baseline_queue: String,
    sqs: aws_sdk_sqs::Client,
    dms: aws_sdk_databasemigration::Client,
    store: StateStore,
}

async fn queue(sqs: &aws_sdk_sqs::Client, prefix: &str) -> (String, String) {
    let url = sqs
        .create_queue()
        .queue_name(unique_name(prefix, '-'))
        .send()
        .await
        .expect("create queue")
        .queue_url()
        .unwrap_or_default()
        .to_string();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .cloned()
        .expect("queue arn");
    (url, arn)
}

async fn create_task(
    dms: &aws_sdk_databasemigration::Client,
    migration: &str,
    instance: &str,
) -> String {
    dms.create_replication_task()
        .replication_task_identifier(unique_name("orders", '-'))
        .source_endpoint_arn("arn:aws:dms:us-east-1:123456789012:endpoint:SOURCEPG")
        .target_endpoint_arn("arn:aws:dms:us-east-1:123456789012:endpoint:TARGETS3")
        .replication_instance_arn(instance)
        .migration_type(aws_sdk_databasemigration::types::MigrationTypeValue::from(
            migration,
        ))
        .table_mappings(TABLE_MAPPINGS)
        .send()
        .await
        .expect("create task")
        .replication_task()
        .and_then(|t| t.replication_task_arn())
        .expect("task arn")
        .to_string()
}

async fn fixture(policy: Policy, migration: &str) -> Fixture {
    let c = clients().await;
    let sdk = sdk_config_with_attempts(1).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let dms = dms_client(&sdk);
    let state_bucket = new_bucket(&c, "watcher-state").await;
    let task_arn = create_task(&dms, migration, INSTANCE_ARN).await;

    let topic_arn = c
        .sns
        .create_topic()
        .name(unique_name("alerts", '-'))
        .send()
        .await
        .expect("topic")
        .topic_arn()
        .unwrap_or_default()
        .to_string();
    let (alerts_queue, alerts_arn) = queue(&sqs, "alerts").await;
    c.sns
        .subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&alerts_arn)
        .send()
        .await
        .expect("subscribe");

    let bus = unique_name("bus", '-');
    c.eventbridge
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("bus");
    let rule = unique_name("baseline", '-');
    c.eventbridge
        .put_rule()
        .name(&rule)
        .event_bus_name(&bus)
        .event_pattern(r#"{"source":["dmslake"],"detail-type":["Compaction Requested"]}"#)
        .send()
        .await
        .expect("rule");
    let (baseline_queue, baseline_arn) = queue(&sqs, "baseline").await;
    c.eventbridge
        .put_targets()
        .rule(&rule)
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("compactor")
                .arn(&baseline_arn)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("targets");

    let location = StateLocation::new(&state_bucket, "dmslake-state/");
    let config = WatcherConfig {
        watched: vec![task_arn.clone()],
        alert_topic_arn: topic_arn,
        policy,
        event_bus: bus,
        data_bucket: None,
        layout: LayoutConfig {
            bucket_folder: "dms".into(),
            ..LayoutConfig::default()
        },
        state: location.clone(),
    };
    Fixture {
        sdk,
        task_arn,
        config,
        alerts_queue,
        baseline_queue,
        sqs,
        dms,
        store: StateStore::new(c.s3.clone(), location),
    }
}

/// Puts a one-row CDC file for `table` (`schema/table`) named and foldered (YYYYMMDD, SLASH)
/// as DMS would for a write at `at`; returns its key.
async fn put_cdc_file(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    table: &str,
    at: DateTime<Utc>,
) -> String {
    let folder = date_folder(
        DatePartitionSequence::Yyyymmdd,
        DatePartitionDelimiter::Slash,
        at,
    );
    let key = format!("dms/{table}/{folder}/{}000.csv", cdc_name_prefix(at));
    dmslake_tests::put_object(s3, bucket, &key, b"I,1\n".to_vec()).await;
    key
}

impl Fixture {
    /// Stores a task history in which the task started running two hours ago (from an event).
    async fn record_running_for_two_hours(&self) {
        let mut record = TaskRecord::new(&self.task_arn);
        record.push_transition(
            Utc::now() - chrono::Duration::hours(2),
            "running",
            "event",
            None,
        );
        self.store
            .put(&state::record_name(&self.task_arn), &record)
            .await
            .expect("seed record");
    }

    /// A fresh `Deps` each call: every invocation is a cold start, so anything remembered
    /// comes from the state bucket.
    fn deps(&self) -> Deps {
        let mut deps = Deps::with_config(&self.sdk, self.config.clone());
        deps.dms = dms_client(&self.sdk);
        deps
    }

    async fn invoke(&self, payload: Value) -> Outcome {
        handler::handle(&self.deps(), payload)
            .await
            .expect("handled")
    }

    async fn drain(&self, url: &str) -> Vec<Value> {
        let mut out = Vec::new();
        for _ in 0..3 {
            let got = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("receive");
            let msgs = got.messages();
            if msgs.is_empty() && !out.is_empty() {
                break;
            }
            for m in msgs {
                out.push(serde_json::from_str(m.body().unwrap_or("null")).expect("json body"));
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
            }
        }
        out
    }

    /// Alerts published since the last call: (subject, message).
    async fn alerts(&self) -> Vec<(String, String)> {
        self.drain(&self.alerts_queue)
            .await
            .into_iter()
            .map(|b| {
                (
                    b["Subject"].as_str().unwrap_or_default().to_string(),
                    b["Message"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    async fn baselines(&self) -> Vec<CompactionRequested> {
        self.drain(&self.baseline_queue)
            .await
            .into_iter()
            .map(|ev| {
                assert_eq!(ev["source"], "dmslake");
                assert_eq!(ev["detail-type"], "Compaction Requested");
                serde_json::from_value(ev["detail"].clone()).expect("detail")
            })
            .collect()
    }

    async fn dms_status(&self) -> String {
        dms_task_watcher::dms::describe(&self.dms, &self.task_arn)
            .await
            .expect("describe")
            .expect("task exists")
            .status
    }

    async fn start_in_dms(&self) {
        self.dms
            .start_replication_task()
            .replication_task_arn(&self.task_arn)
            .start_replication_task_type(
                aws_sdk_databasemigration::types::StartReplicationTaskTypeValue::StartReplication,
            )
            .send()
            .await
            .expect("start");
    }

    async fn record(&self) -> TaskRecord {
        state::load(&self.store, &self.task_arn)
            .await
            .expect("record")
            .0
    }
}

fn auto_resume(limit: u32) -> Policy {
    Policy {
        auto_resume: true,
        restart_limit: limit,
        ..Policy::default()
    }
}

#[test]
fn every_sample_event_parses_as_what_it_documents() {
    let expected = [
        (
            "dms-task-started.json",
            ResourceKind::Task,
            DmsEventKind::Started,
        ),
        (
            "dms-task-stopped.json",
            ResourceKind::Task,
            DmsEventKind::Stopped,
        ),
        (
            "dms-task-stopped-full-load-finished.json",
            ResourceKind::Task,
            DmsEventKind::Stopped,
        ),
        (
            "dms-task-failed.json",
            ResourceKind::Task,
            DmsEventKind::Failed,
        ),
        (
            "dms-serverless-replication-failed.json",
            ResourceKind::ReplicationConfig,
            DmsEventKind::Failed,
        ),
        (
            "dms-instance-low-storage.json",
            ResourceKind::ReplicationInstance,
            DmsEventKind::InstanceLowStorage,
        ),
    ];
    for (name, resource, kind) in expected.clone() {
        let ev = parse_event(&sample(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((ev.resource, ev.kind), (resource, kind), "{name}");
    }
    let finished =
        parse_event(&sample("dms-task-stopped-full-load-finished.json")).expect("parses");
    assert_eq!(
        finished
            .facts
            .stop_reason
            .map(|r| r.as_str().to_string())
            .as_deref(),
        Some("FULL_LOAD_ONLY_FINISHED")
    );
    // The real captured DMS events parse the same way.
    let captured = dmslake_tests::samples_dir().join("events");
    for file in [
        "dms_task_started.json",
        "dms_task_stopped.json",
        "dms_task_failed.json",
        "dms_task_created.json",
        "awsdocs_dms_eventbridge_replication_task_started.json",
    ] {
        let text = std::fs::read_to_string(captured.join(file)).expect("captured sample");
        parse_event(&serde_json::from_str(&text).expect("json"))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    for name in [
        "watcher-manual-status.json",
        "watcher-manual-start.json",
        "watcher-manual-stop.json",
        "watcher-manual-resume.json",
        "watcher-manual-reload.json",
        "watcher-manual-health-check.json",
    ] {
        assert!(sample(name)["action"].is_string(), "{name}");
    }
    assert_eq!(
        sample("watcher-health-check.json")["detail-type"],
        "Scheduled Event"
    );
    // Every watcher sample decodes, with the handler's own decoder, to the request it names.
    let decoded =
        |name: &str| Request::decode(sample(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    for (name, command) in [
        ("watcher-manual-start.json", TaskCommand::Start),
        ("watcher-manual-stop.json", TaskCommand::Stop),
        ("watcher-manual-resume.json", TaskCommand::Resume),
        ("watcher-manual-reload.json", TaskCommand::Reload),
    ] {
        let request = decoded(name);
        assert!(
            matches!(&request, Request::Command { command: c, task } if *c == command && task.ends_with(":task:7UOS3VRE4RGAJXJ3M7NQ2OYKDE")),
            "{name}: {request:?}"
        );
    }
    let request = decoded("watcher-manual-status.json");
    assert!(
        matches!(&request, Request::Status { task: Some(_) }),
        "{request:?}"
    );
    let request = decoded("watcher-manual-health-check.json");
    assert!(
        matches!(&request, Request::HealthCheck { scheduled: None }),
        "{request:?}"
    );
    let request = decoded("watcher-health-check.json");
    assert!(
        matches!(&request, Request::HealthCheck { scheduled: Some(_) }),
        "{request:?}"
    );
    for (name, _, kind) in expected {
        let request = decoded(name);
        assert!(
            matches!(&request, Request::Dms(event) if event.kind == kind),
            "{name}: {request:?}"
        );
    }
}

#[tokio::test]
async fn k_failures_in_the_window_restart_exactly_k_times_then_alert_that_auto_restart_stopped() {
    let fx = fixture(auto_resume(2), "full-load-and-cdc").await;
    fx.start_in_dms().await;
    let mut resumes = 0;
    for i in 0..4 {
        let outcome = fx
            .invoke(event_for(
                "dms-task-failed.json",
                &fx.task_arn,
                &i.to_string(),
            ))
            .await;
        let report = &outcome.reports()[0];
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(report.alerts(), 1, "failure {i}: {outcome:?}");
        resumes += report.resumes();
    }
    assert_eq!(resumes, 2, "exactly K restarts");

    let alerts = fx.alerts().await;
    assert_eq!(alerts.len(), 4, "{alerts:?}");
    for (subject, message) in &alerts[..2] {
        assert!(subject.contains("failed"), "{subject}");
        assert!(message.contains("ODBC general error."), "{message}");
        assert!(message.contains("RECOVERABLE_ERROR"), "{message}");
        assert!(message.contains(&fx.task_arn), "{message}");
        assert!(
            message.contains(
                "Console: https://console.aws.amazon.com/dms/v2/home?region=us-east-1#taskDetails/"
            ),
            "{message}"
        );
        // moto answers DescribeTableStatistics with 500: the alert says so.
        assert!(
            message.contains("Tables in error: unavailable"),
            "{message}"
        );
        assert!(
            message.contains("resuming with resume-processing"),
            "{message}"
        );
    }
    for (subject, message) in &alerts[2..] {
        assert!(subject.contains("auto-restart stopped"), "{subject}");
        assert!(
            message.contains("will not restart this task again"),
            "{message}"
        );
        assert!(message.contains("\"action\": \"reload\""), "{message}");
    }
    let record = fx.record().await;
    assert!(record.restarts_exhausted);
    assert_eq!(record.restarts.len(), 2);
    assert_eq!(
        record
            .last_failure
            .as_ref()
            .and_then(|f| f.stop_reason.as_deref()),
        Some("RECOVERABLE_ERROR")
    );

    // The operator's resume lifts the bound.
    let outcome = fx
        .invoke(manual("watcher-manual-resume.json", &fx.task_arn))
        .await;
    assert!(
        matches!(outcome.reports()[0].done[0], Done::Commanded { .. }),
        "{outcome:?}"
    );
    assert!(!fx.record().await.restarts_exhausted);
}

#[tokio::test]
async fn a_duplicate_delivery_of_a_failure_restarts_once() {
    let fx = fixture(auto_resume(3), "full-load-and-cdc").await;
    fx.start_in_dms().await;
    let ev = event_for("dms-task-failed.json", &fx.task_arn, "dup");
    let first = fx.invoke(ev.clone()).await;
    let second = fx.invoke(ev).await;
    assert_eq!(first.reports()[0].resumes(), 1);
    assert!(second.reports()[0].duplicate);
    assert_eq!(second.reports()[0].resumes(), 0);
    assert_eq!(fx.alerts().await.len(), 1);
}

#[tokio::test]
async fn start_event_records_the_transition_and_requests_the_baseline_once_per_load() {
    let fx = fixture(Policy::default(), "full-load-and-cdc").await;
    fx.start_in_dms().await;
    // moto reports FullLoadProgressPercent 100 with one table loaded for a started task.
    let outcome = fx
        .invoke(event_for("dms-task-started.json", &fx.task_arn, "a"))
        .await;
    let report = &outcome.reports()[0];
    assert!(
        matches!(&report.done[0], Done::Recorded { to, cause, .. } if to == "running" && cause == "event"),
        "{report:?}"
    );
    assert_eq!(report.baselines(), 1, "{report:?}");
    // A later start event and health checks of the same load ask for nothing more.
    fx.invoke(event_for("dms-task-started.json", &fx.task_arn, "b"))
        .await;
    for _ in 0..2 {
        let outcome = fx.invoke(sample("watcher-health-check.json")).await;
        assert_eq!(outcome.reports()[0].baselines(), 0, "{outcome:?}");
    }
    let baselines = fx.baselines().await;
    assert_eq!(
        baselines,
        vec![CompactionRequested {
            reason: "full_load_finished".into(),
            task_arn: fx.task_arn.clone(),
            tables: vec!["public.orders".into()],
        }]
    );
    assert!(fx.alerts().await.is_empty(), "a start is not alerted");
    let record = fx.record().await;
    assert_eq!(record.last_state.as_deref(), Some("running"));
    assert_eq!(record.full_load_progress, Some(100));
}

#[tokio::test]
async fn full_load_only_finished_stop_requests_the_baseline_without_alert() {
    let fx = fixture(auto_resume(3), "full-load").await;
    let outcome = fx
        .invoke(event_for(
            "dms-task-stopped-full-load-finished.json",
            &fx.task_arn,
            "a",
        ))
        .await;
    let report = &outcome.reports()[0];
    assert_eq!(report.baselines(), 1, "{report:?}");
    assert_eq!(report.alerts() + report.resumes(), 0, "{report:?}");
    assert_eq!(fx.baselines().await.len(), 1);
    assert!(fx.alerts().await.is_empty());
}

#[tokio::test]
async fn an_operator_stop_is_recorded_without_alert_or_restart() {
    let fx = fixture(auto_resume(3), "full-load-and-cdc").await;
    fx.invoke(manual("watcher-manual-start.json", &fx.task_arn))
        .await;
    assert_eq!(fx.dms_status().await, "running");
    fx.invoke(manual("watcher-manual-stop.json", &fx.task_arn))
        .await;
    assert_eq!(fx.dms_status().await, "stopped");
    let outcome = fx
        .invoke(event_for("dms-task-stopped.json", &fx.task_arn, "a"))
        .await;
    let report = &outcome.reports()[0];
    assert!(
        matches!(&report.done[..], [Done::Recorded { to, .. }] if to == "stopped"),
        "{report:?}"
    );
    // The health check agrees with the recorded state: nothing to do.
    let outcome = fx.invoke(sample("watcher-health-check.json")).await;
    assert!(outcome.reports()[0].done.is_empty(), "{outcome:?}");
    assert!(fx.alerts().await.is_empty());
    assert_eq!(fx.dms_status().await, "stopped");
}

#[tokio::test]
async fn the_health_check_notices_a_task_that_stopped_without_any_event() {
    let fx = fixture(auto_resume(3), "full-load-and-cdc").await;
    fx.start_in_dms().await;
    let first = fx.invoke(json!({"action": "health_check"})).await;
    assert!(
        matches!(&first.reports()[0].done[0], Done::Recorded { to, cause, .. } if to == "running" && cause == "health_check"),
        "{first:?}"
    );
    fx.baselines().await;

    // DMS stops the task and no event arrives (moto cannot put a task in `failed`; an
    // unexplained stop of a running task is the closest state it offers).
    fx.dms
        .stop_replication_task()
        .replication_task_arn(&fx.task_arn)
        .send()
        .await
        .expect("stop");
    let outcome = fx.invoke(sample("watcher-health-check.json")).await;
    let report = &outcome.reports()[0];
    assert_eq!((report.alerts(), report.resumes()), (1, 1), "{report:?}");
    let alerts = fx.alerts().await;
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].1.contains("Detected by: health_check"),
        "{}",
        alerts[0].1
    );
    assert_eq!(fx.dms_status().await, "running", "resumed");
}

#[tokio::test]
async fn a_running_task_without_new_files_is_flagged_once() {
    let mut fx = fixture(Policy::default(), "cdc").await;
    let c = clients().await;
    let data = new_bucket(&c, "watcher-data").await;
    fx.config.data_bucket = Some(data.clone());
    fx.start_in_dms().await;
    // The task has been running for two hours (recorded history) and wrote nothing.
    fx.record_running_for_two_hours().await;
    let first = fx.invoke(sample("watcher-health-check.json")).await;
    assert_eq!(first.reports()[0].alerts(), 1, "{first:?}");
    let second = fx.invoke(sample("watcher-health-check.json")).await;
    assert_eq!(second.reports()[0].alerts(), 0, "{second:?}");
    let alerts = fx.alerts().await;
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].0.contains("writing no files"), "{}", alerts[0].0);

    // A new file (DMS names CDC files by the time it writes them) ends the quiet period.
    let name = format!("dms/public/orders/{}001.csv", cdc_name_prefix(Utc::now()));
    dmslake_tests::put_object(&c.s3, &data, &name, b"I,1\n".to_vec()).await;
    let third = fx.invoke(sample("watcher-health-check.json")).await;
    assert_eq!(third.reports()[0].alerts(), 0);
    assert_eq!(fx.record().await.stale_alerted_at, None);
}

#[tokio::test]
async fn foreign_unwatched_unknown_and_malformed_events_are_ignored() {
    let fx = fixture(auto_resume(3), "full-load-and-cdc").await;
    let s3_event: Value = serde_json::from_str(
        &std::fs::read_to_string(
            dmslake_tests::samples_dir()
                .join("events/s3EventBridgeNotificationObjectCreatedEvent.json"),
        )
        .expect("s3 sample"),
    )
    .expect("json");
    // The sample's own ARN is not a watched task.
    let unwatched = sample("dms-task-failed.json");
    let mut malformed = event_for("dms-task-failed.json", &fx.task_arn, "m");
    malformed["detail"] = json!("Last Error everything");
    let mut unknown = event_for("dms-task-started.json", &fx.task_arn, "u");
    unknown["detail"]["eventId"] = json!("DMS-EVENT-9999");
    for payload in [
        s3_event,
        unwatched,
        malformed,
        unknown,
        json!({"hello": "world"}),
    ] {
        let outcome = fx.invoke(payload.clone()).await;
        assert!(
            matches!(outcome, Outcome::Ignored { .. }),
            "{payload}: {outcome:?}"
        );
    }
    assert!(fx.alerts().await.is_empty());
    assert!(fx
        .store
        .get::<Value>(&state::record_name(&fx.task_arn))
        .await
        .expect("get")
        .is_none());
    assert_eq!(fx.dms_status().await, "creating", "no restart");
}

#[tokio::test]
async fn a_serverless_replication_failure_is_alerted_even_when_describe_is_unavailable() {
    let mut fx = fixture(Policy::default(), "full-load-and-cdc").await;
    let config_arn = sample("dms-serverless-replication-failed.json")["resources"][0]
        .as_str()
        .expect("arn")
        .to_string();
    fx.config.watched.push(config_arn.clone());
    let outcome = fx
        .invoke(sample("dms-serverless-replication-failed.json"))
        .await;
    let report = &outcome.reports()[0];
    assert_eq!(report.task_arn, config_arn);
    assert_eq!(report.alerts(), 1, "{report:?}");
    let alerts = fx.alerts().await;
    assert!(
        alerts[0].1.contains("EXAMPLEREPLCFG7N3K2M"),
        "{}",
        alerts[0].1
    );
}

#[tokio::test]
async fn low_storage_on_the_instance_of_a_watched_task_is_alerted() {
    let fx = fixture(Policy::default(), "full-load-and-cdc").await;
    let outcome = fx.invoke(sample("dms-instance-low-storage.json")).await;
    assert_eq!(outcome.reports()[0].alerts(), 1, "{outcome:?}");
    let alerts = fx.alerts().await;
    assert!(alerts[0].0.contains("low on storage"), "{}", alerts[0].0);
    assert!(alerts[0].1.contains(&fx.task_arn), "{}", alerts[0].1);

    // An instance running no watched task: ignored.
    let mut other = sample("dms-instance-low-storage.json");
    other["resources"] = json!(["arn:aws:dms:us-east-1:123456789012:rep:OTHERINSTANCE"]);
    assert!(matches!(fx.invoke(other).await, Outcome::Ignored { .. }));
}

#[tokio::test]
async fn manual_requests_drive_dms_and_status_reports_the_history() {
    let fx = fixture(Policy::default(), "full-load-and-cdc").await;
    for name in [
        "watcher-manual-start.json",
        "watcher-manual-stop.json",
        "watcher-manual-reload.json",
    ] {
        let outcome = fx.invoke(manual(name, &fx.task_arn)).await;
        assert!(
            outcome.reports()[0].errors.is_empty(),
            "{name}: {outcome:?}"
        );
    }
    assert_eq!(fx.dms_status().await, "running");
    let outcome = fx
        .invoke(manual("watcher-manual-status.json", &fx.task_arn))
        .await;
    let Outcome::Status { tasks } = outcome else {
        panic!("status: {outcome:?}")
    };
    assert_eq!(tasks.len(), 1);
    let t = &tasks[0];
    assert_eq!(t.live.as_ref().map(|l| l.status.as_str()), Some("running"));
    let to: Vec<&str> = t.record.transitions.iter().map(|t| t.to.as_str()).collect();
    assert_eq!(to, ["starting", "stopping", "starting"]);

    // Unknown actions and unwatched tasks are refused (manual requests only).
    let bad = handler::handle(
        &fx.deps(),
        json!({"action": "explode", "task": fx.task_arn}),
    )
    .await;
    assert!(bad.is_err());
    assert_eq!(
        bad.as_ref().map_err(|e| e.error_type()).err(),
        Some("InvalidInput"),
        "{bad:?}"
    );
    let unwatched = handler::handle(&fx.deps(), sample("watcher-manual-resume.json")).await;
    assert!(
        matches!(
            unwatched,
            Err(dms_task_watcher::WatcherError::InvalidRequest(_))
        ),
        "{unwatched:?}"
    );
}

#[tokio::test]
async fn the_restart_count_survives_cold_starts_and_concurrent_writers() {
    let fx = fixture(auto_resume(2), "full-load-and-cdc").await;
    fx.start_in_dms().await;
    // Two deliveries of different failures handled concurrently by two environments.
    let (a, b) = tokio::join!(
        fx.invoke(event_for("dms-task-failed.json", &fx.task_arn, "x")),
        fx.invoke(event_for("dms-task-failed.json", &fx.task_arn, "y")),
    );
    assert_eq!(a.reports()[0].resumes() + b.reports()[0].resumes(), 2);
    let third = fx
        .invoke(event_for("dms-task-failed.json", &fx.task_arn, "z"))
        .await;
    assert_eq!(
        third.reports()[0].resumes(),
        0,
        "bound reached across environments"
    );
}

#[tokio::test]
async fn the_health_check_treats_a_task_that_failed_without_any_event_as_its_failure_event() {
    let fx = fixture(auto_resume(3), "full-load-and-cdc").await;
    fx.start_in_dms().await;
    fx.invoke(event_for("dms-task-started.json", &fx.task_arn, "s"))
        .await;
    fx.baselines().await;

    // The task fails; DMS's best-effort delivery loses the event.
    override_task(
        &fx.task_arn,
        json!({
            "Status": "failed",
            "StopReason": "Stop Reason FATAL_ERROR",
            "LastFailureMessage": "Error reading the replication slot: requested WAL segment has already been removed",
        }),
    );
    let outcome = fx.invoke(sample("watcher-health-check.json")).await;
    let report = &outcome.reports()[0];
    assert!(
        matches!(&report.done[0], Done::Recorded { to, cause, .. } if to == "failed" && cause == "health_check"),
        "{report:?}"
    );
    assert_eq!((report.alerts(), report.resumes()), (1, 1), "{report:?}");
    let alerts = fx.alerts().await;
    assert_eq!(alerts.len(), 1);
    let message = &alerts[0].1;
    assert!(message.contains("FATAL_ERROR"), "{message}");
    assert!(
        message.contains("requested WAL segment has already been removed"),
        "{message}"
    );
    assert!(message.contains("Detected by: health_check"), "{message}");

    // The resume did not take (the task still answers `failed` while the record says
    // `resuming`): the next check counts a second failure, alerts and resumes again.
    let again = fx.invoke(sample("watcher-health-check.json")).await;
    let report = &again.reports()[0];
    assert_eq!((report.alerts(), report.resumes()), (1, 1), "{report:?}");
    assert_eq!(fx.record().await.restarts.len(), 2);
    // Once recorded as failed, a failed task is not failed again by every check.
    fx.store
        .put(&state::record_name(&fx.task_arn), &{
            let mut r = fx.record().await;
            r.last_state = Some("failed".into());
            r
        })
        .await
        .expect("record");
    let quiet = fx.invoke(sample("watcher-health-check.json")).await;
    assert_eq!(quiet.reports()[0].alerts(), 0, "{quiet:?}");
}

#[tokio::test]
async fn the_health_check_requests_the_baseline_exactly_once_when_a_full_load_finishes() {
    let fx = fixture(Policy::default(), "full-load-and-cdc").await;
    fx.start_in_dms().await;
    let started = "2026-11-20T02:57:53";
    override_task(
        &fx.task_arn,
        json!({"ReplicationTaskStats": {
            "FullLoadProgressPercent": 40, "TablesLoaded": 0, "TablesLoading": 1, "TablesQueued": 0,
            "FullLoadStartDate": started, "FullLoadFinishDate": null
        }}),
    );
    let first = fx.invoke(sample("watcher-health-check.json")).await;
    assert_eq!(first.reports()[0].baselines(), 0, "{first:?}");
    assert_eq!(fx.record().await.full_load_progress, Some(40));

    override_task(
        &fx.task_arn,
        json!({"ReplicationTaskStats": {
            "FullLoadProgressPercent": 100, "TablesLoaded": 1, "TablesLoading": 0,
            "FullLoadFinishDate": "2026-11-20T03:40:00"
        }}),
    );
    let mut requested = 0;
    for _ in 0..3 {
        let outcome = fx.invoke(sample("watcher-health-check.json")).await;
        requested += outcome.reports()[0].baselines();
    }
    assert_eq!(requested, 1);
    let baselines = fx.baselines().await;
    assert_eq!(baselines.len(), 1, "{baselines:?}");
    assert_eq!(baselines[0].tables, vec!["public.orders".to_string()]);
    assert!(fx.alerts().await.is_empty());
}

/// Date-partitioned layout of the freshness tests (`YYYYMMDD`, `SLASH`, under `dms/`).
fn dated_layout() -> LayoutConfig {
    LayoutConfig {
        bucket_folder: "dms".into(),
        date_partition_enabled: true,
        date_partition_sequence: DatePartitionSequence::Yyyymmdd,
        date_partition_delimiter: DatePartitionDelimiter::Slash,
        cdc_path: None,
    }
}

/// Writes `keys` (16 at a time).
async fn put_many(s3: &aws_sdk_s3::Client, bucket: &str, keys: Vec<String>) {
    for chunk in keys.chunks(16) {
        let mut set = tokio::task::JoinSet::new();
        for key in chunk {
            let (s3, bucket, key) = (s3.clone(), bucket.to_string(), key.clone());
            set.spawn(async move {
                dmslake_tests::put_object(&s3, &bucket, &key, b"I,1\n".to_vec()).await
            });
        }
        while let Some(done) = set.join_next().await {
            done.expect("upload task");
        }
    }
}

/// Tables of the seeded lake, in key order; each holds two full-load files in its folder.
const LAKE_TABLES: [&str; 3] = ["public/customers", "public/orders", "sales/products"];

/// A lake with a long CDC history under [`dated_layout`]: every table has 12 date folders a
/// month apart in the past year, 10 CDC files each, plus two LOAD files. Returns every key.
fn old_history(now: DateTime<Utc>) -> Vec<String> {
    let mut keys = Vec::new();
    for table in LAKE_TABLES {
        for month in 1..=12 {
            let day = now - chrono::Duration::days(30 * month + 2);
            let folder = date_folder(
                DatePartitionSequence::Yyyymmdd,
                DatePartitionDelimiter::Slash,
                day,
            );
            for file in 0..10 {
                let at = day + chrono::Duration::minutes(file);
                keys.push(format!(
                    "dms/{table}/{folder}/{}{file:03}.csv",
                    cdc_name_prefix(at)
                ));
            }
        }
        keys.push(format!("dms/{table}/LOAD00000001.csv"));
        keys.push(format!("dms/{table}/LOAD00000002.csv"));
    }
    keys
}

/// S3 reports LastModified in whole seconds: waits past the next second boundary so that
/// objects written before and after compare strictly.
async fn next_second() {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
}

async fn scan(bucket: &str, layout: &LayoutConfig, cutoff: DateTime<Utc>) -> ActivityScan {
    let c = clients().await;
    activity_since(&c.s3, bucket, layout, cutoff)
        .await
        .expect("freshness listing")
}

#[tokio::test]
async fn the_freshness_check_finds_a_recent_file_without_listing_the_history() {
    let c = clients().await;
    let data = new_bucket(&c, "watcher-fresh").await;
    let layout = dated_layout();
    let history = old_history(Utc::now());
    let total = history.len() + 1;
    put_many(&c.s3, &data, history).await;
    next_second().await;
    // Every object so far is older than the cutoff (moto stamps the upload time).
    let cutoff = Utc::now();
    next_second().await;
    let now = Utc::now();
    let recent = format!(
        "dms/public/orders/{}/{}123.csv",
        date_folder(
            DatePartitionSequence::Yyyymmdd,
            DatePartitionDelimiter::Slash,
            now
        ),
        cdc_name_prefix(now)
    );
    dmslake_tests::put_object(&c.s3, &data, &recent, b"I,1\n".to_vec()).await;

    let found = scan(&data, &layout, cutoff).await;
    let Activity::Recent { at } = found.activity else {
        panic!("recent file not found: {found:?}");
    };
    assert!(at >= cutoff, "{at} < {cutoff}");
    assert!(found.bounded);
    // public/customers from its bound (its two LOAD files), then public/orders from its bound
    // (the recent file first: digits sort before LOAD); sales/products is never listed.
    assert_eq!(found.keys_examined, 3, "{found:?} of {total} keys");
    assert!(found.list_calls <= 5, "{found:?}");

    // With CdcPath the key order does not follow time: the same question is answered by a
    // full listing in key order, which reads public/customers and public/orders' history up
    // to the recent file and stops there (sales/products is never read).
    let unbounded = LayoutConfig {
        cdc_path: Some("changes".into()),
        ..dated_layout()
    };
    let full = scan(&data, &unbounded, cutoff).await;
    assert!(!full.bounded);
    assert!(matches!(full.activity, Activity::Recent { .. }), "{full:?}");
    assert_eq!(full.keys_examined, 122 + 121, "{full:?} of {total} keys");
}

#[tokio::test]
async fn the_freshness_check_of_a_quiet_lake_reports_the_newest_file_it_listed() {
    let c = clients().await;
    let data = new_bucket(&c, "watcher-quiet").await;
    let layout = dated_layout();
    let now = Utc::now();
    let history = old_history(now);
    let total = history.len();
    put_many(&c.s3, &data, history).await;
    // Written before the cutoff, but into today's folder: within the listing's bound.
    let last = put_cdc_file(&c.s3, &data, "sales/products", now).await;
    let written =
        c.s3.head_object()
            .bucket(&data)
            .key(&last)
            .send()
            .await
            .expect("head")
            .last_modified()
            .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
            .expect("last modified");
    next_second().await;
    let cutoff = Utc::now();

    let quiet = scan(&data, &layout, cutoff).await;
    assert_eq!(
        quiet.activity,
        Activity::Quiet {
            newest: Some(written),
            listed_since: Some(cutoff - dmslake::layout::listing_slack()),
        },
        "{quiet:?}"
    );
    // Each table's LOAD files and today's file: none of the dated history.
    assert_eq!(quiet.keys_examined, 7, "{quiet:?} of {total} keys");
}

#[tokio::test]
async fn a_running_task_whose_lake_went_quiet_is_alerted_with_its_newest_file() {
    let mut fx = fixture(
        Policy {
            stale_after: chrono::Duration::seconds(2),
            ..Policy::default()
        },
        "cdc",
    )
    .await;
    let c = clients().await;
    let data = new_bucket(&c, "watcher-stale").await;
    fx.config.data_bucket = Some(data.clone());
    fx.config.layout = dated_layout();
    fx.start_in_dms().await;
    fx.record_running_for_two_hours().await;
    let now = Utc::now();
    put_many(&c.s3, &data, old_history(now)).await;
    put_cdc_file(&c.s3, &data, "public/orders", now).await;
    let written_by = Utc::now();
    // Quiet for longer than stale_after (2 s).
    tokio::time::sleep(std::time::Duration::from_millis(3200)).await;

    let first = fx.invoke(sample("watcher-health-check.json")).await;
    assert_eq!(first.reports()[0].alerts(), 1, "{first:?}");
    let alerts = fx.alerts().await;
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].0.contains("writing no files"), "{}", alerts[0].0);
    let newest_line = alerts[0]
        .1
        .lines()
        .find(|l| l.starts_with("Newest file: "))
        .unwrap_or_default()
        .to_string();
    let newest = DateTime::parse_from_rfc3339(newest_line.trim_start_matches("Newest file: "))
        .unwrap_or_else(|e| panic!("{newest_line:?}: {e}"));
    // S3's LastModified has whole seconds and is taken while the file is written: between the
    // moment before the write (truncated to the second) and the moment the write returned.
    let newest = newest.with_timezone(&Utc);
    assert!(
        newest >= now - chrono::Duration::seconds(1) && newest <= written_by,
        "{newest_line} not between {now} and {written_by}"
    );

    // A file DMS writes now ends the quiet period.
    let now = Utc::now();
    let fresh = format!(
        "dms/sales/products/{}/{}000.csv",
        date_folder(
            DatePartitionSequence::Yyyymmdd,
            DatePartitionDelimiter::Slash,
            now
        ),
        cdc_name_prefix(now)
    );
    dmslake_tests::put_object(&c.s3, &data, &fresh, b"I,1\n".to_vec()).await;
    let second = fx.invoke(sample("watcher-health-check.json")).await;
    assert_eq!(second.reports()[0].alerts(), 0, "{second:?}");
    assert_eq!(fx.record().await.stale_alerted_at, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_four_concurrent_failures_of_one_task_are_all_recorded_and_the_restart_bound_holds()
{
    const EVENTS: usize = 24;
    dmslake::metrics::capture();
    let fx = fixture(auto_resume(3), "full-load-and-cdc").await;
    fx.start_in_dms().await;
    let events: Vec<Value> = (0..EVENTS)
        .map(|i| event_for("dms-task-failed.json", &fx.task_arn, &format!("burst-{i}")))
        .collect();
    // Every delivery at once, each in its own execution environment.
    let mut running = tokio::task::JoinSet::new();
    for ev in events.clone() {
        let deps = fx.deps();
        running.spawn(async move {
            let result = handler::handle(&deps, ev.clone()).await;
            (ev, result)
        });
    }
    let (mut resumes, mut alerts, mut failed_invocations) = (0, 0, Vec::new());
    while let Some(joined) = running.join_next().await {
        let (ev, result) = joined.expect("invocation task");
        match result {
            Ok(outcome) => {
                let report = &outcome.reports()[0];
                assert!(!report.duplicate, "{report:?}");
                resumes += report.resumes();
                alerts += report.alerts();
            }
            // A record that could not be stored fails the invocation (retryable), so Lambda
            // delivers the event again: never an Ok that silently dropped it.
            Err(err) => {
                assert_eq!(err.error_type(), "Retryable", "{err}");
                failed_invocations.push(ev);
            }
        }
    }
    // Lambda's asynchronous retries of the failed invocations.
    for ev in &failed_invocations {
        let report = fx.invoke(ev.clone()).await.reports()[0].clone();
        resumes += report.resumes();
        alerts += report.alerts();
    }
    let record = fx.record().await;
    for ev in &events {
        let id = ev["id"].as_str().unwrap_or_default();
        assert!(
            record.seen_events.iter().any(|s| s == id),
            "event {id} was dropped ({} invocations failed and were retried); seen: {:?}",
            failed_invocations.len(),
            record.seen_events
        );
    }
    assert_eq!(resumes, 3, "the restart bound holds under concurrency");
    assert_eq!(record.restarts.len(), 3);
    assert!(record.restarts_exhausted);
    assert_eq!(alerts, EVENTS, "every failure alerts once");
    let failures = record
        .transitions
        .iter()
        .filter(|t| t.to == "failed")
        .count();
    assert_eq!(failures, EVENTS, "{:?}", record.transitions);
    // Each recorded failure counts once in the metric the TaskFailed alarm sums.
    let task_id = dmslake::dms_events::arn_resource_id(&fx.task_arn);
    let counted = dmslake::metrics::captured(dmslake::metrics::TASK_FAILED)
        .into_iter()
        .filter(|doc| doc["Task"] == task_id)
        .count();
    assert_eq!(counted, EVENTS);
}

#[tokio::test]
async fn the_health_check_alerts_once_on_a_watched_task_dms_no_longer_has_and_checks_the_others() {
    let mut fx = fixture(Policy::default(), "full-load-and-cdc").await;
    fx.start_in_dms().await;
    let gone = "arn:aws:dms:us-east-1:123456789012:task:DELETEDTASKXYZ";
    fx.config.watched.insert(0, gone.to_string());

    let first = fx.invoke(sample("watcher-health-check.json")).await;
    let reports = first.reports();
    assert_eq!(reports.len(), 2, "{first:?}");
    let missing = reports.iter().find(|r| r.task_arn == gone).expect("report");
    assert_eq!(missing.alerts(), 1, "{missing:?}");
    let present = reports
        .iter()
        .find(|r| r.task_arn == fx.task_arn)
        .expect("report");
    assert!(present.errors.is_empty(), "{present:?}");
    assert_eq!(present.status.as_deref(), Some("running"), "{present:?}");

    let alerts = fx.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0].0.contains("DELETEDTASKXYZ not found"),
        "{alerts:?}"
    );
    assert!(alerts[0].1.contains("WatchedTaskArns"), "{alerts:?}");

    // The next check still reports it, without repeating the alert.
    let second = fx.invoke(sample("watcher-health-check.json")).await;
    assert_eq!(second.reports().len(), 2);
    assert_eq!(
        second.reports().iter().map(|r| r.alerts()).sum::<usize>(),
        0
    );
    assert!(fx.alerts().await.is_empty());
}
