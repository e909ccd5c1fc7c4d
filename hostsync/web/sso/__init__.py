"""Single sign-on's web side: each tenant's SAML endpoints, ``/saml/{tenant}/…`` (docs/sso.md)."""

from hostsync.web.sso.routes import saml_routes

__all__ = ["saml_routes"]
