"""Starts moto in server mode (the local AWS emulator), with three corrections.

Usage: moto_server.py -H 127.0.0.1 -p PORT   (the arguments of moto's own `moto_server`)

AWS DMS speaks the JSON 1.1 protocol, where a timestamp is a number of seconds since the epoch.
moto writes the dates of a replication task, instance or serverless replication as ISO 8601
strings, which the AWS SDKs refuse to read, so every DescribeReplicationTasks (and Create /
Start / Stop) answer would fail to parse. Here the `...Date` fields of those answers become
epoch seconds before moto serialises them.

AWS Glue's UpdateTable takes an optional `VersionId`, "the version ID at which to update the
table contents" (API_UpdateTable): when the table has moved on since that version was read, the
update is refused with ConcurrentModificationException, which is how concurrent writers avoid
overwriting each other (optimistic locking). moto ignores the parameter and applies every
update. Here an UpdateTable whose `VersionId` is not the table's current version is refused as
Glue refuses it, and the check and the update happen under one lock.

Amazon Athena's GetQueryExecution answers an id it does not know (never issued, or past the 45
days it keeps query history) with InvalidRequestException. moto fails with an internal error
(a KeyError), which no SDK can read. Here the unknown id gets Athena's answer.
"""

import sys
import threading
from datetime import datetime, timezone

from moto.athena import responses as athena_responses
from moto.core.exceptions import JsonRESTError
from moto.dms import models
from moto.glue import responses as glue_responses
from moto.server import main


def epoch_dates(value):
    """`value` with every ISO string under a key ending in `Date` turned into epoch seconds."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key.endswith("Date") and isinstance(item, str):
                try:
                    parsed = datetime.fromisoformat(item)
                except ValueError:
                    parsed = None
                if parsed is not None:
                    # moto's dates are naive UTC.
                    if parsed.tzinfo is None:
                        parsed = parsed.replace(tzinfo=timezone.utc)
                    item = parsed.timestamp()
            out[key] = epoch_dates(item)
        return out
    if isinstance(value, list):
        return [epoch_dates(item) for item in value]
    return value


def patch(cls):
    original = cls.to_dict

    def to_dict(self, *args, **kwargs):
        return epoch_dates(original(self, *args, **kwargs))

    cls.to_dict = to_dict


for name in ("FakeReplicationTask", "FakeReplicationInstance", "FakeReplication"):
    cls = getattr(models, name, None)
    if cls is not None and hasattr(cls, "to_dict"):
        patch(cls)

_GLUE_TABLE_LOCK = threading.Lock()


def patch_glue_update_table():
    original = glue_responses.GlueResponse.update_table

    def update_table(self):
        version = self.parameters.get("VersionId")
        with _GLUE_TABLE_LOCK:
            if version is not None:
                name = (self.parameters.get("TableInput") or {}).get("Name")
                table = self.glue_backend.get_table(self.parameters.get("DatabaseName"), name)
                current = str(table._current_version)
                if str(version) != current:
                    raise JsonRESTError(
                        "ConcurrentModificationException",
                        f"Table {name} was modified: version {version} is not the current "
                        f"version {current}",
                    )
            return original(self)

    glue_responses.GlueResponse.update_table = update_table


patch_glue_update_table()


def patch_athena_unknown_query():
    original = athena_responses.AthenaResponse.get_query_execution

    def get_query_execution(self):
        exec_id = self._get_param("QueryExecutionId")
        if exec_id not in self.athena_backend.executions:
            raise JsonRESTError("InvalidRequestException", f"QueryExecution {exec_id} was not found")
        return original(self)

    athena_responses.AthenaResponse.get_query_execution = get_query_execution


patch_athena_unknown_query()

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
