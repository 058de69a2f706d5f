"""Versioned messages crossing a process boundary."""

from sma_common.messages.fetch_command import (
    FetchCommand,
    FetchItem,
    command_id_for,
    decode_command,
    encode_command,
)

__all__ = ["FetchCommand", "FetchItem", "command_id_for", "decode_command", "encode_command"]
