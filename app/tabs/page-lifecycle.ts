// A tab that leaves takes its PCs with it, whether the page is closed or
// kept in the back-forward cache (`pagehide` with `persisted`): a cached page
// is frozen, workers and all, and one that came back would run PCs the host
// has since replaced, a zombie primary among them. So its PCs end as the page
// hides, the host is told, and a page restored from the cache loads afresh,
// joining as a new tab.

/** What a leaving tab does: end its PCs and say goodbye; and how it starts again. */
export interface TabExit {
  endPcs(): void;
  sayGoodbye(): void;
  reload(): void;
}

type PageTransition = Event & { persisted?: boolean };

/** Listens on `page` (the window) for the tab leaving and coming back; returns how to stop. */
export function leaveWithThePage(page: EventTarget, exit: TabExit): () => void {
  const hide = () => {
    exit.endPcs();
    exit.sayGoodbye();
  };
  const show = (event: Event) => {
    if ((event as PageTransition).persisted) exit.reload();
  };
  page.addEventListener('pagehide', hide);
  page.addEventListener('pageshow', show);
  return () => {
    page.removeEventListener('pagehide', hide);
    page.removeEventListener('pageshow', show);
  };
}
