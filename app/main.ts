// The page: one primary VM started from the booted snapshot, its serial
// console and VGA text screen, and a line input for shell commands.
import { spawnBrowserVm } from '../engine/worker/spawn.browser.ts';

const SCREEN_REFRESH_MS = 250;
const MAX_TERMINAL_CHARS = 200_000;

function element<T extends HTMLElement>(selector: string): T {
  const found = document.querySelector<T>(selector);
  if (!found) throw new Error(`page: missing ${selector}`);
  return found;
}

const status = element<HTMLElement>('[data-vm-status]');
const progress = element<HTMLProgressElement>('[data-vm-progress]');
const serial0 = element<HTMLPreElement>('[data-serial0]');
const screen = element<HTMLPreElement>('[data-screen]');
const form = element<HTMLFormElement>('[data-shell-form]');
const input = element<HTMLInputElement>('[data-shell-input]');

// Terminal queries (cursor position requests, colours) are not drawn.
const stripEscapes = (text: string) => text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');

function setStatus(text: string, state: string): void {
  status.textContent = text;
  document.body.dataset.vmState = state;
}

async function main(): Promise<void> {
  const vm = spawnBrowserVm();
  setStatus('Fetching and verifying guest assets…', 'loading');
  progress.value = 1;
  vm.subscribe((events) => {
    for (const event of events) {
      if (event.type === 'serial' && event.port === 0) {
        serial0.textContent = (serial0.textContent + stripEscapes(event.text)).slice(-MAX_TERMINAL_CHARS);
        serial0.scrollTop = serial0.scrollHeight;
      }
    }
  });
  const report = await vm.start({ mode: 'snapshot', assetBase: new URL(import.meta.env.BASE_URL, location.href).href });
  progress.value = 2;
  setStatus('Restored the booted snapshot; waiting for the shell…', 'starting');
  const probe = await vm.shell('uname -sr');
  progress.value = 3;
  progress.hidden = true;
  const ready = performance.now();
  setStatus(
    `Running ${probe.trim()} — interactive ${Math.round(ready)} ms after page open ` +
      `(assets ${Math.round(report.assetsMs)} ms, restore ${Math.round(report.restoreMs)} ms)`,
    'interactive',
  );
  document.body.dataset.interactiveMs = String(Math.round(ready));
  input.disabled = false;
  input.focus();

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void vm.machine.sendSerial(0, input.value + '\n');
    input.value = '';
  });
  setInterval(() => {
    void vm.machine.textScreen().then((rows) => {
      screen.textContent = rows.map((row) => row.trimEnd()).join('\n');
    });
  }, SCREEN_REFRESH_MS);
}

main().catch((err: unknown) => {
  setStatus(`Failed: ${err instanceof Error ? err.message : String(err)}`, 'failed');
  console.error(err);
});
