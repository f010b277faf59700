// The dashboard's requests: same-origin, the session cookie, and the header that
// tells the server a change comes from this page's own script.

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

import { language } from "./i18n.js";

export async function api(method, path, body) {
  // reasons and labels in the language chosen here, not the browser's
  const headers = { Accept: "application/json", "Accept-Language": language() };
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET") init.headers["X-Anxin-Request"] = "1";
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    // the server's words in the language asked for; a proxy's error page has none
    const message = data?.message || data?.detail || `HTTP ${response.status}`;
    throw new ApiError(response.status, message, data?.code);
  }
  return data;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// replaceChildren, leaving out the parts a condition left empty (it would write "null")
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}
