const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");
const { HallStatus, ROLES, deployRegistryFixture } = require("./helpers");

const D1 = 350502;
const D2 = 350503;

async function oneHallFixture() {
  const f = await deployRegistryFixture();
  await f.registry.registerHall(f.hallA.address, D1, "Hall A", "https://a.example:8545");
  return { ...f, hallId: 1 };
}

async function suspendedHallFixture() {
  const f = await oneHallFixture();
  await f.registry.suspendHall(f.hallId);
  return f;
}

describe("HallRegistry", function () {
  describe("deployment", function () {
    it("grants DEFAULT_ADMIN_ROLE and HALL_ADMIN_ROLE to the admin only", async function () {
      const { registry, admin, other } = await loadFixture(deployRegistryFixture);
      expect(await registry.hasRole(ROLES.DEFAULT_ADMIN_ROLE, admin.address)).to.equal(true);
      expect(await registry.hasRole(ROLES.HALL_ADMIN_ROLE, admin.address)).to.equal(true);
      expect(await registry.hasRole(ROLES.DISPUTE_OFFICER_ROLE, admin.address)).to.equal(false);
      expect(await registry.hasRole(ROLES.HALL_ADMIN_ROLE, other.address)).to.equal(false);
    });

    it("exposes the role constants", async function () {
      const { registry } = await loadFixture(deployRegistryFixture);
      expect(await registry.HALL_ADMIN_ROLE()).to.equal(ROLES.HALL_ADMIN_ROLE);
      expect(await registry.DISPUTE_OFFICER_ROLE()).to.equal(ROLES.DISPUTE_OFFICER_ROLE);
      expect(await registry.REGULATOR_ROLE()).to.equal(ROLES.REGULATOR_ROLE);
      expect(await registry.DISPUTE_ARBITER_ROLE()).to.equal(ROLES.DISPUTE_ARBITER_ROLE);
    });

    it("reports format version 2", async function () {
      const { registry } = await loadFixture(deployRegistryFixture);
      expect(await registry.formatVersion()).to.equal(2);
    });

    it("records the constructor's grants as HallRegistryRoleChanged in the deployment block", async function () {
      const { registry, admin } = await loadFixture(deployRegistryFixture);
      const receipt = await registry.deploymentTransaction().wait();
      const changes = receipt.logs
        .map((l) => registry.interface.parseLog(l))
        .filter((e) => e && e.name === "HallRegistryRoleChanged")
        .map((e) => [e.args.role, e.args.account, e.args.granted, e.args.prevChangeBlock]);
      expect(changes).to.deep.equal([
        [ROLES.DEFAULT_ADMIN_ROLE, admin.address, true, 0n],
        [ROLES.HALL_ADMIN_ROLE, admin.address, true, BigInt(receipt.blockNumber)],
      ]);
      expect(await registry.lastChangeBlock()).to.equal(receipt.blockNumber);
    });

    it("starts with no halls", async function () {
      const { registry, hallA } = await loadFixture(deployRegistryFixture);
      expect(await registry.hallCount()).to.equal(0);
      expect(await registry.hallIdOf(hallA.address)).to.equal(0);
      expect(await registry.hallOf(hallA.address)).to.deep.equal([0n, 0n, BigInt(HallStatus.None)]);
    });
  });

  describe("registerHall", function () {
    it("registers a hall with id 1 and emits HallRegistered", async function () {
      const { registry, hallA } = await loadFixture(deployRegistryFixture);
      const prev = await registry.lastChangeBlock();
      await expect(registry.registerHall(hallA.address, D1, "Hall A", "https://a.example:8545"))
        .to.emit(registry, "HallRegistered")
        .withArgs(1, hallA.address, D1, "Hall A", "https://a.example:8545", prev);
      expect(await registry.hallCount()).to.equal(1);
    });

    it("returns the new id (static call)", async function () {
      const { registry, hallA } = await loadFixture(deployRegistryFixture);
      expect(await registry.registerHall.staticCall(hallA.address, D1, "A", "e")).to.equal(1);
    });

    it("assigns consecutive ids and fills the views", async function () {
      const { registry, hallA, hallB } = await loadFixture(deployRegistryFixture);
      await registry.registerHall(hallA.address, D1, "Hall A", "https://a.example:8545");
      const prev = await registry.lastChangeBlock();
      await expect(registry.registerHall(hallB.address, D2, "Hall B", "https://b.example:8545"))
        .to.emit(registry, "HallRegistered")
        .withArgs(2, hallB.address, D2, "Hall B", "https://b.example:8545", prev);
      expect(await registry.hallCount()).to.equal(2);

      expect(await registry.hallIdOf(hallA.address)).to.equal(1);
      expect(await registry.hallIdOf(hallB.address)).to.equal(2);
      expect(await registry.hallOf(hallA.address)).to.deep.equal([1n, BigInt(D1), BigInt(HallStatus.Active)]);
      expect(await registry.hallOf(hallB.address)).to.deep.equal([2n, BigInt(D2), BigInt(HallStatus.Active)]);

      const h = await registry.hall(2);
      expect(h.account).to.equal(hallB.address);
      expect(h.district).to.equal(D2);
      expect(h.status).to.equal(HallStatus.Active);
      expect(h.name).to.equal("Hall B");
      expect(h.endpoint).to.equal("https://b.example:8545");
    });

    it("accepts the district bounds 100000 and 999999", async function () {
      const { registry, hallA, hallB } = await loadFixture(deployRegistryFixture);
      await expect(registry.registerHall(hallA.address, 100000, "lo", "")).to.emit(registry, "HallRegistered");
      await expect(registry.registerHall(hallB.address, 999999, "hi", "")).to.emit(registry, "HallRegistered");
      expect((await registry.hall(1)).district).to.equal(100000);
      expect((await registry.hall(2)).district).to.equal(999999);
    });

    for (const district of [0, 99999, 1000000, 4294967295]) {
      it(`refuses district ${district} with HallRegistryInvalidDistrict`, async function () {
        const { registry, hallA } = await loadFixture(deployRegistryFixture);
        await expect(registry.registerHall(hallA.address, district, "x", "y"))
          .to.be.revertedWithCustomError(registry, "HallRegistryInvalidDistrict")
          .withArgs(district);
        expect(await registry.hallCount()).to.equal(0);
      });
    }

    it("refuses the zero account with HallRegistryZeroAccount", async function () {
      const { registry } = await loadFixture(deployRegistryFixture);
      await expect(registry.registerHall(ethers.ZeroAddress, D1, "x", "y"))
        .to.be.revertedWithCustomError(registry, "HallRegistryZeroAccount")
        .withArgs();
    });

    it("refuses an account already bound to a hall with HallRegistryAccountInUse", async function () {
      const { registry, hallA } = await loadFixture(oneHallFixture);
      await expect(registry.registerHall(hallA.address, D2, "again", "y"))
        .to.be.revertedWithCustomError(registry, "HallRegistryAccountInUse")
        .withArgs(hallA.address);
      expect(await registry.hallCount()).to.equal(1);
    });

    it("refuses an account bound to a suspended hall", async function () {
      const { registry, hallA } = await loadFixture(suspendedHallFixture);
      await expect(registry.registerHall(hallA.address, D2, "again", "y"))
        .to.be.revertedWithCustomError(registry, "HallRegistryAccountInUse")
        .withArgs(hallA.address);
    });

    it("is restricted to HALL_ADMIN_ROLE (AccessControlUnauthorizedAccount)", async function () {
      const { registry, hallA, other } = await loadFixture(deployRegistryFixture);
      await expect(registry.connect(other).registerHall(hallA.address, D1, "x", "y"))
        .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
        .withArgs(other.address, ROLES.HALL_ADMIN_ROLE);
      // even a hall cannot register others
      await registry.registerHall(hallA.address, D1, "A", "");
      await expect(registry.connect(hallA).registerHall(other.address, D1, "x", "y"))
        .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
        .withArgs(hallA.address, ROLES.HALL_ADMIN_ROLE);
    });

    it("can be delegated by granting HALL_ADMIN_ROLE, and revoked again", async function () {
      const { registry, admin, hallA, hallB, other } = await loadFixture(deployRegistryFixture);
      await registry.connect(admin).grantRole(ROLES.HALL_ADMIN_ROLE, other.address);
      const prev = await registry.lastChangeBlock();
      await expect(registry.connect(other).registerHall(hallA.address, D1, "A", ""))
        .to.emit(registry, "HallRegistered")
        .withArgs(1, hallA.address, D1, "A", "", prev);
      await registry.connect(admin).revokeRole(ROLES.HALL_ADMIN_ROLE, other.address);
      await expect(registry.connect(other).registerHall(hallB.address, D1, "B", ""))
        .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
        .withArgs(other.address, ROLES.HALL_ADMIN_ROLE);
    });
  });

  describe("suspendHall / reactivateHall", function () {
    it("suspends an active hall and emits HallSuspended", async function () {
      const { registry, hallA, hallId } = await loadFixture(oneHallFixture);
      const prev = await registry.lastChangeBlock();
      await expect(registry.suspendHall(hallId)).to.emit(registry, "HallSuspended").withArgs(hallId, hallA.address, prev);
      expect((await registry.hall(hallId)).status).to.equal(HallStatus.Suspended);
      expect(await registry.hallOf(hallA.address)).to.deep.equal([1n, BigInt(D1), BigInt(HallStatus.Suspended)]);
      // the key stays bound to the hall while suspended
      expect(await registry.hallIdOf(hallA.address)).to.equal(hallId);
    });

    it("refuses to suspend a suspended hall (HallRegistryInvalidStatus)", async function () {
      const { registry, hallId } = await loadFixture(suspendedHallFixture);
      await expect(registry.suspendHall(hallId))
        .to.be.revertedWithCustomError(registry, "HallRegistryInvalidStatus")
        .withArgs(hallId, HallStatus.Suspended);
    });

    it("reactivates a suspended hall and emits HallReactivated", async function () {
      const { registry, hallA, hallId } = await loadFixture(suspendedHallFixture);
      const prev = await registry.lastChangeBlock();
      await expect(registry.reactivateHall(hallId))
        .to.emit(registry, "HallReactivated")
        .withArgs(hallId, hallA.address, prev);
      expect((await registry.hall(hallId)).status).to.equal(HallStatus.Active);
      expect(await registry.hallOf(hallA.address)).to.deep.equal([1n, BigInt(D1), BigInt(HallStatus.Active)]);
    });

    it("refuses to reactivate an active hall (HallRegistryInvalidStatus)", async function () {
      const { registry, hallId } = await loadFixture(oneHallFixture);
      await expect(registry.reactivateHall(hallId))
        .to.be.revertedWithCustomError(registry, "HallRegistryInvalidStatus")
        .withArgs(hallId, HallStatus.Active);
    });

    it("can cycle suspend / reactivate repeatedly", async function () {
      const { registry, hallId } = await loadFixture(oneHallFixture);
      for (let i = 0; i < 2; i++) {
        await expect(registry.suspendHall(hallId)).to.emit(registry, "HallSuspended");
        await expect(registry.reactivateHall(hallId)).to.emit(registry, "HallReactivated");
      }
      expect((await registry.hall(hallId)).status).to.equal(HallStatus.Active);
    });

    for (const fn of ["suspendHall", "reactivateHall"]) {
      it(`${fn} refuses an unknown hall (HallRegistryUnknownHall)`, async function () {
        const { registry } = await loadFixture(oneHallFixture);
        for (const id of [0, 2, 4294967295]) {
          await expect(registry[fn](id)).to.be.revertedWithCustomError(registry, "HallRegistryUnknownHall").withArgs(id);
        }
      });

      it(`${fn} is restricted to HALL_ADMIN_ROLE`, async function () {
        const { registry, hallA, other, hallId } = await loadFixture(
          fn === "suspendHall" ? oneHallFixture : suspendedHallFixture,
        );
        for (const caller of [other, hallA]) {
          await expect(registry.connect(caller)[fn](hallId))
            .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
            .withArgs(caller.address, ROLES.HALL_ADMIN_ROLE);
        }
      });
    }
  });

  describe("rotateHallKey", function () {
    it("moves the hall to the new key and emits HallKeyRotated", async function () {
      const { registry, hallA, hallB, hallId } = await loadFixture(oneHallFixture);
      const prev = await registry.lastChangeBlock();
      await expect(registry.rotateHallKey(hallId, hallB.address))
        .to.emit(registry, "HallKeyRotated")
        .withArgs(hallId, hallA.address, hallB.address, prev);
      const h = await registry.hall(hallId);
      expect(h.account).to.equal(hallB.address);
      expect(h.district).to.equal(D1);
      expect(h.status).to.equal(HallStatus.Active);
      expect(h.name).to.equal("Hall A");
      expect(await registry.hallIdOf(hallB.address)).to.equal(hallId);
      expect(await registry.hallOf(hallB.address)).to.deep.equal([1n, BigInt(D1), BigInt(HallStatus.Active)]);
      // id is kept for life, no new hall
      expect(await registry.hallCount()).to.equal(1);
    });

    it("refuses the old key from then on (hallIdOf / hallOf report nothing)", async function () {
      const { registry, hallA, hallB, hallId } = await loadFixture(oneHallFixture);
      await registry.rotateHallKey(hallId, hallB.address);
      expect(await registry.hallIdOf(hallA.address)).to.equal(0);
      expect(await registry.hallOf(hallA.address)).to.deep.equal([0n, 0n, BigInt(HallStatus.None)]);
      // the old key can no longer act as the hall
      await expect(registry.connect(hallA).setHallEndpoint(hallId, "x"))
        .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
        .withArgs(hallA.address, ROLES.HALL_ADMIN_ROLE);
    });

    it("never lets a retired key be registered again", async function () {
      const { registry, hallA, hallB, hallId } = await loadFixture(oneHallFixture);
      await registry.rotateHallKey(hallId, hallB.address);
      await expect(registry.registerHall(hallA.address, D2, "reuse", ""))
        .to.be.revertedWithCustomError(registry, "HallRegistryAccountInUse")
        .withArgs(hallA.address);
    });

    it("never lets a retired key be rotated in again (same or another hall)", async function () {
      const { registry, hallA, hallB, other, rest, hallId } = await loadFixture(oneHallFixture);
      await registry.rotateHallKey(hallId, hallB.address);
      // back into the same hall
      await expect(registry.rotateHallKey(hallId, hallA.address))
        .to.be.revertedWithCustomError(registry, "HallRegistryAccountInUse")
        .withArgs(hallA.address);
      // into another hall
      await registry.registerHall(other.address, D2, "Hall O", "");
      await expect(registry.rotateHallKey(2, hallA.address))
        .to.be.revertedWithCustomError(registry, "HallRegistryAccountInUse")
        .withArgs(hallA.address);
      // a chain of rotations retires every intermediate key
      await registry.rotateHallKey(hallId, rest[0].address);
      await expect(registry.rotateHallKey(2, hallB.address))
        .to.be.revertedWithCustomError(registry, "HallRegistryAccountInUse")
        .withArgs(hallB.address);
      await expect(registry.registerHall(hallB.address, D2, "reuse", ""))
        .to.be.revertedWithCustomError(registry, "HallRegistryAccountInUse")
        .withArgs(hallB.address);
    });

    it("refuses a key bound to another hall, or the hall's own key", async function () {
      const { registry, hallA, hallB, hallId } = await loadFixture(oneHallFixture);
      await registry.registerHall(hallB.address, D2, "Hall B", "");
      await expect(registry.rotateHallKey(hallId, hallB.address))
        .to.be.revertedWithCustomError(registry, "HallRegistryAccountInUse")
        .withArgs(hallB.address);
      await expect(registry.rotateHallKey(hallId, hallA.address))
        .to.be.revertedWithCustomError(registry, "HallRegistryAccountInUse")
        .withArgs(hallA.address);
      expect((await registry.hall(hallId)).account).to.equal(hallA.address);
    });

    it("refuses the zero address (HallRegistryZeroAccount)", async function () {
      const { registry, hallId } = await loadFixture(oneHallFixture);
      await expect(registry.rotateHallKey(hallId, ethers.ZeroAddress))
        .to.be.revertedWithCustomError(registry, "HallRegistryZeroAccount")
        .withArgs();
    });

    it("refuses an unknown hall (HallRegistryUnknownHall)", async function () {
      const { registry, hallB } = await loadFixture(oneHallFixture);
      await expect(registry.rotateHallKey(7, hallB.address))
        .to.be.revertedWithCustomError(registry, "HallRegistryUnknownHall")
        .withArgs(7);
    });

    it("is restricted to HALL_ADMIN_ROLE (not even the hall itself)", async function () {
      const { registry, hallA, hallB, other, hallId } = await loadFixture(oneHallFixture);
      for (const caller of [other, hallA]) {
        await expect(registry.connect(caller).rotateHallKey(hallId, hallB.address))
          .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, ROLES.HALL_ADMIN_ROLE);
      }
    });

    it("keeps a suspended hall suspended", async function () {
      const { registry, hallB, hallId } = await loadFixture(suspendedHallFixture);
      await registry.rotateHallKey(hallId, hallB.address);
      expect(await registry.hallOf(hallB.address)).to.deep.equal([1n, BigInt(D1), BigInt(HallStatus.Suspended)]);
      const prev = await registry.lastChangeBlock();
      await expect(registry.reactivateHall(hallId)).to.emit(registry, "HallReactivated").withArgs(hallId, hallB.address, prev);
    });

    it("moves DISPUTE_OFFICER_ROLE with the key", async function () {
      const { registry, admin, hallA, hallB, hallId } = await loadFixture(oneHallFixture);
      await registry.grantRole(ROLES.DISPUTE_OFFICER_ROLE, hallA.address);
      const prev = await registry.lastChangeBlock();
      const thisBlock = (await ethers.provider.getBlockNumber()) + 1;
      await expect(registry.rotateHallKey(hallId, hallB.address))
        .to.emit(registry, "HallRegistryRoleChanged")
        .withArgs(ROLES.DISPUTE_OFFICER_ROLE, hallA.address, false, prev)
        .and.to.emit(registry, "HallRegistryRoleChanged")
        .withArgs(ROLES.DISPUTE_OFFICER_ROLE, hallB.address, true, thisBlock)
        .and.to.emit(registry, "RoleRevoked")
        .withArgs(ROLES.DISPUTE_OFFICER_ROLE, hallA.address, admin.address)
        .and.to.emit(registry, "RoleGranted")
        .withArgs(ROLES.DISPUTE_OFFICER_ROLE, hallB.address, admin.address)
        .and.to.emit(registry, "HallKeyRotated")
        .withArgs(hallId, hallA.address, hallB.address, thisBlock);
      expect(await registry.hasRole(ROLES.DISPUTE_OFFICER_ROLE, hallA.address)).to.equal(false);
      expect(await registry.hasRole(ROLES.DISPUTE_OFFICER_ROLE, hallB.address)).to.equal(true);
    });

    it("grants no role when the old key had none", async function () {
      const { registry, hallB, hallId } = await loadFixture(oneHallFixture);
      const tx = registry.rotateHallKey(hallId, hallB.address);
      await expect(tx).to.not.emit(registry, "RoleGranted");
      await expect(tx).to.not.emit(registry, "RoleRevoked");
      await expect(tx).to.not.emit(registry, "HallRegistryRoleChanged");
      expect(await registry.hasRole(ROLES.DISPUTE_OFFICER_ROLE, hallB.address)).to.equal(false);
    });

    it("moves only the dispute role (other roles stay with the old key)", async function () {
      const { registry, hallA, hallB, hallId } = await loadFixture(oneHallFixture);
      await registry.grantRole(ROLES.REGULATOR_ROLE, hallA.address);
      await registry.rotateHallKey(hallId, hallB.address);
      expect(await registry.hasRole(ROLES.REGULATOR_ROLE, hallA.address)).to.equal(true);
      expect(await registry.hasRole(ROLES.REGULATOR_ROLE, hallB.address)).to.equal(false);
    });
  });

  describe("setHallEndpoint", function () {
    it("can be called by the admin", async function () {
      const { registry, hallId } = await loadFixture(oneHallFixture);
      const prev = await registry.lastChangeBlock();
      await expect(registry.setHallEndpoint(hallId, "https://new.example:8545"))
        .to.emit(registry, "HallEndpointChanged")
        .withArgs(hallId, "https://new.example:8545", prev);
      expect((await registry.hall(hallId)).endpoint).to.equal("https://new.example:8545");
    });

    it("can be called by the hall itself (without any role)", async function () {
      const { registry, hallA, hallId } = await loadFixture(oneHallFixture);
      expect(await registry.hasRole(ROLES.HALL_ADMIN_ROLE, hallA.address)).to.equal(false);
      const prev = await registry.lastChangeBlock();
      await expect(registry.connect(hallA).setHallEndpoint(hallId, "https://self.example:8545"))
        .to.emit(registry, "HallEndpointChanged")
        .withArgs(hallId, "https://self.example:8545", prev);
      expect((await registry.hall(hallId)).endpoint).to.equal("https://self.example:8545");
    });

    it("can be called by the hall's rotated-in key", async function () {
      const { registry, hallB, hallId } = await loadFixture(oneHallFixture);
      await registry.rotateHallKey(hallId, hallB.address);
      const prev = await registry.lastChangeBlock();
      await expect(registry.connect(hallB).setHallEndpoint(hallId, "rotated"))
        .to.emit(registry, "HallEndpointChanged")
        .withArgs(hallId, "rotated", prev);
    });

    it("is refused for an outsider and for another hall", async function () {
      const { registry, hallB, other, hallId } = await loadFixture(oneHallFixture);
      await registry.registerHall(hallB.address, D2, "Hall B", "b");
      for (const caller of [other, hallB]) {
        await expect(registry.connect(caller).setHallEndpoint(hallId, "evil"))
          .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, ROLES.HALL_ADMIN_ROLE);
      }
      expect((await registry.hall(hallId)).endpoint).to.equal("https://a.example:8545");
    });

    it("refuses an unknown hall (HallRegistryUnknownHall)", async function () {
      const { registry, other } = await loadFixture(oneHallFixture);
      await expect(registry.setHallEndpoint(2, "x"))
        .to.be.revertedWithCustomError(registry, "HallRegistryUnknownHall")
        .withArgs(2);
      await expect(registry.connect(other).setHallEndpoint(0, "x"))
        .to.be.revertedWithCustomError(registry, "HallRegistryUnknownHall")
        .withArgs(0);
    });
  });

  describe("views", function () {
    it("hall() refuses an unknown id (HallRegistryUnknownHall)", async function () {
      const { registry } = await loadFixture(oneHallFixture);
      await expect(registry.hall(0)).to.be.revertedWithCustomError(registry, "HallRegistryUnknownHall").withArgs(0);
      await expect(registry.hall(2)).to.be.revertedWithCustomError(registry, "HallRegistryUnknownHall").withArgs(2);
    });

    it("hallOf / hallIdOf report zero for unknown accounts", async function () {
      const { registry, other } = await loadFixture(oneHallFixture);
      expect(await registry.hallIdOf(other.address)).to.equal(0);
      expect(await registry.hallOf(other.address)).to.deep.equal([0n, 0n, 0n]);
      expect(await registry.hallOf(ethers.ZeroAddress)).to.deep.equal([0n, 0n, 0n]);
    });

    it("supports the AccessControl interface (ERC-165)", async function () {
      const { registry } = await loadFixture(deployRegistryFixture);
      expect(await registry.supportsInterface("0x7965db0b")).to.equal(true); // IAccessControl
      expect(await registry.supportsInterface("0x01ffc9a7")).to.equal(true); // IERC165
      expect(await registry.supportsInterface("0xffffffff")).to.equal(false);
    });
  });

  describe("change history (lastChangeBlock, prevChangeBlock)", function () {
    const OURS = new Set([
      "HallRegistered",
      "HallSuspended",
      "HallReactivated",
      "HallKeyRotated",
      "HallEndpointChanged",
      "HallRegistryRoleChanged",
    ]);

    /** Every registry event of ours, read with one-block eth_getLogs queries walking back from lastChangeBlock. */
    async function walkBack(registry) {
      const address = await registry.getAddress();
      const found = [];
      let queries = 0;
      let b = Number(await registry.lastChangeBlock());
      while (b !== 0) {
        const logs = await ethers.provider.getLogs({ address, fromBlock: b, toBlock: b });
        queries += 1;
        const ours = logs
          .map((l) => ({ log: l, ev: registry.interface.parseLog(l) }))
          .filter((x) => x.ev && OURS.has(x.ev.name));
        expect(ours.length, `block ${b} holds a change`).to.be.greaterThan(0);
        found.unshift(...ours.map((x) => [x.log.blockNumber, x.log.index, x.ev.name]));
        const prev = Math.min(...ours.map((x) => Number(x.ev.args.prevChangeBlock)));
        expect(prev).to.be.lessThan(b);
        b = prev;
      }
      return { found, queries };
    }

    async function fullScan(registry) {
      const logs = await ethers.provider.getLogs({ address: await registry.getAddress(), fromBlock: 0, toBlock: "latest" });
      return logs
        .map((l) => ({ log: l, ev: registry.interface.parseLog(l) }))
        .filter((x) => x.ev && OURS.has(x.ev.name))
        .map((x) => [x.log.blockNumber, x.log.index, x.ev.name]);
    }

    it("every change moves lastChangeBlock and emits the previous one", async function () {
      const { registry, hallA, hallB, other } = await loadFixture(deployRegistryFixture);
      const steps = [
        () => registry.registerHall(hallA.address, D1, "A", "a"),
        () => registry.suspendHall(1),
        () => registry.reactivateHall(1),
        () => registry.setHallEndpoint(1, "a2"),
        () => registry.grantRole(ROLES.REGULATOR_ROLE, other.address),
        () => registry.revokeRole(ROLES.REGULATOR_ROLE, other.address),
        () => registry.rotateHallKey(1, hallB.address),
      ];
      for (const step of steps) {
        const before = await registry.lastChangeBlock();
        const receipt = await (await step()).wait();
        const prevs = receipt.logs
          .map((l) => registry.interface.parseLog(l))
          .filter((e) => e && OURS.has(e.name))
          .map((e) => e.args.prevChangeBlock);
        expect(prevs.length).to.be.greaterThan(0);
        expect(prevs[0]).to.equal(before);
        for (const p of prevs.slice(1)) expect(p).to.equal(receipt.blockNumber);
        expect(await registry.lastChangeBlock()).to.equal(receipt.blockNumber);
      }
    });

    it("grantRole / revokeRole emit HallRegistryRoleChanged; a no-op grant or revoke emits nothing and leaves lastChangeBlock", async function () {
      const { registry, other } = await loadFixture(deployRegistryFixture);
      let prev = await registry.lastChangeBlock();
      await expect(registry.grantRole(ROLES.DISPUTE_ARBITER_ROLE, other.address))
        .to.emit(registry, "HallRegistryRoleChanged")
        .withArgs(ROLES.DISPUTE_ARBITER_ROLE, other.address, true, prev);
      prev = await registry.lastChangeBlock();
      const again = registry.grantRole(ROLES.DISPUTE_ARBITER_ROLE, other.address);
      await expect(again).to.not.emit(registry, "HallRegistryRoleChanged");
      await expect(again).to.not.emit(registry, "RoleGranted");
      expect(await registry.lastChangeBlock()).to.equal(prev);
      await expect(registry.revokeRole(ROLES.DISPUTE_ARBITER_ROLE, other.address))
        .to.emit(registry, "HallRegistryRoleChanged")
        .withArgs(ROLES.DISPUTE_ARBITER_ROLE, other.address, false, prev);
      prev = await registry.lastChangeBlock();
      await expect(registry.revokeRole(ROLES.DISPUTE_ARBITER_ROLE, other.address)).to.not.emit(registry, "HallRegistryRoleChanged");
      expect(await registry.lastChangeBlock()).to.equal(prev);
      // renounceRole goes through _revokeRole too
      await registry.grantRole(ROLES.REGULATOR_ROLE, other.address);
      prev = await registry.lastChangeBlock();
      await expect(registry.connect(other).renounceRole(ROLES.REGULATOR_ROLE, other.address))
        .to.emit(registry, "HallRegistryRoleChanged")
        .withArgs(ROLES.REGULATOR_ROLE, other.address, false, prev);
    });

    it("a refused change leaves lastChangeBlock untouched", async function () {
      const { registry, other } = await loadFixture(oneHallFixture);
      const prev = await registry.lastChangeBlock();
      await expect(registry.suspendHall(9)).to.be.revertedWithCustomError(registry, "HallRegistryUnknownHall");
      await expect(registry.connect(other).grantRole(ROLES.HALL_ADMIN_ROLE, other.address)).to.be.reverted;
      expect(await registry.lastChangeBlock()).to.equal(prev);
    });

    it("walking back with one-block getLogs finds exactly what a full scan finds, with several changes in one block", async function () {
      const { registry, hallA, hallB, other, rest } = await loadFixture(deployRegistryFixture);
      await registry.registerHall(hallA.address, D1, "A", "a");
      await registry.grantRole(ROLES.DISPUTE_OFFICER_ROLE, hallA.address);
      await ethers.provider.send("hardhat_mine", ["0x20"]); // blocks with no change in between
      // several changes in one block (automine off)
      await ethers.provider.send("evm_setAutomine", [false]);
      try {
        await registry.registerHall(hallB.address, D2, "B", "b");
        await registry.rotateHallKey(1, rest[0].address); // also moves the dispute role: 3 changes
        await registry.grantRole(ROLES.REGULATOR_ROLE, other.address);
        await ethers.provider.send("evm_mine", []);
      } finally {
        await ethers.provider.send("evm_setAutomine", [true]);
      }
      await ethers.provider.send("hardhat_mine", ["0x05"]);
      await registry.suspendHall(2);
      const { found, queries } = await walkBack(registry);
      expect(found).to.deep.equal(await fullScan(registry));
      const blocks = new Set(found.map((x) => x[0]));
      expect(queries).to.equal(blocks.size); // one query per block with a change, none for the empty ones
      expect(found.length).to.equal(2 + 1 + 1 + 3 + 1 + 1 + 1); // ctor 2, register, grant, [register, rotate 3, grant], suspend
    });
  });
});
