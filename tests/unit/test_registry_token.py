"""Registry bearer tokens: key material, libtrust kid, scope parsing, signing, registry config."""

from __future__ import annotations

import base64
import hashlib
import shutil
import socket
import stat
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import jwt
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from repohub.auth.registry_token import (
    CERT_COMMON_NAME,
    Scope,
    SigningKey,
    issue_token,
    libtrust_key_id,
    load_or_create_signing_key,
    parse_scope,
    registry_config_fragment,
)
from tests.needs import missing

ISSUER = "repohub"
SERVICE = "repohub-registry"


def _independent_kid(public_key: ec.EllipticCurvePublicKey) -> str:
    # The README recipe, re-typed here so a regression in the module cannot hide itself.
    der = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i : i + 4] for i in range(0, len(b32), 4))


@pytest.fixture
def key_paths(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "keys" / "token-key.pem", tmp_path / "keys" / "token-cert.pem"


@pytest.fixture
def signing_key(key_paths: tuple[Path, Path]) -> SigningKey:
    return load_or_create_signing_key(*key_paths)


def _cert(key: SigningKey) -> x509.Certificate:
    return x509.load_pem_x509_certificate(key.cert_pem)


# --------------------------------------------------------------------------- key material


def test_key_created_once_then_reloaded(key_paths: tuple[Path, Path]) -> None:
    key_path, cert_path = key_paths
    first = load_or_create_signing_key(key_path, cert_path)
    key_bytes, cert_bytes = key_path.read_bytes(), cert_path.read_bytes()

    second = load_or_create_signing_key(key_path, cert_path)

    assert second.kid == first.kid
    assert second.cert_pem == first.cert_pem == cert_bytes
    assert key_path.read_bytes() == key_bytes  # not rewritten
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cert_path.stat().st_mode) == 0o644
    assert not [p for p in key_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_cert_is_self_signed_for_the_key(signing_key: SigningKey) -> None:
    cert = _cert(signing_key)
    cn = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
    assert cn == CERT_COMMON_NAME
    assert cert.issuer == cert.subject
    validity = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert 3649 <= validity.days <= 3651
    assert _independent_kid(cert.public_key()) == signing_key.kid  # type: ignore[arg-type]
    assert "PRIVATE" not in repr(signing_key)


def test_concurrent_first_use_agrees_on_one_key(key_paths: tuple[Path, Path]) -> None:
    barrier = threading.Barrier(8)

    def load() -> SigningKey:
        barrier.wait()
        return load_or_create_signing_key(*key_paths)

    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = list(pool.map(lambda _: load(), range(8)))

    on_disk = load_or_create_signing_key(*key_paths)
    assert {k.kid for k in keys} == {on_disk.kid}


def test_missing_cert_is_regenerated_from_existing_key(key_paths: tuple[Path, Path]) -> None:
    key_path, cert_path = key_paths
    first = load_or_create_signing_key(key_path, cert_path)
    cert_path.unlink()

    again = load_or_create_signing_key(key_path, cert_path)

    assert again.kid == first.kid
    assert _independent_kid(_cert(again).public_key()) == first.kid  # type: ignore[arg-type]


def test_cert_for_another_key_is_rejected(tmp_path: Path, key_paths: tuple[Path, Path]) -> None:
    key_path, cert_path = key_paths
    load_or_create_signing_key(key_path, cert_path)
    load_or_create_signing_key(tmp_path / "other-key.pem", tmp_path / "other-cert.pem")
    cert_path.write_bytes((tmp_path / "other-cert.pem").read_bytes())

    with pytest.raises(ValueError, match="does not match"):
        load_or_create_signing_key(key_path, cert_path)


def test_libtrust_key_id_matches_recipe() -> None:
    public_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    kid = libtrust_key_id(public_key)
    assert kid == _independent_kid(public_key)
    groups = kid.split(":")
    assert len(groups) == 12
    assert all(len(g) == 4 for g in groups)


# --------------------------------------------------------------------------- tokens


def _decode(key: SigningKey, token: str) -> dict:
    return jwt.decode(token, _cert(key).public_key(), algorithms=["ES256"], audience=SERVICE, issuer=ISSUER)


def test_token_claims_and_header(signing_key: SigningKey) -> None:
    now = time.time()
    access = parse_scope("repository:acme/hello:pull,push registry:catalog:*")

    resp = issue_token(
        signing_key, issuer=ISSUER, service=SERVICE, subject="alice", access=access, ttl=120, now=now
    )

    assert resp["token"] == resp["access_token"]
    assert resp["expires_in"] == 120
    iat = int(now)
    assert resp["issued_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(iat))

    header = jwt.get_unverified_header(resp["token"])
    assert header["alg"] == "ES256"
    assert header["typ"] == "JWT"
    assert header["kid"] == _independent_kid(_cert(signing_key).public_key())  # type: ignore[arg-type]

    claims = _decode(signing_key, resp["token"])
    assert claims["iss"] == ISSUER
    assert claims["sub"] == "alice"
    assert claims["aud"] == SERVICE
    assert claims["iat"] == iat
    assert claims["exp"] == iat + 120
    assert iat - 30 <= claims["nbf"] < iat
    assert claims["access"] == [
        {"type": "repository", "name": "acme/hello", "actions": ["pull", "push"]},
        {"type": "registry", "name": "catalog", "actions": ["*"]},
    ]


def test_anonymous_token_with_nothing_granted(signing_key: SigningKey) -> None:
    resp = issue_token(signing_key, issuer=ISSUER, service=SERVICE, subject="", access=[])
    claims = _decode(signing_key, resp["token"])
    assert claims["sub"] == ""
    assert claims["access"] == []
    assert resp["expires_in"] == 300


def test_jti_is_unique(signing_key: SigningKey) -> None:
    tokens = [
        issue_token(signing_key, issuer=ISSUER, service=SERVICE, subject="a", access=[], now=1_700_000_000)
        for _ in range(3)
    ]
    jtis = {_jti(signing_key, t["token"]) for t in tokens}
    assert len(jtis) == 3


def _jti(key: SigningKey, token: str) -> str:
    opts = {"verify_exp": False, "verify_nbf": False, "verify_iat": False}
    return jwt.decode(token, _cert(key).public_key(), algorithms=["ES256"], audience=SERVICE, options=opts)[
        "jti"
    ]


def test_token_from_other_key_does_not_verify(signing_key: SigningKey, tmp_path: Path) -> None:
    other = load_or_create_signing_key(tmp_path / "o-key.pem", tmp_path / "o-cert.pem")
    resp = issue_token(other, issuer=ISSUER, service=SERVICE, subject="a", access=[])
    with pytest.raises(jwt.InvalidSignatureError):
        _decode(signing_key, resp["token"])


def test_plugin_class_becomes_class_claim(signing_key: SigningKey) -> None:
    access = parse_scope("repository(plugin):vieux/sshfs:pull")
    claims = _decode(
        signing_key,
        issue_token(signing_key, issuer=ISSUER, service=SERVICE, subject="a", access=access)["token"],
    )
    assert claims["access"] == [
        {"type": "repository", "name": "vieux/sshfs", "actions": ["pull"], "class": "plugin"}
    ]


def test_non_positive_ttl_rejected(signing_key: SigningKey) -> None:
    with pytest.raises(ValueError, match="ttl"):
        issue_token(signing_key, issuer=ISSUER, service=SERVICE, subject="a", access=[], ttl=0)


# --------------------------------------------------------------------------- scopes


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("repository:hello:pull", [Scope("repository", "hello", ("pull",))]),
        ("repository:acme/team/hello:pull,push", [Scope("repository", "acme/team/hello", ("pull", "push"))]),
        (
            "repository:acme/hello:pull,push,delete",
            [Scope("repository", "acme/hello", ("pull", "push", "delete"))],
        ),
        ("repository:acme/hello:*", [Scope("repository", "acme/hello", ("*",))]),
        ("repository:a.b_c__d-e--f/x:pull", [Scope("repository", "a.b_c__d-e--f/x", ("pull",))]),
        # The name may carry a registry host with a port, hence actions split at the last ':'.
        (
            "repository:localhost:5000/acme/hello:pull",
            [Scope("repository", "localhost:5000/acme/hello", ("pull",))],
        ),
        ("repository(plugin):vieux/sshfs:pull", [Scope("repository(plugin)", "vieux/sshfs", ("pull",))]),
        ("registry:catalog:*", [Scope("registry", "catalog", ("*",))]),
        ("repository:acme/hello:pull,pull,push", [Scope("repository", "acme/hello", ("pull", "push"))]),
        # An action no rule grants is still a well-formed one (left out of the token, not refused).
        ("repository:acme/hello:pull,frob", [Scope("repository", "acme/hello", ("pull", "frob"))]),
        ("plugin:vieux/sshfs:pull", [Scope("plugin", "vieux/sshfs", ("pull",))]),
        (
            "repository:a/b:pull  registry:catalog:*",
            [Scope("repository", "a/b", ("pull",)), Scope("registry", "catalog", ("*",))],
        ),
        ("", []),
        ("   ", []),
    ],
)
def test_parse_scope_valid(value: str, expected: list[Scope]) -> None:
    assert parse_scope(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "repository:acme/hello",  # no actions part
        "repository::pull",  # empty name
        ":acme/hello:pull",  # empty type
        "Repository:acme/hello:pull",  # types are lower-case
        "repository:acme/hello:",  # empty action list
        "repository:acme/hello:pull,",  # trailing empty action
        "repository:acme/hello:PULL",
        "repository:acme/hello:pull;rm",
        "repository:acme/Hello:pull",  # path components are lower-case (only a host may not be)
        "repository:acme//hello:pull",
        "repository:/acme:pull",
        "repository:acme/hello/:pull",
        "repository:acme/-hello:pull",
        "repository:../etc/passwd:pull",
        "repository:" + "a" * 256 + ":pull",
        "registry:repos:*",  # only 'catalog' exists
        "repository(plugin:acme/hello:pull",
        "repository:acme/hello:pull garbage",  # one bad item spoils the list
    ],
)
def test_parse_scope_invalid(value: str) -> None:
    with pytest.raises(ValueError, match="invalid scope"):
        parse_scope(value)


