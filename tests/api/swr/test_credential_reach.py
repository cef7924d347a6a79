"""What a credential's holder may reach beyond its own calls (in process): a long-term or a
docker-login credential manages no long-term credential, so a leaked CI password cannot bring back one
its owner disabled; and a namespace admin's audit log holds nothing of an earlier namespace whose id
SQLite gave to its namespace."""

from __future__ import annotations

import base64

from repohub.domain.accounts import project_id_for
from repohub.domain.audit import AuditLog
from repohub.domain.entities import Principal


async def _base(settings, accounts, name: str) -> str:
    async with accounts.service() as service:
        project = project_id_for(await service.accounts.user(name))
    return f"/v2/{project}/instances/{settings.resolved_swr_instance_id}"


async def test_a_long_term_or_docker_login_credential_manages_no_long_term_credential(
    client, settings, accounts
):
    token = await accounts.user("alice")
    base = await _base(settings, accounts, "alice")
    owner = {"X-Auth-Token": token}
    made = {}
    for name in ("ci-a", "ci-b"):
        answer = await client.post(f"{base}/long-term-credential", json={"name": name}, headers=owner)
        assert answer.status_code == 201, answer.text
        made[name] = answer.json()
    listed = (await client.get(f"{base}/long-term-credentials", headers=owner)).json()["auth_tokens"]
    ids = {item["name"]: item["token_id"] for item in listed}
    disabled = await client.put(
        f"{base}/long-term-credentials/{ids['ci-b']}", json={"enable": False}, headers=owner
    )
    assert disabled.status_code == 200, disabled.text
    secret = await client.post("/v2/manage/utils/secret", headers=owner)
    assert secret.status_code == 200, secret.text
    docker_token = next(iter(secret.json()["auths"].values()))["auth"]
    derived = base64.b64decode(docker_token).decode().split(":", 1)[1]
    for held in (made["ci-a"]["auth_token"], derived):
        headers = {"X-Auth-Token": held}
        assert (await client.get(f"{base}/long-term-credentials", headers=headers)).status_code == 403
        revived = await client.put(
            f"{base}/long-term-credentials/{ids['ci-b']}", json={"enable": True}, headers=headers
        )
        assert revived.status_code == 403
        deleted = await client.delete(f"{base}/long-term-credentials/{ids['ci-b']}", headers=headers)
        assert deleted.status_code == 403
    still = (await client.get(f"{base}/long-term-credentials", headers=owner)).json()["auth_tokens"]
    assert {item["name"]: item["enable"] for item in still} == {"ci-a": True, "ci-b": False}


async def test_an_audit_log_starts_at_its_namespace_s_creation(accounts):
    """On SQLite a deleted namespace's id goes to the next one made; its trail stays its own."""
    await accounts.user("alice")
    await accounts.user("mallory")
    await accounts.org("acme", owner="alice")
    await accounts.repository("acme/secret-project", by="alice")
    async with accounts.service("alice") as service:
        repository = await service.catalog.repository("acme", "secret-project")
        await service.catalog.delete_repository(repository)
        await service.namespaces.delete("acme")
    await accounts.org("evil", owner="mallory")
    async with accounts.service() as service:
        mallory = await service.accounts.user("mallory")
        page = await AuditLog(service.store, Principal(mallory, via="token")).page(None, 0, 100)
    targets = " ".join(record.target for record in page.items)
    assert "acme" not in targets and "secret-project" not in targets
    assert "evil" in targets  # its own creation is there
