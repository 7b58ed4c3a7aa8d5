#!/usr/bin/env python3
"""Loopback fakes for the burst benchmark: a Kommo API v4 server that enforces Kommo's 7 requests/second limit, and
a Segment HTTP API server that counts what it receives.

Both listen on 127.0.0.1 only (port 0 picks a free port), speak HTTP/1.1 with keep-alive, and run on a
``ThreadingHTTPServer`` in a background thread.

Kommo fake
    Answers from the fixture directory ``Sources/KommoSegmentTesting/Resources/kommo-api`` exactly as
    ``KommoFixtureTransport`` (``Sources/KommoSegmentTesting/KommoFixtureTransport.swift``) does: the same routes,
    HAL list shape, ``with`` handling, 204 for unknown ids, 400 for a query parameter a route does not take, 405 for
    another method, 404 for another path, 401 without ``Authorization: Bearer …``, problem+json error bodies, and
    ``POST /api/v4/leads/notes``. On top of that it enforces Kommo's limit: a request that would be the 8th arrival
    within a sliding one-second window (arrival = ``time.monotonic()`` right after its request line is read;
    every arrival counts, also those answered 429) is answered 429 with a small problem+json body and no
    ``Retry-After``. It records the total, the 429s, requests per path kind, the busiest one-second window and the
    longest request target (path + query) seen.

Segment fake
    ``POST /v1/batch`` (``{"batch": [...]}``) and the single-message ``POST /v1/identify|track|group|page|screen|alias``,
    gzip bodies included; answers 200 ``{"success":true}``; counts requests and messages and keeps every message's
    ``messageId`` in arrival order.

Module use::

    from fakes import KommoFake, SegmentFake
    kommo = KommoFake().start(); segment = SegmentFake().start()
    ... kommo.base_url, segment.base_url ...
    print(kommo.stats(), segment.stats()); kommo.stop(); segment.stop()

CLI use (both servers until SIGTERM/SIGINT; the stats JSON is written on exit and on every ``GET /__stats``, which
either server answers with the stats and which is not counted)::

    python3 fakes.py --kommo-port-file K --segment-port-file S --stats-file STATS.json

Stdlib only.
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import json
import os
import re
import signal
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FIXTURES = REPO_ROOT / "Sources" / "KommoSegmentTesting" / "Resources" / "kommo-api"

#: Kommo's documented limit: 7 requests per second.
KOMMO_LIMIT = 7
KOMMO_WINDOW = 1.0
STATS_PATH = "/__stats"

ENTITIES = ("leads", "contacts", "companies", "users")
_ID_RE = re.compile(r"^[0-9]+$")
_INT_RE = re.compile(r"^[+-]?[0-9]+$")
_BAD_PERCENT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def busiest_window(times: list[float], window: float = KOMMO_WINDOW) -> int:
    """The largest number of sorted ``times`` inside any half-open window ``(t - window, t]``."""
    best = 0
    start = 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def _json_bytes(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


class _Handler(BaseHTTPRequestHandler):
    """Common plumbing: HTTP/1.1 keep-alive, body reading (Content-Length or chunked), quiet logs."""

    protocol_version = "HTTP/1.1"
    server_version = "burst-fake/1"
    fake: "_Fake"  # set on the subclass made per server

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        if self.fake.verbose:
            sys.stderr.write("%s %s\n" % (self.fake.name, format % args))

    def parse_request(self):
        # The request line has just been read by handle_one_request: this is the arrival time.
        self.arrival = time.monotonic()
        return super().parse_request()

    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def reply(self, status: int, body: bytes = b"", content_type: str | None = None, headers=()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if status not in (204, 304) and not (100 <= status < 200):
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and status not in (204, 304):
            self.wfile.write(body)

    def _dispatch(self):
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self.reply(400, b"", None)
            return
        if self.path.split("?", 1)[0] == STATS_PATH and self.command == "GET":
            self.reply(200, _json_bytes(self.fake.all_stats()), "application/json")
            return
        status, headers, payload, content_type = self.fake.handle(self, body)
        self.reply(status, payload, content_type, headers)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


class _Fake:
    """A server in a background thread; subclasses implement ``handle`` and ``stats``."""

    name = "fake"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, verbose: bool = False):
        self.host = host
        self.requested_port = port
        self.verbose = verbose
        self.lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        #: Set by the CLI so that ``GET /__stats`` on one server shows both.
        self.all_stats = self.stats

    def start(self):
        handler = type(f"{type(self).__name__}Handler", (_Handler,), {"fake": self})
        self._server = _Server((self.host, self.requested_port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.name, daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def handle(self, handler: _Handler, body: bytes):  # pragma: no cover - abstract
        raise NotImplementedError

    def stats(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError


# --------------------------------------------------------------------------------------------------------------
# Kommo


def path_kind(path: str) -> str:
    """A short name for what a Kommo path reads: ``leads/list``, ``leads/id``, ``pipelines``, ``notes``, …"""
    segments = path.split("/")
    if len(segments) >= 4 and segments[:3] == ["", "api", "v4"]:
        route = segments[3:]
        if len(route) == 1 and route[0] in ENTITIES:
            return f"{route[0]}/list"
        if len(route) == 1 and route[0] == "account":
            return "account"
        if len(route) == 2 and route[0] == "leads" and route[1] in ("pipelines", "loss_reasons", "notes"):
            return route[1]
        if len(route) == 2 and route[0] in ENTITIES and _ID_RE.match(route[1]):
            return f"{route[0]}/id"
    return "other"


class KommoFake(_Fake):
    """Kommo API v4 over the fixture directory, with the 7/s limit enforced. See the module docstring."""

    name = "kommo"

    def __init__(self, fixtures: str | os.PathLike = DEFAULT_FIXTURES, limit: int = KOMMO_LIMIT,
                 window: float = KOMMO_WINDOW, accepted_token: str | None = None, first_note_id: int = 91_000_100,
                 **kwargs):
        super().__init__(**kwargs)
        self.fixtures = Path(fixtures)
        if not self.fixtures.is_dir():
            raise SystemExit(f"kommo fake: the fixture directory '{self.fixtures}' does not exist")
        self.limit = limit
        self.window = window
        self.accepted_token = accepted_token
        self.first_note_id = first_note_id
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.arrivals: list[float] = []          # every counted request, sorted
            self.accepted_arrivals: list[float] = []  # those not answered 429
            self.rejected_arrivals: list[float] = []
            self.by_kind: dict[str, int] = {}
            self.by_status: dict[str, int] = {}
            self.max_target_length = 0
            self.max_target = ""
            self.max_ids_in_filter = 0
            self.notes: list[dict] = []
            self.next_note_id = self.first_note_id

    # -- observation

    def stats(self) -> dict:
        with self.lock:
            arrivals = list(self.arrivals)
            accepted = list(self.accepted_arrivals)
            rejected = len(self.rejected_arrivals)
            span = (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0
            return {
                "requests": len(arrivals),
                "rate_limited_429": rejected,
                "answered_not_429": len(accepted),
                "busiest_window": busiest_window(arrivals, self.window),
                "busiest_window_accepted": busiest_window(accepted, self.window),
                "limit_per_window": self.limit,
                "window_seconds": self.window,
                "by_kind": dict(sorted(self.by_kind.items())),
                "by_status": dict(sorted(self.by_status.items())),
                "max_url_length": self.max_target_length,
                "max_url": self.max_target[:300],
                "max_ids_in_one_filter": self.max_ids_in_filter,
                "notes_posted": len(self.notes),
                "first_to_last_request_seconds": round(span, 3),
            }

    # -- serving

    def _admit(self, arrival: float) -> bool:
        """Records an arrival; False when it is over the limit (the caller answers 429). Holds the lock."""
        arrivals = self.arrivals
        index = bisect.bisect_right(arrivals, arrival)
        earlier_in_window = index - bisect.bisect_right(arrivals, arrival - self.window)
        arrivals.insert(index, arrival)
        admitted = earlier_in_window < self.limit
        bisect.insort(self.accepted_arrivals if admitted else self.rejected_arrivals, arrival)
        return admitted

    def handle(self, handler: _Handler, body: bytes):
        target = handler.path
        split = urlsplit("http://127.0.0.1" + target) if target.startswith("/") else None
        path = split.path if split else target
        with self.lock:
            admitted = self._admit(handler.arrival)
            kind = path_kind(path)
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
            if len(target) > self.max_target_length:
                self.max_target_length = len(target)
                self.max_target = target
        if not admitted:
            answer = (429, [], _json_bytes({"title": "Too Many Requests", "status": 429}),
                      "application/problem+json")
        elif split is None:
            answer = _problem(400, "Bad Request", f"the request target '{target[:100]}' is not a path")
        else:
            try:
                answer = self._route(handler, path, split.query, body)
            except _FixtureFailure as failure:
                answer = _problem(500, "Internal Server Error", failure.detail)
        with self.lock:
            key = str(answer[0])
            self.by_status[key] = self.by_status.get(key, 0) + 1
        return answer

    def _route(self, handler: _Handler, path: str, raw_query: str, body: bytes):
        method = handler.command
        segments = path.split("/")
        if not (len(segments) >= 4 and segments[0] == "" and segments[1] == "api" and segments[2] == "v4"
                and all(segments[1:])):
            return _problem(404, "Not Found", f"no fixture route for {method} {path}")
        route = segments[3:]
        refusal = self._authorize(handler)
        if refusal:
            return refusal
        query = _decode_query(raw_query)
        if isinstance(query, str):
            return _problem(400, "Bad Request", query)

        if len(route) == 1:
            if route[0] in ENTITIES:
                if method != "GET":
                    return _method_not_allowed(method, path)
                return self._list(route[0], query, path)
            if route[0] == "account":
                if method != "GET":
                    return _method_not_allowed(method, path)
                return _refuse_unknown(query, {"with"}) or self._verbatim("account.json")
        elif len(route) == 2:
            if route[0] == "leads" and route[1] in ("pipelines", "loss_reasons"):
                if method != "GET":
                    return _method_not_allowed(method, path)
                return _refuse_unknown(query, {"page", "limit"}) or self._verbatim(f"{route[1]}.json")
            if route[0] == "leads" and route[1] == "notes":
                if method != "POST":
                    return _method_not_allowed(method, path)
                return _refuse_unknown(query, set()) or self._add_notes(handler, body)
            if route[0] in ENTITIES and _entity_id(route[1]) is not None:
                if method != "GET":
                    return _method_not_allowed(method, path)
                return self._single(route[0], _entity_id(route[1]), query)
        return _problem(404, "Not Found", f"no fixture route for {method} {path}")

    def _authorize(self, handler: _Handler):
        header = handler.headers.get("Authorization") or ""
        if not header.startswith("Bearer ") or len(header) <= len("Bearer "):
            return _problem(401, "Unauthorized", "the request has no bearer token")
        if self.accepted_token is not None and header[len("Bearer "):] != self.accepted_token:
            return _problem(401, "Unauthorized", "the access token is missing, expired or revoked")
        return None

    def _users_forbidden(self) -> bool:
        return (self.fixtures / "users.forbidden").exists()

    def _read(self, name: str) -> bytes | None:
        try:
            return (self.fixtures / name).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def _parse(self, data: bytes, name: str):
        try:
            return json.loads(data)
        except ValueError:
            raise _FixtureFailure(f"the fixture file '{name}' is not valid JSON") from None

    def _single(self, entity: str, entity_id: int, query):
        refusal = _refuse_unknown(query, set() if entity == "users" else {"with"})
        if refusal:
            return refusal
        if entity == "users" and self._users_forbidden():
            return _forbidden_users()
        name = f"{entity}/{entity_id}.json"
        data = self._read(name)
        if data is None:
            return _no_content()
        value = self._parse(data, name)
        if entity == "leads":
            return _ok(_apply_with(value, query))
        return (200, [], data, "application/hal+json")

    def _list(self, entity: str, query, path: str):
        ids: list[int] = []
        filtered = False
        page = 1
        for name, value in query:
            if _is_id_filter(name):
                filtered = True
                for part in value.split(","):
                    part = part.strip()
                    if not _INT_RE.match(part):
                        return _problem(400, "Bad Request", f"'{value}' is not an id in {name}")
                    ids.append(int(part))
            elif name == "limit":
                if not _INT_RE.match(value) or not 1 <= int(value) <= 250:
                    return _problem(400, "Bad Request", f"limit must be 1...250, not '{value}'")
            elif name == "page":
                if not _INT_RE.match(value) or int(value) < 1:
                    return _problem(400, "Bad Request", f"page must be a positive integer, not '{value}'")
                page = int(value)
            elif name == "with" and entity != "users":
                continue
            else:
                return _problem(400, "Bad Request", f"unexpected query parameter '{name}'")
        with self.lock:
            self.max_ids_in_filter = max(self.max_ids_in_filter, len(ids))
        if entity == "users" and self._users_forbidden():
            return _forbidden_users()
        if not filtered:
            ids = self._list_ids(entity)
        seen: set[int] = set()
        items = []
        for entity_id in ids:
            if entity_id in seen:
                continue
            seen.add(entity_id)
            name = f"{entity}/{entity_id}.json"
            data = self._read(name)
            if data is None:
                continue
            value = self._parse(data, name)
            items.append(_apply_with(value, query) if entity == "leads" else value)
        if not items or page > 1:
            return _no_content()
        collection = {"_page": 1, "_links": {"self": {"href": path}}, "_embedded": {entity: items}}
        if entity == "users":
            collection["_total_items"] = len(items)
        return _ok(collection)

    def _list_ids(self, entity: str) -> list[int]:
        directory = self.fixtures / entity
        if not directory.is_dir():
            return []
        ids = []
        for child in directory.iterdir():
            if child.name.endswith(".json"):
                entity_id = _entity_id(child.name[:-5])
                if entity_id is not None:
                    ids.append(entity_id)
        return sorted(ids)

    def _verbatim(self, name: str):
        data = self._read(name)
        if data is None:
            return _no_content()
        self._parse(data, name)
        return (200, [], data, "application/hal+json")

    def _add_notes(self, handler: _Handler, body: bytes):
        content_type = handler.headers.get("Content-Type") or ""
        if not content_type.lower().startswith("application/json"):
            return _problem(415, "Unsupported Media Type", "notes must be sent as application/json")
        try:
            value = json.loads(body) if body else None
        except ValueError:
            value = None
        if not isinstance(value, list) or not value:
            return _validation_problem("", "the body must be a non-empty JSON array of notes")
        accepted = []
        for index, note in enumerate(value):
            note = note if isinstance(note, dict) else {}
            entity_id = note.get("entity_id")
            if isinstance(entity_id, bool) or not isinstance(entity_id, (int, float)) or entity_id != int(entity_id) \
                    or entity_id <= 0:
                return _validation_problem(f"{index}.entity_id", "entity_id must be a positive integer")
            note_type = note.get("note_type")
            if not isinstance(note_type, str) or not note_type:
                return _validation_problem(f"{index}.note_type", "note_type is required")
            request_id = note.get("request_id")
            accepted.append((int(entity_id), note, request_id if isinstance(request_id, str) else "0"))
        created = []
        with self.lock:
            for entity_id, note, request_id in accepted:
                note_id = self.next_note_id
                self.next_note_id += 1
                self.notes.append({"id": note_id, "note": note})
                created.append({"id": note_id, "entity_id": entity_id, "request_id": request_id,
                                "_links": {"self": {"href": f"/api/v4/leads/{entity_id}/notes/{note_id}"}}})
        return _ok({"_links": {"self": {"href": "/api/v4/leads/notes"}}, "_embedded": {"notes": created}})


class _FixtureFailure(Exception):
    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def _entity_id(text: str) -> int | None:
    if not text or not _ID_RE.match(text):
        return None
    value = int(text)
    return value if 0 < value < 2**63 else None


def _is_id_filter(name: str) -> bool:
    """``filter[id][]``, ``filter[id][<n>]`` or ``filter[id]``."""
    if not name.startswith("filter[id]"):
        return False
    rest = name[len("filter[id]"):]
    if not rest:
        return True
    if not (rest.startswith("[") and rest.endswith("]")) or len(rest) < 2:
        return False
    inner = rest[1:-1]
    return inner == "" or inner.isascii() and inner.isdigit()


def _decode_query(query: str):
    """Ordered (name, value) pairs, percent-decoded, ``+`` as a space; a str is the error detail."""
    items = []
    if not query:
        return items
    for pair in query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        decoded = []
        for raw in (name.replace("+", " "), value.replace("+", " ")):
            if _BAD_PERCENT_RE.search(raw):
                return f"the query '{query}' is not valid percent-encoding"
            try:
                decoded.append(_unquote_strict(raw))
            except UnicodeDecodeError:
                return f"the query '{query}' is not valid percent-encoding"
        items.append((decoded[0], decoded[1]))
    return items


def _unquote_strict(text: str) -> str:
    from urllib.parse import unquote_to_bytes

    return unquote_to_bytes(text).decode("utf-8")


def _apply_with(lead, query):
    """Drops the lead's embedded contacts and loss reason unless ``with`` asks for them."""
    with_values = {part for name, value in query if name == "with" for part in value.split(",") if part}
    if not isinstance(lead, dict) or not isinstance(lead.get("_embedded"), dict):
        return lead
    lead = dict(lead)
    embedded = dict(lead["_embedded"])
    if "contacts" not in with_values:
        embedded.pop("contacts", None)
    if "loss_reason" not in with_values:
        embedded.pop("loss_reason", None)
    lead["_embedded"] = embedded
    return lead


