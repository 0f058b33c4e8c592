#!/usr/bin/env python3
"""Cold-start init time of the function binaries, without an AWS account.

Starts each binary as Lambda would, with AWS_LAMBDA_RUNTIME_API pointing at a minimal
stand-in for the Lambda Runtime API on 127.0.0.1, and measures the time from process start to
its first `GET /2018-06-01/runtime/invocation/next`: logging set up, configuration read, SDK
clients built. No AWS call happens during init, so nothing else needs to run. Prints the binary
size and the median of RUNS starts per binary.

    bench/cold_start.py target/release        # RUNS=20 by default
"""

import http.server
import os
import statistics
import subprocess
import sys
import threading
import time

BINARIES = ["partition-registrar", "dms-task-watcher", "compactor"]
RUNS = int(os.environ.get("RUNS", "20"))

ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
    "DMSLAKE_STATE_BUCKET": "state",
    "DMSLAKE_DATA_BUCKET": "data",
    "DMSLAKE_CURATED_LOCATION": "s3://lake/curated/",
    "DMSLAKE_ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
    "DMSLAKE_WATCHED_TASKS": "arn:aws:dms:us-east-1:123456789012:task:BENCH",
    "RUST_LOG": "off",
}


class Runtime(http.server.BaseHTTPRequestHandler):
    """Answers nothing useful: records when `next` was first asked for, then holds it."""

    first_next = None
    seen = threading.Event()

    def do_GET(self):  # noqa: N802 (the standard library's name)
        if self.path.endswith("/runtime/invocation/next") and not Runtime.seen.is_set():
            Runtime.first_next = time.perf_counter()
            Runtime.seen.set()
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args):
        pass


def init_time(binary, port):
    Runtime.seen.clear()
    env = dict(os.environ, **ENV)
    env["AWS_LAMBDA_FUNCTION_NAME"] = os.path.basename(binary)
    env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{port}"
    started = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not Runtime.seen.wait(timeout=30):
            raise SystemExit(f"{binary}: no request for the next invocation within 30 s")
        return Runtime.first_next - started
    finally:
        proc.kill()
        proc.wait()


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "target/release"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    print(f"{'binary':22} {'size (bytes)':>14} {'init median (ms)':>17} {'min':>7} {'max':>7}")
    for name in BINARIES:
        binary = os.path.join(folder, name)
        times = [init_time(binary, port) * 1000 for _ in range(RUNS)]
        print(
            f"{name:22} {os.path.getsize(binary):>14} {statistics.median(times):>17.1f}"
            f" {min(times):>7.1f} {max(times):>7.1f}"
        )
    server.shutdown()


if __name__ == "__main__":
    main()
