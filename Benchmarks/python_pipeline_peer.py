#!/usr/bin/env python3
"""The brief's whole path in Python, webhook body to Segment batch, with no network: events per second on one core.

For each of N webhook bodies (the sample webhooks of ``Sources/KommoSegmentTesting/Resources/kommo/``, cycled in
sorted file-name order, read into memory once before the clock starts):

1. the raw ``application/x-www-form-urlencoded`` bytes are decoded and parsed with ``urllib.parse.parse_qsl``, and the
   PHP-style bracketed keys (``leads[status][0][id]``) are nested into plain dicts;
2. every lead item under ``leads[status]``, ``leads[add]``, ``leads[update]`` and ``leads[responsible]`` (an "event")
   is mapped in the brief's style (``on_deal_won`` / ``on_stage_change`` / ``on_deal_lost``, ``get_custom_field``,
   ``get_contact_email``, plain dicts), the lead, its main contact, its company, the owner, the stage names and the
   account currency being looked up in dicts loaded once from the Kommo API fixtures (``kommo-api/``) instead of
   ``GET /api/v4/...``;
3. the resulting calls go through Segment's official Python library, ``client.identify`` / ``track`` / ``group``
   (asynchronous mode, consumer thread batching), with the network cut off at the library's ``post`` exactly as in
   ``python_peer_benchmark.py`` (same sink, same backpressure, imported from there);
4. ``client.flush()``.

The clock runs from just before the first body is parsed to ``flush()`` returning.

Mapping, per event (``status_id`` 142 is won and 143 lost, in any pipeline, as in Kommo):

* ``leads[status]``, or ``leads[update]`` carrying an ``old_status_id`` different from ``status_id``:
  won -> identify + track "Deal Won" + group (when the lead or its contact has a company);
  lost -> identify (lost traits) + track "Deal Lost"; any other stage -> track "Stage Changed".
  The same change reported twice in one webhook (Kommo sends ``update`` and ``status`` for one move) is sent once.
* ``leads[responsible]``, or ``leads[update]`` with a different ``old_responsible_user_id``: track "Owner Changed".
* ``leads[add]``: track "Deal Created".
* ``leads[update]`` changing neither stage nor owner: nothing.
* A lead without a fixture, without a contact, or whose contact has no email: nothing (the brief keys everything
  on the email, and the library refuses a call without a user id).

Webhooks with no such lead item (contact and company updates, notes, deletes) are left out of the cycle, since the
brief's design ignores them; ``--include-ignored`` keeps them in (they are then parsed and yield no event).

Output: one line on stdout, ``python-pipeline-peer: webhooks=W events=E messages=M seconds=S events_per_second=R``
(plus ``messages_per_second`` and ``dropped``), and the same figures with the library and Python versions and run
details as JSON at ``--json-out``. Progress and notes go to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qsl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_venv import REPO_ROOT, ensure_segment, installed_library_version  # noqa: E402

ensure_segment()

from segment.analytics import Client  # noqa: E402

from python_peer_benchmark import (  # noqa: E402
    add_library_options, install_sink, library_config, make_client, wait_for_room,
)

RESOURCES = REPO_ROOT / "Sources" / "KommoSegmentTesting" / "Resources"
WEBHOOK_DIR = RESOURCES / "kommo"
FIXTURE_DIR = RESOURCES / "kommo-api"

#: About 6-8 s of wall time on one core of the 2-core machine of the README figures (26,000 events, 26,000 messages:
#: a multiple of upload_size, so no partial last batch waits upload_interval).
DEFAULT_COUNT = 20_000

LEAD_SECTIONS = ("status", "add", "update", "responsible")
WON_STATUS_ID = 142
LOST_STATUS_ID = 143

# The brief's field constants, for the fixture account (see kommo-api/leads/*.json).
PLAN_FIELD_ID = 1100030         # "Plan" (select)
SOURCE_FIELD_ID = 1100010       # "utm_source" (tracking_data)
COMPANY_FIELD_ID = 1100031      # a text "Company" field; no fixture lead has it, the linked company is used first
LOSS_REASON_FIELD_ID = 1100032  # a text "Loss reason" field; the embedded loss reason is used first


# --------------------------------------------------------------------------------------------------------------------
# Kommo context: the API answers, loaded once (what get_kommo_lead / get_kommo_contact would have fetched)
# --------------------------------------------------------------------------------------------------------------------

def _load_dir(name: str) -> dict[int, dict]:
    return {int(p.stem): json.loads(p.read_text("utf-8")) for p in sorted((FIXTURE_DIR / name).glob("*.json"))}


LEADS = _load_dir("leads")
CONTACTS = _load_dir("contacts")
COMPANIES = _load_dir("companies")
USERS = _load_dir("users")
ACCOUNT = json.loads((FIXTURE_DIR / "account.json").read_text("utf-8"))
CURRENCY = ACCOUNT.get("currency")
PIPELINE_NAMES: dict[int, str] = {}
STAGE_NAMES: dict[tuple[int, int], str] = {}
for _pipeline in json.loads((FIXTURE_DIR / "pipelines.json").read_text("utf-8"))["_embedded"]["pipelines"]:
    PIPELINE_NAMES[_pipeline["id"]] = _pipeline["name"]
    for _status in _pipeline["_embedded"]["statuses"]:
        STAGE_NAMES[(_pipeline["id"], _status["id"])] = _status["name"]


def get_kommo_lead(lead_id: int) -> dict | None:
    return LEADS.get(lead_id)


def get_kommo_contact(lead: dict) -> dict | None:
    """The lead's main contact (``is_main``), else its first."""
    linked = (lead.get("_embedded") or {}).get("contacts") or []
    if not linked:
        return None
    main = next((c for c in linked if c.get("is_main")), linked[0])
    return CONTACTS.get(main["id"])


