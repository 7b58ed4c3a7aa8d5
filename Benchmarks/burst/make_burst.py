#!/usr/bin/env python3
"""Writes a burst of N Kommo webhook bodies: the shapes of the lead sample webhooks, repeated with distinct times.

The samples are the raw ``application/x-www-form-urlencoded`` bodies in
``Sources/KommoSegmentTesting/Resources/kommo/``. They are taken in the fixed order of ``CYCLE`` (14 files holding
28 lead items, 2 on average, over 5 leads: 24000017, 24000018, 24000019, 24000031, 24000040) and repeated until N
files are written. Nothing is re-encoded: each ``key=value`` pair is kept byte for byte, except the value of the time
fields of every item, which becomes ``T = base + index`` (Unix seconds; file ``index`` counts from 0):

- ``last_modified`` and ``updated_at`` (the change's time, which the message ids and the deduplication key use)
  are set to ``T``;
- ``date_create`` and ``created_at`` (the lead's creation) are set to ``T`` only where they equalled the item's
  original ``last_modified``/``updated_at`` (a ``leads[add]``: created by this change); elsewhere they keep the
  sample's value, which is earlier than any ``T``.

So every file's changes happen at their own second, in increasing order, and no two files carry the same change; the
two items of the mixed sample (a ``leads[update]`` and a ``leads[status]`` of one stage change) keep one time, as
Kommo sends them. The account (``31234567``, ``acme``) stays as in the samples.

    python3 make_burst.py --count 60 --out /tmp/burst60      # prints: files, lead events, distinct leads

For N=60: 60 files, 120 lead events, 5 distinct leads. Stdlib only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from urllib.parse import parse_qsl, unquote_plus

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = REPO_ROOT / "Sources" / "KommoSegmentTesting" / "Resources" / "kommo"

#: After every time in the samples (the latest is 1768912200, 2026-01-20T12:30:00Z): 2026-01-21T12:53:20Z.
DEFAULT_BASE_TIME = 1769000000

#: The order the samples are repeated in (items per file in brackets): 6 x batch (3), 2 x mixed (2), 6 singles (1).
CYCLE = [
    "webhook-lead-status-batch.txt",             # 24000017 -> 61000005, 24000018 -> lost, 24000019 -> won
    "webhook-lead-status-won.txt",               # 24000017 -> won
    "webhook-lead-status-batch.txt",
    "webhook-lead-status-lost.txt",              # 24000031 -> lost
    "webhook-lead-add.txt",                      # 24000040 created
    "webhook-lead-status-batch.txt",
    "webhook-lead-status-middle-stage.txt",      # 24000017 61000003 -> 61000004
    "webhook-mixed-update-and-status.txt",       # 24000017: update + status of one stage change
    "webhook-lead-status-batch.txt",
    "webhook-lead-responsible-changed.txt",      # 24000017 owner 9000001 -> 9000002
    "webhook-lead-status-batch.txt",
    "webhook-lead-update.txt",                   # 24000017 price/fields edited (no stage change)
    "webhook-mixed-update-and-status.txt",
    "webhook-lead-status-batch.txt",
]

_CHANGE_TIME_FIELDS = ("last_modified", "updated_at")
_CREATION_TIME_FIELDS = ("date_create", "created_at")
#: ``leads[status][0][last_modified]`` → section, action, index, field.
_ITEM_KEY = re.compile(r"^(leads|contacts|companies)\[([a-z_]+)\]\[([0-9]+)\]\[([a-z_]+)\]$")


def lead_items(body: str) -> list[tuple[str, int]]:
    """The ``(action, lead id)`` of every lead item in a form body, in order (``leads[status][0]`` …)."""
    items: dict[tuple[str, str], int] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        match = _ITEM_KEY.match(key)
        if match and match.group(1) == "leads" and match.group(4) == "id":
            items[(match.group(2), match.group(3))] = int(value)
    return [(action, lead_id) for (action, _), lead_id in items.items()]


def retime(body: str, when: int) -> str:
    """``body`` with the time fields of every item set as the module docstring says; other bytes unchanged."""
    pairs = body.split("&")
    decoded = [unquote_plus(pair.partition("=")[0]) for pair in pairs]
    # The original change time of each item, to recognise a creation that is the change itself.
    change_times: dict[tuple[str, str, str], set[str]] = {}
    for key, pair in zip(decoded, pairs):
        match = _ITEM_KEY.match(key)
        if match and match.group(4) in _CHANGE_TIME_FIELDS:
            change_times.setdefault(match.group(1, 2, 3), set()).add(pair.partition("=")[2])
    out = []
    for key, pair in zip(decoded, pairs):
        match = _ITEM_KEY.match(key)
        if match:
            raw_key, _, value = pair.partition("=")
            field = match.group(4)
            if field in _CHANGE_TIME_FIELDS or (field in _CREATION_TIME_FIELDS
                                                and value in change_times.get(match.group(1, 2, 3), set())):
                pair = f"{raw_key}={when}"
        out.append(pair)
    return "&".join(out)


def make_burst(count: int, out: str | Path, base_time: int = DEFAULT_BASE_TIME) -> dict:
    """Writes ``count`` files into ``out`` (``burst-0000.txt`` …); returns the files and their counts."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    samples = {name: (SAMPLES / name).read_text(encoding="utf-8") for name in set(CYCLE)}
    files = []
    events = 0
    leads: set[int] = set()
    by_sample: dict[str, int] = {}
    for index in range(count):
        name = CYCLE[index % len(CYCLE)]
        body = retime(samples[name], base_time + index)
        path = out / f"burst-{index:04d}.txt"
        path.write_bytes(body.encode("utf-8"))  # no trailing newline, as Kommo sends it
        items = lead_items(body)
        events += len(items)
        leads.update(lead_id for _, lead_id in items)
        by_sample[name] = by_sample.get(name, 0) + 1
        files.append(str(path))
    return {"files": files, "file_count": count, "lead_events": events, "distinct_leads": len(leads),
            "leads": sorted(leads), "base_time": base_time, "by_sample": by_sample}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Write N Kommo webhook bodies (the lead samples, retimed).")
    parser.add_argument("--count", type=int, required=True, help="number of webhook files")
    parser.add_argument("--out", required=True, help="directory to write into (created if missing)")
    parser.add_argument("--base-time", type=int, default=DEFAULT_BASE_TIME,
                        help=f"Unix time of file 0's changes (default {DEFAULT_BASE_TIME})")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON (with the file list)")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    result = make_burst(args.count, args.out, args.base_time)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"make-burst: files={result['file_count']} lead_events={result['lead_events']} "
              f"distinct_leads={result['distinct_leads']} leads={','.join(map(str, result['leads']))} "
              f"out={args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
