"""Deploying the router to Lambda@Edge and pointing a distribution's origin-request at it.

A deploy is planned from reads alone, then carried out:

1. **Plan** (:func:`plan_deploy`, :func:`plan_rollback`): read the function
   (``GetFunction``, ``ListVersionsByFunction``) and the distribution's config
   with its ETag (``GetDistributionConfig``), and work out every change: create
   or update the function, the version to associate, and each cache
   behaviour's ``LambdaFunctionAssociations`` before -> after. ``--dry-run``
   prints this and stops.
2. **Execute** (:func:`execute`): create the function (``Publish=False``) and
   wait until it is active, or upload the new code and wait until the update is
   done; publish a version with the ``CodeSha256`` of what was uploaded (Lambda
   refuses to publish if ``$LATEST`` holds other code, e.g. a concurrent
   deploy); then ``UpdateDistribution`` with ``IfMatch`` set to the ETag read
   in step 1, so a distribution changed in between is refused
   (``PreconditionFailed``) instead of overwritten. Nothing is retried blindly.

Lambda@Edge's rules, from the CloudFront developer guide ("Restrictions on
Lambda@Edge", "Quotas on Lambda@Edge"): the function lives in us-east-1, runs
on x86_64, has no environment variables, and a trigger names a numbered
version (never ``$LATEST`` or an alias); an origin-request trigger may run up
to 30 s with a package of up to 50 MB zipped. CloudFront takes one association
per event type per cache behaviour.

Only the origin-request associations of *this* function change; every other
association (viewer-request, another function's) and every other field of the
distribution config is sent back as it was read. If no cache behaviour has an
origin-request association of this function, one is added to the default cache
behaviour (the plan says so). The CloudFront part takes its client as an
argument (:func:`read_distribution`, :func:`retarget`,
:func:`update_distribution`): it is the seam the tests stub.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import json
import re
from enum import StrEnum
from typing import TYPE_CHECKING, Final, Literal, get_args

from chaos.aws_api import EDGE_REGION, AwsError, aws_call
from edgedrill.aws_options import FUNCTION_NAME
from edgedrill.errors import CliError
from router.packaging import HANDLER

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_cloudfront.client import CloudFrontClient
    from mypy_boto3_cloudfront.type_defs import (
        DistributionConfigOutputTypeDef,
        LambdaFunctionAssociationsOutputTypeDef,
        LambdaFunctionAssociationTypeDef,
    )
    from mypy_boto3_lambda.client import LambdaClient
    from mypy_boto3_lambda.type_defs import FunctionConfigurationTypeDef, WaiterConfigTypeDef

Runtime = Literal["python3.11", "python3.12", "python3.13"]
RUNTIMES: Final[tuple[Runtime, ...]] = get_args(Runtime)
DEFAULT_RUNTIME: Final[Runtime] = "python3.12"
# Lambda's memory range; origin triggers take all of it (viewer triggers only 128 MB).
MEMORY_MB_RANGE: Final = (128, 10_240)
DEFAULT_MEMORY_MB: Final = 128
# An origin-request trigger is stopped after 30 s. The router answers in
# milliseconds or falls back to the default origin, so 5 s only bounds a hang.
TIMEOUT_S_RANGE: Final = (1, 30)
DEFAULT_TIMEOUT_S: Final = 5
ORIGIN_REQUEST: Final = "origin-request"
# Lambda@Edge runs x86_64 functions only.
ARCHITECTURE: Final = "x86_64"
DESCRIPTION: Final = "edgedrill router: Lambda@Edge origin-request trigger"
DEFAULT_BEHAVIOUR: Final = "DefaultCacheBehavior"

# Waits are bounded: a function that does not become active in 3 minutes is
# reported, not waited on forever. botocore polls once before its first sleep.
_WAIT_DELAY_S: Final = 2
_WAIT_MAX_ATTEMPTS: Final = 90
_MAX_VERSION_PAGES: Final = 1_000

_ROLE_ARN_RE = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/[\w+=,.@/-]{1,512}"
)


class DeployError(CliError):
    """The deploy could not run as asked."""


class Action(StrEnum):
    """What a deploy does to the function."""

    CREATE = "create"
    UPDATE = "update"
    ROLLBACK = "rollback"


@dataclasses.dataclass(frozen=True, slots=True)
class FunctionSpec:
    """The Lambda@Edge function to create or update."""

    name: str
    role_arn: str
    runtime: Runtime = DEFAULT_RUNTIME
    memory_mb: int = DEFAULT_MEMORY_MB
    timeout_s: int = DEFAULT_TIMEOUT_S

    def __post_init__(self) -> None:
        """Refuse what Lambda@Edge would refuse, naming the flag."""
        check_function_name(self.name)
        role_account(self.role_arn)
        if self.runtime not in RUNTIMES:
            raise DeployError(f"--runtime: {self.runtime!r} is not one of {', '.join(RUNTIMES)}")
        low, high = MEMORY_MB_RANGE
        if not low <= self.memory_mb <= high:
            raise DeployError(f"--memory-mb: {self.memory_mb} is outside {low}..{high}")
        low, high = TIMEOUT_S_RANGE
        if not low <= self.timeout_s <= high:
            raise DeployError(
                f"--timeout: {self.timeout_s} s is outside {low}..{high} "
                "(an origin-request trigger runs at most 30 s)"
            )


@dataclasses.dataclass(frozen=True, slots=True)
class Bundle:
    """The deployment zip's bytes and their digests."""

    data: bytes = dataclasses.field(repr=False)
    sha256_hex: str
    code_sha256: str

    @classmethod
    def of(cls, data: bytes) -> Bundle:
        """The bundle of ``data``; ``code_sha256`` is base64, as Lambda reports ``CodeSha256``."""
        digest = hashlib.sha256(data).digest()
        return cls(data, digest.hex(), base64.b64encode(digest).decode("ascii"))

    @property
    def size(self) -> int:
        """Zipped size in bytes."""
        return len(self.data)


