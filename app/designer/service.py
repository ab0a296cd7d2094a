"""The designer: admins change the config through drafts of small changes, see what the change
does (the YAML it writes, the plan for the database and its data, the config checks) and apply
it as a new config version that every app server serves on its next request.

    designer = Designer(ctx)
    designer.add("alice", {"op": "field", "entity": "account", "field": "tier", ...})
    preview = designer.preview("alice")      # files, errors, plan, checks, conflict
    result = designer.apply("alice", confirm=True, message="loyalty tier")

Safety, in order: every change is checked when it is added; the candidate config must load
without errors; the plan must not lose data (values that would not convert refuse the apply;
hiding a field or entity keeps its data and needs `confirm`); the draft must be based on the
live version (else `Conflict`, naming what the other admin published: never a silent
overwrite); publishing is one transaction. Then the changed files are written back into the
deployment's YAML folder, keeping comments and formatting (`yamledit`), unless the config is
read-only (a promoted deployment) or a file was changed on disk meanwhile.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.context import Context
from app.designer import drafts, history
from app.designer.changes import Change, ChangeError, apply_all, describe, text_sha
from app.designer.drafts import Draft
from app.meta.errors import ConfigError, ConfigErrors
from app.meta.files import ConfigFiles, FileKey
from app.meta.types import Meta
from app.migrate import sources
from app.migrate.diff import make_plan
from app.migrate.publish import PublishConflict, PublishError, active_version, publish
from app.migrate.steps import Plan, Step

log = logging.getLogger(__name__)
#: plan steps that hide data (kept in the database) and so need the admin's confirmation
HIDING = ("hide_column", "hide_table")


class Conflict(Exception):
    """The draft was made on a version that is no longer live: `newer` lists what was
    published since, `differences` what it changed."""

    def __init__(self, base: int | None, live: int | None,
                 newer: list[history.Version], differences: list[history.Difference]) -> None:
        super().__init__(f"the config changed since this draft was started (version {base} "
                         f"-> {live}); review the other change, then re-apply yours on it")
        self.base, self.live, self.newer, self.differences = base, live, newer, differences


class Refused(Exception):
    """The draft cannot be applied as it is; the message says why."""


@dataclass
class Preview:
    draft: Draft
    live_version: int | None
    base_files: ConfigFiles
    files: ConfigFiles | None = None
    change_error: str | None = None
    diffs: list[history.FileDiff] = field(default_factory=list)
    meta: Meta | None = None
    errors: list[ConfigError] = field(default_factory=list)
    plan: Plan | None = None
    checks: list[Any] = field(default_factory=list)
    conflict: Conflict | None = None
    read_only: str | None = None
    drift: list[str] = field(default_factory=list)

    @property
    def hides(self) -> list[Step]:
        return [s for s in self.plan.steps if s.op in HIDING] if self.plan else []

    @property
    def failed_checks(self) -> list[Any]:
        return [c for c in self.checks if not getattr(c, "passed", True)]

    @property
    def blockers(self) -> list[str]:
        """Why the draft cannot be applied now (empty: it can)."""
        out: list[str] = []
        if not self.draft.changes:
            out.append("the draft holds no changes")
        if self.change_error:
            out.append(self.change_error)
        if self.errors:
            out.append(f"the changed config has {len(self.errors)} error(s)")
        if self.plan is not None and self.plan.unsupported:
            out.append("the plan would lose data (marked x)")
        if self.conflict is not None:
            out.append(str(self.conflict))
        if self.read_only:
            out.append(self.read_only)
        return out


@dataclass
class Applied:
    version: int | None
    plan: Plan
    written: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


#: runs the deployment's config checks on a candidate: (meta, engine) -> results
CheckRunner = Callable[[Meta, sa.Engine], list[Any]]


def check_runner(dirs: Sequence[Path]) -> CheckRunner | None:
    """Run the config checks of `dirs` (config_tests/ folders) on a candidate; None without
    any. Broken check files come back as one failing result naming each problem."""
    from app.configtests import CheckResult, load_checks, run_checks

    if not dirs:
        return None
    checks, errors = load_checks(dirs)
    if not checks and not errors:
        return None

    def run(meta: Meta, engine: sa.Engine) -> list[Any]:
        broken = [CheckResult("config test files", "file", False, f"{e.code} {e.message}",
                              e.source, ()) for e in errors]
        return broken + run_checks(meta, checks, engine)

    return run


class Designer:
    def __init__(self, ctx: Context, *, checks: CheckRunner | None = None) -> None:
        self.ctx = ctx
        self.engine = ctx.engine
        self.run_checks = checks

    @classmethod
    def of(cls, ctx: Context) -> Designer:
        """The designer of a deployment, running its config checks (config_tests/) on every
        candidate: what the web pages, the API and the CLI use."""
        return cls(ctx, checks=check_runner(ctx.settings.config_test_dirs))

    # -- where a draft starts ------------------------------------------------------------
    def disk_files(self) -> ConfigFiles:
        return self.ctx.yaml_files()

    def files_of(self, conn: sa.Connection, version: int | None) -> ConfigFiles:
        """The YAML files of `version`: as recorded with it, else (older versions, or none yet)
        the files on disk."""
        disk = self.disk_files()
        if version is None:
            return disk
        recorded = sources.load(conn, version, disk.dirs)
        if recorded is None:
            return disk
        # lower layers (the base pack) always come from this deployment's disk: a revert or
        # a draft never rewrites the base pack, whose upgrades arrive with the code
        top = {k: disk.top(k) for k in disk.dirs}
        mine = {k: t for k, t in recorded.texts.items() if k.layer == top.get(k.kind)}
        base = {k: t for k, t in disk.texts.items() if k.layer != top.get(k.kind)}
        return ConfigFiles(disk.dirs, {**base, **mine}, disk.own)

    # -- the draft -----------------------------------------------------------------------
    @contextmanager
    def _draft_txn(self, author: str) -> Iterator[sa.Connection]:
        """A transaction that holds the author's draft: two tabs saving at once wait for each
        other instead of one overwriting the other (PostgreSQL: an advisory lock per author;
        SQLite: the write lock taken at BEGIN)."""
        with self.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn = conn.execution_options(begin_immediate=True)
            with conn.begin():
                if conn.dialect.name != "sqlite":
                    key = zlib.crc32(f"crm-draft:{author}".encode()) & 0x7FFFFFFF
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
                yield conn

    def draft(self, author: str) -> Draft:
        with self.engine.begin() as conn:
            found = drafts.load(conn, author)
            if found is not None:
                return found
            version, _ = active_version(conn)
            return Draft(author, version)

    def add(self, author: str, change: Change) -> Draft:
        """Add a change to the author's draft (ChangeError if it cannot be made). A `file`
        change remembers the text it was written on, so a rebase onto another admin's version
        of that file is refused instead of undoing their change."""
        plain = drafts.plain_change(change)
        if "\\u0000" in json.dumps(plain):
            raise ChangeError("the change holds a NUL character, which no config may contain")
        with self._draft_txn(author) as conn:
            draft = drafts.load(conn, author)
            if draft is None:
                version, _ = active_version(conn)
                draft = Draft(author, version)
            if plain.get("op") == "restore":
                raise ChangeError("a version is restored with revert_to, not as a change")
            if plain.get("op") == "file" and "base_sha" not in plain:
                _base, current = self.candidate(conn, draft)
                with suppress(ValueError):
                    plain["base_sha"] = text_sha(current.texts.get(
                        FileKey.parse(str(plain.get("file", "")))))
            # made once on the draft's files: raises ChangeError and nothing is saved
            self.candidate(conn, Draft(author, draft.base_version, [*draft.changes, plain]))
            draft.changes.append(plain)
            return drafts.save(conn, draft)

    def remove(self, author: str, index: int) -> Draft:
        with self._draft_txn(author) as conn:
            draft = drafts.load(conn, author)
            if draft is None or not 0 <= index < len(draft.changes):
                raise ChangeError(f"the draft has no change number {index + 1}")
            del draft.changes[index]
            if not draft.changes:
                drafts.delete(conn, author)
                return Draft(author, draft.base_version)
            return drafts.save(conn, draft)

    def discard(self, author: str) -> None:
        with self._draft_txn(author) as conn:
            drafts.delete(conn, author)

    def rebase(self, author: str) -> Draft:
        """Move the draft onto the live version (after the admin saw the other change); its
        changes are made again on the new files when previewed."""
        with self._draft_txn(author) as conn:
            draft = drafts.load(conn, author)
            version, _ = active_version(conn)
            if draft is None:
                return Draft(author, version)
            draft.base_version = version
            return drafts.save(conn, draft)

    def revert_to(self, author: str, version: int) -> Draft:
        """Start a draft (replacing the author's) that brings back `version`'s files."""
        with self._draft_txn(author) as conn:
            if sources.load(conn, version, self.disk_files().dirs) is None:
                raise ChangeError(f"version {version} has no recorded YAML files (it was "
                                  "published before versions kept them, or does not exist); "
                                  "it cannot be restored")
            live, _ = active_version(conn)
            drafts.delete(conn, author)
            return drafts.save(conn, Draft(author, live, [{"op": "restore",
                                                           "version": int(version)}]))

    # -- what the draft does -------------------------------------------------------------
    def candidate(self, conn: sa.Connection, draft: Draft) -> tuple[ConfigFiles, ConfigFiles]:
        """(base files, files with the draft's changes made). `restore` changes bring back a
        version's own files."""
        base = self.files_of(conn, draft.base_version)
        files = base
        for change in draft.changes:
            if change.get("op") == "restore":
                files = self.files_of(conn, int(change.get("version", 0)))
            else:
                files = apply_all(files, [change])
        return base, files

    def preview(self, author: str, draft: Draft | None = None) -> Preview:
        with self.engine.connect() as conn:
            draft = draft or drafts.load(conn, author) or Draft(author, None)
            live, live_meta = active_version(conn)
            if draft.base_version is None and not draft.changes:
                draft.base_version = live
            base, files = self.files_of(conn, draft.base_version), None
            out = Preview(draft, live, base, read_only=self.read_only_reason())
            out.drift = self.drift(base)
            if draft.base_version != live:
                out.conflict = self.conflict(conn, draft.base_version, live)
            try:
                base, files = self.candidate(conn, draft)
            except ChangeError as exc:
                out.change_error = str(exc)
                return out
            out.files = files
            out.diffs = history.file_diffs(base, files, label_a=f"v{draft.base_version}",
                                           label_b="draft")
            try:
                out.meta = self.ctx.yaml_meta(files)
            except ConfigErrors as exc:
                out.errors = list(exc.errors)
                return out
            except Exception as exc:  # a loader defect must not lock the admin out of the page
                log.exception("the candidate config of %s's draft did not load", author)
                out.change_error = (f"the changed config cannot be loaded ({type(exc).__name__}"
                                    f": {exc}); undo the last change or edit the file")
                return out
            out.plan = make_plan(conn, live_meta, out.meta, base_version=live)
        if self.run_checks is not None:
            out.checks = self.run_checks(out.meta, self.engine)
        return out

    def conflict(self, conn: sa.Connection, base: int | None, live: int | None) -> Conflict:
        newer = [v for v in history.versions(conn, limit=50)
                 if base is None or v.id > base]
        old = history.snapshot(conn, base) if base is not None else None
        new = history.snapshot(conn, live) if live is not None else None
        return Conflict(base, live, newer, history.compare(old, new))

    def read_only_reason(self) -> str | None:
        settings = self.ctx.settings
        if settings.read_only_config:
            return ("this deployment's config is read-only (read_only_config: it is promoted "
                    "from another environment): download the changed YAML and promote it")
        disk = self.disk_files()
        for kind in disk.dirs:
            top = disk.top(kind)
            if top is None:
                continue
            folder = disk.dirs[kind][top]
            if folder.exists() and not os.access(folder, os.W_OK):
                return (f"the config folder {folder} cannot be written: download the changed "
                        "YAML and deploy it")
        return None

    def drift(self, base: ConfigFiles) -> list[str]:
        """Top-layer files edited on disk by hand: their text differs from the draft's base
        version and is no published version's either (a file that is just older, because
        another server applied a change, is not drift: applying brings it up to date)."""
        disk = self.disk_files()
        differing = [key for key in sorted(set(disk.texts) | set(base.texts), key=str)
                     if key.layer == disk.top(key.kind)
                     and disk.texts.get(key) != base.texts.get(key)]
        if not differing:
            return []
        with self.engine.connect() as conn:
            known = sources.known_texts(conn, [disk.texts[k] for k in differing
                                               if k in disk.texts])
        return [str(disk.path_of(k)) for k in differing
                if k in disk.texts and disk.texts[k] not in known]

    # -- applying ------------------------------------------------------------------------
    def apply(self, author: str, *, confirm: bool = False, message: str | None = None
              ) -> Applied:
        """Publish the author's draft. Raises Conflict, Refused (with the reason), or
        PublishError from the database step."""
        preview = self.preview(author)
        if preview.conflict is not None:
            raise preview.conflict
        problems = preview.blockers
        if problems:
            raise Refused("; ".join(problems))
        assert preview.meta is not None and preview.files is not None and preview.plan
        if preview.hides and not confirm:
            raise Refused("the change hides data (" + "; ".join(
                s.summary for s in preview.hides) + "): confirm it to apply")
        if preview.failed_checks and not confirm:
            raise Refused(f"{len(preview.failed_checks)} config check(s) fail: confirm to "
                          "apply anyway")
        summary = _printable(message) or "; ".join(
            describe(c) for c in preview.draft.changes)[:500]
        try:
            result = publish(self.engine, preview.meta, author=author, message=summary,
                             expected_base=preview.draft.base_version,
                             migrations_dir=self.ctx.settings.writable_migrations_dir,
                             files=preview.files)
        except PublishConflict:
            with self.engine.connect() as conn:
                live, _ = active_version(conn)
                raise self.conflict(conn, preview.draft.base_version, live) from None
        except PublishError:
            raise
        except sa.exc.DBAPIError as exc:  # the database refused a step: nothing was applied
            raise Refused("the database refused the change, nothing was applied: "
                          f"{str(exc.orig or exc).splitlines()[0]}") from None
        written, skipped = self.write_back(preview.base_files, preview.files)
        with self.engine.begin() as conn:
            drafts.delete(conn, author)
        return Applied(result.version, result.plan, written, skipped)

    def write_back(self, base: ConfigFiles, files: ConfigFiles
                   ) -> tuple[list[str], list[tuple[str, str]]]:
        """Make the deployment's own config folders hold `files` (the version just applied):
        the files the draft changed, and files that are merely older (another server applied a
        change). A file edited by hand on disk is never overwritten: it is reported."""
        written: list[str] = []
        skipped: list[tuple[str, str]] = []
        if self.read_only_reason():
            return written, skipped
        disk = self.disk_files()
        edited = set(self.drift(base))
        keys = sorted(set(disk.texts) | set(files.texts), key=str)
        for key in keys:
            if key.layer != files.top(key.kind):
                continue
            want, have = files.texts.get(key), disk.texts.get(key)
            if want == have:
                continue
            path = files.path_of(key)
            if str(path) in edited:
                skipped.append((str(path), "edited on disk and not published; not "
                                "overwritten (download the designer's version)"))
                continue
            try:
                if want is None:
                    path.unlink(missing_ok=True)
                else:
                    _write_atomic(path, want)
            except (OSError, ValueError) as exc:
                skipped.append((str(path), f"cannot be written: "
                                f"{getattr(exc, 'strerror', None) or exc}"))
                continue
            written.append(str(path))
        return written, skipped

    # -- purge -----------------------------------------------------------------------------
    def purge_plan(self) -> Plan:
        with self.engine.connect() as conn:
            live, meta = active_version(conn)
            if meta is None:
                raise Refused("no config version is live yet")
            return make_plan(conn, meta, meta, base_version=live, purge=True)

    def purge(self, author: str, *, confirm: bool, seen_version: int | None = None) -> Applied:
        """Drop the columns and tables of removed fields and entities (a backup copy of each
        is taken first). `seen_version`: the version whose purge plan the admin confirmed;
        when another version went live since, nothing is purged (Conflict)."""
        if not confirm:
            raise Refused("purging deletes the hidden data: confirm it")
        with self.engine.connect() as conn:
            live, meta = active_version(conn)
            files = self.files_of(conn, live)
            if seen_version is not None and seen_version != live:
                raise self.conflict(conn, seen_version, live)
        if meta is None:
            raise Refused("no config version is live yet")
        result = publish(self.engine, meta, author=author, message="purge removed fields",
                         purge=True, allow_destructive=True, expected_base=live,
                         migrations_dir=self.ctx.settings.writable_migrations_dir,
                         files=files)
        return Applied(result.version, result.plan)


def _printable(text: str | None) -> str | None:
    """A message without control characters (a NUL would break PostgreSQL's text)."""
    if text is None:
        return None
    cleaned = "".join(ch for ch in text if ch in "\n\t" or ch.isprintable()).strip()
    return cleaned[:2000] or None


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
