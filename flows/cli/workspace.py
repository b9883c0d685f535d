"""The Azure ML workspace on the command line: one set of flags and environment variables for every subcommand."""
from __future__ import annotations

import argparse
import os

# Flag, AzureMLSettings field, environment variables in the order they are read.
WORKSPACE_FLAGS = (
    ("--subscription-id", "subscription_id", ("AZUREML_SUBSCRIPTION_ID", "AZURE_SUBSCRIPTION_ID")),
    ("--resource-group", "resource_group", ("AZUREML_RESOURCE_GROUP", "AZURE_RESOURCE_GROUP")),
    ("--workspace-name", "workspace_name", ("AZUREML_WORKSPACE_NAME", "AZUREML_WORKSPACE")),
)


def add_workspace_arguments(parser: argparse.ArgumentParser, purpose: str) -> None:
    """Add --subscription-id, --resource-group and --workspace-name (each defaulting from the environment)."""
    group = parser.add_argument_group(f"Azure ML workspace ({purpose})")
    for flag, field, env in WORKSPACE_FLAGS:
        group.add_argument(flag, dest=field, help=f"default ${' or $'.join(env)}")


def workspace_settings(args: argparse.Namespace, why: str):
    """AzureMLSettings from the flags, else the environment.

    Raises:
        ValueError: a coordinate is missing; the message names the flags and variables that give it.
    """
    values, missing = {}, []
    for flag, field, env in WORKSPACE_FLAGS:
        value = getattr(args, field, None) or next((os.environ[v] for v in env if os.environ.get(v)), None)
        if value:
            values[field] = value
        else:
            missing.append(f"{flag} (or ${env[0]})")
    if missing:
        raise ValueError(f"{why} needs the Azure ML workspace: pass {', '.join(missing)}")
    from tasks.config import AzureMLSettings

    return AzureMLSettings(**values)
