"""RFC 9457 problem details on an API's routes; the app's envelope and handlers still win."""

from typing import Annotated, Any

from carboy import Carboy, HTTPException, InvalidFields, Query, Request
from carboy.api import API, PROBLEM_JSON, problem_details
from carboy.errors import ErrorDetails
from carboy.exceptions import FieldError
from carboy.responses import JSONResponse
from carboy.testing import TestClient


def _app(**options: Any) -> Carboy:
    app = Carboy(debug=True, **options)
    api = API(prefix="/api")

    @api.get("/items/{item_id:int}")
    async def item(item_id: int, q: Annotated[int, Query(ge=1)] = 1) -> dict[str, int]:
        if item_id == 0:
            raise HTTPException(401, "Sign in", headers={"WWW-Authenticate": "Bearer"})
        if item_id == 1:
            raise InvalidFields(409, "Taken", [FieldError(["body", "slug"], "Taken", "unique")])
        if item_id == 2:
            raise RuntimeError("boom")
        raise HTTPException(404, f"Item {item_id} not found")

    @app.get("/page/{n:int}")
    async def page(n: int) -> dict[str, int]:
        raise HTTPException(404, "Not here")

    app.install(api)
    return app


def test_errors_of_api_routes_are_problem_details() -> None:
    with TestClient(_app(), raise_server_exceptions=False) as client:
        missing = client.get("/api/items/7")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == PROBLEM_JSON
        assert missing.json() == {
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": "Item 7 not found",
            "instance": "/api/items/7",
        }
        invalid = client.get("/api/items/7", params={"q": "0"})
        assert invalid.status_code == 422
        assert invalid.headers["content-type"] == PROBLEM_JSON
        body = invalid.json()
        assert body["detail"] == "Validation failed"
        assert body["errors"] == [
            {
                "loc": ["query", "q"],
                "field": "q",
                "msg": "Input should be greater than or equal to 1",
                "type": "greater_than_equal",
            }
        ]
        conflict = client.get("/api/items/1").json()
        assert (conflict["status"], conflict["detail"]) == (409, "Taken")
        assert conflict["errors"][0]["type"] == "unique"
        unauthorized = client.get("/api/items/0")
        assert unauthorized.headers["www-authenticate"] == "Bearer"  # headers are kept
        # Not an HTTP error: the app's usual 500 (the debug page here).
        assert client.get("/api/items/2").status_code == 500
        # A route outside the API keeps carboy's default error body.
        other = client.get("/page/1")
        assert other.headers["content-type"] == "application/json"
        assert other.json() == {"status": 404, "detail": "Not here"}


def test_the_apps_error_envelope_reshapes_the_apis_errors() -> None:
    app = _app(
        error_envelope=lambda error: {"error": {"code": error.status, "message": error.detail}}
    )
    with TestClient(app) as client:
        response = client.get("/api/items/7")
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"error": {"code": 404, "message": "Item 7 not found"}}


def test_an_exception_handler_of_the_app_wins() -> None:
    app = _app()

    @app.exception_handler(404)
    async def not_found(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"custom": exc.detail}, 404)

    with TestClient(app) as client:
        assert client.get("/api/items/7").json() == {"custom": "Item 7 not found"}


def test_problem_details_of_a_field_error() -> None:
    error = ErrorDetails(422, "Validation failed", [FieldError(["query", "page"], "Too small")])
    body = problem_details(error)
    assert body["title"] == "Unprocessable Entity"
    assert "instance" not in body
    assert body["errors"][0]["field"] == "page"
    assert problem_details(ErrorDetails(400, {"odd": 1}))["detail"] == "{'odd': 1}"
