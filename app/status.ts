// The page's status line and progress bar, shared by the entry and the views.

export function element(selector: string): HTMLElement {
  const found = document.querySelector<HTMLElement>(selector);
  if (!found) throw new Error(`page: missing ${selector}`);
  return found;
}

const status = element('[data-status]');
const progress = element('[data-progress]') as HTMLProgressElement;

export function setStatus(text: string, state: string, step?: number): void {
  status.textContent = text;
  document.body.dataset.state = state;
  if (step !== undefined) progress.value = step;
}

export function hideProgress(): void {
  progress.hidden = true;
}
