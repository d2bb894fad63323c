"""Analysis of edgedrill run folders: records, billing, cache metrics, plots, report, gate."""

import os

# The readers parse with polars, whose allocator (jemalloc) keeps freed pages
# for a long while: have the hundreds of MB of parsed text returned soon, so
# that a run's peak memory is its columns. Read when polars loads, hence here.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:500,muzzy_decay_ms:0")
