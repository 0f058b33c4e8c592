"""Starts moto in server mode (the local AWS emulator), with one correction to its DMS answers.

Usage: moto_server.py -H 127.0.0.1 -p PORT   (the arguments of moto's own `moto_server`)

AWS DMS speaks the JSON 1.1 protocol, where a timestamp is a number of seconds since the epoch.
moto writes the dates of a replication task, instance or serverless replication as ISO 8601
strings, which the AWS SDKs refuse to read, so every DescribeReplicationTasks (and Create /
Start / Stop) answer would fail to parse. Here the `...Date` fields of those answers become
epoch seconds before moto serialises them; nothing else changes.
"""

import sys
from datetime import datetime, timezone

from moto.dms import models
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

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
