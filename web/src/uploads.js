// Uploads: each file added becomes an li.upload that goes
// queued → hashing → checking → uploading → processing → uploaded, or
// known / failed / error / cancelled. Content the tenant already has is
// recognised by its SHA-256 before any byte is sent; new content goes
// through tus (tus-js-client), resumable after a reload or a dropped
// network. At most three uploads send at once.
import * as tus from 'tus-js-client';
import { api, apiOrigin, apiURL, authHeader, APIError } from './api.js';
import { hashFile } from './hasher.js';
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
const FINGERPRINT_PREFIX = 'perseus::' + apiOrigin + '::';

const items = [];
let sending = 0;
const sendQueue = [];
const seenStatus = new Map(); // file id → File from the events stream

/** fingerprint identifies a file for tus's resumption and the hash cache. */
function fingerprintOf(name, file) {
  return `${FINGERPRINT_PREFIX}${name}::${file.size}::${file.lastModified}`;
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

  /** run hashes, checks and sends the file. */
  async run() {
    this.abort = new AbortController();
    const signal = this.abort.signal;
    this.set('queued', 'Waiting to be hashed.');
    try {
      this.hash = await hashFile(this.name, this.file, {
        signal,
        onStart: () => this.set('hashing', 'Hashing in your browser…'),
        onProgress: (n) => {
          this.hashBar.value = n;
        },
      });
    } catch (err) {
      if (err.name === 'AbortError') return;
      this.set('error', `Could not hash ${this.name}: ${err.message}. Pick or drop it again to retry.`);
      return;
    }
    this.hashBar.value = this.hashBar.max;
    this.set('checking', 'Checking whether the server has this content…');
    let found;
    try {
      found = await api('POST', '/api/v0/file/find', { body: { sourceHashes: [this.hash] }, signal });
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
    sendQueue.push(this);
    pump();
  }

  known(file) {
    this.setFileId(file.id);
    this.link.href = `#/files/${encodeURIComponent(file.id)}`;
    this.link.hidden = false;
    this.set('known', `Already uploaded as ${file.name}: nothing was sent.`);
  }

  /** send starts the tus upload (resuming a stored one); it holds a slot until it ends. */
  async send() {
    this.holdsSlot = true;
    sending++;
    this.set('uploading', 'Sending…');
    this.knownAtCreation = false;
    let resumedFrom = null;
    const setResumed = (n) => {
      if (resumedFrom !== null) return;
      resumedFrom = n;
      this.li.dataset.resumedFrom = String(n);
      if (n > 0) this.message.textContent = `Resuming from ${formatSize(n)}…`;
    };
    const fp = fingerprintOf(this.name, this.file);
    const upload = new tus.Upload(this.file, {
      endpoint: apiURL('/api/v0/tus/'),
      headers: { Authorization: authHeader() },
      metadata: { filename: this.name, sha256: this.hash },
      chunkSize: Number.POSITIVE_INFINITY, // one PATCH: the server keeps what arrives of it
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      fingerprint: () => Promise.resolve(fp),
      // tus-js-client's own rule (retry unless a client error), and 429 too.
      onShouldRetry: (err) => {
        const status = err.originalResponse ? err.originalResponse.getStatus() : 0;
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

  uploaded() {
    this.sendBar.value = this.sendBar.max;
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
    if (this.state !== 'processing' && !(this.state === 'uploading' && allSent)) return;
    if (f.status === 'uploaded') this.uploaded();
    else if (f.status === 'failed') {
      this.set('failed', `The server refused the content: ${f.reason || 'it did not verify'}. Check the file and add it again.`);
    }
  }

  cancel() {
    if (FINAL.has(this.state)) return;
    this.set('cancelled', 'Cancelled. Press Retry to start again.');
    if (this.abort) this.abort.abort();
    const i = sendQueue.indexOf(this);
    if (i >= 0) sendQueue.splice(i, 1);
    if (this.upload) {
      // Terminate: the server discards what arrived.
      this.upload.abort(true).catch(() => {});
      this.upload = null;
    }
  }

  retry() {
    this.sendBar.value = 0;
    delete this.li.dataset.resumedFrom;
    this.link.hidden = true;
    this.run();
  }

  /** stop ends the work of this page on the file (sign-out): a tus upload stays resumable. */
  stop() {
    if (this.abort) this.abort.abort();
    if (this.upload) this.upload.abort(false);
    this.upload = null;
  }
}

function pump() {
  while (sending < MAX_SENDING && sendQueue.length > 0) {
    const item = sendQueue.shift();
    if (item.state === 'queued') item.send();
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
    if (!u.urlStorageKey || !u.urlStorageKey.startsWith('tus::' + FINGERPRINT_PREFIX)) continue;
    const name = (u.metadata && u.metadata.filename) || '';
    if (!name || names.has(name) || items.some((it) => it.name === name && !FINAL.has(it.state))) continue;
    names.add(name);
    const forget = el('button', { type: 'button', class: 'forget', text: 'Forget', 'aria-label': `Forget the upload of ${name}` });
    forget.addEventListener('click', async () => {
      for (const v of all) {
        if (v.metadata && v.metadata.filename === name && v.urlStorageKey.startsWith('tus::' + FINGERPRINT_PREFIX)) {
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
