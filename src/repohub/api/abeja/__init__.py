"""The ABEJA Platform registry dialect (``/organizations/{organization_id}/registry/...``)."""
