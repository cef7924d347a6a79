"""The audit trail as a caller may read it (SWR's ``list_audit_logs``).

A site admin reads every entry. Anyone else reads the entries of the namespaces it administers (the
policy asked of each namespace the caller belongs to: ``access.allows`` the ``ADMINISTER`` action),
and no entry of another namespace nor of none (users, credentials: those are the site's). Nobody is
refused: every user administers at least its own namespace, and a list narrowed to what the caller
may see is how the other instance lists answer (webhook policies, immutable-tag rules), so an empty
page tells an outsider nothing a 403 would not. Entries are newest first.
"""

from __future__ import annotations

from datetime import datetime

from repohub.domain import access, roles
from repohub.domain.access import Action
from repohub.domain.catalog import check_paging
from repohub.domain.entities import Page, Principal, User
from repohub.domain.errors import InvalidInput
from repohub.store.audit import AuditRecord
from repohub.store.unit import Store

__all__ = ["MAX_PAGE", "VERBS", "AuditLog", "AuditRecord"]

VERBS = ("insert", "update", "delete")  # what a statement does: the first word of an entry's action
MAX_PAGE = 100  # SWR's maximum page of audit logs


class AuditLog:
    def __init__(self, store: Store, principal: Principal) -> None:
        self._store = store
        self.principal = principal

    async def page(self, verb: str | None, offset: int, limit: int) -> Page[AuditRecord]:
        """The entries the caller may read (module doc), of statements doing ``verb`` (None: any)."""
        roles.signed_in(self.principal, "read the audit log")
        check_paging(offset, limit, max_limit=MAX_PAGE)
        if verb is not None and verb not in VERBS:
            raise InvalidInput(f"verb must be one of {', '.join(VERBS)}", field="operation")
        user = self.principal.user  # None: a robot account, which administers no namespace
        namespace_ids = await self._administered(user) if user is not None else []
        if namespace_ids is not None and not namespace_ids:
            return Page(items=[], total=0, offset=offset, limit=limit)
        found, total = await self._store.audit.page(
            namespaces=namespace_ids, verb=verb, offset=offset, limit=limit
        )
        return Page(items=found, total=total, offset=offset, limit=limit)

    async def _administered(self, user: User) -> list[tuple[int, datetime]] | None:
        """The namespaces whose entries the caller reads, each from its creation on; None: every
        entry (a site admin). From its creation: SQLite gives a deleted namespace's id to the next one
        made, whose admins must not read the trail of the one before (the trail keeps no key to it)."""
        if user.is_admin:
            return None
        listing = await self._store.namespaces.listing(member_id=user.id)
        return [
            (namespace.id, namespace.created_at)
            for namespace, role, _ in listing
            if access.allows(access.effective_role(self.principal, role), Action.ADMINISTER)
        ]
