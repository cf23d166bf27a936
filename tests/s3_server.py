"""A real S3-compatible HTTP server on loopback for the object-storage tests: moto's server.

Why moto (`moto[server]`, PyPI, requirements-dev.txt): it is pip-installable with the rest of the
test tools (no binary download, no container), starts in about a second, and speaks the S3 REST
protocol over HTTP, so boto3 and django-storages run unchanged against it (signing, multipart,
listing, deletes). What it does not do: enforce ACLs or check signatures, so the tests check the
URLs we hand out (signed or plain), not the server's access control.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx

MOTO_SERVER = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "moto_server"
# moto accepts any credentials; these are test values, never real ones.
ACCESS_KEY, SECRET_KEY, REGION = "test-access-key", "test-secret-key-never-shown", "us-east-1"


@dataclass
class S3Server:
    process: subprocess.Popen
    endpoint: str

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)

    def bucket_create(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> set[str]:
        listed = self.client().list_objects_v2(Bucket=bucket)
        return {item["Key"] for item in listed.get("Contents", [])}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def s3_server_start(*, log: Path) -> S3Server:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with open(log, "wb") as out:
        process = subprocess.Popen([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited: {log.read_text()[-2000:]}")
        try:
            httpx.get(endpoint, timeout=1)
            return S3Server(process=process, endpoint=endpoint)
        except httpx.HTTPError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("moto_server did not answer within 30 s")
