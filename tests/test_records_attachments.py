"""The attachment store: content-addressed bytes, sys_attachment rows, size limit, file names."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.model.system import attachments as table
from app.model.system import create_system_tables
from app.records import NotFound
from app.records.attachments import MAX_SIZE, AttachmentStore, TooLarge, guess_type, safe_name


@pytest.fixture
def store(engine: sa.Engine, tmp_path: Path) -> AttachmentStore:
    with engine.begin() as conn:
        create_system_tables(conn)
    return AttachmentStore(engine, tmp_path / "attachments")


def test_save_list_open_and_delete(store: AttachmentStore) -> None:
    data = b"hello attachment\n" * 1000
    saved = store.save("account", 7, "报价单 2026.pdf", io.BytesIO(data), user_id=None)
    assert saved.name == "报价单 2026.pdf" and saved.size == len(data)
    assert saved.content_type == "application/pdf"
    assert saved.key == hashlib.sha256(data).hexdigest()
    assert (store.folder / saved.key).read_bytes() == data
    assert [a.id for a in store.list("account", 7)] == [saved.id]
    assert store.list("account", 8) == [] and store.list("contact", 7) == []
    with store.open(store.get("account", 7, saved.id)) as fh:
        assert fh.read() == data
    store.delete("account", 7, saved.id)
    assert store.list("account", 7) == []
    assert [a.id for a in store.list("account", 7, deleted=True)] == [saved.id]
    with pytest.raises(NotFound):
        store.get("account", 7, saved.id)
    with pytest.raises(NotFound):
        store.delete("account", 7, saved.id)


def test_same_bytes_are_stored_once(store: AttachmentStore) -> None:
    a = store.save("account", 1, "a.txt", b"same bytes")
    b = store.save("contact", 2, "b.txt", b"same bytes")
    assert a.key == b.key and a.id != b.id
    files = [p for p in store.folder.iterdir()]
    assert [p.name for p in files] == [a.key]  # no temporary files left either
    store.delete("account", 1, a.id)
    with store.open(store.get("contact", 2, b.id)) as fh:  # the other row still reads them
        assert fh.read() == b"same bytes"


def test_an_attachment_belongs_to_its_record(store: AttachmentStore) -> None:
    saved = store.save("account", 1, "x.txt", b"x")
    for entity, record in (("account", 2), ("contact", 1)):
        with pytest.raises(NotFound):
            store.get(entity, record, saved.id)


def test_size_limit(store: AttachmentStore, engine: sa.Engine) -> None:
    assert MAX_SIZE == 20 * 1024 * 1024
    small = AttachmentStore(engine, store.folder, max_size=1024)
    small.save("account", 1, "ok.bin", b"x" * 1024)
    with pytest.raises(TooLarge) as exc:
        small.save("account", 1, "big.bin", io.BytesIO(b"x" * 1025))
    assert exc.value.status == 413 and "1 KB" in exc.value.message
    assert len(small.list("account", 1)) == 1
    assert len(list(store.folder.iterdir())) == 1  # the refused bytes are not kept
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 1


def test_bad_keys_are_not_found(store: AttachmentStore) -> None:
    for key in ("../../etc/passwd", "abc", "0" * 64):
        with pytest.raises(NotFound):
            store.open_key(key)


@pytest.mark.parametrize(("raw", "clean"), [
    ("report.pdf", "report.pdf"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\li\\合同 草案.docx", "合同 草案.docx"),
    ("a<b>:c?.txt", "a_b__c_.txt"),
    ("  .hidden  ", "hidden"),
    ("evil\x00name\n.txt", "evil_name_.txt"),
    ("", "file"),
    (None, "file"),
    ("...", "file"),
])
def test_file_names_are_sanitised(raw: str | None, clean: str) -> None:
    assert safe_name(raw) == clean


def test_long_names_keep_their_extension() -> None:
    name = safe_name("长" * 300 + ".xlsx")
    assert len(name) == 255 and name.endswith(".xlsx")


def test_content_types_are_guessed_from_the_name() -> None:
    assert guess_type("photo.PNG") == "image/png"
    assert guess_type("data.csv") == "text/csv"
    assert guess_type("no-extension") == "application/octet-stream"
