"""Miners for tests: real secp256k1 keys, reports signed as devices sign them."""

import datetime as dt
import json
import urllib.request

from eth_keys import KeyAPI

from energy.ingestion import pogg_sign

_keys = KeyAPI()


class Miner:
    def __init__(self, seed: int):
        self.key = seed.to_bytes(32, "big")
        self.address = _keys.PrivateKey(self.key).public_key.to_checksum_address()

    def report(self, samples: list[tuple[dt.datetime | int, int, int]], version: int = 1) -> dict:
        """A tx_reportMinerPoGG params object of (time, mW, cumulative mWh) samples."""
        data_list = [sample_hex(*s) for s in samples]
        return {
            "version": version,
            "address": self.address,
            "dataList": data_list,
            "signature": pogg_sign(self.key, version, self.address, data_list),
        }


def sample_hex(when: dt.datetime | int, power: int, energy: int, version: int = 1) -> str:
    seconds = when if isinstance(when, int) else int(when.timestamp())
    return f"{version:02x}{seconds:010x}{power:012x}{energy:016x}"


def call(method: str, params, call_id=1) -> dict:
    body = {"jsonrpc": "2.0", "method": method, "params": params}
    if call_id is not None:
        body["id"] = call_id
    return body


def post(client, payload, **headers):
    """POST a JSON-RPC payload (an object, an array, or raw bytes) to /v1."""
    data = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    return client.post("/v1", data=data, content_type="application/json", **headers)


def hourly_report(start: dt.datetime, energy_at_start: int, watts: int) -> list[tuple]:
    """12 five-minute samples of a steady ``watts`` output from ``start``."""
    per_5_min = watts * 1000 * 5 // 60  # mWh in five minutes
    return [
        (start + dt.timedelta(minutes=5 * i), watts * 1000, energy_at_start + per_5_min * i)
        for i in range(12)
    ]


def http_json(url: str, body=None, token: str | None = None, timeout: float = 30):
    """GET (or POST ``body`` as JSON) to a server the test started; the parsed answer."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=timeout) as r:
        return json.loads(r.read())
