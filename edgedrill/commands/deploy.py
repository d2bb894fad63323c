"""``edgedrill deploy``: publish the router to Lambda@Edge and point a distribution at it."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from edgedrill.aws_options import add_aws_arguments, aws_api, aws_errors
from edgedrill.errors import CliError

if TYPE_CHECKING:
    from edgedrill.deploy import Bundle

_DESCRIPTION = """\
Publish the router to Lambda@Edge and point a distribution's origin-request at it:

  1. package the router (its config validated first: a bad one exits 2, nothing published);
  2. create or update the function in us-east-1 (handler router.handler.handler, x86_64,
     no environment variables) and wait until Lambda has it;
  3. publish a numbered version with the CodeSha256 of the upload (unchanged code and
     settings: Lambda returns the latest version instead, and says so);
  4. read the distribution config with its ETag, change only the origin-request
     association ARNs of this function in DefaultCacheBehavior and every CacheBehaviors
     item (none yet: one is added to DefaultCacheBehavior), and update with IfMatch.
     A distribution changed meanwhile is refused, never overwritten: re-run.

--rollback packages and publishes nothing: it re-points those associations to the
published version before the one associated now. Every read comes before the first
write: an unknown distribution or function stops the command with nothing changed.
"""

_EPILOG = """\
The role must be assumable by lambda.amazonaws.com and edgelambda.amazonaws.com.
stdout's last line is the version ARN associated. --dry-run prints the plan on stdout, the
ARN it would associate last; a deploy prints the plan and its progress on stderr.
AWS errors name the operation and the resource (exit 2).
CloudFront then takes minutes to replicate the function to its edge locations.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``edgedrill deploy``."""
    from edgedrill.deploy import (
        DEFAULT_MEMORY_MB,
        DEFAULT_RUNTIME,
        DEFAULT_TIMEOUT_S,
        MEMORY_MB_RANGE,
        RUNTIMES,
        TIMEOUT_S_RANGE,
    )

    parser = subparsers.add_parser(
        "deploy",
        help="publish the router to Lambda@Edge and point a distribution at it",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--function", required=True, metavar="NAME", help="Lambda function name")
    parser.add_argument(
        "--distribution", required=True, metavar="ID", help="CloudFront distribution id"
    )
    parser.add_argument(
        "--role",
        metavar="ARN",
        help="the function's execution role (arn:aws:iam::ACCOUNT:role/NAME); "
        "required unless --rollback",
    )
    parser.add_argument(
        "--config", type=Path, help="router config JSON (default: router/config.json)"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (function create or update, package size and sha256, each cache "
        "behaviour's LambdaFunctionAssociations before -> after) and change nothing",
    )
    parser.add_argument(
        "--rollback",
        action="store_true",
        help="package and publish nothing: point the distribution at the published version "
        "before the one it is associated with now (--config, --role, --runtime, --memory-mb "
        "and --timeout are not used)",
    )
    parser.add_argument(
        "--runtime", choices=RUNTIMES, help=f"Python runtime (default: {DEFAULT_RUNTIME})"
    )
    parser.add_argument(
        "--memory-mb",
        type=int,
        metavar="MB",
        help=f"memory, {MEMORY_MB_RANGE[0]}..{MEMORY_MB_RANGE[1]} (default: {DEFAULT_MEMORY_MB})",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        metavar="S",
        help=f"timeout in seconds, {TIMEOUT_S_RANGE[0]}..{TIMEOUT_S_RANGE[1]} "
        f"(origin-request triggers allow 30; default: {DEFAULT_TIMEOUT_S})",
    )
    add_aws_arguments(parser)
    parser.set_defaults(func=deploy_command)


def _progress(line: str) -> None:
    print(line, file=sys.stderr)  # noqa: T201


def _package(config: Path | None) -> Bundle:
    """Build the router's zip (config validated) and read it; nothing touches AWS."""
    from edgedrill.deploy import Bundle
    from router.errors import ConfigError
    from router.packaging import PackageError, build_package

    with tempfile.TemporaryDirectory(prefix="edgedrill-deploy-") as folder:
        try:
            package = build_package(Path(folder), config)
        except (ConfigError, PackageError) as exc:
            raise CliError(f"{exc}; nothing published") from exc
        return Bundle.of(package.path.read_bytes())


def deploy_command(args: argparse.Namespace) -> int:
    """Plan the deploy or rollback, print it, and carry it out unless ``--dry-run``."""
    from edgedrill import deploy

    api = aws_api(args)
    if args.rollback:
        unused = [
            flag
            for flag, value in (
                ("--config", args.config),
                ("--role", args.role),
                ("--runtime", args.runtime),
                ("--memory-mb", args.memory_mb),
                ("--timeout", args.timeout),
            )
            if value is not None
        ]
        if unused:
            _progress(f"--rollback packages nothing: {', '.join(unused)} not used")
        deploy.check_function_name(args.function)
        with aws_errors():
            lambda_client = api.client("lambda")
            cloudfront = api.client("cloudfront")
            plan = deploy.plan_rollback(lambda_client, cloudfront, args.function, args.distribution)
    else:
        if args.role is None:
            raise CliError("--role: required to deploy (only --rollback goes without it)")
        spec = deploy.FunctionSpec(
            name=args.function,
            role_arn=args.role,
            runtime=args.runtime or deploy.DEFAULT_RUNTIME,
            memory_mb=args.memory_mb if args.memory_mb is not None else deploy.DEFAULT_MEMORY_MB,
            timeout_s=args.timeout if args.timeout is not None else deploy.DEFAULT_TIMEOUT_S,
        )
        bundle = _package(args.config)
        with aws_errors():
            lambda_client = api.client("lambda")
            cloudfront = api.client("cloudfront")
            plan = deploy.plan_deploy(lambda_client, cloudfront, spec, bundle, args.distribution)
    if args.dry_run:
        print("dry run: nothing is changed", file=sys.stdout)  # noqa: T201
        print("\n".join(plan.describe()))  # noqa: T201
        print(plan.version_arn)  # noqa: T201
        return 0
    _progress("\n".join(plan.describe()))
    with aws_errors():
        version_arn = deploy.execute(plan, lambda_client, cloudfront, _progress)
    print(version_arn)  # noqa: T201
    return 0
