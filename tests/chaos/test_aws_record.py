"""dns faults on Route 53 against moto's server: multivalue record sets saved, put back exactly."""

from __future__ import annotations

import itertools
from typing import Any

import boto3
import pytest

from chaos.aws_api import AwsApi
from chaos.aws_change import Outcome
from chaos.aws_record import RecordChange, canonical, fqdn, wait_insync, zone_id
from chaos.errors import RollbackError, TargetError

NAME = "route.drill.example."


def record_set(set_id: str, value: str, ttl: int = 60) -> dict[str, Any]:
    return {
        "Name": NAME,
        "Type": "TXT",
        "SetIdentifier": set_id,
        "MultiValueAnswer": True,
        "TTL": ttl,
        "ResourceRecords": [{"Value": value}],
    }


@pytest.fixture
def route53(moto_server: str):
    return boto3.client("route53", region_name="us-east-1", endpoint_url=moto_server)


@pytest.fixture
def zone(route53) -> Any:
    """A zone with two multivalue TXT sets at NAME, an A record beside them, a TXT elsewhere."""
    zone = route53.create_hosted_zone(Name="drill.example", CallerReference="t")["HostedZone"]["Id"]
    others = [
        {"Name": NAME, "Type": "A", "TTL": 30, "ResourceRecords": [{"Value": "10.0.0.1"}]},
        {
            "Name": "zz.drill.example.",
            "Type": "TXT",
            "TTL": 5,
            "ResourceRecords": [{"Value": '"z"'}],
        },
        {
            "Name": "aa.drill.example.",
            "Type": "TXT",
            "TTL": 5,
            "ResourceRecords": [{"Value": '"a"'}],
        },
    ]
    sets = [record_set("a", '"bucket-a.s3.us-east-1"'), record_set("b", '"bucket-b.s3.eu-west-1"')]
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [{"Action": "CREATE", "ResourceRecordSet": s} for s in sets + others]
        },
    )
    return zone


def everything(route53, zone: str) -> Any:
    return route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]


def txt_sets(route53, zone: str) -> list[Any]:
    return [s for s in everything(route53, zone) if s["Name"] == NAME and s["Type"] == "TXT"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "ttl", "expected"),
    [
        ("nxdomain", None, []),
        (
            "wrong-answer",
            None,
            [record_set("a", '"wrong-answer.invalid"'), record_set("b", '"wrong-answer.invalid"')],
        ),
        (
            "ttl",
            0,
            [
                record_set("a", '"bucket-a.s3.us-east-1"', 0),
                record_set("b", '"bucket-b.s3.eu-west-1"', 0),
            ],
        ),
    ],
)
def test_every_set_of_the_name_changes_and_comes_back(route53, zone, fault, ttl, expected) -> None:
    before = everything(route53, zone)
    change = RecordChange.plan(
        AwsApi(endpoint_url=route53.meta.endpoint_url),
        zone,
        "Route.Drill.Example",
        "txt",
        fault,
        ttl=ttl,
    )
    assert [s.get("SetIdentifier") for s in change.saved] == ["a", "b"]
    assert everything(route53, zone) == before  # planning writes nothing
    api = AwsApi(endpoint_url=route53.meta.endpoint_url)
    change.apply(api)
    assert canonical(txt_sets(route53, zone)) == canonical(expected)
    assert change.restore(api).outcome is Outcome.RESTORED
    assert everything(route53, zone) == before
    assert change.restore(api).outcome is Outcome.NOTHING_TO_RESTORE


@pytest.mark.slow
def test_sets_changed_by_someone_else_are_left_alone(route53, zone) -> None:
    api = AwsApi(endpoint_url=route53.meta.endpoint_url)
    change = RecordChange.plan(api, zone, NAME, "TXT", "ttl", ttl=1)
    change.apply(api)
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [{"Action": "UPSERT", "ResourceRecordSet": record_set("a", '"x"')}]
        },
    )
    with pytest.raises(RollbackError, match="someone else"):
        change.restore(api)
    assert any(s["ResourceRecords"] == [{"Value": '"x"'}] for s in txt_sets(route53, zone))


