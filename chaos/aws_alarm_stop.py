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
    from collections.abc import Mapping

    from chaos.aws_api import AwsApi

POLL_S = 2.0
ALARM = "ALARM"
# DescribeAlarms takes at most 100 names per call.
MAX_ALARMS = 100
_MAX_PAGES = 10


@dataclass(frozen=True, slots=True)
class AlarmStop:
    """Alarms whose ALARM state stops a fault, and the regions that hold them.

    ``edgedrill alarms`` puts the same alarm names in every region whose edge
    locations run the function (Lambda@Edge metrics stay in the region that
    ran it, and a composite alarm cannot span regions), so each name is read
    in each region; a name missing from any of them is refused.
    """

    names: tuple[str, ...]
    regions: tuple[str, ...] = (EDGE_REGION,)

    def __post_init__(self) -> None:
        if len(self.names) > MAX_ALARMS:
            raise TargetError(f"at most {MAX_ALARMS} stop alarms, got {len(self.names)}")
        if not self.regions:
            raise TargetError("stop alarms need at least one region")

    def clients(self, api: AwsApi) -> dict[str, Any]:
        """A CloudWatch client per region (made once, polled many times)."""
        return {region: api.client("cloudwatch", region) for region in self.regions}

    def states(self, clients: Mapping[str, Any]) -> dict[str, str]:
        """Each alarm's state by ``NAME in REGION``; an alarm missing from a region is refused."""
        states: dict[str, str] = {}
        for region, cloudwatch in clients.items():
            for name, state in self._states_in(region, cloudwatch).items():
                states[f"{name} in {region}"] = state
        return states

    def firing(self, clients: Mapping[str, Any]) -> list[str]:
        """The alarms now in ALARM, as ``NAME in REGION``."""
        return [where for where, state in self.states(clients).items() if state == ALARM]

    def _states_in(self, region: str, cloudwatch: Any) -> dict[str, str]:
        if not self.names:
            return {}
        resource = f"alarms {', '.join(self.names)} in {region}"
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
            msg = f"no CloudWatch alarm named {', '.join(missing)} in {region}"
            raise TargetError(msg)
        return states
