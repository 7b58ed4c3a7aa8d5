#!/usr/bin/env python3
"""The one "deal-sized" Segment track message every benchmark in this folder sends.

The Swift benchmarks build the same message with the same fields, so that figures on both sides describe the
same work. `--dump N` prints N messages as JSON lines, which is how the Swift side's shape is checked against this
one (use `--sort-keys` to compare with the SDK's `JSONWriter`, which sorts keys).

Stdlib only; nothing here depends on the Segment Python library.
"""

from __future__ import annotations

import argparse
import json
import sys

#: The fixed event time of every deal message, as it appears on the wire.
DEAL_TIMESTAMP = "2026-11-30T10:15:00.000Z"


def deal_message(i: int) -> dict:
    """Return message number ``i``: a deterministic "Deal Won" track call of about 600 bytes of compact JSON.

    A fresh dict is built on every call, so callers (and libraries that add keys such as ``context.library``)
    may mutate it freely.
    """
    email = f"customer{i}@example.com"
    return {
        "type": "track",
        "userId": email,
        "event": "Deal Won",
        "messageId": f"00000000-0000-5000-8000-{i:012d}",
        "timestamp": DEAL_TIMESTAMP,
        "properties": {
            "deal_id": 24000000 + i,
            "deal_name": f"ACME Retail expansion {i}",
            "pipeline_id": 7654321,
            "pipeline": "Sales",
            "from_stage_id": 61000005,
            "from_stage": "Contract discussion",
            "to_stage_id": 142,
            "to_stage": "Closed - won",
            "amount": 4800,
            "currency": "USD",
            "owner_id": 9000001,
            "owner": "maria.lopez@example.com",
            "plan": "Business",
            "revenue": 4800,
        },
        "context": {
            "traits": {"email": email, "name": "Olivia Bennett"},
            "groupId": "36000005",
        },
    }


def compact_json(message: dict, sort_keys: bool = False) -> str:
    """Compact JSON (no spaces), ASCII-safe, optionally with sorted keys like the SDK's ``JSONWriter``."""
    return json.dumps(message, separators=(",", ":"), sort_keys=sort_keys)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dump", type=int, metavar="N", required=True, help="print messages 0..N-1 as JSON lines")
    parser.add_argument("--start", type=int, default=0, metavar="I", help="first message index (default 0)")
    parser.add_argument("--sort-keys", action="store_true", help="sort object keys, as the Swift JSONWriter does")
    args = parser.parse_args(argv)
    if args.dump < 0 or args.start < 0:
        parser.error("--dump and --start must not be negative")

    out = sys.stdout
    for i in range(args.start, args.start + args.dump):
        out.write(compact_json(deal_message(i), sort_keys=args.sort_keys))
        out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
