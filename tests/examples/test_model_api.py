"""examples/model_api: a numpy model trained at start-up, served with batch input."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from openapi_spec_validator import validate

from carboy.api import generate_client
from carboy.testing import TestClient

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "model_api"


@pytest.fixture(scope="module")
def example() -> Iterator[ModuleType]:
    sys.path.insert(0, str(EXAMPLE))
    try:
        import app as example_app

        yield example_app
    finally:
        sys.path.remove(str(EXAMPLE))
        sys.modules.pop("app", None)


def test_the_model_is_trained_at_start_up_and_prices_a_batch(example: ModuleType) -> None:
    with TestClient(example.app) as client:
        info = client.get("/api/model").json()
        assert info["rows"] == 5000 and info["r2"] > 0.95
        assert info["weights"] == pytest.approx([1500, 8000, -400], rel=0.05)
        houses = [
            {"area_m2": 100, "rooms": 3, "age_years": 10},
            {"area_m2": 50, "rooms": 1, "age_years": 80},
        ]
        prices = client.post("/api/predict", json={"houses": houses}).json()["prices"]
        expected = [
            1500 * h["area_m2"] + 8000 * h["rooms"] - 400 * h["age_years"] + 30000 for h in houses
        ]
        assert prices == pytest.approx(expected, rel=0.03)
        document = client.get("/api/openapi.json").json()
    validate(document)
    assert document["paths"]["/api/predict"]["post"]["summary"] == "Price a batch of houses."


@pytest.mark.parametrize(
    ("batch", "field"),
    [
        ({"houses": []}, "houses"),
        ({"houses": [{"area_m2": 80, "rooms": 2, "age_years": 1}] * 1001}, "houses"),
        ({"houses": [{"area_m2": -1, "rooms": 2, "age_years": 1}]}, "houses.0.area_m2"),
        ({"houses": [{"area_m2": 80, "rooms": 2}]}, "houses.0.age_years"),
        ({"houses": [{"area_m2": "big", "rooms": 2, "age_years": 1}]}, "houses.0.area_m2"),
    ],
)
def test_bad_batches_are_422_problems(example: ModuleType, batch: Any, field: str) -> None:
    with TestClient(example.app) as client:
        response = client.post("/api/predict", json=batch)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]]


def test_a_typed_client_generated_for_it_type_checks_and_works(
    example: ModuleType, tmp_path: Path
) -> None:
    with TestClient(example.app, base_url="http://localhost") as http:
        source = generate_client(example.api.openapi())
        (tmp_path / "prices_client.py").write_text(source, encoding="utf-8")
        # The generated module passes mypy --strict on its own.
        checked = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "prices_client.py"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        sys.path.insert(0, str(tmp_path))
        try:
            import prices_client
        finally:
            sys.path.remove(str(tmp_path))
        client = prices_client.Client(http=http)
        answer = client.predict({"houses": [{"area_m2": 100, "rooms": 3, "age_years": 10}]})
        assert answer["prices"][0] == pytest.approx(204_000, rel=0.03)
        assert client.model_info()["features"] == ["area_m2", "rooms", "age_years"]
        with pytest.raises(prices_client.APIError) as error:
            client.predict({"houses": []})
        assert error.value.status_code == 422
        assert error.value.body["errors"][0]["field"] == "houses"