def _refuse_unknown(query, allowed: set[str]):
    for name, _ in query:
        if name not in allowed:
            return _problem(400, "Bad Request", f"unexpected query parameter '{name}'")
    return None


def _ok(value):
    return (200, [], _json_bytes(value), "application/hal+json")


def _no_content():
    return (204, [], b"", None)


def _problem(status: int, title: str, detail: str):
    return (status, [], _json_bytes({"title": title, "type": f"https://httpstatus.es/{status}", "status": status,
                                     "detail": detail}), "application/problem+json")


def _validation_problem(path: str, detail: str):
    return (400, [], _json_bytes({
        "title": "Bad Request", "type": "https://httpstatus.es/400", "status": 400,
        "detail": "Request validation failed",
        "validation-errors": [{"request_id": "0", "errors": [{"code": "InvalidType", "path": path,
                                                             "detail": detail}]}],
    }), "application/problem+json")


def _method_not_allowed(method: str, path: str):
    return _problem(405, "Method Not Allowed", f"{method} is not supported on {path}")


def _forbidden_users():
    return _problem(403, "Forbidden", "the token's user is not an account administrator")


# --------------------------------------------------------------------------------------------------------------
# Segment

SEGMENT_SINGLE = ("identify", "track", "group", "page", "screen", "alias")


