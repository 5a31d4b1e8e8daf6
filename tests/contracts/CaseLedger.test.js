const fs = require("fs");
const path = require("path");
const { expect } = require("chai");
const hre = require("hardhat");
const { ethers } = hre;
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");
const {
  Stage,
  StageName,
  Phase,
  PhaseName,
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
  deployLedgerFixture,
  openedCaseFixture,
  writerFor,
  driveTo,
} = require("./helpers");

const ACC = 1; // the accepting hall's id in deployLedgerFixture

const LIFECYCLE_APPENDS = [Stage.MATERIALS, Stage.ACCEPTANCE, Stage.PROCESS, Stage.RESULT, Stage.DELIVERY];

// Allowed lifecycle transitions: phase -> stage -> next phase (everything else is CaseLedgerOutOfOrder).
const NEXT = {
  [Phase.Opened]: { [Stage.MATERIALS]: Phase.MaterialsRecorded },
  [Phase.MaterialsRecorded]: { [Stage.MATERIALS]: Phase.MaterialsRecorded, [Stage.ACCEPTANCE]: Phase.Accepted },
  [Phase.Accepted]: { [Stage.MATERIALS]: Phase.Accepted, [Stage.PROCESS]: Phase.Accepted, [Stage.RESULT]: Phase.Decided },
  [Phase.Decided]: { [Stage.DELIVERY]: Phase.Delivered },
  [Phase.Delivered]: {},
};

/** EventAppended logs of a receipt, decoded. */
function appendedLogs(ledger, receipt) {
  return receipt.logs
    .map((l) => {
      try {
        return ledger.interface.parseLog(l);
      } catch {
        return null;
      }
    })
    .filter((e) => e && e.name === "EventAppended")
    .map((e) => ({
      caseId: e.args.caseId,
      hallId: Number(e.args.hallId),
      stage: Number(e.args.stage),
      writer: e.args.writer,
      index: Number(e.args.index),
      commitment: e.args.commitment,
      head: e.args.head,
      ref: Number(e.args.ref),
      prevBlock: Number(e.args.prevBlock),
    }));
}

/** The block of a case's latest event, as its header keeps it (the next event's prevBlock). */
async function lastBlockOf(ledger, caseId) {
  return (await ledger.caseHeader(caseId)).lastBlock;
}

async function expectHeader(ledger, caseId, expected) {
  const h = await ledger.caseHeader(caseId);
  for (const [k, v] of Object.entries(expected)) {
    expect(h[k], `caseHeader.${k}`).to.equal(v);
  }
}

