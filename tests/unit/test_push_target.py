"""What the push check reads from nginx's headers (pure), and the tokens it believes: only ours,
current within the registry's leeway, and only for the repository asked about."""

from __future__ import annotations

import time

from cryptography.hazmat.primitives.asymmetric import ec

from repohub.api.registry.push_check import header_safe, push_target
from repohub.auth.registry_bearer import CLOCK_LEEWAY_SECONDS, BearerVerifier
from repohub.auth.registry_token import Scope, SigningKey, issue_token, libtrust_key_id

V1 = "sha256:" + "1" * 64


def test_manifest_writes_of_a_namespace_repository_are_targets() -> None:
    target = push_target("PUT", "/v2/acme/team/app/manifests/v%31?tag=rc&tag=v2&x=1")
    assert target is not None and not target.delete
    assert (target.namespace, target.repository, target.name) == ("acme", "team/app", "acme/team/app")
    assert target.references == ("v1", "rc", "v2")
    deleted = push_target("DELETE", f"/v2/acme/manifests/x/manifests/{V1}?tag=v1")
    assert deleted is not None and deleted.delete
    assert (deleted.repository, deleted.references) == ("manifests/x", (V1,))  # a DELETE sets no tag
    # nginx routes by the normalised path, the registry redirects the raw one there: judged as that.
    for odd in (
        "/v2/acme//app/manifests/v1",
        "//v2/acme/app/manifests/v1",  # normpath alone keeps a leading "//" (review)
        "///v2/acme/app/manifests/v1",
        "/v2/acme/app/x/../manifests/./v1",
        "/v2/acme/app%2Fmanifests/v1",
    ):
        found = push_target("PUT", odd)
        assert found is not None and (found.name, found.references) == ("acme/app", ("v1",)), odd


def test_a_blob_delete_is_a_target_judged_by_its_digest() -> None:
    target = push_target("DELETE", f"/v2/acme/team/app/blobs/{V1}")
    assert target is not None and target.delete
    assert (target.name, target.references) == ("acme/team/app", (V1,))


def test_anything_else_is_no_target() -> None:
    for method, uri in (
        ("GET", "/v2/acme/app/manifests/v1"),
        ("POST", "/v2/acme/app/manifests/v1"),
        (None, "/v2/acme/app/manifests/v1"),
        ("PUT", None),
        ("PUT", "/v2/app/manifests/v1"),
        ("PUT", "/v2/acme/app/blobs/" + V1),
        ("PUT", "/v2/acme/app/manifests/v1/"),
        ("PUT", "/v3/acme/app/manifests/v1"),
    ):
        assert push_target(method, uri) is None, (method, uri)


def test_reasons_are_safe_inside_a_json_string() -> None:
    assert header_safe("tag 'v1' of \"a\\b\"\n\u00e9 ok") == "tag v1 of ab ok"


def _key() -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    return SigningKey(private, b"", libtrust_key_id(private.public_key()))


def test_a_token_grants_its_actions_on_its_repository_while_the_registry_would_take_it() -> None:
    key = _key()
    verifier = BearerVerifier.of(key, issuer="repohub", service="registry")
    access = [Scope("repository", "acme/app", ("pull", "push")), Scope("repository", "acme/x", ("*",))]
    now = time.time()
    token = issue_token(
        key, issuer="repohub", service="registry", subject="a", access=access, ttl=60, now=now
    )
    bearer = f"Bearer {token['token']}"
    assert verifier.actions(bearer, "acme/app", now=now) == {"pull", "push"}
    assert verifier.actions(bearer, "acme/x", now=now) == {"*"}
    assert verifier.actions(bearer, "acme/other", now=now) == set()
    assert verifier.actions(f"bearer  {token['token']} ", "acme/app", now=now) == {"pull", "push"}
    # Past exp, within the leeway the registry may still give it: still read; beyond it: nothing.
    assert verifier.actions(bearer, "acme/app", now=now + 60 + CLOCK_LEEWAY_SECONDS - 1) == {"pull", "push"}
    assert verifier.actions(bearer, "acme/app", now=now + 60 + CLOCK_LEEWAY_SECONDS + 1) == set()
    assert verifier.actions(bearer, "acme/app", now=now - CLOCK_LEEWAY_SECONDS - 10) == set()  # nbf


def test_tokens_of_another_signer_issuer_or_service_grant_nothing() -> None:
    key = _key()
    verifier = BearerVerifier.of(key, issuer="repohub", service="registry")
    access = [Scope("repository", "acme/app", ("push",))]
    for signer, issuer, service in ((_key(), "repohub", "registry"), (key, "other", "registry"),
                                    (key, "repohub", "other")):  # fmt: skip
        token = issue_token(signer, issuer=issuer, service=service, subject="a", access=access)["token"]
        assert verifier.actions(f"Bearer {token}", "acme/app") == set(), (issuer, service)
    for authorization in (
        None,
        "",
        "Basic abc",
        "Bearer",
        "Bearer a.b",
        "Bearer a.b.c.d",
        "Bearer \u00e9.x.y",
    ):
        assert verifier.actions(authorization, "acme/app") == set()


def test_a_token_spelt_with_characters_outside_base64url_is_no_token() -> None:
    """Python's decoder would skip them: one valid token would verify under endless spellings, each
    a memo entry of its own and a signature check (review of issue 16)."""
    key = _key()
    verifier = BearerVerifier.of(key, issuer="repohub", service="registry")
    access = [Scope("repository", "acme/app", ("push",))]
    token = issue_token(key, issuer="repohub", service="registry", subject="a", access=access)["token"]
    head, payload, signature = token.split(".")
    assert verifier.actions(f"Bearer {token}", "acme/app") == {"push"}
    for spelt in (
        signature[:5] + "!!!!" + signature[5:],
        signature + "~~",
        signature[:5] + "=" + signature[5:],
    ):
        assert verifier.actions(f"Bearer {head}.{payload}.{spelt}", "acme/app") == set(), spelt
    assert len(verifier._verified) == 1


def test_verified_tokens_are_remembered_but_their_times_still_hold() -> None:
    key = _key()
    verifier = BearerVerifier.of(key, issuer="repohub", service="registry")
    access = [Scope("repository", "acme/app", ("push",))]
    now = time.time()
    token = issue_token(
        key, issuer="repohub", service="registry", subject="a", access=access, ttl=60, now=now
    )
    bearer = f"Bearer {token['token']}"
    assert verifier.actions(bearer, "acme/app", now=now) == {"push"}
    assert token["token"].encode() in verifier._verified  # the signature is not checked again
    assert verifier.actions(bearer, "acme/app", now=now + 60 + CLOCK_LEEWAY_SECONDS + 1) == set()
    assert verifier.actions("Bearer x.y.z", "acme/app") == set()
    assert b"x.y.z" not in verifier._verified  # failures are not remembered
    for n in range(BearerVerifier.MEMO_SIZE + 5):
        other = issue_token(key, issuer="repohub", service="registry", subject=str(n), access=access)
        verifier.actions(f"Bearer {other['token']}", "acme/app")
    assert len(verifier._verified) == BearerVerifier.MEMO_SIZE  # bounded: the oldest went first
    assert token["token"].encode() not in verifier._verified
