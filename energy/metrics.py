"""Ingestion's Prometheus series, counted where reports are answered (``energy.rpc``).

Counters only: under gunicorn with ``PROMETHEUS_MULTIPROC_DIR`` set, each worker
process writes its own file and ``/metrics`` adds them up.
"""

from prometheus_client import Counter

REPORTS = Counter(
    "cg_reports",
    "Reports pushed over JSON-RPC, by method and outcome (accepted, or the error code).",
    ["method", "outcome"],
)
SAMPLES = Counter(
    "cg_samples",
    "Samples in reports pushed over JSON-RPC, by method and outcome of their report.",
    ["method", "outcome"],
)


def reports_answered(answered) -> None:
    """Count (method, outcome, samples) of each report answered."""
    for method, outcome, samples in answered:
        REPORTS.labels(method, outcome).inc()
        if samples:
            SAMPLES.labels(method, outcome).inc(samples)
