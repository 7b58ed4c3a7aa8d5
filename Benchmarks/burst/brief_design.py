#!/usr/bin/env python3
"""The brief's design, as the brief writes it (``shared/brief/original-brief.txt``), run over webhook files.

For each webhook file, in order, one at a time, one request at a time:

1. parse the body with ``urllib.parse.parse_qs``;
2. for each lead item (``leads[status]``, ``leads[add]``, ``leads[update]``, ``leads[responsible]``), do the
   brief's "Architecture": ``GET /api/v4/leads/{id}?with=contacts`` and the lead's contact
   (``GET /api/v4/contacts/{id}``, the main contact, else the first) from Kommo, then one Segment HTTP call per
   message, through the brief's ``segment_identify`` / ``segment_track`` / ``segment_group`` (``POST /v1/identify``,
   ``/v1/track``, ``/v1/group``; Basic auth with the write key; a fresh ``uuid4`` ``messageId`` and "now" as
   ``timestamp`` in every call):

   - a stage change to 142 (won) → ``on_deal_won(lead, contact)``: identify + track "Deal Won" (+ group when the
     company custom field is set; no fixture lead has one, so no group is sent with the defaults);
   - a stage change to 143 (lost) → ``on_deal_lost(lead, contact)``: identify + track "Deal Lost";
   - any other stage change → ``on_stage_change(lead_id, old, new)``, which fetches the lead and the contact itself,
     as the brief's code does: track "Stage Changed";
   - an owner change (``leads[responsible]``) → track "Owner Changed" (the brief's "Owner change → track event
     owner_changed"; it has no code for it, so this is the same shape as its other tracks);
   - ``leads[add]`` and an update without a stage change → the fetch only: the brief syncs nothing for them.

   A stage change is a ``leads[status]`` item, or a ``leads[update]`` item whose ``old_status_id`` differs from its
   ``status_id`` (the brief does no deduplication: Kommo's update + status pair of one change is sent twice).
   An item is skipped (after its fetch) when the lead answers 204, has no contact, or the contact has no e-mail
   (the brief would send ``userId: null``).

With ``--notes``, the brief's optional step 4 too: after an item whose track was sent, a Kommo note "Segment: event
{event} sent" on the lead (``POST /api/v4/leads/notes``, throttled like the reads).

The brief uses ``requests`` without a session, so every call is its own connection; here ``urllib.request`` does the
same. The only addition is a throttle on Kommo calls "so that it survives" Kommo's 7/s limit: at least 1/6.5 s
between the starts of two Kommo requests (``--kommo-rate``). No retry: a Kommo or Segment error (429 included)
fails the item, which is counted and reported on stderr.

    python3 brief_design.py --kommo-base-url http://127.0.0.1:PORT --segment-endpoint http://127.0.0.1:PORT2 F...

Prints one summary line (``brief-design: files=… kommo_requests=… seconds=…``); ``--json-out`` writes the same
figures. Exit status 0 when nothing failed, 1 otherwise. Stdlib only.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qs

#: The brief leaves these undefined; the ids are those of the fixtures (``kommo-api/leads/*.json``).
PLAN_FIELD_ID = 1100030          # "Plan" (lead 24000019)
COMPANY_FIELD_ID = None          # the brief reads the company from a lead custom field; no fixture lead has one
LOSS_REASON_FIELD_ID = None      # likewise a custom field in the brief; the fixtures use loss_reason_id instead
#: ``get_manager_email`` is undefined in the brief; a static map (no Kommo request), from ``kommo-api/users``.
MANAGER_EMAILS = {9000001: "maria.lopez@example.com", 9000002: "daniel.kim@example.com"}

WON_STATUS = 142
LOST_STATUS = 143


class Counters:
    def __init__(self):
        self.files = 0
        self.lead_items = 0
        self.kommo_requests = 0
        self.kommo_429 = 0
        self.kommo_errors = 0
        self.segment_requests = 0
        self.segment_errors = 0
        self.messages = 0
        self.skipped = 0
        self.notes = 0
        self.failed = 0
        self.by_event: dict[str, int] = {}


class ItemFailed(Exception):
    pass


class BriefDesign:
    def __init__(self, kommo_base_url: str, kommo_token: str, segment_endpoint: str, write_key: str,
                 kommo_rate: float, timeout: float = 30.0, notes: bool = False):
        self.kommo_base_url = kommo_base_url.rstrip("/")
        self.kommo_token = kommo_token
        # SEGMENT_BASE_URL = "https://api.segment.io/v1" in the brief; the endpoint is an origin, as for the CLI.
        self.segment_base_url = segment_endpoint.rstrip("/") + "/v1"
        self.segment_auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
        self.min_spacing = 1.0 / kommo_rate if kommo_rate > 0 else 0.0
        self.last_kommo_start: float | None = None
        self.timeout = timeout
        self.notes = notes
        self.last_event: str | None = None
        self.counters = Counters()

    # -- Kommo (the brief's get_kommo_lead / get_kommo_contact, which it leaves undefined)

    def _kommo_get(self, path: str):
        return self._kommo_request("GET", path)

    def _kommo_request(self, method: str, path: str, body=None):
        if self.last_kommo_start is not None and self.min_spacing:
            wait = self.last_kommo_start + self.min_spacing - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self.last_kommo_start = time.monotonic()
        self.counters.kommo_requests += 1
        headers = {"Authorization": f"Bearer {self.kommo_token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.kommo_base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = response.read()
                if response.status == 204 or not data:
                    return None
                return json.loads(data)
        except urllib.error.HTTPError as error:
            error.read()
            if error.code == 429:
                self.counters.kommo_429 += 1
            self.counters.kommo_errors += 1
            raise ItemFailed(f"Kommo {method} {path}: HTTP {error.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            self.counters.kommo_errors += 1
            raise ItemFailed(f"Kommo {method} {path}: {error}") from None

    def get_kommo_lead(self, lead_id: int):
        return self._kommo_get(f"/api/v4/leads/{lead_id}?with=contacts")

    def add_kommo_note(self, lead_id: int, event: str):
        """The brief's optional step 4, "Kommo: POST /leads/{id}/notes": one note per item, on Kommo's bulk
        endpoint ``POST /api/v4/leads/notes`` (the one the fakes and the CLI's ``--notes`` use)."""
        self.counters.notes += 1
        self._kommo_request("POST", "/api/v4/leads/notes", [
            {"entity_id": lead_id, "note_type": "common", "params": {"text": f"Segment: event {event} sent"}}])

    def get_kommo_contact(self, lead: dict | None):
        contacts = ((lead or {}).get("_embedded") or {}).get("contacts") or []
        if not contacts:
            return None
        main = next((c for c in contacts if c.get("is_main")), contacts[0])
        return self._kommo_get(f"/api/v4/contacts/{int(main['id'])}")

    # -- Segment (the brief's segment_identify / segment_track / segment_group)

    def _segment_post(self, call: str, payload: dict) -> None:
        self.counters.segment_requests += 1
        request = urllib.request.Request(
            f"{self.segment_base_url}/{call}", data=json.dumps(payload).encode("utf-8"), method="POST",
            headers={"Authorization": self.segment_auth, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:  # resp.raise_for_status()
            error.read()
            self.counters.segment_errors += 1
            raise ItemFailed(f"Segment POST /{call}: HTTP {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            self.counters.segment_errors += 1
            raise ItemFailed(f"Segment POST /{call}: {error}") from None
        self.counters.messages += 1
        name = payload.get("event") or call
        if call == "track":
            self.last_event = name
        self.counters.by_event[name] = self.counters.by_event.get(name, 0) + 1

    def segment_identify(self, user_id: str, traits: dict, anonymous_id: str | None = None) -> None:
        payload = {"userId": user_id, "traits": traits, "timestamp": datetime.now(timezone.utc).isoformat(),
                   "messageId": str(uuid.uuid4())}
        if anonymous_id:
            payload["anonymousId"] = anonymous_id
        self._segment_post("identify", payload)

    def segment_track(self, user_id: str, event: str, properties: dict) -> None:
        self._segment_post("track", {"userId": user_id, "event": event, "properties": properties,
                                     "timestamp": datetime.now(timezone.utc).isoformat(),
                                     "messageId": str(uuid.uuid4())})

    def segment_group(self, user_id: str, group_id: str, traits: dict) -> None:
        self._segment_post("group", {"userId": user_id, "groupId": group_id, "traits": traits,
                                     "timestamp": datetime.now(timezone.utc).isoformat(),
                                     "messageId": str(uuid.uuid4())})

    # -- the brief's helpers and handlers

    @staticmethod
    def get_contact_email(contact: dict | None):
        for field in (contact or {}).get("custom_fields_values") or []:
            if field.get("field_code") == "EMAIL" and field.get("values"):
                return field["values"][0].get("value")
        return None

    @staticmethod
    def get_custom_field(lead: dict, field_id):
        if field_id is None:
            return None
        for field in lead.get("custom_fields_values") or []:
            if field.get("field_id") == field_id and field.get("values"):
                return field["values"][0].get("value")
        return None

    @staticmethod
    def get_manager_email(lead: dict):
        return MANAGER_EMAILS.get(lead.get("responsible_user_id"))

    def _usable(self, lead, contact) -> bool:
        if lead is None or contact is None or not self.get_contact_email(contact):
            self.counters.skipped += 1
            return False
        return True

    def on_deal_won(self, lead: dict, contact: dict):
        email = self.get_contact_email(contact)
        name = contact["name"]
        plan = self.get_custom_field(lead, PLAN_FIELD_ID) or "starter"
        amount = lead.get("price", 0)
        company = self.get_custom_field(lead, COMPANY_FIELD_ID) or ""
        self.segment_identify(email, {"email": email, "name": name, "plan": plan, "company": company,
                                      "kommo_deal_id": lead["id"], "customer": True, "mrr": amount})
        self.segment_track(email, "Deal Won", {"deal_id": lead["id"], "plan": plan, "amount": amount,
                                               "currency": "USD", "pipeline": lead.get("pipeline_id"),
                                               "owner": self.get_manager_email(lead)})
        if company:
            self.segment_group(email, company, {"name": company, "plan": plan, "mrr": amount})

    def on_stage_change(self, lead_id: int, old_stage: str, new_stage: str):
        lead = self.get_kommo_lead(lead_id)
        contact = self.get_kommo_contact(lead)
        if not self._usable(lead, contact):
            return
        email = self.get_contact_email(contact)
        self.segment_track(email, "Stage Changed", {"deal_id": lead_id, "from_stage": old_stage,
                                                    "to_stage": new_stage})

    def on_deal_lost(self, lead: dict, contact: dict):
        email = self.get_contact_email(contact)
        loss_reason = self.get_custom_field(lead, LOSS_REASON_FIELD_ID) or "unknown"
        self.segment_identify(email, {"plan": None, "customer": False, "churned": True})
        self.segment_track(email, "Deal Lost", {"deal_id": lead["id"], "loss_reason": loss_reason,
                                                "amount": lead.get("price", 0)})

    def on_owner_change(self, lead: dict, contact: dict, old_owner, new_owner):
        email = self.get_contact_email(contact)
        self.segment_track(email, "Owner Changed", {"deal_id": lead["id"], "from_owner": old_owner,
                                                    "to_owner": new_owner})

    # -- the webhook

    def handle_item(self, action: str, item: dict) -> None:
        lead_id = int(item["id"])
        status = item.get("status_id")
        old_status = item.get("old_status_id")
        stage_change = action == "status" or (action == "update" and old_status not in (None, "", status))
        if stage_change and status not in (str(WON_STATUS), str(LOST_STATUS)):
            self.on_stage_change(lead_id, old_status or "", status or "")
            return
        lead = self.get_kommo_lead(lead_id)
        contact = self.get_kommo_contact(lead)
        if not self._usable(lead, contact):
            return
        if stage_change and status == str(WON_STATUS):
            self.on_deal_won(lead, contact)
        elif stage_change:
            self.on_deal_lost(lead, contact)
        elif action == "responsible":
            self.on_owner_change(lead, contact, item.get("old_responsible_user_id"),
                                 item.get("responsible_user_id"))
        # leads[add], an update without a stage change: fetched, nothing to sync in the brief.

    def handle_file(self, path: str) -> None:
        self.counters.files += 1
        with open(path, encoding="utf-8") as handle:
            form = parse_qs(handle.read(), keep_blank_values=True)
        items: dict[tuple[str, str], dict] = {}
        for key, values in form.items():
            # leads[status][0][id] -> ("status", "0", "id")
            if not key.startswith("leads["):
                continue
            parts = key[len("leads["):].rstrip("]").split("][")
            if len(parts) == 3 and parts[0] in ("status", "add", "update", "responsible"):
                items.setdefault((parts[0], parts[1]), {})[parts[2]] = values[0]
        for (action, _), item in items.items():
            if "id" not in item:
                continue
            self.counters.lead_items += 1
            try:
                self.last_event = None
                self.handle_item(action, item)
                if self.notes and self.last_event:
                    self.add_kommo_note(int(item["id"]), self.last_event)
            except ItemFailed as failure:
                self.counters.failed += 1
                print(f"{path}: leads[{action}] {item['id']} failed: {failure}", file=sys.stderr)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="The brief's design over webhook files (see the docstring).")
    parser.add_argument("--kommo-base-url", required=True)
    parser.add_argument("--kommo-token", default="bench")
    parser.add_argument("--segment-endpoint", required=True, help="an origin; /v1/<call> is appended")
    parser.add_argument("--segment-write-key", default="bench")
    parser.add_argument("--kommo-rate", type=float, default=6.5,
                        help="Kommo requests per second at most (minimum spacing 1/rate; 0: none)")
    parser.add_argument("--notes", action="store_true",
                        help="the brief's optional step 4: a Kommo note on each lead whose event was sent")
    parser.add_argument("--json-out", help="write the figures as JSON here")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)

    design = BriefDesign(args.kommo_base_url, args.kommo_token, args.segment_endpoint, args.segment_write_key,
                         args.kommo_rate, notes=args.notes)
    started = time.perf_counter()
    for path in args.files:
        design.handle_file(path)
    seconds = time.perf_counter() - started
    c = design.counters
    print(f"brief-design: files={c.files} lead_items={c.lead_items} kommo_requests={c.kommo_requests} "
          f"kommo_429={c.kommo_429} segment_requests={c.segment_requests} messages={c.messages} "
          f"notes={c.notes} skipped={c.skipped} failed={c.failed} seconds={seconds:.3f}", flush=True)
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as handle:
            json.dump({"files": c.files, "lead_items": c.lead_items, "kommo_requests": c.kommo_requests,
                       "kommo_429": c.kommo_429, "kommo_errors": c.kommo_errors,
                       "segment_requests": c.segment_requests, "segment_errors": c.segment_errors,
                       "messages": c.messages, "by_event": c.by_event, "notes": c.notes, "skipped": c.skipped, "failed": c.failed,
                       "seconds": round(seconds, 3), "kommo_rate": args.kommo_rate}, handle, indent=2)
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
