"""TLS for the emulator: the server's ``ssl.SSLContext``, and a self-signed certificate made on the fly.

``--tls-cert``/``--tls-key`` serve https and wss with a certificate of your own (e.g. one made by ``mkcert``).
``--tls-self-signed [DIR]`` makes a certificate for ``localhost``, ``127.0.0.1``, ``::1`` and the other names the
emulator answers to, and says where it is, so that tests (``ssl.create_default_context(cafile=...)``,
``connection_verify=...`` in azure-core) and browsers (import it as trusted) can trust it. Without ``DIR`` the files
go to a temporary directory removed when the emulator stops; with ``DIR`` they are kept there and reused as long as
they are valid for at least another day and name the same hosts, so a browser told to trust them once keeps doing so.

Making a certificate needs the ``cryptography`` package (``pip install "webpubsub-emulator[tls]"``): the standard
library cannot make one, and a subprocess to the ``openssl`` tool would not work on every platform (Windows has none
by default). Serving a certificate you already have needs nothing beyond the standard library.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

__all__ = ["CERT_FILE", "KEY_FILE", "TlsFiles", "certificate_names", "self_signed", "server_context"]

CERT_FILE = "webpubsub-emulator-cert.pem"
KEY_FILE = "webpubsub-emulator-key.pem"
#: How long a made certificate is valid; one valid for less than a day more is made again.
VALID_DAYS = 90
_MIN_REMAINING = datetime.timedelta(days=1)


class TlsFiles(NamedTuple):
    """A certificate (PEM; also what clients trust for a self-signed one) and its private key (PEM)."""

    cert_file: str
    key_file: str


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """The server side: TLS 1.2 or newer with the certificate and key (``ValueError`` when they cannot be loaded)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(files.cert_file, files.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(
            f"cannot load the TLS certificate {files.cert_file!r} and key {files.key_file!r}: {exc}"
        ) from exc
    return context


def certificate_names(hosts: Iterable[str]) -> list[str]:
    """The names a self-signed certificate holds: ``localhost``, ``127.0.0.1``, ``::1`` and ``hosts`` (ports and
    brackets removed, wildcard addresses skipped), each once, in that order."""
    names = ["localhost", "127.0.0.1", "::1"]
    for host in hosts:
        name = host.strip().strip("[]").lower()
        if name and name not in ("0.0.0.0", "::") and name not in names:  # noqa: S104 (names, not a bind)
            names.append(name)
    return names


def _covers(cert_file: Path, names: Sequence[str]) -> bool:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    have = {str(v).lower() for v in san.get_values_for_type(x509.DNSName)}
    have |= {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    wanted = {str(ipaddress.ip_address(n)) if _is_ip(n) else n for n in names}
    not_after = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return wanted <= have and not_after - datetime.datetime.now(datetime.timezone.utc) > _MIN_REMAINING


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def self_signed(directory: str, hosts: Iterable[str] = ()) -> TlsFiles:
    """Make (or reuse) a self-signed certificate for :func:`certificate_names` in ``directory``.

    :raises RuntimeError: the ``cryptography`` package is not installed.
    """
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:
        raise RuntimeError(
            'making a self-signed certificate needs the cryptography package: pip install "webpubsub-emulator[tls]" '
            "(or give a certificate of your own with --tls-cert and --tls-key)"
        ) from None
    names = certificate_names(hosts)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / CERT_FILE, folder / KEY_FILE
    if cert_path.exists() and key_path.exists() and _covers(cert_path, names):
        return TlsFiles(str(cert_path), str(key_path))
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webpubsub-emulator (localhost)")])
    now = datetime.datetime.now(datetime.timezone.utc)
    alt_names = [x509.IPAddress(ipaddress.ip_address(n)) if _is_ip(n) else x509.DNSName(n) for n in names]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the key is readable by its owner only
    with os.fdopen(fd, "wb") as out:
        out.write(key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return TlsFiles(str(cert_path), str(key_path))
