"""The nginx configuration repohub ships (``repohub proxy config``): one template, rendered here."""

from repohub.nginx.config import DEFAULT_STATE_DIR, Limits, ProxyConfigError, render

__all__ = ["DEFAULT_STATE_DIR", "Limits", "ProxyConfigError", "render"]
