"""Object popularity: which key each request of a spike asks for.

Web object popularity follows a Zipf law (Breslau et al., "Web Caching and
Zipf-like Distributions", INFOCOM 1999): the ``i``-th most popular object is
asked for with probability proportional to ``1 / i**s``, ``s`` near 1. That
is what gives an edge cache its realistic hit ratio; uniform keys would make
almost every request a miss, one hot key almost every request a hit.

Ranks are dealt to keys by a seeded shuffle, so that popularity is not tied
to key order (the local corpus orders keys by name, and sizes follow names).
"""

from __future__ import annotations

import bisect
import itertools
import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


class ZipfKeys:
    """Draws keys with Zipf popularity of exponent ``s`` (0: uniform)."""

    def __init__(self, keys: Sequence[str], *, s: float = 1.0, seed: int = 0) -> None:
        if not keys:
            msg = "no keys to request: the key list is empty"
            raise ValueError(msg)
        if s < 0:
            msg = f"zipf exponent must be >= 0, got {s}"
            raise ValueError(msg)
        ranked = list(dict.fromkeys(keys))
        random.Random(f"edgedrill-zipf:{seed}").shuffle(ranked)
        self.ranked: tuple[str, ...] = tuple(ranked)
        weights: list[float] = [float(rank) ** -s for rank in range(1, len(ranked) + 1)]
        self._total = sum(weights)
        self._cumulative = list(itertools.accumulate(weights))
        self._weights = weights

    def choose(self, rng: random.Random) -> str:
        """One key, drawn with Zipf probability."""
        point = rng.random() * self._total
        index = bisect.bisect_right(self._cumulative, point)
        return self.ranked[min(index, len(self.ranked) - 1)]

    def probability(self, key: str) -> float:
        """The share of requests that ask for ``key``."""
        try:
            rank = self.ranked.index(key)
        except ValueError:
            return 0.0
        return self._weights[rank] / self._total
