"""Tokens asked for in one turn of the event loop are signed together, each correctly and on its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

import jwt
import pytest
from cryptography import x509

from repohub.auth import batch_signer
from repohub.auth.batch_signer import BatchSigner
from repohub.auth.registry_token import SigningKey, load_or_create_signing_key, parse_scope, token_claims


@pytest.fixture
def signing_key(tmp_path: Path) -> SigningKey:
    return load_or_create_signing_key(tmp_path / "key.pem", tmp_path / "cert.pem")


def _claims(subject: str) -> bytes:
    access = parse_scope(f"repository:{subject}/app:pull")
    return token_claims(issuer="repohub", service="registry", subject=subject, access=access).payload


def _verified(key: SigningKey, token: str) -> dict[str, object]:
    public_key = x509.load_pem_x509_certificate(key.cert_pem).public_key()
    return jwt.decode(token, public_key, algorithms=["ES256"], audience="registry")  # type: ignore[arg-type]


async def test_one_turn_of_requests_is_signed_in_one_batch(
    signing_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = BatchSigner(signing_key)
    batches: list[int] = []
    sign_waiting = signer._sign_waiting

    def counted() -> None:
        batches.append(len(signer._waiting))
        sign_waiting()

    monkeypatch.setattr(signer, "_sign_waiting", counted)
    subjects = [f"user{n}" for n in range(5)]
    tokens = await asyncio.gather(*(signer.sign(_claims(subject)) for subject in subjects))
    assert batches == [5]
    assert [_verified(signing_key, token)["sub"] for token in tokens] == subjects
    _verified(signing_key, await signer.sign(_claims("alone")))
    assert batches == [5, 1]  # a lone request is a batch of its own, one turn later


async def test_a_cancelled_request_is_skipped_and_the_rest_signed(signing_key: SigningKey) -> None:
    signer = BatchSigner(signing_key)
    gone = asyncio.ensure_future(signer.sign(_claims("gone")))
    kept = asyncio.ensure_future(signer.sign(_claims("kept")))
    await asyncio.sleep(0)  # both are waiting for the batch now
    gone.cancel()
    assert _verified(signing_key, await kept)["sub"] == "kept"
    assert gone.cancelled()


async def test_a_failed_signature_fails_only_its_own_request(
    signing_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_sign = batch_signer.sign_jws

    def refusing(key: SigningKey, payload: bytes) -> str:
        if b'"sub":"bad"' in payload:
            raise ValueError("cannot sign that")
        return real_sign(key, payload)

    monkeypatch.setattr(batch_signer, "sign_jws", refusing)
    signer = BatchSigner(signing_key)
    results = await asyncio.gather(
        signer.sign(_claims("good")), signer.sign(_claims("bad")), return_exceptions=True
    )
    assert _verified(signing_key, results[0])["sub"] == "good"  # type: ignore[arg-type]
    assert isinstance(results[1], ValueError)
