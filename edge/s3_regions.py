"""One S3 region of the local distribution: a moto S3 server behind its fault proxy.

``python -m edge.s3_regions --config FILE`` starts, in one process, a moto
S3 server (moto's own WSGI application on werkzeug's threaded server), seeds
the bucket through boto3 with the deterministic corpus (public-read, with
``Cache-Control`` and ``Content-Type``), and puts the region's
:class:`~edge.fault_proxy.FaultProxy` in front of it. The proxy's URL is the
region's endpoint; the moto URL is kept for direct measurements.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from edge.agent import FaultAgent
from edge.corpus import CorpusObject, corpus
from edge.fault_proxy import FaultProxy
from edge.jsonapi import Json, route
from edge.process import LoopThread, run_child

if TYPE_CHECKING:
    from edge.fault_specs import S3Fault

logger = logging.getLogger(__name__)

# Requests are signed with these; moto accepts any credentials.
ACCESS_KEY = "AKIAEDGEDRILLLOCAL01"
SECRET_KEY = "edgedrill-local-secret-key-not-a-real-one"


def s3_domain(bucket: str, region: str) -> str:
    """The bucket's regional virtual-hosted domain, as CloudFront's S3 origin names it."""
    return f"{bucket}.s3.{region}.amazonaws.com"


def public_read_policy(bucket: str) -> str:
    """A bucket policy that lets anyone read objects (the unsigned origin fetch)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicRead",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
    )


def s3_client(endpoint: str, region: str) -> Any:
    """A boto3 S3 client for a local region (path-style, local credentials)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            connect_timeout=10,
            read_timeout=60,
        ),
    )


def seed(endpoint: str, region: str, bucket: str, objects: list[CorpusObject]) -> None:
    """Create the bucket and upload the corpus through boto3."""
    client = s3_client(endpoint, region)
    if region == "us-east-1":
        client.create_bucket(Bucket=bucket)
    else:
        client.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
        )
    client.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))

    def put(item: CorpusObject) -> None:
        client.put_object(
            Bucket=bucket,
            Key=item.key,
            Body=item.body(),
            ContentType=item.content_type,
            CacheControl=item.cache_control,
            ACL="public-read",
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(put, objects))


def _start_moto() -> tuple[Any, int]:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class Handler(MotoRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_request(self, *_args: Any, **_kwargs: Any) -> None:
            return

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Handler)
    threading.Thread(target=server.serve_forever, name="moto", daemon=True).start()
    return server, int(server.server_address[1])


def start(config: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Start moto, seed it, put the proxy in front; returns the ready payload and a stopper."""
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # Moto's handler threads and the proxy's loop share one interpreter: hand
    # the GIL over more often than the 5 ms default so the proxy stays prompt.
    sys.setswitchinterval(0.001)
    region = str(config["region"])
    bucket = str(config["bucket"])
    objects = corpus(int(config["objects"]), int(config.get("seed", 7)))
    moto, moto_port = _start_moto()
    backend_url = f"http://127.0.0.1:{moto_port}"
    seed(backend_url, region, bucket, objects)
    target = f"s3:{region}"
    agent: FaultAgent[S3Fault] = FaultAgent({target})
    loop = LoopThread(f"proxy-{region}")
    proxy = FaultProxy(target, ("127.0.0.1", moto_port), agent, seed=config.get("fault_seed"))
    loop.run(proxy.start())

    def stats(_body: Json, _params: dict[str, str]) -> tuple[int, Json]:
        return 200, proxy.stats.as_json()

    api = agent.serve([route("GET", "/stats", stats)], token=str(config["control_token"]))

    def stop() -> None:
        api.stop()
        loop.run(proxy.stop(), timeout=5)
        loop.stop()
        moto.shutdown()
        moto.server_close()

    ready = {
        "region": region,
        "endpoint": f"http://127.0.0.1:{proxy.port}",
        "backend": backend_url,
        "agent": api.url,
        "domain": s3_domain(bucket, region),
        "keys": [item.key for item in objects],
    }
    return ready, stop


def main() -> int:
    """``python -m edge.s3_regions --config FILE``."""
    return run_child("edge.s3_regions", start)


if __name__ == "__main__":
    sys.exit(main())
