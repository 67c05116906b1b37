// Helpers for tests that run a real replicated pair.
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

export async function startCluster<N extends ClusterNode>(
  options: { spawn: () => N; replication?: ReplicationConfig } & Omit<ClusterOptions<N>, 'replication' | 'spawn'>,
): Promise<ColoCluster<N>> {
  const cluster = new ColoCluster<N>({ replication: TEST_REPLICATION, ...options });
  await cluster.start();
  await cluster.waitFor(() => cluster.protected, 60_000, 'protected');
  return cluster;
}

/** Sends one request and waits until its reply is released to the client. */
export function ask(cluster: ColoCluster<ClusterNode>, operation: ClientOperation, timeoutMs = 30_000): Promise<string> {
  return cluster.ask(operation, timeoutMs);
}

/**
 * Audits the ledger that serves the client against everything the client was
 * shown (every answered id asked again, then the total), and returns every
 * violation the checker found over the whole run: a test expects none.
 */
export async function audited(cluster: ColoCluster<ClusterNode>): Promise<string[]> {
  await cluster.auditLedger(30_000);
  return cluster.client.summary().violations;
}

type MessageTrace = TraceEvent & { kind: 'message' };

export function messageSeen(cluster: ColoCluster<ClusterNode>, at: 'sent' | 'received', to: Side, type: ColoMessageType, minCheckpoint = 0): MessageTrace | undefined {
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
