"""The web catalogue under ``/ui/``: server-rendered pages for people, over the same use cases as the
API dialects (``views``), signed in by a session cookie (``session``), every form guarded against
cross-site requests (``session.check_form``)."""
