"""Developer tooling: run CivicDesk's processes together (`make run`) and in tests."""

from devstack._stack import (
    ROOT,
    DevCredentials,
    Stack,
    StackConfig,
    StackError,
    free_port,
    read_env_file,
    scratch_config,
)

__all__ = [
    "ROOT",
    "DevCredentials",
    "Stack",
    "StackConfig",
    "StackError",
    "free_port",
    "read_env_file",
    "scratch_config",
]
