"""`quick_init` gives a frozen slotted dataclass the same constructor, only cheaper."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field

import pytest

from evaluator.fast_init import quick_init


def sample_class(name: str, decorate):
    """The same frozen slotted dataclass, with its generated `__init__` or through `decorate`."""

    @dataclass(frozen=True, slots=True)
    class Sample:
        a: int
        b: str = "b"
        c: dict = field(default_factory=dict)
        d: int = field(default=4, init=False)
        e: tuple = field(init=False, repr=False, compare=False)

        def __post_init__(self) -> None:
            object.__setattr__(self, "e", (self.a, self.b))

    Sample.__name__ = Sample.__qualname__ = name  # found by pickle at module level
    return decorate(Sample)


Sample = sample_class("Sample", quick_init)
Plain = sample_class("Plain", lambda cls: cls)


def as_plain(s: Sample) -> dict:
    return {f.name: getattr(s, f.name) for f in dataclasses.fields(s)}


@pytest.mark.parametrize(("args", "kwargs"), [((1,), {}), ((1, "x"), {}), ((1,), {"c": {"k": 1}}),
                                              ((), {"a": 2, "b": "y"}), ((3, "z", {"q": 2}), {})])
def test_it_builds_what_the_generated_constructor_builds(args, kwargs):
    quick, plain = Sample(*args, **kwargs), Plain(*args, **kwargs)
    assert as_plain(quick) == {f.name: getattr(plain, f.name) for f in dataclasses.fields(plain)}
    assert repr(quick).replace("Sample", "Plain") == repr(plain)


def test_defaults_factories_and_frozenness_hold():
    one, two = Sample(1), Sample(1)
    assert one == two and one.c is not two.c  # a fresh dict each time
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.a = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        Sample()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Sample(1, d=5)  # type: ignore[call-arg]  # not an init field
    back = pickle.loads(pickle.dumps(Sample(1, "q", {"k": [1]})))
    assert back == Sample(1, "q", {"k": [1]}) and back.e == (1, "q")  # derived again on the way back


def test_it_refuses_what_it_cannot_copy():
    @dataclass(slots=True)
    class Mutable:
        a: int

    with pytest.raises(TypeError):
        quick_init(Mutable)


def test_app_state_updated_copies_every_field_and_changes_only_the_named_ones():
    from evaluator.application_state import AppState

    names = [f.name for f in dataclasses.fields(AppState)]
    state = AppState(*[object() for _ in names])
    for name in names:
        marker = object()
        new = state.updated(**{name: marker})
        assert [getattr(new, n) for n in names] == [marker if n == name else getattr(state, n) for n in names]
    with pytest.raises(TypeError):
        state.updated(not_a_field=1)
