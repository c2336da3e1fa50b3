// The API client: the origin, the key (kept in memory and in the tab's
// sessionStorage, sent only in the Authorization header) and one fetch
// wrapper that turns every failure into an APIError a person can act on.

const STORAGE_KEY = 'perseus.key';

function configuredOrigin() {
  const meta = document.querySelector('meta[name="perseus-api"]');
  const v = meta ? meta.getAttribute('content').trim() : '';
  return v ? v.replace(/\/+$/, '') : window.location.origin;
}

/** The API's origin: the page's own unless <meta name="perseus-api"> names another. */
export const apiOrigin = configuredOrigin();

/** apiURL returns the absolute URL of an API path. */
export function apiURL(path) {
  return apiOrigin + path;
}

let key = null;

export function currentKey() {
  return key;
}

export function storedKey() {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

/** useKey makes k the key of every request; remember also keeps it in sessionStorage. */
export function useKey(k, remember) {
  key = k;
  if (remember) {
    try {
      sessionStorage.setItem(STORAGE_KEY, k);
    } catch {
      /* private mode: the key lasts as long as the page */
    }
  }
}

export function forgetKey() {
  key = null;
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    /* nothing kept */
  }
}

/**
 * keyTag is a short tag of the key in use (FNV-1a, 32 bits, in hex), to keep
 * what this browser stores for one key apart from another's on the same
 * origin. It says nothing usable about a random key.
 */
export function keyTag() {
  let h = 0x811c9dc5;
  for (const c of new TextEncoder().encode(key || '')) {
    h ^= c;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

export function authHeader() {
  return 'Bearer ' + key;
}

/** APIError is a failed request: status 0 when the server could not be reached. */
export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'APIError';
    this.status = status;
    this.code = code;
  }

  get network() {
    return this.status === 0;
  }
}

export const unreachable = () =>
  `The server cannot be reached at ${apiOrigin}. Check that perseus serve is running and that you are online, then try again.`;

/** sleep waits ms milliseconds, or rejects when signal aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) {
      reject(new DOMException('aborted', 'AbortError'));
      return;
    }
    const t = setTimeout(resolve, ms);
    if (signal) {
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          reject(new DOMException('aborted', 'AbortError'));
        },
        { once: true },
      );
    }
  });
}

/** errorOf reads the API's JSON error ({code, message}) from a failed answer. */
export async function errorOf(res) {
  let code = 'http_' + res.status;
  let message = `The server answered ${res.status} ${res.statusText || ''}`.trim() + '.';
  try {
    const body = await res.json();
    if (body && typeof body.code === 'string') code = body.code;
    if (body && typeof body.message === 'string') message = body.message;
  } catch {
    /* not JSON: keep the status */
  }
  return new APIError(res.status, code, message);
}

/** retryAfter is how long a 429 asks to wait, in milliseconds. */
export function retryAfter(res) {
  const s = Number.parseInt(res.headers.get('Retry-After') || '', 10);
  return (Number.isFinite(s) && s > 0 ? s : 1) * 1000;
}

/**
 * request sends one API request with the key and answers the Response
 * when it is a success; it waits as Retry-After says on 429 (a few times)
 * and throws an APIError otherwise. An AbortError passes through.
 */
export async function request(method, path, { body, signal, accept = 'application/json', headers = {} } = {}) {
  for (let attempt = 0; ; attempt++) {
    const h = { Authorization: authHeader(), Accept: accept, ...headers };
    if (body !== undefined) h['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(apiURL(path), {
        method,
        headers: h,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        cache: 'no-store',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
      });
    } catch (err) {
      if (err && err.name === 'AbortError') throw err;
      throw new APIError(0, 'unreachable', unreachable());
    }
    if (res.status === 429 && attempt < 5) {
      await sleep(retryAfter(res), signal);
      continue;
    }
    if (!res.ok) throw await errorOf(res);
    return res;
  }
}

/** api sends a request and answers its JSON body (null for 204). */
export async function api(method, path, opts) {
  const res = await request(method, path, opts);
  if (res.status === 204) return null;
  return res.json();
}
