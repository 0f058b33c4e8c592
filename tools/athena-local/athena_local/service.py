"""The Athena API operations, over query executions run on Trino.

Behaviour modelled on the Athena API reference (API_StartQueryExecution.html,
API_GetQueryExecution.html, API_QueryExecutionStatus.html, API_GetQueryResults.html,
API_StopQueryExecution.html, API_WorkGroup.html, API_ResultConfiguration.html):

- `ClientRequestToken`: a start with a token already seen and the same parameters returns
  that execution's id and starts nothing; with other parameters it is refused
  (`InvalidRequestException`, "Idempotent parameters do not match"). The SDKs and the AWS CLI
  fill in a fresh token when the caller gives none.
- States: QUEUED (accepted, not yet running on Trino) → RUNNING → SUCCEEDED | FAILED |
  CANCELLED. A query is SUCCEEDED only once Trino finished it and its results are written to
  the output location (`<OutputLocation>/<QueryExecutionId>.csv`, `.txt` for DDL, as Athena
  names them). FAILED carries `StateChangeReason` ("<ERROR_NAME>: <message>", Trino's
  error name as Athena prints it) and `AthenaError`.
- Statistics from Trino's final query stats: `DataScannedInBytes` = physical input bytes,
  `EngineExecutionTimeInMillis` = elapsed minus queued time, `QueryQueueTimeInMillis`,
  `TotalExecutionTimeInMillis`.
- The workgroup's `ResultConfiguration.OutputLocation` decides where results go when the
  workgroup enforces its configuration (the default) or the request names none; a query with
  no output location at all is refused at start, as Athena does.

Executions live in memory (a restart forgets them); workgroups are kept in a JSON file.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
import os
import threading
import time
import uuid

from . import translate
from .trino import Client, Outcome, TrinoUnavailable

log = logging.getLogger("athena_local")

ENGINE = {"SelectedEngineVersion": "Athena engine version 3", "EffectiveEngineVersion": "Athena engine version 3"}
CATALOG = "awsdatacatalog"  # Trino's name for Athena's AwsDataCatalog
MAX_RESULTS = 1000


class ApiError(Exception):
    """An error answered to the client: HTTP 400 with `__type` = `code`."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def invalid(message: str) -> ApiError:
    return ApiError("InvalidRequestException", message)


@dataclasses.dataclass
class Execution:
    id: str
    query: str
    params: str  # the idempotent parameters, canonical JSON
    workgroup: str
    database: str | None
    catalog: str
    output_dir: str
    submitted: float
    state: str = "QUEUED"
    reason: str | None = None
    athena_error: dict | None = None
    completed: float | None = None
    statement_type: str = "DML"
    kind: str = "query"
    columns: list[dict] = dataclasses.field(default_factory=list)
    rows: list[list] = dataclasses.field(default_factory=list)
    update_count: int | None = None
    scanned: int = 0
    queued_ms: int = 0
    engine_ms: int = 0
    trino_ids: list[str] = dataclasses.field(default_factory=list)
    result_key: str | None = None
    cancel: threading.Event = dataclasses.field(default_factory=threading.Event)


