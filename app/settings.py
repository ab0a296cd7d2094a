"""config.yaml: where the database is, which schemas to read, the roles, and overlays.

Resolution order, later wins: the `extends:` chain (base first), then the file itself, then
`CRM_<KEY>` environment variables (values parsed as YAML scalars, so `CRM_ROLES="[a, b]"` works).
`CRM_CONFIG` selects the file (default: ./config.yaml). Paths in a file are relative to that file.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field, replace
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from app.meta.errors import ConfigError, ConfigErrors
from app.meta.types import IDENTIFIER, Source

log = logging.getLogger(__name__)

KEYS = {
    "name": "a display name for this deployment",
    "database_url": "SQLAlchemy URL; default a SQLite file in instance/",
    "secret_key": "never write it here: set CRM_SECRET_KEY",
    "locale": "default language: en or zh_CN",
    "currency": "default ISO currency code for currency fields",
    "roles": "the roles users can have",
    "schemas": "folder of entity YAML files",
    "workflows": "folder of workflow YAML files",
    "reports": "folder of report, dashboard and alert YAML files",
    "documents": "folder of document templates (HTML made into PDFs, docs/documents.md; "
                 "default documents, when it exists)",
    "company": "your company on generated documents: name, logo (a file in the documents "
               "folder or a data: URI), address, phone, email, website, tax_id, bank, account",
    "config_tests": "folder of config test files that `crm config test` runs "
                    "(default config_tests, when it exists)",
    "migrations": "folder where applied schema changes are recorded",
    "plugins": "folder of plugins",
    "extends": "the config.yaml this one overlays",
    "instance": "folder for the SQLite database, uploads and keys",
    "read_only_config": "the config folder may not be written (promoted deployments)",
    "rate_limit_storage": "where sign-in rate limits are counted: memory:// or redis://host:port",
    "login_rate_limit": "sign-in attempts allowed per client address, e.g. '10 per minute'",
    "api_rate_limit": "API requests allowed per token (or signed-in user), e.g. '600 per minute'",
    "secure_cookies": "HTTPS only: secure cookies and HSTS; set true behind HTTPS (default false)",
    "task_queue": "the task queue: sqlite (instance/tasks.db), redis://host:port/db, or immediate",
    "embedded_worker": "crm serve runs the task worker in threads when task_queue is sqlite",
    "webhook_max_attempts": "tries of a webhook delivery or automation before it is failed",
    "webhook_timeout": "seconds to wait for a webhook receiver to answer",
    "mail_url": "the SMTP server for notification mails: smtp://host:port, "
                "smtp+starttls://[user@]host:587 or smtps://[user@]host:465; the password only "
                "from CRM_MAIL_PASSWORD; unset: mails are logged as skipped",
    "mail_from": "the sender of notification mails (default 'CRM <crm@localhost>')",
    "base_url": "the address users open the CRM at, for links in mails "
                "(default http://127.0.0.1:5000)",
    "mail_max_attempts": "tries of a notification mail before it is failed (default 5)",
    "mail_timeout": "seconds to wait for the SMTP server (default 30)",
}
#: keys whose environment value is taken as written (not parsed as YAML)
TEXT_KEYS = ("database_url", "secret_key", "name", "mail_url", "mail_from", "base_url")
MAIL_SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
PATH_KEYS = ("schemas", "workflows", "reports", "migrations", "plugins", "instance",
             "config_tests", "documents")
#: the folder of config tests when a config.yaml names none (used when it exists)
DEFAULT_CONFIG_TESTS = "config_tests"
#: the folder of document templates when a config.yaml names none (used when it exists)
DEFAULT_DOCUMENTS = "documents"
LOCALES = ("en", "zh_CN")
_WARNED: set[str] = set()


@dataclass(frozen=True)
class Layer:
    """One config.yaml in the `extends` chain."""

    config_file: Path
    schemas: Path | None
    workflows: Path | None
    #: config test files (`config_tests:`, else ./config_tests when that folder exists)
    config_tests: Path | None = None
    #: reports, dashboards and alerts (`reports:`)
    reports: Path | None = None
    #: document templates (`documents:`, else ./documents when that folder exists)
    documents: Path | None = None


@dataclass(frozen=True)
class MailServer:
    """Where notification mails go (`mail_url`). `security`: "plain" (smtp://), "starttls"
    (smtp+starttls://: the connection must be upgraded) or "tls" (smtps://)."""

    host: str
    port: int
    security: str
    username: str | None = None

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


def parse_mail_url(url: str) -> MailServer:
    """The MailServer of a `mail_url`; ValueError says what is wrong (never echoing a
    password)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in MAIL_SCHEMES:
        raise ValueError(f"mail_url must start with {', '.join(s + '://' for s in MAIL_SCHEMES)}"
                         f" (not '{scheme[:20]}')")
    if parts.password is not None:
        raise ValueError("mail_url must not contain a password: set CRM_MAIL_PASSWORD")
    if not parts.hostname:
        raise ValueError("mail_url names no host, e.g. smtp://mail.example.com:25")
    try:
        port = MAIL_SCHEMES[scheme] if parts.port is None else parts.port
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ValueError("mail_url has a port that is not a number from 1 to 65535")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ValueError("mail_url is only scheme://[user@]host[:port], without a path or "
                         "options")
    security = {"smtp": "plain", "smtp+starttls": "starttls", "smtps": "tls"}[scheme]
    return MailServer(parts.hostname, port, security,
                      unquote(parts.username) if parts.username else None)


def check_mail_from(value: str) -> str:
    """`value` when it is an address like 'CRM <crm@example.com>', else ValueError."""
    _name, address = parseaddr(value)
    if "@" not in address or any(c in value for c in "\r\n"):
        raise ValueError(f"mail_from '{value[:80]}' is not an address like "
                         "'CRM <crm@example.com>'")
    return value


def check_base_url(value: str) -> str:
    """`value` without its trailing slash when it is http(s)://host[:port][/path], else
    ValueError."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query \
            or parts.fragment:
        raise ValueError(f"base_url '{value[:80]}' is not like https://crm.example.com")
    return value.rstrip("/")


@dataclass(frozen=True)
class Settings:
    config_file: Path
    name: str
    database_url: str
    secret_key: str
    secret_key_generated: bool
    locale: str
    currency: str
    roles: tuple[str, ...]
    layers: tuple[Layer, ...]
    migrations_dir: Path
    plugins_dir: Path | None
    instance_dir: Path
    read_only_config: bool
    raw: dict[str, Any] = field(default_factory=dict)
    #: CRM_ENCRYPTION_KEY (a Fernet key) and CRM_ENCRYPTION_OLD_KEYS (comma-separated, for
    #: rotation); None: a development key in instance/encryption.key (app/crypto.py)
    encryption_key: str | None = field(default=None, repr=False)
    encryption_old_keys: tuple[str, ...] = field(default=(), repr=False)
    #: CRM_MAIL_PASSWORD: the SMTP password of `mail_url`'s user (never in a config file)
    mail_password: str | None = field(default=None, repr=False)

    @property
    def rate_limit_storage(self) -> str:
        return str(self.raw.get("rate_limit_storage") or "memory://")

    @property
    def login_rate_limit(self) -> str:
        return str(self.raw.get("login_rate_limit") or "10 per minute")

    @property
    def api_rate_limit(self) -> str:
        return str(self.raw.get("api_rate_limit") or "600 per minute")

    @property
    def secure_cookies(self) -> bool:
        return bool(self.raw.get("secure_cookies", False))

    @property
    def task_queue(self) -> str:
        return str(self.raw.get("task_queue") or "sqlite")

    @property
    def embedded_worker(self) -> bool:
        return bool(self.raw.get("embedded_worker", True))

    @property
    def webhook_max_attempts(self) -> int:
        return max(1, int(self.raw.get("webhook_max_attempts") or 6))

    @property
    def webhook_timeout(self) -> float:
        return float(self.raw.get("webhook_timeout") or 10)

    @property
    def mail_server(self) -> MailServer | None:
        """The SMTP server of `mail_url` (checked when the settings load); None: not set."""
        url = self.raw.get("mail_url")
        return parse_mail_url(str(url)) if url else None

    @property
    def mail_from(self) -> str:
        return str(self.raw.get("mail_from") or "CRM <crm@localhost>")

    @property
    def base_url(self) -> str:
        return str(self.raw.get("base_url") or "http://127.0.0.1:5000").rstrip("/")

    @property
    def mail_max_attempts(self) -> int:
        return max(1, int(self.raw.get("mail_max_attempts") or 5))

    @property
    def mail_timeout(self) -> float:
        return float(self.raw.get("mail_timeout") or 30)

    @property
    def attachments_dir(self) -> Path:
        return self.instance_dir / "attachments"

    def warn_if_insecure(self) -> None:
        """Say loudly, once per process and key, that a generated key is in use (the web app
        calls this whenever it builds an app for a config version)."""
        if self.secret_key_generated and self.secret_key not in _WARNED:
            _WARNED.add(self.secret_key)
            log.warning(
                "CRM_SECRET_KEY is not set: using a random development key. Sessions will not "
                "survive a restart and this is NOT safe for production. Set CRM_SECRET_KEY."
            )

    @property
    def writable_migrations_dir(self) -> Path | None:
        """Where publishing records migration files; None on a read-only (promoted) config."""
        return None if self.read_only_config else self.migrations_dir

    @property
    def schema_dirs(self) -> list[Path]:
        return [layer.schemas for layer in self.layers if layer.schemas is not None]

    @property
    def workflow_dirs(self) -> list[Path]:
        return [layer.workflows for layer in self.layers if layer.workflows is not None]

    @property
    def report_dirs(self) -> list[Path]:
        return [layer.reports for layer in self.layers if layer.reports is not None]

    @property
    def config_test_dirs(self) -> list[Path]:
        return [layer.config_tests for layer in self.layers if layer.config_tests is not None]

    @property
    def document_dirs(self) -> list[Path]:
        """Folders of document templates, base first (an overlay's template of the same name
        wins)."""
        return [layer.documents for layer in self.layers if layer.documents is not None]

    @property
    def company(self) -> dict[str, str]:
        """`company:` of config.yaml (checked when the settings load: text values only)."""
        found = self.raw.get("company")
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _read(path: Path, seen: tuple[Path, ...]) -> list[tuple[Path, dict[str, Any]]]:
    """The chain of (file, data), base first."""
    src = Source(str(path))
    if path in seen:
        circle = " -> ".join(str(p) for p in (*seen, path))
        raise ConfigErrors([ConfigError("CRM-E050", f"`extends` goes round in a circle: {circle}",
                                        src)])
    if not path.is_file():
        raise ConfigErrors([ConfigError("CRM-E050", f"config file {path} does not exist", src)])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigErrors([ConfigError("CRM-E001", f"not valid YAML: {exc}", src)]) from None
    if not isinstance(data, dict):
        raise ConfigErrors([ConfigError("CRM-E050", "config.yaml must be a mapping of keys", src)])
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ConfigErrors(
            [ConfigError("CRM-E050", f"unknown key '{k}'; the keys are: {', '.join(KEYS)}", src)
             for k in unknown]
        )
    base = data.get("extends")
    chain: list[tuple[Path, dict[str, Any]]] = []
    if base:
        chain = _read((path.parent / str(base)).resolve(), (*seen, path))
    chain.append((path, data))
    return chain


def _env_overrides(environ: dict[str, str] | os._Environ[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in KEYS:
        env = f"CRM_{key.upper()}"
        if env in environ:
            raw = environ[env]
            if key in TEXT_KEYS:
                out[key] = raw
            else:
                try:
                    out[key] = yaml.safe_load(raw)
                except yaml.YAMLError:
                    out[key] = raw
    return out


def load_settings(
    config_file: str | Path | None = None, environ: dict[str, str] | None = None
) -> Settings:
    env = os.environ if environ is None else environ
    path = Path(config_file or env.get("CRM_CONFIG") or "config.yaml").resolve()
    chain = _read(path, ())
    merged: dict[str, Any] = {}
    layers: list[Layer] = []
    resolved_paths: dict[str, Path] = {}
    for file, data in chain:
        for key in PATH_KEYS:
            if data.get(key):
                resolved_paths[key] = (file.parent / str(data[key])).resolve()
        layers.append(
            Layer(
                config_file=file,
                schemas=(file.parent / str(data["schemas"])).resolve()
                if data.get("schemas") else None,
                workflows=(file.parent / str(data["workflows"])).resolve()
                if data.get("workflows") else None,
                config_tests=_config_tests(file, data),
                reports=(file.parent / str(data["reports"])).resolve()
                if data.get("reports") else None,
                documents=_optional_dir(file, data, "documents", DEFAULT_DOCUMENTS),
            )
        )
        merged.update({k: v for k, v in data.items() if k not in PATH_KEYS})
    overrides = _env_overrides(env)
    for key in PATH_KEYS:
        if key in overrides:
            resolved_paths[key] = Path(str(overrides.pop(key))).resolve()
    merged.update(overrides)
    if "CRM_SCHEMAS" in env or "CRM_WORKFLOWS" in env:  # the environment overrides the top layer
        top = layers[-1]
        layers[-1] = Layer(top.config_file, resolved_paths.get("schemas", top.schemas),
                           resolved_paths.get("workflows", top.workflows), top.config_tests,
                           top.reports)
    if "CRM_REPORTS" in env:
        layers[-1] = replace(layers[-1], reports=resolved_paths["reports"])
    if "CRM_CONFIG_TESTS" in env:
        layers[-1] = replace(layers[-1], config_tests=resolved_paths["config_tests"])
    if "CRM_DOCUMENTS" in env:
        layers[-1] = replace(layers[-1], documents=resolved_paths["documents"])

    src = Source(str(path))
    errors: list[ConfigError] = []
    for file, data in chain:  # a base in the extends chain may not hold one either
        if data.get("secret_key"):
            errors.append(ConfigError("CRM-E050", "secret_key must not be written in a config "
                                      "file; set the CRM_SECRET_KEY environment variable",
                                      Source(str(file))))
    locale = str(merged.get("locale") or "en")
    if locale not in LOCALES:
        errors.append(ConfigError("CRM-E050", f"locale '{locale}' is not one of "
                                  f"{', '.join(LOCALES)}", src))
    roles_raw = merged.get("roles") or ["admin"]
    if not isinstance(roles_raw, list):
        errors.append(ConfigError("CRM-E050", "roles must be a list of role names", src))
        roles_raw = ["admin"]
    roles = tuple(str(r) for r in roles_raw)
    for role in roles:
        if not IDENTIFIER.match(role):
            errors.append(ConfigError("CRM-E050", f"role '{role}' is not a valid identifier", src))
    if "admin" not in roles:
        roles = ("admin", *roles)
    currency = str(merged.get("currency") or "CNY")
    queue = str(merged.get("task_queue") or "sqlite")
    if queue not in ("sqlite", "immediate") and not queue.startswith(("redis://", "rediss://")):
        errors.append(ConfigError("CRM-E050", f"task_queue '{queue}' is not sqlite, immediate "
                                  "or a redis://host:port/db URL", src))
    errors += [ConfigError("CRM-E050", problem, src) for problem in _mail_problems(merged)]
    company = merged.get("company")
    if company is not None and (not isinstance(company, dict) or not all(
            isinstance(v, str | int | float) and not isinstance(v, bool)
            for v in company.values())):
        errors.append(ConfigError("CRM-E050", "company must be a mapping of texts, e.g. "
                                  "{name: ..., logo: logo.png, address: ...}", src))
    for key in ("webhook_max_attempts", "webhook_timeout", "mail_max_attempts", "mail_timeout"):
        value = merged.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or value <= 0):
            errors.append(ConfigError("CRM-E050", f"{key} must be a positive number", src))
    if errors:
        raise ConfigErrors(errors)

    instance = resolved_paths.get("instance", path.parent / "instance")
    database_url = str(merged.get("database_url") or f"sqlite:///{instance / 'crm.db'}")
    secret = str(merged.get("secret_key") or env.get("CRM_SECRET_KEY") or "")
    generated = not secret
    if generated:
        secret = secrets.token_hex(32)
    return Settings(
        config_file=path,
        name=str(merged.get("name") or "CRM"),
        database_url=database_url,
        secret_key=secret,
        secret_key_generated=generated,
        locale=locale,
        currency=currency,
        roles=roles,
        layers=tuple(layers),
        migrations_dir=resolved_paths.get("migrations", path.parent / "migrations"),
        plugins_dir=resolved_paths.get("plugins"),
        instance_dir=instance,
        read_only_config=bool(merged.get("read_only_config", False)),
        raw=merged,
        encryption_key=env.get("CRM_ENCRYPTION_KEY", "").strip() or None,
        encryption_old_keys=tuple(k.strip() for k in env.get("CRM_ENCRYPTION_OLD_KEYS", "")
                                  .split(",") if k.strip()),
        mail_password=env.get("CRM_MAIL_PASSWORD") or None,
    )


def _config_tests(file: Path, data: dict[str, Any]) -> Path | None:
    """A layer's folder of config tests: the one it names, else ./config_tests if it exists."""
    if data.get("config_tests"):
        return (file.parent / str(data["config_tests"])).resolve()
    default = (file.parent / DEFAULT_CONFIG_TESTS).resolve()
    return default if default.is_dir() else None


def _optional_dir(file: Path, data: dict[str, Any], key: str, default: str) -> Path | None:
    """A layer's folder `key`: the one it names, else ./`default` when that exists."""
    if data.get(key):
        return (file.parent / str(data[key])).resolve()
    found = (file.parent / default).resolve()
    return found if found.is_dir() else None


def _mail_problems(merged: dict[str, Any]) -> list[str]:
    """What is wrong with `mail_url`, `mail_from` and `base_url` (each a sentence)."""
    checks = (("mail_url", parse_mail_url), ("mail_from", check_mail_from),
              ("base_url", check_base_url))
    problems: list[str] = []
    for key, check in checks:
        value = merged.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            problems.append(f"{key} must be text")
            continue
        try:
            check(value)
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def config_schema() -> dict[str, Any]:
    """JSON Schema of config.yaml, shipped as app/meta/config.schema.json for editors."""
    strings: dict[str, dict[str, Any]] = {
        k: {"type": "string", "description": d} for k, d in KEYS.items()}
    strings["roles"] = {"type": "array", "items": {"type": "string",
                                                   "pattern": IDENTIFIER.pattern},
                        "description": KEYS["roles"]}
    strings["locale"] = {"enum": list(LOCALES), "description": KEYS["locale"]}
    strings["currency"] = {"type": "string", "pattern": "^[A-Z]{3}$",
                           "description": KEYS["currency"]}
    strings["read_only_config"] = {"type": "boolean", "description": KEYS["read_only_config"]}
    strings["secure_cookies"] = {"type": "boolean", "description": KEYS["secure_cookies"]}
    strings["task_queue"] = {"type": "string", "pattern": "^(sqlite|immediate|rediss?://.+)$",
                             "description": KEYS["task_queue"]}
    strings["embedded_worker"] = {"type": "boolean", "description": KEYS["embedded_worker"]}
    strings["webhook_max_attempts"] = {"type": "integer", "minimum": 1,
                                       "description": KEYS["webhook_max_attempts"]}
    strings["webhook_timeout"] = {"type": "number", "exclusiveMinimum": 0,
                                  "description": KEYS["webhook_timeout"]}
    strings["mail_url"] = {"type": "string", "pattern": "^(smtp|smtp\\+starttls|smtps)://[^:/@]+"
                                                           "(@[^:/@]+)?(:[0-9]+)?/?$",
                           "description": KEYS["mail_url"]}
    strings["base_url"] = {"type": "string", "pattern": "^https?://[^/?#]+(/[^?#]*)?$",
                           "description": KEYS["base_url"]}
    strings["mail_max_attempts"] = {"type": "integer", "minimum": 1,
                                    "description": KEYS["mail_max_attempts"]}
    strings["mail_timeout"] = {"type": "number", "exclusiveMinimum": 0,
                               "description": KEYS["mail_timeout"]}
    strings["secret_key"] = {"not": {}, "description": KEYS["secret_key"]}
    strings["company"] = {"type": "object", "description": KEYS["company"],
                          "additionalProperties": {"type": ["string", "number"]}}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "CRM config.yaml", "type": "object", "properties": strings,
            "additionalProperties": False}
