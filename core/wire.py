"""The JSON wire format of the read API.

Energy leaves the engine as JSON numbers written from integers, digit for
digit: the standard encoders go through ``float``, which prints
0.012312000000000001 for some values and loses digits past 2**53.
"""

import datetime as dt
import json
from typing import Any

from rest_framework.renderers import JSONRenderer

_encode_str = json.encoder.encode_basestring_ascii


class RawNumber(str):
    """A JSON number literal, emitted as-is."""

    __slots__ = ()


def timestamp(value: dt.datetime) -> str:
    """``2019-02-20T17:17:42.106+0000``: UTC, milliseconds, numeric offset."""
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, RawNumber):
        out.append(value)
    elif isinstance(value, str):
        out.append(_encode_str(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(_encode_str(str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif isinstance(value, float):
        # Nothing in the API is a float; refuse rather than print an inexact number.
        raise TypeError("floats are not part of the wire format")
    else:
        out.append(_encode_str(str(value)))


def dumps(value: Any) -> str:
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


class ExactJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        return dumps(data).encode("ascii")
