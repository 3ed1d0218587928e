"""The processing pipeline: each step does a bounded amount of work and says how much.

Celery beat runs each step's task on its schedule; ``manage.py run_pipeline``
runs every step, in order, until a whole round finds nothing to do. Later
steps (sealing and anchoring, REC issuance) add themselves to ``steps()``.
"""

from collections.abc import Callable


def steps() -> list[tuple[str, Callable[[], int]]]:
    from chain.services import blocks_confirm, blocks_seal, blocks_send
    from chain.token_events import token_events_index
    from chain.transactions import transactions_confirm, transactions_send
    from energy.hourly import attribute_due_hours
    from recs.services import recs_issue_all

    return [
        ("hourly attributions", attribute_due_hours),
        ("ledger rows sealed", blocks_seal),
        ("blocks sent", blocks_send),
        ("blocks confirmed", blocks_confirm),
        ("RECs issued", recs_issue_all),
        ("mints sent", transactions_send),
        ("mints confirmed", transactions_confirm),
        ("token events indexed", token_events_index),
    ]


def run_until_idle(progress: Callable[[str, int], None] = lambda name, done: None) -> dict:
    totals = {name: 0 for name, _ in steps()}
    while True:
        round_total = 0
        for name, step in steps():
            done = step()
            if done:
                totals[name] += done
                round_total += done
                progress(name, done)
        if not round_total:
            return totals
