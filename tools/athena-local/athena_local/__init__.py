"""athena-local: Athena's API (JSON 1.1 protocol) over Trino, for the local stack. Never deployed."""
