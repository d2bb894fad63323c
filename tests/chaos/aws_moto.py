"""moto's server as the AWS-mode tests use it: emptied first, since its state is per process."""

from __future__ import annotations

import urllib.request


def reset(url: str) -> None:
    """Empty every moto backend (a test's buckets and zones must not leak into the next)."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
