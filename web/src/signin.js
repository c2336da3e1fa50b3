// Sign-in with an API key: checked with GET /api/v0/limits, kept in the
// tab's sessionStorage, sent only in the Authorization header.
import { api, useKey, forgetKey, storedKey } from './api.js';

const $ = (sel) => document.querySelector(sel);

export const REFUSED = 'That API key was not accepted. Check it, or create one with `perseus keys create`.';

function signinError(text) {
  const e = $('#signin-error');
  e.textContent = text;
  e.hidden = !text;
}

/** check tries key: it answers the limits, or throws after saying why in #signin-error. */
async function check(key) {
  useKey(key, false);
  try {
    return await api('GET', '/api/v0/limits');
  } catch (err) {
    // Only a refused key is forgotten; a server that cannot answer now
    // leaves a stored key stored, so that a reload tries it again.
    if (err.status === 401) forgetKey();
    else useKey(null, false);
    if (err.status === 401) signinError(REFUSED);
    else if (err.status === 0) signinError(err.message);
    else signinError(`Could not sign in: ${err.message} Try again in a moment.`);
    throw err;
  }
}

/**
 * initSignin wires the form; onSignedIn(limits) is called after a key is
 * accepted, from the form or from this tab's session on load.
 */
export function initSignin(onSignedIn) {
  const form = $('#signin');
  const input = $('#api-key');
  const submit = $('#signin-submit');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    if (!key) {
      signinError('Enter an API key: one from `perseus keys create`, or the --api-key given to perseus serve.');
      input.focus();
      return;
    }
    submit.disabled = true;
    signinError('');
    try {
      const limits = await check(key);
      useKey(key, true);
      input.value = '';
      onSignedIn(limits);
    } catch {
      input.focus();
    } finally {
      submit.disabled = false;
    }
  });
  const saved = storedKey();
  if (saved) {
    check(saved)
      .then((limits) => {
        useKey(saved, true);
        onSignedIn(limits);
      })
      .catch(() => showSignin()); // check kept the key stored unless it was refused
  } else {
    showSignin();
  }
}

export function showSignin() {
  $('#signin-view').hidden = false;
  $('#app').hidden = true;
  $('#signout').hidden = true;
  $('#live').hidden = true;
  $('#api-key').focus();
}

export function hideSignin() {
  signinError('');
  $('#signin-view').hidden = true;
  $('#app').hidden = false;
  $('#signout').hidden = false;
  $('#live').hidden = false;
}