class SegmentFake(_Fake):
    """Segment's HTTP API: ``/v1/batch`` and the single-message endpoints; answers 200 ``{"success":true}``."""

    name = "segment"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.requests = 0
            self.by_path: dict[str, int] = {}
            self.by_type: dict[str, int] = {}
            self.message_ids: list[str | None] = []
            self.gzip_requests = 0
            self.bad_requests = 0
            self.unauthenticated = 0
            self.body_bytes = 0
            self.max_messages_in_request = 0
            self.arrivals: list[float] = []

    def stats(self) -> dict:
        with self.lock:
            ids = [i for i in self.message_ids if i is not None]
            return {
                "requests": self.requests,
                "messages": len(self.message_ids),
                "distinct_message_ids": len(set(ids)),
                "messages_without_id": len(self.message_ids) - len(ids),
                "by_path": dict(sorted(self.by_path.items())),
                "by_type": dict(sorted(self.by_type.items())),
                "gzip_requests": self.gzip_requests,
                "bad_requests": self.bad_requests,
                "unauthenticated_requests": self.unauthenticated,
                "body_bytes": self.body_bytes,
                "max_messages_in_one_request": self.max_messages_in_request,
                "busiest_window": busiest_window(sorted(self.arrivals)),
                "message_ids": list(self.message_ids),
            }

    def handle(self, handler: _Handler, body: bytes):
        path = handler.path.split("?", 1)[0]
        with self.lock:
            self.requests += 1
            self.by_path[path] = self.by_path.get(path, 0) + 1
            self.body_bytes += len(body)
            self.arrivals.append(handler.arrival)
            if not (handler.headers.get("Authorization") or "").startswith("Basic "):
                self.unauthenticated += 1
        kind = path[len("/v1/"):] if path.startswith("/v1/") else None
        if handler.command != "POST" or kind not in ("batch", *SEGMENT_SINGLE):
            return self._bad(404, f"no route for {handler.command} {path}")
        encoding = (handler.headers.get("Content-Encoding") or "").strip().lower()
        try:
            if encoding == "gzip":
                with self.lock:
                    self.gzip_requests += 1
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            payload = json.loads(body)
        except (OSError, EOFError, zlib.error, ValueError):
            return self._bad(400, "the body is not valid (gzip) JSON")
        if kind == "batch":
            messages = payload.get("batch") if isinstance(payload, dict) else None
            if not isinstance(messages, list):
                return self._bad(400, "the body has no batch array")
        else:
            if not isinstance(payload, dict):
                return self._bad(400, "the body is not a JSON object")
            messages = [dict(payload, type=payload.get("type", kind))]
        with self.lock:
            self.max_messages_in_request = max(self.max_messages_in_request, len(messages))
            for message in messages:
                message = message if isinstance(message, dict) else {}
                message_type = str(message.get("type", "?"))
                self.by_type[message_type] = self.by_type.get(message_type, 0) + 1
                message_id = message.get("messageId")
                self.message_ids.append(message_id if isinstance(message_id, str) else None)
        return (200, [], b'{"success":true}', "application/json")

    def _bad(self, status: int, detail: str):
        with self.lock:
            self.bad_requests += 1
        return (status, [], _json_bytes({"success": False, "message": detail}), "application/json")


