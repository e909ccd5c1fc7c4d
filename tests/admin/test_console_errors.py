"""Unknown URLs and wrong methods: the console's HTML page outside SCIM, SCIM JSON inside."""

from __future__ import annotations

import httpx
import pytest

from hostsync.config import SCIM_PREFIX

SCIM_JSON = "application/scim+json; charset=utf-8"


@pytest.mark.parametrize("path", ["/nothing-here", "/hosts/x/y/z", "/integrations/nope"])
async def test_unknown_console_url_is_an_html_404(browser: httpx.AsyncClient, path: str) -> None:
    """A URL outside the SCIM prefix that matches no page answers the console's 404 page."""
    response = await browser.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>Page not found · hostsync</title>" in response.text
    assert 'href="/"' in response.text
    assert "urn:ietf:params:scim" not in response.text
    assert response.headers["x-frame-options"]  # the console's security headers


async def test_get_on_a_form_address_is_an_html_405(browser: httpx.AsyncClient) -> None:
    """Opening a form's POST-only address (an old Generate result) answers an HTML 405."""
    response = await browser.get("/integrations/host-synchronization/keys")
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("text/html")
    assert "POST" in response.headers["allow"]
    assert "Open the page from the menu" in response.text


async def test_scim_paths_keep_scim_errors(browser: httpx.AsyncClient) -> None:
    """Under the SCIM prefix an unknown endpoint is still a SCIM 404, a wrong method a 405."""
    missing = await browser.get(f"{SCIM_PREFIX}/Nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == SCIM_JSON
    assert missing.json()["status"] == "404"
    wrong = await browser.request("PUT", f"{SCIM_PREFIX}/ServiceProviderConfig")
    assert wrong.status_code == 405
    assert wrong.headers["content-type"] == SCIM_JSON
    assert (await browser.post("/healthz")).headers["content-type"] == SCIM_JSON
