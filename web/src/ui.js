// What the page tells a person: the error and notice regions, and small formatters.

const $ = (sel) => document.querySelector(sel);

let noticeTimer = 0;

/** showError puts a failure a person can act on in #error. */
export function showError(text) {
  const box = $('#error-box');
  $('#error').textContent = text;
  box.hidden = false;
}

export function clearError() {
  $('#error').textContent = '';
  $('#error-box').hidden = true;
}

/** notice says other news in #notice, for a while. */
export function notice(text) {
  const el = $('#notice');
  el.textContent = text;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    if (el.textContent === text) el.textContent = '';
  }, 8000);
}

/** failure words an APIError: what failed, why, and what to do. */
export function failure(what, err) {
  if (err && err.status === 0) return err.message;
  const msg = err && err.message ? err.message : String(err);
  let todo = '';
  if (err && err.status === 401) todo = ' Your API key is no longer accepted: sign out and sign in with a valid key.';
  else if (err && err.status === 503) todo = ' Try again in a moment.';
  else if (err && err.status >= 500) todo = ' Try again; if it goes on, look at the server log.';
  return `${what}: ${msg}${/[.!?]$/.test(msg) ? '' : '.'}${todo}`;
}

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** formatSize writes a byte count for a person, in the CLI's units (1024-based). */
export function formatSize(n) {
  if (!Number.isFinite(n)) return '';
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** formatDate writes an RFC 3339 time in the reader's locale. */
export function formatDate(s) {
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s || '';
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** el makes an element with properties and children. */
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role' || k === 'for') e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) {
    if (c !== null && c !== undefined) e.append(c);
  }
  return e;
}