# --------------------------------------------------------------------------------------------------------------
# CLI


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--kommo-port", type=int, default=0)
    parser.add_argument("--segment-port", type=int, default=0)
    parser.add_argument("--kommo-port-file", help="write the Kommo fake's port here once listening")
    parser.add_argument("--segment-port-file", help="write the Segment fake's port here once listening")
    parser.add_argument("--stats-file", help="write both fakes' stats (JSON) here on exit and on GET /__stats")
    parser.add_argument("--fixtures", default=str(DEFAULT_FIXTURES), help="the Kommo fixture directory")
    parser.add_argument("--limit", type=int, default=KOMMO_LIMIT, help="Kommo requests allowed per window")
    parser.add_argument("--window", type=float, default=KOMMO_WINDOW, help="the sliding window, seconds")
    parser.add_argument("--verbose", action="store_true", help="log every request on stderr")
    args = parser.parse_args(argv)

    kommo = KommoFake(args.fixtures, limit=args.limit, window=args.window, port=args.kommo_port,
                      verbose=args.verbose)
    segment = SegmentFake(port=args.segment_port, verbose=args.verbose)

    def all_stats():
        combined = {"kommo": kommo.stats(), "segment": segment.stats()}
        if args.stats_file:
            _write_atomic(args.stats_file, json.dumps(combined, indent=2))
        return combined

    kommo.all_stats = segment.all_stats = all_stats
    kommo.start()
    segment.start()
    if args.kommo_port_file:
        _write_atomic(args.kommo_port_file, f"{kommo.port}\n")
    if args.segment_port_file:
        _write_atomic(args.segment_port_file, f"{segment.port}\n")
    print(f"kommo {kommo.base_url}\nsegment {segment.base_url}", flush=True)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    all_stats()
    kommo.stop()
    segment.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