@dataclasses.dataclass(frozen=True, slots=True)
class Distribution:
    """A distribution's config as read, with the ETag that guards its update."""

    id: str
    etag: str
    config: DistributionConfigOutputTypeDef


@dataclasses.dataclass(frozen=True, slots=True)
class BehaviourChange:
    """One cache behaviour's ``LambdaFunctionAssociations``, before and after."""

    behaviour: str
    before: LambdaFunctionAssociationsOutputTypeDef
    after: LambdaFunctionAssociationsOutputTypeDef


@dataclasses.dataclass(frozen=True, slots=True)
class Retarget:
    """A distribution config with this function's origin-request pointed at a version."""

    config: DistributionConfigOutputTypeDef
    changes: tuple[BehaviourChange, ...]
    added_to_default: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    """Everything a deploy or rollback will do, worked out from reads alone."""

    action: Action
    function_name: str
    function_arn: str
    distribution: Distribution
    version: int
    # False when Lambda numbers the version as it publishes: ``version`` is expected.
    version_known: bool
    existing_versions: tuple[int, ...] = ()
    spec: FunctionSpec | None = None
    bundle: Bundle | None = None
    upload_code: bool = True
    architecture_change: str | None = None
    config_changes: tuple[str, ...] = ()
    associated_versions: tuple[int, ...] = ()
    # The distribution config pointed at version_arn, worked out from the fields above.
    retarget: Retarget = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        """Work out the associations before -> after (a refused one is a DeployError now)."""
        change = retarget(self.distribution.config, self.function_arn, self.version_arn)
        object.__setattr__(self, "retarget", change)

    @property
    def version_arn(self) -> str:
        """The version ARN the distribution will point at."""
        return f"{self.function_arn}:{self.version}"

    def describe(self) -> list[str]:
        """The plan as lines of text, the associations as JSON."""
        lines = [f"function {self.function_name} in {EDGE_REGION}: {self._function_line()}"]
        if self.bundle is not None and self.spec is not None:
            lines.append(
                f"  package: {self.bundle.size:,} bytes zipped, sha256 {self.bundle.sha256_hex} "
                f"(CodeSha256 {self.bundle.code_sha256})"
                + ("" if self.upload_code else "; $LATEST already holds it, not uploaded")
            )
            if self.architecture_change is not None:
                lines.append(f"  code upload changes {self.architecture_change}")
            lines.append(
                f"  settings: handler {HANDLER}, {self.spec.runtime}, {ARCHITECTURE}, "
                f"{self.spec.memory_mb} MB, {self.spec.timeout_s} s, role {self.spec.role_arn}"
            )
            lines.extend(f"  configuration change: {change}" for change in self.config_changes)
        lines.append(f"  version: {self._version_line()}")
        lines.append(f"distribution {self.distribution.id} (ETag {self.distribution.etag}):")
        if self.retarget.added_to_default:
            lines.append(
                f"  no cache behaviour has an {ORIGIN_REQUEST} association of "
                f"{self.function_name}: adding one to the {DEFAULT_BEHAVIOUR}"
            )
        if not self.retarget.changes:
            lines.append(f"  already points at {self.version_arn}: not updated")
            return lines
        lines.append("  LambdaFunctionAssociations, before -> after:")
        document = {
            change.behaviour: {"before": change.before, "after": change.after}
            for change in self.retarget.changes
        }
        lines.extend("  " + line for line in json.dumps(document, indent=2).splitlines())
        return lines

    def _function_line(self) -> str:
        if self.action is Action.CREATE:
            return f"create {self.function_arn}"
        published = _version_list(self.existing_versions)
        if self.action is Action.ROLLBACK:
            return f"rollback of {self.function_arn} (published versions: {published})"
        return f"update {self.function_arn} (published versions: {published})"

    def _version_line(self) -> str:
        if self.action is Action.ROLLBACK:
            current = _version_list(self.associated_versions)
            return f"associated now {current}; back to the previous one, {self.version_arn}"
        if self.version_known and self.version in self.existing_versions:
            return (
                f"code and settings unchanged since version {self.version}: publishing "
                f"returns it, {self.version_arn}"
            )
        if self.version_known:
            return f"publish {self.version_arn}"
        return f"publish {self.version_arn} (expected: Lambda numbers the version as it publishes)"


