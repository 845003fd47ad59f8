// The lease file of the `dir` backend: `leases.bin`, a fixed array of fixed-size slots, one per
// node. It lives outside SQLite on purpose: a heartbeat must be one positional write into space
// allocated at init, so that it keeps working when the disk is full and never waits on the
// database lock. Readers take the whole file in one read and trust a slot only if its magic and
// CRC match: a torn or half-written slot is skipped for that round, never misread.
//
// The last 12 bytes of a slot hold the floor its node recorded (the highest term and epoch it is
// about to use, DESIGN rule 6), with a CRC of its own. Renewals, claims, the monitor's fenced mark
// and evictions write only the lease part before it, so the floor survives them all; it is only
// ever raised, and fsynced, by the node's main thread. All zeroes: no floor recorded.

import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { crc32c } from '../core/crc32c.js';
import type { NodeName } from '../core/types.js';
import type { LeaseRecord, LeaseState } from './types.js';

export const leaseFileName = 'leases.bin';
/** Fixed slot size: large enough for the longest name and incarnation, small enough to sit in one page. */
export const leaseSlotBytes = 128;
/** Nodes one cluster can hold; the file is preallocated to this many slots (16 KiB). */
export const leaseSlotsMax = 128;
export const leaseFileBytes = leaseSlotBytes * leaseSlotsMax;
export const leaseNameBytesMax = 63;
export const leaseIncarnationBytesMax = 32;

/** 'CLLS' (clusterd lease slot): tells a written slot from zeroes or garbage. */
const slotMagic = 0x534c4c43;
const slotVersion = 1;

// Slot layout, little-endian. The CRC covers bytes [0, crcOffset).
const magicOffset = 0; // u32
const versionOffset = 4; // u8
const stateOffset = 5; // u8
const nameLengthOffset = 6; // u8, then the name bytes
const incarnationLengthOffset = nameLengthOffset + 1 + leaseNameBytesMax; // 70: u8, then the bytes
const counterOffset = 104; // float64, 8-aligned, after the incarnation ends at 103
const crcOffset = counterOffset + 8; // 112: u32
/** Bytes of a slot that renewals, claims, fenced marks and evictions write: the lease part. */
const leasePartBytes = crcOffset + 4; // 116
// The floor part: term u32, epoch u32, CRC u32 of the two.
const floorTermOffset = leasePartBytes; // 116
const floorEpochOffset = floorTermOffset + 4; // 120
const floorCrcOffset = floorEpochOffset + 4; // 124
const floorPartBytes = floorCrcOffset + 4 - leasePartBytes; // 12
/** The highest term or epoch a slot's floor holds. */
export const leaseFloorMax = 0xffff_ffff;

const stateCodes: Record<LeaseState, number> = { running: 1, draining: 2, stopped: 3, fenced: 4 };
const statesByCode: ReadonlyMap<number, LeaseState> = new Map(
  Object.entries(stateCodes).map(([state, code]) => [code, state as LeaseState]),
);

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Why `node`/`incarnation` cannot be stored in a slot, or null if they can. */
export function leaseIdentityProblem(node: NodeName, incarnation: string): string | null {
  const nameBytes = encoder.encode(node).length;
  if (nameBytes === 0 || nameBytes > leaseNameBytesMax) {
    return `node name '${node}' is ${nameBytes} bytes of UTF-8: a lease slot holds 1 to ${leaseNameBytesMax}`;
  }
  if (incarnation.length > leaseIncarnationBytesMax || !/^[\x21-\x7e]+$/.test(incarnation)) {
    return `incarnation '${incarnation}' must be 1 to ${leaseIncarnationBytesMax} printable ASCII characters`;
  }
  return null;
}

function assertCounter(counter: number): void {
  assert.ok(Number.isSafeInteger(counter) && counter >= 0, `lease counter ${counter} must be a safe integer >= 0`);
}

/** Encodes one slot into `out` (a fresh buffer if not given). Callers validate the identity first. */
export function encodeLeaseSlot(record: LeaseRecord, out = new Uint8Array(leaseSlotBytes)): Uint8Array {
  assert.equal(out.length, leaseSlotBytes, 'a lease slot buffer is exactly one slot');
  assert.equal(leaseIdentityProblem(record.node, record.incarnation), null, 'lease identity was validated');
  assertCounter(record.counter);
  out.fill(0);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(magicOffset, slotMagic, true);
  view.setUint8(versionOffset, slotVersion);
  view.setUint8(stateOffset, stateCodes[record.state]);
  const name = encoder.encode(record.node);
  view.setUint8(nameLengthOffset, name.length);
  out.set(name, nameLengthOffset + 1);
  const incarnation = encoder.encode(record.incarnation);
  view.setUint8(incarnationLengthOffset, incarnation.length);
  out.set(incarnation, incarnationLengthOffset + 1);
  view.setFloat64(counterOffset, record.counter, true);
  view.setUint32(crcOffset, crc32c(out.subarray(0, crcOffset)), true);
  return out;
}