def test_parse_scope_rejects_pathological_name_quickly() -> None:
    # The naive spec grammar backtracks exponentially in Python's regex engine.
    started = time.perf_counter()
    with pytest.raises(ValueError):
        parse_scope("repository:" + "a-" * 120 + "!:pull")
    assert time.perf_counter() - started < 0.5


def test_scope_round_trips_through_str() -> None:
    scope = Scope("repository", "localhost:5000/acme/hello", ("pull", "push"))
    assert parse_scope(str(scope)) == [scope]


# --------------------------------------------------------------------------- config


def _fragment(cert_path: Path, *, realm: str = "http://127.0.0.1:8000/registry/token") -> str:
    return registry_config_fragment(
        realm=realm,
        service=SERVICE,
        issuer=ISSUER,
        cert_path=cert_path,
        events_url="http://127.0.0.1:8000/registry/events",
        events_secret="s3cret: #not-a-comment",
    )


def test_config_fragment_structure(tmp_path: Path) -> None:
    text = _fragment(tmp_path / "token-cert.pem")
    assert text.startswith("auth:\n  token:\n")
    assert yaml.safe_load(text) == {
        "auth": {
            "token": {
                "realm": "http://127.0.0.1:8000/registry/token",
                "service": SERVICE,
                "issuer": ISSUER,
                "rootcertbundle": str(tmp_path / "token-cert.pem"),
            }
        },
        "notifications": {
            "endpoints": [
                {
                    "name": "repohub",
                    "url": "http://127.0.0.1:8000/registry/events",
                    "headers": {"Authorization": ["Bearer s3cret: #not-a-comment"]},
                    "timeout": "2s",
                    "threshold": 3,
                    "backoff": "1s",
                }
            ]
        },
    }


