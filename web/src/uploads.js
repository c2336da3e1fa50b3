// Uploads: each file added becomes an li.upload that goes through
// queued, hashing, checking, uploading, processing to uploaded, or ends
// known / failed / error / cancelled. New content goes through tus
// (tus-js-client), resumable after a reload or a dropped network. At most
// three uploads send at once.
//
// A new file starts sending at once while a worker hashes it, as the CLI
// does: the tus creation carries Perseus-Hash-First: same-size and no
// sha256, and the server refuses it (409 hash_first) when the tenant has
// an uploaded file of that size, since only then can the content be there
// already. The upload then waits for the hash, finds the content by it
// (known: nothing sent) or is created again with the sha256 declared. A
// file whose hash is known before it sends (cached) goes that way at
// once. Whatever was sent, the file the server made is checked against
// this browser's hash before it is called uploaded.
import * as tus from 'tus-js-client';
import { api, apiOrigin, apiURL, authHeader, keyTag, APIError } from './api.js';
import { cachedHash, forgetHash, hashFile } from './hasher.js';
import { el, formatSize, showError, failure, notice } from './ui.js';

const MAX_SENDING = 3;
const FINAL = new Set(['uploaded', 'known', 'failed', 'error', 'cancelled']);
const LABELS = {
  queued: 'Queued',
  hashing: 'Hashing',
  checking: 'Checking',
  uploading: 'Uploading',
  processing: 'Processing',
  uploaded: 'Uploaded',
  known: 'Already uploaded',
  failed: 'Failed',
  error: 'Error',
  cancelled: 'Cancelled',
};
// What this browser stores for tus (upload URLs, by fingerprint) is kept
// per origin and per key: another key signed in on the same browser
// neither sees nor resumes this key's uploads.
const fingerprintPrefix = () => `perseus::${apiOrigin}::${keyTag()}::`;

const items = [];
let sending = 0;
const sendQueue = [];
const seenStatus = new Map(); // file id → File from the events stream

/** fingerprint identifies a file for tus's resumption and the hash cache. */
function fingerprintOf(name, file) {
  return `${fingerprintPrefix()}${name}::${file.size}::${file.lastModified}`;
}

class Item {
  constructor(file, name) {
    this.file = file;
    this.name = name;
    this.state = 'queued';
    this.fileId = '';
    this.hash = '';
    this.upload = null; // tus.Upload
    this.abort = null; // AbortController of the hashing and checking
    this.holdsSlot = false;
    this.render();
  }

  render() {
    const size = Math.max(this.file.size, 1);
    const label = `${this.name} (${formatSize(this.file.size)})`;
    this.stateEl = el('span', { class: 'upload-state', text: LABELS.queued });
    this.hashBar = el('progress', { class: 'hash-progress', max: size, value: 0, 'aria-label': `Hashing ${this.name}` });
    this.sendBar = el('progress', { class: 'upload-progress', max: size, value: 0, 'aria-label': `Sending ${this.name}` });
    this.message = el('p', { class: 'upload-message' });
    this.link = el('a', { class: 'existing-file', hidden: true, text: 'Show it in the list' });
    this.cancelBtn = el('button', { type: 'button', class: 'cancel', text: 'Cancel', 'aria-label': `Cancel ${this.name}` });
    this.retryBtn = el('button', { type: 'button', class: 'retry', hidden: true, text: 'Retry', 'aria-label': `Retry ${this.name}` });
    this.cancelBtn.addEventListener('click', () => this.cancel());
    this.retryBtn.addEventListener('click', () => this.retry());
    this.li = el(
      'li',
      { class: 'upload', 'data-name': this.name, 'data-state': 'queued' },
      el('div', { class: 'upload-head' }, el('span', { class: 'upload-name', text: label }), this.stateEl),
      el(
        'div',
        { class: 'upload-bars' },
        el('label', { class: 'bar' }, el('span', { text: 'Hash' }), this.hashBar),
        el('label', { class: 'bar' }, el('span', { text: 'Send' }), this.sendBar),
      ),
      this.message,
      el('div', { class: 'upload-actions' }, this.link, this.retryBtn, this.cancelBtn),
    );
  }

  set(state, message) {
    this.state = state;
    this.li.dataset.state = state;
    this.stateEl.textContent = LABELS[state] || state;
    if (message !== undefined) this.message.textContent = message;
    const final = FINAL.has(state);
    this.cancelBtn.hidden = final;
    this.retryBtn.hidden = !(state === 'error' || state === 'cancelled');
    if (final) this.releaseSlot();
  }

