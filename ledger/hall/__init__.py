"""A hall's services: the LevelDB store, the case book, uploads, the outbox and indexer, transfers
between halls, evidence export, disputes, audit, staff accounts, the access trail, retention,
backup and the hall's keys. No web framework: :mod:`node_api` serves these over HTTP."""