/** Decodes one slot; null for an empty, torn or foreign slot. */
export function decodeLeaseSlot(bytes: Uint8Array): LeaseRecord | null {
  if (bytes.length !== leaseSlotBytes) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(magicOffset, true) !== slotMagic) return null;
  if (view.getUint32(crcOffset, true) !== crc32c(bytes.subarray(0, crcOffset))) return null;
  if (view.getUint8(versionOffset) !== slotVersion) return null;
  const state = statesByCode.get(view.getUint8(stateOffset));
  const nameLength = view.getUint8(nameLengthOffset);
  const incarnationLength = view.getUint8(incarnationLengthOffset);
  const counter = view.getFloat64(counterOffset, true);
  if (state === undefined || nameLength > leaseNameBytesMax || incarnationLength > leaseIncarnationBytesMax) return null;
  try {
    const node = decoder.decode(bytes.subarray(nameLengthOffset + 1, nameLengthOffset + 1 + nameLength));
    const incarnation = decoder.decode(bytes.subarray(incarnationLengthOffset + 1, incarnationLengthOffset + 1 + incarnationLength));
    if (leaseIdentityProblem(node, incarnation) !== null || !Number.isSafeInteger(counter) || counter < 0) return null;
    return { node, counter, state, incarnation };
  } catch {
    return null; // invalid UTF-8 under a valid CRC: written by something else, not ours
  }
}

/**
 * One claimed slot with its encoded bytes kept in memory, so that a renewal patches the counter,
 * state and CRC in place and writes 128 bytes: no allocation, no fsync, no lock.
 */
export class LeaseSlotWriter {
  readonly index: number;
  readonly record: Readonly<LeaseRecord>;
  private readonly bytes = new Uint8Array(leaseSlotBytes);
  private readonly view = new DataView(this.bytes.buffer);
  private readonly crcSpan = this.bytes.subarray(0, crcOffset);

  constructor(index: number, node: NodeName, incarnation: string) {
    assert.ok(Number.isInteger(index) && index >= 0 && index < leaseSlotsMax, `lease slot ${index} out of range`);
    this.index = index;
    this.record = { node, incarnation, counter: 0, state: 'running' };
    encodeLeaseSlot(this.record, this.bytes);
  }

  /** Writes the slot with `counter` and `state`; throws the fs error if the write fails. */
  write(fd: number, counter: number, state: LeaseState): void {
    assertCounter(counter);
    this.view.setUint8(stateOffset, stateCodes[state]);
    this.view.setFloat64(counterOffset, counter, true);
    this.view.setUint32(crcOffset, crc32c(this.crcSpan), true);
    writeWhole(fd, this.bytes.subarray(0, leasePartBytes), slotOffset(this.index));
  }
}

export function slotOffset(index: number): number {
  return index * leaseSlotBytes;
}

function writeWhole(fd: number, bytes: Uint8Array, position: number): void {
  const written = fs.writeSync(fd, bytes, 0, bytes.length, position);
  // A short write of a 128-byte positional write means the device failed; report it, never retry blindly.
  if (written !== bytes.length) throw new Error(`short write to the lease file: ${written} of ${bytes.length} bytes`);
}

/** Zeroes one slot's lease part (eviction): readers skip it from now on; its floor stays. */
export function zeroLeaseSlot(fd: number, index: number): void {
  writeWhole(fd, new Uint8Array(leasePartBytes), slotOffset(index));
}

/** One slot's recorded floor: null when none was recorded, 'damaged' when its bytes fail their CRC. */
export function decodeLeaseFloor(slot: Uint8Array): { term: number; epoch: number } | null | 'damaged' {
  if (slot.length !== leaseSlotBytes) return 'damaged';
  const part = slot.subarray(leasePartBytes);
  if (part.every((b) => b === 0)) return null;
  const view = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  if (view.getUint32(floorCrcOffset, true) !== crc32c(slot.subarray(floorTermOffset, floorCrcOffset))) return 'damaged';
  return { term: view.getUint32(floorTermOffset, true), epoch: view.getUint32(floorEpochOffset, true) };
}

