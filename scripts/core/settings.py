"""This process's run settings: the worker count (the CLI's -j) and whether progress is printed
(-q). Imports nothing of the project.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["settings", "configure"]


@dataclass
class _Settings:
    jobs: int = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quiet: bool = False


settings = _Settings()


def configure(jobs: int | None = None, quiet: bool | None = None) -> None:
    """Set the worker count and progress output for this process (the CLI's -j and -q)."""
    if jobs is not None:
        settings.jobs = max(1, int(jobs))
    if quiet is not None:
        settings.quiet = bool(quiet)
