"""The Reconciliation page over HTTP (uvicorn in a thread) on moto's S3, DynamoDB and
EventBridge: a run started on uploaded files is the journal job's run (its files in the
archive, the ledger emptied, JournalEntriesReady on the bus), its totals and journal are
shown and downloadable, exceptions carry suggested matches and their decisions are recorded
in the archive; bad files, forged forms and unknown runs change nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from opayo_fba.console.app import create_app
from opayo_fba.console.backend import JournalAccess, StackBackend
from opayo_fba.jobs.archive import ReportArchive
from opayo_fba.ops.journal_runs import RunException, id_likeness, suggest_matches
from opayo_fba.reconcile.config import default_config_path, load_config
from opayo_fba.store.events import EventBridgePublisher
from opayo_fba.store.orders import OrderStore
from opayo_fba.store.report_requests import ReportLedger
from sandbox.common.server import ThreadedServer
from tests.fixtures.tables import create_connector_state_table, create_orders_table
from tests.unit.reconcile.builders import batch_xml, order_fee, settlement_lines, transaction

TOKEN = "t0ken-for-the-tests-only-123456"
STACK = "OpayoFba-dev"
BUCKET = "reports"
BUS = "canonical"
OPERATOR = "arn:aws:iam::123456789012:user/finance"
SETTLEMENT = "".join(
    settlement_lines([order_fee("W-1001", "-2.00"), order_fee("W-1002", "-1.50")], total="-3.50")
)
# W-1002 captured as W-1002X: the captured side and the settled side under two ids.
BATCH = batch_xml([transaction("W-1001", "10.00"), transaction("W-1002X", "7.50")])


@dataclass
class World:
    client: httpx.Client
    s3: Any
    ledger: ReportLedger
    archive: ReportArchive
    events_queue: str
    sqs: Any


def _backend(local: bool) -> tuple[StackBackend, JournalAccess]:
    orders_table = create_orders_table(f"{STACK}-OrdersTable")
    state = create_connector_state_table(f"{STACK}-ConnectorStateTable")
    s3 = boto3.client("s3", "eu-west-2")
    archive = ReportArchive(s3, BUCKET)
    journals = (
        JournalAccess(
            archive,
            OPERATOR,
            ledger=ReportLedger(state),
            events=EventBridgePublisher(BUS, boto3.client("events", "eu-west-2")),
            # No order book: vendorTxCode = merchant-order-id links the two sides, as
            # `opayo-fba reconcile` without --orders (the e2e test runs with the orders).
            orders=None,
            config=load_config(default_config_path()),
        )
        if local
        else JournalAccess(archive, OPERATOR)
    )
    backend = StackBackend(STACK, OrderStore(orders_table), {"uk-main": []}, journals=journals)
    return backend, journals


def _open(backend: StackBackend) -> Iterator[httpx.Client]:
    with (
        ThreadedServer(create_app(backend, TOKEN)) as server,
        httpx.Client(base_url=server.url, follow_redirects=False) as client,
    ):
        assert client.get(f"/?token={TOKEN}").status_code == 303
        yield client


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        s3 = boto3.client("s3", "eu-west-2")
        s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
        )
        events = boto3.client("events", "eu-west-2")
        events.create_event_bus(Name=BUS)
        sqs = boto3.client("sqs", "eu-west-2")
        queue = sqs.create_queue(QueueName="journal-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name="journals",
            EventBusName=BUS,
            EventPattern=json.dumps({"detail-type": ["JournalEntriesReady"]}),
        )
        events.put_targets(Rule="journals", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])
        backend, journals = _backend(local=True)
        assert journals.ledger is not None
        for client in _open(backend):
            yield World(client, s3, journals.ledger, journals.archive, queue, sqs)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert found is not None
    return found.group(1)


def _origin(client: httpx.Client) -> dict[str, str]:
    return {"origin": str(client.base_url).rstrip("/")}


def _keys(s3: Any, prefix: str = "") -> list[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


def _upload(
    client: httpx.Client,
    files: list[tuple[str, tuple[str, bytes, str]]],
    csrf: str | None,
) -> httpx.Response:
    data = {"csrf_token": csrf} if csrf is not None else {}
    return client.post("/reconciliation/runs", data=data, files=files, headers=_origin(client))


def _files() -> list[tuple[str, tuple[str, bytes, str]]]:
    return [
        ("amazon", ("settlement.txt", SETTLEMENT.encode(), "text/plain")),
        ("opayo", ("batch-501.xml", BATCH.encode(), "application/xml")),
    ]


def _run(world: World) -> str:
    csrf = _csrf(world.client.get("/reconciliation").text)
    reply = _upload(world.client, _files(), csrf)
    assert reply.status_code == 303, reply.text
    found = re.match(r"^/reconciliation/([0-9a-f]{32})$", reply.headers["location"])
    assert found is not None, reply.headers["location"]
    return found.group(1)


def test_a_run_on_uploaded_files_is_the_journal_jobs_run(world: World) -> None:
    run_id = _run(world)
    written = {key.rsplit("/", 1)[-1] for key in _keys(world.s3, "journals/") if run_id in key}
    assert written == {
        "journal.csv", "journal.json", "exceptions.csv", "report.html",
        "journal-entries-ready.json",
    }  # fmt: skip
    uploaded = _keys(world.s3, "uploads/")
    assert len(uploaded) == 2
    assert all(run_id in key for key in uploaded)
    assert world.ledger.ready_for_reconciliation() == []
    messages = world.sqs.receive_message(QueueUrl=world.events_queue, MaxNumberOfMessages=10)
    [event] = [json.loads(m["Body"]) for m in messages.get("Messages", [])]
    assert event["detail"]["runId"] == run_id
    assert event["detail"]["settlementIds"] == ["24601"]


def test_the_run_is_listed_and_its_page_shows_totals_entries_charts_and_downloads(
    world: World,
) -> None:
    run_id = _run(world)
    listing = world.client.get("/reconciliation").text
    row = re.search(rf'<tr data-run="{run_id}">(.*?)</tr>', listing, re.S)
    assert row is not None
    ready = json.loads(
        world.archive.get_bytes(
            next(
                k
                for k in _keys(world.s3, "journals/")
                if k.endswith(f"{run_id}/journal-entries-ready.json")
            )
        )
        or b"{}"
    )
    assert f'<td class="money exceptions">{ready["exceptionCount"]}</td>' in row.group(1)
    page = world.client.get(f"/reconciliation/{run_id}").text
    journal = json.loads(
        world.archive.get_bytes(
            next(k for k in _keys(world.s3, "journals/") if k.endswith(f"{run_id}/journal.json"))
        )
        or b"{}"
    )
    for entry in journal["entries"]:
        assert f'data-entry="{entry["entryId"]}"' in page
    assert page.count('<figure class="report-chart"><svg role="img"') >= 2
    assert 'data-figure="balanced">yes<' in page
    for name in ("journal.csv", "journal.json", "exceptions.csv", "report.html"):
        assert f'data-download="{name}"' in page


def test_the_journal_downloads_as_the_archive_holds_it(world: World) -> None:
    run_id = _run(world)
    key = next(k for k in _keys(world.s3, "journals/") if k.endswith(f"{run_id}/journal.csv"))
    reply = world.client.get(f"/reconciliation/{run_id}/files/journal.csv")
    assert reply.status_code == 200
    assert reply.headers["content-disposition"] == f'attachment; filename="{run_id}-journal.csv"'
    assert reply.headers["content-type"].startswith("text/csv")
    assert reply.content == world.archive.get_bytes(key)
    assert reply.text.startswith("entry_id,date,source_kind")


def test_an_exception_gets_its_suggested_match_and_the_decision_is_recorded(
    world: World,
) -> None:
    run_id = _run(world)
    page = world.client.get(f"/reconciliation/{run_id}").text
    rows = dict(re.findall(r'data-exception="(\d+)" data-reason="([a-z_]+)"', page))
    captured = next(n for n, reason in rows.items() if reason == "captured_not_fulfilled")
    settled = next(n for n, reason in rows.items() if reason == "fulfilled_not_captured")
    detail = world.client.get(f"/reconciliation/{run_id}/exceptions/{captured}").text
    assert f'name="match" value="{settled}"' in detail
    reply = world.client.post(
        f"/reconciliation/{run_id}/exceptions/{captured}",
        data={
            "csrf_token": _csrf(detail),
            "decision": "accepted",
            "match": settled,
            "note": "typed as W-1002X at the till",
        },
        headers=_origin(world.client),
    )
    assert reply.status_code == 303
    [key] = [k for k in _keys(world.s3, "journals/") if "/decisions/" in k]
    recorded = json.loads(world.archive.get_bytes(key) or b"{}")
    assert recorded["exception"] == int(captured)
    assert recorded["decision"] == "accepted"
    assert recorded["match"] == int(settled)
    assert recorded["decidedBy"] == OPERATOR
    page = world.client.get(f"/reconciliation/{run_id}").text
    row = re.search(rf'<tr id="exception-{captured}"(.*?)</tr>', page, re.S)
    assert row is not None
    assert ">accepted<" in row.group(1)


def test_a_bad_decision_or_a_forged_one_records_nothing(world: World) -> None:
    run_id = _run(world)
    url = f"/reconciliation/{run_id}/exceptions/1"
    csrf = _csrf(world.client.get(url).text)
    bad = world.client.post(
        url, data={"csrf_token": csrf, "decision": "approve"}, headers=_origin(world.client)
    )
    assert bad.status_code == 400
    assert "Choose one of: accepted, dismissed." in bad.text
    too_long = world.client.post(
        url,
        data={"csrf_token": csrf, "decision": "dismissed", "note": "x" * 501},
        headers=_origin(world.client),
    )
    assert too_long.status_code == 400
    forged = world.client.post(url, data={"decision": "dismissed"}, headers=_origin(world.client))
    assert forged.status_code == 403
    missing = world.client.post(
        f"/reconciliation/{run_id}/exceptions/999",
        data={"csrf_token": csrf, "decision": "dismissed"},
        headers=_origin(world.client),
    )
    assert missing.status_code == 404
    assert [k for k in _keys(world.s3) if "/decisions/" in k] == []


def test_a_file_the_reconciliation_cannot_read_is_refused_and_nothing_is_archived(
    world: World,
) -> None:
    csrf = _csrf(world.client.get("/reconciliation").text)
    broken = SETTLEMENT.replace("-2.00", "two pounds")
    reply = _upload(
        world.client,
        [
            ("amazon", ("november.txt", broken.encode(), "text/plain")),
            ("opayo", ("batch-501.xml", BATCH.encode(), "application/xml")),
        ],
        csrf,
    )
    assert reply.status_code == 400
    assert "november.txt, line 3" in reply.text
    assert "Traceback" not in reply.text
    assert _keys(world.s3) == []
    assert world.ledger.ready_for_reconciliation() == []


def test_an_upload_without_the_csrf_token_first_is_refused_before_it_is_read(
    world: World,
) -> None:
    csrf = _csrf(world.client.get("/reconciliation").text)
    assert _upload(world.client, _files(), None).status_code == 403
    assert _upload(world.client, _files(), "0" * 64).status_code == 403
    # The right token, but after the files: the guard reads only the first field.
    late = world.client.post(
        "/reconciliation/runs",
        files=[*_files(), ("csrf_token", (None, csrf.encode(), None))],
        headers=_origin(world.client),
    )
    assert late.status_code == 403
    assert _keys(world.s3) == []


def test_an_upload_with_no_file_says_so(world: World) -> None:
    csrf = _csrf(world.client.get("/reconciliation").text)
    reply = _upload(world.client, [("amazon", ("", b"", "text/plain"))], csrf)
    assert reply.status_code == 400
    assert "Choose at least one" in reply.text


def test_runs_and_files_that_are_not_there_are_a_clear_404_or_400(world: World) -> None:
    run_id = _run(world)
    assert world.client.get("/reconciliation/not-a-run").status_code == 404
    assert world.client.get("/reconciliation/bad%20id").status_code == 400
    assert world.client.get(f"/reconciliation/{run_id}/files/secrets.txt").status_code == 404
    assert world.client.get(f"/reconciliation/{run_id}/exceptions/0").status_code == 400


def test_a_deployed_stack_shows_its_runs_but_starts_none_on_uploads() -> None:
    with mock_aws():
        s3 = boto3.client("s3", "eu-west-2")
        s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
        )
        for client in _open(_backend(local=False)[0]):
            page = client.get("/reconciliation").text
            assert "Not here: runs start on uploaded files against the local runtime only" in page
            assert 'enctype="multipart/form-data"' not in page
            # A hand-made form to the upload route is refused the same way.
            csrf = _csrf(page)
            reply = _upload(client, _files(), csrf)
            assert reply.status_code == 409
            assert _keys(s3) == []


def _exception(number: int, reason: str, order: str, currency: str = "GBP") -> RunException:
    return RunException(number, reason, order, "", None, currency, 100, None, "")


def test_suggestions_pair_the_two_halves_of_one_sale_under_similar_ids() -> None:
    found = suggest_matches(
        [
            _exception(1, "captured_not_fulfilled", "W-1002X"),
            _exception(2, "fulfilled_not_captured", "W-1002"),
            _exception(3, "fulfilled_not_captured", "W-1003"),  # the next order, not a typo
            _exception(4, "fulfilled_not_captured", "W-1002Y", "EUR"),  # another currency
            _exception(5, "amount_mismatch", "W-1002"),  # not a missing half
        ]
    )
    assert [s.number for s in found[1]] == [2]
    assert [s.number for s in found[2]] == [1]
    assert 3 not in found
    assert 5 not in found


@pytest.mark.parametrize(
    ("a", "b", "likeness"),
    [
        ("W-1002", "w1002", 1.0),
        ("W-1002", "PAY-W-1002", 0.9),
        ("W-1002", "W-1002X", 0.9),
        ("W-1O02", "W-1002", 0.8),  # a letter O for a zero
        ("W-1020", "W-1002", 0.8),  # two swapped
        ("W-1001", "W-1002", None),  # neighbours in a sequence
        ("W-1002", "ZZ-77", None),
        ("", "W-1002", None),
    ],
)
def test_ids_are_alike_when_typed_two_ways_not_when_neighbours(
    a: str, b: str, likeness: float | None
) -> None:
    assert id_likeness(a, b) == likeness
    assert id_likeness(b, a) == likeness


_REASONS = ("captured_not_fulfilled", "fulfilled_not_captured", "unknown_order", "amount_mismatch")


@given(
    st.lists(
        st.tuples(
            st.sampled_from(_REASONS),
            st.text(alphabet="W-10O2X", min_size=0, max_size=8),
            st.sampled_from(("GBP", "EUR", "")),
        ),
        max_size=12,
    )
)
def test_the_indexed_suggestions_are_every_alike_pair_a_comparison_of_all_would_find(
    rows: list[tuple[str, str, str]],
) -> None:
    exceptions = [_exception(n, r, o, c) for n, (r, o, c) in enumerate(rows, start=1)]
    complements = {
        "captured_not_fulfilled": {"fulfilled_not_captured", "unknown_order"},
        "fulfilled_not_captured": {"captured_not_fulfilled", "unknown_order"},
        "unknown_order": {"captured_not_fulfilled", "fulfilled_not_captured"},
    }
    expected: dict[int, set[int]] = {}
    for a in exceptions:
        for b in exceptions:
            if a.number == b.number or b.reason not in complements.get(a.reason, set()):
                continue
            if a.currency and b.currency and a.currency != b.currency:
                continue
            if a.order and b.order and id_likeness(a.order, b.order) is not None:
                expected.setdefault(a.number, set()).add(b.number)
    found = suggest_matches(exceptions, per_exception=len(exceptions))
    assert {n: {s.number for s in found_} for n, found_ in found.items()} == expected


def test_an_upload_over_the_guards_limit_is_refused_unread(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opayo_fba.console import security

    csrf = _csrf(world.client.get("/reconciliation").text)
    monkeypatch.setattr(security, "MAX_UPLOAD_BYTES", 1024)
    reply = _upload(world.client, _files(), csrf)
    assert reply.status_code == 413
    assert _keys(world.s3) == []


def test_a_runs_own_files_are_read_once_its_decisions_every_time() -> None:
    from opayo_fba.ops.journal_runs import RunFileCache

    with mock_aws():
        s3 = boto3.client("s3", "eu-west-2")
        s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
        )
        folder = "journals/2026/12/03/run-1/"
        for key, body in (
            (folder + "journal.json", b"{}"),
            (folder + "exceptions.csv", b"x" * 600),
            (folder + "decisions/1.json", b"first"),
        ):
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        cache = RunFileCache(s3, BUCKET, max_bytes=1000)
        assert cache.get_bytes(folder + "journal.json") == b"{}"
        assert cache.get_bytes(folder + "decisions/1.json") == b"first"
        s3.delete_object(Bucket=BUCKET, Key=folder + "journal.json")
        s3.put_object(Bucket=BUCKET, Key=folder + "decisions/1.json", Body=b"second")
        assert cache.get_bytes(folder + "journal.json") == b"{}"  # kept
        assert cache.get_bytes(folder + "decisions/1.json") == b"second"  # read again
        # Past max_bytes the oldest read goes first: journal.json, deleted above, is gone.
        assert cache.get_bytes(folder + "exceptions.csv") == b"x" * 600
        s3.put_object(Bucket=BUCKET, Key=folder + "report.html", Body=b"y" * 500)
        assert cache.get_bytes(folder + "report.html") == b"y" * 500
        assert cache.get_bytes(folder + "journal.json") is None
        s3.delete_object(Bucket=BUCKET, Key=folder + "report.html")
        assert cache.get_bytes(folder + "report.html") == b"y" * 500  # the newest, kept


def test_markup_in_an_uploaded_file_is_shown_as_text(world: World) -> None:
    marked = '<img src=x onerror="alert(1)">'
    settlement = "".join(settlement_lines([order_fee(marked, "-2.00")], total="-2.00"))
    csrf = _csrf(world.client.get("/reconciliation").text)
    reply = _upload(
        world.client, [("amazon", ("<b>nov</b>.txt", settlement.encode(), "text/plain"))], csrf
    )
    assert reply.status_code == 303, reply.text
    page = world.client.get(reply.headers["location"]).text
    assert marked not in page
    assert "&lt;img src=x onerror=" in page
    assert "<b>nov</b>" not in page


def test_a_runs_exceptions_and_suggestions_are_worked_out_once_for_the_last_runs_read() -> None:
    from datetime import UTC, date, datetime

    from opayo_fba.console.backend import RUNS_KEPT
    from opayo_fba.ops.journal_runs import RunSummary
    from opayo_fba.reconcile.outputs import EXCEPTION_COLUMNS

    row = dict.fromkeys(EXCEPTION_COLUMNS, "")
    lines = [
        ",".join(EXCEPTION_COLUMNS),
        ",".join({**row, "reason": "captured_not_fulfilled", "order": "W-1002X"}.values()),
        ",".join({**row, "reason": "fulfilled_not_captured", "order": "W-1002"}.values()),
    ]

    class Archive:
        def __init__(self) -> None:
            self.reads: list[str] = []

        def get_bytes(self, key: str) -> bytes | None:
            self.reads.append(key)
            return "\n".join(lines).encode() if key.endswith("exceptions.csv") else None

    def run(n: int) -> RunSummary:
        return RunSummary(
            f"run-{n}", date(2026, 12, 3), f"journals/run-{n}/", datetime.now(UTC),
            [], [], 0, True, True, {}, 0, 2, {},
        )  # fmt: skip

    archive = Archive()
    backend = StackBackend(
        STACK,
        OrderStore(None),
        {"uk-main": []},
        journals=JournalAccess(archive, OPERATOR),  # type: ignore[arg-type]
    )
    first = backend.run_suggestions(run(0))
    assert first[1][0].order == "W-1002"
    assert first[2][0].order == "W-1002X"
    assert backend.run_exceptions(run(0))[0].order == "W-1002X"
    assert backend.run_suggestions(run(0)) is first
    assert archive.reads == ["journals/run-0/exceptions.csv"]  # read and paired once
    for n in range(1, RUNS_KEPT + 1):  # as many other runs as are kept: run-0 is let go
        backend.run_exceptions(run(n))
    assert backend.run_suggestions(run(0)) is not first
    assert archive.reads.count("journals/run-0/exceptions.csv") == 2
