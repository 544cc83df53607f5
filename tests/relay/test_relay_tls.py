"""A relay over https (``--tls-cert``, ``--tls-key``): a phone's browser gives the scanner
page its camera, service worker and WebCrypto only in a secure context, which plain http
to a LAN address is not (docs/gates.md, "Site relay")."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from admitone.middleware import CSP
from tests.relay.processes import wait_for
from tests.serving import ADMITONE, free_port, server_env, stop

TOKEN = "aod_" + "t" * 43


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (as a site would make its own, or mkcert)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay.test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "relay.crt", folder / "relay.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _relay_args(tmp_path: Path, port: int) -> list[str]:
    return [
        ADMITONE,
        "relay",
        "--upstream",
        f"http://127.0.0.1:{free_port()}",  # nobody there: the relay starts anyway
        "--event",
        str(uuid.uuid4()),
        "--port",
        str(port),
        "--database",
        str(tmp_path / "relay.db"),
    ]


def test_tls_takes_a_certificate_and_its_key_or_neither(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    env = server_env(tmp_path, ADMITONE_RELAY_TOKEN=TOKEN)
    for extra, said in (
        (["--tls-cert", str(cert)], "tls_cert and tls_key go together"),
        (["--tls-key", str(key)], "tls_cert and tls_key go together"),
        (["--tls-cert", str(cert), "--tls-key", str(tmp_path / "gone.key")], "--tls-key"),
    ):
        started = subprocess.run(
            [*_relay_args(tmp_path, free_port()), *extra],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert started.returncode == 2, started.stdout + started.stderr
        assert said in started.stderr


@pytest.mark.timeout_sensitive
def test_the_relay_serves_https_with_its_certificate(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    port = free_port()
    env = server_env(
        tmp_path,
        ADMITONE_RELAY_TOKEN=TOKEN,
        ADMITONE_RELAY_TLS_CERT=str(cert),
        ADMITONE_RELAY_TLS_KEY=str(key),
    )
    with (tmp_path / "relay.log").open("w") as log:
        process = subprocess.Popen(
            _relay_args(tmp_path, port), env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        base = f"https://127.0.0.1:{port}"
        trusted = ssl.create_default_context(cafile=str(cert))  # a phone that trusts it
        with httpx.Client(verify=trusted, timeout=5) as https:
            health = wait_for(lambda: https.get(f"{base}/healthz"), "the relay over https")
            assert health.status_code == 200
            page = https.get(f"{base}/scan")  # no bundle yet: says so, in HTML
            assert page.status_code == 503
            assert page.headers["content-security-policy"] == CSP.decode()
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)  # not in clear text
    finally:
        stop(process)
    assert "on https://127.0.0.1:" in (tmp_path / "relay.log").read_text()
