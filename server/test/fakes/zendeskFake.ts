import { HttpFake, type FailOptions, type FakeReply, type FakeRequest } from "./httpFake.js";

/**
 * Zendesk's Support API as far as Steward's server-side client uses it: `GET /api/v2/tickets/{id}.json`
 * with `include=users,organizations` sideloading, behind HTTP basic auth with an API token
 * (`{email}/token:{token}`). Unknown tickets are 404 RecordNotFound, bad credentials 401, as Zendesk does.
 */
export interface FakeZendeskTicket {
  id: number;
  subject: string;
  status: "new" | "open" | "pending" | "hold" | "solved" | "closed";
  requester: { id: number; name: string; email: string | null; external_id: string | null; organization_id: number | null };
  assignee_id: number | null;
}

export interface FakeZendeskOrganization {
  id: number;
  name: string;
  external_id: string | null;
  domain_names: string[];
}

export class ZendeskFake extends HttpFake {
  readonly tickets = new Map<number, FakeZendeskTicket>();
  readonly organizations = new Map<number, FakeZendeskOrganization>();

  constructor(
    readonly email = "steward@zendesk.test",
    readonly token = "zendesk-fake-token",
  ) {
    super();
  }

  /** The environment that points Steward's Zendesk client at this fake. */
  env(): Record<string, string> {
    return { ZENDESK_API_URL: `${this.url}/api/v2`, ZENDESK_API_EMAIL: this.email, ZENDESK_API_TOKEN: this.token };
  }

  protected parseBody(raw: string): unknown {
    return JSON.parse(raw) as unknown;
  }

  protected errorReply(status: number, options: FailOptions): FakeReply {
    return { status, body: { error: status >= 500 ? "ServiceUnavailable" : "Injected", description: "Injected failure" }, ...(options.retryAfter ? { headers: { "retry-after": String(options.retryAfter) } } : {}) };
  }

  protected route(req: FakeRequest): FakeReply {
    const expected = `Basic ${Buffer.from(`${this.email}/token:${this.token}`).toString("base64")}`;
    if (req.headers.authorization !== expected) return { status: 401, body: { error: "Couldn't authenticate you" } };
    const match = /^\/api\/v2\/tickets\/(\d+)\.json$/.exec(req.path);
    if (!match || req.method !== "GET") return { status: 404, body: { error: "InvalidEndpoint", description: "Not found" } };
    const ticket = this.tickets.get(Number(match[1]));
    if (!ticket) return { status: 404, body: { error: "RecordNotFound", description: "Not found" } };
    const include = (req.query.get("include") ?? "").split(",");
    const org = ticket.requester.organization_id === null ? undefined : this.organizations.get(ticket.requester.organization_id);
    return {
      status: 200,
      body: {
        ticket: { id: ticket.id, subject: ticket.subject, status: ticket.status, requester_id: ticket.requester.id, submitter_id: ticket.requester.id, assignee_id: ticket.assignee_id, organization_id: ticket.requester.organization_id, group_id: null },
        ...(include.includes("users") ? { users: [{ ...ticket.requester, role: "end-user" }] } : {}),
        ...(include.includes("organizations") ? { organizations: org ? [org] : [] } : {}),
      },
    };
  }
}
