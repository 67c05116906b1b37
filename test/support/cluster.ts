// Helpers for tests that run a real replicated pair.
import { ClientSession } from '../../engine/host/client-session.ts';
import { ColoCluster, type ClusterOptions } from '../../engine/host/cluster.ts';
import type { ClusterNode } from '../../engine/replication/commands.ts';
import { DEFAULT_REPLICATION, type ReplicationConfig } from '../../engine/replication/config.ts';
import type { ColoMessageType, Side } from '../../engine/protocol/messages.ts';
import type { TraceEvent } from '../../engine/protocol/trace.ts';
import type { ClientOperation } from '../../engine/host/ledger-client.ts';

export const TEST_REPLICATION: ReplicationConfig = {
  ...DEFAULT_REPLICATION,
  periodMs: 200,
};

/** A pair with the one client the host would own: the host's wiring, and the client's way through it. */
export class TestCluster<N extends ClusterNode = ClusterNode> extends ColoCluster<N> {
  readonly client = new ClientSession(this, this.clock);

  override dispose(): void {
    this.client.dispose();
    super.dispose();
  }
}

export async function startCluster<N extends ClusterNode>(
  options: { spawn: () => N; replication?: ReplicationConfig } & Omit<ClusterOptions<N>, 'replication' | 'spawn'>,
): Promise<TestCluster<N>> {
  const cluster = new TestCluster<N>({ replication: TEST_REPLICATION, ...options });
  await cluster.start();
  await cluster.waitFor(() => cluster.protected, 60_000, 'protected');
  return cluster;
}

/** Sends one request and waits until its reply is released to the client. */
export function ask(cluster: TestCluster, operation: ClientOperation, timeoutMs = 30_000): Promise<string> {
  return cluster.client.ask(operation, timeoutMs);
}

/**
 * Audits the ledger that serves the client against everything the client was
 * shown (every answered id asked again, then the total), and returns every
 * violation the checker found over the whole run: a test expects none.
 */
export async function audited(cluster: TestCluster): Promise<string[]> {
  await cluster.client.auditLedger(30_000);
  return cluster.client.ledger.summary().violations;
}

type MessageTrace = TraceEvent & { kind: 'message' };

export function messageSeen(
  cluster: ColoCluster<ClusterNode>,
  at: 'sent' | 'received',
  to: Side,
  type: ColoMessageType,
  minCheckpoint = 0,
): MessageTrace | undefined {
  return cluster.trace.find(
    (e): e is MessageTrace => e.kind === 'message' && e.at === at && e.to === to && e.type === type && (e.checkpoint ?? 0) >= minCheckpoint,
  );
}

export function heldSeen(cluster: ColoCluster<ClusterNode>, side: Side, type: ColoMessageType): (TraceEvent & { kind: 'held' }) | undefined {
  return cluster.trace.find((e): e is TraceEvent & { kind: 'held' } => e.kind === 'held' && e.side === side && e.type === type);
}

export function takeoverFrom(cluster: ColoCluster): number | undefined {
  const event = cluster.trace.find((e): e is TraceEvent & { kind: 'takeover' } => e.kind === 'takeover');
  return event?.from;
}
