// <steward-banner>: who is viewing whose account, for which ticket, in which mode, and for how long.
// No framework; cannot be dismissed (it puts itself back if removed); announced to screen readers.
(() => {
  if (customElements.get("steward-banner")) return;
  // !important on the host: the page's own rules (a CSS reset) win over normal :host rules, not over important ones.
  const css =
    ":host{all:initial!important;display:block!important;position:fixed!important;top:0!important;left:0!important;right:0!important;z-index:2147483647!important;font:14px/1.4 system-ui,sans-serif!important}" +
    "div{display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center;padding:.5rem 1rem;background:#7a1f00;color:#fff}" +
    "b{font-weight:600}button{margin-left:auto;font:inherit;padding:.2rem .8rem;border:1px solid #fff;border-radius:4px;background:#fff;color:#7a1f00;cursor:pointer}" +
    "button:focus-visible{outline:3px solid #ffd166}";
  const OFF = "Steward cannot be reached: actions are paused until it confirms this session.";
  const pad = (n) => String(n).padStart(2, "0");
  const left = (ms) => {
    const s = Math.max(0, Math.floor(ms / 1000));
    return `${Math.floor(s / 60)}:${pad(s % 60)}`;
  };
  class StewardBanner extends HTMLElement {
    connectedCallback() {
      if (this.shadowRoot) return;
      const root = this.attachShadow({ mode: "open" });
      root.innerHTML = `<style>${css}</style><div role="region" aria-label="Support session"><span id="who"></span><span id="mode"></span><span id="time" aria-live="off"></span><b id="off"></b><button type="button" id="end">End session</button><span id="say" role="status" aria-live="polite" style="position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)"></span></div>`;
      this.$ = (id) => root.getElementById(id);
      this.$("end").addEventListener("click", () => this.end());
      // The page starts below the banner at whatever height it wraps to (a narrow window takes two or three lines).
      const bar = root.querySelector("div");
      const fit = () => document.documentElement.style.setProperty("padding-top", `${bar.offsetHeight}px`);
      new ResizeObserver(fit).observe(bar);
      fit();
      this.refresh();
      this.poll = setInterval(() => this.refresh(), 1000);
      this.tick = setInterval(() => this.render(), 1000);
    }
    disconnectedCallback() {
      // Not dismissable: a script or extension removing it gets it back.
      if (!this.ending) setTimeout(() => document.body.prepend(this), 0);
    }
    async refresh() {
      try {
        const r = await fetch("/steward/impersonation/status", { credentials: "same-origin", headers: { accept: "application/json" } });
        const s = await r.json();
        if (s.live === false) return this.gone(s.ended);
        // Not confirmed by Steward lately, or not checkable at all (503): paused, not over.
        const off = !s.live || s.confirmed === false;
        if (off !== Boolean(this.off)) {
          this.off = off;
          this.$("off").textContent = off ? OFF : "";
          this.$("say").textContent = off ? OFF : "Steward confirmed the session again: actions resume.";
        }
        if (!s.live) return;
        const first = !this.s;
        this.s = s;
        // Counted from now on this browser's clock: Steward's, the product's and the browser's may differ.
        // One instant for both: read apart, they could fall either side of a second and show a gap a second off.
        const now = Date.now();
        this.until = now + s.endsInSeconds * 1000;
        this.latest = s.idle ? now + s.latestInSeconds * 1000 : undefined;
        const warnedBefore = this.warned;
        this.render();
        if (first) {
          const viewing = `You are viewing ${s.customer}'s account as ${s.agent}, ${s.mode === "read_only" ? "read-only" : "with full access"}, for ticket ${s.ticket}.`;
          // Opened within the last minute: the warning render just gave is said after this, not replaced by it.
          this.$("say").textContent = this.warned && !warnedBefore ? `${viewing} ${this.$("say").textContent}` : viewing;
        }
      } catch {
        /* the next poll tries again */
      }
    }
    render() {
      const s = this.s;
      if (!s) return;
      const now = Date.now();
      const ms = this.until - now;
      this.$("who").innerHTML = "";
      this.$("who").append("Viewing as ", Object.assign(document.createElement("b"), { textContent: s.customer }), ` · agent ${s.agent} · ticket #${s.ticket}`);
      this.$("mode").textContent = s.mode === "read_only" ? "Read-only" : "Full access";
      // The idle limit, as the sidebar says it: activity in the product moves it on.
      const idle = this.latest === undefined ? "" : " without activity in the product";
      this.$("time").textContent = `Ends in ${left(ms)}${idle}${this.latest === undefined ? "" : ` (at the latest in ${left(this.latest - now)})`}`;
      if (ms <= 60000 && !this.warned) {
        this.warned = true;
        this.$("say").textContent = `The support session ends in one minute${idle}.`;
      }
    }
    async end() {
      this.$("end").disabled = true;
      const r = await fetch("/steward/impersonation/end", { method: "POST", credentials: "same-origin" }).catch(() => undefined);
      const answer = r ? await r.json().catch(() => undefined) : undefined;
      this.gone(answer?.ended);
    }
    // `ended`: the ended page's address with why, from the kit (only ever a /steward/ended path).
    gone(ended) {
      this.ending = true;
      clearInterval(this.poll);
      clearInterval(this.tick);
      location.assign(typeof ended === "string" && ended.startsWith("/steward/ended") ? ended : "/steward/ended");
    }
  }
  customElements.define("steward-banner", StewardBanner);
})();
