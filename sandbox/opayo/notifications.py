"""Delivering Server-integration notifications, as Opayo does: POST form-urlencoded to the
NotificationURL, abort transactions left unfinished, and (on request) duplicate or reorder
deliveries.

What the merchant's reply means (docs/reference/opayo.md, "Corrections and
additions"; Sage Pay's txstateid list, Stack Overflow 40176413: "9 Transaction completed but
Vendor systems returned INVALID or ERROR in response to notification POST. Transaction
CANCELLED by the Vendor"):
- HTTP 200 and `Status=OK`: delivered; the transaction completes and may settle;
- HTTP 200 and `Status=INVALID` or `Status=ERROR`: a valid answer. The transaction is
  cancelled (never settles, takes no instruction), the shopper is sent to the reply's
  RedirectURL (the merchant's failure page) and the notification is never sent again;
- no answer, a non-200, or a body that does not start with `Status=` (or names no status
  Opayo knows: our assumption): retried on Opayo's schedule.
The body is form-urlencoded in ISO-8859-1, the gateway's character set (reference, "Smaller
points"), so an accented StatusDetail arrives as `%E9`, not as UTF-8.

Runs in one background thread that looks at the sandbox clock every `dispatcher_poll_seconds`
of real time, so advancing the clock makes due retries happen without anyone sleeping.
"""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from sandbox.opayo.context import SandboxContext
from sandbox.opayo.options import NotificationFaults
from sandbox.opayo.outcomes import ABORTED
from sandbox.opayo.server_completion import complete_registration
from sandbox.opayo.state import (
    NOTIFICATION,
    PENDING_NOTIFICATION,
    PENDING_REGISTRATION,
    Record,
    iso,
    parse_iso,
)

# rule: OPAYO-NTF-02
# Opayo's schedule for unanswered notifications: 5 x 5 min, 15 x 15 min, 13 x 1 h, then daily
# for 29 days. Entry k is the wait after the (k+1)-th failed attempt.
RETRY_SCHEDULE_SECONDS: tuple[int, ...] = (300,) * 5 + (900,) * 15 + (3600,) * 13 + (86400,) * 29
# rule: OPAYO-NTF-05
VALID_REPLIES = ("OK", "INVALID", "ERROR")


# rule: OPAYO-NTF-04
def parse_reply(text: str) -> dict[str, str]:
    """`Status=OK\\r\\nRedirectURL=...` -> {"Status": "OK", "RedirectURL": "..."}."""
    reply: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            reply[name.strip()] = value.strip()
    return reply


