"""CaseLedger (通办存证链): the library behind every hall node.

Public modules: :mod:`ledger.records` (stage records and salted commitments),
:mod:`ledger.merkle` (RFC 6962 trees and proofs), :mod:`ledger.hashchain` (the per-case chain),
:mod:`ledger.materials` (material files), :mod:`ledger.chain` (JSON-RPC client),
:mod:`ledger.store` (LevelDB store), :mod:`ledger.errors` (the error tree).
No web framework is imported here.
"""

__version__ = "0.1.0"
