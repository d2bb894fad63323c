"""Config validation names the key and the reason."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from router.config import BUNDLED_CONFIG, load_config, parse_config
from router.errors import ConfigError
from tests.router.conftest import EUW1, USE1

if TYPE_CHECKING:
    from pathlib import Path


def valid() -> dict[str, Any]:
    return {
        "routing_name": "origins.test",
        "nameservers": ["127.0.0.1:5353"],
        "origins": [
            {"region": "us-east-1", "domain": USE1, "weight": 2},
            {"region": "eu-west-1", "domain": EUW1, "weight": 1},
        ],
    }


def test_bundled_config_is_valid() -> None:
    config = load_config(BUNDLED_CONFIG)
    assert config.billing_threshold_ms == 50
    assert config.lookup_timeout_ms < config.billing_threshold_ms
    assert config.nameservers == ()


def test_valid_config_parses_with_defaults() -> None:
    config = parse_config(valid())
    assert config.routing_name == "origins.test"
    assert str(config.nameservers[0]) == "127.0.0.1:5353"
    assert [origin.weight for origin in config.origins] == [2, 1]
    assert config.stale_answer_ttl == 30
    assert config.failure_recheck_s == 30


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        ({"routing_name": None}, "routing_name", "required"),
        ({"routing_name": "not a name"}, "routing_name", "DNS name"),
        ({"routing_name": "origins._test"}, "routing_name", "DNS name"),
        ({"routing_name": "__origins.example.com"}, "routing_name", "DNS name"),
        ({"routing_name": "_" + "a" * 63 + ".example.com"}, "routing_name", "DNS name"),
        ({"routing_name": "_origins"}, "routing_name", "DNS name"),
        ({"nameservers": "127.0.0.1"}, "nameservers", "list"),
        ({"nameservers": ["127.0.0.1:99999"]}, "nameservers[0]", "port"),
        ({"nameservers": ["dns.example.com:53"]}, "nameservers[0]", "IP address"),
        ({"origins": []}, "origins", "non-empty"),
        (
            {"origins": [{"region": "us-east-1", "domain": "Media.S3.amazonaws.com"}]},
            "origins[0].domain",
            "lowercase",
        ),
        (
            {"origins": [{"region": "us-east-1", "domain": "a" * 120 + ".example.com"}]},
            "origins[0].domain",
            "128",
        ),
        ({"origins": [{"region": "mars", "domain": USE1}]}, "origins[0].region", "region"),
        (
            {"origins": [{"region": "us-east-1", "domain": USE1, "weight": -1}]},
            "origins[0].weight",
            "integer",
        ),
        (
            {"origins": [{"region": "us-east-1", "domain": USE1, "weight": 0}]},
            "origins",
            "weight above 0",
        ),
        (
            {"origins": [{"region": "us-east-1", "domain": USE1, "wieght": 1}]},
            "origins[0].wieght",
            "unknown",
        ),
        ({"lookup_timeout_ms": 0}, "lookup_timeout_ms", "> 0"),
        ({"lookup_timeout_ms": 60}, "lookup_timeout_ms", "billing_threshold_ms"),
        ({"min_ttl": 10, "max_ttl": 5}, "max_ttl", "min_ttl"),
        ({"max_stale": -1}, "max_stale", "non-negative"),
        ({"max_stale": "1d"}, "max_stale", "non-negative"),
        ({"billing_threshold_ms": True}, "billing_threshold_ms", "number"),
        ({"routing_nmae": "x.test"}, "routing_nmae", "unknown"),
    ],
)
def test_bad_config_names_the_key(change: dict[str, Any], key: str, reason: str) -> None:
    document = valid() | change
    if change.get("routing_name", 0) is None:
        del document["routing_name"]
    with pytest.raises(ConfigError) as info:
        parse_config(document)
    assert info.value.key == key
    assert reason in str(info.value)
    assert repr(key) in str(info.value)


def test_load_config_reports_file_and_json_line(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{\n  "routing_name": "x.test",\n  "origins": [,]\n}\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert "line 3" in str(info.value)


def test_load_config_reports_file_for_a_bad_key(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(valid() | {"max_ttl": -5}))
    with pytest.raises(ConfigError, match=r"config\.json: config key 'max_ttl'"):
        load_config(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.json")


@pytest.mark.parametrize(
    "name",
    ["_origins.example.com", "_edge._routing.example.com", "_o.test", "Origins.Example.COM."],
)
def test_underscored_routing_names_are_valid(tmp_path: Path, name: str) -> None:
    # RFC 8552: an underscored leaf label names an attribute of its parent.
    document = json.loads(BUNDLED_CONFIG.read_text())
    document["routing_name"] = name
    path = tmp_path / "config.json"
    path.write_text(json.dumps(document))
    assert load_config(path).routing_name == name.lower().rstrip(".")
