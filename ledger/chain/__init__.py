"""The JSON-RPC (web3) client of the two contracts, their shipped ABI/bytecode (``contracts/*.json``,
package data) and the readers that turn chain logs into the verifier's facts."""
