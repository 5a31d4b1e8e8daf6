"""CaseLedger (通办存证链): the library behind every hall node, in layers (see docs/architecture.md)::

    ledger.cli       the `caseledger` command
    ledger.dev       development tooling (local chain, local consortium, demo, bench)
    ledger.network   production network tooling (Besu QBFT profile)
    ledger.hall      a hall's services (store, cases, outbox, indexer, transfer, audit, accounts, ...)
    ledger.chain     the JSON-RPC client of the contracts    | ledger.verify  the stand-alone verifier
    ledger.core      the pure evidence format (records, Merkle trees, hash chain, materials, bundles)
    ledger.errors    the error tree (importable from every layer)

A layer imports only the layers below it (enforced by import-linter, ``make lint``).
No web framework is imported here.
"""

__version__ = "0.1.0"

# py_ecc (imported by eth_account through eth_keyfile) raises the interpreter's recursion limit to
# 100,000 when it is first imported, which lets C code such as the json parser overflow the C stack
# on a deeply nested document and kill the process. Import it first, here, and put the limit back;
# ledger.core.jsonsafe.ensure_safe_recursion_limit checks it again once a program has imported all.
import sys as _sys

_limit = _sys.getrecursionlimit()
try:
    import py_ecc as _py_ecc  # noqa: F401
except ImportError:  # the stand-alone verifier runs without it
    pass
_sys.setrecursionlimit(min(_limit, 1000))
del _limit
