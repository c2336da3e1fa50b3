// The Perseus web console: sign in, add files, watch them, browse. See web/README.md.
import { forgetKey } from './api.js';
import { initSignin, showSignin, hideSignin } from './signin.js';
import { fromDrop, fromInput } from './files-input.js';
import { addFiles, listInterrupted, onFileEvent as uploadsEvent, stopUploads, reportNoUploadSupport } from './uploads.js';
import { startEvents, stopEvents } from './events.js';
import { initBrowse, loadFiles, clearFiles, onFileEvent as browseEvent } from './browse.js';
import { stopHashing } from './hasher.js';
import { showError, clearError, failure } from './ui.js';

const $ = (sel) => document.querySelector(sel);

function signedIn(limits) {
  hideSignin();
  clearError();
  void limits;
  reportNoUploadSupport();
  listInterrupted();
  startEvents({
    onReady: () => loadFiles(true),
    onEvent: (type, file) => {
      uploadsEvent(type, file);
      browseEvent(type, file);
    },
    onAuthFailed: (err) => showError(failure('Live updates stopped', err)),
  });
}

function signOut() {
  stopEvents();
  stopUploads();
  stopHashing();
  clearFiles();
  clearError();
  forgetKey();
  $('#notice').textContent = 'Signed out.';
  showSignin();
}

function initAdding() {
  const zone = $('#dropzone');
  const add = (promise) =>
    Promise.resolve(promise)
      .then((list) => {
        if (list.length === 0) showError('Nothing to upload there: folders are walked, but their dotfiles and .git, .hg and .svn folders are skipped.');
        else addFiles(list);
      })
      .catch((err) => showError(`Could not read what was dropped: ${err.message || err}. Try picking the files instead.`));
  let depth = 0;
  zone.addEventListener('dragenter', (e) => {
    e.preventDefault();
    depth++;
    zone.classList.add('over');
  });
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
  });
  zone.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) zone.classList.remove('over');
  });
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    zone.classList.remove('over');
    if (e.dataTransfer) add(fromDrop(e.dataTransfer));
  });
  // A file dropped beside the zone must not replace the page.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
  for (const id of ['#pick-files', '#pick-folder']) {
    const input = $(id);
    input.addEventListener('change', () => {
      const list = fromInput(Array.from(input.files || []));
      input.value = '';
      add(list);
    });
  }
}

function init() {
  $('#signout').addEventListener('click', signOut);
  $('#error-dismiss').addEventListener('click', clearError);
  initAdding();
  initBrowse();
  initSignin(signedIn);
}

init();
