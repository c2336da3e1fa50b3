// Browse: the tenant's files, newest first, a page at a time, filtered by
// status and name prefix; copy a SHA-256, download, delete (after a
// confirmation). Rows change live from the events stream.
import { api, apiOrigin } from './api.js';
import { el, formatSize, formatDate, showError, clearError, failure, notice } from './ui.js';

const PAGE = 50;
const $ = (sel) => document.querySelector(sel);

let cursor = '';
let loading = null; // AbortController of the page being loaded
let generation = 0;

function filters() {
  return { status: $('#filter-status').value, namePrefix: $('#filter-name').value };
}

function matches(f) {
  const { status, namePrefix } = filters();
  return (!status || f.status === status) && (!namePrefix || f.name.startsWith(namePrefix));
}

// Newest first: createdAt, then id, both descending, as the API lists.
function newer(a, b) {
  if (a.createdAt !== b.createdAt) return a.createdAt > b.createdAt;
  return a.id > b.id;
}

function rowOf(id) {
  return $('#files tbody').querySelector(`tr.file[data-file-id="${CSS.escape(id)}"]`);
}

function cell(label, ...children) {
  return el('td', { 'data-label': label }, ...children);
}

function baseName(name) {
  const i = name.lastIndexOf('/');
  return i >= 0 ? name.slice(i + 1) : name;
}

function renderRow(f) {
  const tr = el('tr', { class: 'file', 'data-file-id': f.id, 'data-status': f.status, 'data-name': f.name, tabIndex: -1 });
  tr._file = f;
  const copy = el('button', { type: 'button', class: 'copy-sha', text: 'Copy', 'aria-label': `Copy the SHA-256 of ${f.name}` });
  copy.addEventListener('click', () => copySha(f, copy));
  const dl = el('button', { type: 'button', class: 'download', text: 'Download', 'aria-label': `Download ${f.name}` });
  dl.disabled = f.status !== 'uploaded';
  dl.addEventListener('click', () => download(tr._file));
  const del = el('button', { type: 'button', class: 'delete', text: 'Delete', 'aria-label': `Delete ${f.name}` });
  del.addEventListener('click', () => confirmDelete(tr._file));
  const status = el('span', { class: `status status-${f.status}`, text: f.status });
  if (f.status === 'failed' && f.reason) status.title = f.reason;
  tr.append(
    cell('Name', el('span', { class: 'name', text: f.name })),
    cell('Status', status, f.status === 'failed' && f.reason ? el('span', { class: 'reason', text: f.reason }) : null),
    cell('Size', f.status === 'uploaded' ? formatSize(f.size) : '—'),
    cell('Created', el('time', { dateTime: f.createdAt, text: formatDate(f.createdAt) })),
    cell('SHA-256', el('code', { class: 'sha', text: f.sourceHash || '' }), copy),
    cell('ID', el('code', { class: 'id', text: f.id })),
    cell('Actions', dl, del),
  );
  return tr;
}

function updateEmpty() {
  const empty = $('#files-empty');
  const any = $('#files tbody').children.length > 0;
  const { status, namePrefix } = filters();
  empty.hidden = any;
  $('#files').hidden = !any;
  if (status || namePrefix) {
    empty.replaceChildren('No files match these filters. Clear them to see every file.');
  } else {
    empty.replaceChildren(
      'No files yet. Drop files or a folder above, or run ',
      el('code', { text: 'perseus file upload PATH' }),
      '.',
    );
  }
}

/** place puts a row for f where it belongs, newest first; force puts it even past the loaded pages. */
function place(f, force) {
  const tbody = $('#files tbody');
  const old = rowOf(f.id);
  const tr = renderRow(f);
  if (old) {
    if (old.classList.contains('highlight')) tr.classList.add('highlight');
    old.replaceWith(tr);
    return tr;
  }
  for (const row of tbody.children) {
    if (newer(f, row._file)) {
      tbody.insertBefore(tr, row);
      updateEmpty();
      return tr;
    }
  }
  // Older than every row: it belongs on a later page unless this is the last.
  if (!cursor || force) {
    tbody.append(tr);
    updateEmpty();
    return tr;
  }
  return null;
}

// replay holds the events that arrive while a page is being fetched: the
// page may be a snapshot from before them, so they are applied again once
// it is shown.
let replay = null;

/** loadFiles loads the first page (reset) or the next one. */
export async function loadFiles(reset) {
  if (loading) loading.abort();
  loading = new AbortController();
  const events = [];
  replay = events;
  const gen = reset ? ++generation : generation;
  const { status, namePrefix } = filters();
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (status) q.set('status', status);
  if (namePrefix) q.set('namePrefix', namePrefix);
  if (!reset && cursor) q.set('cursor', cursor);
  const more = $('#files-more');
  more.disabled = true;
  $('#files').setAttribute('aria-busy', 'true');
  try {
    const page = await api('GET', `/api/v0/file?${q}`, { signal: loading.signal });
    if (gen !== generation) return;
    if (reset) $('#files tbody').replaceChildren();
    cursor = page.nextCursor || '';
    const tbody = $('#files tbody');
    for (const f of page.files || []) {
      const old = rowOf(f.id);
      if (old) old.replaceWith(renderRow(f));
      else tbody.append(renderRow(f));
    }
    if (replay === events) replay = null;
    for (const [type, f] of events) onFileEvent(type, f);
    more.hidden = !cursor;
    updateEmpty();
    clearErrorIfOurs();
    highlightFromHash();
  } catch (err) {
    if (err.name === 'AbortError') return;
    showError(failure('Could not list your files', err));
  } finally {
    if (replay === events) replay = null;
    more.disabled = false;
    $('#files').removeAttribute('aria-busy');
  }
}

