/**
 * A tiny DOM builder: every page builds its elements with h(), so text from the server is always set as
 * text (never parsed as HTML) and no template strings carry markup.
 */

/**
 * Make an element.
 * @param {string} tag element name
 * @param {Record<string, unknown>} [attrs] attributes; "class", "style", "dataset", "on<event>" and booleans handled
 * @param {...(Node|string|number|null|undefined|false)} children text or nodes; empty values are skipped
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = String(value);
    // Through the CSSOM: the Content-Security-Policy (style-src 'self') refuses a style attribute set as markup.
    else if (key === "style") el.style.cssText = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, ...children);
  return el;
}

/** Append children, skipping empty ones. */
export function append(parent, ...children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
  return parent;
}

/** Replace an element's children. */
export function replaceChildren(parent, ...children) {
  parent.replaceChildren();
  return append(parent, ...children);
}
