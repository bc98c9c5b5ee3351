"""TLS for fakes on 127.0.0.1: a throwaway CA (trustme), a server certificate for 127.0.0.1
and ``localhost``, and the CA bundle file a client trusts through ``SSL_CERT_FILE``.

    tls = make_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_bundle))   # before the client is built
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.server_context)

The bundle holds the test CA only, so a client that reaches the fake has verified it
against that CA and nothing else.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

SSL_CERT_FILE = "SSL_CERT_FILE"


@dataclass(frozen=True, slots=True)
class TestTls:
    """The CA, its bundle file, and a server context presenting a certificate it issued."""

    __test__ = False  # not a test class, whatever its name

    ca: trustme.CA
    ca_bundle: Path
    server_context: ssl.SSLContext


def make_tls(directory: Path, *identities: str) -> TestTls:
    """A new CA with its bundle written to ``directory``, and a server certificate for
    ``identities`` (default: ``127.0.0.1`` and ``localhost``)."""
    ca = trustme.CA()
    leaf = ca.issue_cert(*(identities or ("127.0.0.1", "localhost")))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    bundle = directory / "test-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return TestTls(ca=ca, ca_bundle=bundle, server_context=context)


def trust(tls: TestTls, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make clients built from now on in this process trust ``tls``'s CA (and only it)."""
    monkeypatch.setenv(SSL_CERT_FILE, str(tls.ca_bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
