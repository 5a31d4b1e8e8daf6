"""Development tooling: the local anvil chain, the local consortium of hall processes, the demo
scenario, the bench harness and its load generator. Parts of it (anvil from ``node_modules``) need a
source checkout; nothing outside ``ledger.dev`` and ``ledger.cli`` imports it."""
