"""API versions by URL prefix or header, CORS presets, and the throttle seam."""

from typing import Annotated

import pytest
from openapi_spec_validator import validate

from carboy import Carboy, Depends, HTTPException, Request
from carboy.api import API, CORS, HeaderVersioning, URLVersioning
from carboy.exceptions import ConfigurationError
from carboy.testing import TestClient


def _versioned(versioning: URLVersioning | HeaderVersioning) -> tuple[Carboy, API]:
    api = API(prefix="/api", versioning=versioning)

    @api.get("/hello")
    async def hello(version: Annotated[str, api.request_version]) -> dict[str, str]:
        return {"version": version}

    app = Carboy(debug=True)
    app.install(api)
    return app, api


def test_url_versioning() -> None:
    app, _ = _versioned(URLVersioning(["v1", "v2"]))
    with TestClient(app) as client:
        assert client.get("/api/v1/hello").json() == {"version": "v1"}
        assert client.get("/api/v2/hello").json() == {"version": "v2"}
        assert client.get("/api/v3/hello").status_code == 404
        assert client.get("/api/hello").status_code == 404
        assert client.get("/api/v1/docs").status_code == 200
        page = client.get("/api/v2/docs").text
        assert 'data-openapi-url="/api/v2/openapi.json"' in page
        document = client.get("/api/v1/openapi.json").json()
    validate(document)
    operation = document["paths"]["/api/{api_version}/hello"]["get"]
    (param,) = operation["parameters"]
    assert param["name"] == "api_version" and param["in"] == "path"
    assert param["schema"]["pattern"] == "^(?:v1|v2)$"
    assert app.url_path_for("api.hello", api_version="v2") == "/api/v2/hello"


def test_header_versioning() -> None:
    app, _ = _versioned(HeaderVersioning(["1", "2"], default="1"))
    with TestClient(app) as client:
        assert client.get("/api/hello").json() == {"version": "1"}
        assert client.get("/api/hello", headers={"api-version": "2"}).json() == {"version": "2"}
        unknown = client.get("/api/hello", headers={"api-version": "3"})
        assert unknown.status_code == 422
        assert unknown.headers["content-type"] == "application/problem+json"
        assert unknown.json()["errors"][0]["loc"] == ["header", "api-version"]
        document = client.get("/api/openapi.json").json()
    validate(document)
    (param,) = document["paths"]["/api/hello"]["get"]["parameters"]
    assert param["in"] == "header" and "default 1" in param["description"]


def test_url_versioning_with_resources_keeps_the_version_in_location(tmp_path: object) -> None:
    from carboy.api import ALLOW_ANY
    from carboy.db import Database
    from tests.api.conftest import ApiBase, Post

    api = API(prefix="/api", versioning=URLVersioning(["v1"]))
    api.resource(Post, path="/posts", permissions=ALLOW_ANY)
    app = Carboy(debug=True)
    db = Database(f"sqlite:///{tmp_path}/v.db", base=ApiBase)
    app.install(db)
    app.install(api)
    ApiBase.metadata.create_all(db.engine)
    with TestClient(app) as client:
        created = client.post("/api/v1/posts", json={"title": "T", "slug": "t"})
        assert created.headers["location"] == "/api/v1/posts/1"
        assert client.get("/api/v1/posts/1").status_code == 200


def test_bad_versions_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="one or more versions"):
        URLVersioning([])
    with pytest.raises(ConfigurationError, match="one or more versions"):
        URLVersioning(["v 1"])
    with pytest.raises(ConfigurationError, match="listed twice"):
        HeaderVersioning(["1", "1"])
    with pytest.raises(ConfigurationError, match="default '3' is not a version"):
        HeaderVersioning(["1"], default="3")
    with pytest.raises(ConfigurationError, match="has no versions"):
        API().request_version  # noqa: B018


def _cors_app(cors: CORS) -> Carboy:
    api = API(prefix="/api", cors=cors)

    @api.get("/items")
    async def items() -> list[str]:
        return []

    app = Carboy(debug=True)
    app.install(api)
    return app


def test_cors_public_preset() -> None:
    with TestClient(_cors_app(CORS.public())) as client:
        answer = client.get("/api/items", headers={"origin": "https://anywhere.example"})
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "etag" in answer.headers["access-control-expose-headers"].lower()
        preflight = client.options(
            "/api/items",
            headers={
                "origin": "https://anywhere.example",
                "access-control-request-method": "GET",
                "access-control-request-headers": "authorization, if-none-match",
            },
        )
        assert preflight.status_code == 200
        assert "access-control-allow-credentials" not in preflight.headers
        refused = client.options(
            "/api/items",
            headers={
                "origin": "https://anywhere.example",
                "access-control-request-method": "DELETE",
            },
        )
        assert refused.status_code == 400  # the public preset is read-only


def test_cors_first_party_preset() -> None:
    cors = CORS.first_party(["https://app.example.com"])
    with TestClient(_cors_app(cors)) as client:
        preflight = client.options(
            "/api/items",
            headers={
                "origin": "https://app.example.com",
                "access-control-request-method": "PATCH",
                "access-control-request-headers": "x-csrf-token, if-match",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
        assert preflight.headers["access-control-allow-credentials"] == "true"
        other = client.get("/api/items", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    with pytest.raises(ConfigurationError, match="cannot go with cookies"):
        CORS.first_party(["*"])


class CountingThrottle:
    """A stand-in for carboy.auth's throttles: two requests per client, then 429."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def __call__(self, request: Request) -> None:
        client = request.client.host if request.client else "?"
        self.seen[client] = self.seen.get(client, 0) + 1
        if self.seen[client] > 2:
            raise HTTPException(429, "Slow down", headers={"Retry-After": "30"})


def test_the_throttle_seam_runs_before_every_route_and_is_documented() -> None:
    throttle = Depends(CountingThrottle())
    api = API(prefix="/api", throttle=throttle)

    @api.get("/items")
    async def items() -> list[str]:
        return []

    app = Carboy(debug=True)
    app.install(api)
    with TestClient(app) as client:
        assert [client.get("/api/items").status_code for _ in range(3)] == [200, 200, 429]
        limited = client.get("/api/items")
        assert limited.headers["retry-after"] == "30"
        assert limited.headers["content-type"] == "application/problem+json"
        document = api.openapi()
    validate(document)
    too_many = document["paths"]["/api/items"]["get"]["responses"]["429"]
    assert too_many["headers"]["Retry-After"]["schema"]["type"] == "integer"
