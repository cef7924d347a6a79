"""AK/SK verification against requests signed by huaweicloudsdkcore's own signer.

Requests are built the way ``huaweicloudsdkcore.client.Client`` builds them (path params quoted with
``safe=''``, query params as tuples, JSON bodies as ``json.dumps`` text), signed by ``Signer``, and sent
through ``requests``' request preparation so that the verifier sees what would arrive on the wire.
"""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
import requests
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkcore.utils import http_utils

from repohub.auth.aksk import (
    SignatureError,
    SignedRequest,
    parse_authorization,
    sign,
    verify,
)

AK = "HPUAEXAMPLEAK0000001"
SK = "example/secret+key="
HOST = "swr-api.example.test:8443"
SIGNED_AT = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)


def sdk_signed(
    method: str,
    path: str,
    *,
    path_params: dict[str, str] | None = None,
    query: list[tuple[str, Any]] | None = None,
    multi: tuple[str, ...] = (),
    body: Any = None,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> SdkRequest:
    """Build and sign an SdkRequest as huaweicloudsdkcore.client.Client.build_future_request does."""
    for name, value in (path_params or {}).items():
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    query_params = http_utils.parameters_to_tuples(
        http_utils.sanitize_for_serialization(query or []), {name: "multi" for name in multi}
    )
    header_params = {
        "User-Agent": "huaweicloud-usdk-python/3.0",
        "Content-Type": content_type,
        "X-Project-Id": "0123456789abcdef",  # added by BasicCredentials.sign_request
        "X-Sdk-Date": SIGNED_AT.strftime("%Y%m%dT%H%M%SZ"),  # fixed instead of utcnow() for determinism
        **(headers or {}),
    }
    if isinstance(body, dict | list):
        body = json.dumps(body)
    request = SdkRequest(
        method=method,
        schema="https",
        host=HOST,
        resource_path=path,
        query_params=query_params,
        header_params=header_params,
        body=body,
    )
    return Signer(BasicCredentials(AK, SK)).sign(request)


def on_the_wire(request: SdkRequest) -> SignedRequest:
    """What a server sees: the prepared request's path, parsed query, lower-cased headers and body."""
    prepared = requests.Request(
        request.method, request.url, headers=request.header_params, data=request.body
    ).prepare()
    url = urlsplit(prepared.path_url)
    body = prepared.body or b""
    assert isinstance(body, bytes)
    return SignedRequest(
        method=prepared.method or "",
        raw_path=url.path,
        query=parse_qsl(url.query, keep_blank_values=True),
        headers={name.lower(): value for name, value in prepared.headers.items()},
        body=body,
    )


def list_repos() -> SignedRequest:
    return on_the_wire(
        sdk_signed(
            "GET",
            "/v2/manage/repos",
            query=[
                ("namespace", "ns"),
                ("name", "my repo~ü"),
                ("limit", 10),
                ("category", ""),
                ("filter", "namespace::ns|mode::visible"),
            ],
        )
    )


def create_repo() -> SignedRequest:
    return on_the_wire(
        sdk_signed(
            "POST",
            "/v2/manage/namespaces/{namespace}/repos",
            path_params={"namespace": "ns"},
            body={"repository": "app", "is_public": False, "description": "dépôt"},
        )
    )


def show_encoded_repo() -> SignedRequest:
    return on_the_wire(
        sdk_signed(
            "GET",
            "/v2/manage/namespaces/{namespace}/repos/{repository}",
            path_params={"namespace": "ns", "repository": "a/b"},
        )
    )


def with_headers(request: SignedRequest, **changes: str) -> SignedRequest:
    return replace(request, headers={**request.headers, **changes})


@pytest.fixture(params=[list_repos, create_repo, show_encoded_repo], ids=["get", "post", "encoded-path"])
def signed(request: pytest.FixtureRequest) -> SignedRequest:
    return request.param()


def routes_nowhere(_path: str) -> bool:
    return False


def routes_somewhere(_path: str) -> bool:
    return True


def test_sdk_signed_requests_verify(signed: SignedRequest) -> None:
    verify(signed, SK, now=SIGNED_AT, routes_elsewhere=routes_nowhere)


def test_sign_reproduces_the_sdk_authorization(signed: SignedRequest) -> None:
    access_key, signed_headers, _ = parse_authorization(signed.headers["authorization"])
    assert sign(signed, access_key, SK, signed_headers=signed_headers) == signed.headers["authorization"]
    # The default header selection is the SDK's: every header without '_' (content-length came later).
    unsigned = {name: v for name, v in signed.headers.items() if name != "content-length"}
    assert sign(replace(signed, headers=unsigned), AK, SK) == signed.headers["authorization"]


def test_the_sdk_signs_what_the_fixtures_assume() -> None:
    request = show_encoded_repo()
    assert request.raw_path == "/v2/manage/namespaces/ns/repos/a%2Fb"
    _, signed_headers, _ = parse_authorization(request.headers["authorization"])
    assert signed_headers == ["content-type", "host", "user-agent", "x-project-id", "x-sdk-date"]


def test_repeated_query_keys_and_non_ascii_header() -> None:
    request = on_the_wire(
        sdk_signed(
            "GET",
            "/v2/manage/repos",
            query=[("tag", ["v2", "v1", "v 10"]), ("a", "")],
            multi=("tag",),
            headers={"X-Display-Name": " 项目 "},
        )
    )
    verify(request, SK, now=SIGNED_AT)
    # Arrival order of repeated values does not matter: the SDK sorts them.
    verify(replace(request, query=list(reversed(request.query))), SK, now=SIGNED_AT)


def test_unsigned_payload_body_is_refused_unless_allowed() -> None:
    request = on_the_wire(sdk_signed("PUT", "/upload", body="plain text", content_type="text/plain"))
    assert request.headers["x-sdk-content-sha256"] == "UNSIGNED-PAYLOAD"
    with pytest.raises(SignatureError, match="unsigned payloads"):
        verify(request, SK, now=SIGNED_AT)
    # A caller that does not act on such a body may take it; the body is then not covered.
    verify(replace(request, body=b"other text"), SK, now=SIGNED_AT, allow_unsigned_payload=True)


@pytest.mark.parametrize("content_type", ["application/json", "application/json;charset=UTF-8", ""])
def test_unsigned_payload_is_refused_where_the_sdk_never_declares_one(content_type: str) -> None:
    # The SDK signs JSON and BSON bodies (and bodies without a Content-Type) whatever it is told.
    request = on_the_wire(sdk_signed("PUT", "/upload", body="plain text", content_type="text/plain"))
    forged = with_headers(request, **{"content-type": content_type})
    with pytest.raises(SignatureError, match="unsigned payloads"):
        verify(forged, SK, now=SIGNED_AT, allow_unsigned_payload=True)


def test_empty_body_with_unsigned_payload_header_is_still_signed() -> None:
    # The SDK hashes a falsy body as empty even when it declares UNSIGNED-PAYLOAD.
    request = on_the_wire(sdk_signed("GET", "/v2/manage/repos", content_type="text/plain"))
    assert request.headers["x-sdk-content-sha256"] == "UNSIGNED-PAYLOAD"
    verify(request, SK, now=SIGNED_AT)
    smuggled = replace(request, body=b"smuggled")
    with pytest.raises(SignatureError, match="unsigned payloads"):
        verify(smuggled, SK, now=SIGNED_AT)
    with pytest.raises(SignatureError, match="does not match"):
        verify(smuggled, SK, now=SIGNED_AT, allow_unsigned_payload=True)


def test_declared_payload_hash_must_match_body() -> None:
    request = create_repo()
    declared = with_headers(request, **{"x-sdk-content-sha256": "0" * 64})
    with pytest.raises(SignatureError, match="X-Sdk-Content-Sha256"):
        verify(declared, SK, now=SIGNED_AT)


def test_the_sdk_reading_of_an_encoded_slash_holds_only_where_it_reaches_no_operation() -> None:
    # The SDK decodes the path before splitting it: its signature of repos/a%2Fb is that of repos/a/b.
    request = show_encoded_repo()
    seen: list[str] = []
    verify(request, SK, now=SIGNED_AT, routes_elsewhere=lambda path: seen.append(path) or False)
    assert seen == ["/v2/manage/namespaces/ns/repos/a/b"]
    for refused in (routes_somewhere, None):
        with pytest.raises(SignatureError, match="signature does not match"):
            verify(request, SK, now=SIGNED_AT, routes_elsewhere=refused)


def test_a_signature_over_separators_does_not_hold_for_encoded_slashes() -> None:
    tag = on_the_wire(sdk_signed("DELETE", "/v2/manage/namespaces/ns/repos/a/tags/v1"))
    replayed = replace(tag, raw_path="/v2/manage/namespaces/ns/repos/a%2Ftags%2Fv1")
    with pytest.raises(SignatureError, match="signature does not match"):
        verify(replayed, SK, now=SIGNED_AT, routes_elsewhere=routes_somewhere)


def test_a_path_signed_as_sent_holds_for_that_path_only() -> None:
    request = show_encoded_repo()
    as_sent = with_headers(request, authorization=sign(request, AK, SK, path_as_sent=True))
    verify(as_sent, SK, now=SIGNED_AT, routes_elsewhere=routes_somewhere)
    replayed = replace(as_sent, raw_path="/v2/manage/namespaces/ns/repos/a/b")
    with pytest.raises(SignatureError, match="signature does not match"):
        verify(replayed, SK, now=SIGNED_AT, routes_elsewhere=routes_nowhere)


def other_namespace(request: SignedRequest) -> SignedRequest:
    return replace(request, query=[(k, "other" if k == "namespace" else v) for k, v in request.query])


@pytest.mark.parametrize(
    ("build", "tamper"),
    [
        pytest.param(create_repo, lambda r: replace(r, body=r.body.replace(b"false", b"true ")), id="body"),
        pytest.param(create_repo, lambda r: replace(r, method="PUT"), id="method"),
        pytest.param(list_repos, lambda r: with_headers(r, **{"x-project-id": "other"}), id="signed-header"),
        pytest.param(list_repos, lambda r: with_headers(r, host="evil.example.test"), id="host"),
        pytest.param(list_repos, lambda r: replace(r, raw_path="/v2/manage/repos/x"), id="path"),
        pytest.param(
            show_encoded_repo,
            lambda r: replace(r, raw_path=r.raw_path.replace("a%2Fb", "a%2Fc")),
            id="encoded-path",
        ),
        pytest.param(list_repos, other_namespace, id="query"),
        pytest.param(list_repos, lambda r: replace(r, query=[*r.query, ("offset", "5")]), id="query-add"),
        pytest.param(list_repos, lambda r: replace(r, query=r.query[1:]), id="query-drop"),
    ],
)
def test_tampering_is_detected(build: Any, tamper: Any) -> None:
    with pytest.raises(SignatureError, match="signature does not match"):
        verify(tamper(build()), SK, now=SIGNED_AT, routes_elsewhere=routes_nowhere)


def test_wrong_secret_is_rejected_without_leaking_the_expected_signature(signed: SignedRequest) -> None:
    wrong = "not-the-secret"
    _, signed_headers, _ = parse_authorization(signed.headers["authorization"])
    expected = parse_authorization(sign(signed, AK, wrong, signed_headers=signed_headers)).signature
    with pytest.raises(SignatureError, match="signature does not match") as caught:
        verify(signed, wrong, now=SIGNED_AT)
    assert expected not in str(caught.value)


@pytest.mark.parametrize("offset", [timedelta(minutes=16), timedelta(minutes=-16)], ids=["old", "ahead"])
def test_date_outside_skew_is_rejected(offset: timedelta) -> None:
    with pytest.raises(SignatureError, match="X-Sdk-Date"):
        verify(list_repos(), SK, now=SIGNED_AT + offset)


def test_skew_is_inclusive_and_configurable() -> None:
    verify(list_repos(), SK, now=SIGNED_AT + timedelta(minutes=15))
    verify(list_repos(), SK, now=SIGNED_AT - timedelta(minutes=15))
    with pytest.raises(SignatureError, match="too old"):
        verify(list_repos(), SK, now=SIGNED_AT + timedelta(minutes=2), max_skew=timedelta(minutes=1))


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(list_repos(), SK, now=datetime(2026, 11, 22, 15, 30))


@pytest.mark.parametrize("value", ["2026-11-22T15:30:00Z", "20261122T1530Z", "2026112T153000Z", ""])
def test_malformed_date_is_rejected(value: str) -> None:
    with pytest.raises(SignatureError, match="malformed X-Sdk-Date"):
        verify(with_headers(list_repos(), **{"x-sdk-date": value}), SK, now=SIGNED_AT)


GOOD_SIGNATURE = "a" * 64


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Bearer token",
        "SDK-HMAC-SM3 Access=ak, SignedHeaders=host;x-sdk-date, Signature=" + GOOD_SIGNATURE,
        "SDK-HMAC-SHA256 Access=ak, SignedHeaders=host;x-sdk-date",
        "SDK-HMAC-SHA256 Access=ak SignedHeaders=host;x-sdk-date Signature=" + GOOD_SIGNATURE,
        "SDK-HMAC-SHA256 Access=ak, Access=ak, SignedHeaders=host;x-sdk-date, Signature=" + GOOD_SIGNATURE,
        "SDK-HMAC-SHA256 Access=, SignedHeaders=host;x-sdk-date, Signature=" + GOOD_SIGNATURE,
        "SDK-HMAC-SHA256 Access=ak, SignedHeaders=Host;X-Sdk-Date, Signature=" + GOOD_SIGNATURE,
        "SDK-HMAC-SHA256 Access=ak, SignedHeaders=host;;x-sdk-date, Signature=" + GOOD_SIGNATURE,
        "SDK-HMAC-SHA256 Access=ak, SignedHeaders=host;x-sdk-date, Signature=abc",
        "SDK-HMAC-SHA256 Access=ak, SignedHeaders=host;x-sdk-date, Signature=" + "g" * 64,
        "SDK-HMAC-SHA256 Access=ak, SignedHeaders=host;x-sdk-date, Signature=" + "é" * 64,
    ],
)
def test_malformed_authorization_is_rejected(value: str) -> None:
    with pytest.raises(SignatureError):
        parse_authorization(value)
    with pytest.raises(SignatureError):
        verify(with_headers(list_repos(), authorization=value), SK, now=SIGNED_AT)


