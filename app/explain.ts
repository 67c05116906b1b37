// What each step of COLO is for, in words a newcomer can follow. Used by the
// timeline's detail box and by the guided tour.
import type { ColoMessageType } from '../engine/protocol/messages.ts';
import type { CheckpointMode } from '../engine/replication/config.ts';

export const MESSAGE_MEANING: Record<ColoMessageType | 'colo-exit', string> = {
  'checkpoint-ready':
    'The secondary is set up and can take checkpoints, and says what it holds already: the booted snapshot both PCs were built from, named by its hash. Sent once; the primary answers with the first checkpoint (the initial sync): only what differs from that snapshot when it holds the same one, else a full copy of itself.',
  'checkpoint-request': 'The primary starts a checkpoint. Until the secondary has the new state, nothing the primary says to clients may leave.',
  'checkpoint-reply': 'The secondary is ready to receive. The primary now stops its VM, so that the state it captures is one consistent instant.',
  'vmstate-send': 'The primary has captured its state (CPU, devices, and the RAM pages that changed, or all of it in naive mode) and the bytes follow.',
  'vmstate-size':
    'The size and checksum of the state, with the bytes themselves, moved (transferred, not copied) to the secondary, which stages them and checks every byte before it accepts them.',
  'vmstate-received':
    'The secondary holds the whole checkpoint. From this moment a failover cannot lose anything the primary did before it, so the primary releases the client replies that this checkpoint covers (output commit).',
  'vmstate-loaded':
    'The secondary has loaded the state: it is now an exact copy. It hands the buffer back for the next checkpoint, and the primary resumes running (in speculative mode it already has).',
  'colo-exit': 'One side left COLO because of an error and tells the other. The primary carries on alone, unprotected.',
};

export const MODE_MEANING: Record<CheckpointMode, string> = {
  strict:
    "Only the 4 KiB pages that changed since the last checkpoint travel, found by comparing RAM with a shadow copy at memory speed. The primary stays stopped until the secondary has loaded them, as in QEMU's COLO.",
  speculative:
    'Changed pages only, and the primary runs again as soon as they are captured, while they travel and load (as Remus does). Replies still wait for vmstate-received, so clients are just as safe; the pause is shorter.',
  naive:
    "v86's own save_state: the whole machine (all of RAM, every device) is saved, moved and restored at every checkpoint. The baseline the other two are measured against.",
};

const CAUSE_MEANING: Record<string, string> = {
  initial: 'the first checkpoint of a pair: what differs from the booted snapshot both hold, or a full copy',
  periodic: 'the period elapsed',
  manual: 'someone pressed Checkpoint now',
  mismatch: 'compare mode: the two PCs answered a request differently, so the secondary is brought back in step',
  timeout: 'compare mode: one PC wrote a reply the other did not write in time',
};

export const causeMeaning = (cause: string): string => CAUSE_MEANING[cause] ?? cause;

export const COMPARE_MEANING =
  'Compare mode (COLO proper): both PCs run and get every request; a reply leaves as soon as both wrote the same one, with no checkpoint. A different reply, or none within 3 s from either PC, makes a checkpoint at once, and that reply leaves when the checkpoint is safe. A reply the secondary wrote before a checkpoint it then loaded no longer counts: the load rolled it back.';

export const PHASE_MEANING = {
  pause:
    'Primary paused: from the stop for capture until it resumes (after vmstate-loaded, or right after capture in speculative mode). Every millisecond here is lost service.',
  load: 'The secondary loading the staged state into its VM.',
} as const;
