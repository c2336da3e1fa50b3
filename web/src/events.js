// The live status: GET /api/v0/events read with fetch (EventSource cannot
// send the key in a header), parsed by eventsource-parser, resumed with
// Last-Event-ID after a break, with a growing pause between attempts.
// It starts at the tenant's latest event: older ones are history the
// listing already shows.
import { createParser } from 'eventsource-parser';
import { api, apiURL, authHeader, errorOf, retryAfter, sleep } from './api.js';

let controller = null;

function setLive(state, text) {
  const el = document.querySelector('#live');
  el.dataset.state = state;
  el.textContent = text;
}

/** latestEventID answers the id of the tenant's latest event, in one request (since=latest). */
async function latestEventID(signal) {
  const page = await api('GET', '/api/v0/events?follow=false&since=latest', { signal });
  return page.last || 0;
}

/**
 * startEvents follows the stream until stopEvents; onEvent(type, file) is
 * called for each event, onReady once the starting point is known (before
 * the stream opens), onAuthFailed when the key is refused.
 */
export function startEvents({ onEvent, onReady, onAuthFailed }) {
  stopEvents();
  controller = new AbortController();
  const signal = controller.signal;
  (async () => {
    setLive('connecting', 'Live updates: connecting…');
    let last = null;
    let pause = 1000;
    let readied = false;
    const ready = () => {
      if (!readied && onReady) onReady();
      readied = true;
    };
    while (!signal.aborted) {
      try {
        if (last === null) {
          last = await latestEventID(signal);
          ready();
        }
        const res = await fetch(apiURL(`/api/v0/events?since=${last}`), {
          headers: { Authorization: authHeader(), Accept: 'text/event-stream', 'Last-Event-ID': String(last) },
          signal,
          cache: 'no-store',
          credentials: 'omit',
        });
        if (res.status === 401) {
          setLive('reconnecting', 'Live updates: stopped (the API key was refused).');
          if (onAuthFailed) onAuthFailed(await errorOf(res));
          return;
        }
        if (res.status === 429) {
          await sleep(retryAfter(res), signal);
          continue;
        }
        if (!res.ok || !res.body) throw await errorOf(res);
        setLive('live', 'Live updates: on');
        pause = 1000;
        const parser = createParser({
          onEvent: (ev) => {
            if (ev.id) last = Number.parseInt(ev.id, 10) || last;
            let payload;
            try {
              payload = JSON.parse(ev.data);
            } catch {
              return;
            }
            if (onEvent) onEvent(ev.event || payload.type, payload.data);
          },
        });
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.feed(value);
        }
      } catch (err) {
        if (signal.aborted || (err && err.name === 'AbortError')) return;
        ready(); // the list loads (and says what went wrong) even without the stream
        if (err && err.status === 401) {
          setLive('reconnecting', 'Live updates: stopped (the API key was refused).');
          if (onAuthFailed) onAuthFailed(err);
          return;
        }
      }
      if (signal.aborted) return;
      // The stream ended (a server restart, a lost network): resume after the last event.
      setLive('reconnecting', `Live updates: reconnecting in ${Math.round(pause / 1000)} s…`);
      try {
        await sleep(pause * (0.8 + Math.random() * 0.4), signal);
      } catch {
        return;
      }
      pause = Math.min(pause * 2, 30000);
    }
  })();
}

/** stopEvents ends the stream. */
export function stopEvents() {
  if (controller) controller.abort();
  controller = null;
}