class Service:
    def __init__(self, trino: Client, s3, state_dir: str):
        self.trino = trino
        self.s3 = s3
        self.lock = threading.Lock()
        self.executions: dict[str, Execution] = {}
        self.order: list[str] = []
        self.tokens: dict[str, str] = {}
        self.workgroups_file = os.path.join(state_dir, "workgroups.json")
        os.makedirs(state_dir, exist_ok=True)
        self.workgroups = self._load_workgroups()

    # ------------------------------------------------------------ workgroups

    def _load_workgroups(self) -> dict:
        try:
            with open(self.workgroups_file) as f:
                groups = json.load(f)
        except FileNotFoundError:
            groups = {}
        # Athena accounts always have `primary`, with no output location until one is set.
        groups.setdefault("primary", {"Name": "primary", "State": "ENABLED", "Configuration": {
            "EnforceWorkGroupConfiguration": False, "PublishCloudWatchMetricsEnabled": False,
            "RequesterPaysEnabled": False, "EngineVersion": ENGINE}, "Description": "", "CreationTime": time.time()})
        return groups

    def _save_workgroups(self) -> None:
        tmp = self.workgroups_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.workgroups, f, indent=1)
        os.replace(tmp, self.workgroups_file)

    def CreateWorkGroup(self, req: dict) -> dict:
        name = req.get("Name") or ""
        if not name:
            raise invalid("Name is required")
        config = dict(req.get("Configuration") or {})
        config.setdefault("EnforceWorkGroupConfiguration", True)
        config.setdefault("PublishCloudWatchMetricsEnabled", True)
        config.setdefault("RequesterPaysEnabled", False)
        config["EngineVersion"] = ENGINE
        with self.lock:
            if name in self.workgroups:
                raise invalid(f"WorkGroup {name} is already created")
            self.workgroups[name] = {"Name": name, "State": "ENABLED", "Configuration": config,
                                     "Description": req.get("Description", ""), "CreationTime": time.time()}
            self._save_workgroups()
        return {}

    def _workgroup(self, name: str) -> dict:
        group = self.workgroups.get(name)
        if group is None:
            raise invalid(f"WorkGroup {name} is not found.")
        return group

    def GetWorkGroup(self, req: dict) -> dict:
        with self.lock:
            return {"WorkGroup": self._workgroup(req.get("WorkGroup", ""))}

    def ListWorkGroups(self, req: dict) -> dict:
        with self.lock:
            groups = [{"Name": g["Name"], "State": g["State"], "Description": g.get("Description", ""),
                       "CreationTime": g["CreationTime"], "EngineVersion": ENGINE}
                      for g in self.workgroups.values()]
        return {"WorkGroups": groups}

    def DeleteWorkGroup(self, req: dict) -> dict:
        name = req.get("WorkGroup", "")
        with self.lock:
            self._workgroup(name)
            if name == "primary":
                raise invalid("The primary workgroup cannot be deleted")
            del self.workgroups[name]
            self._save_workgroups()
        return {}

    def UpdateWorkGroup(self, req: dict) -> dict:
        name = req.get("WorkGroup", "")
        with self.lock:
            group = self._workgroup(name)
            updates = req.get("ConfigurationUpdates") or {}
            config = group["Configuration"]
            for key in ("EnforceWorkGroupConfiguration", "PublishCloudWatchMetricsEnabled",
                        "BytesScannedCutoffPerQuery", "RequesterPaysEnabled"):
                if key in updates:
                    config[key] = updates[key]
            rc = updates.get("ResultConfigurationUpdates") or {}
            if rc.get("RemoveOutputLocation"):
                config.get("ResultConfiguration", {}).pop("OutputLocation", None)
            if "OutputLocation" in rc:
                config.setdefault("ResultConfiguration", {})["OutputLocation"] = rc["OutputLocation"]
            if "State" in req:
                group["State"] = req["State"]
            if "Description" in req:
                group["Description"] = req["Description"]
            self._save_workgroups()
        return {}

    # ------------------------------------------------------------ executions

    def StartQueryExecution(self, req: dict) -> dict:
        query = req.get("QueryString")
        if not isinstance(query, str) or not query.strip():
            raise invalid("QueryString is required")
        if len(query.encode()) > 262144:
            raise invalid("QueryString is longer than 262144 bytes")
        token = req.get("ClientRequestToken")
        if token is not None and not (32 <= len(token) <= 128):
            raise invalid("ClientRequestToken must be 32 to 128 characters long")
        params = json.dumps({k: v for k, v in req.items() if k != "ClientRequestToken"}, sort_keys=True)
        name = req.get("WorkGroup") or "primary"
        context = req.get("QueryExecutionContext") or {}
        catalog = context.get("Catalog") or "AwsDataCatalog"
        if catalog.lower() != CATALOG:
            raise invalid(f"Catalog {catalog} is not found; the local Athena has only AwsDataCatalog")
        with self.lock:
            if token is not None and token in self.tokens:
                previous = self.executions[self.tokens[token]]
                if previous.params != params:
                    raise invalid("Idempotent parameters do not match")
                return {"QueryExecutionId": previous.id}
            group = self._workgroup(name)
            if group.get("State") == "DISABLED":
                raise invalid(f"WorkGroup {name} is disabled.")
            output = self._output_location(group, req.get("ResultConfiguration") or {})
            execution = Execution(
                id=str(uuid.uuid4()), query=query, params=params, workgroup=name,
                database=context.get("Database"), catalog="AwsDataCatalog", output_dir=output,
                submitted=time.time())
            self.executions[execution.id] = execution
            self.order.append(execution.id)
            if token is not None:
                self.tokens[token] = execution.id
        threading.Thread(target=self._run, args=(execution,), name=f"query-{execution.id}", daemon=True).start()
        return {"QueryExecutionId": execution.id}

    @staticmethod
    def _output_location(group: dict, requested: dict) -> str:
        config = group.get("Configuration") or {}
        own = (config.get("ResultConfiguration") or {}).get("OutputLocation")
        asked = requested.get("OutputLocation")
        location = own if (own and config.get("EnforceWorkGroupConfiguration", True)) else (asked or own)
        if not location:
            raise invalid("No output location provided. An output location is required either through "
                          "the Workgroup result configuration setting or as an API input.")
        if not location.startswith("s3://") or not location[len("s3://"):].split("/")[0]:
            raise invalid(f"Output location {location} is not an s3://bucket/prefix location")
        return location

    def _get(self, query_id: str) -> Execution:
        execution = self.executions.get(query_id or "")
        if execution is None:
            raise invalid(f"QueryExecution {query_id} was not found")
        return execution

    def GetQueryExecution(self, req: dict) -> dict:
        with self.lock:
            return {"QueryExecution": self._describe(self._get(req.get("QueryExecutionId", "")))}

    def BatchGetQueryExecution(self, req: dict) -> dict:
        found, missing = [], []
        with self.lock:
            for qid in req.get("QueryExecutionIds") or []:
                execution = self.executions.get(qid)
                if execution is None:
                    missing.append({"QueryExecutionId": qid, "ErrorCode": "INVALID_INPUT",
                                    "ErrorMessage": f"QueryExecution {qid} was not found"})
                else:
                    found.append(self._describe(execution))
        return {"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing}

    def ListQueryExecutions(self, req: dict) -> dict:
        name = req.get("WorkGroup") or "primary"
        with self.lock:
            ids = [q for q in reversed(self.order) if self.executions[q].workgroup == name]
        start = int(req.get("NextToken") or 0)
        size = int(req.get("MaxResults") or 50)
        page = ids[start : start + size]
        out = {"QueryExecutionIds": page}
        if start + size < len(ids):
            out["NextToken"] = str(start + size)
        return out

    def StopQueryExecution(self, req: dict) -> dict:
        with self.lock:
            execution = self._get(req.get("QueryExecutionId", ""))
            execution.cancel.set()
            if execution.state == "QUEUED":
                self._finish(execution, "CANCELLED", "Query cancelled by user")
        return {}

    def _describe(self, e: Execution) -> dict:
        status = {"State": e.state, "SubmissionDateTime": e.submitted}
        if e.reason:
            status["StateChangeReason"] = e.reason
        if e.completed is not None:
            status["CompletionDateTime"] = e.completed
        if e.athena_error:
            status["AthenaError"] = e.athena_error
        elapsed = int(((e.completed or time.time()) - e.submitted) * 1000)
        stats = {
            "EngineExecutionTimeInMillis": e.engine_ms,
            "DataScannedInBytes": e.scanned,
            "TotalExecutionTimeInMillis": elapsed,
            "QueryQueueTimeInMillis": e.queued_ms,
            "ServicePreProcessingTimeInMillis": 0,
            "QueryPlanningTimeInMillis": 0,
            "ServiceProcessingTimeInMillis": max(0, elapsed - e.engine_ms - e.queued_ms),
            "ResultReuseInformation": {"ReusedPreviousResult": False},
        }
        context = {"Catalog": e.catalog}
        if e.database:
            context["Database"] = e.database
        result_location = e.result_key or self._result_key(e)
        return {
            "QueryExecutionId": e.id,
            "Query": e.query,
            "StatementType": e.statement_type,
            "ResultConfiguration": {"OutputLocation": result_location},
            "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
            "QueryExecutionContext": context,
            "Status": status,
            "Statistics": stats,
            "WorkGroup": e.workgroup,
            "EngineVersion": ENGINE,
        }

    @staticmethod
    def _result_key(e: Execution) -> str:
        suffix = "csv" if e.kind in ("query", "dml") else "txt"
        return f"{e.output_dir.rstrip('/')}/{e.id}.{suffix}"

    def GetQueryResults(self, req: dict) -> dict:
        with self.lock:
            e = self._get(req.get("QueryExecutionId", ""))
            if e.state in ("QUEUED", "RUNNING"):
                raise invalid(f"Query has not yet finished. Current state: {e.state}")
            if e.state != "SUCCEEDED":
                raise invalid(f"Query did not finish successfully. Final query state: {e.state}"
                              + (f"\n{e.reason}" if e.reason else ""))
        size = req.get("MaxResults") or MAX_RESULTS
        if not isinstance(size, int) or not 1 <= size <= MAX_RESULTS:
            raise invalid(f"MaxResults must be between 1 and {MAX_RESULTS}")
        rows = self._rows(e)
        token = req.get("NextToken")
        start = 0
        if token:
            start = _decode_token(token, e.id)
        page = rows[start : start + size]
        out = {
            "ResultSet": {"Rows": page, "ResultSetMetadata": {"ColumnInfo": [_column_info(c) for c in e.columns]}},
        }
        if e.update_count is not None:
            out["UpdateCount"] = e.update_count
        if start + size < len(rows):
            out["NextToken"] = _encode_token(start + size, e.id)
        return out

    @staticmethod
    def _rows(e: Execution) -> list[dict]:
        rows = []
        if e.kind == "query":
            rows.append({"Data": [{"VarCharValue": c["name"]} for c in e.columns]})
        for r in e.rows:
            rows.append({"Data": [{} if v is None else {"VarCharValue": render(v)} for v in r]})
        return rows

    # ------------------------------------------------------------ running

    def _finish(self, e: Execution, state: str, reason: str | None = None, error: dict | None = None) -> None:
        """Moves `e` to a final state (caller holds the lock). A final state never changes."""
        if e.state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return
        e.state = state
        e.reason = reason
        e.athena_error = error
        e.completed = time.time()

    def _run(self, e: Execution) -> None:
        try:
            self._execute(e)
        except Exception as err:  # a bug or an unexpected answer must still end the query
            log.exception("query %s failed unexpectedly", e.id)
            with self.lock:
                self._finish(e, "FAILED", f"INTERNAL_ERROR: athena-local: {err}", _athena_error(1, 100, True, str(err)))

    def _execute(self, e: Execution) -> None:
        try:
            plan = translate.translate(e.query)
        except translate.Unsupported as err:
            with self.lock:
                e.statement_type = "DDL"
                self._finish(e, "FAILED", f"NOT_SUPPORTED: {err}", _athena_error(2, 1000, False, str(err)))
            return
        with self.lock:
            e.statement_type = plan.statement_type
            e.kind = plan.kind
            if e.cancel.is_set():
                self._finish(e, "CANCELLED", "Query cancelled by user")
                return
        if plan.kind == "vacuum":
            outcomes = self._vacuum(e, plan)
        elif plan.kind == "add_columns":
            outcomes = self._add_columns(e, plan)
        else:
            outcomes = [self._statement(e, plan.statements[0])]
        if outcomes is None:
            return
        last = outcomes[-1]
        cancelled = any(o.cancelled for o in outcomes)
        with self.lock:
            # Trino's final stats of every statement run for this query.
            for o in outcomes:
                queued = int(o.stats.get("queuedTimeMillis") or 0)
                e.scanned += int(o.stats.get("physicalInputBytes") or 0)
                e.queued_ms += queued
                e.engine_ms += max(0, int(o.stats.get("elapsedTimeMillis") or 0) - queued)
        if cancelled:
            with self.lock:
                self._finish(e, "CANCELLED", "Query cancelled by user")
            return
        failed = next((o for o in outcomes if o.error), None)
        if failed is not None:
            self._fail_from(e, failed)
            return
        if plan.kind == "dml":
            # Athena answers INSERT / MERGE / UPDATE / DELETE with no rows, only UpdateCount.
            e.update_count = last.update_count
        else:
            e.columns = last.columns
            e.rows = last.rows
        try:
            self._write_results(e)
        except Exception as err:
            with self.lock:
                self._finish(e, "FAILED", f"Unable to write the query results to {self._result_key(e)}: {err}",
                             _athena_error(1, 401, True, str(err)))
            return
        with self.lock:
            self._finish(e, "SUCCEEDED")

    def _statement(self, e: Execution, sql: str, cancel: threading.Event | None = None) -> Outcome:
        """Runs one Trino statement for `e` (cancelled with `e`, unless `cancel` is given)."""
        def on_state(o: Outcome) -> None:
            with self.lock:
                if o.query_id and o.query_id not in e.trino_ids:
                    e.trino_ids.append(o.query_id)
                # Trino's QUEUED / WAITING_FOR_RESOURCES / DISPATCHING are still Athena's QUEUED.
                if e.state == "QUEUED" and o.state not in ("QUEUED", "WAITING_FOR_RESOURCES", "DISPATCHING"):
                    e.state = "RUNNING"

        log.info("query %s on Trino: %s", e.id, sql)
        try:
            outcome = self.trino.run(sql, CATALOG, e.database, cancel or e.cancel, on_state)
        except TrinoUnavailable as err:
            outcome = Outcome(error={"errorName": "ENGINE_UNAVAILABLE", "errorType": "EXTERNAL", "message": str(err)})
        if outcome.query_id:
            with self.lock:
                if outcome.query_id not in e.trino_ids:
                    e.trino_ids.append(outcome.query_id)
        return outcome

    def _fail_from(self, e: Execution, o: Outcome) -> None:
        err = o.error or {}
        name = err.get("errorName") or "GENERIC_INTERNAL_ERROR"
        message = err.get("message") or "query failed"
        user = err.get("errorType") == "USER_ERROR"
        with self.lock:
            error_type = 1000 if user else (233 if name.startswith("ICEBERG_") else 200)
        self._finish(e, "FAILED", f"{name}: {message}", _athena_error(2 if user else 1, error_type, not user, message))

    def _add_columns(self, e: Execution, plan: translate.Plan) -> list[Outcome] | None:
        """Athena runs ADD COLUMNS as one statement: check, add each, undo on failure."""
        existing = self._statement(e, f"SHOW COLUMNS FROM {plan.table}")
        if existing.error or existing.cancelled:
            return [existing]
        have = {str(r[0]).lower() for r in existing.rows}
        clash = [c for c, _ in plan.columns if c in have]
        if clash:
            with self.lock:
                message = f"Column {', '.join(clash)} already exists in {plan.table}"
                self._finish(e, "FAILED", f"COLUMN_ALREADY_EXISTS: {message}", _athena_error(2, 1000, False, message))
            return None
        outcomes = [existing]
        added = []
        for (name, _), sql in zip(plan.columns, plan.statements):
            o = self._statement(e, sql)
            outcomes.append(o)
            if o.error or o.cancelled:
                for col in reversed(added):
                    # The undo runs even when the statement was cancelled.
                    undo = self._statement(e, f"ALTER TABLE {plan.table} DROP COLUMN {translate.quote_ident(col)}",
                                           threading.Event())
                    if undo.error:
                        log.error("query %s: could not undo column %s: %s", e.id, col, undo.error)
                break
            added.append(name)
        return outcomes

    def _vacuum(self, e: Execution, plan: translate.Plan) -> list[Outcome]:
        """Athena's VACUUM: expire snapshots older than the table's vacuum_max_snapshot_age_seconds
        (default 5 days), then remove orphan files older than the same age."""
        props = self._statement(
            e, f"SELECT value FROM {translate.properties_table(plan.table)} "
               "WHERE key = 'vacuum_max_snapshot_age_seconds'")
        if props.error or props.cancelled:
            return [props]
        seconds = translate.ATHENA_DEFAULT_VACUUM_AGE_SECONDS
        if props.rows and str(props.rows[0][0]).isdigit():
            seconds = int(props.rows[0][0])
        outcomes = [props]
        for sql in translate.vacuum_statements(plan.table, seconds):
            o = self._statement(e, sql)
            outcomes.append(o)
            if o.error or o.cancelled:
                break
        return outcomes

    def _write_results(self, e: Execution) -> None:
        """The results object Athena writes: CSV with a header and every value quoted for
        queries, tab-separated lines for DDL and utility statements."""
        key = self._result_key(e)
        buf = io.StringIO()
        if e.kind in ("query", "dml"):
            w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
            if e.kind == "query":
                w.writerow([c["name"] for c in e.columns])
            for r in e.rows:
                w.writerow(["" if v is None else render(v) for v in r])
        else:
            for r in e.rows:
                buf.write("\t".join("" if v is None else render(v) for v in r) + "\n")
        bucket, _, path = key[len("s3://"):].partition("/")
        self.s3.put_object(Bucket=bucket, Key=path, Body=buf.getvalue().encode())
        e.result_key = key


def render(v) -> str:
    """A Trino JSON value as Athena prints it in results."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join("null" if x is None else render(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={'null' if x is None else render(x)}" for k, x in v.items()) + "}"
    return str(v)


def _athena_error(category: int, error_type: int, retryable: bool, message: str) -> dict:
    # ErrorCategory: 1 system, 2 user, 3 other (API_AthenaError.html). ErrorType from Athena's
    # error catalogue (https://docs.aws.amazon.com/athena/latest/ug/error-reference.html): 100
    # internal service error, 200 engine internal error, 233 Iceberg error, 401 results not
    # written to S3, 1000 user error.
    return {"ErrorCategory": category, "ErrorType": error_type, "Retryable": retryable, "ErrorMessage": message}


def _column_info(c: dict) -> dict:
    sig = c.get("typeSignature") or {}
    raw = sig.get("rawType") or c.get("type", "varchar").split("(")[0]
    precision, scale = 0, 0
    args = [a.get("value") for a in sig.get("arguments") or [] if a.get("kind") == "LONG"]
    if raw == "decimal" and len(args) == 2:
        precision, scale = int(args[0]), int(args[1])
    elif raw in ("varchar", "char") and args:
        precision = int(args[0])
    elif raw in ("integer", "bigint", "smallint", "tinyint", "double", "real"):
        precision = {"integer": 10, "bigint": 19, "smallint": 5, "tinyint": 3, "double": 17, "real": 17}[raw]
    elif raw in ("varchar",):
        precision = 2147483647
    return {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": c["name"], "Label": c["name"],
            "Type": raw, "Precision": precision, "Scale": scale, "Nullable": "UNKNOWN", "CaseSensitive": raw == "varchar"}


def _encode_token(offset: int, qid: str) -> str:
    digest = hashlib.sha256(f"{qid}:{offset}".encode()).hexdigest()[:16]
    return f"{offset}.{digest}"


def _decode_token(token: str, qid: str) -> int:
    offset, _, _ = token.partition(".")
    if not offset.isdigit() or _encode_token(int(offset), qid) != token:
        raise invalid("NextToken is not valid for this query")
    return int(offset)
