import { HttpFake, type FailOptions, type FakeReply, type FakeRequest } from "./httpFake.js";

interface Comment {
  id: number;
  body: string;
  plain_body: string;
  public: boolean;
  created_at: string;
}

/**
 * (Kept apart from zendeskFake.ts, the ticket-read fake, for now: the two grew in parallel.)
 * The two Zendesk Support API calls Steward's server-side client makes: a ticket update adding a
 * comment (`PUT /api/v2/tickets/{id}.json`) and List Comments (`GET /api/v2/tickets/{id}/comments.json`,
 * `sort_order`, offset pages with a `next_page` URL). Refuses what Zendesk refuses for these: a missing
 * comment body, a non-numeric ticket id, an unknown ticket, an unknown `sort_order`. Fault injection
 * (a timeout after the comment was added…) comes from HttpFake.
 */
export class ZendeskCommentsFake extends HttpFake {
  readonly comments = new Map<number, Comment[]>();
  /** Tickets that exist; others answer 404 RecordNotFound. */
  readonly tickets = new Set<number>();
  pageSize = 100;
  private nextId = 9_000_000;

  constructor(tickets: number[] = []) {
    super();
    for (const t of tickets) this.tickets.add(t);
  }

  protected parseBody(raw: string): unknown {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return undefined;
    }
  }

  protected errorReply(status: number, options: FailOptions): FakeReply {
    return { status, body: { error: status >= 500 ? "InternalError" : "Error", description: "injected" }, ...(options.retryAfter !== undefined ? { headers: { "retry-after": String(options.retryAfter) } } : {}) };
  }

  protected route(req: FakeRequest): FakeReply {
    const update = /^\/api\/v2\/tickets\/([^/]+)\.json$/.exec(req.path);
    const list = /^\/api\/v2\/tickets\/([^/]+)\/comments\.json$/.exec(req.path);
    const raw = update?.[1] ?? list?.[1];
    if (raw === undefined) return { status: 404, body: { error: "InvalidEndpoint", description: "Not found" } };
    if (!/^\d+$/.test(raw)) return { status: 400, body: { error: "InvalidValue", description: "ticket id must be an integer" } };
    const ticketId = Number(raw);
    if (!this.tickets.has(ticketId)) return { status: 404, body: { error: "RecordNotFound", description: "Not found" } };
    if (update && req.method === "PUT") {
      const comment = (req.body as { ticket?: { comment?: { body?: unknown; public?: unknown } } } | undefined)?.ticket?.comment;
      if (!comment || typeof comment.body !== "string" || comment.body.trim() === "") {
        return { status: 422, body: { error: "RecordInvalid", description: "Record validation errors", details: { base: [{ description: "Comment: cannot be blank" }] } } };
      }
      const added: Comment = { id: this.nextId++, body: comment.body, plain_body: comment.body, public: comment.public !== false, created_at: new Date().toISOString() };
      this.comments.set(ticketId, [...(this.comments.get(ticketId) ?? []), added]);
      return { status: 200, body: { ticket: { id: ticketId }, audit: { events: [{ id: added.id, type: "Comment", body: added.body, public: added.public }] } } };
    }
    if (list && req.method === "GET") {
      const order = req.query.get("sort_order") ?? "asc";
      if (order !== "asc" && order !== "desc") return { status: 400, body: { error: "InvalidValue", description: "sort_order must be asc or desc" } };
      const all = [...(this.comments.get(ticketId) ?? [])];
      if (order === "desc") all.reverse();
      const page = Number(req.query.get("page") ?? "1");
      const slice = all.slice((page - 1) * this.pageSize, page * this.pageSize);
      const more = page * this.pageSize < all.length;
      return { status: 200, body: { comments: slice, next_page: more ? `${this.url}${req.path}?sort_order=${order}&page=${page + 1}` : null, previous_page: null, count: all.length } };
    }
    return { status: 405, body: { error: "MethodNotAllowed" } };
  }

  /** Comments whose body contains `text`. */
  commentsContaining(ticketId: number, text: string): Comment[] {
    return (this.comments.get(ticketId) ?? []).filter((c) => c.body.includes(text));
  }
}
