"""Analysis of edgedrill run folders: records, billing, cache metrics, plots, report, gate."""

import ctypes
import os
import sys

# The readers parse with polars, whose allocator (jemalloc) keeps freed pages
# for ten seconds by default: have the hundreds of MB of parsed text returned
# within a second, so that a run's peak memory is about its columns and a few
# blocks. Returning them at once (0 ms) costs a page fault on every reuse:
# a third more CPU for a million-record report (benchmarks/analysis_scale.py,
# 19.8-21.3 s against 16.1-16.5 s, for 380 MB against 500 MB at its peak).
# Read when polars loads, hence here.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:1000,muzzy_decay_ms:1000")

# glibc's malloc, which numpy uses, raises its mmap threshold each time a big
# block is freed (up to 32 MB), and from then on serves blocks that size from
# heaps it seldom gives back: a run's columns, joined from chunks, would leave
# their chunks' pages behind, as many as the run has records. A fixed
# threshold (mallopt(3), M_MMAP_THRESHOLD) returns every big block on free.
_M_MMAP_THRESHOLD = -3
if sys.platform == "linux":
    _mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if _mallopt is not None:
        _mallopt(_M_MMAP_THRESHOLD, 128 << 10)
