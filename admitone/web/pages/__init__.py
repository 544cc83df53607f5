"""HTML page routers, one module per area; each domain registers its own in
``admitone/domains.py``."""
