import { sql, type Kysely } from "kysely";
import type { DB } from "../db/schema.js";

/**
 * The local Zendesk page's ticket store, answered in Zendesk's own shape for
 * `GET /tickets/{id}.json?include=users,organizations`: the page serves it over HTTP, and demo mode's
 * ticket verification reads it directly (the server cannot call itself before it listens), both
 * through the same parser (server/src/zendesk/ticketVerification.ts).
 */
export async function demoTicketPayload(db: Kysely<DB>, ticketId: string): Promise<unknown> {
  // Ticket ids may pass 2^53: compared as text, never through a JS number.
  const row = await db.selectFrom("demo_tickets").selectAll().where(sql`id::text`, "=", ticketId).executeTakeFirst();
  if (!row) return null;
  const organization = row.requester_organization_id === null ? undefined : await db.selectFrom("demo_organizations").selectAll().where("id", "=", row.requester_organization_id).executeTakeFirst();
  const requesterId = Number(row.requester_zendesk_id);
  const organizationId = organization ? Number(organization.id) : null;
  return {
    ticket: {
      id: Number(row.id),
      subject: row.subject,
      status: row.status,
      requester_id: requesterId,
      assignee_id: row.assignee_zendesk_id === null ? null : Number(row.assignee_zendesk_id),
      organization_id: organizationId,
    },
    users: [{ id: requesterId, name: row.requester_name, email: row.requester_email, external_id: row.requester_external_id, organization_id: organizationId }],
    organizations: organization ? [{ id: Number(organization.id), name: organization.name, external_id: organization.external_id, domain_names: organization.domain_names }] : [],
  };
}
