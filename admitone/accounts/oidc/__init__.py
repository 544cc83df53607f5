"""Sign in with an OpenID Connect identity provider (docs/oidc.md).

``client.py`` speaks the protocol (discovery, authorization code with PKCE, ID token
checks) through Authlib and touches no database; ``service.py`` turns a verified
identity into an account (an existing link, a verified e-mail, or a new account).
"""