def get_kommo_company(lead: dict, contact: dict | None) -> dict | None:
    """The lead's company, else the contact's."""
    for entity in (lead, contact or {}):
        linked = (entity.get("_embedded") or {}).get("companies") or []
        if linked:
            return COMPANIES.get(linked[0]["id"])
    return None


def get_custom_field(entity: dict, field_id: int):
    for field in entity.get("custom_fields_values") or ():
        if field["field_id"] == field_id:
            values = field.get("values") or ()
            return values[0].get("value") if values else None
    return None


def get_contact_email(contact: dict | None) -> str | None:
    """The EMAIL field's first WORK value, else its first value, trimmed and lowercased."""
    if not contact:
        return None
    for field in contact.get("custom_fields_values") or ():
        if field.get("field_code") == "EMAIL":
            values = field.get("values") or ()
            if not values:
                return None
            chosen = next((v for v in values if v.get("enum_code") == "WORK"), values[0])
            email = str(chosen.get("value") or "").strip().lower()
            return email or None
    return None


def get_user_email(user_id) -> str | None:
    email = (USERS.get(int(user_id)) or {}).get("email") if user_id not in (None, "") else None
    return email.lower() if email else None


def get_manager_email(lead: dict) -> str | None:
    return get_user_email(lead.get("responsible_user_id"))


def get_loss_reason(lead: dict) -> str:
    embedded = (lead.get("_embedded") or {}).get("loss_reason") or []
    if embedded:
        return embedded[0]["name"]
    return get_custom_field(lead, LOSS_REASON_FIELD_ID) or "unknown"


def stage_name(pipeline_id: int, status_id: int) -> str | None:
    return STAGE_NAMES.get((pipeline_id, status_id))


# --------------------------------------------------------------------------------------------------------------------
# The webhook body
# --------------------------------------------------------------------------------------------------------------------

def parse_webhook(body: bytes) -> dict:
    """``a[b][0][c]=v&...`` into ``{"a": {"b": {"0": {"c": "v"}}}}`` (every value a string, as on the wire)."""
    root: dict = {}
    for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
        bracket = key.find("[")
        if bracket < 0:
            root[key] = value
            continue
        parts = [key[:bracket], *key[bracket + 1:-1].split("][")]
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return root


