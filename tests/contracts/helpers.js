// Shared constants and fixtures for the contract tests (loaded with loadFixture).
const { ethers } = require("hardhat");

// ICaseLedger.Stage: values are part of the hash chain, never renumbered.
const Stage = {
  INTAKE: 0,
  MATERIALS: 1,
  ACCEPTANCE: 2,
  PROCESS: 3,
  RESULT: 4,
  DELIVERY: 5,
  DISPUTE_OPENED: 6,
  DISPUTE_RESOLVED: 7,
};
const StageName = Object.fromEntries(Object.entries(Stage).map(([k, v]) => [v, k]));

// ICaseLedger.Phase
const Phase = { None: 0, Opened: 1, MaterialsRecorded: 2, Accepted: 3, Decided: 4, Delivered: 5 };
const PhaseName = Object.fromEntries(Object.entries(Phase).map(([k, v]) => [v, k]));

// IHallRegistry.HallStatus
const HallStatus = { None: 0, Active: 1, Suspended: 2 };

const ROLES = {
  DEFAULT_ADMIN_ROLE: ethers.ZeroHash,
  HALL_ADMIN_ROLE: ethers.id("HALL_ADMIN_ROLE"),
  DISPUTE_OFFICER_ROLE: ethers.id("DISPUTE_OFFICER_ROLE"),
  REGULATOR_ROLE: ethers.id("REGULATOR_ROLE"),
  DISPUTE_ARBITER_ROLE: ethers.id("DISPUTE_ARBITER_ROLE"),
};

// CaseLedger hash suites: ASCII, right-padded with zero bytes to bytes8.
const SUITE = {
  intl: ethers.zeroPadBytes(ethers.toUtf8Bytes("intl"), 8),
  gm: ethers.zeroPadBytes(ethers.toUtf8Bytes("gm"), 8),
};

// Districts (GB/T 2260 codes).
const ACCEPTING_DISTRICT = 350502; // where the applicant walks in
const HOME_DISTRICT = 350503; // the district responsible for the case
const OTHER_DISTRICT = 110101;

const ITEM_CODE = ethers.zeroPadBytes(ethers.toUtf8Bytes("FW-001"), 16); // bytes16

/** A deterministic non-zero 32-byte commitment. */
function commitment(label) {
  return ethers.id(`commitment:${label}`);
}

/** keccak256(uint32 acceptingHall ‖ utf8(serial)): the case id, bound to the hall that opened it. */
function caseIdOf(acceptingHall, serial) {
  return ethers.solidityPackedKeccak256(["uint32", "string"], [acceptingHall, serial]);
}

/** The batch-chain step (32 + 8 + 32 + 4 packed bytes). */
function batchHead(prev, seq, root, count) {
  return ethers.solidityPackedKeccak256(["bytes32", "uint64", "bytes32", "uint32"], [prev, seq, root, count]);
}

/** The hash-chain step, computed off chain (32 + 1 + 32 + 20 packed bytes). */
function head(prev, stage, commit, writer) {
  return ethers.solidityPackedKeccak256(["bytes32", "uint8", "bytes32", "address"], [prev, stage, commit, writer]);
}

function serialOf(n, prefix = "TB-350502-01-20261123") {
  return `${prefix}-${String(n).padStart(6, "0")}`;
}

/** Registry only: admin is signer 0; the fixture registers nothing. */
async function deployRegistryFixture() {
  const signers = await ethers.getSigners();
  const [admin, hallA, hallB, other, ...rest] = signers;
  const registry = await ethers.deployContract("HallRegistry", [admin.address]);
  await registry.waitForDeployment();
  return { registry, admin, hallA, hallB, other, rest, signers };
}

/**
 * Registry + ledger with a small consortium:
 *   signer 1  accepting   hall #1, district 350502 (the vector's accepting hall)
 *   signer 2  home        hall #2, district 350503 (the vector's home hall)
 *   signer 3  officer     DISPUTE_OFFICER_ROLE, not a hall (the vector's dispute officer)
 *   signer 4  home2       hall #3, district 350503 (a second hall of the home district)
 *   signer 5  acceptingB  hall #4, district 350502 (another hall of the accepting district)
 *   signer 6  foreign     hall #5, district 110101
 *   signer 7  outsider    nothing
 *   signer 8  arbiter     DISPUTE_ARBITER_ROLE, not a hall
 *   signer 9  officer2    DISPUTE_OFFICER_ROLE, not a hall (another party)
 *   signers 10.. spare keys
 * The ledger uses the "intl" suite.
 */
