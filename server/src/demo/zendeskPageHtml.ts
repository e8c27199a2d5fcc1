/** The local Zendesk page's markup and look; its behaviour is zendeskHost.js. */
export function renderZendeskPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Steward demo · local Zendesk</title>
<link rel="icon" type="image/svg+xml" href="/zendesk/icon_nav_bar.svg">
<style>
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/20px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #2f3941; background: #f8f9f9; }
  header { display: flex; align-items: center; gap: 16px; padding: 8px 16px; background: #03363d; color: #fff; }
  header h1 { font-size: 15px; margin: 0; font-weight: 600; }
  header label { margin-left: auto; }
  header select { margin-left: 6px; }
  .desk { display: grid; grid-template-columns: 260px minmax(300px, 1fr) 360px; height: calc(100vh - 76px); }
  nav, main, aside { overflow-y: auto; }
  nav { border-right: 1px solid #d8dcde; background: #fff; }
  nav h2, aside h2 { font-size: 12px; text-transform: uppercase; color: #68737d; margin: 12px 12px 4px; }
  nav ul { list-style: none; margin: 0; padding: 0; }
  nav button { display: block; width: 100%; text-align: left; border: 0; border-bottom: 1px solid #e9ebed; background: none; padding: 8px 12px; cursor: pointer; font: inherit; }
  nav button[aria-current="true"] { background: #edf7ff; box-shadow: inset 3px 0 #1f73b7; }
  nav small { display: block; color: #68737d; }
  main { padding: 16px 24px; }
  main h2 { font-size: 18px; margin: 0 0 4px; }
  .requester { margin: 12px 0; padding: 12px; background: #fff; border: 1px solid #d8dcde; border-radius: 4px; }
  .requester form { display: flex; gap: 6px; margin-top: 8px; }
  .requester input { flex: 1; padding: 4px 6px; }
  section.notes, section.outbox { margin-top: 16px; }
  section h3 { font-size: 14px; margin: 0 0 6px; }
  .note, .mail { background: #fff8e5; border: 1px solid #ffe7a8; border-radius: 4px; padding: 8px; margin-bottom: 6px; white-space: pre-wrap; }
  .mail { background: #fff; border-color: #d8dcde; }
  .muted { color: #68737d; }
  aside { border-left: 1px solid #d8dcde; background: #fff; padding-bottom: 16px; }
  aside iframe { display: block; width: 340px; height: 200px; margin: 0 10px; border: 0; }
  .navbar { display: flex; gap: 4px; padding: 4px 16px; background: #17494d; }
  .navbar button { display: flex; gap: 6px; align-items: center; border: 0; background: none; color: #fff; padding: 4px 10px; cursor: pointer; font: inherit; }
  .navbar button[aria-current="true"] { background: #03363d; border-radius: 4px; }
  .navbar img { filter: invert(1); }
  #console-view iframe { display: block; width: 100%; height: calc(100vh - 76px); border: 0; background: #fff; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<header>
  <h1>Steward demo · local Zendesk</h1>
  <span class="muted" style="color:#c2c8cc">Plays Zendesk for Steward's sidebar (demo mode only)</span>
  <label>Agent <select id="agent"></select></label>
  <label>Language <select id="locale"><option value="en-US">English</option><option value="de">Deutsch</option></select></label>
  <label>Time zone <input id="tz" size="16" aria-label="Agent time zone (IANA)"></label>
</header>
<div class="navbar" role="navigation" aria-label="Zendesk navigation bar">
  <button type="button" data-view="tickets" title="Tickets">Tickets</button>
  <button type="button" data-view="console" title="Steward console (nav_bar app)"><img src="/zendesk/icon_nav_bar.svg" alt="" width="18" height="18"> Steward console</button>
</div>
<section id="console-view" hidden aria-label="Steward console"><iframe id="console" name="steward-console" title="Steward console"></iframe></section>
<div class="desk" id="desk">
  <nav aria-label="Tickets"><h2>Tickets</h2><ul id="tickets"></ul></nav>
  <main id="ticket" aria-live="polite">
    <p class="muted">Loading tickets…</p>
  </main>
  <aside aria-label="Apps">
    <h2>Apps · Steward</h2>
    <iframe id="sidebar" name="steward-sidebar" title="Steward"></iframe>
  </aside>
</div>
<script src="/zendesk/host.js"></script>
</body>
</html>`;
}
