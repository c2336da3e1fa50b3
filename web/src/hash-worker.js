// The hashing Web Worker: streaming SHA-256 of a File with hash-wasm,
// reading it in slices so that a file of any size takes little memory.
// Messages in: {id, file, chunkSize} to hash, {cancel: id} to stop.
// Messages out: {id, type: 'progress', done}, {id, type: 'done', hash},
// {id, type: 'error', message}, {id, type: 'cancelled'}.
import { createSHA256 } from 'hash-wasm';

const cancelled = new Set();
let hasher = null;

async function hash({ id, file, chunkSize }) {
  if (!hasher) hasher = await createSHA256();
  hasher.init();
  const read = (offset) => file.slice(offset, Math.min(offset + chunkSize, file.size)).arrayBuffer();
  let lastReport = 0;
  // The next slice is read while this one is hashed.
  let next = file.size > 0 ? read(0) : null;
  for (let offset = 0; offset < file.size; offset += chunkSize) {
    const buf = await next;
    if (cancelled.has(id)) {
      cancelled.delete(id);
      self.postMessage({ id, type: 'cancelled' });
      return;
    }
    next = offset + chunkSize < file.size ? read(offset + chunkSize) : null;
    hasher.update(new Uint8Array(buf));
    const done = Math.min(offset + chunkSize, file.size);
    const now = performance.now();
    if (now - lastReport > 100 || done === file.size) {
      lastReport = now;
      self.postMessage({ id, type: 'progress', done });
    }
  }
  self.postMessage({ id, type: 'done', hash: hasher.digest('hex') });
}

// One file at a time: each waits for the one before it.
let queue = Promise.resolve();

self.onmessage = (e) => {
  const msg = e.data;
  if (msg.cancel !== undefined) {
    cancelled.add(msg.cancel);
    return;
  }
  queue = queue.then(() =>
    hash(msg).catch((err) => {
      self.postMessage({ id: msg.id, type: 'error', message: (err && err.message) || String(err) });
    }),
  );
};
