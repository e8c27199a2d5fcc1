import { sql, type Kysely } from "kysely";

/**
 * A lookup may authorise from a cached staff row (auth/staffCache.ts) only because its audit entry checks
 * that row is still current as it is written: the entry's `actor_role` goes through this function, which
 * raises SQLSTATE SWSTF when the staff member was changed (role, access, anything that bumps updated_at)
 * or deactivated since. The statement then fails before anything commits, and the request is authorised
 * again from a fresh read — so a role change or deactivation still applies to the very next request, in
 * every process, without a staff read per request.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create function steward_staff_as_of(p_role text, p_staff_id text, p_updated_at timestamptz) returns text
    language plpgsql stable as $$
    begin
      -- updated_at to the millisecond: the cached copy went through a JavaScript Date; the role is compared too.
      if not exists (select 1 from staff where id = p_staff_id and active and panel_role = p_role
                     and date_trunc('milliseconds', updated_at) = p_updated_at) then
        raise exception 'staff member % changed since the request was authorised', p_staff_id using errcode = 'SWSTF';
      end if;
      return p_role;
    end $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists steward_staff_as_of(text, text, timestamptz)`.execute(db);
}
