import datetime as dt
import json

import pytest

from core.wire import RawNumber, dumps, timestamp


def test_timestamps_are_utc_with_milliseconds_and_numeric_offset():
    paris = dt.timezone(dt.timedelta(hours=1))
    value = dt.datetime(2019, 2, 20, 18, 17, 42, 106_999, tzinfo=paris)

    assert timestamp(value) == "2019-02-20T17:17:42.106+0000"


def test_dumps_writes_raw_numbers_verbatim_and_escapes_strings():
    text = dumps({"value": RawNumber("0.012312"), "name": 'a"\u00e9', "n": [1, None, True]})

    assert text == '{"value":0.012312,"name":"a\\"\\u00e9","n":[1,null,true]}'
    assert json.loads(text)["name"] == 'a"é'


def test_dumps_refuses_floats():
    with pytest.raises(TypeError):
        dumps({"value": 0.1})
