"""The pure evidence format: stages, salted records, Merkle trees, the per-case hash chain, material
files, evidence bundles and the chain data types they refer to.

No I/O and no heavy imports (no web3, eth_account, requests, plyvel, fastapi, httpx): everything
else in ``ledger`` builds on this package, and it imports nothing of ``ledger`` but ``ledger.errors``.
"""
