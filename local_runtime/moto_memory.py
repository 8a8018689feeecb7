"""moto keeps every model object it ever made; the local runtime runs for hours.

moto's `BaseModel.__new__` (moto/core/common_models.py) appends each new instance of every
model class to that class's `instances_tracked` list, for its dashboard
(`/moto-api/data.json`), and nothing takes them out but a reset. So every DynamoDB item ever
stored, every version of it replaced since, every SQS message and every table copied to back
a transaction up (moto's TransactWriteItems copies each table it names; with each order write
a transaction, two tables per order) stays in memory. With 10,000 orders that was 4.6 million
objects, and each of Python's full collections walked them for 2-3 s, during which the
console, the API and the sandboxes in the same process stood still (bench/console_pages.py
found those pauses at the p95 of three pages).

`stop_tracking_instances()` makes `BaseModel.__new__` keep nothing, but for moto's S3
models: S3's reset walks `FakeKey.instances_tracked` and `FakeMultipart.instances_tracked`
to close their temporary files, so those are kept as moto keeps them. What is lost is
moto's dashboard listing of the other objects, which nothing here reads.
"""

from __future__ import annotations

from typing import Any

_MARK = "_opayo_fba_untracked"
# The services whose own code reads `instances_tracked` (moto/s3/models.py, its reset).
KEEP_TRACKING = ("moto.s3.",)


def stop_tracking_instances() -> None:
    """Patch moto's BaseModel so that new instances are not kept (idempotent)."""
    from moto.core.common_models import BaseModel

    original = BaseModel.__dict__["__new__"]
    if getattr(original, _MARK, False):
        return

    def __new__(cls: Any, *args: Any, **kwargs: Any) -> Any:
        if cls.__module__.startswith(KEEP_TRACKING):
            return original(cls, *args, **kwargs)
        return object.__new__(cls)

    setattr(__new__, _MARK, True)
    BaseModel.__new__ = staticmethod(__new__)  # type: ignore[method-assign]


# The collector's thresholds for a process that stays up (Python's are 700, 10, 10): a full
# collection waits for 1,000 middle ones instead of 10, so about 7 million net allocations.
LONG_RUN_THRESHOLDS = (700, 10, 1000)


def settle_collector() -> None:
    """For a process that stays up with the runtime in it (`opayo-fba local up`, the demo
    with --keep-up): collect once, move everything alive (the modules, botocore's and moto's
    models, the stack) out of the collector's sight with `gc.freeze()`, and make full
    collections rare. A full collection walks every tracked object holding the GIL: with
    10,000 orders in moto it took 350-450 ms even with `stop_tracking_instances()`, and
    any console page, API call or sandbox reply in that window waited for it. Young
    collections, which find nearly all of a request's cycles, run as before."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*LONG_RUN_THRESHOLDS)
