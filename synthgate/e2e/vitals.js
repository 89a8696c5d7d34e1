// synthgate: web vitals measured inside the page with PerformanceObserver, injected before any page script.
// window.__synthgateVitals() returns {fcp, lcp, cls, ttfb, load} in milliseconds (cls unitless).
(() => {
  if (window.__synthgateVitals) return;
  const v = { fcp: null, lcp: null, cls: 0, shifts: 0 };
  let session = 0;
  let sessionStart = 0;
  let last = 0;
  const observe = (type, fn) => {
    try {
      new PerformanceObserver((list) => list.getEntries().forEach(fn)).observe({ type, buffered: true });
    } catch (e) {
      /* entry type not supported by this browser: the metric stays null */
    }
  };
  observe("paint", (e) => {
    if (e.name === "first-contentful-paint") v.fcp = e.startTime;
  });
  observe("largest-contentful-paint", (e) => {
    v.lcp = e.startTime;
  });
  observe("layout-shift", (e) => {
    if (e.hadRecentInput) return;
    // CLS is the largest session window: shifts less than 1 s apart, the window at most 5 s long.
    if (session && e.startTime - last < 1000 && e.startTime - sessionStart < 5000) {
      session += e.value;
    } else {
      session = e.value;
      sessionStart = e.startTime;
    }
    last = e.startTime;
    v.shifts += 1;
    if (session > v.cls) v.cls = session;
  });
  Object.defineProperty(window, "__synthgateVitals", {
    value: () => {
      const nav = performance.getEntriesByType("navigation")[0];
      return {
        fcp: v.fcp,
        lcp: v.lcp,
        cls: v.cls,
        shifts: v.shifts,
        ttfb: nav ? nav.responseStart : null,
        load: nav && nav.loadEventEnd > 0 ? nav.loadEventEnd : null,
      };
    },
  });
})();
