"""The service a request works with: account and catalogue use cases over one unit of work."""

from __future__ import annotations

from datetime import timedelta

from repohub.auth.secrets import SecretBox
from repohub.defaults import LOGIN_TOKEN_TTL
from repohub.domain.accounts import AccountService
from repohub.domain.catalog import CatalogService
from repohub.domain.entities import ANONYMOUS, Principal
from repohub.domain.gateway import RegistryGateway
from repohub.domain.grant_facts import GrantFacts
from repohub.domain.immutability import Immutability
from repohub.domain.immutability.policies import ImmutableRules
from repohub.domain.namespaces import NamespaceService
from repohub.domain.password_budget import PasswordBudget
from repohub.domain.quotas import QuotaService
from repohub.domain.registry import RegistryService
from repohub.domain.repository_access import RepositoryAccessService
from repohub.domain.retention import RetentionPolicies
from repohub.domain.retention.runner import RetentionRunner
from repohub.domain.robots import RobotService
from repohub.domain.sharing import SharingService
from repohub.domain.webhooks.policies import WebhookPolicies
from repohub.observability import context
from repohub.store.unit import Store


class Service:
    def __init__(
        self,
        store: Store,
        secret_box: SecretBox,
        principal: Principal = ANONYMOUS,
        *,
        registry: RegistryGateway | None = None,
        grant_facts: GrantFacts | None = None,
        password_budget: PasswordBudget | None = None,
        login_token_ttl: timedelta | None = LOGIN_TOKEN_TTL,
        allow_private: bool = False,
    ) -> None:
        """``allow_private``: webhook targets may be private addresses (REPOHUB_WEBHOOK_ALLOW_PRIVATE)."""
        self.store = store
        self._secret_box = secret_box
        self._allow_private = allow_private
        self._registry = registry  # the image registry, when configured: deletes go there first
        self.accounts = AccountService(store, secret_box, password_budget, login_token_ttl=login_token_ttl)
        self.robots = RobotService(store)  # the command line's: an operator's, no caller to check
        self.catalog = CatalogService(store, principal, registry=registry)
        self.registry = RegistryService(store, registry, grant_facts)
        self.namespaces = NamespaceService(store, principal)
        self.repository_access = RepositoryAccessService(store, principal)  # per-repository roles
        self.sharing = SharingService(store, principal)  # repositories shared with other namespaces
        self.retentions = RetentionPolicies(store, principal)
        self.immutability = Immutability(store, registry)  # the one decision on whether a tag may change
        self.immutable_rules = ImmutableRules(store, principal)  # managing the rules it decides by
        self.webhooks = WebhookPolicies(store, principal, secret_box, allow_private=allow_private)
        self.quotas = QuotaService(store, principal)  # the overview and quota usage a caller sees

    def acting_as(self, principal: Principal) -> None:
        """Bind the authenticated caller (resolved after the service was made)."""
        context.note_user(principal.name)  # for the access log
        self.catalog = CatalogService(self.store, principal, registry=self._registry)
        self.namespaces = NamespaceService(self.store, principal)
        self.repository_access = RepositoryAccessService(self.store, principal)
        self.sharing = SharingService(self.store, principal)
        self.retentions = RetentionPolicies(self.store, principal)
        self.immutable_rules = ImmutableRules(self.store, principal)
        self.quotas = QuotaService(self.store, principal)
        self.webhooks = WebhookPolicies(
            self.store, principal, self._secret_box, allow_private=self._allow_private
        )

    def retention_runner(self) -> RetentionRunner:
        """A retention run over this unit of work, deleting through the registry when one is set."""
        return RetentionRunner(self.store, self._registry)

    @property
    def principal(self) -> Principal:
        return self.catalog.principal
