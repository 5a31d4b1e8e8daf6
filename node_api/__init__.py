"""The hall node: a FastAPI service, thin over :mod:`ledger`. Run with ``python -m node_api``."""
