import type { Auth0Fake } from "../fakes/auth0Fake.js";

/** The Auth0 tenant the adapter tests read: a locked user with MFA, a blocked one, one found by email. */
export function seedAuth0Users(fake: Auth0Fake): void {
  for (const map of [fake.users, fake.blocks, fake.methods, fake.sessions, fake.refreshTokens, fake.logs]) map.clear();
  fake.rememberBrowserInvalidated.clear();
  fake.passwordTickets.length = 0;

  fake.addUser({
    user_id: "auth0|locked",
    email: "lou.locked@acme.example",
    name: "Lou Locked",
    last_login: "2026-11-20T08:00:00.000Z",
    blockedFor: [{ identifier: "lou.locked@acme.example", ip: "198.51.100.9", connection: "Username-Password-Authentication" }],
    authenticationMethods: [
      { id: "password|lou", type: "password", created_at: "2025-01-15T09:00:00.000Z" },
      { id: "totp|dev_lou1", type: "totp", confirmed: true, created_at: "2025-02-01T09:00:00.000Z" },
      { id: "webauthn-roaming|dev_lou2", type: "webauthn-roaming", confirmed: true, name: "YubiKey", created_at: "2025-03-01T09:00:00.000Z" },
      { id: "phone|dev_lou3", type: "phone", confirmed: false, phone_number: "+15550100", created_at: "2025-04-01T09:00:00.000Z" },
    ],
    sessions: 2,
    refreshTokens: 3,
    logs: [
      { log_id: "90020261124090300", date: "2026-11-24T09:03:00.000Z", type: "limit_wc", description: "Too many failed attempts", ip: "198.51.100.9", user_id: "auth0|locked" },
      { log_id: "90020261124090200", date: "2026-11-24T09:02:00.000Z", type: "fp", description: "Wrong email or password.", ip: "198.51.100.9", user_id: "auth0|locked" },
      { log_id: "90020261124090100", date: "2026-11-24T09:01:00.000Z", type: "fp", description: "Wrong email or password.", ip: "198.51.100.9", user_id: "auth0|locked" },
      { log_id: "90020261124090000", date: "2026-11-24T09:00:00.000Z", type: "fp", description: "Wrong email or password.", ip: "198.51.100.9", user_id: "auth0|locked" },
      { log_id: "90020261124080000", date: "2026-11-24T08:00:00.000Z", type: "sapi", description: "Update a User", user_id: "auth0|locked" },
      { log_id: "90020261120080000", date: "2026-11-20T08:00:00.000Z", type: "s", description: "Success Login", ip: "203.0.113.7", user_id: "auth0|locked" },
      { log_id: "90020261119080000", date: "2026-11-19T08:00:00.000Z", type: "fp", description: "Wrong email or password.", ip: "203.0.113.7", user_id: "auth0|locked" },
    ],
  });
  fake.addUser({ user_id: "auth0|blocked", email: "bea.blocked@acme.example", name: "Bea Blocked", blocked: true });
  fake.addUser({ user_id: "google-oauth2|eli-social", email: "eli.email@acme.example", name: "Eli Email", connection: "google-oauth2" });
  fake.addUser({ user_id: "auth0|eli-db", email: "eli.email@acme.example", name: "Eli Email", sessions: 1 });
}
