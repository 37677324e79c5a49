"""Full-text search, per dialect: the index tables, how to write them and how to match them.

Both dialects index text folded by ``palaver.domain.messenger.search.fold`` (accents and Arabic
harakat removed, case folded), so French, German, Arabic and English match the same way:

* SQLite: FTS5 tables with the ``unicode61`` tokenizer (``remove_diacritics 2``), row id = the
  message ``uid`` / the chat id; a query is ``"term"* "term"*`` (every term, as a prefix).
* PostgreSQL: tables of ``tsvector`` built with the ``simple`` configuration, GIN-indexed; a query
  is ``term:* & term:*``. Folding in Python instead of ``unaccent`` needs no extension and also
  folds what ``unaccent`` does not (harakat, ``ß``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    MetaData,
    Select,
    Table,
    bindparam,
    column,
    func,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

_SQLITE_DDL = (
    "CREATE VIRTUAL TABLE message_search USING fts5(body, tokenize = 'unicode61 remove_diacritics 2')",
    "CREATE VIRTUAL TABLE chat_search USING fts5(body, tokenize = 'unicode61 remove_diacritics 2')",
)
_SQLITE_DROP = ("DROP TABLE IF EXISTS chat_search", "DROP TABLE IF EXISTS message_search")
_PG_DDL = (
    "CREATE TABLE message_search (uid BIGINT PRIMARY KEY REFERENCES messages (uid) ON DELETE CASCADE,"
    " tsv TSVECTOR NOT NULL)",
    "CREATE INDEX ix_message_search_tsv ON message_search USING GIN (tsv)",
    "CREATE TABLE chat_search (chat_id BIGINT PRIMARY KEY REFERENCES chats (id) ON DELETE CASCADE,"
    " tsv TSVECTOR NOT NULL)",
    "CREATE INDEX ix_chat_search_tsv ON chat_search USING GIN (tsv)",
)
_PG_DROP = ("DROP TABLE IF EXISTS chat_search", "DROP TABLE IF EXISTS message_search")

_search_metadata = MetaData()

# Lightweight handles for queries (not part of ``metadata``: Alembic creates them with raw DDL).
_fts_messages = table("message_search", column("rowid", BigInteger), column("body"))
_fts_chats = table("chat_search", column("rowid", BigInteger), column("body"))
_pg_messages = Table("message_search", _search_metadata, Column("uid", BigInteger), Column("tsv"))
_pg_chats = Table("chat_search", _search_metadata, Column("chat_id", BigInteger), Column("tsv"))


def create_statements(dialect_name: str) -> tuple[str, ...]:
    return _PG_DDL if dialect_name == "postgresql" else _SQLITE_DDL


def drop_statements(dialect_name: str) -> tuple[str, ...]:
    return _PG_DROP if dialect_name == "postgresql" else _SQLITE_DROP


def _is_pg(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


async def index_messages(conn: AsyncConnection, rows: list[tuple[int, str]]) -> None:
    """Index ``(uid, folded text)`` pairs (new messages)."""
    if not rows:
        return
    params = [{"doc": uid, "body": body} for uid, body in rows]
    if _is_pg(conn):
        sql = "INSERT INTO message_search (uid, tsv) VALUES (:doc, to_tsvector('simple', :body))"
    else:
        sql = "INSERT INTO message_search (rowid, body) VALUES (:doc, :body)"
    await conn.execute(text(sql), params)


async def reindex_message(conn: AsyncConnection, uid: int, body: str) -> None:
    await unindex_messages(conn, [uid])
    await index_messages(conn, [(uid, body)])


async def unindex_messages(conn: AsyncConnection, uids: list[int]) -> None:
    if not uids:
        return
    key = "uid" if _is_pg(conn) else "rowid"
    stmt = text(f"DELETE FROM message_search WHERE {key} IN :docs").bindparams(  # noqa: S608
        bindparam("docs", expanding=True)
    )
    await conn.execute(stmt, {"docs": uids})


async def index_chat(conn: AsyncConnection, chat_id: int, body: str | None) -> None:
    """(Re)index a chat for the directory; ``body=None`` removes it (no longer public)."""
    key = "chat_id" if _is_pg(conn) else "rowid"
    await conn.execute(text(f"DELETE FROM chat_search WHERE {key} = :doc"), {"doc": chat_id})  # noqa: S608
    if body is None:
        return
    if _is_pg(conn):
        sql = "INSERT INTO chat_search (chat_id, tsv) VALUES (:doc, to_tsvector('simple', :body))"
    else:
        sql = "INSERT INTO chat_search (rowid, body) VALUES (:doc, :body)"
    await conn.execute(text(sql), {"doc": chat_id, "body": body})


def _fts5_query(terms: tuple[str, ...]) -> str:
    return " ".join(f'"{term}"*' for term in terms)


def _tsquery(terms: tuple[str, ...]) -> str:
    return " & ".join(f"{term}:*" for term in terms)


def matching_message_uids(dialect_name: str, terms: tuple[str, ...]) -> Select[tuple[int]]:
    """``SELECT uid`` of the messages whose text has every term (as a word prefix)."""
    if dialect_name == "postgresql":
        query = func.to_tsquery("simple", _tsquery(terms))
        return select(_pg_messages.c.uid).where(_pg_messages.c.tsv.op("@@")(query))
    match = literal_column("message_search").op("MATCH")(_fts5_query(terms))
    return select(_fts_messages.c.rowid).where(match)


def matching_chat_ids(dialect_name: str, terms: tuple[str, ...]) -> Select[tuple[int]]:
    if dialect_name == "postgresql":
        query = func.to_tsquery("simple", _tsquery(terms))
        return select(_pg_chats.c.chat_id).where(_pg_chats.c.tsv.op("@@")(query))
    match = literal_column("chat_search").op("MATCH")(_fts5_query(terms))
    return select(_fts_chats.c.rowid).where(match)
