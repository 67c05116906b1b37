// The channel between the two workers of a pair: one MessageChannel whose
// ports move into the workers, or, for fault-injection tests, two channels
// with the host relaying every message through a tap.
import type { Side } from '../protocol/messages.ts';

/**
 * Sees every message between the two workers and returns what to deliver in
 * its place: the message itself, an altered copy, nothing, or more.
 */
export type WireTap = (from: Side, message: WireData) => WireData[];
export type WireData = Record<string, unknown> & { payload?: ArrayBuffer };

export interface Wiring {
  primaryPort: MessagePort;
  secondaryPort: MessagePort;
  /** Ports the host itself keeps (only when it relays). */
  relayPorts: MessagePort[];
}

export function directChannel(): [MessagePort, MessagePort] {
  const channel = new MessageChannel();
  return [channel.port1, channel.port2];
}

export function wiring([primaryPort, secondaryPort]: [MessagePort, MessagePort]): Wiring {
  return { primaryPort, secondaryPort, relayPorts: [] };
}

/** Two channels with the host in the middle, relaying through the tap. */
export function tappedChannel(tap: WireTap): Wiring {
  const toPrimary = new MessageChannel();
  const toSecondary = new MessageChannel();
  const relay = (from: Side, into: MessagePort) => (event: MessageEvent) => {
    for (const out of tap(from, event.data as WireData)) into.postMessage(out, out.payload ? [out.payload] : []);
  };
  toPrimary.port2.onmessage = relay('primary', toSecondary.port2);
  toSecondary.port2.onmessage = relay('secondary', toPrimary.port2);
  return { primaryPort: toPrimary.port1, secondaryPort: toSecondary.port1, relayPorts: [toPrimary.port2, toSecondary.port2] };
}

/** The channel of a new pair: tapped when a test taps it, else the given kind, else a MessageChannel. */
export function pairChannel(options: { wireTap?: WireTap | undefined; channel?: (() => [MessagePort, MessagePort]) | undefined }): Wiring {
  return options.wireTap ? tappedChannel(options.wireTap) : wiring((options.channel ?? directChannel)());
}
