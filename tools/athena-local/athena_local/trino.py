"""A minimal client of Trino's client REST protocol (POST /v1/statement, then follow `nextUri`
until it is gone; DELETE on `nextUri` cancels). https://trino.io/docs/current/develop/client-protocol.html
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import urllib.error
import urllib.request


class TrinoUnavailable(Exception):
    """Trino did not answer (not running, or an HTTP error other than a query failure)."""


@dataclasses.dataclass
class Outcome:
    """How one Trino statement ended."""

    query_id: str | None = None
    state: str = "QUEUED"  # Trino's state of the query
    columns: list[dict] = dataclasses.field(default_factory=list)
    rows: list[list] = dataclasses.field(default_factory=list)
    update_type: str | None = None
    update_count: int | None = None
    error: dict | None = None  # Trino's QueryError (message, errorName, errorType, ...)
    cancelled: bool = False
    stats: dict = dataclasses.field(default_factory=dict)


class Client:
    def __init__(self, base_url: str, user: str = "athena-local"):
        self.base_url = base_url.rstrip("/")
        self.user = user

    def _request(self, method: str, url: str, body: bytes | None = None, headers: dict | None = None) -> dict:
        req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        req.add_header("X-Trino-User", self.user)
        for attempt in range(6):
            try:
                with urllib.request.urlopen(req, timeout=120) as resp:
                    data = resp.read()
                    return json.loads(data) if data else {}
            except urllib.error.HTTPError as err:
                # 502/503/504: the protocol says to retry after a moment.
                if err.code in (502, 503, 504) and attempt < 5:
                    time.sleep(0.2 * (attempt + 1))
                    continue
                detail = err.read()[:500].decode("utf-8", "replace")
                raise TrinoUnavailable(f"Trino answered HTTP {err.code} to {method} {url}: {detail}") from err
            except (urllib.error.URLError, OSError) as err:
                raise TrinoUnavailable(f"Trino is not reachable at {self.base_url} ({err}); start it with scripts/trino.sh start") from err
        raise TrinoUnavailable(f"Trino kept answering 503 to {method} {url}")

    def info(self) -> dict:
        return self._request("GET", f"{self.base_url}/v1/info")

    def run(
        self,
        sql: str,
        catalog: str,
        schema: str | None,
        cancel: threading.Event,
        on_state=None,
    ) -> Outcome:
        """Runs `sql` to the end (or until `cancel` is set, then cancels it in Trino)."""
        headers = {"X-Trino-Catalog": catalog, "X-Trino-Source": "athena-local", "Content-Type": "text/plain"}
        if schema:
            headers["X-Trino-Schema"] = schema
        out = Outcome()
        resp = self._request("POST", f"{self.base_url}/v1/statement", sql.encode(), headers)
        while True:
            self._absorb(out, resp)
            next_uri = resp.get("nextUri")
            if next_uri is None:
                break
            if cancel.is_set():
                try:
                    self._request("DELETE", next_uri)
                except TrinoUnavailable:
                    pass
                out.cancelled = True
                break
            if on_state is not None:
                on_state(out)
            resp = self._request("GET", next_uri)
        return out

    @staticmethod
    def _absorb(out: Outcome, resp: dict) -> None:
        out.query_id = resp.get("id", out.query_id)
        if resp.get("columns") and not out.columns:
            out.columns = resp["columns"]
        if resp.get("data"):
            out.rows.extend(resp["data"])
        if resp.get("stats"):
            out.stats = resp["stats"]
            out.state = resp["stats"].get("state", out.state)
        if resp.get("updateType"):
            out.update_type = resp["updateType"]
        if resp.get("updateCount") is not None:
            out.update_count = resp["updateCount"]
        if resp.get("error"):
            out.error = resp["error"]
