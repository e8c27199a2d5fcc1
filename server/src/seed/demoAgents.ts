/** The demo Zendesk agents, one per panel role: their own module so the CLI's usage text names them without loading the seed. */
export const DEMO_AGENTS = [
  { id: "stf_demo_read", zendeskUserId: "9001", email: "riley.reader@steward-demo.test", name: "Riley Reader", role: "support_read_only" },
  { id: "stf_demo_full", zendeskUserId: "9002", email: "sam.support@steward-demo.test", name: "Sam Support", role: "support_full" },
  { id: "stf_demo_ops", zendeskUserId: "9003", email: "olive.ops@steward-demo.test", name: "Olive Ops", role: "operations" },
  { id: "stf_demo_admin", zendeskUserId: "9004", email: "ada.admin@steward-demo.test", name: "Ada Admin", role: "admin" },
] as const;