describe("CaseLedger", function () {
  describe("deployment and views", function () {
    it("reports the registry it trusts", async function () {
      const { ledger, registry } = await loadFixture(deployLedgerFixture);
      expect(await ledger.registry()).to.equal(await registry.getAddress());
    });

    it("reports an all-zero header for an unknown case", async function () {
      const { ledger } = await loadFixture(deployLedgerFixture);
      const id = caseIdOf(ACC, "nope");
      const h = await ledger.caseHeader(id);
      expect(h.head).to.equal(ethers.ZeroHash);
      expect(h.eventCount).to.equal(0);
      expect(h.phase).to.equal(Phase.None);
      expect(h.lastBlock).to.equal(0);
      expect(h.homeDistrict).to.equal(0);
      expect(h.acceptingHall).to.equal(0);
      expect(h.itemCode).to.equal(ethers.ZeroHash.slice(0, 34));
      expect(await ledger.caseHead(id)).to.equal(ethers.ZeroHash);
      expect(await ledger.eventCount(id)).to.equal(0);
    });

    it("computeHead is keccak256(abi.encodePacked(prev, uint8(stage), commitment, writer))", async function () {
      const { ledger, accepting, officer } = await loadFixture(deployLedgerFixture);
      const prev = ethers.id("prev");
      for (const stage of Object.values(Stage)) {
        for (const w of [accepting.address, officer.address, ethers.ZeroAddress]) {
          const c = commitment(`${stage}:${w}`);
          expect(await ledger.computeHead(prev, stage, c, w)).to.equal(head(prev, stage, c, w));
        }
      }
      // exactly 85 packed bytes
      const packed = ethers.solidityPacked(
        ["bytes32", "uint8", "bytes32", "address"],
        [prev, 3, commitment("x"), accepting.address],
      );
      expect(ethers.dataLength(packed)).to.equal(85);
    });
  });

  describe("openCase", function () {
    it("opens a case: CaseOpened + EventAppended(INTAKE, index 0, head)", async function () {
      const { ledger, accepting, ids } = await loadFixture(deployLedgerFixture);
      const serial = serialOf(1);
      const caseId = caseIdOf(ACC, serial);
      const c0 = commitment("intake");
      const h0 = head(caseId, Stage.INTAKE, c0, accepting.address);
      await expect(ledger.connect(accepting).openCase(serial, ITEM_CODE, HOME_DISTRICT, c0))
        .to.emit(ledger, "CaseOpened")
        .withArgs(caseId, ids.accepting, HOME_DISTRICT, serial, ITEM_CODE)
        .and.to.emit(ledger, "EventAppended")
        .withArgs(caseId, ids.accepting, Stage.INTAKE, accepting.address, 0, c0, h0, 0, 0);
      await expectHeader(ledger, caseId, {
        head: h0,
        eventCount: 1n,
        phase: BigInt(Phase.Opened),
        lastBlock: BigInt(await ethers.provider.getBlockNumber()),
        homeDistrict: BigInt(HOME_DISTRICT),
        acceptingHall: BigInt(ids.accepting),
        itemCode: ITEM_CODE,
      });
      expect(await ledger.caseHead(caseId)).to.equal(h0);
      expect(await ledger.eventCount(caseId)).to.equal(1);
    });

    it("returns keccak256(uint32 hallId ‖ bytes(serial)) as the case id, as caseIdOf computes it", async function () {
      const { ledger, accepting, home, ids } = await loadFixture(deployLedgerFixture);
      const serial = serialOf(42);
      expect(
        await ledger.connect(accepting).openCase.staticCall(serial, ITEM_CODE, HOME_DISTRICT, commitment("i")),
      ).to.equal(caseIdOf(ids.accepting, serial));
      expect(await ledger.connect(home).openCase.staticCall(serial, ITEM_CODE, HOME_DISTRICT, commitment("i"))).to.equal(
        caseIdOf(ids.home, serial),
      );
      expect(await ledger.caseIdOf(ids.accepting, serial)).to.equal(caseIdOf(ids.accepting, serial));
      // exactly 4 + len(serial) packed bytes, the hall id big-endian
      const packed = ethers.solidityPacked(["uint32", "string"], [258, "ab"]);
      expect(packed).to.equal("0x000001026162");
      expect(await ledger.caseIdOf(258, "ab")).to.equal(ethers.keccak256(packed));
    });

    it("can be opened by any active hall, for any valid home district", async function () {
      const { ledger, foreign, home2, ids } = await loadFixture(deployLedgerFixture);
      await expect(ledger.connect(foreign).openCase(serialOf(1), ITEM_CODE, 100000, commitment("a")))
        .to.emit(ledger, "CaseOpened")
        .withArgs(caseIdOf(ids.foreign, serialOf(1)), ids.foreign, 100000, serialOf(1), ITEM_CODE);
      await expect(ledger.connect(home2).openCase(serialOf(2), ITEM_CODE, 999999, commitment("b")))
        .to.emit(ledger, "CaseOpened")
        .withArgs(caseIdOf(ids.home2, serialOf(2)), ids.home2, 999999, serialOf(2), ITEM_CODE);
    });

    it("refuses an unregistered account (CaseLedgerInactiveHall)", async function () {
      const { ledger, outsider, admin } = await loadFixture(deployLedgerFixture);
      for (const who of [outsider, admin]) {
        await expect(ledger.connect(who).openCase(serialOf(1), ITEM_CODE, HOME_DISTRICT, commitment("i")))
          .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
          .withArgs(who.address);
      }
    });

    it("refuses a dispute officer that is not a hall (CaseLedgerInactiveHall)", async function () {
      const { ledger, officer } = await loadFixture(deployLedgerFixture);
      await expect(ledger.connect(officer).openCase(serialOf(1), ITEM_CODE, HOME_DISTRICT, commitment("i")))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(officer.address);
    });

    it("refuses a suspended hall, and accepts it again once reactivated", async function () {
      const { ledger, registry, accepting, ids } = await loadFixture(deployLedgerFixture);
      await registry.suspendHall(ids.accepting);
      const tx = ledger.connect(accepting).openCase(serialOf(1), ITEM_CODE, HOME_DISTRICT, commitment("i"));
      await expect(tx).to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall").withArgs(accepting.address);
      expect(await ledger.eventCount(caseIdOf(ACC, serialOf(1)))).to.equal(0);
      await registry.reactivateHall(ids.accepting);
      await expect(ledger.connect(accepting).openCase(serialOf(1), ITEM_CODE, HOME_DISTRICT, commitment("i")))
        .to.emit(ledger, "CaseOpened")
        .withArgs(caseIdOf(ACC, serialOf(1)), ids.accepting, HOME_DISTRICT, serialOf(1), ITEM_CODE);
    });

    it("refuses a rotated-out key; the rotated-in key works and earlier events stay", async function () {
      const f = await loadFixture(openedCaseFixture);
      const { ledger, registry, accepting, spare, ids, caseId, head0 } = f;
      const newKey = spare[0];
      await registry.rotateHallKey(ids.accepting, newKey.address);

      // earlier events untouched
      expect(await ledger.caseHead(caseId)).to.equal(head0);
      expect(await ledger.eventCount(caseId)).to.equal(1);
      expect((await ledger.caseHeader(caseId)).acceptingHall).to.equal(ids.accepting);

      // old key refused, for opens and appends
      await expect(ledger.connect(accepting).openCase(serialOf(2), ITEM_CODE, HOME_DISTRICT, commitment("x")))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(accepting.address);
      await expect(ledger.connect(accepting).appendEvent(caseId, Stage.MATERIALS, commitment("m"), 0))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(accepting.address);

      // new key continues the same hall's case (same hall id), chained on the old head
      const c1 = commitment("m1");
      const h1 = head(head0, Stage.MATERIALS, c1, newKey.address);
      const pb = await lastBlockOf(ledger, caseId);
      await expect(ledger.connect(newKey).appendEvent(caseId, Stage.MATERIALS, c1, 0))
        .to.emit(ledger, "EventAppended")
        .withArgs(caseId, ids.accepting, Stage.MATERIALS, newKey.address, 1, c1, h1, 0, pb);
      expect(await ledger.caseHead(caseId)).to.equal(h1);
      expect(await ledger.eventCount(caseId)).to.equal(2);

      // and opens new cases under the same hall id
      await expect(ledger.connect(newKey).openCase(serialOf(2), ITEM_CODE, HOME_DISTRICT, commitment("x")))
        .to.emit(ledger, "CaseOpened")
        .withArgs(caseIdOf(ACC, serialOf(2)), ids.accepting, HOME_DISTRICT, serialOf(2), ITEM_CODE);
    });

    it("refuses the same hall opening its serial twice (CaseLedgerCaseExists), also from its rotated-in key", async function () {
      const { ledger, registry, accepting, spare, ids, caseId, serial, head0 } = await loadFixture(openedCaseFixture);
      await expect(ledger.connect(accepting).openCase(serial, ITEM_CODE, HOME_DISTRICT, commitment("again")))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerCaseExists")
        .withArgs(caseId);
      await registry.rotateHallKey(ids.accepting, spare[0].address);
      await expect(ledger.connect(spare[0]).openCase(serial, ITEM_CODE, HOME_DISTRICT, commitment("again")))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerCaseExists")
        .withArgs(caseId);
      expect(await ledger.caseHead(caseId)).to.equal(head0);
      expect(await ledger.eventCount(caseId)).to.equal(1);
    });

    it("refuses an empty serial (CaseLedgerInvalidCase)", async function () {
      const { ledger, accepting } = await loadFixture(deployLedgerFixture);
      await expect(ledger.connect(accepting).openCase("", ITEM_CODE, HOME_DISTRICT, commitment("i")))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInvalidCase")
        .withArgs("", HOME_DISTRICT);
    });

    it("accepts a 1-byte and a 64-byte serial, refuses 65 bytes (CaseLedgerInvalidCase)", async function () {
      const { ledger, accepting } = await loadFixture(deployLedgerFixture);
      const s64 = "S".repeat(64);
      const s65 = "S".repeat(65);
      await expect(ledger.connect(accepting).openCase("x", ITEM_CODE, HOME_DISTRICT, commitment("1"))).to.emit(
        ledger,
        "CaseOpened",
      );
      await expect(ledger.connect(accepting).openCase(s64, ITEM_CODE, HOME_DISTRICT, commitment("64"))).to.emit(
        ledger,
        "CaseOpened",
      );
      await expect(ledger.connect(accepting).openCase(s65, ITEM_CODE, HOME_DISTRICT, commitment("65")))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInvalidCase")
        .withArgs(s65, HOME_DISTRICT);
    });

    it("measures the serial in UTF-8 bytes, not characters", async function () {
      const { ledger, accepting } = await loadFixture(deployLedgerFixture);
      const s = "案".repeat(22); // 22 characters, 66 bytes
      expect(ethers.toUtf8Bytes(s).length).to.equal(66);
      await expect(ledger.connect(accepting).openCase(s, ITEM_CODE, HOME_DISTRICT, commitment("u")))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInvalidCase")
        .withArgs(s, HOME_DISTRICT);
      const ok = "案".repeat(21); // 63 bytes
      await expect(ledger.connect(accepting).openCase(ok, ITEM_CODE, HOME_DISTRICT, commitment("u")))
        .to.emit(ledger, "CaseOpened")
        .withArgs(caseIdOf(ACC, ok), ACC, HOME_DISTRICT, ok, ITEM_CODE);
    });

    for (const district of [0, 99999, 1000000, 4294967295]) {
      it(`refuses home district ${district} (CaseLedgerInvalidCase)`, async function () {
        const { ledger, accepting } = await loadFixture(deployLedgerFixture);
        await expect(ledger.connect(accepting).openCase(serialOf(1), ITEM_CODE, district, commitment("i")))
          .to.be.revertedWithCustomError(ledger, "CaseLedgerInvalidCase")
          .withArgs(serialOf(1), district);
      });
    }

    it("refuses a zero intake commitment (CaseLedgerZeroCommitment)", async function () {
      const { ledger, accepting } = await loadFixture(deployLedgerFixture);
      await expect(ledger.connect(accepting).openCase(serialOf(1), ITEM_CODE, HOME_DISTRICT, ethers.ZeroHash))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerZeroCommitment")
        .withArgs(caseIdOf(ACC, serialOf(1)));
      expect((await ledger.caseHeader(caseIdOf(ACC, serialOf(1)))).phase).to.equal(Phase.None);
    });

    it("checks the writer before the case (inactive hall wins over an invalid case)", async function () {
      const { ledger, outsider } = await loadFixture(deployLedgerFixture);
      await expect(ledger.connect(outsider).openCase("", ITEM_CODE, 0, ethers.ZeroHash))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(outsider.address);
    });
  });

  describe("appendEvent: generic checks", function () {
    it("appends with EventAppended args and updates the header", async function () {
      const { ledger, accepting, ids, caseId, head0 } = await loadFixture(openedCaseFixture);
      const c1 = commitment("m1");
      const h1 = head(head0, Stage.MATERIALS, c1, accepting.address);
      const openBlock = await lastBlockOf(ledger, caseId);
      await ethers.provider.send("hardhat_mine", ["0x03"]); // the previous event is 4 blocks back
      await expect(ledger.connect(accepting).appendEvent(caseId, Stage.MATERIALS, c1, 0))
        .to.emit(ledger, "EventAppended")
        .withArgs(caseId, ids.accepting, Stage.MATERIALS, accepting.address, 1, c1, h1, 0, openBlock);
      await expectHeader(ledger, caseId, {
        head: h1,
        eventCount: 2n,
        phase: BigInt(Phase.MaterialsRecorded),
        homeDistrict: BigInt(HOME_DISTRICT),
        acceptingHall: BigInt(ids.accepting),
        itemCode: ITEM_CODE,
        lastBlock: openBlock + 4n,
      });
    });

    it("refuses an unknown case (CaseLedgerUnknownCase)", async function () {
      const { ledger, accepting, officer } = await loadFixture(openedCaseFixture);
      const unknown = caseIdOf(ACC, "no-such-case");
      for (const [who, stage] of [
        [accepting, Stage.MATERIALS],
        [officer, Stage.DISPUTE_OPENED],
        [accepting, Stage.INTAKE],
      ]) {
        await expect(ledger.connect(who).appendEvent(unknown, stage, commitment("x"), 0))
          .to.be.revertedWithCustomError(ledger, "CaseLedgerUnknownCase")
          .withArgs(unknown);
      }
    });

    it("refuses a zero commitment (CaseLedgerZeroCommitment)", async function () {
      const { ledger, accepting, officer, caseId } = await loadFixture(openedCaseFixture);
      await expect(ledger.connect(accepting).appendEvent(caseId, Stage.MATERIALS, ethers.ZeroHash, 0))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerZeroCommitment")
        .withArgs(caseId);
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_OPENED, ethers.ZeroHash, 0))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerZeroCommitment")
        .withArgs(caseId);
    });

    it("refuses INTAKE via appendEvent (CaseLedgerIntakeByAppend), even from the accepting hall", async function () {
      const { ledger, accepting, home, caseId } = await loadFixture(openedCaseFixture);
      for (const who of [accepting, home]) {
        await expect(ledger.connect(who).appendEvent(caseId, Stage.INTAKE, commitment("again"), 0))
          .to.be.revertedWithCustomError(ledger, "CaseLedgerIntakeByAppend")
          .withArgs(caseId);
      }
      expect(await ledger.eventCount(caseId)).to.equal(1);
    });

    it("refuses an out-of-range stage value (ABI enum check)", async function () {
      const { ledger, accepting, caseId } = await loadFixture(openedCaseFixture);
      const data = ledger.interface.encodeFunctionData("appendEvent", [caseId, 0, commitment("x"), 0]);
      // patch the stage word to 8
      const bad = data.slice(0, 10 + 64) + ethers.zeroPadValue("0x08", 32).slice(2) + data.slice(10 + 128);
      await expect(accepting.sendTransaction({ to: await ledger.getAddress(), data: bad })).to.be.reverted;
    });

    it("refuses lifecycle stages from an unregistered account (CaseLedgerInactiveHall)", async function () {
      const { ledger, outsider, caseId } = await loadFixture(openedCaseFixture);
      for (const stage of LIFECYCLE_APPENDS) {
        await expect(ledger.connect(outsider).appendEvent(caseId, stage, commitment("x"), 0))
          .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
          .withArgs(outsider.address);
      }
    });

    it("refuses lifecycle stages from a dispute officer that is not a hall (CaseLedgerInactiveHall)", async function () {
      const { ledger, officer, caseId } = await loadFixture(openedCaseFixture);
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.MATERIALS, commitment("x"), 0))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(officer.address);
    });

    it("refuses a suspended accepting hall; a reactivated one continues", async function () {
      const { ledger, registry, accepting, ids, caseId } = await loadFixture(openedCaseFixture);
      await registry.suspendHall(ids.accepting);
      await expect(ledger.connect(accepting).appendEvent(caseId, Stage.MATERIALS, commitment("m"), 0))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(accepting.address);
      await registry.reactivateHall(ids.accepting);
      await expect(ledger.connect(accepting).appendEvent(caseId, Stage.MATERIALS, commitment("m"), 0)).to.emit(
        ledger,
        "EventAppended",
      );
    });

    it("refuses a suspended home hall while another home-district hall continues", async function () {
      const f = await loadFixture(openedCaseFixture);
      const { ledger, registry, home, home2, ids, caseId } = f;
      await driveTo(f, caseId, Phase.MaterialsRecorded);
      await registry.suspendHall(ids.home);
      await expect(ledger.connect(home).appendEvent(caseId, Stage.ACCEPTANCE, commitment("a"), 0))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(home.address);
      const h2 = await nextHead(f, caseId, Stage.ACCEPTANCE, commitment("a"), home2);
      const pb = await lastBlockOf(ledger, caseId);
      await expect(ledger.connect(home2).appendEvent(caseId, Stage.ACCEPTANCE, commitment("a"), 0))
        .to.emit(ledger, "EventAppended")
        .withArgs(caseId, ids.home2, Stage.ACCEPTANCE, home2.address, 2, commitment("a"), h2, 0, pb);
    });
  });

  describe("appendEvent: who may write what", function () {
    for (const stage of [Stage.MATERIALS, Stage.DELIVERY]) {
      it(`${StageName[stage]} by a hall other than the accepting hall -> CaseLedgerUnauthorizedWriter`, async function () {
        const f = await loadFixture(openedCaseFixture);
        const { ledger, home, home2, acceptingB, foreign, caseId } = f;
        if (stage === Stage.DELIVERY) await driveTo(f, caseId, Phase.Decided);
        const before = await ledger.caseHeader(caseId);
        const beforeArr = before.toArray();
        // acceptingB is in the accepting hall's own district: the rule is per hall, not per district
        for (const who of [home, home2, acceptingB, foreign]) {
          await expect(ledger.connect(who).appendEvent(caseId, stage, commitment("x"), 0))
            .to.be.revertedWithCustomError(ledger, "CaseLedgerUnauthorizedWriter")
            .withArgs(who.address, caseId, stage);
        }
        expect((await ledger.caseHeader(caseId)).toArray()).to.deep.equal(beforeArr);
        // the accepting hall itself may
        await expect(ledger.connect(f.accepting).appendEvent(caseId, stage, commitment("ok"), 0))
          .to.emit(ledger, "EventAppended")
          .withArgs(
            caseId, f.ids.accepting, stage, f.accepting.address, before.eventCount, commitment("ok"),
            head(before.head, stage, commitment("ok"), f.accepting.address), 0, before.lastBlock,
          );
      });
    }

    for (const stage of [Stage.ACCEPTANCE, Stage.PROCESS, Stage.RESULT]) {
      it(`${StageName[stage]} by a hall of another district -> CaseLedgerUnauthorizedWriter; any home-district hall may`, async function () {
        const f = await loadFixture(openedCaseFixture);
        const { ledger, accepting, acceptingB, foreign, home, home2, ids, caseId } = f;
        await driveTo(f, caseId, stage === Stage.ACCEPTANCE ? Phase.MaterialsRecorded : Phase.Accepted);
        for (const who of [accepting, acceptingB, foreign]) {
          await expect(ledger.connect(who).appendEvent(caseId, stage, commitment("x"), 0))
            .to.be.revertedWithCustomError(ledger, "CaseLedgerUnauthorizedWriter")
            .withArgs(who.address, caseId, stage);
        }
        // a SECOND hall of the home district is allowed, as is the first
        const writers = stage === Stage.PROCESS ? [home2, home] : [home2];
        for (const who of writers) {
          const c = commitment(`ok:${who.address}`);
          const prev = await ledger.caseHead(caseId);
          const n = await ledger.eventCount(caseId);
          const pb = await lastBlockOf(ledger, caseId);
          await expect(ledger.connect(who).appendEvent(caseId, stage, c, 0))
            .to.emit(ledger, "EventAppended")
            .withArgs(caseId, who === home ? ids.home : ids.home2, stage, who.address, n, c, head(prev, stage, c, who.address), 0, pb);
        }
      });
    }

    it("a hall that is both accepting hall and home-district hall may write every lifecycle stage", async function () {
      const { ledger, accepting, acceptingB, ids } = await loadFixture(deployLedgerFixture);
      const serial = serialOf(7);
      const caseId = caseIdOf(ACC, serial);
      await ledger.connect(accepting).openCase(serial, ITEM_CODE, ACCEPTING_DISTRICT, commitment("i"));
      let h = head(caseId, Stage.INTAKE, commitment("i"), accepting.address);
      for (const stage of [Stage.MATERIALS, Stage.ACCEPTANCE, Stage.PROCESS, Stage.RESULT, Stage.DELIVERY]) {
        h = head(h, stage, commitment(`s${stage}`), accepting.address);
        const pb = await lastBlockOf(ledger, caseId);
        await expect(ledger.connect(accepting).appendEvent(caseId, stage, commitment(`s${stage}`), 0))
          .to.emit(ledger, "EventAppended")
          .withArgs(caseId, ids.accepting, stage, accepting.address, stage, commitment(`s${stage}`), h, 0, pb);
      }
      expect((await ledger.caseHeader(caseId)).phase).to.equal(Phase.Delivered);
      // the other hall of that district could have written ACCEPTANCE etc., never MATERIALS/DELIVERY
      await ledger.connect(accepting).openCase(serialOf(8), ITEM_CODE, ACCEPTING_DISTRICT, commitment("i"));
      await expect(ledger.connect(acceptingB).appendEvent(caseIdOf(ACC, serialOf(8)), Stage.MATERIALS, commitment("m"), 0))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerUnauthorizedWriter")
        .withArgs(acceptingB.address, caseIdOf(ACC, serialOf(8)), Stage.MATERIALS);
    });

    it("checks the writer before the order (unauthorized wins over out-of-order)", async function () {
      const { ledger, foreign, caseId } = await loadFixture(openedCaseFixture);
      await expect(ledger.connect(foreign).appendEvent(caseId, Stage.RESULT, commitment("x"), 0))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerUnauthorizedWriter")
        .withArgs(foreign.address, caseId, Stage.RESULT);
    });
  });

  describe("appendEvent: lifecycle order", function () {
    for (const phase of [Phase.Opened, Phase.MaterialsRecorded, Phase.Accepted, Phase.Decided, Phase.Delivered]) {
      for (const stage of LIFECYCLE_APPENDS) {
        const next = NEXT[phase][stage];
        if (next === undefined) {
          it(`${PhaseName[phase]} + ${StageName[stage]} -> CaseLedgerOutOfOrder`, async function () {
            const f = await loadFixture(openedCaseFixture);
            const { ledger, caseId } = f;
            const h = await driveTo(f, caseId, phase);
            const n = await ledger.eventCount(caseId);
            const w = writerFor(f, stage);
            await expect(ledger.connect(w).appendEvent(caseId, stage, commitment("x"), 0))
              .to.be.revertedWithCustomError(ledger, "CaseLedgerOutOfOrder")
              .withArgs(caseId, stage, phase);
            expect(await ledger.caseHead(caseId)).to.equal(h);
            expect(await ledger.eventCount(caseId)).to.equal(n);
            expect((await ledger.caseHeader(caseId)).phase).to.equal(phase);
          });
        } else {
          it(`${PhaseName[phase]} + ${StageName[stage]} -> ${PhaseName[next]}`, async function () {
            const f = await loadFixture(openedCaseFixture);
            const { ledger, caseId } = f;
            const h = await driveTo(f, caseId, phase);
            const n = await ledger.eventCount(caseId);
            const w = writerFor(f, stage);
            const c = commitment("ok");
            const pb = await lastBlockOf(ledger, caseId);
            await expect(ledger.connect(w).appendEvent(caseId, stage, c, 0))
              .to.emit(ledger, "EventAppended")
              .withArgs(caseId, ethers.toNumber((await f.registry.hallOf(w.address))[0]), stage, w.address, n, c, head(h, stage, c, w.address), 0, pb);
            expect((await ledger.caseHeader(caseId)).phase).to.equal(next);
            expect(await ledger.eventCount(caseId)).to.equal(n + 1n);
          });
        }
      }
    }

    it("after RESULT only DELIVERY and DISPUTE_* are accepted", async function () {
      const f = await loadFixture(openedCaseFixture);
      const { ledger, caseId, officer, accepting } = f;
      await driveTo(f, caseId, Phase.Decided);
      for (const stage of [Stage.MATERIALS, Stage.ACCEPTANCE, Stage.PROCESS, Stage.RESULT]) {
        await expect(ledger.connect(writerFor(f, stage)).appendEvent(caseId, stage, commitment("late"), 0))
          .to.be.revertedWithCustomError(ledger, "CaseLedgerOutOfOrder")
          .withArgs(caseId, stage, Phase.Decided);
      }
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("d"), 0)).to.emit(ledger, "EventAppended");
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r"), 4)).to.emit(ledger, "EventAppended");
      await expect(ledger.connect(accepting).appendEvent(caseId, Stage.DELIVERY, commitment("deliv"), 0)).to.emit(ledger, "EventAppended");
      // after DELIVERY: nothing but disputes
      for (const stage of LIFECYCLE_APPENDS) {
        await expect(ledger.connect(writerFor(f, stage)).appendEvent(caseId, stage, commitment("later"), 0))
          .to.be.revertedWithCustomError(ledger, "CaseLedgerOutOfOrder")
          .withArgs(caseId, stage, Phase.Delivered);
      }
      expect(await ledger.eventCount(caseId)).to.equal(1 + 3 + 3);
    });

    it("a full lifecycle with supplements and several PROCESS steps chains every head", async function () {
      const f = await loadFixture(openedCaseFixture);
      const { ledger, caseId, head0, ids } = f;
      const plan = [
        [Stage.MATERIALS, f.accepting],
        [Stage.MATERIALS, f.accepting],
        [Stage.ACCEPTANCE, f.home],
        [Stage.PROCESS, f.home],
        [Stage.MATERIALS, f.accepting], // supplement after acceptance
        [Stage.PROCESS, f.home2],
        [Stage.DISPUTE_OPENED, f.officer],
        [Stage.PROCESS, f.home],
        [Stage.DISPUTE_RESOLVED, f.officer, 7], // closes the dispute opened by event 7
        [Stage.RESULT, f.home2],
        [Stage.DELIVERY, f.accepting],
      ];
      const hallIdOf = new Map([
        [f.accepting.address, ids.accepting],
        [f.home.address, ids.home],
        [f.home2.address, ids.home2],
        [f.officer.address, 0],
      ]);
      let h = head0;
      for (const [i, [stage, w, ref = 0]] of plan.entries()) {
        const c = commitment(`plan${i}`);
        h = head(h, stage, c, w.address);
        const pb = await lastBlockOf(ledger, caseId);
        await expect(ledger.connect(w).appendEvent(caseId, stage, c, ref))
          .to.emit(ledger, "EventAppended")
          .withArgs(caseId, hallIdOf.get(w.address), stage, w.address, i + 1, c, h, ref, pb);
      }
      await expectHeader(ledger, caseId, {
        head: h,
        eventCount: BigInt(plan.length + 1),
        phase: BigInt(Phase.Delivered),
      });
      expect(await ledger.openDisputesOf(caseId, f.officer.address)).to.equal(0);
      expect((await ledger.dispute(caseId, 7)).open).to.equal(false);
    });
  });

  describe("appendEvent: disputes", function () {
    /** Opens a dispute by `who` on the fixture's case; returns its index (the `ref` that resolves it). */
    async function openDispute(f, who, label = "open") {
      const index = Number(await f.ledger.eventCount(f.caseId));
      await f.ledger.connect(who).appendEvent(f.caseId, Stage.DISPUTE_OPENED, commitment(`${label}:${index}`), 0);
      return index;
    }

    for (const phase of [Phase.Opened, Phase.MaterialsRecorded, Phase.Accepted, Phase.Decided, Phase.Delivered]) {
      it(`a dispute officer (not a hall) may open and resolve its dispute in phase ${PhaseName[phase]}`, async function () {
        const f = await loadFixture(openedCaseFixture);
        const { ledger, registry, officer, caseId } = f;
        expect(await registry.hallIdOf(officer.address)).to.equal(0);
        let h = await driveTo(f, caseId, phase);
        const n = await ledger.eventCount(caseId);
        const c1 = commitment("open");
        h = head(h, Stage.DISPUTE_OPENED, c1, officer.address);
        let pb = await lastBlockOf(ledger, caseId);
        await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_OPENED, c1, 0))
          .to.emit(ledger, "EventAppended")
          .withArgs(caseId, 0, Stage.DISPUTE_OPENED, officer.address, n, c1, h, 0, pb);
        await expectHeader(ledger, caseId, { phase: BigInt(phase), head: h });
        expect(await ledger.dispute(caseId, n)).to.deep.equal([0n, officer.address, true]);
        expect(await ledger.openDisputesOf(caseId, officer.address)).to.equal(1);
        const c2 = commitment("resolve");
        h = head(h, Stage.DISPUTE_RESOLVED, c2, officer.address);
        pb = await lastBlockOf(ledger, caseId);
        await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_RESOLVED, c2, n))
          .to.emit(ledger, "EventAppended")
          .withArgs(caseId, 0, Stage.DISPUTE_RESOLVED, officer.address, n + 1n, c2, h, n, pb);
        await expectHeader(ledger, caseId, { phase: BigInt(phase), head: h, eventCount: n + 2n });
        expect(await ledger.dispute(caseId, n)).to.deep.equal([0n, officer.address, false]);
        expect(await ledger.openDisputesOf(caseId, officer.address)).to.equal(0);
      });
    }

    it("DISPUTE_OPENED without DISPUTE_OFFICER_ROLE -> CaseLedgerUnauthorizedWriter (an arbiter cannot open)", async function () {
      const { ledger, accepting, home, outsider, admin, arbiter, caseId } = await loadFixture(openedCaseFixture);
      for (const who of [accepting, home, outsider, admin, arbiter]) {
        await expect(ledger.connect(who).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("x"), 0))
          .to.be.revertedWithCustomError(ledger, "CaseLedgerUnauthorizedWriter")
          .withArgs(who.address, caseId, Stage.DISPUTE_OPENED);
      }
      expect(await ledger.eventCount(caseId)).to.equal(1);
    });

    it("DISPUTE_RESOLVED without the officer or arbiter role -> CaseLedgerUnauthorizedWriter", async function () {
      const f = await loadFixture(openedCaseFixture);
      const ref = await openDispute(f, f.officer);
      for (const who of [f.accepting, f.home, f.outsider, f.admin]) {
        await expect(f.ledger.connect(who).appendEvent(f.caseId, Stage.DISPUTE_RESOLVED, commitment("x"), ref))
          .to.be.revertedWithCustomError(f.ledger, "CaseLedgerUnauthorizedWriter")
          .withArgs(who.address, f.caseId, Stage.DISPUTE_RESOLVED);
      }
    });

    it("DISPUTE_RESOLVED whose ref names no open dispute -> CaseLedgerNoOpenDispute(caseId, ref)", async function () {
      const f = await loadFixture(openedCaseFixture);
      const { ledger, officer, arbiter, caseId } = f;
      await driveTo(f, caseId, Phase.MaterialsRecorded); // event 1 is MATERIALS
      const ref = await openDispute(f, officer); // event 2
      // 0 is INTAKE, 1 a MATERIALS event, 3 and 4294967295 do not exist
      for (const bad of [0, 1, 3, 4294967295]) {
        for (const who of [officer, arbiter]) {
          await expect(ledger.connect(who).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r"), bad))
            .to.be.revertedWithCustomError(ledger, "CaseLedgerNoOpenDispute")
            .withArgs(caseId, bad);
        }
      }
      await ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r"), ref);
      // resolved once: a second resolution of the same dispute is refused
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r2"), ref))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerNoOpenDispute")
        .withArgs(caseId, ref);
      // a DISPUTE_RESOLVED event is not a dispute either
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r3"), ref + 1))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerNoOpenDispute")
        .withArgs(caseId, ref + 1);
    });

    it("issue 11 hole 2: a dispute officer who did not open a dispute cannot resolve it (CaseLedgerNotDisputeOpener)", async function () {
      const f = await loadFixture(openedCaseFixture);
      const { ledger, registry, officer, officer2, home, caseId } = f;
      await registry.grantRole(ROLES.DISPUTE_OFFICER_ROLE, home.address); // a hall key holding the role too
      const ref = await openDispute(f, officer);
      const before = (await ledger.caseHeader(caseId)).toArray();
      for (const who of [officer2, home]) {
        const tx = ledger.connect(who).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("not mine"), ref);
        await expect(tx).to.be.revertedWithCustomError(ledger, "CaseLedgerNotDisputeOpener").withArgs(who.address, caseId, ref);
      }
      // nothing changed: the dispute is still open and counted for its opener
      expect((await ledger.caseHeader(caseId)).toArray()).to.deep.equal(before);
      expect(await ledger.dispute(caseId, ref)).to.deep.equal([0n, officer.address, true]);
      expect(await ledger.openDisputesOf(caseId, officer.address)).to.equal(1);
      // and the real resolution still goes through
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("mine"), ref)).to.emit(
        ledger,
        "EventAppended",
      );
    });

    it("a hall's dispute belongs to the hall: another hall holding the role cannot resolve it", async function () {
      const f = await loadFixture(openedCaseFixture);
      const { ledger, registry, home, home2, ids, caseId } = f;
      await registry.grantRole(ROLES.DISPUTE_OFFICER_ROLE, home.address);
      await registry.grantRole(ROLES.DISPUTE_OFFICER_ROLE, home2.address);
      const ref = await openDispute(f, home);
      expect(await ledger.dispute(caseId, ref)).to.deep.equal([BigInt(ids.home), home.address, true]);
      await expect(ledger.connect(home2).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r"), ref))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerNotDisputeOpener")
        .withArgs(home2.address, caseId, ref);
      const pb = await lastBlockOf(ledger, caseId);
      await expect(ledger.connect(home).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r"), ref))
        .to.emit(ledger, "EventAppended")
        .withArgs(caseId, ids.home, Stage.DISPUTE_RESOLVED, home.address, ref + 1, commitment("r"),
          head(await ledger.caseHead(caseId), Stage.DISPUTE_RESOLVED, commitment("r"), home.address), ref, pb);
    });

    it("an arbiter (DISPUTE_ARBITER_ROLE) may resolve anyone's dispute; the opener's count drops", async function () {
      const f = await loadFixture(openedCaseFixture);
      const { ledger, registry, officer, arbiter, home, ids, caseId } = f;
      await registry.grantRole(ROLES.DISPUTE_OFFICER_ROLE, home.address);
      const r1 = await openDispute(f, officer);
      const r2 = await openDispute(f, home);
      expect(await ledger.openDisputesOf(caseId, officer.address)).to.equal(1);
      expect(await ledger.openDisputesOf(caseId, home.address)).to.equal(1);
      for (const ref of [r2, r1]) {
        const pb = await lastBlockOf(ledger, caseId);
        const n = await ledger.eventCount(caseId);
        await expect(ledger.connect(arbiter).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment(`arb${ref}`), ref))
          .to.emit(ledger, "EventAppended")
          .withArgs(caseId, 0, Stage.DISPUTE_RESOLVED, arbiter.address, n, commitment(`arb${ref}`),
            head(await ledger.caseHead(caseId), Stage.DISPUTE_RESOLVED, commitment(`arb${ref}`), arbiter.address), ref, pb);
      }
      expect(await ledger.openDisputesOf(caseId, officer.address)).to.equal(0);
      expect(await ledger.openDisputesOf(caseId, home.address)).to.equal(0);
      expect((await ledger.dispute(caseId, r2)).openerHall).to.equal(ids.home);
      // an arbiter that is a hall key must be active
      await registry.grantRole(ROLES.DISPUTE_ARBITER_ROLE, f.home2.address);
      const r3 = await openDispute(f, officer);
      await registry.suspendHall(ids.home2);
      await expect(ledger.connect(f.home2).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r"), r3))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(f.home2.address);
    });

    it("the rotated-in key of the opener hall may resolve the hall's dispute; the old key is refused", async function () {
      const f = await loadFixture(openedCaseFixture);
      const { ledger, registry, home, spare, ids, caseId } = f;
      await registry.grantRole(ROLES.DISPUTE_OFFICER_ROLE, home.address);
      const ref = await openDispute(f, home);
      const newKey = spare[0];
      await registry.rotateHallKey(ids.home, newKey.address); // the role moves with the key
      const hr = head(await ledger.caseHead(caseId), Stage.DISPUTE_RESOLVED, commitment("r"), newKey.address);
      // old key: no hall, no role any more
      await expect(ledger.connect(home).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r"), ref))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerUnauthorizedWriter")
        .withArgs(home.address, caseId, Stage.DISPUTE_RESOLVED);
      const pb = await lastBlockOf(ledger, caseId);
      await expect(ledger.connect(newKey).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r"), ref))
        .to.emit(ledger, "EventAppended")
        .withArgs(caseId, ids.home, Stage.DISPUTE_RESOLVED, newKey.address, ref + 1, commitment("r"), hr, ref, pb);
      expect(await ledger.openDisputesOf(caseId, newKey.address)).to.equal(0);
    });

    it("issue 11 hole 2: one opener cannot exhaust a case's disputes (CaseLedgerTooManyDisputes per opener); another party can still open", async function () {
      const f = await loadFixture(openedCaseFixture);
      const { ledger, registry, officer, officer2, home, caseId } = f;
      expect(await ledger.MAX_OPEN_DISPUTES_PER_OPENER()).to.equal(3);
      const refs = [];
      for (let i = 0; i < 3; i++) refs.push(await openDispute(f, officer, `o${i}`));
      expect(await ledger.openDisputesOf(caseId, officer.address)).to.equal(3);
      const n = await ledger.eventCount(caseId);
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("one more"), 0))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerTooManyDisputes")
        .withArgs(caseId, officer.address);
      expect(await ledger.eventCount(caseId)).to.equal(n);
      // another officer, and a hall holding the role, can still open theirs
      await expect(ledger.connect(officer2).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("other party"), 0)).to.emit(
        ledger,
        "EventAppended",
      );
      await registry.grantRole(ROLES.DISPUTE_OFFICER_ROLE, home.address);
      await expect(ledger.connect(home).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("hall"), 0)).to.emit(
        ledger,
        "EventAppended",
      );
      // resolving one frees a slot for its opener
      await ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r"), refs[1]);
      expect(await ledger.openDisputesOf(caseId, officer.address)).to.equal(2);
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("again"), 0)).to.emit(
        ledger,
        "EventAppended",
      );
      // the limit is per case: the same officer can open on another case
      const other = serialOf(2);
      await ledger.connect(f.accepting).openCase(other, ITEM_CODE, HOME_DISTRICT, commitment("i2"));
      await expect(ledger.connect(officer).appendEvent(caseIdOf(ACC, other), Stage.DISPUTE_OPENED, commitment("o"), 0)).to.emit(
        ledger,
        "EventAppended",
      );
    });

    it("the per-opener limit counts a hall, whichever of its keys opened (rotation does not reset it)", async function () {
      const f = await loadFixture(openedCaseFixture);
      const { ledger, registry, home, spare, ids, caseId } = f;
      await registry.grantRole(ROLES.DISPUTE_OFFICER_ROLE, home.address);
      for (let i = 0; i < 3; i++) await openDispute(f, home, `h${i}`);
      const newKey = spare[0];
      await registry.rotateHallKey(ids.home, newKey.address);
      expect(await ledger.openDisputesOf(caseId, newKey.address)).to.equal(3);
      await expect(ledger.connect(newKey).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("x"), 0))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerTooManyDisputes")
        .withArgs(caseId, newKey.address);
    });

    it("a ref on any stage but DISPUTE_RESOLVED -> CaseLedgerRefNotAllowed(caseId, stage, ref)", async function () {
      const f = await loadFixture(openedCaseFixture);
      const { ledger, officer, caseId } = f;
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("o"), 1))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerRefNotAllowed")
        .withArgs(caseId, Stage.DISPUTE_OPENED, 1);
      await expect(ledger.connect(f.accepting).appendEvent(caseId, Stage.MATERIALS, commitment("m"), 5))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerRefNotAllowed")
        .withArgs(caseId, Stage.MATERIALS, 5);
      // the writer is checked first
      await expect(ledger.connect(f.foreign).appendEvent(caseId, Stage.MATERIALS, commitment("m"), 5))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerUnauthorizedWriter")
        .withArgs(f.foreign.address, caseId, Stage.MATERIALS);
      expect(await ledger.eventCount(caseId)).to.equal(1);
    });

    it("disputes do not block the lifecycle", async function () {
      const f = await loadFixture(openedCaseFixture);
      const { ledger, officer, caseId } = f;
      await ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("o"), 0);
      await driveTo(f, caseId, Phase.Delivered);
      await expectHeader(ledger, caseId, { phase: BigInt(Phase.Delivered) });
      expect(await ledger.openDisputesOf(caseId, officer.address)).to.equal(1);
    });

    it("a hall key holding DISPUTE_OFFICER_ROLE may write disputes (with its hall id)", async function () {
      const { ledger, registry, home, ids, caseId, head0 } = await loadFixture(openedCaseFixture);
      await registry.grantRole(ROLES.DISPUTE_OFFICER_ROLE, home.address);
      const c = commitment("o");
      const pb = await lastBlockOf(ledger, caseId);
      await expect(ledger.connect(home).appendEvent(caseId, Stage.DISPUTE_OPENED, c, 0))
        .to.emit(ledger, "EventAppended")
        .withArgs(caseId, ids.home, Stage.DISPUTE_OPENED, home.address, 1, c, head(head0, Stage.DISPUTE_OPENED, c, home.address), 0, pb);
    });

    it("a suspended hall holding DISPUTE_OFFICER_ROLE is refused, for opening and for resolving its own (CaseLedgerInactiveHall)", async function () {
      const f = await loadFixture(openedCaseFixture);
      const { ledger, registry, home, arbiter, ids, caseId } = f;
      await registry.grantRole(ROLES.DISPUTE_OFFICER_ROLE, home.address);
      const ref = await openDispute(f, home);
      await registry.suspendHall(ids.home);
      await expect(ledger.connect(home).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("o"), 0))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(home.address);
      await expect(ledger.connect(home).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r"), ref))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(home.address);
      // the arbiter can still close it
      await expect(ledger.connect(arbiter).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r"), ref)).to.emit(
        ledger,
        "EventAppended",
      );
    });

    it("a revoked dispute officer can neither open nor resolve; the arbiter closes its dispute", async function () {
      const f = await loadFixture(openedCaseFixture);
      const { ledger, registry, officer, arbiter, caseId } = f;
      const ref = await openDispute(f, officer);
      await registry.revokeRole(ROLES.DISPUTE_OFFICER_ROLE, officer.address);
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("o"), 0))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerUnauthorizedWriter")
        .withArgs(officer.address, caseId, Stage.DISPUTE_OPENED);
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r"), ref))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerUnauthorizedWriter")
        .withArgs(officer.address, caseId, Stage.DISPUTE_RESOLVED);
      await expect(ledger.connect(arbiter).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r"), ref)).to.emit(
        ledger,
        "EventAppended",
      );
    });
  });

  describe("issue 11 hole 1: serial squatting", function () {
    it("hall B opening hall A's next serial opens B's own case; A's case then opens normally", async function () {
      const { ledger, accepting, acceptingB, ids } = await loadFixture(deployLedgerFixture);
      const serial = serialOf(1); // predictable: A's next serial
      const squat = caseIdOf(ids.acceptingB, serial);
      await expect(ledger.connect(acceptingB).openCase(serial, ITEM_CODE, HOME_DISTRICT, commitment("squat")))
        .to.emit(ledger, "CaseOpened")
        .withArgs(squat, ids.acceptingB, HOME_DISTRICT, serial, ITEM_CODE);
      const real = caseIdOf(ids.accepting, serial);
      expect(real).to.not.equal(squat);
      const c0 = commitment("real intake");
      await expect(ledger.connect(accepting).openCase(serial, ITEM_CODE, HOME_DISTRICT, c0))
        .to.emit(ledger, "CaseOpened")
        .withArgs(real, ids.accepting, HOME_DISTRICT, serial, ITEM_CODE)
        .and.to.emit(ledger, "EventAppended")
        .withArgs(real, ids.accepting, Stage.INTAKE, accepting.address, 0, c0, head(real, Stage.INTAKE, c0, accepting.address), 0, 0);
      expect((await ledger.caseHeader(real)).acceptingHall).to.equal(ids.accepting);
      expect((await ledger.caseHeader(squat)).acceptingHall).to.equal(ids.acceptingB);
    });

    it("hall B cannot block hall A's batch by opening A's serials first", async function () {
      const { ledger, accepting, acceptingB, ids } = await loadFixture(deployLedgerFixture);
      const opens = [1, 2, 3].map((n) => ({
        serial: serialOf(n),
        itemCode: ITEM_CODE,
        homeDistrict: HOME_DISTRICT,
        intakeCommitment: commitment(`i${n}`),
      }));
      await ledger.connect(acceptingB).anchorBatch(opens, []);
      const tx = ledger.connect(accepting).anchorBatch(opens, opens.map((o) => ({
        caseId: caseIdOf(ids.accepting, o.serial), stage: Stage.MATERIALS, commitment: commitment(`m${o.serial}`), ref: 0,
      })));
      await expect(tx).to.not.be.reverted;
      for (const o of opens) {
        await expectHeader(ledger, caseIdOf(ids.accepting, o.serial), { acceptingHall: BigInt(ids.accepting), eventCount: 2n });
        await expectHeader(ledger, caseIdOf(ids.acceptingB, o.serial), { acceptingHall: BigInt(ids.acceptingB), eventCount: 1n });
      }
    });

    it("hall B cannot write into hall A's case (CaseLedgerUnauthorizedWriter), nor reach it through its own id", async function () {
      const { ledger, acceptingB, ids, caseId, serial } = await loadFixture(openedCaseFixture);
      await expect(ledger.connect(acceptingB).appendEvent(caseId, Stage.MATERIALS, commitment("m"), 0))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerUnauthorizedWriter")
        .withArgs(acceptingB.address, caseId, Stage.MATERIALS);
      // B's id for the same serial is another (unopened) case
      const bId = caseIdOf(ids.acceptingB, serial);
      await expect(ledger.connect(acceptingB).appendEvent(bId, Stage.MATERIALS, commitment("m"), 0))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerUnknownCase")
        .withArgs(bId);
    });
  });

  describe("anchorBatch", function () {
    // 3 existing cases opened one by one, plus 5 new ones in the batch
    async function batchFixture() {
      const f = await deployLedgerFixture();
      const existing = [];
      for (let i = 0; i < 3; i++) {
        const serial = serialOf(100 + i);
        const c = commitment(`pre${i}`);
        const receipt = await (await f.ledger.connect(f.accepting).openCase(serial, ITEM_CODE, HOME_DISTRICT, c)).wait();
        existing.push({
          serial,
          caseId: caseIdOf(ACC, serial),
          head: head(caseIdOf(ACC, serial), Stage.INTAKE, c, f.accepting.address),
          block: receipt.blockNumber,
        });
      }
      const opens = Array.from({ length: 5 }, (_, i) => ({
        serial: serialOf(200 + i),
        itemCode: ITEM_CODE,
        homeDistrict: i % 2 === 0 ? HOME_DISTRICT : OTHER_DISTRICT,
        intakeCommitment: commitment(`new${i}`),
      }));
      return { ...f, existing, opens };
    }

    async function snapshot(ledger, ids) {
      return Promise.all(ids.map(async (id) => (await ledger.caseHeader(id)).toArray()));
    }

    it("opens many cases and appends across many cases, emitting every event in order", async function () {
      const { ledger, accepting, ids, existing, opens } = await loadFixture(batchFixture);
      const appends = [
        ...existing.map((e, i) => ({ caseId: e.caseId, stage: Stage.MATERIALS, commitment: commitment(`m-e${i}`), ref: 0 })),
        ...opens.map((o, i) => ({ caseId: caseIdOf(ACC, o.serial), stage: Stage.MATERIALS, commitment: commitment(`m-n${i}`), ref: 0 })),
        // two more on the same case in one batch: heads must chain inside the batch
        { caseId: existing[0].caseId, stage: Stage.MATERIALS, commitment: commitment("m-e0-2"), ref: 0 },
        { caseId: caseIdOf(ACC, opens[0].serial), stage: Stage.MATERIALS, commitment: commitment("m-n0-2"), ref: 0 },
      ];
      const tx = await ledger.connect(accepting).anchorBatch(opens, appends);
      const receipt = await tx.wait();

      // expected log stream
      const heads = new Map(existing.map((e) => [e.caseId, e.head]));
      const counts = new Map(existing.map((e) => [e.caseId, 1]));
      const lastBlocks = new Map(existing.map((e) => [e.caseId, e.block]));
      const expected = [];
      for (const o of opens) {
        const id = caseIdOf(ACC, o.serial);
        const h = head(id, Stage.INTAKE, o.intakeCommitment, accepting.address);
        heads.set(id, h);
        counts.set(id, 1);
        lastBlocks.set(id, receipt.blockNumber);
        expected.push({
          caseId: id, hallId: ids.accepting, stage: Stage.INTAKE, writer: accepting.address, index: 0,
          commitment: o.intakeCommitment, head: h, ref: 0, prevBlock: 0,
        });
        await expect(tx)
          .to.emit(ledger, "CaseOpened")
          .withArgs(id, ids.accepting, o.homeDistrict, o.serial, o.itemCode);
      }
      for (const a of appends) {
        const h = head(heads.get(a.caseId), a.stage, a.commitment, accepting.address);
        const index = counts.get(a.caseId);
        heads.set(a.caseId, h);
        counts.set(a.caseId, index + 1);
        // the previous event's block: an earlier block for existing cases, this block after the first event in it
        expected.push({
          caseId: a.caseId, hallId: ids.accepting, stage: a.stage, writer: accepting.address, index,
          commitment: a.commitment, head: h, ref: 0, prevBlock: lastBlocks.get(a.caseId),
        });
        lastBlocks.set(a.caseId, receipt.blockNumber);
      }
      expect(appendedLogs(ledger, receipt)).to.deep.equal(expected);

      for (const [id, h] of heads) {
        expect(await ledger.caseHead(id)).to.equal(h);
        expect(await ledger.eventCount(id)).to.equal(counts.get(id));
        expect((await ledger.caseHeader(id)).phase).to.equal(Phase.MaterialsRecorded);
        expect(await lastBlockOf(ledger, id)).to.equal(receipt.blockNumber);
      }
      for (const o of opens) {
        await expectHeader(ledger, caseIdOf(ACC, o.serial), {
          homeDistrict: BigInt(o.homeDistrict),
          acceptingHall: BigInt(ids.accepting),
          itemCode: ITEM_CODE,
        });
      }
    });

    it("lets a home-district hall batch ACCEPTANCE / PROCESS / RESULT across cases", async function () {
      const f = await loadFixture(batchFixture);
      const { ledger, accepting, home, existing, ids } = f;
      await ledger.connect(accepting).anchorBatch(
        [],
        existing.map((e) => ({ caseId: e.caseId, stage: Stage.MATERIALS, commitment: commitment("m"), ref: 0 })),
      );
      const appends = [];
      for (const e of existing) {
        appends.push({ caseId: e.caseId, stage: Stage.ACCEPTANCE, commitment: commitment(`a${e.serial}`), ref: 0 });
        appends.push({ caseId: e.caseId, stage: Stage.PROCESS, commitment: commitment(`p${e.serial}`), ref: 0 });
        appends.push({ caseId: e.caseId, stage: Stage.RESULT, commitment: commitment(`r${e.serial}`), ref: 0 });
      }
      const receipt = await (await ledger.connect(home).anchorBatch([], appends)).wait();
      const logs = appendedLogs(ledger, receipt);
      expect(logs).to.have.length(9);
      expect(logs.every((l) => l.hallId === ids.home && l.writer === home.address)).to.equal(true);
      for (const e of existing) {
        await expectHeader(ledger, e.caseId, { phase: BigInt(Phase.Decided), eventCount: 5n });
      }
    });

    it("lets a dispute officer (not a hall) batch disputes across cases", async function () {
      const { ledger, officer, existing } = await loadFixture(batchFixture);
      const appends = [
        ...existing.map((e) => ({ caseId: e.caseId, stage: Stage.DISPUTE_OPENED, commitment: commitment("o"), ref: 0 })),
        { caseId: existing[1].caseId, stage: Stage.DISPUTE_RESOLVED, commitment: commitment("r"), ref: 1 },
      ];
      const receipt = await (await ledger.connect(officer).anchorBatch([], appends)).wait();
      expect(appendedLogs(ledger, receipt).map((l) => [l.hallId, l.stage, l.ref])).to.deep.equal([
        [0, Stage.DISPUTE_OPENED, 0],
        [0, Stage.DISPUTE_OPENED, 0],
        [0, Stage.DISPUTE_OPENED, 0],
        [0, Stage.DISPUTE_RESOLVED, 1],
      ]);
      expect(await ledger.openDisputesOf(existing[0].caseId, officer.address)).to.equal(1);
      expect(await ledger.openDisputesOf(existing[1].caseId, officer.address)).to.equal(0);
    });

    it("mixes lifecycle and dispute items for a hall that is also a dispute officer", async function () {
      const { ledger, registry, accepting, existing } = await loadFixture(batchFixture);
      await registry.grantRole(ROLES.DISPUTE_OFFICER_ROLE, accepting.address);
      await ledger.connect(accepting).anchorBatch([], [
        { caseId: existing[0].caseId, stage: Stage.DISPUTE_OPENED, commitment: commitment("o"), ref: 0 },
        { caseId: existing[0].caseId, stage: Stage.MATERIALS, commitment: commitment("m"), ref: 0 },
        { caseId: existing[1].caseId, stage: Stage.DISPUTE_OPENED, commitment: commitment("o"), ref: 0 },
        { caseId: existing[0].caseId, stage: Stage.DISPUTE_RESOLVED, commitment: commitment("r"), ref: 1 },
      ]);
      await expectHeader(ledger, existing[0].caseId, { eventCount: 4n, phase: BigInt(Phase.MaterialsRecorded) });
      await expectHeader(ledger, existing[1].caseId, { eventCount: 2n });
      expect(await ledger.openDisputesOf(existing[0].caseId, accepting.address)).to.equal(0);
      expect(await ledger.openDisputesOf(existing[1].caseId, accepting.address)).to.equal(1);
    });

    it("an empty batch does nothing", async function () {
      const { ledger, accepting } = await loadFixture(batchFixture);
      const tx = ledger.connect(accepting).anchorBatch([], []);
      await expect(tx).to.not.emit(ledger, "CaseOpened");
      await expect(tx).to.not.emit(ledger, "EventAppended");
    });

    // all-or-nothing: each bad item is placed last so that everything before it would have succeeded
    const BAD_ITEMS = {
      "an out-of-order append": (f) => ({
        appends: [{ caseId: f.existing[2].caseId, stage: Stage.DELIVERY, commitment: commitment("bad"), ref: 0 }],
        error: ["CaseLedgerOutOfOrder", [f.existing[2].caseId, Stage.DELIVERY, Phase.MaterialsRecorded]],
        // existing[2] got MATERIALS earlier in this batch, so its phase is MaterialsRecorded at that point
      }),
      "an append to an unknown case": (f) => ({
        appends: [{ caseId: caseIdOf(ACC, "ghost"), stage: Stage.MATERIALS, commitment: commitment("bad"), ref: 0 }],
        error: ["CaseLedgerUnknownCase", [caseIdOf(ACC, "ghost")]],
      }),
      "an unauthorized append": (f) => ({
        appends: [{ caseId: f.existing[0].caseId, stage: Stage.ACCEPTANCE, commitment: commitment("bad"), ref: 0 }],
        error: ["CaseLedgerUnauthorizedWriter", [f.accepting.address, f.existing[0].caseId, Stage.ACCEPTANCE]],
      }),
      "a zero commitment": (f) => ({
        appends: [{ caseId: f.existing[0].caseId, stage: Stage.MATERIALS, commitment: ethers.ZeroHash, ref: 0 }],
        error: ["CaseLedgerZeroCommitment", [f.existing[0].caseId]],
      }),
      "an INTAKE append": (f) => ({
        appends: [{ caseId: caseIdOf(ACC, f.opens[0].serial), stage: Stage.INTAKE, commitment: commitment("bad"), ref: 0 }],
        error: ["CaseLedgerIntakeByAppend", [caseIdOf(ACC, f.opens[0].serial)]],
      }),
      "a dispute without the role": (f) => ({
        appends: [{ caseId: f.existing[0].caseId, stage: Stage.DISPUTE_OPENED, commitment: commitment("bad"), ref: 0 }],
        error: ["CaseLedgerUnauthorizedWriter", [f.accepting.address, f.existing[0].caseId, Stage.DISPUTE_OPENED]],
      }),
      "a ref on a lifecycle append": (f) => ({
        appends: [{ caseId: f.existing[0].caseId, stage: Stage.MATERIALS, commitment: commitment("bad"), ref: 3 }],
        error: ["CaseLedgerRefNotAllowed", [f.existing[0].caseId, Stage.MATERIALS, 3]],
      }),
      "a duplicate open inside the batch": (f) => ({
        opens: [{ ...f.opens[1], intakeCommitment: commitment("dup") }],
        error: ["CaseLedgerCaseExists", [caseIdOf(ACC, f.opens[1].serial)]],
      }),
      "an open of an existing case": (f) => ({
        opens: [{ serial: f.existing[0].serial, itemCode: ITEM_CODE, homeDistrict: HOME_DISTRICT, intakeCommitment: commitment("dup") }],
        error: ["CaseLedgerCaseExists", [f.existing[0].caseId]],
      }),
      "an open with an invalid serial": (f) => ({
        opens: [{ serial: "", itemCode: ITEM_CODE, homeDistrict: HOME_DISTRICT, intakeCommitment: commitment("x") }],
        error: ["CaseLedgerInvalidCase", ["", HOME_DISTRICT]],
      }),
      "an open with an invalid district": (f) => ({
        opens: [{ serial: "X-1", itemCode: ITEM_CODE, homeDistrict: 99999, intakeCommitment: commitment("x") }],
        error: ["CaseLedgerInvalidCase", ["X-1", 99999]],
      }),
      "an open with a zero commitment": (f) => ({
        opens: [{ serial: "X-2", itemCode: ITEM_CODE, homeDistrict: HOME_DISTRICT, intakeCommitment: ethers.ZeroHash }],
        error: ["CaseLedgerZeroCommitment", [caseIdOf(ACC, "X-2")]],
      }),
    };

    for (const [label, make] of Object.entries(BAD_ITEMS)) {
      it(`reverts the whole batch on ${label}, changing nothing`, async function () {
        const f = await loadFixture(batchFixture);
        const { ledger, accepting, existing, opens } = f;
        const bad = make(f);
        const goodAppends = [
          ...existing.map((e, i) => ({ caseId: e.caseId, stage: Stage.MATERIALS, commitment: commitment(`g${i}`), ref: 0 })),
          ...opens.map((o, i) => ({ caseId: caseIdOf(ACC, o.serial), stage: Stage.MATERIALS, commitment: commitment(`gn${i}`), ref: 0 })),
        ];
        const allOpens = [...opens, ...(bad.opens || [])];
        const allAppends = [...goodAppends, ...(bad.appends || [])];
        const allIds = [...existing.map((e) => e.caseId), ...allOpens.map((o) => caseIdOf(ACC, o.serial))];
        const before = await snapshot(ledger, allIds);
        const [name, args] = bad.error;
        await expect(ledger.connect(accepting).anchorBatch(allOpens, allAppends))
          .to.be.revertedWithCustomError(ledger, name)
          .withArgs(...args);
        expect(await snapshot(ledger, allIds)).to.deep.equal(before);
        for (const o of opens) expect((await ledger.caseHeader(caseIdOf(ACC, o.serial))).phase).to.equal(Phase.None);
        // and without the bad item the same batch goes through
        await expect(ledger.connect(accepting).anchorBatch(opens, goodAppends)).to.emit(ledger, "CaseOpened");
      });
    }

    it("refuses a batch from an inactive writer (CaseLedgerInactiveHall)", async function () {
      const { ledger, registry, accepting, outsider, ids, existing, opens } = await loadFixture(batchFixture);
      await expect(ledger.connect(outsider).anchorBatch(opens, []))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(outsider.address);
      await registry.suspendHall(ids.accepting);
      await expect(
        ledger.connect(accepting).anchorBatch([], [{ caseId: existing[0].caseId, stage: Stage.MATERIALS, commitment: commitment("m"), ref: 0 }]),
      )
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(accepting.address);
    });

    it("refuses lifecycle items from a bare dispute officer even after valid dispute items", async function () {
      const { ledger, officer, existing } = await loadFixture(batchFixture);
      const before = await snapshot(ledger, existing.map((e) => e.caseId));
      await expect(
        ledger.connect(officer).anchorBatch([], [
          { caseId: existing[0].caseId, stage: Stage.DISPUTE_OPENED, commitment: commitment("o"), ref: 0 },
          { caseId: existing[0].caseId, stage: Stage.MATERIALS, commitment: commitment("m"), ref: 0 },
        ]),
      )
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(officer.address);
      expect(await snapshot(ledger, existing.map((e) => e.caseId))).to.deep.equal(before);
    });
  });

  describe("hash suite and format version", function () {
    it("records its suite immutably and reports format version 2", async function () {
      const { ledger } = await loadFixture(deployLedgerFixture);
      expect(await ledger.hashSuite()).to.equal(SUITE.intl);
      expect(ethers.toUtf8String(ethers.getBytes(await ledger.hashSuite()).filter((b) => b !== 0))).to.equal("intl");
      expect(await ledger.formatVersion()).to.equal(2);
    });

    it("deploys with the gm suite", async function () {
      const { registry } = await loadFixture(deployLedgerFixture);
      const gm = await ethers.deployContract("CaseLedger", [await registry.getAddress(), SUITE.gm]);
      expect(await gm.hashSuite()).to.equal(SUITE.gm);
      expect(SUITE.gm).to.equal("0x676d000000000000");
    });

    for (const bad of ["", "INTL", "sha256", "gm\u0000x", "intl\u0000\u0000\u0000\u0001"]) {
      it(`refuses the suite ${JSON.stringify(bad)} (CaseLedgerUnknownSuite)`, async function () {
        const { registry } = await loadFixture(deployLedgerFixture);
        const suite = ethers.zeroPadBytes(ethers.toUtf8Bytes(bad), 8);
        const factory = await ethers.getContractFactory("CaseLedger");
        await expect(factory.deploy(await registry.getAddress(), suite))
          .to.be.revertedWithCustomError(factory, "CaseLedgerUnknownSuite")
          .withArgs(suite);
      });
    }
  });

  describe("anchorRoot (Merkle-root anchoring)", function () {
    it("chains a hall's batches: seq, head, prevBlock; per hall", async function () {
      const { ledger, accepting, home, ids } = await loadFixture(deployLedgerFixture);
      expect(await ledger.batchHeader(ids.accepting)).to.deep.equal([ethers.ZeroHash, 0n, 0n]);
      let h = ethers.ZeroHash;
      let prevBlock = 0n;
      for (let seq = 0; seq < 3; seq++) {
        const root = commitment(`root${seq}`);
        const count = 10 + seq;
        h = batchHead(h, seq, root, count);
        expect(await ledger.computeBatchHead(seq === 0 ? ethers.ZeroHash : (await ledger.batchHeader(ids.accepting)).head, seq, root, count)).to.equal(h);
        expect(await ledger.connect(accepting).anchorRoot.staticCall(root, count)).to.equal(seq);
        await expect(ledger.connect(accepting).anchorRoot(root, count))
          .to.emit(ledger, "BatchAnchored")
          .withArgs(ids.accepting, seq, accepting.address, root, count, h, prevBlock);
        const block = BigInt(await ethers.provider.getBlockNumber());
        expect(await ledger.batchHeader(ids.accepting)).to.deep.equal([h, BigInt(seq + 1), block]);
        prevBlock = block;
        await ethers.provider.send("hardhat_mine", ["0x02"]);
      }
      // another hall has its own chain, starting at seq 0
      const root = commitment("home root");
      await expect(ledger.connect(home).anchorRoot(root, 1))
        .to.emit(ledger, "BatchAnchored")
        .withArgs(ids.home, 0, home.address, root, 1, batchHead(ethers.ZeroHash, 0, root, 1), 0);
      // 76 packed bytes
      expect(ethers.dataLength(ethers.solidityPacked(["bytes32", "uint64", "bytes32", "uint32"], [h, 1, root, 1]))).to.equal(76);
    });

    it("refuses an inactive writer (CaseLedgerInactiveHall) and an empty batch (CaseLedgerInvalidBatch)", async function () {
      const { ledger, registry, accepting, outsider, officer, ids } = await loadFixture(deployLedgerFixture);
      for (const who of [outsider, officer]) {
        await expect(ledger.connect(who).anchorRoot(commitment("r"), 1))
          .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
          .withArgs(who.address);
      }
      await expect(ledger.connect(accepting).anchorRoot(ethers.ZeroHash, 1))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInvalidBatch")
        .withArgs(ids.accepting, ethers.ZeroHash, 1);
      await expect(ledger.connect(accepting).anchorRoot(commitment("r"), 0))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInvalidBatch")
        .withArgs(ids.accepting, commitment("r"), 0);
      await registry.suspendHall(ids.accepting);
      const tx = ledger.connect(accepting).anchorRoot(commitment("r"), 1);
      await expect(tx).to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall").withArgs(accepting.address);
      expect(await ledger.batchHeader(ids.accepting)).to.deep.equal([ethers.ZeroHash, 0n, 0n]);
    });
  });

  describe("anchorRootAt (Merkle mode: the batch's sequence number checked)", function () {
    it("anchors only the hall's next batch; a repeated or skipped seq is refused with both numbers", async function () {
      const { ledger, accepting, home, ids } = await loadFixture(deployLedgerFixture);
      const r0 = commitment("at root0");
      await expect(ledger.connect(accepting).anchorRootAt(1, r0, 5))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerBatchOutOfSequence")
        .withArgs(ids.accepting, 0, 1);
      const h0 = batchHead(ethers.ZeroHash, 0, r0, 5);
      await expect(ledger.connect(accepting).anchorRootAt(0, r0, 5))
        .to.emit(ledger, "BatchAnchored")
        .withArgs(ids.accepting, 0, accepting.address, r0, 5, h0, 0);
      const b0 = BigInt(await ethers.provider.getBlockNumber());
      // the same batch sent again (an unknown outcome, resent) is refused, nothing changes
      await expect(ledger.connect(accepting).anchorRootAt(0, r0, 5))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerBatchOutOfSequence")
        .withArgs(ids.accepting, 1, 0);
      expect(await ledger.batchHeader(ids.accepting)).to.deep.equal([h0, 1n, b0]);
      // anchorRoot and anchorRootAt share the hall's one sequence
      const r1 = commitment("at root1");
      const h1 = batchHead(h0, 1, r1, 7);
      await expect(ledger.connect(accepting).anchorRoot(r1, 7))
        .to.emit(ledger, "BatchAnchored")
        .withArgs(ids.accepting, 1, accepting.address, r1, 7, h1, b0);
      const r2 = commitment("at root2");
      await expect(ledger.connect(accepting).anchorRootAt(2, r2, 1))
        .to.emit(ledger, "BatchAnchored")
        .withArgs(ids.accepting, 2, accepting.address, r2, 1, batchHead(h1, 2, r2, 1), BigInt(await ethers.provider.getBlockNumber()));
      // per hall: another hall starts at 0
      await expect(ledger.connect(home).anchorRootAt(0, r2, 1)).to.emit(ledger, "BatchAnchored");
    });

    it("checks the writer and the batch before the sequence (CaseLedgerInactiveHall, CaseLedgerInvalidBatch)", async function () {
      const { ledger, registry, accepting, outsider, ids } = await loadFixture(deployLedgerFixture);
      await expect(ledger.connect(outsider).anchorRootAt(9, commitment("r"), 1))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(outsider.address);
      await expect(ledger.connect(accepting).anchorRootAt(9, ethers.ZeroHash, 1))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInvalidBatch")
        .withArgs(ids.accepting, ethers.ZeroHash, 1);
      await expect(ledger.connect(accepting).anchorRootAt(0, commitment("r"), 0))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInvalidBatch")
        .withArgs(ids.accepting, commitment("r"), 0);
      await registry.suspendHall(ids.accepting);
      await expect(ledger.connect(accepting).anchorRootAt(0, commitment("r"), 1))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(accepting.address);
      expect(await ledger.batchHeader(ids.accepting)).to.deep.equal([ethers.ZeroHash, 0n, 0n]);
    });
  });

  describe("reading a case by back-links (header.lastBlock, EventAppended.prevBlock)", function () {
    const TOPIC = () => ethers.id("EventAppended(bytes32,uint32,uint8,address,uint32,bytes32,bytes32,uint32,uint64)");

    /** The case's events, read with one-block getLogs walking back from header.lastBlock. */
    async function walkBack(ledger, caseId) {
      const address = await ledger.getAddress();
      const events = [];
      let queries = 1; // caseHeader
      let b = Number((await ledger.caseHeader(caseId)).lastBlock);
      while (b !== 0) {
        const logs = await ethers.provider.getLogs({ address, topics: [TOPIC(), caseId], fromBlock: b, toBlock: b });
        queries += 1;
        expect(logs.length, `block ${b} holds an event of the case`).to.be.greaterThan(0);
        const parsed = logs.map((l) => ({ log: l, ev: ledger.interface.parseLog(l) }));
        parsed.sort((x, y) => x.log.index - y.log.index);
        events.unshift(...parsed.map((x) => [x.log.blockNumber, x.log.index, Number(x.ev.args.index), x.ev.args.head]));
        const lowest = parsed.reduce((a, x) => (Number(x.ev.args.index) < Number(a.ev.args.index) ? x : a));
        const prev = Number(lowest.ev.args.prevBlock);
        expect(prev).to.be.lessThan(b);
        b = prev;
      }
      return { events, queries };
    }

    async function fullScan(ledger, caseId) {
      const logs = await ethers.provider.getLogs({
        address: await ledger.getAddress(),
        topics: [TOPIC(), caseId],
        fromBlock: 0,
        toBlock: "latest",
      });
      return logs.map((l) => {
        const ev = ledger.interface.parseLog(l);
        return [l.blockNumber, l.index, Number(ev.args.index), ev.args.head];
      });
    }

    it("finds exactly the events a full scan finds, in order, with one query per block that holds them", async function () {
      const f = await loadFixture(openedCaseFixture);
      const { ledger, accepting, home, officer, caseId, ids } = f;
      // noise: another case interleaved, empty blocks, several events of the case in one block
      await ledger.connect(accepting).openCase(serialOf(2), ITEM_CODE, HOME_DISTRICT, commitment("other"));
      const other = caseIdOf(ids.accepting, serialOf(2));
      await ethers.provider.send("hardhat_mine", ["0x40"]);
      await ledger.connect(accepting).anchorBatch([], [
        { caseId, stage: Stage.MATERIALS, commitment: commitment("m1"), ref: 0 },
        { caseId: other, stage: Stage.MATERIALS, commitment: commitment("om"), ref: 0 },
        { caseId, stage: Stage.MATERIALS, commitment: commitment("m2"), ref: 0 },
      ]);
      await ethers.provider.send("hardhat_mine", ["0x10"]);
      await ledger.connect(home).appendEvent(caseId, Stage.ACCEPTANCE, commitment("a"), 0);
      // two transactions of the case in one block
      await ethers.provider.send("evm_setAutomine", [false]);
      try {
        await ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("d"), 0);
        await ledger.connect(home).appendEvent(caseId, Stage.PROCESS, commitment("p"), 0);
        await ethers.provider.send("evm_mine", []);
      } finally {
        await ethers.provider.send("evm_setAutomine", [true]);
      }
      await ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r"), 4);
      await ethers.provider.send("hardhat_mine", ["0x08"]);

      const { events, queries } = await walkBack(ledger, caseId);
      const scan = await fullScan(ledger, caseId);
      expect(events).to.deep.equal(scan);
      expect(events.map((e) => e[2])).to.deep.equal([0, 1, 2, 3, 4, 5, 6]);
      expect(events[events.length - 1][3]).to.equal(await ledger.caseHead(caseId));
      const blocks = new Set(events.map((e) => e[0]));
      expect(blocks.size).to.equal(5); // open, batch, acceptance, dispute+process, resolution
      expect(queries).to.equal(1 + blocks.size); // header + one per block, independent of the ~90 blocks of history
    });

    it("a case with one event needs one log query; an unknown case none", async function () {
      const { ledger, caseId } = await loadFixture(openedCaseFixture);
      expect((await walkBack(ledger, caseId)).queries).to.equal(2);
      const unknown = await walkBack(ledger, caseIdOf(ACC, "nope"));
      expect(unknown).to.deep.equal({ events: [], queries: 1 });
    });
  });

  describe("shared test vector (tests/vectors/hashchain/full_lifecycle.json)", function () {
    const vector = JSON.parse(
      fs.readFileSync(path.join(__dirname, "..", "vectors", "hashchain", "full_lifecycle.json"), "utf8"),
    );

    it("is well formed: case_id == keccak256(uint32 accepting hall id ‖ serial), writers are the expected accounts", async function () {
      const signers = await ethers.getSigners();
      expect(vector.halls.accepting.hall_id).to.equal(1);
      expect(caseIdOf(vector.halls.accepting.hall_id, vector.serial)).to.equal(vector.case_id);
      // DISPUTE_RESOLVED names the DISPUTE_OPENED it closes; every other event has ref 0
      for (const e of vector.events) {
        const opened = vector.events.findIndex((x) => x.stage === "DISPUTE_OPENED");
        expect(e.ref, `${e.stage} ref`).to.equal(e.stage === "DISPUTE_RESOLVED" ? opened : 0);
      }
      expect(ethers.getAddress(vector.halls.accepting.account)).to.equal(signers[1].address);
      expect(ethers.getAddress(vector.halls.home.account)).to.equal(signers[2].address);
      expect(ethers.getAddress(vector.dispute_officer)).to.equal(signers[3].address);
      expect(vector.events.map((e) => e.stage)).to.deep.equal(Object.keys(Stage));
      for (const e of vector.events) expect(Stage[e.stage]).to.equal(e.stage_code);
    });

    it("computeHead reproduces every head from prev = case_id", async function () {
      const { ledger } = await loadFixture(deployLedgerFixture);
      let prev = vector.case_id;
      for (const e of vector.events) {
        const h = await ledger.computeHead(prev, e.stage_code, e.commitment, e.writer);
        expect(h, `${e.stage} head (contract)`).to.equal(e.head);
        expect(head(prev, e.stage_code, e.commitment, ethers.getAddress(e.writer)), `${e.stage} head (js)`).to.equal(e.head);
        prev = h;
      }
    });

    it("replays through the real contract with identical heads", async function () {
      const [admin, acc1, acc2, acc3] = await ethers.getSigners();
      const registry = await ethers.deployContract("HallRegistry", [admin.address]);
      const ledger = await ethers.deployContract("CaseLedger", [await registry.getAddress(), SUITE.intl]);
      await registry.registerHall(vector.halls.accepting.account, vector.halls.accepting.district, "accepting", "");
      await registry.registerHall(vector.halls.home.account, vector.halls.home.district, "home", "");
      await registry.grantRole(ROLES.DISPUTE_OFFICER_ROLE, vector.dispute_officer);
      const byAddress = new Map([acc1, acc2, acc3].map((s) => [s.address.toLowerCase(), s]));
      const hallIds = new Map([
        [acc1.address.toLowerCase(), 1],
        [acc2.address.toLowerCase(), 2],
        [acc3.address.toLowerCase(), 0],
      ]);

      const [first, ...rest] = vector.events;
      expect(first.stage).to.equal("INTAKE");
      const opener = byAddress.get(first.writer.toLowerCase());
      await expect(ledger.connect(opener).openCase(vector.serial, ITEM_CODE, vector.halls.home.district, first.commitment))
        .to.emit(ledger, "CaseOpened")
        .withArgs(vector.case_id, 1, vector.halls.home.district, vector.serial, ITEM_CODE)
        .and.to.emit(ledger, "EventAppended")
        .withArgs(vector.case_id, 1, Stage.INTAKE, opener.address, 0, first.commitment, first.head, 0, 0);

      for (const [i, e] of rest.entries()) {
        const w = byAddress.get(e.writer.toLowerCase());
        const prevBlock = Number(await lastBlockOf(ledger, vector.case_id));
        const receipt = await (await ledger.connect(w).appendEvent(vector.case_id, e.stage_code, e.commitment, e.ref)).wait();
        const [log] = appendedLogs(ledger, receipt);
        expect(log).to.deep.equal({
          caseId: vector.case_id,
          hallId: hallIds.get(w.address.toLowerCase()),
          stage: e.stage_code,
          writer: w.address,
          index: i + 1,
          commitment: e.commitment,
          head: e.head,
          ref: e.ref,
          prevBlock,
        });
      }
      const last = vector.events[vector.events.length - 1];
      expect(await ledger.caseHead(vector.case_id)).to.equal(last.head);
      expect(await ledger.eventCount(vector.case_id)).to.equal(vector.events.length);
      const hdr = await ledger.caseHeader(vector.case_id);
      expect(hdr.phase).to.equal(Phase.Delivered);
      expect(await ledger.openDisputesOf(vector.case_id, vector.dispute_officer)).to.equal(0);
      expect(hdr.homeDistrict).to.equal(vector.halls.home.district);
    });
  });

  describe("gas report", function () {
    // Measures gasUsed from receipts; prints a table and writes build/gas-report.json.
    // Only relative claims are asserted (batching amortises the 21000 base cost and the registry lookup).
    const BATCH_SIZES = [1, 10, 50, 100];

    it("measures openCase, appendEvent, anchorBatch per case / per event, disputes and anchorRoot", async function () {
      this.timeout(120000);
      const { ledger, accepting, officer } = await loadFixture(deployLedgerFixture);
      let serialNo = 0;
      const nextSerial = () => serialOf(++serialNo, "GAS-350502-01-20261123");
      const gasOf = async (txPromise) => Number((await (await txPromise).wait()).gasUsed);

      // single openCase (first event of a case), then a single later event (MATERIALS on it)
      const s0 = nextSerial();
      const openCaseGas = await gasOf(ledger.connect(accepting).openCase(s0, ITEM_CODE, HOME_DISTRICT, commitment(s0)));
      const appendEventGas = await gasOf(
        ledger.connect(accepting).appendEvent(caseIdOf(ACC, s0), Stage.MATERIALS, commitment(`${s0}:m`), 0),
      );
      // a dispute opened and resolved by its opener (a non-hall officer)
      const disputeOpenGas = await gasOf(
        ledger.connect(officer).appendEvent(caseIdOf(ACC, s0), Stage.DISPUTE_OPENED, commitment(`${s0}:d`), 0),
      );
      const disputeResolveGas = await gasOf(
        ledger.connect(officer).appendEvent(caseIdOf(ACC, s0), Stage.DISPUTE_RESOLVED, commitment(`${s0}:r`), 2),
      );
      // Merkle-root anchoring: the first batch of a hall, then a later one
      const anchorRootFirstGas = await gasOf(ledger.connect(accepting).anchorRoot(commitment("root0"), 1000));
      const anchorRootGas = await gasOf(ledger.connect(accepting).anchorRoot(commitment("root1"), 1000));
      const anchorRootAtGas = await gasOf(ledger.connect(accepting).anchorRootAt(2, commitment("root2"), 10000));

      const batches = [];
      for (const n of BATCH_SIZES) {
        const opens = Array.from({ length: n }, () => {
          const serial = nextSerial();
          return { serial, itemCode: ITEM_CODE, homeDistrict: HOME_DISTRICT, intakeCommitment: commitment(serial) };
        });
        const opensGas = await gasOf(ledger.connect(accepting).anchorBatch(opens, []));
        // n appends across n distinct existing cases (same MATERIALS-on-Opened step as the single append)
        const appends = opens.map((o) => ({ caseId: caseIdOf(ACC, o.serial), stage: Stage.MATERIALS, commitment: commitment(`${o.serial}:m`), ref: 0 }));
        const appendsGas = await gasOf(ledger.connect(accepting).anchorBatch([], appends));
        for (const o of opens) expect(await ledger.eventCount(caseIdOf(ACC, o.serial))).to.equal(2);
        batches.push({
          size: n,
          opens_total: opensGas,
          opens_per_event: Math.round(opensGas / n),
          appends_total: appendsGas,
          appends_per_event: Math.round(appendsGas / n),
        });
      }

      const report = {
        generated_by: "tests/contracts/CaseLedger.test.js (gas report)",
        solc: hre.config.solidity.compilers[0].version,
        optimizer: hre.config.solidity.compilers[0].settings.optimizer,
        evmVersion: hre.config.solidity.compilers[0].settings.evmVersion,
        single: {
          openCase: openCaseGas,
          appendEvent: appendEventGas,
          disputeOpened: disputeOpenGas,
          disputeResolved: disputeResolveGas,
          anchorRootFirst: anchorRootFirstGas,
          anchorRoot: anchorRootGas,
          anchorRootAt: anchorRootAtGas,
        },
        anchorBatch: batches,
      };

      const rows = [
        ["openCase (INTAKE, 1 tx)", "1", String(openCaseGas), String(openCaseGas)],
        ["appendEvent (MATERIALS, 1 tx)", "1", String(appendEventGas), String(appendEventGas)],
        ["appendEvent (DISPUTE_OPENED, 1 tx)", "1", String(disputeOpenGas), String(disputeOpenGas)],
        ["appendEvent (DISPUTE_RESOLVED, 1 tx)", "1", String(disputeResolveGas), String(disputeResolveGas)],
        ["anchorRoot (first batch of a hall)", "1000", String(anchorRootFirstGas), String(Math.round(anchorRootFirstGas / 1000))],
        ["anchorRoot (later batch)", "1000", String(anchorRootGas), String(Math.round(anchorRootGas / 1000))],
        ["anchorRootAt (later batch, Merkle mode)", "10000", String(anchorRootAtGas), String(Math.round(anchorRootAtGas / 10000))],
        ...batches.flatMap((b) => [
          ["anchorBatch opens", String(b.size), String(b.opens_total), String(b.opens_per_event)],
          ["anchorBatch appends", String(b.size), String(b.appends_total), String(b.appends_per_event)],
        ]),
      ];
      const header = ["operation", "events", "gasUsed", "gas/event"];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      const fmt = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
      console.log(`\n      ${fmt(header)}\n      ${widths.map((w) => "-".repeat(w)).join("  ")}`);
      for (const r of rows) console.log(`      ${fmt(r)}`);

      const out = path.join(hre.config.paths.root, "build", "gas-report.json");
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, JSON.stringify(report, null, 2) + "\n");
      console.log(`      written to ${path.relative(hre.config.paths.root, out)}\n`);

      // batching pays off from 10 items on (a batch of 1 carries extra ABI array overhead)
      for (const b of batches.filter((x) => x.size >= 10)) {
        expect(b.appends_per_event, `appends per event, batch of ${b.size}`).to.be.lessThan(appendEventGas);
        expect(b.opens_per_event, `opens per event, batch of ${b.size}`).to.be.lessThan(openCaseGas);
      }
      // and per-event gas does not grow with the batch size
      const big = batches[batches.length - 1];
      const ten = batches.find((b) => b.size === 10);
      expect(big.appends_per_event).to.be.at.most(ten.appends_per_event);
    });
  });

  async function nextHead(f, caseId, stage, c, w) {
    return head(await f.ledger.caseHead(caseId), stage, c, w.address);
  }
});
