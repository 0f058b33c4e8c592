"""`python -m athena_local`: the local Athena on 127.0.0.1:$ATHENA_LOCAL_PORT (default 5056),
executing on Trino at 127.0.0.1:$TRINO_PORT (default 8085), results written to the local S3
(AWS_ENDPOINT_URL, else moto on $MOTO_PORT)."""

from __future__ import annotations

import argparse
import logging
import os

import boto3

from .server import serve
from .service import Service
from .trino import Client


def main() -> None:
    p = argparse.ArgumentParser(prog="athena-local", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=int(os.environ.get("ATHENA_LOCAL_PORT", "5056")))
    p.add_argument("--trino", default=f"http://127.0.0.1:{os.environ.get('TRINO_PORT', '8085')}")
    p.add_argument("--s3-endpoint", default=os.environ.get("AWS_ENDPOINT_URL")
                   or f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '5055')}")
    p.add_argument("--state-dir", default=".local/athena-local")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s %(message)s")
    s3 = boto3.client("s3", endpoint_url=args.s3_endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    serve(Service(Client(args.trino), s3, args.state_dir), args.host, args.port)


if __name__ == "__main__":
    main()
