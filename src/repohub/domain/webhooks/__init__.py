"""Webhooks: every push, pull and delete delivered to the namespace's subscribers, signed, retried.

- ``hooks``: what a webhook is (an Alauda hook or an SWR webhook policy, one model for both) and which
  events it selects.
- ``outbox``: a change's events, written as deliveries in the transaction of the change.
- ``payloads``: an event rendered in the hook's format (Alauda's, Harbor's), its headers signed.
- ``policies``: the management use cases both dialects call (who may do what).
- ``delivery``: the workers inside ``repohub serve`` that deliver the outbox, retrying with backoff.

Import from the modules; this package exports nothing, so importing one module loads no other.
"""
