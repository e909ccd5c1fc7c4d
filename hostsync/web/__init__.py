"""The ASGI application (Starlette): HTTP ⇄ service calls. Holds no SCIM rule of its own."""
