import json
from importlib import resources

import pytest

from sma_common.errors import InvalidCommand
from sma_common.messages import FetchCommand, decode_command, encode_command

EXAMPLES = sorted(
    p for p in resources.files("sma_common.messages").joinpath("examples").iterdir() if p.name.endswith(".json")
)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_published_examples_decode_and_round_trip(example) -> None:
    raw = example.read_bytes()
    command = decode_command(raw)
    assert command.v == 1
    assert decode_command(encode_command(command)) == command
    assert json.loads(encode_command(command))["items"][0]["job_id"] == json.loads(raw)["items"][0]["job_id"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "empty message"),
        (b"", "invalid FetchCommand"),
        (b"not json", "invalid FetchCommand"),
        (b'{"v": 2}', "invalid FetchCommand"),
        (b'{"v": 1, "command_id": "x", "platform": "myspace", "items": [], '
         b'"scheduled_for": "2026-01-01T00:00:00Z", "deadline": "2026-01-01T00:00:00Z"}', "invalid FetchCommand"),
    ],
)
def test_poison_messages_raise_invalid_command(raw: bytes | None, message: str) -> None:
    with pytest.raises(InvalidCommand, match=message):
        decode_command(raw)


def test_naive_timestamps_are_rejected() -> None:
    body = json.loads(EXAMPLES[0].read_bytes())
    body["scheduled_for"] = "2026-11-27T06:00:00"
    with pytest.raises(InvalidCommand):
        decode_command(json.dumps(body).encode())
    assert FetchCommand.model_fields["v"].default == 1
