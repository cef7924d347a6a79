"""``python -m repohub`` runs the command line."""

from repohub.cli import app

app()
