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
