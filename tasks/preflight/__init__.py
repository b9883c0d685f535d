"""Preflight: reach the data the way the job will, list and probe the videos, check them and their labels.

Modules: preflight (the stage: PreflightOptions → PreflightResult), manifest (one row per video with its probe and
label), probes (decord/PyAV probes of one file), expectations (the Great Expectations suite, kept as data in
expectations.yaml).
"""
from tasks.preflight.preflight import Finding, PreflightOptions, PreflightResult, run_preflight

__all__ = ["Finding", "PreflightOptions", "PreflightResult", "run_preflight"]
