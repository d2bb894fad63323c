"""The deterministic object corpus every S3 region is seeded with.

``N`` objects with a media site's mix: mostly small images, some larger
images and video segments, a few JSON manifests and stylesheets. Sizes,
types and ``Cache-Control`` follow from the seed alone, so both regions (and
every run) hold byte-identical buckets.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

# (share, extension, content type, size range in bytes, Cache-Control)
_MIX: tuple[tuple[float, str, str, tuple[int, int], str], ...] = (
    (0.50, "jpg", "image/jpeg", (2_000, 24_000), "public, max-age=86400"),
    (0.20, "webp", "image/webp", (24_000, 120_000), "public, max-age=86400"),
    (0.10, "png", "image/png", (4_000, 60_000), "public, max-age=604800, immutable"),
    (0.08, "mp4", "video/mp4", (120_000, 600_000), "public, max-age=31536000"),
    (0.07, "json", "application/json", (300, 4_000), "public, max-age=60"),
    (0.05, "css", "text/css", (1_000, 16_000), "public, max-age=3600"),
)


@dataclass(frozen=True, slots=True)
class CorpusObject:
    """One object: its key, size, type and caching header."""

    key: str
    size: int
    content_type: str
    cache_control: str

    def body(self) -> bytes:
        """The object's bytes, derived from its key."""
        block = hashlib.sha256(self.key.encode()).digest() * 64  # 2 KiB pattern
        repeats = self.size // len(block) + 1
        return (block * repeats)[: self.size]


def corpus(count: int, seed: int = 7) -> list[CorpusObject]:
    """The ``count`` objects of the corpus for ``seed``."""
    if count < 1:
        msg = f"objects must be at least 1, got {count}"
        raise ValueError(msg)
    rng = random.Random(seed)
    objects = []
    for index in range(count):
        roll = rng.random()
        cumulative = 0.0
        chosen = _MIX[-1]
        for entry in _MIX:
            cumulative += entry[0]
            if roll < cumulative:
                chosen = entry
                break
        _, ext, content_type, (low, high), cache_control = chosen
        # Log-uniform within the range: many small objects, a long tail.
        size = int(low * (high / low) ** rng.random())
        folder = "media" if ext in ("jpg", "webp", "png", "mp4") else "static"
        objects.append(
            CorpusObject(f"{folder}/{index:05d}.{ext}", size, content_type, cache_control)
        )
    return objects
