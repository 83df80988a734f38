"""A registry of named things a run selects by name: quantization modes and targets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from .errors import TFLiteError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named objects in registration order; unknown names are an error that lists the known."""

    def __init__(self, kind: str, plural: str, item_type: type[T], error: type[TFLiteError]) -> None:
        self.kind = kind
        self.plural = plural
        self.item_type = item_type
        self.error = error
        self.items: dict[str, T] = {}

    def register(self, item: T, *, replace: bool = False) -> T:
        name = item.name  # type: ignore[attr-defined]
        if name in self.items and not replace:
            raise self.error(
                f"a {self.kind} called {name!r} is already registered",
                hint="Pick another name, or pass replace=True to redefine it on purpose",
            )
        self.items[name] = item
        return item

    def get(self, item: str | T) -> T:
        """The registered object of that name (an object of the type is returned as is)."""
        if isinstance(item, self.item_type):
            return item
        try:
            return self.items[item]  # type: ignore[index]
        except (KeyError, TypeError):
            raise self.error(
                f"there is no {self.kind} called {item!r}",
                hint=f"Known {self.plural}: {', '.join(self.names())}",
            ) from None

    def names(self) -> list[str]:
        return list(self.items)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self.items.values()))
