from celery import shared_task

from recs.services import rec_issue, sources_due


@shared_task(acks_late=True)
def issue_due_recs() -> int:
    """Fan out: one issuance task per source with generation waiting for a REC."""
    due = sources_due()
    for source_id in due:
        issue_source_recs.delay(source_id)
    return len(due)


@shared_task(acks_late=True)
def issue_source_recs(source_id: int) -> int:
    return rec_issue(source_id=source_id)
