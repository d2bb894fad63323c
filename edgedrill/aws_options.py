"""The options every AWS command takes: ``--profile``, ``--endpoint-url``, names checked.

Credentials come from boto3's default chain (environment, shared files, SSO,
instance role) or the named profile; edgedrill never takes a key on its
command line and never prints one. ``AWS_ENDPOINT_URL`` is honoured by boto3
itself; ``--endpoint-url`` overrides it for every service of the command.
:func:`function_name` and :func:`region_list` check the Lambda function and
region names the commands take (``--function``, ``--regions``,
``--alarm-region``) before any call.
"""

from __future__ import annotations

import argparse
import contextlib
import re
from typing import TYPE_CHECKING

from chaos.faults import REGION_NAME
from edgedrill.errors import CliError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from chaos.aws_api import AwsApi


# Lambda function names (the CreateFunction reference): letters, digits, - and _.
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def function_name(text: str) -> str:
    """The argparse ``type`` of ``--function``: a Lambda function name."""
    if not FUNCTION_NAME.fullmatch(text):
        msg = f"{text!r} is not a Lambda function name (1 to 64 letters, digits, - or _)"
        raise argparse.ArgumentTypeError(msg)
    return text


def region_list(text: str) -> tuple[str, ...]:
    """The argparse ``type`` of ``--regions``: comma-separated region names, each once."""
    regions = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not regions:
        raise argparse.ArgumentTypeError("give at least one region")
    bad = [region for region in regions if not REGION_NAME.fullmatch(region)]
    if bad:
        raise argparse.ArgumentTypeError(f"not a region name: {', '.join(bad)}")
    return regions


def add_function_and_regions(parser: argparse.ArgumentParser, regions_help: str) -> None:
    """Add ``--function NAME`` (required) and ``--regions LIST`` (default: found)."""
    parser.add_argument(
        "--function", required=True, type=function_name, help="the Lambda@Edge function's name"
    )
    parser.add_argument(
        "--regions", type=region_list, default=None, metavar="LIST", help=regions_help
    )


def add_aws_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--profile`` and ``--endpoint-url`` in an "AWS" group."""
    group = parser.add_argument_group("AWS")
    group.add_argument(
        "--profile",
        default=None,
        metavar="NAME",
        help="AWS profile (default: boto3's default credential chain)",
    )
    group.add_argument(
        "--endpoint-url",
        default=None,
        metavar="URL",
        help="endpoint for every AWS call, e.g. a moto server "
        "(default: AWS_ENDPOINT_URL, else AWS's own)",
    )


def aws_api(args: argparse.Namespace) -> AwsApi:
    """The :class:`~chaos.aws_api.AwsApi` the parsed flags describe."""
    from urllib.parse import urlsplit

    from chaos.aws_api import AwsApi

    endpoint = args.endpoint_url
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise CliError(f"--endpoint-url: {endpoint!r} needs a scheme (http:// or https://)")
    if endpoint is not None and "@" in urlsplit(endpoint).netloc:
        # AWS error messages repeat the endpoint: a user:password in it would be printed.
        raise CliError("--endpoint-url: takes no user or password (credentials: --profile)")
    return AwsApi(profile=args.profile, endpoint_url=endpoint)


@contextlib.contextmanager
def aws_errors() -> Iterator[None]:
    """Report an :class:`~chaos.aws_api.AwsError` as a CLI error (its message, exit 2)."""
    from chaos.aws_api import AwsError

    try:
        yield
    except AwsError as exc:
        raise CliError(str(exc), exit_code=exc.exit_code) from exc
