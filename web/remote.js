// The opt-in remote classifier (docs/browser-classifier.md, POST /api/classify).
//
//   createRemote({mode, endpoint}, {box, checkbox, note}, onChange)
//     -> {mode, consented(), usable(localAvailable), classify(text)}
//   The consent switch is shown only when mode is "opt-in"; the choice is remembered in
//   localStorage ("keel.remote-consent"). Nothing is sent before consent, never when mode is
//   "disabled", and the page uses it only when local classification is unavailable
//   (usable(false)). classify() sends {"text"} with X-Keel-Consent: granted and resolves to
//   the server's {label, confidence, labels, probabilities, provider: "server", ...}.
//
// No imports: served under a hashed URL, a relative import would name a stale hash.

const STORAGE_KEY = 'keel.remote-consent';

function readConsent() {
  try {
    return localStorage.getItem(STORAGE_KEY) === 'granted';
  } catch {
    return false; // storage disabled: consent must be given again on each visit
  }
}

function writeConsent(granted) {
  try {
    localStorage.setItem(STORAGE_KEY, granted ? 'granted' : 'denied');
  } catch {
    // not remembered; the switch still works for this visit
  }
}

export function createRemote(remoteConfig, els, onChange) {
  const mode = remoteConfig?.mode === 'opt-in' ? 'opt-in' : 'disabled';
  const endpoint = remoteConfig?.endpoint ?? '/api/classify';
  let consent = mode === 'opt-in' && readConsent();

  if (mode === 'opt-in') {
    els.box.hidden = false;
    els.checkbox.checked = consent;
    els.checkbox.addEventListener('change', () => {
      consent = els.checkbox.checked;
      writeConsent(consent);
      onChange?.(consent);
    });
  }

  return {
    mode,
    consented: () => consent,
    usable: (localAvailable) => mode === 'opt-in' && consent && !localAvailable,
    async classify(text) {
      if (mode !== 'opt-in' || !consent) throw new Error('remote classification needs consent');
      const t0 = performance.now();
      const res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Keel-Consent': 'granted' },
        body: JSON.stringify({ text }),
        credentials: 'same-origin',
      });
      let body = null;
      try {
        body = await res.json();
      } catch {
        // an error page that is not JSON: reported by status below
      }
      if (!res.ok || !body?.label) {
        throw new Error(`the server could not classify the text (HTTP ${res.status}${body?.error ? `: ${body.error}` : ''})`);
      }
      return { ...body, provider: 'server', roundtrip_ms: performance.now() - t0 };
    },
  };
}