  setFileId(id) {
    if (!id || this.fileId === id) return;
    this.fileId = id;
    this.li.dataset.fileId = id;
    const seen = seenStatus.get(id);
    if (seen) this.fromEvent(seen);
  }

  releaseSlot() {
    if (!this.holdsSlot) return;
    this.holdsSlot = false;
    sending--;
    pump();
  }

  /**
   * run sends the file: a stored tus upload of it is resumed; a file whose
   * hash is known is looked for first; a new one is sent at once, hashed
   * alongside. Every way but the lookup hashes the file meanwhile, to check
   * the result.
   */
  async run() {
    this.abort = new AbortController();
    const signal = this.abort.signal;
    this.verifying = false;
    this.hashBar.value = this.hash ? this.hashBar.max : 0;
    this.set('queued', 'Waiting for a free upload slot…');
    let stored = [];
    try {
      stored = await storage().findUploadsByFingerprint(fingerprintOf(this.name, this.file));
    } catch {
      /* no storage: nothing to resume */
    }
    if (this.state !== 'queued') return; // cancelled or stopped meanwhile
    // A cached hash (by name, size and last change) only spares hashing
    // again an upload being resumed, whose result is checked against it at
    // the end; "already uploaded" is never said of a file not read here.
    if (!this.hash && stored.length > 0) this.hash = cachedHash(this.name, this.file) || '';
    this.hashBar.value = this.hash ? this.hashBar.max : 0;
    if (!this.hashing) this.hashing = this.startHashing(); // one still going on from before a retry goes on
    if (this.hash && stored.length === 0) {
      this.check(signal);
      return;
    }
    this.enqueue();
  }

  /** startHashing hashes the file in a worker (or answers the cached hash); cancel and stop end it. */
  startHashing() {
    if (this.hash) return Promise.resolve(this.hash);
    this.hashAbort = new AbortController();
    const p = hashFile(this.name, this.file, {
      signal: this.hashAbort.signal,
      onStart: () => {
        if (this.state === 'queued') this.set('hashing', 'Hashing in your browser…');
      },
      onProgress: (n) => {
        this.hashBar.value = n;
      },
    }).then((h) => {
      this.hash = h;
      this.hashBar.value = this.hashBar.max;
      if (this.state === 'hashing' && sendQueue.includes(this)) this.set('queued', 'Waiting for a free upload slot…');
      return h;
    });
    p.catch((err) => {
      // Reported where the hash is awaited; a retry hashes again.
      this.hashError = err;
      if (this.hashing === p) this.hashing = null;
    });
    return p;
  }

  /** awaitHash answers the file's hash, or '' after setting the state to say why there is none. */
  async awaitHash(what) {
    try {
      if (!this.hashing) throw this.hashError || new Error('the hashing stopped');
      return await this.hashing;
    } catch (err) {
      if (err.name !== 'AbortError' && !FINAL.has(this.state)) {
        this.set('error', `Could not hash ${this.name} ${what}: ${err.message}. Pick or drop it again to retry.`);
      }
      return '';
    }
  }

  /** check looks for the content by its hash (waiting for it): known, or sent with its sha256 declared. */
  async check(signal) {
    if (!this.hash) this.set('hashing', `You have a file of this size: hashing ${this.name} first, so that nothing the server has is sent…`);
    const hash = await this.awaitHash('to look for its content');
    if (!hash || signal.aborted) return;
    this.set('checking', 'Checking whether the server has this content…');
    let found;
    try {
      found = await api('POST', '/api/v0/file/find', { body: { sourceHashes: [hash] }, signal });
    } catch (err) {
      if (err.name === 'AbortError') return;
      this.set('error', failure(`Could not check ${this.name}`, err) + ' Then press Retry.');
      return;
    }
    const done = (found.files || []).find((f) => f.status === 'uploaded');
    if (done) {
      this.known(done);
      return;
    }
    this.set('queued', 'Waiting for a free upload slot…');
    this.enqueue();
  }

  enqueue() {
    sendQueue.push(this);
    pump();
  }

  known(file) {
    this.setFileId(file.id);
    this.link.href = `#/files/${encodeURIComponent(file.id)}`;
    this.link.hidden = false;
    this.set('known', `Already uploaded as ${file.name}: nothing was sent.`);
  }

