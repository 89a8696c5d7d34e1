// synthgate: web vitals measured inside the page, as the web-vitals library (github.com/GoogleChrome/web-vitals)
// defines them; injected before any page script.
// - LCP: the latest largest-contentful-paint candidate, observed until the first user input (keydown or
//   click, as web-vitals stops on input) - the runner also ends it after a quiet window past the load event.
// - CLS: the largest session window of layout shifts without recent input (shifts less than 1 s apart, the
//   window at most 5 s long), over the whole life of the page, so shifts after the load event count.
// - INP: per interaction (interactionId), its longest event duration; INP is the worst interaction, skipping
//   one of the worst for every 50 interactions (the 98th percentile web-vitals reports).
// window.__synthgateVitals() returns the values in milliseconds (cls unitless) plus the times the runner needs
// to know when the page has gone quiet; interactions are also reported to the runner as they happen
// (window.__synthgateInteraction, when the runner exposes it), so a navigation does not lose them.
(() => {
  if (window.__synthgateVitals) return;
  const doc = Math.random().toString(36).slice(2);
  const v = { fcp: null, lcp: null, lcpAt: null, lcpElement: null, lcpCandidates: 0, lcpStopped: null,
              cls: 0, shifts: 0, lastShiftAt: null, clsSources: [] };
  let sessionValue = 0;
  let sessionEntries = [];
  const interactions = new Map(); // interactionId -> {duration, name, target}
  const describe = (node) => {
    if (!node || !node.tagName) return null;
    const id = node.id ? "#" + node.id : "";
    const cls = typeof node.className === "string" && node.className.trim()
      ? "." + node.className.trim().split(/\s+/).join(".") : "";
    return node.tagName.toLowerCase() + id + cls;
  };
  const observe = (type, fn, extra) => {
    try {
      const po = new PerformanceObserver((list) => list.getEntries().forEach(fn));
      po.observe(Object.assign({ type, buffered: true }, extra || {}));
      return po;
    } catch (e) {
      return null; /* entry type not supported by this browser: the metric stays null */
    }
  };
  observe("paint", (e) => {
    if (e.name === "first-contentful-paint") v.fcp = e.startTime;
  });
  const lcpObserver = observe("largest-contentful-paint", (e) => {
    if (v.lcpStopped !== null) return;
    v.lcp = e.startTime;
    v.lcpAt = performance.now();
    v.lcpCandidates += 1;
    v.lcpElement = describe(e.element);
  });
  const stopLcp = (why) => {
    if (v.lcpStopped !== null) return;
    if (lcpObserver) lcpObserver.takeRecords().forEach((e) => {
      v.lcp = e.startTime; v.lcpAt = performance.now(); v.lcpCandidates += 1; v.lcpElement = describe(e.element);
    });
    v.lcpStopped = why;
    if (lcpObserver) lcpObserver.disconnect();
  };
  // web-vitals ends LCP on the first input: later paints are the user's doing, not the page load's
  ["keydown", "click"].forEach((type) =>
    addEventListener(type, () => stopLcp("input"), { once: true, capture: true }));
  addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") stopLcp("hidden"); },
                   { capture: true });
  observe("layout-shift", (e) => {
    if (e.hadRecentInput) return;
    const first = sessionEntries[0];
    const last = sessionEntries[sessionEntries.length - 1];
    if (sessionValue && e.startTime - last.startTime < 1000 && e.startTime - first.startTime < 5000) {
      sessionValue += e.value;
      sessionEntries.push(e);
    } else {
      sessionValue = e.value;
      sessionEntries = [e];
    }
    v.shifts += 1;
    v.lastShiftAt = performance.now();
    if (sessionValue > v.cls) {
      v.cls = sessionValue;
      v.clsSources = [];
      sessionEntries.forEach((s) => (s.sources || []).forEach((src) => {
        const name = describe(src.node);
        if (name && v.clsSources.indexOf(name) < 0 && v.clsSources.length < 5) v.clsSources.push(name);
      }));
    }
  });
  const onEvent = (e) => {
    if (!e.interactionId) return;
    const known = interactions.get(e.interactionId);
    if (known && known.duration >= e.duration) return;
    const item = { id: doc + ":" + e.interactionId, duration: e.duration, name: e.name,
                   target: describe(e.target), page: location.pathname };
    interactions.set(e.interactionId, item);
    if (typeof window.__synthgateInteraction === "function") {
      try { window.__synthgateInteraction(item); } catch (err) { /* the runner is gone: keep the local copy */ }
    }
  };
  observe("event", onEvent, { durationThreshold: 16 });
  observe("first-input", onEvent);
  const inp = () => {
    const list = Array.from(interactions.values()).sort((a, b) => b.duration - a.duration);
    if (!list.length) return null;
    return list[Math.min(list.length - 1, Math.floor(interactions.size / 50))];
  };
  Object.defineProperty(window, "__synthgateVitals", {
    value: () => {
      const nav = performance.getEntriesByType("navigation")[0];
      const worst = inp();
      return {
        fcp: v.fcp,
        lcp: v.lcp,
        lcp_at: v.lcpAt,
        lcp_element: v.lcpElement,
        lcp_candidates: v.lcpCandidates,
        lcp_stopped: v.lcpStopped,
        cls: v.cls,
        shifts: v.shifts,
        last_shift_at: v.lastShiftAt,
        cls_sources: v.clsSources,
        inp: worst ? worst.duration : null,
        inp_target: worst ? worst.target : null,
        interactions: interactions.size,
        ttfb: nav ? nav.responseStart : null,
        load: nav && nav.loadEventEnd > 0 ? nav.loadEventEnd : null,
        now: performance.now(),
      };
    },
  });
})();
