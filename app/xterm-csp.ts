// xterm.js under the page's Content-Security-Policy (index.html: `style-src
// 'self'`, no 'unsafe-inline'). xterm 6's DOM renderer styles itself with
// <style> elements it creates (the theme with its 256 colour classes, the cell
// size, the scrollbar) and gives some cells a style="" attribute (24-bit
// colours, the selection); the policy refuses both, which leaves the consoles
// unstyled and colourless. vite.config.ts (`xtermWithoutInlineStyles`) rewrites
// the library as it is loaded: its <style> elements become
// <xterm-adopted-style>, defined here, whose text goes to a constructable
// stylesheet the document adopts, and its style attributes are set through
// `element.style`. Both are CSSOM, which the policy allows.
//
// Import Terminal from here, not from '@xterm/xterm': this module defines the
// element before any terminal exists.
import { Terminal } from '@xterm/xterm';

/** The tag vite.config.ts gives xterm's <style> elements. */
export const XTERM_STYLE_TAG = 'xterm-adopted-style';

/** Stands in for a <style>: the text xterm writes is a stylesheet adopted by the element's document (or shadow root) while it is in one. */
class AdoptedStyleElement extends HTMLElement {
  private readonly sheet = new CSSStyleSheet();
  private css = '';
  private adoptedBy: Document | ShadowRoot | undefined;

  override get textContent(): string {
    return this.css;
  }

  override set textContent(css: string | null) {
    this.css = css ?? '';
    this.sheet.replaceSync(this.css);
  }

  connectedCallback(): void {
    this.hidden = true;
    const root = this.getRootNode();
    if (!(root instanceof Document || root instanceof ShadowRoot)) return;
    root.adoptedStyleSheets = [...root.adoptedStyleSheets, this.sheet];
    this.adoptedBy = root;
  }

  disconnectedCallback(): void {
    const root = this.adoptedBy;
    if (!root) return;
    root.adoptedStyleSheets = root.adoptedStyleSheets.filter((sheet) => sheet !== this.sheet);
    this.adoptedBy = undefined;
  }
}

if (!customElements.get(XTERM_STYLE_TAG)) customElements.define(XTERM_STYLE_TAG, AdoptedStyleElement);

export { Terminal };