def lead_items(webhook: dict):
    """``(section, item)`` for every lead item the brief handles, sections in a fixed order, items by index."""
    leads = webhook.get("leads")
    if not isinstance(leads, dict):
        return
    for section in LEAD_SECTIONS:
        items = leads.get(section)
        if isinstance(items, dict):
            for index in sorted(items, key=lambda k: int(k) if k.isdigit() else 0):
                item = items[index]
                if isinstance(item, dict) and "id" in item:
                    yield section, item


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------------------------------------
# The brief's handlers, sending through the library
# --------------------------------------------------------------------------------------------------------------------

class Pipeline:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.queue = client.queue
        self.calls = 0
        self.rejected = 0
        self.backpressure_waits = 0
        self.by_call = {"identify": 0, "track": 0, "group": 0}
        self.by_kind: dict[str, int] = {}
        self.skipped: dict[str, int] = {}

    # The brief's segment_identify / segment_track / segment_group, with the library instead of requests.post.
    def _send(self, method, name: str, **kwargs) -> None:
        if wait_for_room(self.queue):
            self.backpressure_waits += 1
        ok, _ = method(timestamp=datetime.now(timezone.utc), message_id=str(uuid.uuid4()), **kwargs)
        self.calls += 1
        self.by_call[name] += 1
        if not ok:
            self.rejected += 1

    def segment_identify(self, user_id: str, traits: dict) -> None:
        self._send(self.client.identify, "identify", user_id=user_id, traits=traits)

    def segment_track(self, user_id: str, event: str, properties: dict) -> None:
        self._send(self.client.track, "track", user_id=user_id, event=event, properties=properties)

    def segment_group(self, user_id: str, group_id: str, traits: dict) -> None:
        self._send(self.client.group, "group", user_id=user_id, group_id=group_id, traits=traits)

    def _skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def on_deal_won(self, lead: dict, contact: dict, email: str) -> None:
        name = contact["name"]
        plan = get_custom_field(lead, PLAN_FIELD_ID) or "starter"
        amount = lead.get("price", 0)
        company_entity = get_kommo_company(lead, contact)
        company = company_entity["name"] if company_entity else (get_custom_field(lead, COMPANY_FIELD_ID) or "")
        source = get_custom_field(lead, SOURCE_FIELD_ID)
        self.segment_identify(email, {
            "email": email,
            "name": name,
            "plan": plan,
            "company": company,
            "source": source,
            "kommo_deal_id": lead["id"],
            "customer": True,
            "mrr": amount,
        })
        self.segment_track(email, "Deal Won", {
            "deal_id": lead["id"],
            "plan": plan,
            "amount": amount,
            "currency": CURRENCY,
            "pipeline": lead.get("pipeline_id"),
            "owner": get_manager_email(lead),
        })
        if company:
            group_id = str(company_entity["id"]) if company_entity else company
            self.segment_group(email, group_id, {
                "name": company,
                "plan": plan,
                "mrr": amount,
            })

    def on_stage_change(self, lead: dict, email: str, old_stage: str | None, new_stage: str | None) -> None:
        self.segment_track(email, "Stage Changed", {
            "deal_id": lead["id"],
            "from_stage": old_stage,
            "to_stage": new_stage,
        })

    def on_deal_lost(self, lead: dict, email: str) -> None:
        loss_reason = get_loss_reason(lead)
        self.segment_identify(email, {
            "plan": None,
            "customer": False,
            "churned": True,
        })
        self.segment_track(email, "Deal Lost", {
            "deal_id": lead["id"],
            "loss_reason": loss_reason,
            "amount": lead.get("price", 0),
        })

    def on_owner_change(self, lead: dict, email: str, old_owner, new_owner) -> None:
        self.segment_track(email, "Owner Changed", {
            "deal_id": lead["id"],
            "from_owner": get_user_email(old_owner),
            "to_owner": get_user_email(new_owner),
        })

    def on_deal_created(self, lead: dict, email: str) -> None:
        self.segment_track(email, "Deal Created", {
            "deal_id": lead["id"],
            "pipeline": PIPELINE_NAMES.get(lead.get("pipeline_id")),
            "stage": stage_name(lead.get("pipeline_id"), lead.get("status_id")),
            "amount": lead.get("price", 0),
        })

    def handle_webhook(self, body: bytes) -> int:
        """Parse one body and handle its lead items; return the number of items (events) processed."""
        webhook = parse_webhook(body)
        events = 0
        seen_moves: set[tuple] = set()
        for section, item in lead_items(webhook):
            events += 1
            status_id = _int(item.get("status_id"))
            old_status_id = _int(item.get("old_status_id"))
            stage_move = section == "status" or (
                section == "update" and old_status_id is not None and old_status_id != status_id)
            old_owner = item.get("old_responsible_user_id")
            owner_move = section == "responsible" or (
                section == "update" and old_owner not in (None, "") and old_owner != item.get("responsible_user_id"))
            if not (stage_move or owner_move or section == "add"):
                self._skip("noChange")
                continue
            lead = get_kommo_lead(_int(item["id"]))
            if lead is None:
                self._skip("noLead")
                continue
            contact = get_kommo_contact(lead)
            if contact is None:
                self._skip("noContact")
                continue
            email = get_contact_email(contact)
            if email is None:
                self._skip("noEmail")
                continue

            if stage_move:
                move = (lead["id"], old_status_id, status_id)
                if move in seen_moves:
                    self._skip("duplicateInWebhook")
                else:
                    seen_moves.add(move)
                    if status_id == WON_STATUS_ID:
                        self._kind("dealWon")
                        self.on_deal_won(lead, contact, email)
                    elif status_id == LOST_STATUS_ID:
                        self._kind("dealLost")
                        self.on_deal_lost(lead, email)
                    else:
                        self._kind("stageChanged")
                        pipeline_id = _int(item.get("pipeline_id")) or lead.get("pipeline_id")
                        old_pipeline_id = _int(item.get("old_pipeline_id")) or pipeline_id
                        self.on_stage_change(lead, email, stage_name(old_pipeline_id, old_status_id),
                                             stage_name(pipeline_id, status_id))
            if owner_move:
                self._kind("ownerChanged")
                self.on_owner_change(lead, email, old_owner, item.get("responsible_user_id"))
            if section == "add":
                self._kind("dealCreated")
                self.on_deal_created(lead, email)
        return events

    def _kind(self, kind: str) -> None:
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1