async function deployLedgerFixture() {
  const signers = await ethers.getSigners();
  const [admin, accepting, home, officer, home2, acceptingB, foreign, outsider, arbiter, officer2, ...spare] = signers;
  const registry = await ethers.deployContract("HallRegistry", [admin.address]);
  const ledger = await ethers.deployContract("CaseLedger", [await registry.getAddress(), SUITE.intl]);
  await registry.registerHall(accepting.address, ACCEPTING_DISTRICT, "Accepting hall", "https://a.example:8545");
  await registry.registerHall(home.address, HOME_DISTRICT, "Home hall", "https://h.example:8545");
  await registry.registerHall(home2.address, HOME_DISTRICT, "Home hall 2", "https://h2.example:8545");
  await registry.registerHall(acceptingB.address, ACCEPTING_DISTRICT, "Accepting hall B", "https://b.example:8545");
  await registry.registerHall(foreign.address, OTHER_DISTRICT, "Foreign hall", "https://f.example:8545");
  await registry.grantRole(ROLES.DISPUTE_OFFICER_ROLE, officer.address);
  await registry.grantRole(ROLES.DISPUTE_OFFICER_ROLE, officer2.address);
  await registry.grantRole(ROLES.DISPUTE_ARBITER_ROLE, arbiter.address);
  const ids = { accepting: 1, home: 2, home2: 3, acceptingB: 4, foreign: 5 };
  return {
    registry, ledger, admin, accepting, home, officer, home2, acceptingB, foreign, outsider, arbiter, officer2, spare, signers, ids,
  };
}

/** deployLedgerFixture plus one opened case (by the accepting hall, home district 350503). */
async function openedCaseFixture() {
  const f = await deployLedgerFixture();
  const serial = serialOf(1);
  const caseId = caseIdOf(f.ids.accepting, serial);
  const c0 = commitment("intake");
  await f.ledger.connect(f.accepting).openCase(serial, ITEM_CODE, HOME_DISTRICT, c0);
  const head0 = head(caseId, Stage.INTAKE, c0, f.accepting.address);
  return { ...f, serial, caseId, head0 };
}

/** The writer a lifecycle stage needs in deployLedgerFixture. */
function writerFor(f, stage) {
  if (stage === Stage.MATERIALS || stage === Stage.DELIVERY || stage === Stage.INTAKE) return f.accepting;
  if (stage === Stage.DISPUTE_OPENED || stage === Stage.DISPUTE_RESOLVED) return f.officer;
  return f.home;
}

/** Stages that take an opened case to each phase. */
const PATH_TO_PHASE = {
  [Phase.Opened]: [],
  [Phase.MaterialsRecorded]: [Stage.MATERIALS],
  [Phase.Accepted]: [Stage.MATERIALS, Stage.ACCEPTANCE],
  [Phase.Decided]: [Stage.MATERIALS, Stage.ACCEPTANCE, Stage.RESULT],
  [Phase.Delivered]: [Stage.MATERIALS, Stage.ACCEPTANCE, Stage.RESULT, Stage.DELIVERY],
};

/** Appends the stages leading an opened case to `phase`; returns the new head. */
async function driveTo(f, caseId, phase) {
  let h = await f.ledger.caseHead(caseId);
  let i = 0;
  for (const stage of PATH_TO_PHASE[phase]) {
    const w = writerFor(f, stage);
    const c = commitment(`drive:${caseId}:${i++}`);
    await f.ledger.connect(w).appendEvent(caseId, stage, c, 0);
    h = head(h, stage, c, w.address);
  }
  return h;
}

module.exports = {
  Stage,
  StageName,
  Phase,
  PhaseName,
  HallStatus,
  ROLES,
  SUITE,
  ACCEPTING_DISTRICT,
  HOME_DISTRICT,
  OTHER_DISTRICT,
  ITEM_CODE,
  commitment,
  caseIdOf,
  head,
  batchHead,
  serialOf,
  deployRegistryFixture,
  deployLedgerFixture,
  openedCaseFixture,
  writerFor,
  PATH_TO_PHASE,
  driveTo,
};
