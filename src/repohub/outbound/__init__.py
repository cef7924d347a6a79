"""Calls repohub makes to the outside world on its own account: webhook deliveries (``sender``).

Kept apart from ``registry`` (the registry repohub fronts, a trusted peer) because the targets here
are anybody's URLs: every request is checked against the SSRF rule first.
"""
