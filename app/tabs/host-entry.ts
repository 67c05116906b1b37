// What a tab and the host it shares with the other tabs say to each other, over
// the shared worker's port with comlink: the tab joins (and hands the host a
// way to start PCs in it, and to tell it what happens), sends the same
// commands a page in one tab calls directly, as data, and leaves. A PC's
// commands and the COLO link between two PCs never pass through here: the
// host reaches each PC's worker by a port of its own.
import type { ClusterCommand, ClusterUpdate } from '../../engine/host/surface.ts';

/** The query a tab of a two-tab run is opened with. */
export const TABS_QUERY = 'tabs';

/** What the host may ask of a tab. */
export interface TabApi {
  /** Starts a PC's worker in this tab: its number here, and the port its commands go to (moved to the host). */
  spawn(): { id: number; port: MessagePort };
  /** Ends the worker `id` at once, as a crash would. */
  end(id: number): void;
}

/** What a tab may ask of the host. */
export interface HostEntry {
  /** Joins; `tab` starts PCs here, `update` is told what happens. Resolves with this tab's number. */
  join(tab: TabApi, assetBase: string, update: (update: ClusterUpdate) => void): Promise<number>;
  dispatch(command: ClusterCommand): Promise<unknown>;
  /** The tab is going: its PCs end with it. */
  leave(): void;
}