function clearErrorIfOurs() {
  if ($('#error').textContent.startsWith('Could not list your files')) clearError();
}

/** onFileEvent applies one event of the stream to the table. */
export function onFileEvent(type, f) {
  if (!f || !f.id) return;
  if (replay) replay.push([type, f]);
  const row = rowOf(f.id);
  if (type === 'file.deleted') {
    if (row) row.remove();
    updateEmpty();
    return;
  }
  if (!matches(f)) {
    if (row) row.remove();
    updateEmpty();
    return;
  }
  place(f, false);
}

async function copySha(f, button) {
  const text = f.sourceHash || '';
  try {
    if (!navigator.clipboard || !window.isSecureContext) throw new Error('no clipboard');
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied';
    notice(`Copied the SHA-256 of ${f.name}.`);
    setTimeout(() => {
      button.textContent = 'Copy';
    }, 2000);
  } catch {
    // Select it, so that Ctrl+C copies it.
    const code = button.parentElement.querySelector('code.sha');
    const range = document.createRange();
    range.selectNodeContents(code);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    notice(`The clipboard is not available here: the SHA-256 of ${f.name} is selected; press Ctrl+C (⌘C) to copy it.`);
  }
}

async function download(f) {
  try {
    const { url } = await api('POST', `/api/v0/file/${encodeURIComponent(f.id)}/download-url`);
    const a = el('a', { href: new URL(url, apiOrigin + '/').href, download: baseName(f.name), hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    notice(`Downloading ${f.name}…`);
  } catch (err) {
    if (err.status === 404 && err.code === 'not_found') {
      showError(`Could not download ${f.name}: this server has no download links (POST /api/v0/file/{id}/download-url). Update perseus, or use \`perseus file download ${f.id}\`.`);
      return;
    }
    showError(failure(`Could not download ${f.name}`, err));
  }
}

let pendingDelete = null;

function confirmDelete(f) {
  const dialog = $('#confirm-delete');
  pendingDelete = f;
  $('#confirm-delete-name').textContent = f.name;
  dialog.showModal();
  $('#confirm-delete-no').focus();
}

async function doDelete() {
  const f = pendingDelete;
  pendingDelete = null;
  if (!f) return;
  try {
    await api('DELETE', `/api/v0/file/${encodeURIComponent(f.id)}`);
    notice(`Deleted ${f.name}.`);
  } catch (err) {
    if (err.status === 404) {
      notice(`${f.name} was already deleted.`);
    } else {
      showError(failure(`Could not delete ${f.name}`, err));
      return;
    }
  }
  const row = rowOf(f.id);
  if (row) row.remove();
  updateEmpty();
}

/** highlightFromHash follows #/files/ID: the row, loaded if it is not on the page. */
export async function highlightFromHash() {
  const m = /^#\/files\/(.+)$/.exec(window.location.hash);
  if (!m) return;
  const id = decodeURIComponent(m[1]);
  let row = rowOf(id);
  if (!row) {
    try {
      const f = await api('GET', `/api/v0/file/${encodeURIComponent(id)}`);
      row = place(f, true);
    } catch (err) {
      showError(failure('Could not show that file', err));
      return;
    }
  }
  if (!row) return;
  for (const r of document.querySelectorAll('tr.file.highlight')) r.classList.remove('highlight');
  row.classList.add('highlight');
  row.scrollIntoView({ block: 'center' });
  row.focus({ preventScroll: true });
}

export function clearFiles() {
  if (loading) loading.abort();
  generation++;
  cursor = '';
  $('#files tbody').replaceChildren();
  $('#files-more').hidden = true;
}

/** initBrowse wires the filters, the pager and the dialog. */
export function initBrowse() {
  let timer = 0;
  $('#filters').addEventListener('submit', (e) => {
    e.preventDefault();
    clearTimeout(timer);
    loadFiles(true);
  });
  $('#filter-status').addEventListener('change', () => loadFiles(true));
  $('#filter-name').addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => loadFiles(true), 300);
  });
  $('#files-more').addEventListener('click', () => loadFiles(false));
  const dialog = $('#confirm-delete');
  $('#confirm-delete-no').addEventListener('click', () => {
    pendingDelete = null;
    dialog.close('no');
  });
  $('#confirm-delete-yes').addEventListener('click', () => {
    dialog.close('yes');
    doDelete();
  });
  dialog.addEventListener('cancel', () => {
    pendingDelete = null;
  });
  window.addEventListener('hashchange', highlightFromHash);
}
