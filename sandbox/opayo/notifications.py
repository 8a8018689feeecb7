"""Delivering Server-integration notifications, as Opayo does: POST form-urlencoded to the
NotificationURL, retry on the sandbox clock until the reply is `Status=OK`, abort
transactions left unfinished, and (on request) duplicate or reorder deliveries.

Runs in one background thread that looks at the sandbox clock every `dispatcher_poll_seconds`
of real time, so advancing the clock makes due retries happen without anyone sleeping.
"""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from typing import Any

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
        try:
            response = self._client.post(notification["url"], data=notification["fields"])
        except httpx.HTTPError as error:
            attempt.update(ok=False, error=f"{type(error).__name__}: {error}")
            return attempt
        reply = parse_reply(response.text)
        attempt.update(
            httpStatus=response.status_code,
            replyStatus=reply.get("Status"),
            ok=response.status_code == 200 and reply.get("Status") == "OK",
            redirectUrl=reply.get("RedirectURL"),
        )
        return attempt

    # rule: OPAYO-NTF-03
    def _deliver(self, notification: Record) -> None:
        attempt = self._post(notification)
        attempts = [attempt]
        with self._lock:
            duplicate = attempt["ok"] and self._rng.random() < self._faults.duplicate_probability
        if duplicate:
            again = self._post(notification)
            again["duplicate"] = True
            attempts.append(again)
        store = self._context.state.store
        with store.transaction():
            current = store.get(NOTIFICATION, notification["id"]) or notification
            current["attempts"].extend(attempts)
            if attempt["ok"]:
                current.update(
                    delivered=True, deliveredAt=attempt["at"], redirectUrl=attempt["redirectUrl"]
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
            if current["delivered"] or current["gaveUp"]:
                store.delete(PENDING_NOTIFICATION, current["id"])
            else:
                store.put(
                    PENDING_NOTIFICATION,
                    current["id"],
                    {"nextAttemptAt": current["nextAttemptAt"], "sequence": current["sequence"]},
                )
