from __future__ import annotations

import collections
import random

import pytest

from loadtests._popularity import ZipfKeys


def test_zipf_frequencies_follow_one_over_rank():
    keys = [f"k{i}" for i in range(50)]
    zipf = ZipfKeys(keys, s=1.0, seed=2)
    rng = random.Random(9)
    draws = collections.Counter(zipf.choose(rng) for _ in range(100_000))
    top = zipf.ranked[0]
    tenth = zipf.ranked[9]
    assert zipf.probability(top) == pytest.approx(10 * zipf.probability(tenth))
    for key in (top, tenth, zipf.ranked[-1]):
        expected = zipf.probability(key) * 100_000
        assert abs(draws[key] - expected) < 5 * expected**0.5 + 5


def test_exponent_zero_is_uniform():
    zipf = ZipfKeys(["a", "b", "c", "d"], s=0)
    assert {zipf.probability(k) for k in "abcd"} == {0.25}


def test_ranks_are_shuffled_by_seed_not_key_order():
    keys = [f"k{i:03d}" for i in range(100)]
    assert ZipfKeys(keys, seed=1).ranked != tuple(keys)
    assert ZipfKeys(keys, seed=1).ranked == ZipfKeys(keys, seed=1).ranked
    assert ZipfKeys(keys, seed=1).ranked != ZipfKeys(keys, seed=2).ranked


def test_duplicates_are_one_key_and_unknown_keys_have_no_share():
    zipf = ZipfKeys(["a", "a", "b"])
    assert sorted(zipf.ranked) == ["a", "b"]
    assert zipf.probability("zzz") == 0.0


def test_empty_or_negative_is_rejected():
    with pytest.raises(ValueError, match="empty"):
        ZipfKeys([])
    with pytest.raises(ValueError, match="exponent"):
        ZipfKeys(["a"], s=-1)