def test_config_fragment_rejects_bad_secret(tmp_path: Path) -> None:
    for secret in ("", "line\nbreak"):
        with pytest.raises(ValueError, match="events_secret"):
            registry_config_fragment(
                realm="http://r",
                service=SERVICE,
                issuer=ISSUER,
                cert_path=tmp_path / "c.pem",
                events_url="http://e",
                events_secret=secret,
            )


# --------------------------------------------------------------------------- real registry


def _registry_binary() -> str:
    binary = shutil.which("docker-registry")
    if binary is None:
        missing("docker-registry is not installed (Debian package docker-registry)")
    return binary


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"docker-registry exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"docker-registry did not start listening:\n{log_path.read_text()}")


def test_real_registry_accepts_our_tokens(tmp_path: Path) -> None:
    binary = _registry_binary()
    key = load_or_create_signing_key(tmp_path / "token-key.pem", tmp_path / "token-cert.pem")
    stranger = load_or_create_signing_key(tmp_path / "other-key.pem", tmp_path / "other-cert.pem")
    port = _free_port()
    realm = "http://127.0.0.1:9/registry/token"  # never called: the test mints tokens itself
    config = tmp_path / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: info\n"
        "storage:\n"
        f"  filesystem: {{rootdirectory: {tmp_path / 'data'}}}\n"
        "  delete: {enabled: true}\n"
        "http:\n"
        f"  addr: 127.0.0.1:{port}\n" + _fragment(tmp_path / "token-cert.pem", realm=realm)
    )
    log_path = tmp_path / "registry.log"
    base = f"http://127.0.0.1:{port}"

    def bearer(k: SigningKey, access: list[Scope]) -> dict[str, str]:
        token = issue_token(k, issuer=ISSUER, service=SERVICE, subject="alice", access=access)["token"]
        return {"Authorization": f"Bearer {token}"}

    catalog = parse_scope("registry:catalog:*")
    with log_path.open("wb") as log:
        proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(proc, f"{base}/v2/", log_path)

        anonymous = httpx.get(f"{base}/v2/")
        assert anonymous.status_code == 401
        challenge = anonymous.headers["www-authenticate"]
        assert challenge.startswith("Bearer ")
        assert f'realm="{realm}"' in challenge
        assert f'service="{SERVICE}"' in challenge

        ok = httpx.get(f"{base}/v2/_catalog", headers=bearer(key, catalog))
        assert ok.status_code == 200, f"{ok.text}\n{log_path.read_text()}"
        assert ok.json() == {"repositories": []}

        forged = httpx.get(f"{base}/v2/_catalog", headers=bearer(stranger, catalog))
        assert forged.status_code == 401

        nothing_granted = httpx.get(f"{base}/v2/_catalog", headers=bearer(key, []))
        assert nothing_granted.status_code == 401
        assert 'error="insufficient_scope"' in nothing_granted.headers["www-authenticate"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
