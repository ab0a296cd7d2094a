"""Shared fixtures: a fresh database per test, on SQLite by default and on PostgreSQL when
CRM_TEST_DATABASE_URL is set (CI sets it, and CRM_REQUIRE_POSTGRES=1 so nothing skips there)."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from jinja2 import Environment
from jinja2.bccache import Bucket, BytecodeCache

PG_URL = os.environ.get("CRM_TEST_DATABASE_URL", "")


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Argon2 with its production cost takes about 0.1 s per hash, and every web test makes
    three users and signs in: a third of the suite's time. Tests use the same algorithm with
    the smallest cost (servers started as subprocesses keep the real one)."""
    from argon2 import PasswordHasher

    import app.users

    real = app.users.hasher
    app.users.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        yield
    finally:
        app.users.hasher = real


class SharedTemplateCode(BytecodeCache):
    """A Jinja bytecode cache shared by every Flask app of the test process: each test makes
    its own app (a new Jinja environment), which would parse and compile every template it
    renders again (~0.05 s per page). Keyed by template, source checksum and the
    environment's compile-time settings, so a changed template or environment compiles anew."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def get_bucket(self, environment: Environment, name: str, filename: str | None,
                   source: str) -> Bucket:
        env = environment
        settings = repr((sorted(env.extensions), getattr(env, "newstyle_gettext", None),
                         getattr(env.autoescape, "__qualname__", env.autoescape), env.optimized,
                         env.block_start_string, env.variable_start_string,
                         env.comment_start_string, env.line_statement_prefix, env.is_async))
        bucket = Bucket(env, f"{self.get_cache_key(name, filename)}:{settings}",
                        self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self.code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


@pytest.fixture(scope="session", autouse=True)
def shared_template_code() -> Iterator[None]:
    """Every Flask app made in this process compiles a template once (SharedTemplateCode)."""
    from flask import Flask

    real = Flask.jinja_options
    Flask.jinja_options = {**real, "bytecode_cache": SharedTemplateCode()}
    try:
        yield
    finally:
        Flask.jinja_options = real


@pytest.fixture(autouse=True)
def english_after_each_test() -> Iterator[None]:
    """The locale is a context variable of the thread: a web request in Chinese (the test
    client runs it in this thread) would leave the next test of this worker in Chinese."""
    yield
    from app.i18n import set_locale

    set_locale(None)


REQUIRE_PG = os.environ.get("CRM_REQUIRE_POSTGRES") == "1"
#: the fixtures through which a test reaches the test database (SQLite or PostgreSQL)
DATABASE_FIXTURES = {"database_url", "new_database_url", "engine", "postgres_url"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With CRM_TEST_DATABASE_ONLY=1 (the PostgreSQL leg of .ci/run), run only the tests that
    use the test database: the others (parsers, field types, config checks, pure functions)
    would repeat exactly what the SQLite leg just ran. Browser tests run on SQLite only
    (unless marked `postgres`): they test the pages, which are the same on both databases,
    and every database path they take is covered by a test that runs on both."""
    if os.environ.get("CRM_TEST_DATABASE_ONLY") != "1":
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        uses = bool(DATABASE_FIXTURES & names) and (
            "browser" not in names or item.get_closest_marker("postgres") is not None)
        (keep if uses else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_collection_finish(session: pytest.Session) -> None:
    """Garbage collection tuned for this suite, where every test makes a Flask app and models
    (thousands of objects in reference cycles) that die at its end: what collection made (the
    imported modules, the test items) lives until the end, so it leaves the collector's sight
    (every full collection would walk it again: ~0.1 s, every test or two), and the youngest
    generation is collected less often. 15% less CPU for the suite, ~100 MB more per worker."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


def _pg_reachable(url: str) -> str | None:
    """None when PostgreSQL answers at `url`, else the reason it does not."""
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:  # any driver or network error means: not reachable
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The URL of a reachable PostgreSQL, or skip (fail in CI) with the reason."""
    if not PG_URL:
        reason = "PostgreSQL tests need CRM_TEST_DATABASE_URL (see README, .ci/run sets it)"
        if REQUIRE_PG:
            pytest.fail(reason + " but CRM_REQUIRE_POSTGRES=1")
        pytest.skip(reason)
    problem = _pg_reachable(PG_URL)
    if problem:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL at CRM_TEST_DATABASE_URL is required but unreachable: "
                        f"{problem}")
        pytest.skip(f"PostgreSQL at CRM_TEST_DATABASE_URL is unreachable: {problem}")
    return PG_URL


@pytest.fixture
def new_database_url(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[
        Callable[[], str]]:
    """Make fresh, empty databases: SQLite files in tmp_path, or (when CRM_TEST_DATABASE_URL
    is set) new PostgreSQL databases next to that URL's database, dropped after the test
    (tests/dbtemplates.py; kits fill them from per-worker templates)."""
    from tests import dbtemplates

    base = request.getfixturevalue("postgres_url") if PG_URL else ""
    made: list[str] = []

    def make() -> str:
        made.append(dbtemplates.new_database(base, tmp_path))
        return made[-1]

    yield make
    for url in made:
        dbtemplates.drop_database(base, url)


@pytest.fixture(scope="session", autouse=True)
def drop_template_databases() -> Iterator[None]:
    """This worker's template and spare databases go at the end of the session."""
    yield
    from tests import dbtemplates

    dbtemplates.close()


@pytest.fixture
def database_url(new_database_url: Callable[[], str]) -> str:
    """A fresh, empty database for one test (SQLite, or PostgreSQL in CI)."""
    return new_database_url()


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    from app.db import make_engine

    eng = make_engine(database_url)
    try:
        yield eng
    finally:
        eng.dispose()


CHROMIUM = "/usr/bin/chromium"
REQUIRE_BROWSER = os.environ.get("CRM_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian Chromium driven by Playwright; skip (fail in CI) where it is missing."""
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "the playwright package is not installed"
    if reason is None and not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if reason:
        if REQUIRE_BROWSER:
            pytest.fail(f"browser tests are required (CRM_REQUIRE_BROWSER=1) but {reason}")
        pytest.skip(f"browser tests need Chromium: {reason}")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def artifacts() -> Path:
    """Where browser tests save screenshots (kept after the run for people to look at)."""
    folder = Path(__file__).resolve().parent.parent / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture
def crm(tmp_path: Path, database_url: str) -> Iterator[object]:
    """A deployment of the default CRM pack with the users of tests.webkit.USERS."""
    from tests.webkit import deployment

    ctx = deployment(tmp_path, database_url)
    try:
        yield ctx
    finally:
        ctx.dispose()


@pytest.fixture
def workflow_crm(tmp_path: Path, database_url: str) -> Iterator[object]:
    """The default CRM pack with the shipped workflows/ (stage machines, conversions)."""
    from tests.stageskit import stage_deployment

    ctx = stage_deployment(tmp_path, database_url)
    try:
        yield ctx
    finally:
        ctx.dispose()


@pytest.fixture
def web(crm: object) -> object:
    """The Flask app of the default pack's live version (testing mode)."""
    from tests.webkit import web_app

    return web_app(crm)  # type: ignore[arg-type]


@pytest.fixture
def client(web: object) -> object:
    """A test client signed in as `admin`."""
    from tests.webkit import sign_in

    c = web.test_client()  # type: ignore[attr-defined]
    sign_in(c)
    return c
