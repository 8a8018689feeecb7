"""The Dead letters page: each of the stack's dead-letter queues with its depth, its messages
decoded and masked, why each failed where the message says so, and redrive (all of a queue,
or one message) behind a confirmation.

Everything goes through ops.dlq, as `opayo-fba dlq` does. Redrive is a POST (so the guard's
CSRF and Origin checks stand before it) that moves nothing unless it carries `confirm=yes`,
which only the confirmation page's button sends; without it, the POST shows that page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from opayo_fba.console.masking import mask_body, mask_text
from opayo_fba.ops.dlq import DeadLetter, DeadLetterQueue

if TYPE_CHECKING:
    from opayo_fba.console.app import Console

PEEK_LIMIT = 25
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}(\.fifo)?$")
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9-]{1,100}$")


@dataclass(frozen=True)
class LetterView:
    """A dead letter as the page shows it: its body masked, its times as datetimes."""

    message_id: str
    receive_count: int
    sent_at: datetime
    first_received_at: datetime | None
    group_id: str | None
    body: str
    is_json: bool
    reason: str | None


def _moment(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else None


def letter_view(letter: DeadLetter) -> LetterView:
    body, is_json = mask_body(letter.body)
    sent = _moment(letter.sent_timestamp_ms) or datetime.fromtimestamp(0, UTC)
    reason = letter.failure_reason()
    return LetterView(
        message_id=letter.message_id,
        receive_count=letter.receive_count,
        sent_at=sent,
        first_received_at=_moment(letter.first_received_ms),
        group_id=letter.group_id,
        body=body,
        is_json=is_json,
        reason=mask_body(reason)[0] if reason else None,
    )


def source_names(queue: DeadLetterQueue) -> list[str]:
    return [url.rsplit("/", 1)[-1] for url in queue.source_queues]


def routes(console: Console) -> list[Route]:
    def find(request: Request) -> DeadLetterQueue | Response:
        name = request.path_params["queue"]
        if not _QUEUE_NAME.match(name):
            reason = "A queue name is 1 to 80 letters, digits, - and _ (and .fifo)."
            return console.problem(request, reason, 400)
        queue = console.backend.dead_letter_queue(name)
        if queue is not None:
            return queue
        return console.problem(request, f"{name} is not a dead-letter queue of this stack.", 404)

    def message_id_of(request: Request, value: str | None) -> str | Response | None:
        if not value:
            return None
        if not _MESSAGE_ID.match(value):
            return console.problem(request, "A message id is letters, digits and -.", 400)
        return value

    async def queues(request: Request) -> Response:
        context = {"queues": console.backend.dead_letter_queues(), "source_names": source_names}
        return console.render(request, "dead_letters.html", context)

    async def queue_page(request: Request) -> Response:
        queue = find(request)
        if isinstance(queue, Response):
            return queue
        letters = [letter_view(x) for x in console.backend.dead_letters(queue, PEEK_LIMIT)]
        context = {
            "queue": queue,
            "sources": source_names(queue),
            "letters": letters,
            "limit": PEEK_LIMIT,
        }
        return console.render(request, "dead_letter_queue.html", context)

    def confirmation(request: Request, queue: DeadLetterQueue, message_id: str | None) -> Response:
        letter = None
        if message_id is not None:
            # Its body, if it is among those the queue's page shows; if not, the POST finds it.
            letters = console.backend.dead_letters(queue, PEEK_LIMIT)
            letter = next((letter_view(x) for x in letters if x.message_id == message_id), None)
        context: dict[str, Any] = {
            "queue": queue,
            "sources": source_names(queue),
            "message_id": message_id,
            "letter": letter,
        }
        return console.render(request, "redrive_confirm.html", context)

    async def confirm(request: Request) -> Response:
        queue = find(request)
        if isinstance(queue, Response):
            return queue
        message_id = message_id_of(request, request.query_params.get("message"))
        if isinstance(message_id, Response):
            return message_id
        return confirmation(request, queue, message_id)

    async def redrive(request: Request) -> Response:
        queue = find(request)
        if isinstance(queue, Response):
            return queue
        # A urlencoded form, parsed as the guard parses it (Starlette's form() needs
        # python-multipart, which the console does not ship).
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        message_id = message_id_of(request, form.get("message_id"))
        if isinstance(message_id, Response):
            return message_id
        if form.get("confirm") != "yes":
            return confirmation(request, queue, message_id)
        try:
            result = console.backend.redrive(queue, message_id)
        except LookupError:
            return console.problem(request, f"{queue.name} holds no message {message_id} now.", 404)
        except ValueError as error:
            return console.problem(request, f"Nothing was moved: {error}.", 409)
        if result.failed:  # what a function said can quote the order's people
            result = replace(result, failed=mask_text(result.failed))
        after = console.backend.dead_letter_queue(queue.name) or queue
        context = {
            "queue": after,
            "sources": source_names(queue),
            "result": result,
            "message_id": message_id,
        }
        return console.render(request, "redrive_done.html", context)

    return [
        Route("/dead-letters", queues),
        Route("/dead-letters/{queue}", queue_page),
        Route("/dead-letters/{queue}/redrive", confirm, methods=["GET"]),
        Route("/dead-letters/{queue}/redrive", redrive, methods=["POST"]),
    ]
