"""The fake next-auth route as seen by an httpx client."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from opsdash.fakes.authroute import AuthMode, FakeAuthRoute


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


@pytest.fixture
def auth() -> Iterator[FakeAuthRoute]:
    with FakeAuthRoute() as fake:
        yield fake


def test_providers_point_back_at_the_app(http: httpx.Client, auth: FakeAuthRoute) -> None:
    response = http.get(f"{auth.url}/api/auth/providers")
    assert response.status_code == 200
    google = response.json()["google"]
    assert set(google) == {"id", "name", "type", "signinUrl", "callbackUrl"}
    assert google["callbackUrl"] == f"{auth.url}/api/auth/callback/google"
    assert google["signinUrl"] == f"{auth.url}/api/auth/signin/google"


def test_callback_origin_misconfiguration(http: httpx.Client, auth: FakeAuthRoute) -> None:
    auth.callback_origin = "http://localhost:3000"
    google = http.get(f"{auth.url}/api/auth/providers").json()["google"]
    callback = urlsplit(google["callbackUrl"])
    assert (callback.scheme, callback.netloc) == ("http", "localhost:3000")


def test_config_error_mode(http: httpx.Client, auth: FakeAuthRoute) -> None:
    auth.mode = "config_error"
    response = http.get(f"{auth.url}/api/auth/providers")
    assert response.status_code == 500
    assert response.json()["message"].startswith("There was a problem with the server configuration")


@pytest.mark.parametrize(("mode", "status"), [("html", 200), ("protected", 401)])
def test_non_json_modes(http: httpx.Client, auth: FakeAuthRoute, mode: AuthMode, status: int) -> None:
    auth.mode = mode
    response = http.get(f"{auth.url}/api/auth/providers")
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    with pytest.raises(ValueError):
        response.json()


def test_custom_base_path_and_other_routes(http: httpx.Client) -> None:
    with FakeAuthRoute(base_path="/auth", providers=["google", "github"]) as fake:
        body = http.get(f"{fake.url}/auth/providers").json()
        assert set(body) == {"google", "github"}
        assert http.get(f"{fake.url}/auth/csrf").json() == {"csrfToken": fake.csrf_token}
        assert http.get(f"{fake.url}/auth/session").json() is None
        assert http.get(f"{fake.url}/api/auth/providers").status_code == 404


def test_serves_https_with_a_certificate_clients_can_verify() -> None:
    from opsdash.fakes.smtp import TLSMaterial

    tls = TLSMaterial()
    with FakeAuthRoute(tls_context=tls.server_context()) as fake:
        assert fake.url.startswith("https://127.0.0.1:")
        response = httpx.get(f"{fake.url}/api/auth/providers", verify=tls.client_context())
        assert response.status_code == 200
        assert response.json()["google"]["callbackUrl"].startswith(fake.url)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{fake.url}/api/auth/providers")
