// Answers to the server: strictly one after another, each retried until the server acknowledges it.
//
// A lost connection or a server error is retried with the same payload (so with the same client key: the
// server then answers "already stored, and it was yours"), waiting 0.5 s, 1 s, 2 s... up to 8 s between
// tries. A refusal (4xx: the study was paused, the trial is not the reader's to answer) is final.

/** A fresh key for one answer; its retries reuse it. */
export function newClientKey(crypto = globalThis.crypto) {
  if (crypto && crypto.randomUUID) return crypto.randomUUID();
  return String(Date.now()) + Math.random().toString(16).slice(2);
}

// Statuses that say "not now" rather than "no": the same answer is sent again.
const RETRY_STATUSES = new Set([408, 425, 429]);

/**
 * createSender({url, headers, fetch, sleep, onConnection, onAcknowledged, onRefused})
 *
 * send(payload, kind) queues an answer ("practice" or "main" counts it in pending(kind)) and returns a
 * promise of the server's body. onAcknowledged(body, kind) and onRefused(error, kind) run in the order the
 * answers were sent, each before the next answer goes out, and after the pending count has dropped.
 * onConnection("lost" | "restored") tells the page to say so.
 */
export function createSender({
  url, headers = {}, fetch = globalThis.fetch.bind(globalThis),
  sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  onConnection = () => {}, onAcknowledged = () => {}, onRefused = () => {},
  firstRetryMs = 500, longestRetryMs = 8000,
}) {
  let chain = Promise.resolve();
  const pendingByKind = { practice: 0, main: 0 };
  let lost = false;

  async function deliver(payload) {
    let delay = firstRetryMs;
    for (;;) {
      let response = null;
      try {
        response = await fetch(url, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json", ...headers },
          body: JSON.stringify(payload),
          credentials: "same-origin",
          cache: "no-store",
        });
      } catch (error) {
        response = null;  // no connection: try again
      }
      if (response && response.ok) {
        let body = null;
        try { body = await response.json(); } catch (error) { body = null; }  // cut off on the way: again
        if (body !== null) {
          if (lost) {
            lost = false;
            onConnection("restored");
          }
          return body;
        }
      } else if (response && response.status >= 400 && response.status < 500 && !RETRY_STATUSES.has(response.status)) {
        let detail = "This answer could not be saved.";
        try { detail = (await response.json()).detail || detail; } catch (error) { /* keep the default */ }
        const refusal = new Error(detail);
        refusal.status = response.status;
        throw refusal;
      }
      if (!lost) {
        lost = true;
        onConnection("lost");
      }
      await sleep(delay);
      delay = Math.min(delay * 2, longestRetryMs);
    }
  }

  function send(payload, kind = "main") {
    const key = kind === "practice" ? "practice" : "main";
    pendingByKind[key] += 1;
    const result = chain.then(() => deliver(payload)).then((body) => {
      pendingByKind[key] -= 1;
      onAcknowledged(body, kind);
      return body;
    }, (error) => {
      pendingByKind[key] -= 1;
      onRefused(error, kind);
      throw error;
    });
    chain = result.catch(() => {});  // the next answer goes out once this one is settled, either way
    return result;
  }

  return {
    send,
    /** Answers sent and not yet settled, in all or of one kind. */
    pending(kind) {
      if (kind) return pendingByKind[kind === "practice" ? "practice" : "main"];
      return pendingByKind.practice + pendingByKind.main;
    },
    /** Resolves once every answer sent so far is settled. */
    idle() { return chain; },
  };
}
