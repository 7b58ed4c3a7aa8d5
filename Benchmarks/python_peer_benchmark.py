#!/usr/bin/env python3
"""Throughput of Segment's official Python library on deal-sized track messages, with no network.

What is measured: ``Client.track(...)`` for N messages from ``deal_messages.deal_message`` (validation, cleaning,
the per-message JSON size check, queueing), the library's consumer thread batching them (it JSON-encodes every
item again for the batch-size check) and ``request.post`` building each request (``json.dumps`` of the batch,
headers, Basic auth), up to ``client.flush()`` returning. What is not: the network. The library's
``requests`` session is patched at the point where the body is already a JSON string:

* ``--sink session-post`` (default): ``segment.analytics.request._session.post`` is replaced by a function that
  counts the body and answers 200. Nothing of ``requests`` runs.
* ``--sink adapter``: the session keeps its ``post`` but gets a no-op transport adapter mounted, so ``requests``
  still prepares each request (header merging, environment proxy look-up); only the socket work is skipped.

The library drops a message when its queue is full (``queue.put(block=False)``). To keep the queue at the
requested ``max_queue_size`` without losing messages, the producer waits for room *before* each ``track`` call
(one producer, so room seen is room kept). Any ``track`` that still reports failure is counted as rejected, and
every message that does not reach the sink is reported as dropped.

Output: one line on stdout, ``python-peer: messages=N seconds=S messages_per_second=R bytes_per_request=B
dropped=D``, and the same figures plus the library version and run details as JSON at ``--json-out``.
Progress and notes go to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_venv import ensure_segment, installed_library_version  # noqa: E402

ensure_segment()

import requests  # noqa: E402
import segment.analytics.request as segment_request  # noqa: E402
from segment.analytics import Client  # noqa: E402

from deal_messages import DEAL_TIMESTAMP, deal_message  # noqa: E402

#: The fixed deal timestamp as the aware datetime the library requires (it re-formats it itself).
DEAL_DATETIME = dt.datetime.fromisoformat(DEAL_TIMESTAMP.replace("Z", "+00:00"))


class Sink:
    """Counts what the library would have sent. Called from the consumer thread only."""

    def __init__(self) -> None:
        self.requests = 0
        self.messages = 0
        self.body_bytes = 0
        self.min_bytes: int | None = None
        self.max_bytes = 0
        self.first_body: str | bytes | None = None
        self.first_headers: dict | None = None
        self.urls: set[str] = set()

    def record(self, url: str, body, headers) -> None:
        raw = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
        size = len(raw)
        self.requests += 1
        self.body_bytes += size
        self.max_bytes = max(self.max_bytes, size)
        self.min_bytes = size if self.min_bytes is None else min(self.min_bytes, size)
        # Every message in a batch carries exactly one messageId key; counting the key in the serialized body
        # proves the message really was encoded and handed over, without paying for a parse.
        self.messages += raw.count(b'"messageId"')
        if self.first_body is None:
            self.first_body = body
            self.first_headers = dict(headers or {})
        self.urls.add(url)


class _OK:
    """The little of a ``requests.Response`` that ``segment.analytics.request.post`` reads on success."""

    status_code = 200
    reason = "OK"
    text = "{}"
    headers: dict = {}

    def json(self) -> dict:
        return {}


def install_session_post_sink(sink: Sink) -> None:
    ok = _OK()

    def post(url, data=None, headers=None, **_kwargs):
        sink.record(url, data, headers)
        return ok

    # An instance attribute shadows Session.post for the library's module-level session only.
    segment_request._session.post = post


class _NoNetworkAdapter(requests.adapters.BaseAdapter):
    def __init__(self, sink: Sink) -> None:
        super().__init__()
        self._sink = sink

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self._sink.record(request.url, request.body, request.headers)
        response = requests.Response()
        response.status_code = 200
        response.reason = "OK"
        response._content = b"{}"
        response.request = request
        response.url = request.url
        return response

    def close(self) -> None:
        pass


def install_adapter_sink(sink: Sink) -> None:
    adapter = _NoNetworkAdapter(sink)
    segment_request._session.mount("https://", adapter)
    segment_request._session.mount("http://", adapter)


def track_kwargs(i: int) -> dict:
    m = deal_message(i)
    return {
        "user_id": m["userId"],
        "event": m["event"],
        "properties": m["properties"],
        "context": m["context"],
        "timestamp": DEAL_DATETIME,
        "message_id": m["messageId"],
    }


def time_generator(count: int) -> float:
    """Seconds spent only building the messages and keyword arguments (reported, never subtracted)."""
    start = time.perf_counter()
    for i in range(count):
        track_kwargs(i)
    return time.perf_counter() - start


def wait_for_room(q) -> bool:
    """Block until the library's bounded queue has a free slot; return whether we had to wait."""
    if q.maxsize <= 0 or not q.full():
        return False
    with q.not_full:
        while q._qsize() >= q.maxsize:
            q.not_full.wait()
    return True


