/**
 * The kit's two pages: plain HTML, no scripts, readable by a screen reader. An empty icon, so the browser
 * asks for no /favicon.ico: in a live session that request would be audited as a failed action of the agent.
 */
function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title><link rel="icon" href="data:,">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f2933}h1{font-size:1.4rem}</style></head>
<body><main><h1>${title}</h1>${body}</main></body></html>`;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Why the session ended, for the agent who reads the page; keyed by Steward's end reasons (the sidebar's words). */
const ENDED_WHY: Record<string, string> = {
  agent: "It was ended with End session, here or in the ticket's sidebar.",
  admin_revoked: "Operations or an admin revoked it.",
  idle_timeout: "It reached the idle limit: there was no activity in the product for too long.",
  absolute_timeout: "It reached its time limit.",
  target_changed: "The customer's account or user changed (blocked, suspended, deleted or protected from impersonation).",
  staff_deactivated: "Your panel access was removed or lowered below this session's mode.",
};

/** The reason as a query for the ended page's address; empty when it is none the page can word. */
export function endedQuery(reason: string | null | undefined): string {
  return reason && Object.hasOwn(ENDED_WHY, reason) ? `?reason=${reason}` : "";
}

/** `reason`: Steward's end reason when the kit knows it; an unknown one is left unsaid rather than guessed. */
export function endedPage(reason?: string): string {
  const why = reason && Object.hasOwn(ENDED_WHY, reason) ? ` ${ENDED_WHY[reason]}` : "";
  return page("Support session ended", `<p id="steward-ended">You are no longer viewing this customer's account.${why} You can close this tab and go back to the ticket.</p>`);
}

export function refusedPage(message: string): string {
  return page("Not allowed in this support session", `<p role="alert" id="steward-refused">${escape(message)}</p><p><a href="/">Back to the start page</a></p>`);
}
