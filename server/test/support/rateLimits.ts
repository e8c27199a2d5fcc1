/** Limits no ordinary test reaches (races, loads, spawned servers); the rate-limit tests set their own. */
export const TEST_RATE_LIMITS = {
  RATE_LIMIT_READS: "1000000",
  RATE_LIMIT_WRITES: "1000000",
  RATE_LIMIT_SEARCHES: "1000000",
  RATE_LIMIT_LOGINS: "1000000",
  RATE_LIMIT_PER_IP: "1000000",
} as const;
