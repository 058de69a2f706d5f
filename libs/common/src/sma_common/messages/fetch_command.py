"""`FetchCommand` v1: what the scheduler asks a collector to fetch (topic `sma.fetch-commands`)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from sma_common.errors import InvalidCommand
from sma_common.platforms import Platform

MAX_ITEMS = 100


class FetchItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    job_id: uuid.UUID
    account_id: int = Field(gt=0)
    external_id: str = Field(min_length=1, max_length=256)
    handle: str = Field(min_length=1, max_length=256)


class FetchCommand(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    v: Literal[1] = 1
    command_id: str = Field(min_length=1, max_length=128)
    platform: Platform
    items: tuple[FetchItem, ...] = Field(min_length=1, max_length=MAX_ITEMS)
    scheduled_for: AwareDatetime
    deadline: AwareDatetime
    attempt: int = Field(default=1, ge=1)


def command_id_for(platform: Platform, job_ids: list[uuid.UUID], scheduled_for: datetime) -> str:
    """Deterministic id: replicas or retries that build the same command produce the same id."""
    digest = hashlib.sha256()
    digest.update(platform.value.encode())
    for job_id in sorted(job_ids):
        digest.update(job_id.bytes)
    digest.update(scheduled_for.isoformat().encode())
    return f"{platform.value}-{digest.hexdigest()[:32]}"


def encode_command(command: FetchCommand) -> bytes:
    return orjson.dumps(command.model_dump(mode="json"))


def decode_command(raw: bytes | None) -> FetchCommand:
    """Bytes to a command, or `InvalidCommand` (the message goes to the DLQ)."""
    if raw is None:
        raise InvalidCommand("empty message")
    try:
        return FetchCommand.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidCommand(f"invalid FetchCommand: {exc.error_count()} error(s): {exc.errors()[0]['msg']} "
                             f"at {'.'.join(str(p) for p in exc.errors()[0]['loc'])}") from exc
