"""The router commands run against the same DNS zone server fixture as the router's tests."""

from tests.router.conftest import zone_server

__all__ = ["zone_server"]
