"""The incident web page at ``/ui/``: server-rendered, read-only pages of incidents behind a
sign-in (the API token for a session cookie, or a trusted reverse proxy's header).
``handlers.ui.app`` mounts it; nothing here changes an incident."""
