// Copies the ABI and bytecode of the deployable contracts from Hardhat's build into the Python
// package (ledger/chain/contracts/), with the SHA-256 of every Solidity source they were built from, so
// that a Python test can tell when the shipped artifacts are stale against contracts/.
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");

const root = path.join(__dirname, "..");
const outDir = path.join(root, "ledger", "chain", "contracts");
const sources = {};
for (const f of fs.readdirSync(path.join(root, "contracts")).filter((f) => f.endsWith(".sol")).sort()) {
  sources[f] = crypto.createHash("sha256").update(fs.readFileSync(path.join(root, "contracts", f))).digest("hex");
}
fs.mkdirSync(outDir, { recursive: true });
for (const name of ["HallRegistry", "CaseLedger"]) {
  const art = JSON.parse(fs.readFileSync(path.join(root, "build", "artifacts", "contracts", `${name}.sol`, `${name}.json`)));
  const out = {
    contractName: name,
    solc: require("solc/package.json").version,
    sources,
    abi: art.abi,
    bytecode: art.bytecode,
  };
  fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(out, null, 1) + "\n");
}
console.log(`exported HallRegistry, CaseLedger to ${path.relative(root, outDir)}/`);
