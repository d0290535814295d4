"""The next fetch asks for what the consumer has waiting, between the batch size and its cap."""

import pytest
from nats.aio.msg import Msg

from runtime.consumers import fetch_delay, next_fetch_size


def _delivered(pending: int) -> Msg:
    return Msg(_client=None, subject="ev.x", reply=f"$JS.ACK.EVENTS.d.1.{pending + 10}.{pending + 10}.0.{pending}")


@pytest.mark.parametrize(("waiting", "expected"), [(0, 256), (100, 256), (256, 256), (1000, 1000), (4096, 4096),
                                                   (50_000, 4096)])
def test_the_next_fetch_grows_with_what_waits_and_stops_at_the_cap(waiting, expected):
    assert next_fetch_size([_delivered(5), _delivered(waiting)], 256, 4096) == expected


def test_an_empty_fetch_asks_for_the_batch_size_again():
    assert next_fetch_size([], 256, 4096) == 256


@pytest.mark.parametrize(("fetched", "delay"), [(0, 0.0), (1, 0.02), (255, 0.02), (256, 0.0), (4096, 0.0)])
def test_only_a_small_batch_makes_the_next_fetch_wait_to_gather_more(fetched, delay):
    assert fetch_delay(fetched, 256, 0.02) == delay