def check_function_name(name: str) -> str:
    """``name`` if it is a Lambda function name (1-64 of letters, digits, ``-``, ``_``)."""
    if not FUNCTION_NAME.fullmatch(name):
        raise DeployError(
            f"--function: {name!r} is not a Lambda function name "
            "(1 to 64 letters, digits, '-' or '_')"
        )
    return name


def role_account(role_arn: str) -> tuple[str, str]:
    """The partition and account of an IAM role ARN; anything else is a :class:`DeployError`."""
    match = _ROLE_ARN_RE.fullmatch(role_arn)
    if match is None:
        raise DeployError(
            f"--role: {role_arn!r} is not an IAM role ARN "
            "(arn:aws:iam::<12-digit account>:role/NAME)"
        )
    return match["partition"], match["account"]


def split_function_arn(arn: str) -> tuple[str, str | None]:
    """A Lambda function ARN's unqualified part and its qualifier (``None`` if unqualified)."""
    parts = arn.split(":")
    # arn:partition:lambda:region:account:function:name[:qualifier]
    if len(parts) == 8:
        return ":".join(parts[:7]), parts[7]
    return arn, None


# --- CloudFront: the seam -------------------------------------------------------------


def read_distribution(cloudfront: CloudFrontClient, distribution_id: str) -> Distribution:
    """The distribution's config and ETag (``GetDistributionConfig``)."""
    with aws_call("GetDistributionConfig", f"distribution {distribution_id}"):
        response = cloudfront.get_distribution_config(Id=distribution_id)
    return Distribution(distribution_id, response["ETag"], response["DistributionConfig"])


