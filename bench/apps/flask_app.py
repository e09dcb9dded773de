"""Flask (WSGI): Flask-SQLAlchemy on psycopg 3, Flask-Login on Flask's cookie session.

The usual Flask stack, as its docs and TechEmpower's Flask entry write it:
ORM models, ``db.session`` per request, ``jsonify`` through Flask's JSON
provider, Jinja templates, and ``login_required`` for the ``/page`` test.
"""

from __future__ import annotations

from operator import attrgetter

from flask import Flask, Response, render_template, request
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from bench.common import (
    ADDITIONAL_FORTUNE,
    BENCH_EMAIL,
    BENCH_PASSWORD,
    BENCH_USERNAME,
    DATABASE_URL,
    MESSAGE,
    PLAINTEXT,
    TEMPLATES_DIR,
    WSGI_THREADS,
    new_number,
    parse_queries,
    random_id,
    random_ids,
)


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class World(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "world"
    id: Mapped[int] = mapped_column(primary_key=True)
    randomnumber: Mapped[int]


class Fortune(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "fortune"
    id: Mapped[int] = mapped_column(primary_key=True)
    message: Mapped[str] = mapped_column(String(2048))


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "bench_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(256))


app = Flask(__name__, template_folder=str(TEMPLATES_DIR))
app.config.update(
    SECRET_KEY="bench-not-secret",
    SQLALCHEMY_DATABASE_URI=DATABASE_URL.replace("postgresql://", "postgresql+psycopg://", 1),
    SQLALCHEMY_ENGINE_OPTIONS={"pool_size": WSGI_THREADS, "max_overflow": WSGI_THREADS},
)
db.init_app(app)
login_manager = LoginManager(app)

_by_message = attrgetter("message")


@login_manager.user_loader  # type: ignore[untyped-decorator]
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


def _world(world: World) -> dict[str, int]:
    return {"id": world.id, "randomNumber": world.randomnumber}


@app.get("/plaintext")
def plaintext() -> Response:
    return Response(PLAINTEXT, mimetype="text/plain")


@app.get("/json")
def json() -> dict[str, str]:
    return {"message": MESSAGE}


@app.get("/users/<int:id>")
def user(id: int) -> dict[str, int]:
    return {"id": id}


@app.get("/db")
def db_test() -> dict[str, int]:
    return _world(db.session.get_one(World, random_id()))


@app.get("/queries")
def queries() -> list[dict[str, int]]:
    count = parse_queries(request.args.get("queries"))
    return [_world(db.session.get_one(World, random_id())) for _ in range(count)]


@app.get("/fortunes")
def fortunes() -> str:
    rows = list(db.session.scalars(select(Fortune)))
    rows.append(Fortune(id=0, message=ADDITIONAL_FORTUNE))
    rows.sort(key=_by_message)
    return render_template("fortunes_objects.html", fortunes=rows)


@app.get("/updates")
def updates() -> list[dict[str, int]]:
    count = parse_queries(request.args.get("queries"))
    worlds = [db.session.get_one(World, row_id) for row_id in random_ids(count)]
    for world in worlds:
        world.randomnumber = new_number(world.randomnumber)
    result = [_world(world) for world in worlds]  # before commit() expires them
    db.session.commit()
    return result


@app.post("/login")
def login() -> tuple[str, int]:
    user = db.session.scalar(select(User).filter_by(username=request.form.get("username", "")))
    if user is None or not check_password_hash(
        user.password_hash, request.form.get("password", "")
    ):
        return "bad credentials", 403
    login_user(user)
    return "", 204


@app.get("/page")
@login_required  # type: ignore[untyped-decorator]
def page() -> str:
    rows = db.session.scalars(select(Fortune).order_by(Fortune.id))
    return render_template("page.html", user=current_user, fortunes=rows)


def bench_setup() -> None:
    """Create the ``bench_user`` table and the ``/page`` user (called by ``bench.db_setup``)."""
    with app.app_context():
        User.__table__.create(db.engine, checkfirst=True)
        user = db.session.scalar(select(User).filter_by(username=BENCH_USERNAME))
        if user is None:
            user = User(username=BENCH_USERNAME, email=BENCH_EMAIL, password_hash="")
            db.session.add(user)
        if not user.password_hash or not check_password_hash(user.password_hash, BENCH_PASSWORD):
            user.password_hash = generate_password_hash(BENCH_PASSWORD)
        db.session.commit()
