"""A numeric model served as a documented API: house prices, trained at start-up.

The model is a linear regression fitted with numpy on data it generates
itself (no downloads): price from floor area, rooms and age. ``POST
/api/predict`` takes a batch of up to 1000 houses, validated field by field,
and answers every price in one vectorized call; ``GET /api/model`` says what
was learnt. The OpenAPI document and the docs page come with it
(``/api/openapi.json``, ``/api/docs``). Run it with ``carboy run`` in this folder.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from pydantic import BaseModel, Field

from carboy import Carboy
from carboy.api import API

#: The features, in the order of the model's columns.
FEATURES = ("area_m2", "rooms", "age_years")
#: What the generated data follows (the model should find it again).
TRUE_WEIGHTS = np.array([1500.0, 8000.0, -400.0])
TRUE_BIAS = 30_000.0


def make_data(rows: int = 5000, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Houses and their prices: the formula above plus noise, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    features = np.column_stack(
        [rng.uniform(20, 250, rows), rng.integers(1, 8, rows), rng.uniform(0, 100, rows)]
    )
    prices = features @ TRUE_WEIGHTS + TRUE_BIAS + rng.normal(0, 10_000, rows)
    return features, prices


class PriceModel:
    """Least-squares linear regression: ``fit`` once, then ``predict`` many rows at a time."""

    def __init__(self) -> None:
        self.weights = np.zeros(len(FEATURES))
        self.bias = 0.0
        self.r2 = 0.0
        self.rows = 0
        self.trained_at: datetime | None = None

    def fit(self, features: np.ndarray, prices: np.ndarray) -> None:
        design = np.column_stack([np.ones(len(features)), features])
        solution, *_ = np.linalg.lstsq(design, prices, rcond=None)
        self.bias, self.weights = float(solution[0]), solution[1:]
        residual = prices - self.predict(features)
        self.r2 = float(1 - residual.var() / prices.var())
        self.rows = len(features)
        self.trained_at = datetime.now(UTC)

    def predict(self, features: np.ndarray) -> np.ndarray:
        return features @ self.weights + self.bias


class House(BaseModel):
    """One house to price."""

    area_m2: float = Field(gt=0, le=10_000, examples=[85.0])
    rooms: int = Field(ge=1, le=50, examples=[3])
    age_years: float = Field(ge=0, le=500, examples=[12.5])


class Batch(BaseModel):
    """Up to 1000 houses, priced in one call."""

    houses: list[House] = Field(min_length=1, max_length=1000)


class Prices(BaseModel):
    """One price per house, in the order they were sent."""

    prices: list[float]


class ModelInfo(BaseModel):
    """What the model learnt, and from how much data."""

    features: list[str]
    weights: list[float]
    bias: float
    r2: float
    rows: int
    trained_at: datetime | None


model = PriceModel()
api = API(prefix="/api", title="House prices", version="1.0.0", tags=["model"])
api.provide(PriceModel, model)


@api.on_startup
def train() -> None:
    """Fit the model when the app starts (a fraction of a second on this data)."""
    model.fit(*make_data())


@api.post("/predict")
async def predict(batch: Batch, model: PriceModel) -> Prices:
    """Price a batch of houses.

    Every field is validated (a 422 lists each bad one); the whole batch is
    priced in one vectorized numpy call.
    """
    features = np.array([[h.area_m2, h.rooms, h.age_years] for h in batch.houses])
    return Prices(prices=[round(float(p), 2) for p in model.predict(features)])


@api.get("/model")
async def model_info(model: PriceModel) -> ModelInfo:
    """The learnt weights, the fit's R², and when it was trained."""
    return ModelInfo(
        features=list(FEATURES),
        weights=[round(float(w), 3) for w in model.weights],
        bias=round(model.bias, 3),
        r2=round(model.r2, 4),
        rows=model.rows,
        trained_at=model.trained_at,
    )


app = Carboy(debug=True, name="model_api")
app.install(api)
