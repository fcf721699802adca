"""Shared helpers of the quality tests: audit rows and an SMTP server with TLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from revops_ingest import SyncRun


def sync_run(
    status="failed", *, obj="Opportunity", minute=0, error="503 from Salesforce"
):
    """One audit row of a sync of Salesforce *obj*."""
    start = dt.datetime(2026, 1, 1, 12, minute, tzinfo=dt.timezone.utc)
    return SyncRun(
        sync_id=f"sync-{obj}-{minute:02d}",
        source_system="Salesforce",
        object_type=obj,
        start_time=start,
        end_time=start + dt.timedelta(seconds=5),
        records_processed=0 if status == "failed" else 10,
        records_failed=0,
        error_message=error if status == "failed" else None,
        status=status,
        error_type="UnexpectedResponseError" if status == "failed" else None,
        mode="incremental",
        full_refresh=False,
        dataset=f"/Salesforce/Raw/{obj}",
        commit_id=None,
        watermark_before=None,
        watermark_after=None,
        requests=1,
        retries=0,
        bytes_received=0,
        wait_seconds=0.0,
        token_refreshes=0,
        api_quota_used=None,
        api_quota_limit=None,
        warnings=(),
        library_version="0",
    )


def free_port():
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed(tmp_path):
    """Write a self-signed certificate for 127.0.0.1; return (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp_path / "smtp-cert.pem"
    key_path = tmp_path / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