def _behaviours(
    config: DistributionConfigOutputTypeDef,
) -> list[tuple[str, LambdaFunctionAssociationsOutputTypeDef | None]]:
    found = [(DEFAULT_BEHAVIOUR, config["DefaultCacheBehavior"].get("LambdaFunctionAssociations"))]
    for index, item in enumerate(config.get("CacheBehaviors", {}).get("Items", [])):
        name = f"CacheBehaviors[{index}] ({item['PathPattern']})"
        found.append((name, item.get("LambdaFunctionAssociations")))
    return found


def _is_ours(association: LambdaFunctionAssociationTypeDef, function_arn: str) -> bool:
    unqualified, _ = split_function_arn(association["LambdaFunctionARN"])
    return association["EventType"] == ORIGIN_REQUEST and unqualified == function_arn


def _items(
    associations: LambdaFunctionAssociationsOutputTypeDef | None,
) -> list[LambdaFunctionAssociationTypeDef]:
    return [] if associations is None else associations.get("Items", [])


def associated_versions(config: DistributionConfigOutputTypeDef, function_arn: str) -> list[str]:
    """The qualifiers of this function's origin-request associations, behaviour by behaviour."""
    return [
        split_function_arn(association["LambdaFunctionARN"])[1] or "(unqualified)"
        for _, associations in _behaviours(config)
        for association in _items(associations)
        if _is_ours(association, function_arn)
    ]


def retarget(
    config: DistributionConfigOutputTypeDef, function_arn: str, version_arn: str
) -> Retarget:
    """``config`` copied, this function's origin-request associations naming ``version_arn``.

    Only those ARNs change. If no cache behaviour has one, an origin-request
    association is added to the default cache behaviour; if that behaviour's
    origin-request slot holds another function, the deploy is refused (CloudFront
    takes one association per event type and behaviour, and edgedrill replaces
    only its own function's).
    """
    after = copy.deepcopy(config)
    changes: list[BehaviourChange] = []
    matched = False
    targets = [after["DefaultCacheBehavior"], *after.get("CacheBehaviors", {}).get("Items", [])]
    for (name, before), behaviour in zip(_behaviours(config), targets, strict=True):
        associations = behaviour.get("LambdaFunctionAssociations")
        if before is None or associations is None:
            continue
        changed = False
        for association in associations.get("Items", []):
            if _is_ours(association, function_arn):
                matched = True
                if association["LambdaFunctionARN"] != version_arn:
                    association["LambdaFunctionARN"] = version_arn
                    changed = True
        if changed:
            changes.append(
                BehaviourChange(name, copy.deepcopy(before), copy.deepcopy(associations))
            )
    if matched:
        return Retarget(after, tuple(changes), added_to_default=False)
    default = after["DefaultCacheBehavior"]
    previous = default.get("LambdaFunctionAssociations")
    items = list(copy.deepcopy(_items(previous)))
    for association in items:
        if association["EventType"] == ORIGIN_REQUEST:
            raise DeployError(
                f"{DEFAULT_BEHAVIOUR}: its {ORIGIN_REQUEST} trigger is "
                f"{association['LambdaFunctionARN']}, another function; edgedrill deploy "
                "replaces only its own function's association"
            )
    items.append(
        {"LambdaFunctionARN": version_arn, "EventType": ORIGIN_REQUEST, "IncludeBody": False}
    )
    default["LambdaFunctionAssociations"] = {"Quantity": len(items), "Items": items}
    change = BehaviourChange(
        DEFAULT_BEHAVIOUR,
        copy.deepcopy(previous) if previous is not None else {"Quantity": 0},
        copy.deepcopy(default["LambdaFunctionAssociations"]),
    )
    return Retarget(after, (change,), added_to_default=True)


