/**
 * Distribution capability flags, exchanged in the handshake (64 bits since the OTP 23 handshake).
 *
 * The connection uses the intersection of both sides' flags. OTP 25 refuses a peer lacking any of
 * MANDATORY_25; OTP 26 adds V4_NC and UNLINK_ID. We advertise every capability we implement and
 * leave out PUBLISHED, which is what makes us a hidden node: we appear in `nodes(hidden)` and not
 * in `nodes()`, and global name registration never syncs with us.
 */

export const DFLAG = {
  PUBLISHED: 0x1n,
  ATOM_CACHE: 0x2n,
  EXTENDED_REFERENCES: 0x4n,
  DIST_MONITOR: 0x8n,
  FUN_TAGS: 0x10n,
  DIST_MONITOR_NAME: 0x20n,
  HIDDEN_ATOM_CACHE: 0x40n,
  NEW_FUN_TAGS: 0x80n,
  EXTENDED_PIDS_PORTS: 0x100n,
  EXPORT_PTR_TAG: 0x200n,
  BIT_BINARIES: 0x400n,
  NEW_FLOATS: 0x800n,
  UNICODE_IO: 0x1000n,
  DIST_HDR_ATOM_CACHE: 0x2000n,
  SMALL_ATOM_TAGS: 0x4000n,
  UTF8_ATOMS: 0x10000n,
  MAP_TAG: 0x20000n,
  BIG_CREATION: 0x40000n,
  SEND_SENDER: 0x80000n,
  BIG_SEQTRACE_LABELS: 0x100000n,
  EXIT_PAYLOAD: 0x400000n,
  FRAGMENTS: 0x800000n,
  HANDSHAKE_23: 0x1000000n,
  UNLINK_ID: 0x2000000n,
  MANDATORY_25_DIGEST: 0x4000000n,
  SPAWN: 1n << 32n,
  NAME_ME: 1n << 33n,
  V4_NC: 1n << 34n,
  ALIAS: 1n << 35n,
} as const;

export type FlagName = keyof typeof DFLAG;

/** Flags OTP 25 requires of every peer (dist_util's MANDATORY_DFLAGS_25 / erts' DFLAG_DIST_MANDATORY_25). */
export const MANDATORY_25 =
  DFLAG.EXTENDED_REFERENCES |
  DFLAG.FUN_TAGS |
  DFLAG.EXTENDED_PIDS_PORTS |
  DFLAG.UTF8_ATOMS |
  DFLAG.NEW_FUN_TAGS |
  DFLAG.BIG_CREATION |
  DFLAG.NEW_FLOATS |
  DFLAG.MAP_TAG |
  DFLAG.EXPORT_PTR_TAG |
  DFLAG.BIT_BINARIES |
  DFLAG.HANDSHAKE_23;

/** Added to the mandatory set in OTP 26. */
export const MANDATORY_26 = DFLAG.V4_NC | DFLAG.UNLINK_ID;

/** What we require of a peer: the OTP 25 set (we speak only the version 6 handshake). */
export const REQUIRED_OF_PEER = MANDATORY_25;

/**
 * What we advertise. Not PUBLISHED (hidden), not SPAWN (we never accept spawn requests), not
 * NAME_ME (our name is fixed before connecting).
 */
export const OUR_FLAGS =
  MANDATORY_25 |
  MANDATORY_26 |
  DFLAG.MANDATORY_25_DIGEST |
  DFLAG.DIST_MONITOR |
  DFLAG.DIST_MONITOR_NAME |
  DFLAG.UNICODE_IO |
  DFLAG.DIST_HDR_ATOM_CACHE |
  DFLAG.SMALL_ATOM_TAGS |
  DFLAG.SEND_SENDER |
  DFLAG.BIG_SEQTRACE_LABELS |
  DFLAG.EXIT_PAYLOAD |
  DFLAG.FRAGMENTS |
  DFLAG.ALIAS;

/** Names of the flags of `mask` that `flags` lacks, e.g. ['UTF8_ATOMS']. */
export function missingFlags(flags: bigint, mask: bigint): string[] {
  const out: string[] = [];
  for (const [name, bit] of Object.entries(DFLAG)) {
    if ((mask & bit) !== 0n && (flags & bit) === 0n) out.push(name);
  }
  return out;
}

/** Names of every flag set in `flags`, for diagnostics. */
export function flagNames(flags: bigint): string[] {
  return Object.entries(DFLAG)
    .filter(([, bit]) => (flags & bit) !== 0n)
    .map(([name]) => name);
}

/**
 * MANDATORY_25_DIGEST stands for the whole OTP 25 mandatory set (OTP 25 nodes treat it so): a peer
 * that sets it has those capabilities even if it leaves their individual bits out.
 */
export function expandDigest(flags: bigint): bigint {
  return (flags & DFLAG.MANDATORY_25_DIGEST) !== 0n ? flags | MANDATORY_25 : flags;
}
