import { errors } from "jose";

/** Why a token was refused; the same words for every token kind (ZAF, session). */
export const tokenFailures = ["expired", "not_yet_valid", "bad_signature", "wrong_issuer", "wrong_audience", "alg_not_allowed", "missing_user", "malformed", "wrong_type", "replayed"] as const;
export type TokenFailure = (typeof tokenFailures)[number];

/** Maps jose's errors onto our failure codes; anything unknown is treated as malformed. */
export function tokenFailureOf(err: unknown): TokenFailure {
  if (err instanceof errors.JWTExpired) return "expired";
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) return "alg_not_allowed";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "bad_signature";
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === "nbf" || (err.claim === "iat" && err.reason === "check_failed")) return "not_yet_valid";
    if (err.claim === "iss") return "wrong_issuer";
    if (err.claim === "aud") return "wrong_audience";
    if (err.claim === "typ") return "wrong_type";
  }
  return "malformed";
}
