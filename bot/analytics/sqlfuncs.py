"""Date and time arithmetic that reads the same on SQLite and PostgreSQL.

The report groups by day and hour in SQL, so that a year of messages never leaves the database as
rows; only these few expressions differ between the two dialects."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, cast, func, literal_column
from sqlalchemy.sql.elements import ColumnElement


class Dialect:
    """Builds dialect-specific SQL expressions for one engine (`sqlite` or `postgresql`)."""

    def __init__(self, name: str) -> None:
        self.sqlite = name == "sqlite"

    def day(self, col: Any) -> ColumnElement[Any]:
        """`YYYY-MM-DD` of a timestamp."""
        return func.strftime("%Y-%m-%d", col) if self.sqlite else func.to_char(col, "YYYY-MM-DD")

    def hour(self, col: Any) -> ColumnElement[Any]:
        """Hour of day, 0..23, as an integer."""
        if self.sqlite:
            return cast(func.strftime("%H", col), Integer)
        return cast(func.extract("hour", col), Integer)

    def seconds(self, start: Any, end: Any) -> ColumnElement[Any]:
        """`end - start` in seconds, as a float."""
        if self.sqlite:
            return (func.julianday(end) - func.julianday(start)) * 86400.0
        return func.extract("epoch", end - start)

    def plus_minutes(self, col: Any, minutes: int) -> ColumnElement[Any]:
        if self.sqlite:
            return func.datetime(col, f"+{int(minutes)} minutes")
        return col + literal_column(f"interval '{int(minutes)} minutes'")
