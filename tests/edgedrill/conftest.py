"""The router commands run against the same DNS zone server fixture as the router's tests.

Drills against a ``--host`` take the scenarios' recording HTTP target.
"""

from tests.loadtests.conftest import target
from tests.router.conftest import zone_server

__all__ = ["target", "zone_server"]
