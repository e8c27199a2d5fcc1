/** The kit's public entry: what a product imports. */
export { ImpersonationKit, type KitOptions } from "./core/kit.js";
export { ALWAYS_DENY, decide, type GuardDecision, type RouteRule } from "./core/guard.js";
export { EventBuffer, type EventBufferOptions, type EventSink } from "./core/eventBuffer.js";
export type { EventStore, EventStoreChange, PendingEvents } from "./core/eventStore.js";
export { FileEventStore } from "./node/fileEventStore.js";
export { DirectoryLocked } from "./node/directoryLock.js";
export { StewardApiError, StewardClient } from "./core/stewardClient.js";
export { GrantRejected, verifyGrant, remoteKeys } from "./core/verifyGrant.js";
export type { Impersonation, KitEvent, Mode, SessionStatus } from "./core/types.js";
export { impersonationRouter, bannerHtml, COOKIE, type ExpressHooks } from "./express/adapter.js";
export { BANNER_BUDGET_BYTES, bannerSize } from "./banner/size.js";
export { DirectoryTokenRejected, verifyDirectoryToken, DIRECTORY_TOKEN_TYP, type DirectoryTokenClaims } from "./core/verifyDirectoryToken.js";
