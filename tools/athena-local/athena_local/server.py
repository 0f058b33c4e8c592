"""HTTP front end: Athena's JSON 1.1 protocol. A request is a POST whose `X-Amz-Target` header
names the operation (`AmazonAthena.StartQueryExecution`) and whose body is the input as JSON;
errors are HTTP 400 with `__type` naming the exception, as the SDKs expect.
Signatures are not checked (any credentials work)."""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .service import ApiError, Service

log = logging.getLogger("athena_local")

OPERATIONS = (
    "StartQueryExecution", "GetQueryExecution", "GetQueryResults", "StopQueryExecution",
    "BatchGetQueryExecution", "ListQueryExecutions",
    "CreateWorkGroup", "GetWorkGroup", "ListWorkGroups", "UpdateWorkGroup", "DeleteWorkGroup",
)


def make_handler(service: Service):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "athena-local"

        def log_message(self, fmt, *args):  # route the access log through logging
            log.debug("%s %s", self.address_string(), fmt % args)

        def _send(self, status: int, body: dict, error_type: str | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            if error_type:
                self.send_header("x-amzn-ErrorType", error_type)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            # A health check for scripts: GET / answers what this is.
            self._send(200, {"service": "athena-local", "operations": list(OPERATIONS)})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            target = self.headers.get("X-Amz-Target", "")
            service_name, _, op = target.partition(".")
            if service_name != "AmazonAthena" or op not in OPERATIONS:
                self._send(400, {"__type": "UnknownOperationException",
                                 "message": f"athena-local does not implement {target or 'this request'}"},
                           "UnknownOperationException")
                return
            try:
                req = json.loads(raw or b"{}")
                if not isinstance(req, dict):
                    raise ValueError("the body is not a JSON object")
            except ValueError as err:
                self._send(400, {"__type": "SerializationException", "Message": str(err)}, "SerializationException")
                return
            try:
                out = getattr(service, op)(req)
            except ApiError as err:
                log.info("%s refused: %s", op, err.message)
                self._send(err.status, {"__type": err.code, "Message": err.message, "AthenaErrorCode": "INVALID_INPUT"},
                           err.code)
                return
            except Exception as err:  # answer, never drop the connection
                log.exception("%s failed", op)
                self._send(500, {"__type": "InternalServerException", "Message": str(err)}, "InternalServerException")
                return
            self._send(200, out)

    return Handler


def serve(service: Service, host: str, port: int) -> None:
    server = ThreadingHTTPServer((host, port), make_handler(service))
    server.daemon_threads = True
    log.info("athena-local listening on http://%s:%d", host, port)
    server.serve_forever()
