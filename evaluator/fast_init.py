"""`quick_init`: the same `__init__` a frozen slotted dataclass gets, at about half the cost, and
pickling through it.

The generated one sets each field with `object.__setattr__(self, name, value)` (the frozen class
refuses plain assignment), looking the function up for every field. This one calls each slot's
own descriptor, which is what that call ends up doing. The evaluator's core values are built
hundreds of thousands of times a second in a replay, where this was a tenth of the time. A
partitioned replay also pickles many of them between processes: `__reduce__` rebuilds one from its
init fields through this `__init__` (derived fields are derived again by `__post_init__`), instead
of the dataclass's slot-by-slot `__setstate__`.
"""

from __future__ import annotations

from dataclasses import MISSING, fields, is_dataclass
from typing import Any, TypeVar

T = TypeVar("T")
_FACTORY: Any = object()  # a parameter's default standing for "call the field's default_factory"


def quick_init(cls: type[T]) -> type[T]:
    """Replace the `__init__` of a frozen, slotted dataclass (same parameters, defaults,
    default factories, `init=False` fields and `__post_init__` call; no InitVar, no kw_only) and
    pickle it as a call of that `__init__` with its init fields."""
    params = getattr(cls, "__dataclass_params__", None)
    if not is_dataclass(cls) or params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"quick_init needs a frozen slotted dataclass, not {cls.__name__}")
    namespace: dict[str, Any] = {"_FACTORY": _FACTORY}
    args: list[str] = []
    body: list[str] = []
    for f in fields(cls):
        if f.kw_only:
            raise TypeError(f"quick_init does not support kw_only fields ({cls.__name__}.{f.name})")
        setter = f"_set_{f.name}"
        namespace[setter] = cls.__dict__[f.name].__set__
        has_default, has_factory = f.default is not MISSING, f.default_factory is not MISSING
        if has_default:
            namespace[f"_default_{f.name}"] = f.default
        if has_factory:
            namespace[f"_factory_{f.name}"] = f.default_factory
        if not f.init:
            if has_default:
                body.append(f"{setter}(self, _default_{f.name})")
            elif has_factory:
                body.append(f"{setter}(self, _factory_{f.name}())")
            continue  # else __post_init__ sets it
        if has_default:
            args.append(f"{f.name}=_default_{f.name}")
        elif has_factory:
            args.append(f"{f.name}=_FACTORY")
            body.append(f"if {f.name} is _FACTORY: {f.name} = _factory_{f.name}()")
        else:
            args.append(f.name)
        body.append(f"{setter}(self, {f.name})")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    given = [f.name for f in fields(cls) if f.init]
    namespace["_cls"] = cls
    source = (f"def __init__(self, {', '.join(args)}):\n" + "".join(f"    {line}\n" for line in body or ["pass"])
              + f"def __reduce__(self):\n    return _cls, ({''.join(f'self.{name}, ' for name in given)})\n")
    exec(source, namespace)  # noqa: S102 - code built above from the class's own field names
    for name in ("__init__", "__reduce__"):
        method = namespace[name]
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, method)
    return cls