@pytest.mark.slow
def test_a_missing_name_or_an_alias_is_refused(route53, zone) -> None:
    api = AwsApi(endpoint_url=route53.meta.endpoint_url)
    with pytest.raises(TargetError, match="no such record set"):
        RecordChange.plan(api, zone, "nothing.drill.example", "TXT", "nxdomain")
    alias = {
        "Name": "cdn.drill.example.",
        "Type": "A",
        "AliasTarget": {
            "HostedZoneId": "Z2FDTNDATAQYW2",
            "DNSName": "d111111abcdef8.cloudfront.net.",
            "EvaluateTargetHealth": False,
        },
    }
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": alias}]},
    )
    with pytest.raises(TargetError, match="alias"):
        RecordChange.plan(api, zone, "cdn.drill.example", "A", "ttl", ttl=5)
    with pytest.raises(TargetError, match="TXT or A"):
        RecordChange.plan(api, zone, NAME, "AAAA", "wrong-answer")


def test_zone_ids_and_names_read_as_route_53_lists_them() -> None:
    assert zone_id("/hostedzone/Z123") == zone_id("Z123") == "Z123"
    assert fqdn("Route.Example") == fqdn("route.example.") == "route.example."
    assert fqdn("*.example") == fqdn("\\052.example.") == "\\052.example."


def test_the_wait_for_insync_is_bounded() -> None:
    ticks = itertools.count()
    slept: list[float] = []
    done = wait_insync(
        lambda: "PENDING",
        "PENDING",
        timeout_s=10,
        poll_s=2,
        clock=lambda: float(next(ticks)),
        sleep=slept.append,
    )
    assert not done
    assert 0 < len(slept) <= 10
    assert wait_insync(lambda: "INSYNC", "PENDING", sleep=slept.append)


@pytest.mark.slow
def test_a_wrong_answer_of_an_a_record_is_test_net_1(route53, zone) -> None:
    api = AwsApi(endpoint_url=route53.meta.endpoint_url)
    change = RecordChange.plan(api, zone, NAME, "A", "wrong-answer")
    assert change.applied == ({**change.saved[0], "ResourceRecords": [{"Value": "192.0.2.1"}]},)
    assert change.saved[0]["ResourceRecords"] == [{"Value": "10.0.0.1"}]


@pytest.mark.slow
def test_sigterm_while_waiting_for_insync_puts_the_sets_back(
    route53, zone, moto_server: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto answers INSYNC at once; real Route 53 takes seconds, in which SIGTERM
    # may come: the change has been sent, the journal still says pending.
    import json

    from chaos import aws_record
    from edgedrill.cli import Terminated, main

    waits: list[str] = []

    def interrupted_once(status: Any, first: str, **_: Any) -> bool:
        waits.append(first)
        if len(waits) == 1:
            assert txt_sets(route53, zone)[0]["TTL"] == 5  # the change landed
            raise Terminated
        return True

    monkeypatch.setattr(aws_record, "wait_insync", interrupted_once)
    before = everything(route53, zone)
    journal = tmp_path / "journal.json"
    code = main([
        "chaos", "inject", "dns:ttl=5", "--aws-zone", zone, "--aws-record", NAME,
        "--allow", f"zone:{zone}", "--execute", "--duration", "30",
        "--endpoint-url", moto_server, "--journal", str(journal),
    ])  # fmt: skip
    assert code == 143
    assert len(waits) == 2  # the apply's wait, then the undo's
    assert canonical(everything(route53, zone)) == canonical(before)
    statuses = [event["status"] for event in json.loads(journal.read_text())["events"]]
    assert statuses == ["pending", "restoring", "restored"]
