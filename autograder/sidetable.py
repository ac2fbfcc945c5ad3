"""The kit's own tables in nbgrader's gradebook (seeds, fingerprints, grade changes, extensions).

Each module describes its table with a function of a SQLAlchemy ``MetaData``; this module
opens the gradebook at a URL (sqlite or PostgreSQL), creates the table where asked, and
disposes of the engine afterwards.
"""

from __future__ import annotations

from contextlib import contextmanager

__all__ = ["ensure_table", "open_table", "read_rows"]


def ensure_table(bind, table) -> None:
    """Create ``table`` unless it exists; two graders creating it at once is fine."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import DBAPIError

    try:
        table.create(bind, checkfirst=True)
    except DBAPIError:
        if not inspect(bind).has_table(table.name):
            raise


@contextmanager
def open_table(db_url: str, make_table, create: bool = True):
    """Yield (engine, table) of the gradebook at ``db_url``; ``table`` is None when it does
    not exist and ``create`` is False (reading creates nothing)."""
    from sqlalchemy import MetaData, create_engine, inspect

    engine = create_engine(db_url)
    try:
        table = make_table(MetaData())
        if create:
            ensure_table(engine, table)
        elif not inspect(engine).has_table(table.name):
            table = None
        yield engine, table
    finally:
        engine.dispose()


def read_rows(db_url: str, make_table, **equal) -> list[dict]:
    """The rows of a table of the gradebook at ``db_url`` in the order they were written,
    without their ``id``, keeping those whose columns equal the ``equal`` values given (a
    None or empty value keeps every row); [] when the table does not exist."""
    from sqlalchemy import select

    with open_table(db_url, make_table, create=False) as (engine, table):
        if table is None:
            return []
        query = select(table).order_by(table.c.id)
        for column, value in equal.items():
            if value:
                query = query.where(table.c[column] == value)
        with engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
    return [{k: v for k, v in row.items() if k != "id"} for row in rows]