# --------------------------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------------------------

def load_webhooks(include_ignored: bool) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The sample bodies in sorted file-name order; those without a lead item the brief handles are left out
    unless ``include_ignored``. Returns ``(cycle, left_out_names)``."""
    cycle, left_out = [], []
    for path in sorted(WEBHOOK_DIR.glob("webhook-*.txt")):
        body = path.read_bytes()
        if include_ignored or any(True for _ in lead_items(parse_webhook(body))):
            cycle.append((path.name, body))
        else:
            left_out.append(path.name)
    return cycle, left_out


def cycle_profile(cycle: list[tuple[str, bytes]]) -> list[dict]:
    """Events and messages of each webhook of the cycle, from a library client that sends nothing (send=False)."""
    rows = []
    for name, body in cycle:
        client = Client(write_key="bench", send=False)
        pipeline = Pipeline(client)
        events = pipeline.handle_webhook(body)
        rows.append({"file": name, "bytes": len(body), "events": events, "messages": pipeline.calls,
                     "calls": {k: v for k, v in pipeline.by_call.items() if v},
                     "kinds": pipeline.by_kind, "skipped": pipeline.skipped})
        client.join()
    return rows


def time_parse(cycle: list[tuple[str, bytes]], count: int) -> float:
    """Seconds for a separate pass that only parses the same ``count`` bodies (reported, never subtracted)."""
    bodies = [body for _, body in cycle]
    n = len(bodies)
    start = time.perf_counter()
    for i in range(count):
        parse_webhook(bodies[i % n])
    return time.perf_counter() - start


def run(args: argparse.Namespace, cycle: list[tuple[str, bytes]]) -> dict:
    sink = install_sink(args.sink)
    errors: list[str] = []
    client = make_client(args, errors)
    pipeline = Pipeline(client)
    handle = pipeline.handle_webhook
    bodies = [body for _, body in cycle]
    n = len(bodies)
    count = args.count
    events = 0

    cpu_start = time.process_time()
    start = time.perf_counter()
    for i in range(count):
        events += handle(bodies[i % n])
    enqueued = time.perf_counter()
    client.flush()
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    client.join()

    messages = pipeline.calls
    return {
        "benchmark": "python-pipeline-peer",
        "webhooks": count,
        "events": events,
        "messages": messages,
        "seconds": round(seconds, 3),
        "events_per_second": round(events / seconds, 1) if seconds > 0 else None,
        "webhooks_per_second": round(count / seconds, 1) if seconds > 0 else None,
        "messages_per_second": round(messages / seconds, 1) if seconds > 0 else None,
        "dropped": messages - sink.messages,
        "messages_delivered": sink.messages,
        "enqueue_rejected": pipeline.rejected,
        "backpressure_waits": pipeline.backpressure_waits,
        "consumer_errors": errors[:10],
        "consumer_error_count": len(errors),
        "requests": sink.requests,
        "bytes_per_request": round(sink.body_bytes / sink.requests) if sink.requests else 0,
        "enqueue_seconds": round(enqueued - start, 3),
        "flush_seconds": round(seconds - (enqueued - start), 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "parse_only_seconds": round(args.parse_seconds, 3) if args.parse_seconds is not None else None,
        "calls": pipeline.by_call,
        "kinds": pipeline.by_kind,
        "skipped": pipeline.skipped,
        "library": "segment-analytics-python",
        "library_version": installed_library_version(),
        "sink": args.sink,
        "config": {**library_config(args), "include_ignored": args.include_ignored},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT,
                        help=f"webhook bodies to process, cycling over the samples (default {DEFAULT_COUNT})")
    parser.add_argument("--json-out", type=Path, help="also write the result as JSON to this path")
    parser.add_argument("--include-ignored", action="store_true",
                        help="keep the samples without a lead item (contact/company updates, notes, deletes) in the cycle")
    add_library_options(parser)
    parser.add_argument("--time-parse", action="store_true",
                        help="first time a separate pass that only parses the bodies (parse_only_seconds)")
    args = parser.parse_args(argv)
    if args.count <= 0:
        parser.error("--count must be positive")

    cycle, left_out = load_webhooks(args.include_ignored)
    profile = cycle_profile(cycle)
    cycle_events = sum(r["events"] for r in profile)
    cycle_messages = sum(r["messages"] for r in profile)
    print(f"python-pipeline-peer: segment-analytics-python {installed_library_version()}, sink={args.sink}, "
          f"count={args.count}, cycle of {len(cycle)} webhooks = {cycle_events} events, {cycle_messages} messages"
          f"{' (left out: ' + ', '.join(left_out) + ')' if left_out else ''}", file=sys.stderr, flush=True)

    args.parse_seconds = time_parse(cycle, args.count) if args.time_parse else None
    result = run(args, cycle)
    result["cycle"] = {
        "webhooks": len(cycle),
        "events": cycle_events,
        "messages": cycle_messages,
        "events_per_webhook": round(cycle_events / len(cycle), 3),
        "messages_per_webhook": round(cycle_messages / len(cycle), 3),
        "left_out": left_out,
        "files": profile,
    }
    result["machine"] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }
    result["python_version"] = platform.python_version()
    result["date_utc"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    if result["dropped"] or result["enqueue_rejected"] or result["consumer_error_count"]:
        print(f"python-pipeline-peer: WARNING: dropped={result['dropped']} rejected={result['enqueue_rejected']} "
              f"consumer_errors={result['consumer_error_count']} {result['consumer_errors']}", file=sys.stderr)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")

    print(f"python-pipeline-peer: webhooks={result['webhooks']} events={result['events']} "
          f"messages={result['messages']} seconds={result['seconds']:.3f} "
          f"events_per_second={result['events_per_second']:.1f} "
          f"messages_per_second={result['messages_per_second']:.1f} dropped={result['dropped']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
