"""Fire the template's schedules (EventBridge rules and Scheduler schedules) from a clock.

`rate(...)` expressions fire at their period divided by the time factor. `cron(...)`
expressions are not evaluated locally: they are listed at start-up and fire only when asked
(`fire`), which is also how tests and the demo run a poller at a moment of their choosing.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local_runtime.lambda_bridge import InProcessLambdas, Invocation
from local_runtime.template import Template

_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


@dataclass(frozen=True)
class Schedule:
    name: str
    expression: str
    function: str
    input: str | None
    arn: str

    @property
    def period_seconds(self) -> int | None:
        match = re.fullmatch(r"rate\((\d+) (\w+)\)", self.expression)
        return int(match.group(1)) * _UNITS[match.group(2)] if match else None


def schedules_from_template(template: Template) -> list[Schedule]:
    found = []
    for rule in template.of_type("AWS::Events::Rule"):
        p = template.resolve(rule.properties)
        if "ScheduleExpression" not in p or p.get("State", "ENABLED") != "ENABLED":
            continue
        for target in p.get("Targets", []):
            if ":lambda:" in str(target["Arn"]):
                found.append(
                    Schedule(
                        rule.logical_id,
                        p["ScheduleExpression"],
                        str(target["Arn"]),
                        target.get("Input"),
                        template.arn(rule.logical_id),
                    )
                )
    for schedule in template.of_type("AWS::Scheduler::Schedule"):
        p = template.resolve(schedule.properties)
        target = p["Target"]
        if p.get("State", "ENABLED") == "ENABLED" and ":lambda:" in str(target["Arn"]):
            found.append(
                Schedule(
                    schedule.logical_id,
                    p["ScheduleExpression"],
                    str(target["Arn"]),
                    target.get("Input"),
                    template.arn(schedule.logical_id),
                )
            )
    return found


def scheduled_event(schedule: Schedule, region: str) -> Any:
    if schedule.input:
        return json.loads(schedule.input)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [schedule.arn],
        "detail": {},
    }


class ScheduleRunner:
    def __init__(
        self,
        schedules: list[Schedule],
        lambdas: InProcessLambdas,
        region: str,
        time_factor: float = 1.0,
    ) -> None:
        self.schedules = {s.name: s for s in schedules}
        self._lambdas = lambdas
        self._region = region
        self._factor = time_factor
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def fire(self, name: str) -> Invocation:
        try:
            schedule = self.schedules[name]
        except KeyError:
            known = ", ".join(sorted(self.schedules))
            raise KeyError(f"no schedule {name!r} (known: {known})") from None
        return self._lambdas.invoke(schedule.function, scheduled_event(schedule, self._region))

    def _loop(self, schedule: Schedule, period: float) -> None:
        while not self._stop.wait(period):
            self.fire(schedule.name)

    def start(self) -> None:
        for schedule in self.schedules.values():
            period = schedule.period_seconds
            if period is None:
                continue
            thread = threading.Thread(
                target=self._loop,
                args=(schedule, period / self._factor),
                name=f"schedule-{schedule.name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
