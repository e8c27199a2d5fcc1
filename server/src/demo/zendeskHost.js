// @ts-check
/**
 * The local Zendesk page (demo mode): plays the Zendesk agent UI and speaks the ZAF host protocol to
 * Steward's sidebar, which runs in an iframe on the other loopback origin with the unmodified SDK.
 * Plain browser JavaScript, served as is by server/src/demo/zendeskPage.ts.
 */
(() => {
  "use strict";

  /** The sidebar runs on the other loopback name, so host and app are two origins, as in Zendesk. */
  const appOrigin = `${location.protocol}//${location.hostname === "127.0.0.1" ? "localhost" : "127.0.0.1"}:${location.port}`;
  const sidebar = /** @type {HTMLIFrameElement} */ (document.getElementById("sidebar"));
  const consoleFrame = /** @type {HTMLIFrameElement} */ (document.getElementById("console"));
  const params = new URLSearchParams(location.search);

  /**
   * view: "tickets" (a ticket with the sidebar) or "console" (Steward's nav_bar console, full width).
   * timeZone: the agent's Zendesk time zone, given to the apps as currentUser.timeZone.
   * @type {{ tickets: any[], agents: any[], ticket: any, agentId: string, locale: string, timeZone: string, view: string, appGuid: string, events: Map<string, number>, loads: number }}
   */
  const state = { tickets: [], agents: [], ticket: null, agentId: params.get("agent") ?? "9002", locale: params.get("locale") ?? "en-US", timeZone: params.get("tz") ?? "Europe/Berlin", view: params.get("view") === "console" ? "console" : "tickets", appGuid: "", events: new Map(), loads: 0 };
  /** The app frame the host is talking to: the sidebar, or the console in the console view. */
  let frame = state.view === "console" ? consoleFrame : sidebar;

  /** @param {string} tag @param {Record<string, string>} [attrs] @param {(Node | string)[]} [children] */
  function el(tag, attrs = {}, children = []) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    for (const child of children) node.append(child);
    return node;
  }

  /** @param {string} url @param {RequestInit} [init] */
  async function json(url, init) {
    const res = await fetch(url, init);
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw Object.assign(new Error(body.detail ?? res.statusText), { status: res.status, body });
    return body;
  }

  // ── ZAF host protocol ────────────────────────────────────────────────────────────────────────
  /** @param {object} message */
  function send(message) {
    frame.contentWindow?.postMessage(JSON.stringify(message), appOrigin);
  }

  /** The requester's language (Zendesk user locale): `requesterLocale` in the page URL, else English. */
  const requesterLocale = params.get("requesterLocale") ?? "en-US";

  function requester() {
    const r = state.ticket.requester;
    return { id: r.id, name: r.name, email: r.email, externalId: r.externalId, locale: requesterLocale };
  }

  function currentAgent() {
    return state.agents.find((a) => a.zendeskUserId === state.agentId) ?? state.agents[0];
  }

  /** Answers `client.get(paths)`: each path's value, or an entry in `errors`. @param {string[]} paths */
  function get(paths) {
    const agent = currentAgent();
    // The nav_bar location has no ticket: ticket paths are errors there, as in Zendesk.
    const t = state.view === "tickets" ? state.ticket : null;
    /** @type {Record<string, unknown>} */
    const values = {
      ...(t
        ? {
            "ticket.id": t.id,
            "ticket.subject": t.subject,
            "ticket.status": t.status,
            "ticket.requester": requester(),
            "ticket.requester.id": t.requester.id,
            "ticket.requester.email": t.requester.email,
            "ticket.requester.name": t.requester.name,
            "ticket.requester.externalId": t.requester.externalId,
          }
        : {}),
      currentUser: { id: Number(agent.zendeskUserId), name: agent.name, email: agent.email, locale: state.locale, role: "agent", timeZone: { ianaName: state.timeZone, name: state.timeZone } },
      "currentUser.locale": state.locale,
      "currentUser.id": Number(agent.zendeskUserId),
      currentAccount: { subdomain: "steward-demo", planName: "demo" },
    };
    /** @type {Record<string, unknown>} */
    const result = { errors: {} };
    for (const path of paths) {
      if (path in values) result[path] = values[path];
      else /** @type {Record<string, unknown>} */ (result.errors)[path] = { name: "InvalidPathError", message: `"${path}" is not available in the local Zendesk page` };
    }
    return result;
  }

  /** Answers `client.invoke(...)`: resize is the one the sidebar uses. @param {Record<string, unknown[]>} calls */
  function invoke(calls) {
    /** @type {Record<string, unknown>} */
    const errors = {};
    for (const [name, args] of Object.entries(calls)) {
      if (name === "routeTo" && state.view === "console") {
        // routeTo('ticket', id) from the nav_bar: the agent UI opens that ticket (with its sidebar).
        const [kind, id] = args;
        const ticket = state.tickets.find((t) => String(t.id) === String(id));
        if (kind !== "ticket" || !ticket) errors[name] = { name: "InvalidRouteError", message: `no ${String(kind)} ${String(id)} in the local Zendesk page` };
        else setTimeout(() => showView("tickets", ticket.id), 0);
        document.body.dataset.routedTo = `${String(kind)}:${String(id)}`;
      } else if (name === "ticket.comment.appendText" && state.view === "tickets") {
        // Zendesk appends to the ticket's reply composer (the agent still reviews and sends it).
        const composer = /** @type {HTMLTextAreaElement | null} */ (document.getElementById("composer"));
        const text = String(args[0] ?? "");
        if (composer) composer.value = composer.value ? `${composer.value}\n${text}` : text;
      } else if (name === "resize") {
        const size = /** @type {{ height?: string | number }} */ (args[0] ?? {});
        const height = parseInt(String(size.height ?? ""), 10);
        if (Number.isFinite(height) && height > 0) frame.style.height = `${Math.min(height, 4000)}px`;
      } else errors[name] = { name: "InvalidActionError", message: `"${name}" is not supported by the local Zendesk page` };
    }
    return { errors };
  }

  /** `client.request(...)`: the ticket update that adds an internal note, served by the demo routes. */
  async function request(/** @type {string} */ key, /** @type {any} */ options) {
    const match = /^\/api\/v2\/tickets\/(\d+)\.json$/.exec(String(options?.url ?? ""));
    try {
      if (!match || String(options.type ?? "GET").toUpperCase() !== "PUT") throw Object.assign(new Error("not supported by the local Zendesk page"), { status: 404 });
      const body = await json(`/zendesk/api/v2/tickets/${match[1]}.json`, { method: "PUT", headers: { "Content-Type": options.contentType ?? "application/json" }, body: options.data });
      send({ key: `zaf.${key}.done`, message: { responseArgs: [body, "success", { status: 200 }] } });
      if (Number(match[1]) === state.ticket.id) void showNotes();
    } catch (err) {
      const e = /** @type {{ status?: number, message: string }} */ (err);
      send({ key: `zaf.${key}.fail`, message: { responseArgs: [{ status: e.status ?? 500, statusText: e.message, responseText: JSON.stringify({ error: e.message }) }] } });
    }
  }

  window.addEventListener("message", (event) => {
    if (event.origin !== appOrigin || event.source !== frame.contentWindow || typeof event.data !== "string") return;
    /** @type {any} */
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch {
      return;
    }
    if (msg.appGuid !== state.appGuid) return; // left over from a sidebar load that has been replaced
    const key = typeof msg.key === "string" ? msg.key : "";
    if (key === "iframe.handshake") {
      send({
        key: "zaf.app.registered",
        message: {
          metadata: { appId: 0, installationId: 1, name: "Steward", version: "demo", settings: { steward_url: appOrigin } },
          context:
            state.view === "console"
              ? { instanceGuid: state.appGuid, product: "support", location: "nav_bar", account: { subdomain: "steward-demo" } }
              : { instanceGuid: state.appGuid, product: "support", location: "ticket_sidebar", ticketId: state.ticket.id, account: { subdomain: "steward-demo" } },
        },
      });
    } else if (key.startsWith("iframe.on:") || key.startsWith("iframe.off:")) {
      const name = key.slice(key.indexOf(":") + 1);
      state.events.set(name, Number(msg.message?.subscriberCount ?? 0));
      document.body.dataset.sidebarEvents = [...state.events].filter(([, n]) => n > 0).map(([name]) => name).join(" ");
    } else if (/^request:\d+$/.test(key)) {
      void request(key, msg.message);
    } else if (msg.request === "get") {
      send({ id: msg.id, result: get(Array.isArray(msg.params) ? msg.params : []) });
    } else if (msg.request === "invoke") {
      send({ id: msg.id, result: invoke(msg.params ?? {}) });
    } else if (msg.request === "set") {
      send({ id: msg.id, error: { name: "NotSupportedError", message: "the local Zendesk page does not support set" } });
    }
  });

  /** Fires a Zendesk event to the sidebar if it subscribed, as Zendesk does. @param {string} name @param {unknown} data */
  function fire(name, data) {
    if ((state.events.get(name) ?? 0) > 0) send({ key: `zaf.${name}`, message: data });
  }

  /** Loads the sidebar (or, in the console view, the nav_bar console) the way Zendesk does: a form POST of a signed token to the location URL. */
  async function loadSidebar() {
    state.appGuid = crypto.randomUUID();
    state.events.clear();
    state.loads += 1;
    delete document.body.dataset.sidebarEvents;
    const navBar = state.view === "console";
    frame = navBar ? consoleFrame : sidebar;
    if (!navBar) frame.style.height = "200px";
    const { token } = await json("/zendesk/api/zaf-token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(navBar ? { zendeskUserId: state.agentId, location: "nav_bar" } : { zendeskUserId: state.agentId, ticketId: state.ticket.id }),
    });
    const query = new URLSearchParams({ origin: location.origin, app_guid: state.appGuid });
    const form = el("form", { method: "POST", action: `${appOrigin}/${navBar ? "console" : "app"}?${query}`, target: frame.name }, [el("input", { type: "hidden", name: "token", value: token })]);
    document.body.append(form);
    /** @type {HTMLFormElement} */ (form).submit();
    form.remove();
    document.body.dataset.sidebarLoads = String(state.loads);
    document.body.dataset.sidebarGuid = state.appGuid;
  }

  // ── The agent UI ────────────────────────────────────────────────────────────────────────────
  async function showNotes() {
    const list = document.getElementById("notes");
    if (!list) return;
    const { notes } = await json(`/zendesk/api/tickets/${state.ticket.id}/notes`);
    list.replaceChildren(...(notes.length ? notes.map((/** @type {any} */ n) => el("li", { class: "note", "data-note": String(n.id) }, [n.body])) : [el("li", { class: "muted" }, ["No internal notes yet."])]));
  }

  /**
   * The outbox needs a Steward session: the page signs in as the chosen agent, as the sidebar does, once per
   * agent and not on every ticket view (each sign-in counts against the client's sign-in limit).
   * @type {Map<string, Promise<string>>}
   */
  const outboxSessions = new Map();
  function outboxSession() {
    const agentId = state.agentId;
    let session = outboxSessions.get(agentId);
    if (!session) {
      session = (async () => {
        const { token } = await json("/zendesk/api/zaf-token", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ zendeskUserId: agentId, ticketId: state.ticket.id }),
        });
        return (await json("/api/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token }) })).sessionToken;
      })();
      session.catch(() => outboxSessions.delete(agentId));
      outboxSessions.set(agentId, session);
    }
    return session;
  }

  // The demo outbox: the customer mail Steward queued (GET /api/demo/outbox, demo mode only).
  async function showOutbox() {
    const list = document.getElementById("outbox");
    if (!list) return;
    try {
      const read = async () => json("/api/demo/outbox?limit=20", { headers: { Authorization: `Bearer ${await outboxSession()}` } });
      // A kept session that has expired is dropped and signed in again, once.
      const { mail } = await read().catch((/** @type {any} */ err) => {
        if (err.status !== 401) throw err;
        outboxSessions.delete(state.agentId);
        return read();
      });
      list.replaceChildren(
        ...(mail.length
          ? mail.map((/** @type {any} */ m) => el("li", { class: "mail", "data-mail": m.id }, [el("strong", {}, [m.subject]), ` → ${m.to} (${m.status}${m.ticketId ? `, ticket #${m.ticketId}` : ""})\n`, m.bodyText]))
          : [el("li", { class: "muted" }, ["No customer mail yet."])]),
      );
    } catch (err) {
      list.replaceChildren(el("li", { class: "muted" }, [`The outbox is not available (${/** @type {Error} */ (err).message}).`]));
    }
  }

  function showTicket() {
    const t = state.ticket;
    const emailInput = el("input", { id: "requester-email", type: "email", value: t.requester.email, "aria-label": "Requester email" });
    const form = el("form", { id: "change-email" }, [emailInput, el("button", { type: "submit" }, ["Change requester email"])]);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const email = /** @type {HTMLInputElement} */ (emailInput).value.trim();
      if (!email || email === t.requester.email) return;
      t.requester.email = email;
      document.getElementById("requester-line")?.replaceChildren(`${t.requester.name} <${email}>`);
      fire("ticket.requester.email.changed", email);
    });
    document.getElementById("ticket")?.replaceChildren(
      el("h2", { id: "ticket-subject" }, [t.subject]),
      el("div", { class: "muted" }, [`Ticket #${t.id} · ${t.status}`]),
      el("div", { class: "requester" }, [el("strong", {}, ["Requester"]), el("div", { id: "requester-line" }, [`${t.requester.name} <${t.requester.email}>`]), form]),
      el("section", { class: "notes" }, [el("label", { for: "composer" }, [el("h3", {}, ["Public reply"])]), el("textarea", { id: "composer", rows: "4", style: "width:100%" })]),
      el("section", { class: "notes" }, [el("h3", {}, ["Internal notes"]), el("ol", { id: "notes", style: "list-style:none;padding:0" })]),
      el("section", { class: "outbox" }, [el("h3", {}, ["Demo outbox (customer mail)"]), el("ol", { id: "outbox", style: "list-style:none;padding:0" })]),
    );
    for (const button of document.querySelectorAll("#tickets button")) button.setAttribute("aria-current", String(button.getAttribute("data-ticket") === String(t.id)));
    void showNotes();
    void showOutbox();
  }

  function remember() {
    const q = new URLSearchParams({ ticket: String(state.ticket.id), agent: state.agentId, locale: state.locale, tz: state.timeZone, ...(state.view === "console" ? { view: "console" } : {}) });
    history.replaceState(null, "", `${location.pathname}?${q}`);
  }

  /** Switching ticket, agent or language reloads the sidebar with a new app_guid and token, as Zendesk does. */
  function open(/** @type {number} */ ticketId) {
    // A fresh copy: a requester email changed on the page lasts until the ticket is opened again.
    state.ticket = structuredClone(state.tickets.find((t) => t.id === ticketId) ?? state.tickets[0]);
    remember();
    if (state.view === "tickets") showTicket();
    void loadSidebar();
  }

  /** The nav bar: the ticket desk, or Steward's console (nav_bar location) full width. */
  function showView(/** @type {string} */ view, /** @type {number} */ ticketId) {
    state.view = view;
    document.body.dataset.view = view;
    document.getElementById("desk")?.toggleAttribute("hidden", view !== "tickets");
    document.getElementById("console-view")?.toggleAttribute("hidden", view !== "console");
    for (const button of document.querySelectorAll("[data-view]")) button.setAttribute("aria-current", String(button.getAttribute("data-view") === view));
    // The app that is not shown is unloaded, as Zendesk does when it replaces an app's iframe.
    (view === "console" ? sidebar : consoleFrame).removeAttribute("src");
    open(ticketId);
  }

  async function start() {
    const desk = await json("/zendesk/api/desk");
    state.tickets = desk.tickets;
    state.agents = desk.agents;
    // An agent= the desk does not have (a typo, an old link): the first agent, as the select then shows, not a blank page.
    if (!state.agents.some((a) => a.zendeskUserId === state.agentId)) state.agentId = state.agents[0].zendeskUserId;
    const agentSelect = /** @type {HTMLSelectElement} */ (document.getElementById("agent"));
    agentSelect.replaceChildren(...state.agents.map((a) => el("option", { value: a.zendeskUserId }, [`${a.name} (${a.role})`])));
    agentSelect.value = state.agentId;
    agentSelect.addEventListener("change", () => {
      state.agentId = agentSelect.value;
      open(state.ticket.id);
    });
    const localeSelect = /** @type {HTMLSelectElement} */ (document.getElementById("locale"));
    localeSelect.value = state.locale;
    // A regional locale (de-DE) the list does not name: its language's entry shows, the locale itself is kept.
    if (localeSelect.value !== state.locale) localeSelect.value = [...localeSelect.options].find((o) => o.value.split("-")[0] === state.locale.split("-")[0])?.value ?? "en-US";
    localeSelect.addEventListener("change", () => {
      state.locale = localeSelect.value;
      open(state.ticket.id);
    });
    document.getElementById("tickets")?.replaceChildren(
      ...state.tickets.map((t) => {
        const button = el("button", { type: "button", "data-ticket": String(t.id) }, [`#${t.id} ${t.subject}`, el("small", {}, [t.requester.email])]);
        button.addEventListener("click", () => open(t.id));
        return el("li", {}, [button]);
      }),
    );
    for (const button of document.querySelectorAll("[data-view]")) button.addEventListener("click", () => showView(button.getAttribute("data-view") ?? "tickets", state.ticket?.id ?? state.tickets[0]?.id));
    const tzInput = /** @type {HTMLInputElement} */ (document.getElementById("tz"));
    tzInput.value = state.timeZone;
    tzInput.addEventListener("change", () => {
      state.timeZone = tzInput.value.trim() || "UTC";
      open(state.ticket.id);
    });
    showView(state.view, Number(params.get("ticket") ?? state.tickets[0]?.id));
  }

  start().catch((err) => {
    document.getElementById("ticket")?.replaceChildren(el("p", { role: "alert" }, [`The local Zendesk page could not start: ${err.message}`]));
  });
})();