class NotificationDispatcher:
    def __init__(self, context: SandboxContext, faults: NotificationFaults) -> None:
        self._context = context
        self._faults = faults
        self._rng = random.Random(faults.seed)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(timeout=context.options.notification_timeout_seconds)

    @property
    def faults(self) -> NotificationFaults:
        return self._faults

    def configure(self, faults: NotificationFaults) -> None:
        with self._lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)

    def ensure_started(self) -> None:
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="opayo-sandbox-notifications", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=10)
        self._client.close()

    def _run(self) -> None:
        while not self._stop.wait(self._context.options.dispatcher_poll_seconds):
            self.tick()

    def tick(self) -> int:
        """One look at the clock: abort stale registrations, send what is due. Returns sends."""
        self._abort_stale_registrations()
        with self._lock:
            faults = self._faults
        if faults.hold:
            return 0
        now = self._context.clock.now()
        store = self._context.state.store
        pending = store.all(PENDING_NOTIFICATION)
        due_ids = [
            f"N{entry['sequence']:06d}"
            for entry in sorted(pending, key=lambda e: e["sequence"], reverse=faults.reorder)
            if parse_iso(entry["nextAttemptAt"]) <= now
        ]
        due = [n for n in (store.get(NOTIFICATION, i) for i in due_ids) if n is not None]
        for notification in due:
            if self._stop.is_set():
                break
            self._deliver(notification)
        return len(due)

    # rule: OPAYO-SRV-05
    def _abort_stale_registrations(self) -> None:
        context = self._context
        limit = timedelta(seconds=context.options.server_abort_after)
        now = context.clock.now()
        store = context.state.store
        with store.transaction():
            for transaction_id in store.keys(PENDING_REGISTRATION):
                entry = store.get(PENDING_REGISTRATION, transaction_id)
                if entry is None or parse_iso(entry["createdAt"]) + limit > now:
                    continue
                record = context.state.transaction(transaction_id)
                if record is None or record["server"]["status"] != "REGISTERED":
                    store.delete(PENDING_REGISTRATION, transaction_id)
                    continue
                record["server"]["timedOut"] = True
                complete_registration(
                    context,
                    record,
                    ABORTED,
                    card=None,
                    expiry_date="",
                    security_code_matched=False,
                )

    def _post(self, notification: Record) -> dict[str, Any]:
        attempt: dict[str, Any] = {"at": iso(self._context.clock.now())}
        # rule: OPAYO-NTF-08
        body = urlencode(notification["fields"], encoding="latin-1", errors="replace")
        try:
            response = self._client.post(
                notification["url"],
                content=body.encode("ascii"),
                # rule: OPAYO-NTF-09
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
        except httpx.HTTPError as error:
            attempt.update(ok=False, answered=False, error=f"{type(error).__name__}: {error}")
            return attempt
        text = response.text
        reply = parse_reply(text)
        # rule: OPAYO-NTF-03
        answered = (
            response.status_code == 200
            and text.startswith("Status=")
            and reply.get("Status") in VALID_REPLIES
        )
        attempt.update(
            httpStatus=response.status_code,
            replyStatus=reply.get("Status"),
            answered=answered,
            ok=answered and reply.get("Status") == "OK",
            redirectUrl=reply.get("RedirectURL"),
        )
        return attempt

    # rule: OPAYO-NTF-06
    def _deliver(self, notification: Record) -> None:
        attempt = self._post(notification)
        attempts = [attempt]
        store = self._context.state.store
        if attempt["answered"]:
            # Opayo acts on the answer at once (the transaction completes or is cancelled),
            # before any duplicate goes out.
            with store.transaction():
                self._record_reply(notification, attempt)
        with self._lock:
            duplicate = attempt["ok"] and self._rng.random() < self._faults.duplicate_probability
        if duplicate:
            again = self._post(notification)
            again["duplicate"] = True
            attempts.append(again)
        with store.transaction():
            current = store.get(NOTIFICATION, notification["id"]) or notification
            current["attempts"].extend(attempts)
            if attempt["ok"]:
                current.update(
                    delivered=True, deliveredAt=attempt["at"], redirectUrl=attempt["redirectUrl"]
                )
            elif attempt["answered"]:
                # INVALID or ERROR: a valid answer that cancels the transaction; no retry.
                current.update(
                    cancelledByVendor=True,
                    redirectUrl=attempt["redirectUrl"],
                    shopperSentTo=attempt["redirectUrl"],
                )
            else:
                failures = sum(1 for a in current["attempts"] if not a.get("duplicate"))
                if failures > len(RETRY_SCHEDULE_SECONDS):
                    current["gaveUp"] = True
                else:
                    wait = RETRY_SCHEDULE_SECONDS[failures - 1]
                    wait_scaled = wait * self._context.options.notification_retry_scale
                    current["nextAttemptAt"] = iso(
                        self._context.clock.now() + timedelta(seconds=wait_scaled)
                    )
            store.put(NOTIFICATION, current["id"], current)
            if current["delivered"] or current["gaveUp"] or current.get("cancelledByVendor"):
                store.delete(PENDING_NOTIFICATION, current["id"])
            else:
                store.put(
                    PENDING_NOTIFICATION,
                    current["id"],
                    {"nextAttemptAt": current["nextAttemptAt"], "sequence": current["sequence"]},
                )

    def _record_reply(self, notification: Record, attempt: dict[str, Any]) -> None:
        """The merchant's first valid answer decides the transaction (the caller holds the lock)."""
        record = self._context.state.transaction(notification["transactionId"])
        if record is None or record["server"].get("vendorReply") is not None:
            return
        record["server"]["vendorReply"] = attempt["replyStatus"]
        # rule: OPAYO-NTF-07
        if attempt["replyStatus"] != "OK":
            record["server"]["vendorCancelled"] = True
            record["settleableAt"] = None
        self._context.state.save_transaction(record)
