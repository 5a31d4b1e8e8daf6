"""Production network tooling: the Besu QBFT network profile generator (``caseledger network init``)."""
