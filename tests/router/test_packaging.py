"""Package limits and the system resolver fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.config import Nameserver
from router.packaging import PackageError, build_package
from router.resolver import DnsResolver, system_nameservers


def test_package_over_the_limit_is_refused_and_not_left_behind(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="allow 1,000"):
        build_package(tmp_path, max_zipped=1000)
    assert list(tmp_path.iterdir()) == []


def test_package_within_the_limit(tmp_path: Path) -> None:
    package = build_package(tmp_path)
    assert package.path == tmp_path / "edgedrill-router.zip"
    assert 0 < package.zipped_bytes < 50 * 1024 * 1024
    assert package.config.routing_name == "origins.media.example.com"


def test_empty_nameservers_use_the_environment_resolver() -> None:
    servers = system_nameservers()
    assert servers
    assert all(isinstance(server, Nameserver) and server.port == 53 for server in servers)
    resolver = DnsResolver(())
    assert resolver._nameservers == servers
