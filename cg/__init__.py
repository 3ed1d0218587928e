import os
import socket

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Processes of several containers may share the metrics directory (web and workers
    # on one volume): a file per host and process, not per pid alone, which repeats.
    from prometheus_client import values

    _host = socket.gethostname()
    values.ValueClass = values.MultiProcessValue(lambda: f"{_host}-{os.getpid()}")

from cg.celery import app as celery_app

__all__ = ["celery_app"]
