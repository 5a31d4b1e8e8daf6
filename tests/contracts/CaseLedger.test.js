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
  ACCEPTING_DISTRICT,
  HOME_DISTRICT,
  OTHER_DISTRICT,
  ITEM_CODE,
  commitment,
  caseIdOf,
  head,
  serialOf,
  deployLedgerFixture,
  openedCaseFixture,
  writerFor,
  driveTo,
} = require("./helpers");

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
    }));
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
      const id = caseIdOf("nope");
      const h = await ledger.caseHeader(id);
      expect(h.head).to.equal(ethers.ZeroHash);
      expect(h.eventCount).to.equal(0);
      expect(h.phase).to.equal(Phase.None);
      expect(h.openDisputes).to.equal(0);
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
      const caseId = caseIdOf(serial);
      const c0 = commitment("intake");
      const h0 = head(caseId, Stage.INTAKE, c0, accepting.address);
      await expect(ledger.connect(accepting).openCase(serial, ITEM_CODE, HOME_DISTRICT, c0))
        .to.emit(ledger, "CaseOpened")
        .withArgs(caseId, ids.accepting, HOME_DISTRICT, serial, ITEM_CODE)
        .and.to.emit(ledger, "EventAppended")
        .withArgs(caseId, ids.accepting, Stage.INTAKE, accepting.address, 0, c0, h0);
      await expectHeader(ledger, caseId, {
        head: h0,
        eventCount: 1n,
        phase: BigInt(Phase.Opened),
        openDisputes: 0n,
        homeDistrict: BigInt(HOME_DISTRICT),
        acceptingHall: BigInt(ids.accepting),
        itemCode: ITEM_CODE,
      });
      expect(await ledger.caseHead(caseId)).to.equal(h0);
      expect(await ledger.eventCount(caseId)).to.equal(1);
    });

    it("returns keccak256(bytes(serial)) as the case id", async function () {
      const { ledger, accepting } = await loadFixture(deployLedgerFixture);
      const serial = serialOf(42);
      expect(
        await ledger.connect(accepting).openCase.staticCall(serial, ITEM_CODE, HOME_DISTRICT, commitment("i")),
      ).to.equal(caseIdOf(serial));
    });

    it("can be opened by any active hall, for any valid home district", async function () {
      const { ledger, foreign, home2, ids } = await loadFixture(deployLedgerFixture);
      await expect(ledger.connect(foreign).openCase(serialOf(1), ITEM_CODE, 100000, commitment("a")))
        .to.emit(ledger, "CaseOpened")
        .withArgs(caseIdOf(serialOf(1)), ids.foreign, 100000, serialOf(1), ITEM_CODE);
      await expect(ledger.connect(home2).openCase(serialOf(2), ITEM_CODE, 999999, commitment("b")))
        .to.emit(ledger, "CaseOpened")
        .withArgs(caseIdOf(serialOf(2)), ids.home2, 999999, serialOf(2), ITEM_CODE);
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
      expect(await ledger.eventCount(caseIdOf(serialOf(1)))).to.equal(0);
      await registry.reactivateHall(ids.accepting);
      await expect(ledger.connect(accepting).openCase(serialOf(1), ITEM_CODE, HOME_DISTRICT, commitment("i")))
        .to.emit(ledger, "CaseOpened")
        .withArgs(caseIdOf(serialOf(1)), ids.accepting, HOME_DISTRICT, serialOf(1), ITEM_CODE);
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
      await expect(ledger.connect(accepting).appendEvent(caseId, Stage.MATERIALS, commitment("m")))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(accepting.address);

      // new key continues the same hall's case (same hall id), chained on the old head
      const c1 = commitment("m1");
      const h1 = head(head0, Stage.MATERIALS, c1, newKey.address);
      await expect(ledger.connect(newKey).appendEvent(caseId, Stage.MATERIALS, c1))
        .to.emit(ledger, "EventAppended")
        .withArgs(caseId, ids.accepting, Stage.MATERIALS, newKey.address, 1, c1, h1);
      expect(await ledger.caseHead(caseId)).to.equal(h1);
      expect(await ledger.eventCount(caseId)).to.equal(2);

      // and opens new cases under the same hall id
      await expect(ledger.connect(newKey).openCase(serialOf(2), ITEM_CODE, HOME_DISTRICT, commitment("x")))
        .to.emit(ledger, "CaseOpened")
        .withArgs(caseIdOf(serialOf(2)), ids.accepting, HOME_DISTRICT, serialOf(2), ITEM_CODE);
    });

    it("refuses a duplicate case (CaseLedgerCaseExists), whoever opens it", async function () {
      const { ledger, accepting, home, caseId, serial, head0 } = await loadFixture(openedCaseFixture);
      for (const who of [accepting, home]) {
        await expect(ledger.connect(who).openCase(serial, ITEM_CODE, HOME_DISTRICT, commitment("again")))
          .to.be.revertedWithCustomError(ledger, "CaseLedgerCaseExists")
          .withArgs(caseId);
      }
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
        .withArgs(caseIdOf(ok), 1, HOME_DISTRICT, ok, ITEM_CODE);
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
        .withArgs(caseIdOf(serialOf(1)));
      expect((await ledger.caseHeader(caseIdOf(serialOf(1)))).phase).to.equal(Phase.None);
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
      await expect(ledger.connect(accepting).appendEvent(caseId, Stage.MATERIALS, c1))
        .to.emit(ledger, "EventAppended")
        .withArgs(caseId, ids.accepting, Stage.MATERIALS, accepting.address, 1, c1, h1);
      await expectHeader(ledger, caseId, {
        head: h1,
        eventCount: 2n,
        phase: BigInt(Phase.MaterialsRecorded),
        homeDistrict: BigInt(HOME_DISTRICT),
        acceptingHall: BigInt(ids.accepting),
        itemCode: ITEM_CODE,
      });
    });

    it("refuses an unknown case (CaseLedgerUnknownCase)", async function () {
      const { ledger, accepting, officer } = await loadFixture(openedCaseFixture);
      const unknown = caseIdOf("no-such-case");
      for (const [who, stage] of [
        [accepting, Stage.MATERIALS],
        [officer, Stage.DISPUTE_OPENED],
        [accepting, Stage.INTAKE],
      ]) {
        await expect(ledger.connect(who).appendEvent(unknown, stage, commitment("x")))
          .to.be.revertedWithCustomError(ledger, "CaseLedgerUnknownCase")
          .withArgs(unknown);
      }
    });

    it("refuses a zero commitment (CaseLedgerZeroCommitment)", async function () {
      const { ledger, accepting, officer, caseId } = await loadFixture(openedCaseFixture);
      await expect(ledger.connect(accepting).appendEvent(caseId, Stage.MATERIALS, ethers.ZeroHash))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerZeroCommitment")
        .withArgs(caseId);
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_OPENED, ethers.ZeroHash))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerZeroCommitment")
        .withArgs(caseId);
    });

    it("refuses INTAKE via appendEvent (CaseLedgerIntakeByAppend), even from the accepting hall", async function () {
      const { ledger, accepting, home, caseId } = await loadFixture(openedCaseFixture);
      for (const who of [accepting, home]) {
        await expect(ledger.connect(who).appendEvent(caseId, Stage.INTAKE, commitment("again")))
          .to.be.revertedWithCustomError(ledger, "CaseLedgerIntakeByAppend")
          .withArgs(caseId);
      }
      expect(await ledger.eventCount(caseId)).to.equal(1);
    });

    it("refuses an out-of-range stage value (ABI enum check)", async function () {
      const { ledger, accepting, caseId } = await loadFixture(openedCaseFixture);
      const data = ledger.interface.encodeFunctionData("appendEvent", [caseId, 0, commitment("x")]);
      // patch the stage word to 8
      const bad = data.slice(0, 10 + 64) + ethers.zeroPadValue("0x08", 32).slice(2) + data.slice(10 + 128);
      await expect(accepting.sendTransaction({ to: await ledger.getAddress(), data: bad })).to.be.reverted;
    });

    it("refuses lifecycle stages from an unregistered account (CaseLedgerInactiveHall)", async function () {
      const { ledger, outsider, caseId } = await loadFixture(openedCaseFixture);
      for (const stage of LIFECYCLE_APPENDS) {
        await expect(ledger.connect(outsider).appendEvent(caseId, stage, commitment("x")))
          .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
          .withArgs(outsider.address);
      }
    });

    it("refuses lifecycle stages from a dispute officer that is not a hall (CaseLedgerInactiveHall)", async function () {
      const { ledger, officer, caseId } = await loadFixture(openedCaseFixture);
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.MATERIALS, commitment("x")))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(officer.address);
    });

    it("refuses a suspended accepting hall; a reactivated one continues", async function () {
      const { ledger, registry, accepting, ids, caseId } = await loadFixture(openedCaseFixture);
      await registry.suspendHall(ids.accepting);
      await expect(ledger.connect(accepting).appendEvent(caseId, Stage.MATERIALS, commitment("m")))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(accepting.address);
      await registry.reactivateHall(ids.accepting);
      await expect(ledger.connect(accepting).appendEvent(caseId, Stage.MATERIALS, commitment("m"))).to.emit(
        ledger,
        "EventAppended",
      );
    });

    it("refuses a suspended home hall while another home-district hall continues", async function () {
      const f = await loadFixture(openedCaseFixture);
      const { ledger, registry, home, home2, ids, caseId } = f;
      await driveTo(f, caseId, Phase.MaterialsRecorded);
      await registry.suspendHall(ids.home);
      await expect(ledger.connect(home).appendEvent(caseId, Stage.ACCEPTANCE, commitment("a")))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(home.address);
      const h2 = await nextHead(f, caseId, Stage.ACCEPTANCE, commitment("a"), home2);
      await expect(ledger.connect(home2).appendEvent(caseId, Stage.ACCEPTANCE, commitment("a")))
        .to.emit(ledger, "EventAppended")
        .withArgs(caseId, ids.home2, Stage.ACCEPTANCE, home2.address, 2, commitment("a"), h2);
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
          await expect(ledger.connect(who).appendEvent(caseId, stage, commitment("x")))
            .to.be.revertedWithCustomError(ledger, "CaseLedgerUnauthorizedWriter")
            .withArgs(who.address, caseId, stage);
        }
        expect((await ledger.caseHeader(caseId)).toArray()).to.deep.equal(beforeArr);
        // the accepting hall itself may
        await expect(ledger.connect(f.accepting).appendEvent(caseId, stage, commitment("ok")))
          .to.emit(ledger, "EventAppended")
          .withArgs(caseId, f.ids.accepting, stage, f.accepting.address, before.eventCount, commitment("ok"), head(before.head, stage, commitment("ok"), f.accepting.address));
      });
    }

    for (const stage of [Stage.ACCEPTANCE, Stage.PROCESS, Stage.RESULT]) {
      it(`${StageName[stage]} by a hall of another district -> CaseLedgerUnauthorizedWriter; any home-district hall may`, async function () {
        const f = await loadFixture(openedCaseFixture);
        const { ledger, accepting, acceptingB, foreign, home, home2, ids, caseId } = f;
        await driveTo(f, caseId, stage === Stage.ACCEPTANCE ? Phase.MaterialsRecorded : Phase.Accepted);
        for (const who of [accepting, acceptingB, foreign]) {
          await expect(ledger.connect(who).appendEvent(caseId, stage, commitment("x")))
            .to.be.revertedWithCustomError(ledger, "CaseLedgerUnauthorizedWriter")
            .withArgs(who.address, caseId, stage);
        }
        // a SECOND hall of the home district is allowed, as is the first
        const writers = stage === Stage.PROCESS ? [home2, home] : [home2];
        for (const who of writers) {
          const c = commitment(`ok:${who.address}`);
          const prev = await ledger.caseHead(caseId);
          const n = await ledger.eventCount(caseId);
          await expect(ledger.connect(who).appendEvent(caseId, stage, c))
            .to.emit(ledger, "EventAppended")
            .withArgs(caseId, who === home ? ids.home : ids.home2, stage, who.address, n, c, head(prev, stage, c, who.address));
        }
      });
    }

    it("a hall that is both accepting hall and home-district hall may write every lifecycle stage", async function () {
      const { ledger, accepting, acceptingB, ids } = await loadFixture(deployLedgerFixture);
      const serial = serialOf(7);
      const caseId = caseIdOf(serial);
      await ledger.connect(accepting).openCase(serial, ITEM_CODE, ACCEPTING_DISTRICT, commitment("i"));
      let h = head(caseId, Stage.INTAKE, commitment("i"), accepting.address);
      for (const stage of [Stage.MATERIALS, Stage.ACCEPTANCE, Stage.PROCESS, Stage.RESULT, Stage.DELIVERY]) {
        h = head(h, stage, commitment(`s${stage}`), accepting.address);
        await expect(ledger.connect(accepting).appendEvent(caseId, stage, commitment(`s${stage}`)))
          .to.emit(ledger, "EventAppended")
          .withArgs(caseId, ids.accepting, stage, accepting.address, stage, commitment(`s${stage}`), h);
      }
      expect((await ledger.caseHeader(caseId)).phase).to.equal(Phase.Delivered);
      // the other hall of that district could have written ACCEPTANCE etc., never MATERIALS/DELIVERY
      await ledger.connect(accepting).openCase(serialOf(8), ITEM_CODE, ACCEPTING_DISTRICT, commitment("i"));
      await expect(ledger.connect(acceptingB).appendEvent(caseIdOf(serialOf(8)), Stage.MATERIALS, commitment("m")))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerUnauthorizedWriter")
        .withArgs(acceptingB.address, caseIdOf(serialOf(8)), Stage.MATERIALS);
    });

    it("checks the writer before the order (unauthorized wins over out-of-order)", async function () {
      const { ledger, foreign, caseId } = await loadFixture(openedCaseFixture);
      await expect(ledger.connect(foreign).appendEvent(caseId, Stage.RESULT, commitment("x")))
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
            await expect(ledger.connect(w).appendEvent(caseId, stage, commitment("x")))
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
            await expect(ledger.connect(w).appendEvent(caseId, stage, c))
              .to.emit(ledger, "EventAppended")
              .withArgs(caseId, ethers.toNumber((await f.registry.hallOf(w.address))[0]), stage, w.address, n, c, head(h, stage, c, w.address));
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
        await expect(ledger.connect(writerFor(f, stage)).appendEvent(caseId, stage, commitment("late")))
          .to.be.revertedWithCustomError(ledger, "CaseLedgerOutOfOrder")
          .withArgs(caseId, stage, Phase.Decided);
      }
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("d"))).to.emit(ledger, "EventAppended");
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r"))).to.emit(ledger, "EventAppended");
      await expect(ledger.connect(accepting).appendEvent(caseId, Stage.DELIVERY, commitment("deliv"))).to.emit(ledger, "EventAppended");
      // after DELIVERY: nothing but disputes
      for (const stage of LIFECYCLE_APPENDS) {
        await expect(ledger.connect(writerFor(f, stage)).appendEvent(caseId, stage, commitment("later")))
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
        [Stage.DISPUTE_RESOLVED, f.officer],
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
      for (const [i, [stage, w]] of plan.entries()) {
        const c = commitment(`plan${i}`);
        h = head(h, stage, c, w.address);
        await expect(ledger.connect(w).appendEvent(caseId, stage, c))
          .to.emit(ledger, "EventAppended")
          .withArgs(caseId, hallIdOf.get(w.address), stage, w.address, i + 1, c, h);
      }
      await expectHeader(ledger, caseId, {
        head: h,
        eventCount: BigInt(plan.length + 1),
        phase: BigInt(Phase.Delivered),
        openDisputes: 0n,
      });
    });
  });

  describe("appendEvent: disputes", function () {
    for (const phase of [Phase.Opened, Phase.MaterialsRecorded, Phase.Accepted, Phase.Decided, Phase.Delivered]) {
      it(`a dispute officer (not a hall) may open and resolve a dispute in phase ${PhaseName[phase]}`, async function () {
        const f = await loadFixture(openedCaseFixture);
        const { ledger, registry, officer, caseId } = f;
        expect(await registry.hallIdOf(officer.address)).to.equal(0);
        let h = await driveTo(f, caseId, phase);
        let n = await ledger.eventCount(caseId);
        const c1 = commitment("open");
        h = head(h, Stage.DISPUTE_OPENED, c1, officer.address);
        await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_OPENED, c1))
          .to.emit(ledger, "EventAppended")
          .withArgs(caseId, 0, Stage.DISPUTE_OPENED, officer.address, n, c1, h);
        await expectHeader(ledger, caseId, { phase: BigInt(phase), openDisputes: 1n, head: h });
        const c2 = commitment("resolve");
        h = head(h, Stage.DISPUTE_RESOLVED, c2, officer.address);
        await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_RESOLVED, c2))
          .to.emit(ledger, "EventAppended")
          .withArgs(caseId, 0, Stage.DISPUTE_RESOLVED, officer.address, n + 1n, c2, h);
        await expectHeader(ledger, caseId, { phase: BigInt(phase), openDisputes: 0n, head: h, eventCount: n + 2n });
      });
    }

    for (const stage of [Stage.DISPUTE_OPENED, Stage.DISPUTE_RESOLVED]) {
      it(`${StageName[stage]} without DISPUTE_OFFICER_ROLE -> CaseLedgerUnauthorizedWriter`, async function () {
        const f = await loadFixture(openedCaseFixture);
        const { ledger, accepting, home, outsider, admin, caseId } = f;
        if (stage === Stage.DISPUTE_RESOLVED) {
          await ledger.connect(f.officer).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("d"));
        }
        for (const who of [accepting, home, outsider, admin]) {
          await expect(ledger.connect(who).appendEvent(caseId, stage, commitment("x")))
            .to.be.revertedWithCustomError(ledger, "CaseLedgerUnauthorizedWriter")
            .withArgs(who.address, caseId, stage);
        }
      });
    }

    it("DISPUTE_RESOLVED with no open dispute -> CaseLedgerNoOpenDispute", async function () {
      const { ledger, officer, caseId } = await loadFixture(openedCaseFixture);
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r")))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerNoOpenDispute")
        .withArgs(caseId);
      await ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("o"));
      await ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r"));
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r2")))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerNoOpenDispute")
        .withArgs(caseId);
    });

    it("counts several open disputes", async function () {
      const { ledger, officer, caseId } = await loadFixture(openedCaseFixture);
      for (let i = 0; i < 3; i++) await ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment(`o${i}`));
      expect((await ledger.caseHeader(caseId)).openDisputes).to.equal(3);
      for (let i = 0; i < 3; i++) await ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment(`r${i}`));
      expect((await ledger.caseHeader(caseId)).openDisputes).to.equal(0);
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r")))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerNoOpenDispute")
        .withArgs(caseId);
    });

    it("refuses a 256th open dispute (CaseLedgerTooManyDisputes)", async function () {
      const { ledger, officer, caseId } = await loadFixture(openedCaseFixture);
      const appends = Array.from({ length: 255 }, (_, i) => ({
        caseId,
        stage: Stage.DISPUTE_OPENED,
        commitment: commitment(`d${i}`),
      }));
      await ledger.connect(officer).anchorBatch([], appends);
      expect((await ledger.caseHeader(caseId)).openDisputes).to.equal(255);
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("one more")))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerTooManyDisputes")
        .withArgs(caseId);
      // resolving still works, and then a new one may be opened
      await ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r"));
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("again"))).to.emit(ledger, "EventAppended");
      expect((await ledger.caseHeader(caseId)).openDisputes).to.equal(255);
    });

    it("disputes do not block the lifecycle", async function () {
      const f = await loadFixture(openedCaseFixture);
      const { ledger, officer, caseId } = f;
      await ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("o"));
      await driveTo(f, caseId, Phase.Delivered);
      await expectHeader(ledger, caseId, { phase: BigInt(Phase.Delivered), openDisputes: 1n });
    });

    it("a hall key holding DISPUTE_OFFICER_ROLE may write disputes (with its hall id)", async function () {
      const { ledger, registry, home, ids, caseId, head0 } = await loadFixture(openedCaseFixture);
      await registry.grantRole(ROLES.DISPUTE_OFFICER_ROLE, home.address);
      const c = commitment("o");
      await expect(ledger.connect(home).appendEvent(caseId, Stage.DISPUTE_OPENED, c))
        .to.emit(ledger, "EventAppended")
        .withArgs(caseId, ids.home, Stage.DISPUTE_OPENED, home.address, 1, c, head(head0, Stage.DISPUTE_OPENED, c, home.address));
    });

    it("a suspended hall holding DISPUTE_OFFICER_ROLE is refused (CaseLedgerInactiveHall)", async function () {
      const { ledger, registry, home, ids, caseId } = await loadFixture(openedCaseFixture);
      await registry.grantRole(ROLES.DISPUTE_OFFICER_ROLE, home.address);
      await registry.suspendHall(ids.home);
      await expect(ledger.connect(home).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("o")))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(home.address);
    });

    it("the dispute role follows a rotated hall key", async function () {
      const { ledger, registry, home, spare, ids, caseId } = await loadFixture(openedCaseFixture);
      await registry.grantRole(ROLES.DISPUTE_OFFICER_ROLE, home.address);
      await ledger.connect(home).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("o"));
      const newKey = spare[0];
      await registry.rotateHallKey(ids.home, newKey.address);
      const hr = head(await ledger.caseHead(caseId), Stage.DISPUTE_RESOLVED, commitment("r"), newKey.address);
      // old key: no hall, no role any more
      await expect(ledger.connect(home).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r")))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerUnauthorizedWriter")
        .withArgs(home.address, caseId, Stage.DISPUTE_RESOLVED);
      await expect(ledger.connect(newKey).appendEvent(caseId, Stage.DISPUTE_RESOLVED, commitment("r")))
        .to.emit(ledger, "EventAppended")
        .withArgs(caseId, ids.home, Stage.DISPUTE_RESOLVED, newKey.address, 2, commitment("r"), hr);
    });

    it("a revoked dispute officer is refused", async function () {
      const { ledger, registry, officer, caseId } = await loadFixture(openedCaseFixture);
      await registry.revokeRole(ROLES.DISPUTE_OFFICER_ROLE, officer.address);
      await expect(ledger.connect(officer).appendEvent(caseId, Stage.DISPUTE_OPENED, commitment("o")))
        .to.be.revertedWithCustomError(ledger, "CaseLedgerUnauthorizedWriter")
        .withArgs(officer.address, caseId, Stage.DISPUTE_OPENED);
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
        await f.ledger.connect(f.accepting).openCase(serial, ITEM_CODE, HOME_DISTRICT, c);
        existing.push({ serial, caseId: caseIdOf(serial), head: head(caseIdOf(serial), Stage.INTAKE, c, f.accepting.address) });
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
        ...existing.map((e, i) => ({ caseId: e.caseId, stage: Stage.MATERIALS, commitment: commitment(`m-e${i}`) })),
        ...opens.map((o, i) => ({ caseId: caseIdOf(o.serial), stage: Stage.MATERIALS, commitment: commitment(`m-n${i}`) })),
        // two more on the same case in one batch: heads must chain inside the batch
        { caseId: existing[0].caseId, stage: Stage.MATERIALS, commitment: commitment("m-e0-2") },
        { caseId: caseIdOf(opens[0].serial), stage: Stage.MATERIALS, commitment: commitment("m-n0-2") },
      ];
      const tx = await ledger.connect(accepting).anchorBatch(opens, appends);
      const receipt = await tx.wait();

      // expected log stream
      const heads = new Map(existing.map((e) => [e.caseId, e.head]));
      const counts = new Map(existing.map((e) => [e.caseId, 1]));
      const expected = [];
      for (const o of opens) {
        const id = caseIdOf(o.serial);
        const h = head(id, Stage.INTAKE, o.intakeCommitment, accepting.address);
        heads.set(id, h);
        counts.set(id, 1);
        expected.push({ caseId: id, hallId: ids.accepting, stage: Stage.INTAKE, writer: accepting.address, index: 0, commitment: o.intakeCommitment, head: h });
        await expect(tx)
          .to.emit(ledger, "CaseOpened")
          .withArgs(id, ids.accepting, o.homeDistrict, o.serial, o.itemCode);
      }
      for (const a of appends) {
        const h = head(heads.get(a.caseId), a.stage, a.commitment, accepting.address);
        const index = counts.get(a.caseId);
        heads.set(a.caseId, h);
        counts.set(a.caseId, index + 1);
        expected.push({ caseId: a.caseId, hallId: ids.accepting, stage: a.stage, writer: accepting.address, index, commitment: a.commitment, head: h });
      }
      expect(appendedLogs(ledger, receipt)).to.deep.equal(expected);

      for (const [id, h] of heads) {
        expect(await ledger.caseHead(id)).to.equal(h);
        expect(await ledger.eventCount(id)).to.equal(counts.get(id));
        expect((await ledger.caseHeader(id)).phase).to.equal(Phase.MaterialsRecorded);
      }
      for (const o of opens) {
        await expectHeader(ledger, caseIdOf(o.serial), {
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
        existing.map((e) => ({ caseId: e.caseId, stage: Stage.MATERIALS, commitment: commitment("m") })),
      );
      const appends = [];
      for (const e of existing) {
        appends.push({ caseId: e.caseId, stage: Stage.ACCEPTANCE, commitment: commitment(`a${e.serial}`) });
        appends.push({ caseId: e.caseId, stage: Stage.PROCESS, commitment: commitment(`p${e.serial}`) });
        appends.push({ caseId: e.caseId, stage: Stage.RESULT, commitment: commitment(`r${e.serial}`) });
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
        ...existing.map((e) => ({ caseId: e.caseId, stage: Stage.DISPUTE_OPENED, commitment: commitment("o") })),
        { caseId: existing[1].caseId, stage: Stage.DISPUTE_RESOLVED, commitment: commitment("r") },
      ];
      const receipt = await (await ledger.connect(officer).anchorBatch([], appends)).wait();
      expect(appendedLogs(ledger, receipt).map((l) => [l.hallId, l.stage])).to.deep.equal([
        [0, Stage.DISPUTE_OPENED],
        [0, Stage.DISPUTE_OPENED],
        [0, Stage.DISPUTE_OPENED],
        [0, Stage.DISPUTE_RESOLVED],
      ]);
      expect((await ledger.caseHeader(existing[0].caseId)).openDisputes).to.equal(1);
      expect((await ledger.caseHeader(existing[1].caseId)).openDisputes).to.equal(0);
    });

    it("mixes lifecycle and dispute items for a hall that is also a dispute officer", async function () {
      const { ledger, registry, accepting, existing } = await loadFixture(batchFixture);
      await registry.grantRole(ROLES.DISPUTE_OFFICER_ROLE, accepting.address);
      await ledger.connect(accepting).anchorBatch([], [
        { caseId: existing[0].caseId, stage: Stage.DISPUTE_OPENED, commitment: commitment("o") },
        { caseId: existing[0].caseId, stage: Stage.MATERIALS, commitment: commitment("m") },
        { caseId: existing[1].caseId, stage: Stage.DISPUTE_OPENED, commitment: commitment("o") },
        { caseId: existing[0].caseId, stage: Stage.DISPUTE_RESOLVED, commitment: commitment("r") },
      ]);
      await expectHeader(ledger, existing[0].caseId, { eventCount: 4n, openDisputes: 0n, phase: BigInt(Phase.MaterialsRecorded) });
      await expectHeader(ledger, existing[1].caseId, { eventCount: 2n, openDisputes: 1n });
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
        appends: [{ caseId: f.existing[2].caseId, stage: Stage.DELIVERY, commitment: commitment("bad") }],
        error: ["CaseLedgerOutOfOrder", [f.existing[2].caseId, Stage.DELIVERY, Phase.MaterialsRecorded]],
        // existing[2] got MATERIALS earlier in this batch, so its phase is MaterialsRecorded at that point
      }),
      "an append to an unknown case": (f) => ({
        appends: [{ caseId: caseIdOf("ghost"), stage: Stage.MATERIALS, commitment: commitment("bad") }],
        error: ["CaseLedgerUnknownCase", [caseIdOf("ghost")]],
      }),
      "an unauthorized append": (f) => ({
        appends: [{ caseId: f.existing[0].caseId, stage: Stage.ACCEPTANCE, commitment: commitment("bad") }],
        error: ["CaseLedgerUnauthorizedWriter", [f.accepting.address, f.existing[0].caseId, Stage.ACCEPTANCE]],
      }),
      "a zero commitment": (f) => ({
        appends: [{ caseId: f.existing[0].caseId, stage: Stage.MATERIALS, commitment: ethers.ZeroHash }],
        error: ["CaseLedgerZeroCommitment", [f.existing[0].caseId]],
      }),
      "an INTAKE append": (f) => ({
        appends: [{ caseId: caseIdOf(f.opens[0].serial), stage: Stage.INTAKE, commitment: commitment("bad") }],
        error: ["CaseLedgerIntakeByAppend", [caseIdOf(f.opens[0].serial)]],
      }),
      "a dispute without the role": (f) => ({
        appends: [{ caseId: f.existing[0].caseId, stage: Stage.DISPUTE_OPENED, commitment: commitment("bad") }],
        error: ["CaseLedgerUnauthorizedWriter", [f.accepting.address, f.existing[0].caseId, Stage.DISPUTE_OPENED]],
      }),
      "a duplicate open inside the batch": (f) => ({
        opens: [{ ...f.opens[1], intakeCommitment: commitment("dup") }],
        error: ["CaseLedgerCaseExists", [caseIdOf(f.opens[1].serial)]],
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
        error: ["CaseLedgerZeroCommitment", [caseIdOf("X-2")]],
      }),
    };

    for (const [label, make] of Object.entries(BAD_ITEMS)) {
      it(`reverts the whole batch on ${label}, changing nothing`, async function () {
        const f = await loadFixture(batchFixture);
        const { ledger, accepting, existing, opens } = f;
        const bad = make(f);
        const goodAppends = [
          ...existing.map((e, i) => ({ caseId: e.caseId, stage: Stage.MATERIALS, commitment: commitment(`g${i}`) })),
          ...opens.map((o, i) => ({ caseId: caseIdOf(o.serial), stage: Stage.MATERIALS, commitment: commitment(`gn${i}`) })),
        ];
        const allOpens = [...opens, ...(bad.opens || [])];
        const allAppends = [...goodAppends, ...(bad.appends || [])];
        const allIds = [...existing.map((e) => e.caseId), ...allOpens.map((o) => caseIdOf(o.serial))];
        const before = await snapshot(ledger, allIds);
        const [name, args] = bad.error;
        await expect(ledger.connect(accepting).anchorBatch(allOpens, allAppends))
          .to.be.revertedWithCustomError(ledger, name)
          .withArgs(...args);
        expect(await snapshot(ledger, allIds)).to.deep.equal(before);
        for (const o of opens) expect((await ledger.caseHeader(caseIdOf(o.serial))).phase).to.equal(Phase.None);
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
        ledger.connect(accepting).anchorBatch([], [{ caseId: existing[0].caseId, stage: Stage.MATERIALS, commitment: commitment("m") }]),
      )
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(accepting.address);
    });

    it("refuses lifecycle items from a bare dispute officer even after valid dispute items", async function () {
      const { ledger, officer, existing } = await loadFixture(batchFixture);
      const before = await snapshot(ledger, existing.map((e) => e.caseId));
      await expect(
        ledger.connect(officer).anchorBatch([], [
          { caseId: existing[0].caseId, stage: Stage.DISPUTE_OPENED, commitment: commitment("o") },
          { caseId: existing[0].caseId, stage: Stage.MATERIALS, commitment: commitment("m") },
        ]),
      )
        .to.be.revertedWithCustomError(ledger, "CaseLedgerInactiveHall")
        .withArgs(officer.address);
      expect(await snapshot(ledger, existing.map((e) => e.caseId))).to.deep.equal(before);
    });
  });

  describe("shared test vector (tests/vectors/hashchain/full_lifecycle.json)", function () {
    const vector = JSON.parse(
      fs.readFileSync(path.join(__dirname, "..", "vectors", "hashchain", "full_lifecycle.json"), "utf8"),
    );

    it("is well formed: case_id == keccak256(serial), writers are the expected accounts", async function () {
      const signers = await ethers.getSigners();
      expect(caseIdOf(vector.serial)).to.equal(vector.case_id);
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
      const ledger = await ethers.deployContract("CaseLedger", [await registry.getAddress()]);
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
        .withArgs(vector.case_id, 1, Stage.INTAKE, opener.address, 0, first.commitment, first.head);

      for (const [i, e] of rest.entries()) {
        const w = byAddress.get(e.writer.toLowerCase());
        const receipt = await (await ledger.connect(w).appendEvent(vector.case_id, e.stage_code, e.commitment)).wait();
        const [log] = appendedLogs(ledger, receipt);
        expect(log).to.deep.equal({
          caseId: vector.case_id,
          hallId: hallIds.get(w.address.toLowerCase()),
          stage: e.stage_code,
          writer: w.address,
          index: i + 1,
          commitment: e.commitment,
          head: e.head,
        });
      }
      const last = vector.events[vector.events.length - 1];
      expect(await ledger.caseHead(vector.case_id)).to.equal(last.head);
      expect(await ledger.eventCount(vector.case_id)).to.equal(vector.events.length);
      const hdr = await ledger.caseHeader(vector.case_id);
      expect(hdr.phase).to.equal(Phase.Delivered);
      expect(hdr.openDisputes).to.equal(0);
      expect(hdr.homeDistrict).to.equal(vector.halls.home.district);
    });
  });

  describe("gas report", function () {
    // Measures gasUsed from receipts; prints a table and writes build/gas-report.json.
    // Only relative claims are asserted (batching amortises the 21000 base cost and the registry lookup).
    const BATCH_SIZES = [1, 10, 50, 100];

    it("measures openCase, appendEvent and anchorBatch per-event gas", async function () {
      this.timeout(120000);
      const { ledger, accepting } = await loadFixture(deployLedgerFixture);
      let serialNo = 0;
      const nextSerial = () => serialOf(++serialNo, "GAS-350502-01-20261123");
      const gasOf = async (txPromise) => Number((await (await txPromise).wait()).gasUsed);

      // single openCase (first event of a case), then a single later event (MATERIALS on it)
      const s0 = nextSerial();
      const openCaseGas = await gasOf(ledger.connect(accepting).openCase(s0, ITEM_CODE, HOME_DISTRICT, commitment(s0)));
      const appendEventGas = await gasOf(
        ledger.connect(accepting).appendEvent(caseIdOf(s0), Stage.MATERIALS, commitment(`${s0}:m`)),
      );

      const batches = [];
      for (const n of BATCH_SIZES) {
        const opens = Array.from({ length: n }, () => {
          const serial = nextSerial();
          return { serial, itemCode: ITEM_CODE, homeDistrict: HOME_DISTRICT, intakeCommitment: commitment(serial) };
        });
        const opensGas = await gasOf(ledger.connect(accepting).anchorBatch(opens, []));
        // n appends across n distinct existing cases (same MATERIALS-on-Opened step as the single append)
        const appends = opens.map((o) => ({ caseId: caseIdOf(o.serial), stage: Stage.MATERIALS, commitment: commitment(`${o.serial}:m`) }));
        const appendsGas = await gasOf(ledger.connect(accepting).anchorBatch([], appends));
        for (const o of opens) expect(await ledger.eventCount(caseIdOf(o.serial))).to.equal(2);
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
        single: { openCase: openCaseGas, appendEvent: appendEventGas },
        anchorBatch: batches,
      };

      const rows = [
        ["openCase (INTAKE, 1 tx)", "1", String(openCaseGas), String(openCaseGas)],
        ["appendEvent (MATERIALS, 1 tx)", "1", String(appendEventGas), String(appendEventGas)],
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
