// Scenario links: a setup written to a URL and read back, and what the page cannot use named.
import { describe, expect, it } from 'vitest';
import { parseScenario, scenarioQuery, type Scenario } from '../../app/scenario.ts';

describe('scenario links', () => {
  it('reads back what it wrote', () => {
    const scenario: Scenario = { mode: 'speculative', periodMs: 250, compare: true, step: true, breakBefore: 'vmstate-send', fault: 'kill-primary' };
    const query = scenarioQuery(scenario);
    expect(query).toBe('?mode=speculative&period=250&compare=on&step=on&break=vmstate-send&fault=kill-primary');
    expect(parseScenario(query)).toEqual({ scenario, problems: [] });
    expect(scenarioQuery({})).toBe('');
  });

  it('names each value it cannot use, and a fault with no breakpoint to inject it at', () => {
    const { scenario, problems } = parseScenario('?mode=fast&period=5&break=vmstate-sent&fault=kill-primary&compare=yes');
    expect(scenario).toEqual({ fault: 'kill-primary' });
    expect(problems).toEqual([
      'mode=fast: expected naive, strict, speculative',
      'period=5: expected milliseconds, at least 10',
      'compare=yes: expected on or off',
      expect.stringMatching(/^break=vmstate-sent: expected checkpoint-ready, checkpoint-request, /),
      'fault=kill-primary: it is injected when a breakpoint stops, and there is no break=',
    ]);
  });
});
