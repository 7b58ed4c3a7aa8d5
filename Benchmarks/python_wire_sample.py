#!/usr/bin/env python3
"""Sends one identify, one track and one group through Segment's official Python library to a wire recorder.

The point is to see exactly what that library puts on the wire (headers, envelope, ``sentAt``, timestamp and
messageId formats, ``context.library``) so ours can be compared with it. Defaults are the library's own
(``sync_mode=False``, batching, no gzip) with the fake write key ``bench-write-key``:

* identify and group leave ``timestamp`` and ``message_id`` to the library, to show its defaults;
* track is ``deal_message(1)`` with its explicit messageId and timestamp, to show what the library does to them.

Either point it at a running recorder (``--port PORT`` or ``--host http://127.0.0.1:PORT``), or let it start
one: ``--spawn-recorder OUT.jsonl`` runs ``wire_recorder.py --port 0 --out OUT.jsonl`` for the duration.

    python3 Benchmarks/python_wire_sample.py --spawn-recorder Benchmarks/reference/python-wire-sample.jsonl
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_venv import ensure_segment, installed_library_version  # noqa: E402

ensure_segment()

# The recorder is on loopback: never let an environment proxy setting send these requests elsewhere.
_no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY") or os.environ.get("no_proxy"), "127.0.0.1"]))
os.environ["NO_PROXY"] = os.environ["no_proxy"] = _no_proxy

from segment.analytics import Client  # noqa: E402

from deal_messages import DEAL_TIMESTAMP, deal_message  # noqa: E402
import datetime as dt  # noqa: E402

WRITE_KEY = "bench-write-key"


def send_sample(host: str, use_gzip: bool) -> list[str]:
    errors: list[str] = []
    client = Client(
        write_key=WRITE_KEY,
        host=host,
        gzip=use_gzip,
        max_retries=3,
        on_error=lambda error, items: errors.append(f"{type(error).__name__}: {error} ({len(items)} messages)"),
    )
    deal = deal_message(1)
    client.identify(
        user_id=deal["userId"],
        traits={"email": deal["userId"], "name": "Olivia Bennett"},
    )
    client.track(
        user_id=deal["userId"],
        event=deal["event"],
        properties=deal["properties"],
        context=deal["context"],
        timestamp=dt.datetime.fromisoformat(DEAL_TIMESTAMP.replace("Z", "+00:00")),
        message_id=deal["messageId"],
    )
    client.group(
        user_id=deal["userId"],
        group_id="36000005",
        traits={"name": "ACME Retail", "plan": "Business"},
    )
    client.flush()
    client.join()
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--host", help="base URL of a running recorder, e.g. http://127.0.0.1:8080")
    target.add_argument("--port", type=int, help="port of a recorder running on 127.0.0.1")
    target.add_argument("--spawn-recorder", type=Path, metavar="OUT", help="start a recorder writing to OUT")
    parser.add_argument("--gzip", action="store_true", help="turn on the library's gzip option")
    parser.add_argument("--fresh", action="store_true", help="with --spawn-recorder: truncate OUT first")
    args = parser.parse_args(argv)

    recorder = None
    if args.spawn_recorder:
        if args.fresh and args.spawn_recorder.exists():
            args.spawn_recorder.unlink()
        recorder = subprocess.Popen(
            [sys.executable, str(HERE / "wire_recorder.py"), "--port", "0", "--out", str(args.spawn_recorder)],
            stdout=subprocess.PIPE,
            text=True,
        )
        first = recorder.stdout.readline().strip()
        if not first.startswith("listening "):
            recorder.kill()
            sys.exit(f"python-wire-sample: recorder did not start (said {first!r})")
        host = f"http://127.0.0.1:{int(first.split()[1])}"
    elif args.port is not None:
        host = f"http://127.0.0.1:{args.port}"
    else:
        host = args.host

    try:
        errors = send_sample(host, args.gzip)
    finally:
        if recorder is not None:
            recorder.terminate()
            recorder.wait(timeout=10)

    print(f"python-wire-sample: segment-analytics-python {installed_library_version()} sent identify, track, group "
          f"to {host} (gzip={args.gzip})", file=sys.stderr)
    for error in errors:
        print(f"python-wire-sample: library reported: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
