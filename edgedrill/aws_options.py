"""The options every AWS command takes: ``--profile`` and ``--endpoint-url``.

Credentials come from boto3's default chain (environment, shared files, SSO,
instance role) or the named profile; edgedrill never takes a key on its
command line and never prints one. ``AWS_ENDPOINT_URL`` is honoured by boto3
itself; ``--endpoint-url`` overrides it for every service of the command.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from edgedrill.errors import CliError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    from chaos.aws_api import AwsApi


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
    from chaos.aws_api import AwsApi

    endpoint = args.endpoint_url
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise CliError(f"--endpoint-url: {endpoint!r} needs a scheme (http:// or https://)")
    return AwsApi(profile=args.profile, endpoint_url=endpoint)


@contextlib.contextmanager
def aws_errors() -> Iterator[None]:
    """Report an :class:`~chaos.aws_api.AwsError` as a CLI error (its message, exit 2)."""
    from chaos.aws_api import AwsError

    try:
        yield
    except AwsError as exc:
        raise CliError(str(exc), exit_code=exc.exit_code) from exc
