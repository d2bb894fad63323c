"""The run folder ``results/runs/<UTC stamp>-<scenario>/``: its name and the names in it.

The scenarios write these files and the analysis, the report and the capacity
gate read them (docs/formats.md, "Run folder"). The columns of the CSVs are
:mod:`edgedrill_formats.records`'.
"""

from __future__ import annotations

STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
"""``strftime`` format of the UTC stamp a run folder's name starts with."""

RUN_JSON = "run.json"
# Written when the load starts, for whoever shows a running drill's progress:
# {"schema": 1, "scenario", "t0", "end", "duration_s", "targets": [per second], "faults": [...]}.
PLAN_JSON = "plan.json"
REQUESTS_CSV = "requests.csv"
RATE_CSV = "rate.csv"
FAULTS_JSONL = "faults.jsonl"
MALFORMED_TXT = "malformed_lines.txt"
LOGS_DIR = "logs"

# Locust writes <prefix>_stats.csv and the rest when given --csv <run>/<prefix>.
LOCUST_CSV_PREFIX = "locust"
LOCUST_STATS = f"{LOCUST_CSV_PREFIX}_stats.csv"
LOCUST_FAILURES = f"{LOCUST_CSV_PREFIX}_failures.csv"
LOCUST_EXCEPTIONS = f"{LOCUST_CSV_PREFIX}_exceptions.csv"
# ``edgedrill run`` keeps Locust's console output and its own HTML report beside the records.
LOCUST_LOG = "locust.log"
LOCUST_HTML = "locust_report.html"
