"""View benchmarks: list and detail pages of 1,000,000 opportunities, ours against a hand-written
Flask + SQLAlchemy app running the same queries.

    .venv/bin/python bench/views.py [--rows N] [--postgres URL] [--quick] [--profile] [--http]

Setup (not timed, bench/views_data.py): the default CRM pack published to a fresh database and
realistic rows bulk-inserted. Then the same pages are requested from our app (the `Runtime` that
`crm serve` runs, signed in as admin) and from the hand-written baseline (bench/views_baseline.py),
both in-process through werkzeug's test client (or, with `--http`, behind werkzeug's threaded
server), alternating in rounds. Nothing here asserts a time; see bench/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import html
import os
import pstats
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.test import Client

if __package__ in (None, ""):  # run as a script: make `app` and `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.engine import postgres_schema, sqlite_file
from bench.views_baseline import Tables, baseline_app
from bench.views_data import ADMIN, Data, deploy, detail_ids, load_data

GOAL_RATIO = 0.7
GOAL_FIRST_PAGE = 0.050
#: the later keyset page is this many "next" links after the first
LATER_PAGE = 6


# -- clients ----------------------------------------------------------------------------------
Fetch = Callable[[str], tuple[int, str]]
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
NEXT = re.compile(r'id="page-next" href="([^"#]+)"')
ROW_IDS = re.compile(r'<tr data-id="(\d+)"')


def client_fetch(wsgi: Any) -> Fetch:
    client = Client(wsgi)

    def get(url: str) -> tuple[int, str]:
        resp = client.get(url)
        return resp.status_code, resp.get_data(as_text=True)

    get.client = client  # type: ignore[attr-defined]
    return get


def sign_in(fetch: Fetch) -> None:
    client: Client = fetch.client  # type: ignore[attr-defined]
    token = CSRF.search(fetch("/login")[1])
    assert token, "no CSRF token on /login"
    resp = client.post("/login", data={"username": ADMIN[0], "password": ADMIN[1],
                                       "csrf_token": html.unescape(token.group(1))})
    if resp.status_code != 302:
        raise RuntimeError(f"sign-in failed: {resp.status_code}")


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@contextmanager
def http_fetch(wsgi: Any, sign_in: bool) -> Iterator[Fetch]:
    """`wsgi` behind werkzeug's threaded server on a free port; GETs through urllib."""
    srv = make_server("127.0.0.1", 0, wsgi, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{srv.server_port}"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def get(url: str) -> tuple[int, str]:
        try:
            with opener.open(base + url) as resp:
                return int(resp.status), resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    try:
        if sign_in:
            token = CSRF.search(get("/login")[1])
            assert token, "no CSRF token on /login"
            body = urllib.parse.urlencode({"username": ADMIN[0], "password": ADMIN[1],
                                           "csrf_token": html.unescape(token.group(1))})
            with opener.open(base + "/login", data=body.encode()) as resp:
                resp.read()
        yield get
    finally:
        srv.shutdown()
        srv.server_close()


# -- measuring --------------------------------------------------------------------------------
@dataclass
class Result:
    label: str
    ours: list[float]
    base: list[float]

    @staticmethod
    def rps(times: Sequence[float]) -> float:
        return len(times) / sum(times)

    @staticmethod
    def pct(times: Sequence[float], q: float) -> float:
        ordered = sorted(times)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def later_page(fetch: Fetch, pages: int = LATER_PAGE) -> str:
    """The URL of page `pages`, following each page's "next" link from the first."""
    url = "/opportunity/"
    for _ in range(pages - 1):
        status, text = fetch(url)
        found = NEXT.search(text)
        if status != 200 or not found:
            raise RuntimeError(f"no next link on {url} ({status})")
        url = html.unescape(found.group(1))
    return url


def same_rows(ours: Fetch, ours_url: str, base: Fetch, base_url: str) -> list[int]:
    """Both show the same records in the same order (else the comparison would be unfair)."""
    pages = [(f, u, f(u)) for f, u in ((ours, ours_url), (base, base_url))]
    ids = []
    for _f, url, (status, text) in pages:
        if status != 200:
            raise RuntimeError(f"{url} answered {status}")
        ids.append([int(i) for i in ROW_IDS.findall(text)])
    if ids[0] != ids[1] or not ids[0]:
        raise RuntimeError(f"the pages differ: ours {ids[0][:5]}..., baseline {ids[1][:5]}...")
    return ids[0]


def timed(fetch: Fetch, urls: Sequence[str]) -> list[float]:
    out = []
    for url in urls:
        t0 = time.perf_counter()
        status, _text = fetch(url)
        out.append(time.perf_counter() - t0)
        if status != 200:
            raise RuntimeError(f"GET {url} answered {status}")
    return out


def compare(label: str, ours: Fetch, base: Fetch, ours_urls: Sequence[str],
            base_urls: Sequence[str], rounds: int = 4) -> Result:
    """Warm both up, then alternate ours and the baseline in `rounds` rounds (a busy machine
    then slows both alike)."""
    timed(ours, ours_urls[:3])
    timed(base, base_urls[:3])
    res = Result(label, [], [])
    step = max(1, len(ours_urls) // rounds)
    for start in range(0, len(ours_urls), step):
        res.ours += timed(ours, ours_urls[start:start + step])
        res.base += timed(base, base_urls[start:start + step])
    return res


def compare_calls(label: str, ours: Callable[[], Any], base: Callable[[], Any], n: int,
                  rounds: int = 4) -> Result:
    """Like `compare`, for two functions called in-process (no HTTP, no rendering)."""
    def run(fn: Callable[[], Any], k: int) -> list[float]:
        out = []
        for _ in range(k):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        return out

    run(ours, 3)
    run(base, 3)
    res = Result(label, [], [])
    for _ in range(rounds):
        res.ours += run(ours, max(1, n // rounds))
        res.base += run(base, max(1, n // rounds))
    return res


# -- where the time goes ----------------------------------------------------------------------
#: functions whose frames only wrap the view (left out of the cProfile listing)
WRAPPERS = ("bench/views.py", "werkzeug/test.py", "flask/app.py", "runtime.py:79",
            "flask_login/utils.py")


def profile_of(fetch: Fetch, urls: Sequence[str], top: int = 25) -> str:
    """cProfile's top functions by cumulative time (ms per request), below the view's
    wrappers. A Jinja template's "calls" count each resume of its generator."""
    prof = cProfile.Profile()
    prof.enable()
    timed(fetch, urls)
    prof.disable()
    stats: dict[Any, Any] = getattr(pstats.Stats(prof), "stats")  # noqa: B009
    n = len(urls)
    lines = [f"{'cum ms/req':>10} {'own ms/req':>10} {'calls/req':>9}  function"]
    rows = sorted(stats.items(), key=lambda kv: kv[1][3], reverse=True)
    for (file, line, func), (_cc, calls, own, cum, _callers) in rows:
        where = f"{file}:{line}({func})" if line else func
        for marker in ("/app/", "/site-packages/", "/bench/"):
            if marker in file:
                where = f"{marker.strip('/')}/{file.split(marker)[-1]}:{line}({func})" \
                    if marker == "/bench/" else f"{file.split(marker)[-1]}:{line}({func})"
        if any(w in where for w in WRAPPERS):
            continue
        lines.append(f"{cum / n * 1000:>10.2f} {own / n * 1000:>10.2f} {calls / n:>9.1f}  "
                     f"{where}")
        if len(lines) > top:
            break
    return "\n".join(lines)


@dataclass
class Span:
    owner: Any
    attr: str
    label: str
    nested: bool = False  # inside another span (not subtracted from the rest)
    times: list[float] = field(default_factory=list)


@contextmanager
def spans(targets: Sequence[Span]) -> Iterator[None]:
    """Wrap each target function with a wall-clock timer while inside (no profiler, so no
    overhead on the many small calls); restore them after."""
    saved = []
    for sp in targets:
        original = getattr(sp.owner, sp.attr)

        def timer(*args: Any, _fn: Any = original, _sp: Span = sp, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return _fn(*args, **kw)
            finally:
                _sp.times.append(time.perf_counter() - t0)

        setattr(sp.owner, sp.attr, timer)
        saved.append((sp, original))
    try:
        yield
    finally:
        for sp, original in reversed(saved):
            setattr(sp.owner, sp.attr, original)


def breakdown(fetch: Fetch, urls: Sequence[str], ours_app: Any, detail: bool) -> str:
    """Mean wall-clock ms per request of the main steps of our list or detail view."""
    import app.records.related as related
    import app.web.detail as detail_view
    import app.web.lists as lists
    import app.web.templating as templating
    from app.records import Records
    from app.records.attachments import AttachmentStore
    from app.runtime import Runtime

    login = ours_app.current().app.login_manager
    common = [Span(Runtime, "current", "Runtime.current: which config version is live"),
              Span(login, "_user_callback", "flask-login: load the signed-in user")]
    if detail:
        steps = [Span(Records, "get", "Records.get: the record"),
                 Span(related, "related_lists", "related_lists: 4 related lists"),
                 Span(AttachmentStore, "list", "attachments of the record"),
                 Span(related, "timeline", "timeline: audit trail, activities, notes"),
                 Span(detail_view.Refs, "resolve", "Refs.resolve: titles and user names"),
                 Span(detail_view, "render_template", "render detail/show.html")]
    else:
        steps = [Span(lists, "run", "query.run: page, capped count, lookup titles"),
                 Span(lists, "_context", "lists._context: links, filter widgets, views"),
                 Span(lists, "render_template", "render lists/list.html")]
    steps.append(Span(templating, "show", "  of which show() of values in the page", True))
    timed(fetch, urls[:3])
    with spans(common + steps):
        total = sum(timed(fetch, urls))
    n = len(urls)
    lines = [f"{'ms/req':>8} {'calls/req':>9}  step"]
    outside = total
    for sp in common + steps:
        lines.append(f"{sum(sp.times) / n * 1000:>8.2f} {len(sp.times) / n:>9.1f}  {sp.label}")
        outside -= 0 if sp.nested else sum(sp.times)
    lines.append(f"{outside / n * 1000:>8.2f} {'':>9}  the rest: Flask, session, CSRF, locale, "
                 "before-request hooks, test client")
    lines.append(f"{total / n * 1000:>8.2f} {'':>9}  the whole request (mean)")
    return "\n".join(lines)


@dataclass
class Run:
    backend: str
    data: Data
    results: list[Result]
    mode: str
    profiles: dict[str, str]


def bench_views(url: str, rows: int, *, requests: int = 200, http: bool = False,
                profile: bool = False, report: Callable[[str], None] = lambda msg: None
                ) -> Run:
    """Deploy, load `rows` opportunities, then time list (first and a later page) and detail
    requests, and the list's query alone: ours versus the baseline."""
    from app.records import Records
    from app.records.query import ListQuery, run
    from app.runtime import Runtime

    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        ctx = deploy(Path(tmp), url)
        try:
            report(f"  loading {rows:,} opportunities ...")
            data = load_data(ctx, rows)
            report(f"  loaded in {data.setup:.1f} s; timing {requests} requests per page ...")
            ours_app, base_app = Runtime(ctx), baseline_app(url)
            with _fetchers(ours_app, base_app, http) as (ours, base):
                first = "/opportunity/"
                same_rows(ours, first, base, first)
                ours_later, base_later = later_page(ours), later_page(base)
                same_rows(ours, ours_later, base, base_later)
                ids = [f"/opportunity/{i}" for i in detail_ids(rows, requests)]
                for status, name in ((ours(ids[0]), "ours"), (base(ids[0]), "baseline")):
                    if status[0] != 200 or "record-title" not in status[1]:
                        raise RuntimeError(f"{name}: the detail page answered {status[0]}")
                results = [
                    compare("list, first page", ours, base, [first] * requests,
                            [first] * requests),
                    compare(f"list, page {LATER_PAGE} (keyset)", ours, base,
                            [ours_later] * requests, [base_later] * requests),
                    compare("detail, random ids", ours, base, ids, ids)]
                live = ours_app.current()
                models, plugins = live.models, live.app.extensions["crm"].plugins
                assert models is not None
                tables = Tables(url)
                results.append(compare_calls(
                    "list query only (query.run vs Core)",
                    lambda: run(Records(ctx.engine, models, plugins=plugins), "opportunity",
                                ListQuery(me=1)),
                    tables.list_page, requests))
                tables.engine.dispose()
                profiles = {}
                if profile:
                    n = max(10, requests // 4)
                    profiles = {
                        "list, first page: wall clock by step":
                            breakdown(ours, [first] * n, ours_app, False),
                        "detail, random ids: wall clock by step":
                            breakdown(ours, ids[:n], ours_app, True),
                        "list, first page: cProfile top 25": profile_of(ours, [first] * n),
                        "detail, random ids: cProfile top 25": profile_of(ours, ids[:n])}
            base_app.extensions["bench_engine"].dispose()
        finally:
            ctx.dispose()
    return Run(sa.make_url(url).get_backend_name(), data, results,
               "HTTP (werkzeug threaded server + urllib)" if http else
               "in-process (werkzeug test client)", profiles)


@contextmanager
def _fetchers(ours_app: Any, base_app: Any, http: bool) -> Iterator[tuple[Fetch, Fetch]]:
    if not http:
        ours = client_fetch(ours_app)
        sign_in(ours)
        yield ours, client_fetch(base_app)
        return
    with http_fetch(ours_app, True) as ours, http_fetch(base_app, False) as base:
        yield ours, base


# -- the table --------------------------------------------------------------------------------
BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def render(run: Run) -> str:
    where = f"{BACKENDS.get(run.backend, run.backend)}, {run.data.rows:,} opportunities"
    head = f"{where:<44} {'ours':>11} {'baseline':>11} {'ratio':>7}  goal"
    out = [head, "-" * (len(head) + 16)]
    for r in run.results:
        ours, base = Result.rps(r.ours), Result.rps(r.base)
        ok = "ok" if ours / base >= GOAL_RATIO else "MISSED"
        out.append(f"{r.label:<44} {ours:>7.1f} r/s {base:>7.1f} r/s {ours / base:>6.2f}x"
                   f"  >= {GOAL_RATIO:.2f}x  {ok}")
        out.append(f"    latency median {_ms(statistics.median(r.ours))} (baseline "
                   f"{_ms(statistics.median(r.base))}), p95 {_ms(Result.pct(r.ours, 0.95))} "
                   f"(baseline {_ms(Result.pct(r.base, 0.95))}); {len(r.ours)} requests each")
    first = run.results[0]
    for name, value in (("median", statistics.median(first.ours)),
                        ("p95", Result.pct(first.ours, 0.95))):
        ok = "ok" if value < GOAL_FIRST_PAGE else "MISSED"
        out.append(f"{'first list page, ' + name + ' latency':<44} {_ms(value):>11} "
                   f"{_ms(_base_stat(first, name)):>11} {'':>7}  < {_ms(GOAL_FIRST_PAGE)}  {ok}")
    out.append(f"    {run.mode}; setup {run.data.setup:.1f} s not counted "
               f"({run.data.accounts:,} accounts)")
    return "\n".join(out)


def _base_stat(r: Result, name: str) -> float:
    return statistics.median(r.base) if name == "median" else Result.pct(r.base, 0.95)


def _ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, help="opportunities (default 1,000,000)")
    parser.add_argument("--requests", type=int, help="timed requests per page and app "
                        "(default 200; 60 with --quick)")
    parser.add_argument("--postgres", default=os.environ.get("CRM_BENCH_POSTGRES_URL", ""),
                        help="also run on this PostgreSQL (default: env CRM_BENCH_POSTGRES_URL)")
    parser.add_argument("--only-postgres", action="store_true", help="skip SQLite")
    parser.add_argument("--quick", action="store_true", help="100,000 rows, fewer requests")
    parser.add_argument("--http", action="store_true",
                        help="serve both apps with werkzeug's threaded server, GET with urllib")
    parser.add_argument("--profile", action="store_true",
                        help="print where our list and detail views spend their time "
                        "(wall clock by step, and cProfile's top 25)")
    args = parser.parse_args(argv)
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    requests = args.requests or (60 if args.quick else 200)
    databases: list[tuple[str, Callable[[], Any]]] = []
    if not args.only_postgres:
        databases.append(("SQLite", sqlite_file))
    if args.postgres:
        databases.append(("PostgreSQL", lambda: postgres_schema(args.postgres)))
    for name, database in databases:
        print(f"{name}: deploying the default pack ...", file=sys.stderr, flush=True)
        with database() as url:
            run = bench_views(url, rows, requests=requests, http=args.http,
                              profile=args.profile,
                              report=lambda msg: print(msg, file=sys.stderr, flush=True))
        print(render(run) + "\n", flush=True)
        for label, text in run.profiles.items():
            print(f"Our {label} ({BACKENDS.get(run.backend)}):\n{text}\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
