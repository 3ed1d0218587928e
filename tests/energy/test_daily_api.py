"""GET /api/v1/energy/attributions/{deviceId}/daily: spec section 3."""

import datetime as dt

import pytest

from core.units import MWH
from energy.models import DailyAggregate
from tests.factories import T0, append, issue, mark_processed

pytestmark = pytest.mark.django_db


def url(source) -> str:
    return f"/api/v1/energy/attributions/{source.external_id}/daily"


def test_one_row_per_day_state_and_rec_newest_day_first(api, source):
    day1 = append(source, [MWH // 4] * 4)  # 2019-03-15 00:00..03:00
    day2 = append(source, [MWH // 4] * 3 + [-42], start=T0 + dt.timedelta(days=1))
    mark_processed(day1)
    [rec] = issue(source)  # issued and anchored
    mark_processed(day2[:2])

    body = api.get(url(source)).json()

    assert body == [
        {
            "total": 3,
            "effective_time": "2019-03-16T00:00:00.000+0000",
            "number": 2,
            "state": "New",
            "value": 0.249999958,
        },
        {
            "total": 3,
            "effective_time": "2019-03-16T00:00:00.000+0000",
            "number": 2,
            "state": "Processed",
            "value": 0.5,
        },
        {
            "total": 3,
            "effective_time": "2019-03-15T00:00:00.000+0000",
            "number": 4,
            "state": "Processed",
            "value": 1.0,
            "rec": body[2]["rec"],
        },
    ]
    assert body[2]["rec"]["id"] == rec.pk and body[2]["rec"]["state"] == "Processed"


def test_rows_follow_the_transactions_as_they_move(api, source):
    attrs = append(source, [MWH // 2] * 3)
    assert [(r["state"], r["number"]) for r in api.get(url(source)).json()] == [("New", 3)]

    mark_processed(attrs[:2])
    assert [(r["state"], r["number"]) for r in api.get(url(source)).json()] == [
        ("New", 1),
        ("Processed", 2),
    ]

    [rec] = issue(source, anchor=False)
    rows = api.get(url(source)).json()
    assert [(r["state"], r["number"], r.get("rec", {}).get("id")) for r in rows] == [
        ("New", 1, None),
        ("Processed", 2, rec.pk),
    ]


def test_a_day_split_across_two_recs_has_a_row_for_each(api, source):
    mark_processed(append(source, [MWH // 2] * 4))
    first, second = issue(source)

    rows = api.get(url(source)).json()

    assert [r["rec"]["id"] for r in rows] == [first.pk, second.pk]
    assert [r["number"] for r in rows] == [2, 2]


def test_pages_are_ranges_and_past_the_end_is_empty(api, source):
    append(source, [1] * 24 * 5)  # five days

    pages = [api.get(url(source), {"page": p, "per_page": 2}).json() for p in range(4)]

    assert [[r["effective_time"][:10] for r in page] for page in pages] == [
        ["2019-03-19", "2019-03-18"],
        ["2019-03-17", "2019-03-16"],
        ["2019-03-15"],
        [],
    ]


def test_reading_daily_rows_does_not_touch_the_attributions(
    api, source, django_assert_max_num_queries
):
    append(source, [1] * 48)

    with django_assert_max_num_queries(3) as captured:
        api.get(url(source))

    assert not any("energy_attribution" in q["sql"] for q in captured.captured_queries)
    assert DailyAggregate.objects.filter(source=source).count() == 2
