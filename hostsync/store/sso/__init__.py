"""Single sign-on's storage: each tenant's SAML identity provider, and one-time identifiers.

Every function takes the tenant's id and filters by it: one tenant's settings, assertion IDs
and AuthnRequest IDs are never read, changed or used up by another's sign-in.
"""
