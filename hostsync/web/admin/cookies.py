"""The console's cookies: the session and the sign-in form's CSRF cookie.

The session cookie holds a random token (only its digest is stored), is ``HttpOnly``,
``SameSite=Lax``, and ``Secure`` with the ``__Host-`` prefix (no ``Domain``, path ``/``)
whenever the console is reached over HTTPS (the request's scheme, or ``HOSTSYNC_PUBLIC_URL``
starting with ``https://``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "hostsync_session"
SIGNIN_CSRF_COOKIE = "hostsync_signin_csrf"
HOST_PREFIX = "__Host-"


def is_https(request: Request, public_url: str | None) -> bool:
    """Whether the console is served over HTTPS (so cookies get ``Secure`` and ``__Host-``)."""
    if public_url and public_url.lower().startswith("https://"):
        return True
    return request.url.scheme == "https"


def cookie_name(request: Request, public_url: str | None, name: str) -> str:
    """The cookie's name as sent: ``__Host-`` + name over HTTPS, else the bare name."""
    return HOST_PREFIX + name if is_https(request, public_url) else name


def read_cookie(request: Request, public_url: str | None, name: str) -> str:
    """The value of a console cookie under the name it is set with for this request."""
    return request.cookies.get(cookie_name(request, public_url, name), "")


def set_cookie(
    response: Response,
    request: Request,
    public_url: str | None,
    name: str,
    value: str,
    *,
    max_age: int,
    same_site: str = "lax",
) -> None:
    """Set an HttpOnly cookie; over HTTPS it is Secure and named with the ``__Host-`` prefix."""
    response.set_cookie(
        cookie_name(request, public_url, name),
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=is_https(request, public_url),
        samesite=same_site,  # type: ignore[arg-type]
    )


def delete_cookie(response: Response, request: Request, public_url: str | None, name: str) -> None:
    """Expire a console cookie set by :func:`set_cookie`."""
    secure = is_https(request, public_url)
    response.delete_cookie(
        cookie_name(request, public_url, name), path="/", secure=secure, httponly=True
    )
