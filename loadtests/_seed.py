"""Seeding the local regions with the objects of an access log, so a replay hits real objects.

Every key the log shows served (status 2xx or 304) is put into the bucket of
every local region at its logged size: the ``Content-Length`` of a full (200)
response when the log has one, else the largest one logged, else 1 KiB. A
key the log only ever shows failing (404, 403, ...) is left out, so that it
fails on replay as it did in the log. Keys are the URI stems, URL-decoded,
without the leading ``/``.

Only the local distribution is seeded: every endpoint must be on loopback.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from edge.s3_regions import s3_client
from loadtests._errors import LoadtestError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from loadtests._cloudfront_log import LogRequest

logger = logging.getLogger(__name__)

DEFAULT_SIZE = 1024
MAX_TOTAL_BYTES = 2 * 1024**3
_SEED_WORKERS = 8
# moto accepts any credentials; these never leave loopback.


class SeedError(LoadtestError):
    """The log's objects cannot be put into the local regions."""


@dataclass(frozen=True, slots=True)
class SeedObject:
    """One object to create: key, size in bytes and content type."""

    key: str
    size: int
    content_type: str

    def body(self) -> bytes:
        """Deterministic bytes of the object's size, derived from its key."""
        block = hashlib.sha256(self.key.encode()).digest() * 32
        repeats = self.size // len(block) + 1
        return (block * repeats)[: self.size]


def objects_from_log(requests: Iterable[LogRequest]) -> list[SeedObject]:
    """The objects a log shows served, at their logged sizes, sorted by key."""
    full: dict[str, int] = {}
    largest: dict[str, int] = {}
    types: dict[str, str] = {}
    served: set[str] = set()
    for request in requests:
        status = request.status
        if status is None or not (200 <= status < 300 or status == 304):
            continue
        key = unquote(request.path[1:])
        if not key or key.endswith("/"):
            continue
        served.add(key)
        if request.content_type and key not in types:
            types[key] = request.content_type
        if request.size is None or status == 304:
            continue
        if status == 200:
            full[key] = max(full.get(key, 0), request.size)
        largest[key] = max(largest.get(key, 0), request.size)
    return [
        SeedObject(
            key,
            full.get(key, largest.get(key, DEFAULT_SIZE)),
            types.get(key, "application/octet-stream"),
        )
        for key in sorted(served)
    ]


def _check_loopback(endpoint: str) -> None:
    host = urlsplit(endpoint).hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        msg = f"refusing to seed {endpoint}: only the local distribution (loopback) is seeded"
        raise SeedError(msg)


def seed_regions(regions: Mapping[str, str], bucket: str, objects: list[SeedObject]) -> int:
    """Put ``objects`` into ``bucket`` in every region (name -> endpoint); bytes per region."""
    if not regions:
        msg = "the local distribution names no S3 regions to seed"
        raise SeedError(msg)
    if not bucket:
        msg = "the local distribution names no bucket to seed"
        raise SeedError(msg)
    total = sum(item.size for item in objects)
    if total > MAX_TOTAL_BYTES:
        msg = (
            f"the log's objects add up to {total / 1024**3:.1f} GiB, more than the "
            f"{MAX_TOTAL_BYTES / 1024**3:.0f} GiB the local regions hold in memory; "
            "seed from a smaller log (fewer of a folder's files, or its lines cut to a "
            "shorter span: a replay's --window does not shrink what is seeded), "
            "or replay against the real distribution with --host, which seeds nothing"
        )
        raise SeedError(msg)
    for endpoint in regions.values():
        _check_loopback(endpoint)
    for region, endpoint in regions.items():
        client = s3_client(endpoint, region)

        def put(item: SeedObject, client: Any = client) -> None:
            client.put_object(
                Bucket=bucket,
                Key=item.key,
                Body=item.body(),
                ContentType=item.content_type,
                ACL="public-read",
            )

        with ThreadPoolExecutor(max_workers=_SEED_WORKERS) as pool:
            try:
                for _ in pool.map(put, objects):
                    pass
            except (BotoCoreError, ClientError) as exc:
                # What is already in the region stays; the run must not start half-seeded.
                msg = f"cannot put the log's objects into {region} at {endpoint}: {exc}"
                raise SeedError(msg) from exc
        logger.info("seeded %d objects (%d bytes) into %s %s", len(objects), total, region, bucket)
    return total
