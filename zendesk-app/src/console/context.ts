import type { FunctionComponent } from "preact";
import type { PanelRole } from "../../../shared/roles";
import type { StewardApi } from "../api/steward";
import type { Session } from "../api/session";
import type { ConsoleAgent, ConsoleHost } from "./host";

/** Explorer filters as query parameters (dates already in UTC), plus the timeline mode. */
export type ExplorerQuery = Record<string, string>;

/** What every console tab gets. */
export interface ConsoleContext {
  api: StewardApi;
  session: Session;
  host: ConsoleHost;
  agent: ConsoleAgent;
  me: { staffId: string; email: string | null; panelRole: PanelRole };
  /** operations and admin see everyone's entries; support roles their own and their tickets'. */
  seesAll: boolean;
  /** Switches tab, optionally opening the explorer on a query (a flag, a timeline). */
  goTo(tab: string, query?: ExplorerQuery): void;
  /** The explorer's filters as last applied or opened (kept while another tab shows). */
  explorerQuery: ExplorerQuery;
  /** The filters a timeline was opened from: where its Back button returns. */
  explorerReturn: ExplorerQuery;
}

export interface ConsoleTab {
  id: string;
  label: () => string;
  /** Lowest panel role that sees the tab (all roles when absent). */
  minRole?: PanelRole;
  component: FunctionComponent<{ ctx: ConsoleContext }>;
}
