r"""The local distribution's ``log_dir``: what CloudWatch Logs and CloudFront would hold.

``lambda/<region>.<function>.log`` is the log group
``/aws/lambda/<region>.<function>`` (the region the function ran in), one
``<ISO timestamp>\t<message>`` line per event; ``cloudfront/`` holds the
standard access log (:mod:`edgedrill_formats.access_log`) and Lambda@Edge's
validation-error log. A run folder keeps a copy under ``logs/``.
"""

from __future__ import annotations

LAMBDA_DIR = "lambda"
CLOUDFRONT_DIR = "cloudfront"
ACCESS_LOG = "access.log"
LOG_SUFFIX = ".log"


def log_group_file(region: str, function: str) -> str:
    """The file name of a function's log group in one region (``us-east-1.router.log``)."""
    return f"{region}.{function}{LOG_SUFFIX}"


def log_group_region(file_name: str) -> str:
    """The region a log group file's name starts with."""
    return file_name.split(".", 1)[0]
