"""Who may reach which gallery: the tenants (customers) and their tokens, in one SQLite file.

A tenant owns galleries; a token names one tenant. A token is shown once, when
it is made (``aes_<key>_<secret>``), and never stored: the file keeps its
``key``, to find the row, and the SHA-256 digest of its secret, which is
compared with :func:`hmac.compare_digest`, in constant time. SHA-256 and not a
slow password hash, because the secret is 32 random bytes, not a word a
person chose: no dictionary guesses it, and a slow hash would cost every
request its time.

Every check reads the file, so a token revoked by ``aesearch token revoke``
(another process) stops working at the service's next request, without a
restart. The tenant :data:`ADMIN` owns the galleries built for the datasets.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from aesearch_utils.errors import CorruptDataError, InvalidInputError

ADMIN = "admin"
"""The tenant that owns the datasets' public galleries."""

TOKENS_FILE = "tenants.sqlite"
"""Its name in the galleries folder."""

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_TOKEN = re.compile(r"aes_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (name TEXT PRIMARY KEY, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    key TEXT PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants(name),
    digest BLOB NOT NULL,
    created REAL NOT NULL,
    revoked REAL
);
"""


@dataclass(frozen=True)
class TokenRow:
    """What the file knows of a token: never the token itself."""

    key: str
    tenant: str
    created: float
    revoked: float | None


def check_tenant_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"tenant name {name!r}: use 1-63 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return name


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


class TenantRegistry:
    """The tenants file; safe to share between threads, and between processes (SQLite WAL)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=10
            )
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=FULL")
            self._connection.executescript(_SCHEMA)
        except sqlite3.DatabaseError as error:
            raise CorruptDataError(f"{self.path}: not a readable tenants file ({error})") from None
        self._lock = threading.Lock()
        self.closed = False

    @classmethod
    def in_folder(cls, galleries_dir: str | Path) -> TenantRegistry:
        return cls(Path(galleries_dir) / TOKENS_FILE)

    def close(self) -> None:
        with self._lock:
            self._connection.close()
            self.closed = True

    def _execute(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._connection.execute(sql, parameters).fetchall()

    # ---- tenants ------------------------------------------------------------------------------

    def add_tenant(self, name: str) -> None:
        check_tenant_name(name)
        try:
            self._execute("INSERT INTO tenants VALUES (?, ?)", (name, time.time()))
        except sqlite3.IntegrityError:
            raise InvalidInputError(f"tenant {name!r} already exists") from None

    def tenants(self) -> list[str]:
        return [row[0] for row in self._execute("SELECT name FROM tenants ORDER BY name")]

    def _known_tenant(self, name: str) -> str:
        if name == ADMIN:
            self._execute("INSERT OR IGNORE INTO tenants VALUES (?, ?)", (ADMIN, time.time()))
        elif not self._execute("SELECT 1 FROM tenants WHERE name = ?", (name,)):
            known = ", ".join(self.tenants()) or "none yet"
            raise InvalidInputError(
                f"no tenant {name!r} (tenants: {known}); add it with `aesearch tenant add {name}`"
            )
        return name

    # ---- tokens -------------------------------------------------------------------------------

    def add_token(self, tenant: str) -> str:
        """A new token of ``tenant``: returned once, stored only as a digest."""
        self._known_tenant(tenant)
        key, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        self._execute(
            "INSERT INTO tokens VALUES (?, ?, ?, ?, NULL)",
            (key, tenant, _digest(secret), time.time()),
        )
        return f"aes_{key}_{secret}"

    def revoke(self, key: str) -> None:
        """Revoke a token by its key (the part after ``aes_``; ``aesearch token list`` shows it)."""
        rows = self._execute("SELECT revoked FROM tokens WHERE key = ?", (key,))
        if not rows:
            raise InvalidInputError(f"no token with key {key!r}: `aesearch token list` shows them")
        self._execute(
            "UPDATE tokens SET revoked = ? WHERE key = ? AND revoked IS NULL", (time.time(), key)
        )

    def tokens(self, tenant: str | None = None) -> list[TokenRow]:
        rows = self._execute(
            "SELECT key, tenant, created, revoked FROM tokens"
            + (" WHERE tenant = ?" if tenant else "")
            + " ORDER BY created",
            (tenant,) if tenant else (),
        )
        return [TokenRow(*row) for row in rows]

    def has_active_tokens(self) -> bool:
        return bool(self._execute("SELECT 1 FROM tokens WHERE revoked IS NULL LIMIT 1"))

    def tenant_of(self, token: str) -> str | None:
        """The tenant of a valid, unrevoked ``token``; ``None`` for anything else."""
        match = _TOKEN.fullmatch(token)
        if match is None:
            return None
        key, secret = match.groups()
        rows = self._execute(
            "SELECT tenant, digest FROM tokens WHERE key = ? AND revoked IS NULL", (key,)
        )
        if not rows:
            _digest(secret)  # the same work as a known key: the answer's time says nothing
            return None
        tenant, digest = rows[0]
        return tenant if hmac.compare_digest(_digest(secret), digest) else None
