"""Analysis of edgedrill run folders: records, billing, cache metrics, plots, report, gate."""
