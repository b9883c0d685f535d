"""Automatic triage: classify a job's evidence against a declarative catalogue, write the investigation report,
and decide the bounded remediation. Orchestrator-side only: no torch, no Azure SDK at import time."""
from tasks.triage.catalogue import Catalogue, CatalogueError, default_catalogue, load_catalogue
from tasks.triage.classify import classify_message, classify_record, triage_evidence
from tasks.redact import redact
from tasks.triage.remediation import AttemptRecord, RemediationStep, plan_remediation
from tasks.triage.report import ReportPaths, render_report, write_report
from tasks.triage.verdict import EvidenceLine, TriageContext, Verdict, verdict_for_category

__all__ = [
    "AttemptRecord", "Catalogue", "CatalogueError", "EvidenceLine", "RemediationStep", "ReportPaths", "TriageContext",
    "Verdict", "classify_message", "classify_record", "default_catalogue", "load_catalogue", "plan_remediation", "redact", "render_report",
    "triage_evidence", "verdict_for_category", "write_report",
]
