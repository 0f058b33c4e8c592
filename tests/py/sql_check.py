"""Parse Athena statements with sqlglot's Athena dialect and report what each one is.

Input (stdin): a JSON list of SQL strings. Output (stdout): a JSON list, one object per input:
{"statements": n, "kind": "Create"|"Merge"|"Command"|..., "unquoted": [identifiers not quoted],
 "error": null | "parse error text"}.
The caller decides what is acceptable; this script only parses.
"""

import json
import sys

import sqlglot
from sqlglot import exp


def inspect(sql):
    try:
        parsed = [e for e in sqlglot.parse(sql, read="athena") if e is not None]
    except sqlglot.errors.ParseError as err:
        return {"statements": 0, "kind": None, "unquoted": [], "error": str(err)}
    unquoted = []
    for tree in parsed:
        for ident in tree.find_all(exp.Identifier):
            if not ident.quoted:
                unquoted.append(ident.name)
    kind = type(parsed[0]).__name__ if parsed else None
    command = None
    if parsed and isinstance(parsed[0], exp.Command):
        command = parsed[0].name
    return {
        "statements": len(parsed),
        "kind": kind,
        "command": command,
        "unquoted": unquoted,
        "error": None,
    }


def main():
    statements = json.load(sys.stdin)
    json.dump([inspect(s) for s in statements], sys.stdout)


if __name__ == "__main__":
    main()