  /**
   * send starts the tus upload (resuming a stored one); it holds a slot
   * until it ends. With the hash known, it is declared (sha256): content
   * the tenant has is then answered at creation. Without it, the creation
   * asks to be refused if the content may be there (Perseus-Hash-First).
   */
  async send() {
    this.holdsSlot = true;
    sending++;
    this.set('uploading', this.hash ? 'Sending…' : 'Sending, while your browser hashes the file to check it…');
    this.knownAtCreation = false;
    let resumedFrom = null;
    const setResumed = (n) => {
      if (resumedFrom !== null) return;
      resumedFrom = n;
      this.li.dataset.resumedFrom = String(n);
      if (n > 0) this.message.textContent = `Resuming from ${formatSize(n)}…`;
    };
    const fp = fingerprintOf(this.name, this.file);
    const metadata = { filename: this.name };
    if (this.hash) metadata.sha256 = this.hash;
    const upload = new tus.Upload(this.file, {
      endpoint: apiURL('/api/v0/tus/'),
      headers: { Authorization: authHeader() },
      metadata,
      onBeforeRequest: (req) => {
        // A creation without the hash: refused (409 hash_first) if the content may be there.
        if (req.getMethod() === 'POST' && !metadata.sha256) req.setHeader('Perseus-Hash-First', 'same-size');
      },
      chunkSize: Number.POSITIVE_INFINITY, // one PATCH: the server keeps what arrives of it
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      fingerprint: () => Promise.resolve(fp),
      // tus-js-client's own rule (retry unless a client error), and 429
      // too; but a creation told to hash first is not retried: onError
      // takes it.
      onShouldRetry: (err) => {
        const res = err.originalResponse;
        const status = res ? res.getStatus() : 0;
        if (status === 409 && codeOf(res) === 'hash_first') return false;
        return status === 0 || status >= 500 || status === 409 || status === 423 || status === 429;
      },
      onAfterResponse: (req, res) => {
        const id = res.getHeader('Perseus-File-Id');
        if (id) this.setFileId(id);
        const method = req.getMethod();
        const status = res.getStatus();
        if (method === 'HEAD' && status >= 200 && status < 300) {
          setResumed(Number.parseInt(res.getHeader('Upload-Offset'), 10) || 0);
        } else if (method === 'POST' && status >= 200 && status < 300) {
          const offset = Number.parseInt(res.getHeader('Upload-Offset'), 10) || 0;
          setResumed(0);
          // Known content declared in the metadata: the upload is whole at creation.
          if (this.file.size > 0 && offset === this.file.size) {
            this.knownAtCreation = true;
          }
        }
      },
      onUploadUrlAvailable: () => {
        if (this.knownAtCreation) {
          upload.abort(false);
          // tus-js-client stores the URL right after this call: forget it then.
          setTimeout(() => forgetStored(fp), 0);
          api('GET', `/api/v0/file/${encodeURIComponent(this.fileId)}`)
            .then((f) => this.known(f))
            .catch(() => this.known({ id: this.fileId, name: this.name }));
        }
      },
      onProgress: (sent, total) => {
        if (resumedFrom === null) setResumed(sent);
        this.sendBar.value = sent;
        if (sent === total && this.state === 'uploading') {
          this.set('processing', 'All bytes sent; the server is verifying the SHA-256…');
        }
      },
      onSuccess: ({ lastResponse }) => {
        this.upload = null;
        this.sendBar.value = this.sendBar.max;
        const status = lastResponse ? lastResponse.getHeader('Perseus-File-Status') : null;
        if (status === 'uploaded') this.uploaded();
        else if (status === 'failed') this.failedFromServer();
        else {
          // The verdict comes with the events stream.
          this.set('processing', 'All bytes sent; waiting for the server to verify them…');
          this.releaseSlot();
          const seen = seenStatus.get(this.fileId);
          if (seen) this.fromEvent(seen);
        }
      },
      onError: (err) => {
        this.upload = null;
        if (this.state === 'cancelled' || this.state === 'known') return;
        const res = err.originalResponse;
        if (res && res.getStatus() === 409 && codeOf(res) === 'hash_first') {
          // The tenant has a file of this size: nothing was begun or sent.
          this.releaseSlot();
          delete this.li.dataset.resumedFrom;
          this.check(this.abort.signal);
          return;
        }
        if (res && res.getStatus() === 422) {
          forgetStored(fp); // the upload ended with the verdict: nothing to resume
          this.failedFromServer(res);
          return;
        }
        if (res) {
          let msg = `the server answered ${res.getStatus()}`;
          try {
            const body = JSON.parse(res.getBody());
            if (body && body.message) msg = body.message;
          } catch {
            /* not JSON */
          }
          this.set('error', failure(`Could not upload ${this.name}`, new APIError(res.getStatus(), '', msg)) + ' Then press Retry.');
          return;
        }
        this.set(
          'error',
          `The connection to the server was lost while sending ${this.name}. Check that you are online and press Retry: it resumes where it stopped.`,
        );
      },
    });
    this.upload = upload;
    try {
      const previous = await upload.findPreviousUploads();
      if (previous.length > 0) {
        previous.sort((a, b) => String(b.creationTime).localeCompare(String(a.creationTime)));
        upload.resumeFromPreviousUpload(previous[0]);
      }
    } catch {
      /* no storage: a new upload */
    }
    if (this.state !== 'uploading') return; // cancelled meanwhile
    removeInterrupted(this.name);
    upload.start();
  }