def run(args: argparse.Namespace) -> dict:
    sink = install_sink(args.sink)

    errors: list[str] = []
    client = make_client(args, errors)
    q = client.queue

    rejected = 0
    backpressure_waits = 0
    count = args.count
    track = client.track

    start = time.perf_counter()
    for i in range(count):
        if wait_for_room(q):
            backpressure_waits += 1
        ok, _ = track(**track_kwargs(i))
        if not ok:
            rejected += 1
    enqueued = time.perf_counter()
    client.flush()
    seconds = time.perf_counter() - start
    client.join()

    first = json.loads(sink.first_body) if sink.first_body is not None else {}
    requests_sent = sink.requests
    bytes_per_request = round(sink.body_bytes / requests_sent) if requests_sent else 0
    dropped = count - sink.messages
    return {
        "benchmark": "python-peer",
        "messages": count,
        "seconds": round(seconds, 3),
        "messages_per_second": round(count / seconds, 1) if seconds > 0 else None,
        "bytes_per_request": bytes_per_request,
        "dropped": dropped,
        "library": "segment-analytics-python",
        "library_version": installed_library_version(),
        "sink": args.sink,
        "requests": requests_sent,
        "messages_delivered": sink.messages,
        "enqueue_rejected": rejected,
        "backpressure_waits": backpressure_waits,
        "consumer_errors": errors[:10],
        "consumer_error_count": len(errors),
        "enqueue_seconds": round(enqueued - start, 3),
        "generator_seconds": round(args.generator_seconds, 3) if args.generator_seconds is not None else None,
        "request_bytes_min": sink.min_bytes,
        "request_bytes_max": sink.max_bytes,
        "first_request": {
            "urls": sorted(sink.urls),
            "headers": {k: ("<redacted>" if k.lower() == "authorization" else v) for k, v in (sink.first_headers or {}).items()},
            "body_keys": sorted(first),
            "batch_length": len(first.get("batch", [])),
            "first_message_keys": sorted(first.get("batch", [{}])[0]),
        },
        "config": library_config(args),
        "machine": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
        },
        "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def install_sink(kind: str) -> Sink:
    """A new sink, installed where ``--sink`` says the network is cut off."""
    sink = Sink()
    if kind == "session-post":
        install_session_post_sink(sink)
    else:
        install_adapter_sink(sink)
    return sink


def make_client(args: argparse.Namespace, errors: list[str]) -> Client:
    """The library client of both peers, which appends each consumer error to ``errors``."""
    lock = threading.Lock()

    def on_error(error, items):
        with lock:
            errors.append(f"{type(error).__name__}: {error} ({len(items)} messages)")

    return Client(write_key="bench", sync_mode=False, max_queue_size=args.max_queue_size,
                  upload_size=args.upload_size, upload_interval=args.upload_interval, on_error=on_error)


def library_config(args: argparse.Namespace) -> dict:
    """The library client's settings as the result JSON records them (shared with ``python_pipeline_peer.py``)."""
    return {"write_key": "bench", "sync_mode": False, "max_queue_size": args.max_queue_size,
            "upload_size": args.upload_size, "upload_interval": args.upload_interval, "thread": 1, "gzip": False}


def add_library_options(parser: argparse.ArgumentParser) -> None:
    """The library client's options, shared with ``python_pipeline_peer.py``: the sink and the queue settings."""
    parser.add_argument("--sink", choices=("session-post", "adapter"), default="session-post",
                        help="where the network is cut off (default session-post; see python_peer_benchmark.py)")
    parser.add_argument("--max-queue-size", type=int, default=10_000, help="library queue bound (default 10000)")
    parser.add_argument("--upload-size", type=int, default=100, help="messages per batch (default 100)")
    parser.add_argument("--upload-interval", type=float, default=Client.DefaultConfig.upload_interval,
                        help="seconds the consumer waits to fill a batch (library default %(default)s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200_000, help="messages to send (default 200000)")
    parser.add_argument("--json-out", type=Path, help="also write the result as JSON to this path")
    add_library_options(parser)
    parser.add_argument("--skip-generator-timing", action="store_true",
                        help="do not time a separate pass that only builds the messages")
    args = parser.parse_args(argv)
    if args.count <= 0:
        parser.error("--count must be positive")

    args.generator_seconds = None if args.skip_generator_timing else time_generator(args.count)
    print(f"python-peer: segment-analytics-python {installed_library_version()}, sink={args.sink}, "
          f"count={args.count}", file=sys.stderr, flush=True)

    result = run(args)

    if result["dropped"] or result["enqueue_rejected"] or result["consumer_error_count"]:
        print(f"python-peer: WARNING: dropped={result['dropped']} rejected={result['enqueue_rejected']} "
              f"consumer_errors={result['consumer_error_count']} {result['consumer_errors']}", file=sys.stderr)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")

    print(f"python-peer: messages={result['messages']} seconds={result['seconds']:.3f} "
          f"messages_per_second={result['messages_per_second']:.1f} bytes_per_request={result['bytes_per_request']} "
          f"dropped={result['dropped']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
