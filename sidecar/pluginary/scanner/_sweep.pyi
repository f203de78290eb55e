from collections.abc import Callable
from typing import Any

def read_all(read: Callable[[float], Any], raw_values: tuple[float, ...], /) -> list[Any]: ...
def group_runs(
    texts: list[Any], raw_values: tuple[float, ...], ranges: dict[tuple[float, float], Any], /
) -> tuple[float, Any] | None: ...
