// Hardhat 2 builds the contracts with the solc-js compiler installed from npm (package.json
// pins "solc"), so no compiler is downloaded: hall networks and CI are offline.
const path = require("path");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");
require("@nomicfoundation/hardhat-chai-matchers");
require("@nomicfoundation/hardhat-ethers");

const SOLC_VERSION = require("solc/package.json").version;

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) {
    throw new Error(`hardhat.config.js pins solc ${SOLC_VERSION} from npm; config asked for ${args.solcVersion}`);
  }
  const compilerPath = path.join(__dirname, "node_modules", "solc", "soljson.js");
  return { compilerPath, isSolcJs: true, version: args.solcVersion, longVersion: require("solc").version() };
});

module.exports = {
  // evmVersion "paris" (no PUSH0): the multi-node test chain is geth Clique, which is pre-Shanghai.
  // viaIR: the IR pipeline packs the case header's slot in one pass (about 700 gas less per appended event).
  solidity: {
    version: SOLC_VERSION,
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "paris", viaIR: true },
  },
  paths: { sources: "./contracts", tests: "./tests/contracts", cache: "./build/hardhat-cache", artifacts: "./build/artifacts" },
};
