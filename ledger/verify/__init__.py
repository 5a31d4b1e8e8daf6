"""Stand-alone verification of an evidence bundle against explicit chain facts (pure, no I/O).

Imports only :mod:`ledger.core` and :mod:`ledger.errors`: never the chain client, the hall's services
or the development tooling.
"""
