"""AWS clients for edgedrill's AWS operations, and errors that name what failed.

Every AWS code path (deploy, AWS-mode faults, logs, alarms) makes its clients
here, from one :class:`AwsApi`: boto3's default credential chain, or the
named ``--profile``; the default endpoints, or ``--endpoint-url`` (botocore
also honours ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>`` by
itself, which is how the tests point everything at moto's server).

:func:`aws_call` wraps one call and turns botocore's exceptions into an
:class:`AwsError` that names the operation and the resource, never a stack
trace. Nothing here prints or formats a credential: botocore's messages name
the profile or the missing variable, never a key.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import threading
from typing import TYPE_CHECKING, Any

from chaos.errors import ChaosError

if TYPE_CHECKING:
    from collections.abc import Iterator

    import boto3

# Lambda@Edge functions live in us-east-1 (the Lambda@Edge restrictions page),
# and so does CloudFront's control plane and Route 53's.
EDGE_REGION = "us-east-1"

# Retries in botocore's "standard" mode back off on throttling; bounded so a
# drill's rollback never waits minutes on a broken endpoint.
_MAX_ATTEMPTS = 5
_CONNECT_TIMEOUT_S = 5.0
_READ_TIMEOUT_S = 30.0


class AwsError(ChaosError):
    """An AWS call failed; the message names the operation and the resource."""

    def __init__(
        self, message: str | None = None, *, operation: str = "", resource: str = "", code: str = ""
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.resource = resource
        self.code = code


@dataclasses.dataclass(frozen=True, slots=True)
class AwsApi:
    """Where AWS calls go: a profile (else the default chain) and an endpoint (else AWS's)."""

    profile: str | None = None
    endpoint_url: str | None = None

    def session(self) -> boto3.Session:
        """The boto3 session of the profile; an unknown profile is an :class:`AwsError`."""
        with aws_call("open session", f"profile {self.profile or '(default chain)'}"):
            return _session(self.profile)

    def client(self, service: str, region: str = EDGE_REGION) -> Any:
        """A client of ``service`` in ``region`` with bounded retries and timeouts."""
        from botocore.config import Config

        config = Config(
            retries={"mode": "standard", "max_attempts": _MAX_ATTEMPTS},
            connect_timeout=_CONNECT_TIMEOUT_S,
            read_timeout=_READ_TIMEOUT_S,
        )
        session = self.session()
        with aws_call("create client", f"{service} in {region}"), _CLIENTS_LOCK:
            return session.client(
                service,  # type: ignore[call-overload]
                region_name=region,
                endpoint_url=self.endpoint_url,
                config=config,
            )


# A session loads botocore's endpoint and service data once (about 0.4 s); every
# client of a command shares it. Sessions are not thread-safe while they create
# clients (boto3's "Session" guide), hence the lock; the clients themselves are.
_CLIENTS_LOCK = threading.Lock()


@functools.cache
def _session(profile: str | None) -> boto3.Session:
    import boto3

    return boto3.Session(profile_name=profile)


def reset_sessions() -> None:
    """Forget the cached sessions (tests that change credentials or profiles)."""
    _session.cache_clear()


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` (``""`` for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    error = response.get("Error")
    if not isinstance(error, dict):
        return ""
    return str(error.get("Code") or "")


@contextlib.contextmanager
def aws_call(operation: str, resource: str) -> Iterator[None]:
    """Run one AWS call; its failure becomes an :class:`AwsError` naming both."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ProfileNotFound,
    )

    where = f"{operation} on {resource}"
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        error = exc.response.get("Error", {})
        message = str(error.get("Message") or "") if isinstance(error, dict) else ""
        text = f"{where}: {code or 'error'}" + (f": {message}" if message else "")
        raise AwsError(text, operation=operation, resource=resource, code=code) from None
    except (NoCredentialsError, PartialCredentialsError):
        raise AwsError(
            f"{where}: no usable AWS credentials (boto3's default chain: environment, "
            "~/.aws/credentials, SSO, instance role; or --profile NAME)",
            operation=operation,
            resource=resource,
        ) from None
    except ProfileNotFound as exc:
        raise AwsError(f"{where}: {exc}", operation=operation, resource=resource) from None
    except NoRegionError:
        raise AwsError(
            f"{where}: no region (set AWS_DEFAULT_REGION or the profile's region)",
            operation=operation,
            resource=resource,
        ) from None
    except EndpointConnectionError as exc:
        raise AwsError(
            f"{where}: cannot reach {exc.kwargs.get('endpoint_url', 'the endpoint')}",
            operation=operation,
            resource=resource,
        ) from None
    except BotoCoreError as exc:
        raise AwsError(f"{where}: {exc}", operation=operation, resource=resource) from None
