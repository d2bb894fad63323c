"""An AWS-mode fault's stop condition: named CloudWatch alarms, any of them in ALARM.

The fault checks the alarms before it applies its change (an alarm already
in ALARM means the drill does not start) and every :data:`POLL_S` seconds
while it holds; an alarm in ALARM rolls the change back at once. Reading only
``DescribeAlarms``: metric and composite alarms alike. An alarm that does not
exist is refused before anything changes, since a stop condition that cannot
fire is no safety.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chaos.aws_api import EDGE_REGION, aws_call
from chaos.errors import TargetError

if TYPE_CHECKING:
    from chaos.aws_api import AwsApi

POLL_S = 2.0
ALARM = "ALARM"
# DescribeAlarms takes at most 100 names per call.
MAX_ALARMS = 100
_MAX_PAGES = 10


@dataclass(frozen=True, slots=True)
class AlarmStop:
    """Alarms whose ALARM state stops a fault, and their region."""

    names: tuple[str, ...]
    region: str = EDGE_REGION

    def __post_init__(self) -> None:
        if len(self.names) > MAX_ALARMS:
            raise TargetError(f"at most {MAX_ALARMS} stop alarms, got {len(self.names)}")

    def client(self, api: AwsApi) -> Any:
        """A CloudWatch client in the alarms' region (made once, polled many times)."""
        return api.client("cloudwatch", self.region)

    def states(self, cloudwatch: Any) -> dict[str, str]:
        """Each named alarm's state (``OK``, ``ALARM``, ...); a missing alarm is refused."""
        if not self.names:
            return {}
        resource = f"alarms {', '.join(self.names)} in {self.region}"
        request: dict[str, Any] = {
            "AlarmNames": list(self.names),
            "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
        }
        states: dict[str, str] = {}
        for _ in range(_MAX_PAGES):
            with aws_call("DescribeAlarms", resource):
                page = cloudwatch.describe_alarms(**request)
            for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                states[str(alarm["AlarmName"])] = str(alarm["StateValue"])
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
        missing = [name for name in self.names if name not in states]
        if missing:
            msg = f"no CloudWatch alarm named {', '.join(missing)} in {self.region}"
            raise TargetError(msg)
        return states

    def firing(self, cloudwatch: Any) -> list[str]:
        """The named alarms now in ALARM."""
        return [name for name, state in self.states(cloudwatch).items() if state == ALARM]