def update_distribution(
    cloudfront: CloudFrontClient,
    distribution: Distribution,
    config: DistributionConfigOutputTypeDef,
) -> str:
    """``UpdateDistribution`` guarded by the ETag read; its new ETag.

    A ``PreconditionFailed`` means the distribution changed since it was read:
    that is a :class:`DeployError` telling to re-run, never a blind retry.
    """
    try:
        with aws_call("UpdateDistribution", f"distribution {distribution.id}"):
            response = cloudfront.update_distribution(
                Id=distribution.id, IfMatch=distribution.etag, DistributionConfig=config
            )
    except AwsError as exc:
        if exc.code == "PreconditionFailed":
            raise DeployError(
                f"distribution {distribution.id} changed since it was read (ETag "
                f"{distribution.etag}); nothing was overwritten: re-run edgedrill deploy"
            ) from None
        raise
    return response["ETag"]


# --- Lambda ---------------------------------------------------------------------------


def _get_function(lambda_client: LambdaClient, name: str) -> FunctionConfigurationTypeDef | None:
    try:
        with aws_call("GetFunction", f"function {name}"):
            return lambda_client.get_function(FunctionName=name)["Configuration"]
    except AwsError as exc:
        if exc.code == "ResourceNotFoundException":
            return None
        raise


def _published(lambda_client: LambdaClient, name: str) -> dict[int, str]:
    """Published version numbers (``$LATEST`` skipped) and each one's CodeSha256."""
    versions: dict[int, str] = {}
    with aws_call("ListVersionsByFunction", f"function {name}"):
        pages = lambda_client.get_paginator("list_versions_by_function").paginate(FunctionName=name)
        for count, page in enumerate(pages, start=1):
            if count > _MAX_VERSION_PAGES:
                raise DeployError(
                    f"function {name}: more than {_MAX_VERSION_PAGES} pages of versions"
                )
            for item in page.get("Versions", []):
                version = item.get("Version", "")
                if version.isdigit():
                    versions[int(version)] = item.get("CodeSha256", "")
    return dict(sorted(versions.items()))


def _config_changes(current: FunctionConfigurationTypeDef, spec: FunctionSpec) -> list[str]:
    wanted: list[tuple[str, object, object]] = [
        ("Role", current.get("Role"), spec.role_arn),
        ("Handler", current.get("Handler"), HANDLER),
        ("Runtime", current.get("Runtime"), spec.runtime),
        ("MemorySize", current.get("MemorySize"), spec.memory_mb),
        ("Timeout", current.get("Timeout"), spec.timeout_s),
    ]
    changes = [f"{key} {old} -> {new}" for key, old, new in wanted if old != new]
    variables = current.get("Environment", {}).get("Variables") or {}
    if variables:
        # Never print their values: they may be secrets.
        changes.append(
            f"Environment: remove {len(variables)} variable(s) (Lambda@Edge allows none)"
        )
    return changes


def _architecture_change(current: FunctionConfigurationTypeDef) -> str | None:
    architectures = current.get("Architectures") or [ARCHITECTURE]
    if list(architectures) == [ARCHITECTURE]:
        return None
    return f"Architectures {','.join(architectures)} -> {ARCHITECTURE} (Lambda@Edge runs x86_64)"


