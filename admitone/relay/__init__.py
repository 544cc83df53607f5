"""The site relay (issue 16, point 7; docs/gates.md, "Site relay"): a laptop at the site
that serves the gates the same scanning API as upstream, decides every scan on its own
SQLite file, exactly once across the gates that use it, and forwards the scans upstream
as a paired device's offline batches when the link allows.

``models``: its own small schema (a cache of the bundle and a queue, not the main
database); ``store``: the decisions and the queue; ``sync``: the pulls and pushes to
upstream; ``api``: the relay's ASGI app.
"""
