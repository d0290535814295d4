"""Standard-library records (uvicorn, nats-py) go through our structlog processors."""

from __future__ import annotations

import logging

import orjson
import pytest

from runtime.logging import configure_logging


@pytest.fixture
def restored_root():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def test_a_uvicorn_warning_is_one_json_line_with_its_logger_and_its_info_chatter_is_dropped(restored_root, capsys):
    configure_logging("json", "INFO")
    configure_logging("json", "INFO")  # configured twice (tests, re-entry): still one line per record
    logging.getLogger("uvicorn.error").info("Started server process [1]")
    logging.getLogger("uvicorn.error").warning("Invalid HTTP request received.")
    logging.getLogger("nats").error("lost", extra={"auth_token": "s3cret"})

    lines = [orjson.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]

    assert [(line["logger"], line["level"], line["event"]) for line in lines] == [
        ("uvicorn.error", "warning", "Invalid HTTP request received."), ("nats", "error", "lost")]
    assert all("timestamp" in line for line in lines)
    assert "s3cret" not in orjson.dumps(lines).decode()
