"""Split the sorted video list between nodes: shard i of n takes every n-th video starting at i.

On an Azure ML cluster with several instances, each node runs the same command; the rank variables the platform sets
(RANK/WORLD_SIZE for PyTorch distribution, OMPI_COMM_WORLD_RANK/SIZE for MPI) give each node its shard. Each shard
writes its own predictions file; `python -m inference.merge OUTPUT_FOLDER` merges them afterwards.
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence, TypeVar

T = TypeVar("T")

# (rank variable, world-size variable), first pair present wins.
RANK_VARIABLES = (
    ("RANK", "WORLD_SIZE"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
    ("NODE_RANK", "AZUREML_NODE_COUNT"),
)


def shard_from_env(env: Mapping[str, str] | None = None) -> tuple[int, int]:
    """This node's (shard index, shard count) from the rank variables; (0, 1) when none are set.

    Args:
        env: the environment to read (default: os.environ).

    Returns:
        (index, count).

    Raises:
        ValueError: a variable is not an integer, or the rank is outside [0, count).
    """
    env = os.environ if env is None else env
    for rank_name, size_name in RANK_VARIABLES:
        if rank_name in env and size_name in env:
            try:
                index, count = int(env[rank_name]), int(env[size_name])
            except ValueError:
                raise ValueError(f"{rank_name}={env[rank_name]!r} / {size_name}={env[size_name]!r} are not integers") from None
            validate_shard(index, count)
            return index, count
    return 0, 1


def validate_shard(index: int, count: int) -> None:
    """Raise ValueError unless 0 <= index < count."""
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard index {index} is outside 0..{count - 1} (--shard-index must be < --num-shards)")


def select_shard(items: Sequence[T], index: int, count: int) -> list[T]:
    """Items of one shard, round-robin over the given (already sorted) order, so shards stay balanced.

    Args:
        items: the sorted video list.
        index: this shard, 0-based.
        count: number of shards.

    Returns:
        items[index::count].
    """
    validate_shard(index, count)
    return list(items[index::count])