  /**
   * uploaded ends an upload the server says is uploaded, once the file's
   * SHA-256 there is this browser's hash of the file (waiting for it): the
   * bytes sent before the hash was known are the file's.
   */
  async uploaded() {
    this.sendBar.value = this.sendBar.max;
    if (this.verifying || FINAL.has(this.state)) return;
    this.verifying = true;
    if (!this.hash) {
      this.set('processing', 'All bytes sent and stored; finishing the hash in your browser to check them…');
      this.releaseSlot();
    }
    const hash = await this.awaitHash('to check what was sent');
    if (!hash || FINAL.has(this.state)) return;
    let f;
    try {
      f = await api('GET', `/api/v0/file/${encodeURIComponent(this.fileId)}`);
    } catch (err) {
      this.verifying = false;
      this.set('error', failure(`${this.name} was sent, but its file could not be read back to check it`, err) + ' Then press Retry.');
      return;
    }
    if (f.sourceHash !== hash) {
      // Hash it again on a retry.
      forgetHash(this.name, this.file);
      this.hash = '';
      this.hashing = null;
      this.set(
        'error',
        `The server received other bytes than those of ${this.name} (SHA-256 ${short(f.sourceHash)}… there, ${short(hash)}… here): ` +
          `the file may have changed while it was sent. Delete file ${f.id} from the list, then press Retry to send it again.`,
      );
      return;
    }
    this.set('uploaded', `Uploaded: its SHA-256 is verified.`);
  }

  async failedFromServer(res) {
    let reason = '';
    if (this.fileId) {
      try {
        const f = await api('GET', `/api/v0/file/${encodeURIComponent(this.fileId)}`);
        reason = f.reason || '';
      } catch {
        /* say what the answer said */
      }
    }
    if (!reason && res) {
      try {
        reason = JSON.parse(res.getBody()).message || '';
      } catch {
        /* not JSON */
      }
    }
    this.set('failed', `The server refused the content: ${reason || 'it did not verify'}. Check the file and add it again.`);
  }

  /** fromEvent applies an event's File to this upload: the verdict on bytes it sent. */
  fromEvent(f) {
    const allSent = this.sendBar.value >= this.file.size;
    if (this.verifying || (this.state !== 'processing' && !(this.state === 'uploading' && allSent))) return;
    if (f.status === 'uploaded') this.uploaded();
    else if (f.status === 'failed') {
      this.set('failed', `The server refused the content: ${f.reason || 'it did not verify'}. Check the file and add it again.`);
    }
  }

  cancel() {
    if (FINAL.has(this.state)) return;
    this.set('cancelled', 'Cancelled. Press Retry to start again.');
    this.stopHashing();
    if (this.abort) this.abort.abort();
    const i = sendQueue.indexOf(this);
    if (i >= 0) sendQueue.splice(i, 1);
    if (this.upload) {
      // Terminate: the server discards what arrived.
      this.upload.abort(true).catch(() => {});
      this.upload = null;
    }
  }

  stopHashing() {
    if (this.hashAbort) this.hashAbort.abort();
    this.hashing = null;
  }

  retry() {
    this.sendBar.value = 0;
    delete this.li.dataset.resumedFrom;
    this.link.hidden = true;
    this.run();
  }

  /** stop ends the work of this page on the file (sign-out): a tus upload stays resumable. */
  stop() {
    // Signed out: every await of run, send and check finds a state it does
    // not go on from, so nothing is sent after this, with this key or the next.
    this.state = 'cancelled';
    this.stopHashing();
    if (this.abort) this.abort.abort();
    if (this.upload) this.upload.abort(false);
    this.upload = null;
  }
}

