#!/usr/bin/env python3
"""A loopback stand-in for Segment's ``POST /v1/batch`` that writes down every request it gets.

Listens on 127.0.0.1 only. Each POST to ``/v1/batch`` becomes one JSON line in ``--out``:
``{"seq", "method", "path", "headers", "body_bytes", "content_encoding", "body"}`` where ``headers`` are as
received (name case kept, repeated names joined with ", "), ``body`` is the parsed JSON (gunzipped first when
``Content-Encoding: gzip``), or ``{"unparsed": "..."}`` if it is not JSON. The answer is ``200 {}``; other
paths or methods get 404/405 and are recorded too (with the body as text).

``--port 0`` picks a free port; the first line on stdout is then always ``listening PORT``. ``--fail-first N``
answers the first N batch requests with ``--fail-status`` (default 500) to watch a client's retries (for
example its retry-count header). Stops on SIGINT/SIGTERM or after ``--max-requests``.

Stdlib only; used by hand and by ``python_wire_sample.py``, never by CI.
"""

from __future__ import annotations

import argparse
import gzip
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BATCH_PATH = "/v1/batch"


class Recorder:
    """Appends one JSON line per request to a file; thread-safe."""

    def __init__(self, out: Path, fail_first: int, fail_status: int, max_requests: int | None) -> None:
        self._file = out.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._seq = 0
        self._batch_requests = 0
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.max_requests = max_requests
        self.done = threading.Event()

    def next_batch_status(self) -> int:
        with self._lock:
            self._batch_requests += 1
            return self.fail_status if self._batch_requests <= self.fail_first else 200

    def write(self, record: dict) -> None:
        with self._lock:
            self._seq += 1
            record = {"seq": self._seq, **record}
            self._file.write(json.dumps(record, sort_keys=False) + "\n")
            self._file.flush()
            if self.max_requests is not None and self._seq >= self.max_requests:
                self.done.set()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _headers_as_dict(message) -> dict:
    headers: dict[str, str] = {}
    for name, value in message.items():
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _decode_body(raw: bytes, content_encoding: str | None):
    data = raw
    if content_encoding and content_encoding.strip().lower() == "gzip":
        try:
            data = gzip.decompress(raw)
        except OSError as error:
            return {"unparsed": f"<gzip error: {error}>"}
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {"unparsed": data.decode("utf-8", errors="replace")}


def make_handler(recorder: Recorder):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "wire-recorder/1"

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            pass

        def _read_body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length > 0 else b""

        def _answer(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _record(self, raw: bytes, status: int) -> None:
            encoding = self.headers.get("Content-Encoding")
            recorder.write({
                "method": self.command,
                "path": self.path,
                "answered": status,
                "headers": _headers_as_dict(self.headers),
                "body_bytes": len(raw),
                "content_encoding": encoding,
                "body": _decode_body(raw, encoding),
            })

        def do_POST(self):  # noqa: N802 - http.server naming
            raw = self._read_body()
            if self.path.split("?", 1)[0] != BATCH_PATH:
                self._record(raw, 404)
                self._answer(404, {"code": "not_found", "message": "wire-recorder only serves POST /v1/batch"})
                return
            status = recorder.next_batch_status()
            self._record(raw, status)
            if status == 200:
                self._answer(200, {})
            else:
                self._answer(status, {"code": "scripted_failure", "message": "wire-recorder --fail-first"})

        def _not_allowed(self):
            raw = self._read_body()
            self._record(raw, 405)
            self._answer(405, {"code": "method_not_allowed", "message": "wire-recorder only serves POST /v1/batch"})

        do_GET = do_PUT = do_DELETE = do_PATCH = _not_allowed  # noqa: N815

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1; 0 picks a free one (default)")
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines file to append each request to")
    parser.add_argument("--fail-first", type=int, default=0, metavar="N", help="fail the first N batch requests")
    parser.add_argument("--fail-status", type=int, default=500, help="status for --fail-first (default 500)")
    parser.add_argument("--max-requests", type=int, metavar="N", help="exit after recording N requests")
    args = parser.parse_args(argv)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    recorder = Recorder(args.out, args.fail_first, args.fail_status, args.max_requests)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(recorder))
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)

    def stop(*_):
        recorder.done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    serving.start()
    recorder.done.wait()
    server.shutdown()
    server.server_close()
    recorder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
