/**
 * When a requester matches no user or several, the agent picks one; the choice is remembered per
 * ticket (and only for the requester email it was made for) so reopening the ticket keeps it.
 */
interface Choice {
  email: string | null;
  userId: string;
}

const key = (ticketId: string) => `steward.ticket.${ticketId}.user`;

export function chosenUserFor(ticketId: string, email: string | null): string | null {
  try {
    const stored = JSON.parse(localStorage.getItem(key(ticketId)) ?? "null") as Choice | null;
    return stored && stored.email === email && typeof stored.userId === "string" ? stored.userId : null;
  } catch {
    return null;
  }
}

export function rememberChosenUser(ticketId: string, email: string | null, userId: string | null): void {
  try {
    if (userId) localStorage.setItem(key(ticketId), JSON.stringify({ email, userId } satisfies Choice));
    else localStorage.removeItem(key(ticketId));
  } catch {
    // Storage can be blocked for third-party frames; the choice then lasts only this load.
  }
}