function pump() {
  while (sending < MAX_SENDING && sendQueue.length > 0) {
    const item = sendQueue.shift();
    if (item.state === 'queued' || item.state === 'hashing') item.send();
  }
}

/** addFiles adds [{file, name}] to the uploads and starts them. */
export function addFiles(list) {
  const ul = document.querySelector('#uploads');
  let skipped = 0;
  for (const { file, name } of list) {
    const same = items.find(
      (it) => !FINAL.has(it.state) && it.name === name && it.file.size === file.size && it.file.lastModified === file.lastModified,
    );
    if (same) {
      skipped++;
      continue;
    }
    const item = new Item(file, name);
    items.push(item);
    ul.prepend(item.li);
    item.run();
  }
  if (skipped > 0) notice(`${skipped} file${skipped > 1 ? 's are' : ' is'} already in the list of uploads.`);
  document.querySelector('#uploads-empty').hidden = items.length > 0;
}

/** onFileEvent takes a file event from the stream. */
export function onFileEvent(type, f) {
  if (!f || !f.id) return;
  seenStatus.set(f.id, f);
  if (seenStatus.size > 10000) seenStatus.delete(seenStatus.keys().next().value);
  for (const it of items) {
    if (it.fileId === f.id) it.fromEvent(f);
  }
}

/** stopUploads ends everything (sign-out) and empties the list. */
export function stopUploads() {
  sendQueue.length = 0;
  for (const it of items) it.stop();
  items.length = 0;
  sending = 0;
  seenStatus.clear();
  document.querySelector('#uploads').replaceChildren();
  document.querySelector('#interrupted').replaceChildren();
  document.querySelector('#uploads-empty').hidden = false;
  document.querySelector('#interrupted-box').hidden = true;
}

/** codeOf answers the API error code of a tus answer's JSON body, or ''. */
function codeOf(res) {
  try {
    return JSON.parse(res.getBody()).code || '';
  } catch {
    return '';
  }
}

/** short abbreviates a SHA-256 for a message. */
function short(h) {
  return String(h || '').slice(0, 12);
}

// tus-js-client keeps each unfinished upload's URL in localStorage under
// "tus::<fingerprint>::<random>".
function storage() {
  return tus.defaultOptions.urlStorage;
}

async function forgetStored(fp) {
  try {
    for (const u of await storage().findUploadsByFingerprint(fp)) await storage().removeUpload(u.urlStorageKey);
  } catch {
    /* nothing kept */
  }
}

function removeInterrupted(name) {
  for (const li of document.querySelectorAll('#interrupted li.interrupted')) {
    if (li.dataset.name === name) li.remove();
  }
  const box = document.querySelector('#interrupted-box');
  box.hidden = document.querySelectorAll('#interrupted li.interrupted').length === 0;
}

/** listInterrupted shows the uploads a previous page of this browser left unfinished. */
export async function listInterrupted() {
  let all = [];
  try {
    all = await storage().findAllUploads();
  } catch {
    return;
  }
  const ul = document.querySelector('#interrupted');
  ul.replaceChildren();
  const names = new Set();
  for (const u of all) {
    if (!u.urlStorageKey || !u.urlStorageKey.startsWith('tus::' + fingerprintPrefix())) continue;
    const name = (u.metadata && u.metadata.filename) || '';
    if (!name || names.has(name) || items.some((it) => it.name === name && !FINAL.has(it.state))) continue;
    names.add(name);
    const forget = el('button', { type: 'button', class: 'forget', text: 'Forget', 'aria-label': `Forget the upload of ${name}` });
    forget.addEventListener('click', async () => {
      for (const v of all) {
        if (v.metadata && v.metadata.filename === name && v.urlStorageKey.startsWith('tus::' + fingerprintPrefix())) {
          await storage().removeUpload(v.urlStorageKey);
          // End it on the server too; it would expire anyway.
          fetch(v.uploadUrl, { method: 'DELETE', headers: { Authorization: authHeader(), 'Tus-Resumable': '1.0.0' } }).catch(() => {});
        }
      }
      removeInterrupted(name);
    });
    ul.append(
      el(
        'li',
        { class: 'interrupted', 'data-name': name },
        el('span', { text: `${name} (${formatSize(u.size)}) was not finished: pick or drop ${name} again to resume it.` }),
        forget,
      ),
    );
  }
  document.querySelector('#interrupted-box').hidden = names.size === 0;
}

export function reportNoUploadSupport() {
  if (!tus.isSupported) showError('This browser cannot send resumable uploads (tus): use a recent Chrome, Firefox, Safari or Edge.');
}
