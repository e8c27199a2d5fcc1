import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import type { RequestHandler } from "express";
import type { Actor } from "../actor.js";
import { appendAudit } from "../audit/auditLog.js";
import type { Clock } from "../clock.js";
import type { DB, ImpersonationProductsTable } from "../db/schema.js";
import type { Executor } from "../commands/targets.js";
import { Problem } from "../http/problem.js";

/**
 * Products that accept impersonation grants. Each authenticates to the product API with
 * `Authorization: Bearer <product id>.<secret>`; Steward keeps only the secret's SHA-256.
 */
export type Product = Selectable<ImpersonationProductsTable>;

declare module "express-serve-static-core" {
  interface Request {
    /** The product calling the impersonation API, set by `authenticateProduct`. */
    product?: Product;
  }
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export function newProductSecret(): string {
  return `sps_${randomBytes(32).toString("base64url")}`;
}

/** Registers a product (or replaces the secret of the one with this id) and returns the secret, shown once. */
export async function registerProduct(
  db: Kysely<DB>,
  clock: Clock,
  input: { id?: string; name: string; url: string; actor: Actor; secret?: string },
): Promise<{ id: string; secret: string; replaced: boolean }> {
  const id = input.id ?? `prd_${randomBytes(6).toString("hex")}`;
  const secret = input.secret ?? newProductSecret();
  const url = input.url.replace(/\/$/, "");
  return db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom("impersonation_products").select(["id", "name", "url"]).where("id", "=", id).forUpdate().executeTakeFirst();
    await trx
      .insertInto("impersonation_products")
      .values({ id, name: input.name, url, secret_sha256: sha256(secret), created_at: clock.now(), revoked_at: null })
      .onConflict((oc) => oc.column("id").doUpdateSet({ name: input.name, url, secret_sha256: sha256(secret), revoked_at: null }))
      .execute();
    await appendAudit(
      trx,
      {
        actor: input.actor,
        action: "impersonation.product_register",
        target: { type: "system", id, accountId: null },
        ticketId: null,
        reason: existing ? "product secret replaced" : "product registered",
        before: existing ?? null,
        after: { id, name: input.name, url },
        outcome: "succeeded",
      },
      clock,
    );
    return { id, secret, replaced: Boolean(existing) };
  });
}

/** The product a session opens: the one asked for, or the only one registered. */
export async function productForStart(db: Executor, productId: string | undefined): Promise<Product> {
  const rows = await db.selectFrom("impersonation_products").selectAll().where("revoked_at", "is", null).$if(Boolean(productId), (q) => q.where("id", "=", productId ?? "")).orderBy("id").execute();
  if (rows.length === 0) throw Problem.conflict("no_product", productId ? `No product ${productId} accepts impersonation` : "No product is registered for impersonation (npm run steward -- products add)");
  if (rows.length > 1) throw Problem.badRequest("Several products are registered: say which one", [{ field: "body.input.productId", reason: `one of ${rows.map((r) => r.id).join(", ")}` }]);
  return rows[0] as Product;
}

/** `before:` middleware of the product API: a registered product's credential or 401. */
export function authenticateProduct(db: Kysely<DB>): RequestHandler {
  return async (req, _res, next) => {
    try {
      const header = req.get("authorization") ?? "";
      const match = /^Bearer (prd_[A-Za-z0-9_-]{1,60})\.(sps_[A-Za-z0-9_-]{20,100})$/.exec(header);
      if (!match) throw Problem.unauthorized("product_credential_missing", "Send the product credential as Authorization: Bearer <product id>.<secret>");
      const [, id, secret] = match as unknown as [string, string, string];
      const product = await db.selectFrom("impersonation_products").selectAll().where("id", "=", id).where("revoked_at", "is", null).executeTakeFirst();
      const given = Buffer.from(sha256(secret), "hex");
      if (!product || !timingSafeEqual(given, Buffer.from(product.secret_sha256, "hex"))) throw Problem.unauthorized("product_credential_invalid", "The product credential is not valid");
      req.product = product;
      next();
    } catch (err) {
      next(err);
    }
  };
}
