// Hashing files: at most two at once, each in a dedicated Web Worker
// (hash-worker.js), with each result cached in localStorage by the file's
// fingerprint (name, size, last modified) so that a file picked again, to
// resume its upload, is not read again. A new file is hashed while it is
// sent (uploads.js), and the hash checks what the server received.

/* global PERSEUS_HASH_WORKER */
const MAX_WORKERS = 2;
const CHUNK = 8 << 20; // 8 MiB slices
const CACHE_PREFIX = 'perseus.sha256::';

function cacheKey(name, file) {
  return `${CACHE_PREFIX}${name}::${file.size}::${file.lastModified}`;
}

export function cachedHash(name, file) {
  try {
    const v = localStorage.getItem(cacheKey(name, file));
    return v && /^[0-9a-f]{64}$/.test(v) ? v : null;
  } catch {
    return null;
  }
}

/** forgetHash drops the cached hash of file, so that it is read again. */
export function forgetHash(name, file) {
  try {
    localStorage.removeItem(cacheKey(name, file));
  } catch {
    /* nothing kept */
  }
}

function remember(name, file, hash) {
  try {
    localStorage.setItem(cacheKey(name, file), hash);
  } catch {
    /* full or off: hash again next time */
  }
}

/** workerURL is the built worker's file, beside the app's (scripts/web-build names it). */
function workerURL() {
  return new URL(PERSEUS_HASH_WORKER, import.meta.url);
}

const idle = []; // workers with nothing to do
let running = 0;
const waiting = []; // jobs waiting for a worker
let nextID = 1;

// acquire answers a worker once one is free; signal gives up the wait.
function acquire(signal) {
  if (running < MAX_WORKERS) {
    running++;
    return Promise.resolve(idle.pop() || new Worker(workerURL()));
  }
  return new Promise((resolve, reject) => {
    const waiter = { resolve };
    waiting.push(waiter);
    if (signal) {
      signal.addEventListener(
        'abort',
        () => {
          const i = waiting.indexOf(waiter);
          if (i >= 0) {
            waiting.splice(i, 1);
            reject(new DOMException('cancelled', 'AbortError'));
          }
        },
        { once: true },
      );
    }
  });
}

function release(w) {
  const next = waiting.shift();
  if (next) {
    next.resolve(w);
    return;
  }
  running--;
  idle.push(w);
}

/**
 * hashFile answers the SHA-256 of file (hex), from the cache or from a
 * worker; onStart is called when a worker begins it, onProgress(bytes)
 * as it goes. signal cancels it (the promise then rejects with an AbortError).
 */
export async function hashFile(name, file, { onStart, onProgress, signal } = {}) {
  const cached = cachedHash(name, file);
  if (cached) return cached;
  const abort = () => new DOMException('cancelled', 'AbortError');
  if (signal && signal.aborted) throw abort();
  const w = await acquire(signal);
  if (signal && signal.aborted) {
    release(w);
    throw abort();
  }
  const id = nextID++;
  if (onStart) onStart();
  try {
    const hash = await new Promise((resolve, reject) => {
      const onAbort = () => w.postMessage({ cancel: id });
      if (signal) signal.addEventListener('abort', onAbort, { once: true });
      w.onmessage = (e) => {
        const m = e.data;
        if (m.id !== id) return;
        if (m.type === 'progress' && onProgress) onProgress(m.done);
        else if (m.type === 'done') resolve(m.hash);
        else if (m.type === 'cancelled') reject(abort());
        else if (m.type === 'error') reject(new Error(`could not read the file: ${m.message}`));
      };
      w.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`the hashing worker failed: ${e.message || 'unknown error'}`));
      };
      w.postMessage({ id, file, chunkSize: CHUNK });
    });
    remember(name, file, hash);
    return hash;
  } finally {
    w.onmessage = null;
    release(w);
  }
}

/** stopHashing ends every worker (sign-out). */
export function stopHashing() {
  for (const w of idle.splice(0)) w.terminate();
}