def plan_deploy(
    lambda_client: LambdaClient,
    cloudfront: CloudFrontClient,
    spec: FunctionSpec,
    bundle: Bundle,
    distribution_id: str,
) -> Plan:
    """Plan publishing ``bundle`` as ``spec`` and associating it, from reads alone."""
    current = _get_function(lambda_client, spec.name)
    distribution = read_distribution(cloudfront, distribution_id)
    if current is None:
        partition, account = role_account(spec.role_arn)
        function_arn = f"arn:{partition}:lambda:{EDGE_REGION}:{account}:function:{spec.name}"
        return Plan(
            Action.CREATE,
            spec.name,
            function_arn,
            distribution,
            version=1,
            version_known=True,
            spec=spec,
            bundle=bundle,
        )
    function_arn, _ = split_function_arn(current.get("FunctionArn", ""))
    published = _published(lambda_client, spec.name)
    changes = _config_changes(current, spec)
    architecture = _architecture_change(current)
    upload = current.get("CodeSha256") != bundle.code_sha256 or architecture is not None
    latest = max(published, default=0)
    # Publishing an unchanged $LATEST returns the latest version instead of a new one
    # (Lambda API reference, PublishVersion).
    unchanged = (
        not upload and not changes and latest > 0 and published[latest] == bundle.code_sha256
    )
    version = latest if unchanged else latest + 1
    return Plan(
        Action.UPDATE,
        spec.name,
        function_arn,
        distribution,
        version=version,
        version_known=unchanged,
        existing_versions=tuple(published),
        spec=spec,
        bundle=bundle,
        upload_code=upload,
        architecture_change=architecture,
        config_changes=tuple(changes),
    )


def plan_rollback(
    lambda_client: LambdaClient, cloudfront: CloudFrontClient, name: str, distribution_id: str
) -> Plan:
    """Plan re-pointing the distribution at the version before the one associated now."""
    current = _get_function(lambda_client, check_function_name(name))
    if current is None:
        raise DeployError(f"function {name} does not exist in {EDGE_REGION}: nothing to roll back")
    function_arn, _ = split_function_arn(current.get("FunctionArn", ""))
    distribution = read_distribution(cloudfront, distribution_id)
    qualifiers = associated_versions(distribution.config, function_arn)
    if not qualifiers:
        raise DeployError(
            f"distribution {distribution_id} has no {ORIGIN_REQUEST} association of {name}: "
            "nothing to roll back"
        )
    numbers = sorted({int(q) for q in qualifiers if q.isdigit()})
    if len(numbers) != len(set(qualifiers)):
        raise DeployError(
            f"distribution {distribution_id}: an {ORIGIN_REQUEST} association of {name} names "
            f"{', '.join(sorted(set(qualifiers)))}, not a numbered version"
        )
    if len(numbers) > 1:
        raise DeployError(
            f"distribution {distribution_id}: cache behaviours point at different versions of "
            f"{name} ({_version_list(numbers)}); deploy one version before rolling back"
        )
    published = _published(lambda_client, name)
    earlier = [version for version in published if version < numbers[0]]
    if not earlier:
        raise DeployError(
            f"function {name}: no published version before {numbers[0]} to roll back to"
        )
    target = earlier[-1]
    return Plan(
        Action.ROLLBACK,
        name,
        function_arn,
        distribution,
        version=target,
        version_known=True,
        existing_versions=tuple(published),
        associated_versions=tuple(numbers),
    )


def _waiter_config() -> WaiterConfigTypeDef:
    return {"Delay": _WAIT_DELAY_S, "MaxAttempts": _WAIT_MAX_ATTEMPTS}


def _wait_active(lambda_client: LambdaClient, name: str, qualifier: str = "$LATEST") -> None:
    with aws_call("wait until active", f"function {name}:{qualifier}"):
        lambda_client.get_waiter("function_active_v2").wait(
            FunctionName=name, Qualifier=qualifier, WaiterConfig=_waiter_config()
        )


def _wait_updated(lambda_client: LambdaClient, name: str) -> None:
    with aws_call("wait until updated", f"function {name}"):
        lambda_client.get_waiter("function_updated_v2").wait(
            FunctionName=name, WaiterConfig=_waiter_config()
        )


def _check_uploaded(name: str, reported: str, bundle: Bundle) -> None:
    if reported != bundle.code_sha256:
        raise DeployError(
            f"function {name}: Lambda reports CodeSha256 {reported} for the upload, "
            f"not {bundle.code_sha256}: nothing published"
        )


