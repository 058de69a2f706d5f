"""CSV bodies from response models: which format a client asked for, and the rows themselves.

A list or series is offered as JSON (the default) or CSV, chosen by `?format=json|csv` (which wins)
or else by the `Accept` header's quality values (a tie goes to JSON). The CSV has a header row
named after the model's fields; nested values (a platform's budget) are written as compact JSON.

Spreadsheets run a cell starting with `=`, `+`, `-`, `@` (or a tab or carriage return) as a
formula, and handles, display names and error texts come from other people: such text cells get
a leading apostrophe (OWASP's advice). Numbers are left alone, so a negative gain stays a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import orjson
from aiohttp import web
from pydantic import BaseModel

from sma_gateway.schemas import FormatQuery, OutputFormat
from sma_gateway.validation import parse_query

CSV_MEDIA_TYPE = "text/csv"
JSON_MEDIA_TYPE = "application/json"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _quality(accept: str, media_type: str) -> float:
    """The q the Accept header gives `media_type`: from its most specific matching range, else 0."""
    kind = media_type.split("/")[0]
    best: tuple[int, float] = (-1, 0.0)
    for item in accept.split(","):
        name, *params = (part.strip() for part in item.split(";"))
        name = name.lower()
        specificity = 2 if name == media_type else 1 if name == f"{kind}/*" else 0 if name == "*/*" else -1
        if specificity <= best[0]:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best = (specificity, q)
    return best[1]


def prefers_csv(accept: str) -> bool:
    """True when the Accept header ranks CSV strictly above JSON."""
    return bool(accept) and _quality(accept, CSV_MEDIA_TYPE) > _quality(accept, JSON_MEDIA_TYPE)


def requested_format(request: web.Request) -> OutputFormat:
    """`?format=` when given (422 for anything but json or csv), else what `Accept` prefers."""
    explicit = parse_query(request, FormatQuery).format if "format" in request.query else None
    if explicit is not None:
        return explicit
    return "csv" if prefers_csv(request.headers.get("Accept", "")) else "json"


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        value = orjson.dumps(value).decode()
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def render_csv(row_type: type[BaseModel], rows: Sequence[BaseModel]) -> bytes:
    """A header row of `row_type`'s field names, then one line per model (UTF-8, CRLF line ends)."""
    columns = list(row_type.model_fields)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        data = row.model_dump(mode="json")
        writer.writerow([_cell(data.get(column)) for column in columns])
    return out.getvalue().encode()
