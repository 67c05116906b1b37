// Write tracking in v86 (tools/write-tracking-wasm.ts builds the tracking
// v86.wasm): the guest's writes to RAM mark a byte per 4 KiB page in a map the
// engine owns, once `rearm` has made every TLB entry read-only. The engine
// reads and clears the map at each checkpoint, with the VM stopped.
import type { WriteTracker } from '../checkpoint/machine-state.ts';
import { AssetError } from './asset-check.ts';
import { readUnpacked, type AssetSource } from './asset-source.ts';
import type { AssetManifest } from './guest-config.ts';

/** What the tracking build adds to v86.wasm's exports. */
export const TRACKING_EXPORTS = {
  /** Global: address of the map in v86's memory (one byte per page; 0 = nothing marked). */
  map: 'colo_track_map',
  /** Global: pages the map covers; 0 turns marking off. */
  pages: 'colo_track_pages',
  /** Global: address of guest RAM in v86's memory (a TLB entry holds it added in). */
  ramBase: 'colo_track_ram_base',
  /** Function: TLB_READONLY on every valid TLB entry. */
  rearm: 'colo_rearm',
} as const;

/** The tracking build's file name in wasm-assets/: gzip, 0.4 MB of 2.1 (no .gz ending: a static server would add Content-Encoding). */
export const TRACKING_WASM_FILE = 'v86-tracking.wasmgz';

export type V86Wasm = { bytes: ArrayBuffer; tracking: true } | { bytes: ArrayBuffer; tracking: false; why: string };

/** The tracking build when it is there, whole, and made from this v86; otherwise v86's own, and why. */
export async function readV86Wasm(source: AssetSource, manifest: AssetManifest, v86Version: string): Promise<V86Wasm> {
  const plain = async (why: string): Promise<V86Wasm> => ({ bytes: await source.readWasm(), tracking: false, why });
  const record = manifest.tracking;
  if (!record) return plain('manifest.json has no write-tracking build');
  if (record.v86Version !== v86Version) return plain(`the write-tracking build is made from v86 ${record.v86Version}, this is v86 ${v86Version}`);
  try {
    return { bytes: await readUnpacked(source, manifest, record.file, record.bytes), tracking: true };
  } catch (err) {
    if (err instanceof AssetError) return plain(err.message);
    throw err;
  }
}

/** The machine's side of a tracker: it counts the writes it makes behind the tracking's back. */
export interface V86WriteTracker extends WriteTracker {
  untrackedWrites: number;
}

/** The tracking build's controls from its instance's exports, or why they are not there. */
export function openWriteTracker(exports: WebAssembly.Exports, ramOffset: number, ramBytes: number): V86WriteTracker | { unavailable: string } {
  const map = exports[TRACKING_EXPORTS.map];
  const pages = exports[TRACKING_EXPORTS.pages];
  const ramBase = exports[TRACKING_EXPORTS.ramBase];
  const rearm = exports[TRACKING_EXPORTS.rearm];
  if (
    !(map instanceof WebAssembly.Global) ||
    !(pages instanceof WebAssembly.Global) ||
    !(ramBase instanceof WebAssembly.Global) ||
    typeof rearm !== 'function'
  ) {
    return { unavailable: 'this v86.wasm has no write-tracking exports' };
  }
  const tracker: V86WriteTracker = {
    untrackedWrites: 0,
    wroteBehind: () => void tracker.untrackedWrites++,
    attach(at: number) {
      // Writes from now on go to another map: the one before misses them.
      if (map.value !== at) tracker.untrackedWrites++;
      ramBase.value = ramOffset;
      map.value = at;
      pages.value = ramBytes / 4096;
    },
    rearm: () => (rearm as () => void)(),
  };
  return tracker;
}
