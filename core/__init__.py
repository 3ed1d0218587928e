"""The ground floor every app stands on: units, wire encoding, paging, errors,
environment helpers, SQL helpers, ledger guards and the read-only admin.

It imports no app of cg; every app may import it.
"""