/** The floor part of a slot holding `floor` (each value at most leaseFloorMax). */
export function encodeLeaseFloor(floor: { term: number; epoch: number }): Uint8Array {
  assert.ok(Number.isSafeInteger(floor.term) && floor.term >= 0 && floor.term <= leaseFloorMax, `floor term ${floor.term} out of range`);
  assert.ok(Number.isSafeInteger(floor.epoch) && floor.epoch >= 0 && floor.epoch <= leaseFloorMax, `floor epoch ${floor.epoch} out of range`);
  const out = new Uint8Array(floorPartBytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, floor.term, true);
  view.setUint32(4, floor.epoch, true);
  view.setUint32(8, crc32c(out.subarray(0, 8)), true);
  return out;
}

/**
 * Raises the floor of slot `index` to at least `floor` and makes it durable (fdatasync) before it
 * returns: a token is used only once it is recorded. A damaged floor part is replaced (this node
 * knows its own floor). Returns the floor now recorded.
 */
export function raiseLeaseFloorAt(fd: number, index: number, floor: { term: number; epoch: number }): { term: number; epoch: number } {
  const slot = new Uint8Array(leaseSlotBytes);
  const got = fs.readSync(fd, slot, 0, leaseSlotBytes, slotOffset(index));
  const was = got === leaseSlotBytes ? decodeLeaseFloor(slot) : null;
  const now = was === null || was === 'damaged' ? floor : { term: Math.max(was.term, floor.term), epoch: Math.max(was.epoch, floor.epoch) };
  if (was !== null && was !== 'damaged' && was.term === now.term && was.epoch === now.epoch) return now;
  writeWhole(fd, encodeLeaseFloor(now), slotOffset(index) + leasePartBytes);
  fs.fdatasyncSync(fd);
  return now;
}

/** Every slot's recorded floor, with the node whose lease the slot holds (null if none), and the slots whose floor is damaged. */
export function readLeaseFloorSlots(fd: number): { index: number; node: NodeName | null; floor: { term: number; epoch: number } | 'damaged' }[] {
  const bytes = new Uint8Array(leaseFileBytes);
  const got = fs.readSync(fd, bytes, 0, bytes.length, 0);
  const out: { index: number; node: NodeName | null; floor: { term: number; epoch: number } | 'damaged' }[] = [];
  for (let i = 0; i < leaseSlotsMax; i++) {
    const start = slotOffset(i);
    const slot = bytes.subarray(start, start + leaseSlotBytes);
    const floor = start + leaseSlotBytes <= got ? decodeLeaseFloor(slot) : 'damaged';
    if (floor !== null) out.push({ index: i, node: decodeLeaseSlot(slot)?.node ?? null, floor });
  }
  return out;
}

/** Reads every slot with one read; index i of the result is slot i (null when empty or invalid). */
export function readLeaseSlots(fd: number): (LeaseRecord | null)[] {
  const bytes = new Uint8Array(leaseFileBytes);
  const got = fs.readSync(fd, bytes, 0, bytes.length, 0);
  const slots: (LeaseRecord | null)[] = [];
  for (let i = 0; i < leaseSlotsMax; i++) {
    const start = slotOffset(i);
    slots.push(start + leaseSlotBytes <= got ? decodeLeaseSlot(bytes.subarray(start, start + leaseSlotBytes)) : null);
  }
  return slots;
}

/** Creates (or resets) the lease file at its full size and makes it durable with its directory entry. */
export function createLeaseFile(filePath: string): void {
  const fd = fs.openSync(filePath, 'w', 0o600);
  try {
    writeWhole(fd, new Uint8Array(leaseFileBytes), 0);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fsyncDirectory(path.dirname(filePath));
}

export function fsyncDirectory(dirPath: string): void {
  const fd = fs.openSync(dirPath, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Marks `node`'s slot `fenced` if it still carries `incarnation`. Called by the resource monitor
 * after it stopped every resource because its clusterd died, so that other nodes may take over
 * without waiting out the lease TTL. Returns false if the file, the slot or the incarnation is
 * not there (a new clusterd has claimed the slot since: its lease is the truth now).
 * A new clusterd claiming the slot at the same instant can be overwritten by this write; its
 * next renewal rewrites the whole slot with its own incarnation, so that heals in one heartbeat.
 */
export function markLeaseFenced(dirPath: string, node: NodeName, incarnation: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(path.join(dirPath, leaseFileName), 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  try {
    const slots = readLeaseSlots(fd);
    const index = slots.findIndex((slot) => slot?.node === node);
    const slot = slots[index];
    if (!slot || slot.incarnation !== incarnation) return false;
    writeWhole(fd, encodeLeaseSlot({ ...slot, state: 'fenced' }).subarray(0, leasePartBytes), slotOffset(index));
    return true;
  } finally {
    fs.closeSync(fd);
  }
}