def test_parse_authorization() -> None:
    value = f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;x-sdk-date, Signature={'AB' * 32}"
    assert parse_authorization(value) == (AK, ["host", "x-sdk-date"], "ab" * 32)


def test_missing_authorization_is_rejected() -> None:
    request = list_repos()
    headers = {name: value for name, value in request.headers.items() if name != "authorization"}
    with pytest.raises(SignatureError, match="missing Authorization"):
        verify(replace(request, headers=headers), SK, now=SIGNED_AT)


@pytest.mark.parametrize("left_out", ["host", "x-sdk-date"])
def test_required_headers_must_be_signed(left_out: str) -> None:
    # Correctly signed, just over too few headers: the policy check must reject it, not the HMAC.
    request = list_repos()
    names = [name for name in ("content-type", "host", "x-sdk-date") if name != left_out]
    request = with_headers(request, authorization=sign(request, AK, SK, signed_headers=names))
    with pytest.raises(SignatureError, match=f"must include {left_out}"):
        verify(request, SK, now=SIGNED_AT)


def test_signed_header_absent_from_request_is_rejected() -> None:
    request = list_repos()
    headers = {name: value for name, value in request.headers.items() if name != "x-project-id"}
    with pytest.raises(SignatureError, match="'x-project-id' is missing"):
        verify(replace(request, headers=headers), SK, now=SIGNED_AT)