def _publish(
    lambda_client: LambdaClient,
    plan: Plan,
    spec: FunctionSpec,
    bundle: Bundle,
    progress: Callable[[str], None],
) -> str:
    """Create or update the function, publish a version; its ARN."""
    name = spec.name
    if plan.action is Action.CREATE:
        progress(f"creating function {name} ({bundle.size:,} bytes)")
        with aws_call("CreateFunction", f"function {name}"):
            created = lambda_client.create_function(
                FunctionName=name,
                Role=spec.role_arn,
                Runtime=spec.runtime,
                Handler=HANDLER,
                Code={"ZipFile": bundle.data},
                Description=DESCRIPTION,
                Timeout=spec.timeout_s,
                MemorySize=spec.memory_mb,
                Publish=False,
                PackageType="Zip",
                Architectures=[ARCHITECTURE],
            )
        _check_uploaded(name, created["CodeSha256"], bundle)
        _wait_active(lambda_client, name)
    else:
        if plan.upload_code:
            progress(f"uploading code to {name} ({bundle.size:,} bytes)")
            with aws_call("UpdateFunctionCode", f"function {name}"):
                updated = lambda_client.update_function_code(
                    FunctionName=name,
                    ZipFile=bundle.data,
                    Publish=False,
                    Architectures=[ARCHITECTURE],
                )
            _check_uploaded(name, updated["CodeSha256"], bundle)
            _wait_updated(lambda_client, name)
        if plan.config_changes:
            progress(f"updating configuration of {name}: {'; '.join(plan.config_changes)}")
            with aws_call("UpdateFunctionConfiguration", f"function {name}"):
                lambda_client.update_function_configuration(
                    FunctionName=name,
                    Role=spec.role_arn,
                    Handler=HANDLER,
                    Runtime=spec.runtime,
                    MemorySize=spec.memory_mb,
                    Timeout=spec.timeout_s,
                    Environment={"Variables": {}},
                )
            _wait_updated(lambda_client, name)
    try:
        with aws_call("PublishVersion", f"function {name}"):
            published = lambda_client.publish_version(
                FunctionName=name, CodeSha256=bundle.code_sha256
            )
    except AwsError as exc:
        if "CodeSha256" in str(exc):
            raise DeployError(
                f"{exc}; $LATEST no longer holds this upload (another deploy?): nothing "
                "published, re-run edgedrill deploy"
            ) from None
        raise
    version = int(published["Version"])
    if version in plan.existing_versions:
        progress(
            f"code and settings unchanged since version {version}: Lambda returned it, "
            "nothing new published"
        )
    else:
        progress(f"published version {version}")
        _wait_active(lambda_client, name, str(version))
    return published["FunctionArn"]


def execute(
    plan: Plan,
    lambda_client: LambdaClient,
    cloudfront: CloudFrontClient,
    progress: Callable[[str], None],
) -> str:
    """Carry out ``plan``; the version ARN the distribution now points at."""
    function_arn, version_arn = plan.function_arn, plan.version_arn
    if plan.action is not Action.ROLLBACK:
        if plan.spec is None or plan.bundle is None:
            raise DeployError(f"the plan to {plan.action} {plan.function_name} has no package")
        version_arn = _publish(lambda_client, plan, plan.spec, plan.bundle, progress)
        function_arn, _ = split_function_arn(version_arn)
        if version_arn != plan.version_arn:
            progress(f"Lambda published {version_arn} (the plan expected {plan.version_arn})")
    change = retarget(plan.distribution.config, function_arn, version_arn)
    if not change.changes:
        progress(f"distribution {plan.distribution.id} already points at {version_arn}")
        return version_arn
    where = ", ".join(item.behaviour for item in change.changes)
    progress(f"pointing distribution {plan.distribution.id} ({where}) at {version_arn}")
    etag = update_distribution(cloudfront, plan.distribution, change.config)
    progress(
        f"distribution {plan.distribution.id} updated (ETag {etag}); CloudFront takes "
        "minutes to replicate the function to its edge locations"
    )
    return version_arn


def _version_list(versions: tuple[int, ...] | list[int]) -> str:
    return ", ".join(str(version) for version in versions) or "none"
